// SPDX-License-Identifier: GPL-2.0

//! TCP and UDP sockets, IPv4 and IPv6. Record: [`format::Inet`], the
//! object of a file record of kind [`format::FileKind::Inet`].
//!
//! Restored: unbound and bound sockets, listening TCP sockets (an empty
//! accept queue), connected UDP sockets (empty receive queue), with their
//! address and port, backlog and options (`SO_REUSEADDR`, `SO_REUSEPORT`,
//! `IPV6_V6ONLY`, `SO_KEEPALIVE`, `SO_BROADCAST`, `TCP_NODELAY`,
//! `SO_RCVBUF`/`SO_SNDBUF` when the program set them, `IP_TOS`, `IP_TTL`,
//! `IPV6_TCLASS`, `IPV6_UNICAST_HOPS`). Restart makes each socket as the
//! caller, in its network namespace, before the point of no return: a port
//! taken meanwhile fails the restart with the reason, not the program.
//!
//! Refused by name at checkpoint: established TCP connections and every
//! other TCP state, connections queued on a listener, queued datagrams,
//! pending errors, shutdown, other protocols, and the options cr does not
//! restore when they differ from a new socket's.

use crate::{
    error::{eopnotsupp, errno_name, refuse, Refusal},
    format::{self, Inet, InetState},
    kapi::inet::{
        self as k, file_socket, opt, tcp_state, OptPage, SockAddr, SockInfo, SockRef, Socket,
        AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP, MAX_OPT, SOCK_DGRAM, SOCK_STREAM,
    },
    log::{fail, Log},
    shared::{Kind, Object, SharedObjects},
    stream::ImageWriter,
};
use core::fmt;
use kernel::{fs::File, prelude::*, sync::aref::ARef};

/// An address and port as `1.2.3.4:80` or `[::1]:80`.
struct ShowAddr(i32, [u8; 16], u32);

impl ShowAddr {
    fn of(a: &SockAddr) -> Self {
        ShowAddr(a.family, a.addr, a.port.into())
    }

    fn local(r: &Inet) -> Self {
        ShowAddr(r.family as i32, r.local_addr, r.local_port)
    }
}

impl fmt::Display for ShowAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = &self.1;
        if self.0 == AF_INET {
            return write!(f, "{}.{}.{}.{}:{}", a[0], a[1], a[2], a[3], self.2);
        }
        let g = |i: usize| u16::from_be_bytes([a[2 * i], a[2 * i + 1]]);
        // The longest run of two or more zero groups becomes `::`.
        let (mut best, mut run) = ((0, 0), (0, 0));
        for i in 0..8 {
            if g(i) == 0 {
                run = if run.1 == 0 {
                    (i, 1)
                } else {
                    (run.0, run.1 + 1)
                };
                if run.1 > best.1 {
                    best = run;
                }
            } else {
                run = (0, 0);
            }
        }
        f.write_str("[")?;
        let mut i = 0;
        while i < 8 {
            if best.1 >= 2 && i == best.0 {
                f.write_str("::")?;
                i += best.1;
                continue;
            }
            if i > 0 && !(best.1 >= 2 && i == best.0 + best.1) {
                f.write_str(":")?;
            }
            write!(f, "{:x}", g(i))?;
            i += 1;
        }
        write!(f, "]:{}", self.2)
    }
}

fn proto_name(ty: i32) -> &'static str {
    if ty == SOCK_STREAM {
        "TCP"
    } else {
        "UDP"
    }
}

fn tcp_state_name(s: i32) -> &'static str {
    match s {
        tcp_state::SYN_SENT => "connecting (SYN_SENT)",
        tcp_state::SYN_RECV => "SYN_RECV",
        tcp_state::FIN_WAIT1 => "closing (FIN_WAIT1)",
        tcp_state::FIN_WAIT2 => "closing (FIN_WAIT2)",
        tcp_state::TIME_WAIT => "closing (TIME_WAIT)",
        tcp_state::CLOSE_WAIT => "closing (CLOSE_WAIT)",
        tcp_state::LAST_ACK => "closing (LAST_ACK)",
        tcp_state::CLOSING => "closing (CLOSING)",
        _ => "in an unknown state",
    }
}

// ------------------------------------------------------------ checkpoint

