// SPDX-License-Identifier: GPL-2.0

//! TCP and UDP sockets, IPv4 and IPv6 ([`Inet`]): the object a file record
//! of kind [`FileKind::Inet`] opens.

use super::codec::{decode_whole, encode_whole, wire_size};
use super::*;

/// Size of the [`Inet`] payload.
pub const INET_PAYLOAD: usize = wire_size::<Inet>();

/// `AF_INET`.
pub const AF_INET: u32 = 2;
/// `AF_INET6`.
pub const AF_INET6: u32 = 10;
// `SOCK_STREAM` and `SOCK_DGRAM` are unix.rs's (one definition of the
// socket types for both families).
/// `IPPROTO_TCP`.
pub const IPPROTO_TCP: u32 = 6;
/// `IPPROTO_UDP`.
pub const IPPROTO_UDP: u32 = 17;

/// [`Inet::flags`]: `SO_REUSEADDR`.
pub const INET_REUSEADDR: u32 = 1 << 0;
/// [`Inet::flags`]: `SO_REUSEPORT`.
pub const INET_REUSEPORT: u32 = 1 << 1;
/// [`Inet::flags`]: `IPV6_V6ONLY` (IPv6 only).
pub const INET_V6ONLY: u32 = 1 << 2;
/// [`Inet::flags`]: `SO_KEEPALIVE`.
pub const INET_KEEPALIVE: u32 = 1 << 3;
/// [`Inet::flags`]: `SO_BROADCAST`.
pub const INET_BROADCAST: u32 = 1 << 4;
/// [`Inet::flags`]: `TCP_NODELAY` (TCP only).
pub const INET_NODELAY: u32 = 1 << 5;
/// [`Inet::flags`]: the program set `SO_RCVBUF` ([`Inet::rcvbuf`] is
/// then the kernel's value, which restart sets again).
pub const INET_RCVBUF: u32 = 1 << 6;
/// [`Inet::flags`]: the program set `SO_SNDBUF` ([`Inet::sndbuf`]).
pub const INET_SNDBUF: u32 = 1 << 7;
/// [`Inet::flags`]: the local address was bound explicitly (`bind()` to a
/// specific address), not chosen by a `connect()`.
pub const INET_BOUND_ADDR: u32 = 1 << 8;
/// Every [`Inet::flags`] bit.
pub const INET_FLAGS: u32 = (1 << 9) - 1;

/// `SOL_SOCKET`.
pub const SOL_SOCKET: u32 = 1;
/// `SOL_IP`.
pub const SOL_IP: u32 = 0;
/// `SOL_IPV6`.
pub const SOL_IPV6: u32 = 41;
/// `SOL_TCP`.
pub const SOL_TCP: u32 = 6;
/// `SOL_UDP`.
pub const SOL_UDP: u32 = 17;

/// Room for option values in [`Inet::opts`] (one bit each in
/// [`Inet::opts_set`]).
pub const INET_NR_OPTS: usize = 128;

