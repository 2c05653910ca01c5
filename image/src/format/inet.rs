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
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
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
            || (s.local_port == 0 && (s.local_addr != [0; 16] || s.local_scope != 0));
        if bad {
            return Err(FormatError::BadField);
        }
        Ok(s)
    }
}

const _: () = assert!(INET_PAYLOAD == 14 * 4 + 16 + 4 + 4 + 16 + 4 + 4);

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
        let mut buf = [0u8; 256];
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