/// A TCP or UDP socket of the tree: its record, once the image numbers it.
pub(crate) struct InetSnap {
    key: u64,
    rec: KBox<Inet>,
}

impl InetSnap {
    /// The socket's kernel identity (never saved).
    pub(crate) fn key(&self) -> u64 {
        self.key
    }

    /// Writes its record with image id `id`.
    pub(crate) fn write(&self, id: u32, w: &mut ImageWriter<'_>) -> Result {
        let rec = Inet { id, ..*self.rec };
        w.record(|b| rec.encode(b))
    }
}

/// Options `getsockopt()` reads that restart does not set again: level,
/// option, name, bytes read. Compared with a new socket's; the checkpoint
/// is refused by name when they differ. (`TCP_CORK`, `SO_RCVTIMEO`,
/// `SO_SNDTIMEO`, filters and multicast memberships are checked from the
/// sock's fields.)
const REFUSED_OPTS: &[(u32, i32, &str, usize)] = &[
    (format::SOL_SOCKET, 25, "SO_BINDTODEVICE", 16),
    (format::SOL_SOCKET, 37, "SO_TIMESTAMPING", 4),
    (format::SOL_SOCKET, 61, "SO_TXTIME", 8),
    (format::SOL_SOCKET, 62, "SO_BINDTOIFINDEX", 4),
    (format::SOL_IP, 3, "IP_HDRINCL", 4),
    (format::SOL_IP, 4, "IP_OPTIONS", 40),
    (format::SOL_IP, 5, "IP_ROUTER_ALERT", 4),
    (format::SOL_IP, 22, "IP_NODEFRAG", 4),
    (format::SOL_IP, 32, "IP_MULTICAST_IF", 4),
    (format::SOL_IP, 50, "IP_UNICAST_IF", 4),
    (format::SOL_IPV6, 22, "IPV6_ROUTER_ALERT", 4),
    (format::SOL_IPV6, 30, "IPV6_ROUTER_ALERT_ISOLATE", 4),
    (format::SOL_IPV6, 54, "IPV6_HOPOPTS", MAX_OPT),
    (format::SOL_IPV6, 55, "IPV6_RTHDRDSTOPTS", MAX_OPT),
    (format::SOL_IPV6, 57, "IPV6_RTHDR", MAX_OPT),
    (format::SOL_IPV6, 59, "IPV6_DSTOPTS", MAX_OPT),
    (format::SOL_IPV6, 76, "IPV6_UNICAST_IF", 4),
    (format::SOL_TCP, 17, "TCP_THIN_DUPACK", 4),
    (format::SOL_TCP, 19, "TCP_REPAIR", 4),
    (format::SOL_TCP, 31, "TCP_ULP", 16),
    (format::SOL_TCP, 33, "TCP_FASTOPEN_KEY", 64),
];

/// `SO_LINGER`.
const SO_LINGER: i32 = 13;
/// `TCP_CONGESTION`.
const TCP_CONGESTION: i32 = 13;

/// What `getsockopt()` answered: the bytes, or the error.
#[derive(PartialEq, Eq)]
struct Answer {
    len: usize,
    bytes: [u8; MAX_OPT],
    err: i32,
}

fn answer(s: &SockRef<'_>, page: &OptPage, level: u32, o: i32, n: usize) -> Answer {
    let mut a = Answer {
        len: 0,
        bytes: [0; MAX_OPT],
        err: 0,
    };
    match s.get_opt(page, level as i32, o, &mut a.bytes[..n.min(MAX_OPT)]) {
        Ok(len) => a.len = len,
        Err(e) => a.err = e.to_errno(),
    }
    a
}