/// The `int` socket options an [`Inet`] record carries, by index in
/// [`Inet::opts`]: level, option number, name. A socket has those of its
/// kind (`SOL_TCP` for TCP, `SOL_UDP` for UDP, `SOL_IPV6` for IPv6, the
/// others for all). The value is what `getsockopt()` returns; restart
/// sets it with `setsockopt()` and reads it back.
pub const INET_OPTS: &[(u32, u32, &str)] = &[
    (SOL_SOCKET, 1, "SO_DEBUG"),
    (SOL_SOCKET, 5, "SO_DONTROUTE"),
    (SOL_SOCKET, 10, "SO_OOBINLINE"),
    (SOL_SOCKET, 11, "SO_NO_CHECK"),
    (SOL_SOCKET, 16, "SO_PASSCRED"),
    (SOL_SOCKET, 18, "SO_RCVLOWAT"),
    (SOL_SOCKET, 29, "SO_TIMESTAMP"),
    (SOL_SOCKET, 34, "SO_PASSSEC"),
    (SOL_SOCKET, 35, "SO_TIMESTAMPNS"),
    (SOL_SOCKET, 36, "SO_MARK"),
    (SOL_SOCKET, 40, "SO_RXQ_OVFL"),
    (SOL_SOCKET, 41, "SO_WIFI_STATUS"),
    (SOL_SOCKET, 42, "SO_PEEK_OFF"),
    (SOL_SOCKET, 43, "SO_NOFCS"),
    (SOL_SOCKET, 45, "SO_SELECT_ERR_QUEUE"),
    (SOL_SOCKET, 46, "SO_BUSY_POLL"),
    (SOL_SOCKET, 47, "SO_MAX_PACING_RATE"),
    (SOL_SOCKET, 60, "SO_ZEROCOPY"),
    (SOL_SOCKET, 63, "SO_TIMESTAMP_NEW"),
    (SOL_SOCKET, 64, "SO_TIMESTAMPNS_NEW"),
    (SOL_SOCKET, 69, "SO_PREFER_BUSY_POLL"),
    (SOL_SOCKET, 74, "SO_TXREHASH"),
    (SOL_SOCKET, 75, "SO_RCVMARK"),
    (SOL_SOCKET, 82, "SO_RCVPRIORITY"),
    (SOL_IP, 6, "IP_RECVOPTS"),
    (SOL_IP, 7, "IP_RETOPTS"),
    (SOL_IP, 8, "IP_PKTINFO"),
    (SOL_IP, 10, "IP_MTU_DISCOVER"),
    (SOL_IP, 11, "IP_RECVERR"),
    (SOL_IP, 12, "IP_RECVTTL"),
    (SOL_IP, 13, "IP_RECVTOS"),
    (SOL_IP, 15, "IP_FREEBIND"),
    (SOL_IP, 18, "IP_PASSSEC"),
    (SOL_IP, 19, "IP_TRANSPARENT"),
    (SOL_IP, 20, "IP_RECVORIGDSTADDR"),
    (SOL_IP, 21, "IP_MINTTL"),
    (SOL_IP, 23, "IP_CHECKSUM"),
    (SOL_IP, 24, "IP_BIND_ADDRESS_NO_PORT"),
    (SOL_IP, 25, "IP_RECVFRAGSIZE"),
    (SOL_IP, 26, "IP_RECVERR_RFC4884"),
    (SOL_IP, 33, "IP_MULTICAST_TTL"),
    (SOL_IP, 34, "IP_MULTICAST_LOOP"),
    (SOL_IP, 49, "IP_MULTICAST_ALL"),
    (SOL_IP, 51, "IP_LOCAL_PORT_RANGE"),
    (SOL_IPV6, 2, "IPV6_2292PKTINFO"),
    (SOL_IPV6, 3, "IPV6_2292HOPOPTS"),
    (SOL_IPV6, 4, "IPV6_2292DSTOPTS"),
    (SOL_IPV6, 5, "IPV6_2292RTHDR"),
    (SOL_IPV6, 8, "IPV6_2292HOPLIMIT"),
    (SOL_IPV6, 11, "IPV6_FLOWINFO"),
    (SOL_IPV6, 17, "IPV6_MULTICAST_IF"),
    (SOL_IPV6, 18, "IPV6_MULTICAST_HOPS"),
    (SOL_IPV6, 19, "IPV6_MULTICAST_LOOP"),
    (SOL_IPV6, 23, "IPV6_MTU_DISCOVER"),
    (SOL_IPV6, 25, "IPV6_RECVERR"),
    (SOL_IPV6, 29, "IPV6_MULTICAST_ALL"),
    (SOL_IPV6, 31, "IPV6_RECVERR_RFC4884"),
    (SOL_IPV6, 33, "IPV6_FLOWINFO_SEND"),
    (SOL_IPV6, 49, "IPV6_RECVPKTINFO"),
    (SOL_IPV6, 51, "IPV6_RECVHOPLIMIT"),
    (SOL_IPV6, 53, "IPV6_RECVHOPOPTS"),
    (SOL_IPV6, 56, "IPV6_RECVRTHDR"),
    (SOL_IPV6, 58, "IPV6_RECVDSTOPTS"),
    (SOL_IPV6, 60, "IPV6_RECVPATHMTU"),
    (SOL_IPV6, 62, "IPV6_DONTFRAG"),
    (SOL_IPV6, 66, "IPV6_RECVTCLASS"),
    (SOL_IPV6, 70, "IPV6_AUTOFLOWLABEL"),
    (SOL_IPV6, 72, "IPV6_ADDR_PREFERENCES"),
    (SOL_IPV6, 73, "IPV6_MINHOPCOUNT"),
    (SOL_IPV6, 74, "IPV6_RECVORIGDSTADDR"),
    (SOL_IPV6, 75, "IPV6_TRANSPARENT"),
    (SOL_IPV6, 77, "IPV6_RECVFRAGSIZE"),
    (SOL_IPV6, 78, "IPV6_FREEBIND"),
    (SOL_TCP, 2, "TCP_MAXSEG"),
    (SOL_TCP, 4, "TCP_KEEPIDLE"),
    (SOL_TCP, 5, "TCP_KEEPINTVL"),
    (SOL_TCP, 6, "TCP_KEEPCNT"),
    (SOL_TCP, 7, "TCP_SYNCNT"),
    (SOL_TCP, 8, "TCP_LINGER2"),
    (SOL_TCP, 9, "TCP_DEFER_ACCEPT"),
    (SOL_TCP, 10, "TCP_WINDOW_CLAMP"),
    (SOL_TCP, 12, "TCP_QUICKACK"),
    (SOL_TCP, 16, "TCP_THIN_LINEAR_TIMEOUTS"),
    (SOL_TCP, 18, "TCP_USER_TIMEOUT"),
    (SOL_TCP, 23, "TCP_FASTOPEN"),
    (SOL_TCP, 25, "TCP_NOTSENT_LOWAT"),
    (SOL_TCP, 27, "TCP_SAVE_SYN"),
    (SOL_TCP, 30, "TCP_FASTOPEN_CONNECT"),
    (SOL_TCP, 34, "TCP_FASTOPEN_NO_COOKIE"),
    (SOL_TCP, 36, "TCP_INQ"),
    (SOL_TCP, 37, "TCP_TX_DELAY"),
    (SOL_TCP, 44, "TCP_RTO_MAX_MS"),
    (SOL_TCP, 45, "TCP_RTO_MIN_US"),
    (SOL_TCP, 46, "TCP_DELACK_MAX_US"),
    (SOL_UDP, 1, "UDP_CORK"),
    (SOL_UDP, 100, "UDP_ENCAP"),
    (SOL_UDP, 101, "UDP_NO_CHECK6_TX"),
    (SOL_UDP, 102, "UDP_NO_CHECK6_RX"),
    (SOL_UDP, 103, "UDP_SEGMENT"),
    (SOL_UDP, 104, "UDP_GRO"),
];