/// Reads the options of [`format::INET_OPTS`], `SO_LINGER` and
/// `TCP_CONGESTION` of `t` into `rec` where they differ from those of the
/// new socket `fresh`; refuses those of [`REFUSED_OPTS`] that differ.
fn read_options(
    t: &SockRef<'_>,
    fresh: &SockRef<'_>,
    page: &OptPage,
    rec: &mut Inet,
) -> Result<(), &'static str> {
    let tcp = rec.ty as i32 == SOCK_STREAM;
    for &(level, o, name, n) in REFUSED_OPTS {
        if format::inet_opt_applies(level, rec.family, tcp)
            && answer(t, page, level, o, n) != answer(fresh, page, level, o, n)
        {
            return Err(name);
        }
    }
    for (i, &(level, o, name)) in format::INET_OPTS.iter().enumerate() {
        if !format::inet_opt_applies(level, rec.family, tcp) {
            continue;
        }
        let got = t.get_int(page, level as i32, o as i32);
        if got.ok() == fresh.get_int(page, level as i32, o as i32).ok() {
            continue;
        }
        rec.set_opt(i, got.map_err(|_| name)?);
    }
    let l = answer(t, page, format::SOL_SOCKET, SO_LINGER, 8);
    if l.err != 0 || l.len != 8 {
        return Err("SO_LINGER");
    }
    let w =
        |k: usize| i32::from_ne_bytes([l.bytes[k], l.bytes[k + 1], l.bytes[k + 2], l.bytes[k + 3]]);
    rec.linger = [w(0), w(4)];
    if tcp {
        let (a, b) = (
            answer(t, page, format::SOL_TCP, TCP_CONGESTION, 16),
            answer(fresh, page, format::SOL_TCP, TCP_CONGESTION, 16),
        );
        if a != b {
            let n = a.bytes[..a.len]
                .iter()
                .position(|&c| c == 0)
                .unwrap_or(a.len);
            if a.err != 0 || n == 0 || n >= 16 {
                return Err("TCP_CONGESTION");
            }
            rec.congestion[..n].copy_from_slice(&a.bytes[..n]);
        }
    }
    Ok(())
}

/// After [`configure`]: the options of `r` read back from `s`, or the
/// name of the first that differs.
fn options_read_back(s: &SockRef<'_>, page: &OptPage, r: &Inet) -> Result<(), &'static str> {
    for (i, &(level, o, name)) in format::INET_OPTS.iter().enumerate() {
        if r.opt_is_set(i) && s.get_int(page, level as i32, o as i32) != Ok(r.opts[i]) {
            return Err(name);
        }
    }
    let l = answer(s, page, format::SOL_SOCKET, SO_LINGER, 8);
    let mut want = [0u8; 8];
    want[..4].copy_from_slice(&r.linger[0].to_ne_bytes());
    want[4..].copy_from_slice(&r.linger[1].to_ne_bytes());
    if l.err != 0 || l.bytes[..8] != want {
        return Err("SO_LINGER");
    }
    if let Some(c) = r.congestion_name() {
        let a = answer(s, page, format::SOL_TCP, TCP_CONGESTION, 16);
        if a.err != 0 || a.bytes.get(..c.len()) != Some(c) || a.bytes[c.len()] != 0 {
            return Err("TCP_CONGESTION");
        }
    }
    Ok(())
}

/// Reads the socket of `f` (fd `fd` of process `pid`), or refuses it.
pub(crate) fn snap(pid: i32, fd: u32, f: &File) -> Result<InetSnap, Refusal> {
    let nope = |what: fmt::Arguments<'_>| {
        refuse!(eopnotsupp(), "pid {pid} fd {fd}: {what}: not supported yet")
    };
    let Some(s) = file_socket(f) else {
        return Err(nope(format_args!("IP socket without a sock")));
    };
    let i = s.info();
    let proto = match (i.ty, i.protocol) {
        (SOCK_STREAM, IPPROTO_TCP) => "TCP",
        (SOCK_DGRAM, IPPROTO_UDP) => "UDP",
        (SOCK_DGRAM, 1 | 58) => return Err(nope(format_args!("ICMP (ping) socket"))),
        (k::SOCK_STREAM, p) => return Err(nope(format_args!("IP stream socket, protocol {p}"))),
        (3, _) => return Err(nope(format_args!("raw IP socket"))),
        (t, p) => return Err(nope(format_args!("IP socket of type {t}, protocol {p}"))),
    };
    let local = s.sockname().map_err(|e| {
        refuse!(
            e,
            "pid {pid} fd {fd}: cannot read the {proto} socket's address"
        )
    })?;
    let tcp = i.ty == SOCK_STREAM;
    let state = match (tcp, i.state) {
        (true, tcp_state::LISTEN) => InetState::Listen,
        (_, tcp_state::CLOSE) => InetState::Closed,
        (false, tcp_state::ESTABLISHED) => InetState::Connected,
        (true, tcp_state::ESTABLISHED) => {
            let peer = s.peername().unwrap_or_default();
            return Err(nope(format_args!(
                "established TCP connection {} -> {}",
                ShowAddr::of(&local),
                ShowAddr::of(&peer)
            )));
        }
        (true, st) => {
            return Err(nope(format_args!(
                "TCP socket {} {}",
                ShowAddr::of(&local),
                tcp_state_name(st)
            )))
        }
        (false, st) => return Err(nope(format_args!("UDP socket in state {st}"))),
    };
    let at = ShowAddr::of(&local);
    if state == InetState::Listen && (i.ack_backlog != 0 || i.reqsk != 0) {
        return Err(nope(format_args!(
            "listening TCP socket {at} with {} connections not yet accepted",
            i64::from(i.ack_backlog) + i64::from(i.reqsk)
        )));
    }
    if i.rcvq != 0 {
        return Err(nope(format_args!(
            "{proto} socket {at} with {} {} queued",
            i.rcvq,
            if tcp { "buffers" } else { "datagrams" }
        )));
    }
    if i.err != 0 || i.errq != 0 {
        return Err(nope(format_args!(
            "{proto} socket {at} with a pending error"
        )));
    }
    if i.shutdown != 0 {
        return Err(nope(format_args!("{proto} socket {at} shut down")));
    }
    let opt_nope = |name: &str| nope(format_args!("{proto} socket {at} with option {name}"));
    let checks: [(bool, &str); 6] = [
        (i.bound_dev_if != 0, "SO_BINDTODEVICE"),
        (i.rcvtimeo != k::NO_TIMEOUT, "SO_RCVTIMEO"),
        (i.sndtimeo != k::NO_TIMEOUT, "SO_SNDTIMEO"),
        (i.has_filter, "SO_ATTACH_FILTER"),
        (i.has_mc, "multicast group membership"),
        (i.has_ip_opt, "IP_OPTIONS"),
    ];
    if let Some((_, name)) = checks.iter().find(|(on, _)| *on) {
        return Err(opt_nope(name));
    }
    if i.reuse > 1 {
        return Err(opt_nope("SK_FORCE_REUSE"));
    }
    if tcp && i.nonagle & !k::TCP_NAGLE_OFF & !4 != 0 {
        // TCP_CORK (2) or anything else than TCP_NODELAY (NAGLE_OFF, PUSH).
        return Err(opt_nope("TCP_CORK"));
    }
    let peer = if state == InetState::Connected {
        s.peername().map_err(|e| {
            refuse!(
                e,
                "pid {pid} fd {fd}: cannot read the UDP socket's peer address"
            )
        })?
    } else {
        SockAddr::default()
    };
    let mut rec = record(&i, state, &local, &peer);
    // The options: those `getsockopt()` reads, compared with a new socket's
    // of the same kind (same network namespace, same sysctls); then the
    // new socket gets what restart would set, and every option and flag
    // must read as the target's, so an option cr does not know is refused
    // rather than lost.
    let cannot =
        |e: Error, what: &str| refuse!(e, "pid {pid} fd {fd}: cannot {what} ({proto} socket {at})");
    let page = OptPage::new().map_err(|e| cannot(e, "map a page to read socket options"))?;
    let fresh = Socket::create(i.family, i.ty, i.protocol)
        .map_err(|e| cannot(e, "make a socket to compare"))?;
    read_options(&s, &fresh.as_ref(), &page, &mut rec).map_err(opt_nope)?;
    configure(&fresh, &rec).map_err(|(e, name)| {
        refuse!(
            e,
            "pid {pid} fd {fd}: {proto} socket {at} with option {name}, which cannot be set again: not supported yet"
        )
    })?;
    let fr = fresh.as_ref();
    options_read_back(&fr, &page, &rec).map_err(opt_nope)?;
    let fi = fr.info();
    for &(bit, name) in k::SK_FLAG_OPTIONS {
        if (i.sk_flags ^ fi.sk_flags) & (1 << bit) != 0 {
            return Err(opt_nope(name));
        }
    }
    // The IP-level flag options (IP_FREEBIND, IP_TRANSPARENT, IP_RECVERR,
    // IP_PKTINFO...): as the configured new socket's.
    if fi.inet_flags != i.inet_flags {
        return Err(nope(format_args!(
            "{proto} socket {at} with IP options {:#x} (a new socket with its options has {:#x})",
            i.inet_flags, fi.inet_flags
        )));
    }
    if fi.mark != i.mark {
        return Err(opt_nope("SO_MARK"));
    }
    let rec = KBox::new(rec, GFP_KERNEL).map_err(|_| cannot(ENOMEM, "allocate"))?;
    Ok(InetSnap { key: s.key(), rec })
}