/// Whether option `level` applies to a socket of `family` (TCP if `tcp`).
pub fn inet_opt_applies(level: u32, family: u32, tcp: bool) -> bool {
    match level {
        SOL_TCP => tcp,
        SOL_UDP => !tcp,
        SOL_IPV6 => family == AF_INET6,
        _ => true,
    }
}

/// The [`Inet::opts_set`] bits a socket of `family` may carry.
pub fn inet_opts_mask(family: u32, tcp: bool) -> [u64; 2] {
    let mut m = [0; 2];
    for (i, &(level, _, _)) in INET_OPTS.iter().enumerate() {
        if inet_opt_applies(level, family, tcp) {
            m[i / 64] |= 1 << (i % 64);
        }
    }
    m
}

/// Most connections a listening socket's backlog can name (`somaxconn`'s
/// largest value, and `sk_max_ack_backlog`'s type).
pub const INET_MAX_BACKLOG: u32 = 65535;

u32_enum! {
    /// What a socket was doing.
    pub enum InetState {
        /// Neither listening nor connected: bound ([`Inet::local_port`] is
        /// not 0) or not.
        Closed = 1,
        /// A listening TCP socket.
        Listen = 2,
        /// A connected UDP socket ([`Inet::peer_addr`], [`Inet::peer_port`]).
        Connected = 3,
    }
}