fn record(i: &SockInfo, state: InetState, local: &SockAddr, peer: &SockAddr) -> Inet {
    let mut flags = 0;
    let mut set = |on: bool, bit: u32| {
        if on {
            flags |= bit;
        }
    };
    set(i.reuse != 0, format::INET_REUSEADDR);
    set(i.reuseport, format::INET_REUSEPORT);
    set(i.family == AF_INET6 && i.ipv6only, format::INET_V6ONLY);
    set(
        i.sk_flags & (1 << k::SOCK_KEEPOPEN) != 0,
        format::INET_KEEPALIVE,
    );
    set(
        i.sk_flags & (1 << k::SOCK_BROADCAST) != 0,
        format::INET_BROADCAST,
    );
    set(
        i.ty == SOCK_STREAM && i.nonagle & k::TCP_NAGLE_OFF != 0,
        format::INET_NODELAY,
    );
    let rcv = i.userlocks & k::SOCK_RCVBUF_LOCK != 0;
    let snd = i.userlocks & k::SOCK_SNDBUF_LOCK != 0;
    set(rcv, format::INET_RCVBUF);
    set(snd, format::INET_SNDBUF);
    set(
        local.port != 0 && i.userlocks & k::SOCK_BINDADDR_LOCK != 0,
        format::INET_BOUND_ADDR,
    );
    let v6 = i.family == AF_INET6;
    let bound = local.port != 0;
    Inet {
        id: 0,
        family: i.family as u32,
        ty: i.ty as u32,
        protocol: i.protocol as u32,
        state: state as u32,
        flags,
        backlog: if state == InetState::Listen {
            i.max_ack_backlog.min(format::INET_MAX_BACKLOG)
        } else {
            0
        },
        rcvbuf: if rcv { i.rcvbuf.max(0) as u32 } else { 0 },
        sndbuf: if snd { i.sndbuf.max(0) as u32 } else { 0 },
        tos: (i.tos & 0xff) as u32,
        ttl: if (1..=255).contains(&i.uc_ttl) {
            i.uc_ttl
        } else {
            -1
        },
        tclass: if v6 { (i.tclass & 0xff) as u32 } else { 0 },
        hops: if v6 && (0..=255).contains(&i.hop_limit) {
            i.hop_limit
        } else {
            -1
        },
        local_port: local.port.into(),
        local_addr: if bound { local.addr } else { [0; 16] },
        local_scope: if bound && v6 { local.scope } else { 0 },
        peer_port: peer.port.into(),
        peer_addr: peer.addr,
        peer_scope: if v6 { peer.scope } else { 0 },
        priority: i.priority,
        ..Inet::default()
    }
}

// ------------------------------------------------------------ restart

/// Takes a socket record into the shared objects (its file record, which
/// follows, makes the socket).
pub(crate) fn add(r: &Inet, shared: &mut SharedObjects, log: &Log) -> Result {
    if r.id as usize != shared.count(Kind::Inet) + 1 {
        return Err(fail!(
            log,
            EINVAL,
            "bad image: socket {} out of order",
            r.id
        ));
    }
    shared.insert(
        r.id,
        Object::Inet {
            rec: KBox::new(*r, GFP_KERNEL)?,
            opened: false,
        },
    )
}

fn what(e: Error) -> &'static str {
    match errno_name(e) {
        "EADDRINUSE" => "address in use",
        "EADDRNOTAVAIL" => "address not available",
        "EACCES" => "permission denied",
        _ => "failed",
    }
}