wire_struct! {
    /// A TCP or UDP socket, IPv4 or IPv6, with its options. Its file
    /// record (kind [`FileKind::Inet`]) follows it, naming it by
    /// [`Inet::id`] in [`FileRec::obj`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Inet, wire InetWire {
        /// The socket, numbered from 1 across the image in order of first
        /// appearance.
        pub id: u32,
        /// [`AF_INET`] or [`AF_INET6`].
        pub family: u32,
        /// [`SOCK_STREAM`] (TCP) or [`SOCK_DGRAM`] (UDP).
        pub ty: u32,
        /// [`IPPROTO_TCP`] or [`IPPROTO_UDP`].
        pub protocol: u32,
        /// [`InetState`].
        pub state: u32,
        /// `INET_*` flags.
        pub flags: u32,
        /// Listening sockets: the `listen()` backlog, as the kernel keeps it
        /// (capped by `somaxconn`); else 0.
        pub backlog: u32,
        /// `sk_rcvbuf`, with [`INET_RCVBUF`]; else 0.
        pub rcvbuf: u32,
        /// `sk_sndbuf`, with [`INET_SNDBUF`]; else 0.
        pub sndbuf: u32,
        /// `IP_TOS`.
        pub tos: u32,
        /// `IP_TTL` as set, -1 for the default.
        pub ttl: i32,
        /// IPv6: `IPV6_TCLASS`.
        pub tclass: u32,
        /// IPv6: `IPV6_UNICAST_HOPS` as set, -1 for the default.
        pub hops: i32,
        /// Local port, 0 if unbound.
        pub local_port: u32,
        /// Local address: 4 bytes for IPv4, then zeros; 16 for IPv6.
        pub local_addr: [u8; 16],
        /// IPv6: the local address's scope id.
        pub local_scope: u32,
        /// Connected UDP: the peer's port.
        pub peer_port: u32,
        /// Connected UDP: the peer's address (as [`Inet::local_addr`]).
        pub peer_addr: [u8; 16],
        /// Connected UDP over IPv6: the peer's scope id.
        pub peer_scope: u32,
        /// `SO_PRIORITY` (which `IP_TOS` also sets).
        pub priority: u32,
        /// `SO_LINGER` as `getsockopt()` reads it (`l_onoff`, `l_linger`),
        /// `[0, 0]` for a new socket's.
        pub linger: [i32; 2],
        /// TCP: the congestion control (`TCP_CONGESTION`), NUL-padded, if
        /// the program chose one other than a new socket's; else zeros.
        pub congestion: [u8; 16],
        /// Bit `i`: option `INET_OPTS[i]` differs from a new socket's and
        /// is set again to `opts[i]`.
        pub opts_set: [u64; 2],
        /// The values of the options of [`INET_OPTS`] in [`Inet::opts_set`]
        /// (0 for the others).
        pub opts: [i32; INET_NR_OPTS],
    }
}

impl Inet {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_whole(buf, RecordType::Inet, *self)
    }

    /// The state.
    pub fn state(&self) -> InetState {
        // Decoded records hold a valid state.
        InetState::from_u32(self.state).unwrap_or(InetState::Closed)
    }

    /// Decodes the payload.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        let s: Inet = decode_whole(p)?;
        let state = InetState::from_u32(s.state).ok_or(FormatError::BadField)?;
        let tcp = match (s.ty, s.protocol) {
            (SOCK_STREAM, IPPROTO_TCP) => true,
            (SOCK_DGRAM, IPPROTO_UDP) => false,
            _ => return Err(FormatError::BadField),
        };
        let v6 = match s.family {
            AF_INET => false,
            AF_INET6 => true,
            _ => return Err(FormatError::BadField),
        };
        let bad = s.id == 0
            || s.flags & !INET_FLAGS != 0
            || (!v6 && s.flags & INET_V6ONLY != 0)
            || (!tcp && s.flags & INET_NODELAY != 0)
            || s.local_port > 0xffff
            || s.peer_port > 0xffff
            || (state == InetState::Listen && !tcp)
            || (state != InetState::Listen && s.backlog != 0)
            || s.backlog > INET_MAX_BACKLOG
            || (state == InetState::Listen && s.local_port == 0)
            || (state == InetState::Connected && (tcp || s.peer_port == 0))
            || (state != InetState::Connected
                && (s.peer_port != 0 || s.peer_addr != [0; 16] || s.peer_scope != 0))
            || (s.flags & INET_RCVBUF == 0 && s.rcvbuf != 0)
            || (s.flags & INET_SNDBUF == 0 && s.sndbuf != 0)
            || s.rcvbuf > i32::MAX as u32
            || s.sndbuf > i32::MAX as u32
            || s.tos > 0xff
            || !(-1..=255).contains(&s.ttl)
            || s.ttl == 0
            || (!v6 && (s.tclass != 0 || s.hops != -1))
            || s.tclass > 0xff
            || !(-1..=255).contains(&s.hops)
            || (!v6
                && (s.local_addr[4..] != [0; 12]
                    || s.peer_addr[4..] != [0; 12]
                    || s.local_scope != 0
                    || s.peer_scope != 0))
            || (s.local_port == 0 && (s.local_addr != [0; 16] || s.local_scope != 0))
            || !(0..=1).contains(&s.linger[0])
            || s.linger[1] < 0
            || (!tcp && s.congestion != [0; 16])
            || !congestion_ok(&s.congestion)
            || (0..2).any(|w| s.opts_set[w] & !inet_opts_mask(s.family, tcp)[w] != 0)
            || (0..INET_NR_OPTS).any(|i| !s.opt_is_set(i) && s.opts[i] != 0);
        if bad {
            return Err(FormatError::BadField);
        }
        Ok(s)
    }
}

impl Default for Inet {
    fn default() -> Self {
        Inet {
            id: 0,
            family: 0,
            ty: 0,
            protocol: 0,
            state: 0,
            flags: 0,
            backlog: 0,
            rcvbuf: 0,
            sndbuf: 0,
            tos: 0,
            ttl: 0,
            tclass: 0,
            hops: 0,
            local_port: 0,
            local_addr: [0; 16],
            local_scope: 0,
            peer_port: 0,
            peer_addr: [0; 16],
            peer_scope: 0,
            priority: 0,
            linger: [0; 2],
            congestion: [0; 16],
            opts_set: [0; 2],
            opts: [0; INET_NR_OPTS],
        }
    }
}

/// A congestion control name: empty, or printable ASCII then NULs.
fn congestion_ok(c: &[u8; 16]) -> bool {
    let n = c.iter().position(|&b| b == 0).unwrap_or(16);
    n < 16 && c[..n].iter().all(|b| b.is_ascii_graphic()) && c[n..].iter().all(|&b| b == 0)
}

impl Inet {
    /// Whether option `INET_OPTS[i]` is set again at restart.
    pub fn opt_is_set(&self, i: usize) -> bool {
        i < INET_NR_OPTS && self.opts_set[i / 64] & (1 << (i % 64)) != 0
    }

    /// Marks option `INET_OPTS[i]` to be set again to `v`.
    pub fn set_opt(&mut self, i: usize, v: i32) {
        if i < INET_NR_OPTS {
            self.opts_set[i / 64] |= 1 << (i % 64);
            self.opts[i] = v;
        }
    }

    /// The congestion control name, if one is saved.
    pub fn congestion_name(&self) -> Option<&[u8]> {
        let n = self.congestion.iter().position(|&b| b == 0).unwrap_or(16);
        (n > 0).then(|| &self.congestion[..n])
    }
}

const _: () =
    assert!(INET_PAYLOAD == 14 * 4 + 16 + 4 + 4 + 16 + 4 + 4 + 8 + 16 + 16 + 4 * INET_NR_OPTS);
const _: () = assert!(INET_OPTS.len() <= INET_NR_OPTS);

#[cfg(feature = "info")]
mod show {
    use super::super::info::{Info, Json};
    use super::*;

    /// An address and port as `1.2.3.4:80` or `[::1]:80`.
    pub(super) fn addr_str(family: u32, a: &[u8; 16], port: u32) -> String {
        if family == AF_INET {
            format!("{}.{}.{}.{}:{port}", a[0], a[1], a[2], a[3])
        } else {
            let ip = std::net::Ipv6Addr::from(*a);
            format!("[{ip}]:{port}")
        }
    }

    fn flags_str(f: u32) -> String {
        let names = [
            (INET_REUSEADDR, "SO_REUSEADDR"),
            (INET_REUSEPORT, "SO_REUSEPORT"),
            (INET_V6ONLY, "IPV6_V6ONLY"),
            (INET_KEEPALIVE, "SO_KEEPALIVE"),
            (INET_BROADCAST, "SO_BROADCAST"),
            (INET_NODELAY, "TCP_NODELAY"),
            (INET_BOUND_ADDR, "bound-address"),
        ];
        let v: Vec<&str> = names
            .iter()
            .filter(|(b, _)| f & b != 0)
            .map(|(_, n)| *n)
            .collect();
        v.join("|")
    }