/// Makes socket `id` of the image for the file record of fd `fd`, as the
/// caller: created, its options set, bound, listening or connected.
pub(crate) fn open(
    fd: u32,
    id: u32,
    open_flags: u32,
    shared: &mut SharedObjects,
    log: &Log,
) -> Result<ARef<File>> {
    let r = match shared.get(Kind::Inet, id) {
        Some(Object::Inet { rec, opened }) if !*opened => {
            *opened = true;
            **rec
        }
        Some(_) => {
            return Err(fail!(
                log,
                EINVAL,
                "bad image: fd {fd}: socket {id} opened by a second file description"
            ))
        }
        None => {
            return Err(fail!(log, EINVAL, "bad image: fd {fd}: no socket {id}"));
        }
    };
    let (family, ty) = (r.family as i32, r.ty as i32);
    let proto = proto_name(ty);
    let s = Socket::create(family, ty, r.protocol as i32)
        .map_err(|e| fail!(log, e, "fd {fd}: cannot create a {proto} socket"))?;
    configure(&s, &r).map_err(|(e, name)| {
        fail!(
            log,
            e,
            "fd {fd}: cannot set {name} on {proto} socket {}",
            ShowAddr::local(&r)
        )
    })?;
    if r.local_port != 0 {
        let wildcard = r.state() == InetState::Connected && r.flags & format::INET_BOUND_ADDR == 0;
        let a = SockAddr {
            family,
            port: r.local_port as u16,
            addr: if wildcard { [0; 16] } else { r.local_addr },
            scope: if wildcard { 0 } else { r.local_scope },
        };
        s.bind(a).map_err(|e| {
            fail!(
                log,
                e,
                "fd {fd}: cannot bind {proto} {}: {}",
                ShowAddr::of(&a),
                what(e)
            )
        })?;
    }
    match r.state() {
        InetState::Listen => s.listen(r.backlog as i32).map_err(|e| {
            fail!(
                log,
                e,
                "fd {fd}: cannot listen on TCP {}: {}",
                ShowAddr::local(&r),
                what(e)
            )
        })?,
        InetState::Connected => {
            let peer = SockAddr {
                family,
                port: r.peer_port as u16,
                addr: r.peer_addr,
                scope: r.peer_scope,
            };
            s.connect(peer).map_err(|e| {
                fail!(
                    log,
                    e,
                    "fd {fd}: cannot connect UDP socket to {}",
                    ShowAddr::of(&peer)
                )
            })?;
        }
        InetState::Closed => {}
    }
    check(&s, &r).map_err(|name| {
        fail!(
            log,
            EINVAL,
            "fd {fd}: {proto} socket {}: {name} does not read back as saved",
            ShowAddr::local(&r)
        )
    })?;
    s.into_file(open_flags)
        .map_err(|e| fail!(log, e, "fd {fd}: cannot open the {proto} socket's file"))
}

/// Sets the options of `r` on the new socket `s`, before it is bound.
fn configure(s: &Socket, r: &Inet) -> Result<(), (Error, &'static str)> {
    let on = |bit: u32| i32::from(r.flags & bit != 0);
    let v6 = r.family == format::AF_INET6;
    let set = |level, o, val, name| s.set_int(level, o, val).map_err(|e| (e, name));
    use opt::*;
    if r.flags & format::INET_REUSEADDR != 0 {
        set(SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR")?;
    }
    if r.flags & format::INET_REUSEPORT != 0 {
        set(SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT")?;
    }
    if v6 {
        set(
            SOL_IPV6,
            IPV6_V6ONLY,
            on(format::INET_V6ONLY),
            "IPV6_V6ONLY",
        )?;
    }
    if r.flags & format::INET_KEEPALIVE != 0 {
        set(SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE")?;
    }
    if r.flags & format::INET_BROADCAST != 0 {
        set(SOL_SOCKET, SO_BROADCAST, 1, "SO_BROADCAST")?;
    }
    if r.flags & format::INET_NODELAY != 0 {
        set(SOL_TCP, TCP_NODELAY, 1, "TCP_NODELAY")?;
    }
    // The kernel doubles what is asked; above the sysctl maximum only the
    // FORCE variants (CAP_NET_ADMIN) reach the saved value.
    if r.flags & format::INET_RCVBUF != 0 {
        let v = (r.rcvbuf / 2) as i32;
        set(SOL_SOCKET, SO_RCVBUF, v, "SO_RCVBUF")?;
        if s.as_ref().info().rcvbuf != r.rcvbuf as i32 {
            set(SOL_SOCKET, SO_RCVBUFFORCE, v, "SO_RCVBUF")?;
        }
    }
    if r.flags & format::INET_SNDBUF != 0 {
        let v = (r.sndbuf / 2) as i32;
        set(SOL_SOCKET, SO_SNDBUF, v, "SO_SNDBUF")?;
        if s.as_ref().info().sndbuf != r.sndbuf as i32 {
            set(SOL_SOCKET, SO_SNDBUFFORCE, v, "SO_SNDBUF")?;
        }
    }
    if r.tos != 0 {
        set(SOL_IP, IP_TOS, r.tos as i32, "IP_TOS")?;
    }
    if r.ttl != -1 {
        set(SOL_IP, IP_TTL, r.ttl, "IP_TTL")?;
    }
    if v6 && r.tclass != 0 {
        set(SOL_IPV6, IPV6_TCLASS, r.tclass as i32, "IPV6_TCLASS")?;
    }
    if v6 && r.hops != -1 {
        set(SOL_IPV6, IPV6_UNICAST_HOPS, r.hops, "IPV6_UNICAST_HOPS")?;
    }
    if s.as_ref().info().priority != r.priority {
        set(SOL_SOCKET, SO_PRIORITY, r.priority as i32, "SO_PRIORITY")?;
    }
    for (i, &(level, o, name)) in format::INET_OPTS.iter().enumerate() {
        if r.opt_is_set(i) {
            set(level as i32, o as i32, r.opts[i], name)?;
        }
    }
    // `l_linger` is kept when `l_onoff` is 0: set on, then off.
    if r.linger != [0, 0] {
        let l = |on: i32| {
            let mut b = [0u8; 8];
            b[..4].copy_from_slice(&on.to_ne_bytes());
            b[4..].copy_from_slice(&r.linger[1].to_ne_bytes());
            s.set_bytes(SOL_SOCKET, SO_LINGER, &b)
                .map_err(|e| (e, "SO_LINGER"))
        };
        l(1)?;
        if r.linger[0] == 0 {
            l(0)?;
        }
    }
    if let Some(c) = r.congestion_name() {
        s.set_bytes(SOL_TCP, TCP_CONGESTION, c)
            .map_err(|e| (e, "TCP_CONGESTION"))?;
    }
    Ok(())
}

/// Reads the new socket back: what it is must be what was saved.
fn check(s: &Socket, r: &Inet) -> Result<(), &'static str> {
    let sr: SockRef<'_> = s.as_ref();
    let i = sr.info();
    let local = sr.sockname().map_err(|_| "its address")?;
    let peer = if r.state() == InetState::Connected {
        sr.peername().map_err(|_| "its peer")?
    } else {
        SockAddr::default()
    };
    let got = record(&i, r.state(), &local, &peer);
    let want = Inet { id: 0, ..*r };
    let name = if got.local_port != want.local_port || got.local_addr != want.local_addr {
        "the local address"
    } else if (got.peer_port, got.peer_addr) != (want.peer_port, want.peer_addr) {
        "the peer address"
    } else if got.backlog != want.backlog {
        "the backlog"
    } else if got.rcvbuf != want.rcvbuf {
        "SO_RCVBUF"
    } else if got.sndbuf != want.sndbuf {
        "SO_SNDBUF"
    } else if got.flags != want.flags {
        "an option"
    } else if (got.tos, got.ttl, got.tclass, got.hops)
        != (want.tos, want.ttl, want.tclass, want.hops)
    {
        "IP_TOS, IP_TTL, IPV6_TCLASS or IPV6_UNICAST_HOPS"
    } else if got.priority != want.priority {
        "SO_PRIORITY"
    } else if r.opts_set == [0; 2] && r.linger == [0, 0] && r.congestion_name().is_none() {
        return Ok(());
    } else {
        let page = OptPage::new().map_err(|_| "its options (no page to read them)")?;
        return options_read_back(&sr, &page, r);
    };
    Err(name)
}