    fn state_name(s: &Inet) -> &'static str {
        match (s.state(), s.local_port) {
            (InetState::Listen, _) => "listen",
            (InetState::Connected, _) => "connected",
            (InetState::Closed, 0) => "unbound",
            (InetState::Closed, _) => "bound",
        }
    }

    fn proto_name(s: &Inet) -> &'static str {
        match (s.family, s.ty) {
            (AF_INET, SOCK_STREAM) => "tcp",
            (AF_INET, _) => "udp",
            (_, SOCK_STREAM) => "tcp6",
            _ => "udp6",
        }
    }

    /// An element of `inet` in `info --json`.
    #[derive(serde::Serialize)]
    struct InetJson {
        id: u32,
        proto: &'static str,
        state: &'static str,
        local: String,
        peer: Option<String>,
        backlog: u32,
        flags: u32,
        options: String,
        rcvbuf: u32,
        sndbuf: u32,
        tos: u32,
        ttl: i32,
        tclass: u32,
        hops: i32,
        priority: u32,
        linger: [i32; 2],
        congestion: Option<String>,
        /// The options of [`INET_OPTS`] set again at restart.
        opts: Vec<OptJson>,
    }

    /// An element of `opts` of an `inet` element.
    #[derive(serde::Serialize)]
    struct OptJson {
        name: &'static str,
        value: i32,
    }

    fn opts_of(s: &Inet) -> Vec<OptJson> {
        INET_OPTS
            .iter()
            .enumerate()
            .filter(|&(i, _)| s.opt_is_set(i))
            .map(|(i, o)| OptJson {
                name: o.2,
                value: s.opts[i],
            })
            .collect()
    }

    fn congestion_of(s: &Inet) -> Option<String> {
        s.congestion_name()
            .map(|c| String::from_utf8_lossy(c).into_owned())
    }

    impl Info for Inet {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            let s = self;
            let mut line = format!(
                "  inet socket {}: {} {} {}",
                s.id,
                proto_name(s),
                state_name(s),
                addr_str(s.family, &s.local_addr, s.local_port)
            );
            if s.state() == InetState::Connected {
                line += &format!(" -> {}", addr_str(s.family, &s.peer_addr, s.peer_port));
            }
            if s.state() == InetState::Listen {
                line += &format!(" backlog {}", s.backlog);
            }
            let f = flags_str(s.flags);
            if !f.is_empty() {
                line += &format!(" {f}");
            }
            if s.flags & INET_RCVBUF != 0 {
                line += &format!(" rcvbuf {}", s.rcvbuf);
            }
            if s.flags & INET_SNDBUF != 0 {
                line += &format!(" sndbuf {}", s.sndbuf);
            }
            if s.tos != 0 {
                line += &format!(" tos {:#x}", s.tos);
            }
            if s.ttl != -1 {
                line += &format!(" ttl {}", s.ttl);
            }
            if s.tclass != 0 {
                line += &format!(" tclass {:#x}", s.tclass);
            }
            if s.hops != -1 {
                line += &format!(" hops {}", s.hops);
            }
            if s.priority != 0 {
                line += &format!(" priority {}", s.priority);
            }
            if s.linger != [0, 0] {
                line += &format!(" SO_LINGER {},{}", s.linger[0], s.linger[1]);
            }
            if let Some(c) = congestion_of(s) {
                line += &format!(" TCP_CONGESTION {c}");
            }
            for o in opts_of(s) {
                line += &format!(" {}={}", o.name, o.value);
            }
            l.push(line);
        }

        fn json(&self) -> Json {
            let s = self;
            Json::element(
                "inet",
                InetJson {
                    id: s.id,
                    proto: proto_name(s),
                    state: state_name(s),
                    local: addr_str(s.family, &s.local_addr, s.local_port),
                    peer: (s.state() == InetState::Connected)
                        .then(|| addr_str(s.family, &s.peer_addr, s.peer_port)),
                    backlog: s.backlog,
                    flags: s.flags,
                    options: flags_str(s.flags),
                    rcvbuf: s.rcvbuf,
                    sndbuf: s.sndbuf,
                    tos: s.tos,
                    ttl: s.ttl,
                    tclass: s.tclass,
                    hops: s.hops,
                    priority: s.priority,
                    linger: s.linger,
                    congestion: congestion_of(s),
                    opts: opts_of(s),
                },
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener() -> Inet {
        Inet {
            id: 1,
            family: AF_INET,
            ty: SOCK_STREAM,
            protocol: IPPROTO_TCP,
            state: InetState::Listen as u32,
            flags: INET_REUSEADDR,
            backlog: 5,
            ttl: -1,
            hops: -1,
            local_port: 8000,
            local_addr: [127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            ..Default::default()
        }
    }

    fn round(s: Inet) -> FResult<Inet> {
        let mut buf = [0u8; 1024];
        let n = s.encode(&mut buf).unwrap();
        assert_eq!(n, RECORD_HEADER_SIZE + INET_PAYLOAD);
        Inet::decode(&buf[RECORD_HEADER_SIZE..n])
    }

    #[test]
    fn inet_round_trip() {
        let s = listener();
        assert_eq!(round(s), Ok(s));
        let u = Inet {
            family: AF_INET6,
            ty: SOCK_DGRAM,
            protocol: IPPROTO_UDP,
            state: InetState::Connected as u32,
            flags: INET_V6ONLY,
            backlog: 0,
            peer_port: 9,
            peer_addr: [0xfe; 16],
            hops: 7,
            ..s
        };
        assert_eq!(round(u), Ok(u));
        let mut o = Inet {
            linger: [1, 5],
            ..s
        };
        o.congestion[..4].copy_from_slice(b"reno");
        let keepidle = INET_OPTS
            .iter()
            .position(|o| o.2 == "TCP_KEEPIDLE")
            .unwrap();
        o.set_opt(keepidle, 30);
        assert_eq!(round(o), Ok(o));
    }

    #[test]
    fn inet_rejects_options() {
        let s = listener();
        let udp_only = INET_OPTS.iter().position(|o| o.2 == "UDP_CORK").unwrap();
        let v6_only = INET_OPTS
            .iter()
            .position(|o| o.2 == "IPV6_RECVPKTINFO")
            .unwrap();
        let mut a = s;
        a.set_opt(udp_only, 1);
        let mut b = s;
        b.set_opt(v6_only, 1);
        let mut c = s;
        c.opts[3] = 7;
        let mut d = s;
        d.opts_set[1] |= 1 << 63;
        let mut e = s;
        e.congestion = *b"0123456789abcdef";
        let mut f = s;
        f.congestion[..3].copy_from_slice(b"a\0b");
        let mut g = s;
        g.linger = [2, 0];
        let mut h = Inet {
            ty: SOCK_DGRAM,
            protocol: IPPROTO_UDP,
            state: InetState::Closed as u32,
            backlog: 0,
            ..s
        };
        h.congestion[0] = b'x';
        for x in [a, b, c, d, e, f, g, h] {
            assert_eq!(round(x), Err(FormatError::BadField), "{x:?}");
        }
    }

    #[test]
    fn inet_rejects() {
        let s = listener();
        let bad = [
            Inet { id: 0, ..s },
            Inet { family: 1, ..s },
            Inet {
                protocol: IPPROTO_UDP,
                ..s
            },
            Inet { state: 4, ..s },
            Inet {
                ty: SOCK_DGRAM,
                protocol: IPPROTO_UDP,
                ..s
            },
            Inet {
                state: InetState::Closed as u32,
                ..s
            },
            Inet {
                local_port: 0,
                local_addr: [0; 16],
                ..s
            },
            Inet {
                local_port: 70000,
                ..s
            },
            Inet {
                flags: INET_V6ONLY,
                ..s
            },
            Inet {
                flags: 1 << 20,
                ..s
            },
            Inet { rcvbuf: 5, ..s },
            Inet { ttl: 0, ..s },
            Inet { hops: 3, ..s },
            Inet { peer_port: 1, ..s },
            Inet {
                state: InetState::Connected as u32,
                backlog: 0,
                peer_port: 1,
                ..s
            },
        ];
        for b in bad {
            assert_eq!(round(b), Err(FormatError::BadField), "{b:?}");
        }
    }
}
