// SPDX-License-Identifier: GPL-2.0

//! TCP and UDP sockets: what a socket is and does (read at checkpoint),
//! and new sockets made, configured, bound, put to listen or connected
//! as the caller (at restart).

use super::{err_ptr, errno_result, file_from_raw};
use core::{marker::PhantomData, ptr::NonNull};
use kernel::{
    bindings,
    ffi::c_ulong,
    fs::File,
    prelude::*,
    sync::aref::ARef,
    uaccess::{UserPtr, UserSlice},
};

/// Raw declarations of the socket accessors of `cr_kapi.c`.
mod sffi {
    use kernel::bindings::socket;
    use kernel::ffi::{c_int, c_long, c_ulong};

    // `struct socket` is only passed by pointer.
    #[allow(improper_ctypes)]
    extern "C" {
        pub(super) fn cr_inet_sk_state(s: *mut socket) -> c_int;
        pub(super) fn cr_inet_sk_protocol(s: *mut socket) -> c_int;
        pub(super) fn cr_inet_sk_reuse(s: *mut socket) -> c_int;
        pub(super) fn cr_inet_sk_reuseport(s: *mut socket) -> c_int;
        pub(super) fn cr_inet_sk_ipv6only(s: *mut socket) -> c_int;
        pub(super) fn cr_inet_sk_userlocks(s: *mut socket) -> c_int;
        pub(super) fn cr_inet_sk_rcvbuf(s: *mut socket) -> c_int;
        pub(super) fn cr_inet_sk_sndbuf(s: *mut socket) -> c_int;
        pub(super) fn cr_inet_sk_max_ack_backlog(s: *mut socket) -> u32;
        pub(super) fn cr_inet_sk_ack_backlog(s: *mut socket) -> u32;
        pub(super) fn cr_inet_sk_bound_dev_if(s: *mut socket) -> c_int;
        pub(super) fn cr_inet_sk_mark(s: *mut socket) -> u32;
        pub(super) fn cr_inet_sk_priority(s: *mut socket) -> u32;
        pub(super) fn cr_inet_sk_rcvtimeo(s: *mut socket) -> c_long;
        pub(super) fn cr_inet_sk_sndtimeo(s: *mut socket) -> c_long;
        pub(super) fn cr_inet_sk_shutdown(s: *mut socket) -> c_int;
        pub(super) fn cr_inet_sk_flags(s: *mut socket) -> c_ulong;
        pub(super) fn cr_inet_sk_has_filter(s: *mut socket) -> bool;
        pub(super) fn cr_inet_sk_rcvq_len(s: *mut socket) -> u32;
        pub(super) fn cr_inet_sk_err(s: *mut socket) -> c_int;
        pub(super) fn cr_inet_sk_errq_len(s: *mut socket) -> u32;
        pub(super) fn cr_udp_reader_queue_len(s: *mut socket) -> u32;
        pub(super) fn cr_inet_tos(s: *mut socket) -> c_int;
        pub(super) fn cr_inet_uc_ttl(s: *mut socket) -> c_int;
        pub(super) fn cr_inet_flags(s: *mut socket) -> c_ulong;
        pub(super) fn cr_inet_has_mc(s: *mut socket) -> bool;
        pub(super) fn cr_inet_has_opt(s: *mut socket) -> bool;
        pub(super) fn cr_inet6_hop_limit(s: *mut socket) -> c_int;
        pub(super) fn cr_inet6_tclass(s: *mut socket) -> c_int;
        pub(super) fn cr_inet6_has_mc(s: *mut socket) -> bool;
        pub(super) fn cr_tcp_nonagle(s: *mut socket) -> c_int;
        pub(super) fn cr_tcp_reqsk_queue_len(s: *mut socket) -> c_int;
        pub(super) fn cr_inet_setsockopt_int(
            s: *mut socket,
            level: c_int,
            opt: c_int,
            val: c_int,
        ) -> c_int;
        pub(super) fn cr_inet_setsockopt_buf(
            s: *mut socket,
            level: c_int,
            opt: c_int,
            val: *const u8,
            len: c_int,
        ) -> c_int;
        pub(super) fn cr_inet_getsockopt_user(
            s: *mut socket,
            level: c_int,
            opt: c_int,
            val: c_ulong,
            len: c_ulong,
        ) -> c_int;
    }
}

/// `AF_INET`.
pub(crate) const AF_INET: i32 = 2;
/// `AF_INET6`.
pub(crate) const AF_INET6: i32 = 10;
/// `SOCK_STREAM`.
pub(crate) const SOCK_STREAM: i32 = 1;
/// `SOCK_DGRAM`.
pub(crate) const SOCK_DGRAM: i32 = 2;
/// `IPPROTO_TCP`.
pub(crate) const IPPROTO_TCP: i32 = 6;
/// `IPPROTO_UDP`.
pub(crate) const IPPROTO_UDP: i32 = 17;

/// `sk_state` values (`include/net/tcp_states.h`).
pub(crate) mod tcp_state {
    pub(crate) const ESTABLISHED: i32 = 1;
    pub(crate) const SYN_SENT: i32 = 2;
    pub(crate) const SYN_RECV: i32 = 3;
    pub(crate) const FIN_WAIT1: i32 = 4;
    pub(crate) const FIN_WAIT2: i32 = 5;
    pub(crate) const TIME_WAIT: i32 = 6;
    pub(crate) const CLOSE: i32 = 7;
    pub(crate) const CLOSE_WAIT: i32 = 8;
    pub(crate) const LAST_ACK: i32 = 9;
    pub(crate) const LISTEN: i32 = 10;
    pub(crate) const CLOSING: i32 = 11;
}

/// Socket option levels and names used at restart.
pub(crate) mod opt {
    pub(crate) const SOL_SOCKET: i32 = 1;
    pub(crate) const SOL_IP: i32 = 0;
    pub(crate) const SOL_IPV6: i32 = 41;
    pub(crate) const SOL_TCP: i32 = 6;
    pub(crate) const SO_REUSEADDR: i32 = 2;
    pub(crate) const SO_BROADCAST: i32 = 6;
    pub(crate) const SO_SNDBUF: i32 = 7;
    pub(crate) const SO_RCVBUF: i32 = 8;
    pub(crate) const SO_KEEPALIVE: i32 = 9;
    pub(crate) const SO_PRIORITY: i32 = 12;
    pub(crate) const SO_REUSEPORT: i32 = 15;
    pub(crate) const SO_SNDBUFFORCE: i32 = 32;
    pub(crate) const SO_RCVBUFFORCE: i32 = 33;
    pub(crate) const IP_TOS: i32 = 1;
    pub(crate) const IP_TTL: i32 = 2;
    pub(crate) const IPV6_UNICAST_HOPS: i32 = 16;
    pub(crate) const IPV6_V6ONLY: i32 = 26;
    pub(crate) const IPV6_TCLASS: i32 = 67;
    pub(crate) const TCP_NODELAY: i32 = 1;
}

/// `sk_userlocks` bits.
pub(crate) const SOCK_SNDBUF_LOCK: u32 = 1;
/// `sk_userlocks`: `SO_RCVBUF` was set.
pub(crate) const SOCK_RCVBUF_LOCK: u32 = 2;
/// `sk_userlocks`: the local address was bound.
pub(crate) const SOCK_BINDADDR_LOCK: u32 = 4;
/// `TCP_NAGLE_OFF` in `tcp_sock.nonagle`: `TCP_NODELAY`.
pub(crate) const TCP_NAGLE_OFF: u32 = 1;
/// `MAX_SCHEDULE_TIMEOUT`: no `SO_RCVTIMEO`/`SO_SNDTIMEO`.
pub(crate) const NO_TIMEOUT: i64 = i64::MAX;

/// Bits of `sk_flags` (`enum sock_flags` of `include/net/sock.h`) that a
/// socket option sets, by option: restart restores `SOCK_KEEPOPEN` and
/// `SOCK_BROADCAST`, the others are refused.
pub(crate) const SOCK_KEEPOPEN: u32 = 3;
/// `SOCK_BROADCAST`.
pub(crate) const SOCK_BROADCAST: u32 = 6;
/// The options behind the other `sk_flags` bits a program can set.
pub(crate) const SK_FLAG_OPTIONS: &[(u32, &str)] = &[
    (2, "SO_OOBINLINE"),
    (4, "SO_LINGER"),
    (7, "SO_TIMESTAMP"),
    (10, "SO_DEBUG"),
    (11, "SO_TIMESTAMP"),
    (12, "SO_TIMESTAMPNS"),
    (13, "SO_DONTROUTE"),
    (15, "SO_TIMESTAMPING"),
    (16, "O_ASYNC"),
    (17, "SO_RXQ_OVFL"),
    (18, "SO_ZEROCOPY"),
    (19, "SO_WIFI_STATUS"),
    (20, "SO_NOFCS"),
    (21, "SO_LOCK_FILTER"),
    (22, "SO_SELECT_ERR_QUEUE"),
    (24, "SO_TXTIME"),
    (26, "SO_TIMESTAMP_NEW"),
    (27, "SO_RCVMARK"),
    (28, "SO_RCVPRIORITY"),
    (29, "SO_TIMESTAMPING"),
];

/// What a socket is and what it is doing, read without locks from a
/// socket whose owners are stopped.
#[derive(Default, Clone, Copy)]
pub(crate) struct SockInfo {
    pub(crate) family: i32,
    pub(crate) ty: i32,
    pub(crate) protocol: i32,
    pub(crate) state: i32,
    pub(crate) reuse: i32,
    pub(crate) reuseport: bool,
    pub(crate) ipv6only: bool,
    pub(crate) userlocks: u32,
    pub(crate) rcvbuf: i32,
    pub(crate) sndbuf: i32,
    pub(crate) max_ack_backlog: u32,
    /// Connections in the accept queue.
    pub(crate) ack_backlog: u32,
    /// Connections being established (TCP listeners).
    pub(crate) reqsk: i32,
    pub(crate) bound_dev_if: i32,
    pub(crate) mark: u32,
    pub(crate) priority: u32,
    pub(crate) rcvtimeo: i64,
    pub(crate) sndtimeo: i64,
    pub(crate) shutdown: i32,
    pub(crate) sk_flags: u64,
    pub(crate) has_filter: bool,
    /// Datagrams or segments in the receive queues.
    pub(crate) rcvq: u32,
    pub(crate) err: i32,
    pub(crate) errq: u32,
    pub(crate) tos: i32,
    pub(crate) uc_ttl: i32,
    pub(crate) inet_flags: u64,
    pub(crate) has_mc: bool,
    pub(crate) has_ip_opt: bool,
    pub(crate) hop_limit: i32,
    pub(crate) tclass: i32,
    pub(crate) nonagle: u32,
}

/// An IPv4 or IPv6 socket address.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SockAddr {
    /// `AF_INET` or `AF_INET6`.
    pub(crate) family: i32,
    pub(crate) port: u16,
    /// 4 bytes for IPv4 (then zeros), 16 for IPv6.
    pub(crate) addr: [u8; 16],
    /// IPv6 scope id.
    pub(crate) scope: u32,
}

/// `struct sockaddr_storage`: room for any address, aligned.
#[repr(C, align(8))]
struct Storage([u8; 128]);

impl SockAddr {
    /// The C form and its length.
    fn to_raw(self) -> (Storage, i32) {
        let mut s = Storage([0; 128]);
        let b = &mut s.0;
        b[0..2].copy_from_slice(&(self.family as u16).to_ne_bytes());
        b[2..4].copy_from_slice(&self.port.to_be_bytes());
        if self.family == AF_INET {
            b[4..8].copy_from_slice(&self.addr[..4]);
            (s, 16)
        } else {
            // flowinfo 0, the address, the scope id.
            b[8..24].copy_from_slice(&self.addr);
            b[24..28].copy_from_slice(&self.scope.to_ne_bytes());
            (s, 28)
        }
    }

    fn from_raw(s: &Storage, len: usize) -> Result<Self> {
        let b = &s.0;
        let family = i32::from(u16::from_ne_bytes([b[0], b[1]]));
        let port = u16::from_be_bytes([b[2], b[3]]);
        let mut a = SockAddr {
            family,
            port,
            ..Default::default()
        };
        match family {
            AF_INET if len >= 8 => a.addr[..4].copy_from_slice(&b[4..8]),
            AF_INET6 if len >= 28 => {
                a.addr.copy_from_slice(&b[8..24]);
                a.scope = u32::from_ne_bytes([b[24], b[25], b[26], b[27]]);
            }
            _ => return Err(EINVAL),
        }
        Ok(a)
    }
}

/// A socket of a file, borrowed for as long as the file.
#[derive(Clone, Copy)]
pub(crate) struct SockRef<'a> {
    sock: NonNull<bindings::socket>,
    _file: PhantomData<&'a File>,
}

/// The socket of `f`, if it is one with a sock.
pub(crate) fn file_socket(f: &File) -> Option<SockRef<'_>> {
    // SAFETY: `f` is a valid file; the socket of a socket file lives as
    // long as the file.
    let s = unsafe { bindings::sock_from_file(f.as_ptr()) };
    let sock = NonNull::new(s)?;
    // SAFETY: `sock` is valid.
    if unsafe { (*s).sk.is_null() } {
        return None;
    }
    Some(SockRef {
        sock,
        _file: PhantomData,
    })
}

impl SockRef<'_> {
    fn raw(&self) -> *mut bindings::socket {
        self.sock.as_ptr()
    }

    /// The socket's identity (its address), never saved.
    pub(crate) fn key(&self) -> u64 {
        self.raw() as u64
    }

    /// What the socket is and does.
    pub(crate) fn info(&self) -> SockInfo {
        let s = self.raw();
        // SAFETY: `s` is a valid socket with a sock, which it keeps as long
        // as its file; each accessor reads one field. The protocol-specific
        // ones are called only for sockets of their protocol and family.
        unsafe {
            let mut i = SockInfo {
                family: super::ffi::cr_sock_family(s),
                ty: (*s).type_.into(),
                protocol: sffi::cr_inet_sk_protocol(s),
                state: sffi::cr_inet_sk_state(s),
                reuse: sffi::cr_inet_sk_reuse(s),
                reuseport: sffi::cr_inet_sk_reuseport(s) != 0,
                ipv6only: sffi::cr_inet_sk_ipv6only(s) != 0,
                userlocks: sffi::cr_inet_sk_userlocks(s) as u32,
                rcvbuf: sffi::cr_inet_sk_rcvbuf(s),
                sndbuf: sffi::cr_inet_sk_sndbuf(s),
                max_ack_backlog: sffi::cr_inet_sk_max_ack_backlog(s),
                ack_backlog: sffi::cr_inet_sk_ack_backlog(s),
                bound_dev_if: sffi::cr_inet_sk_bound_dev_if(s),
                mark: sffi::cr_inet_sk_mark(s),
                priority: sffi::cr_inet_sk_priority(s),
                rcvtimeo: sffi::cr_inet_sk_rcvtimeo(s) as i64,
                sndtimeo: sffi::cr_inet_sk_sndtimeo(s) as i64,
                shutdown: sffi::cr_inet_sk_shutdown(s),
                sk_flags: sffi::cr_inet_sk_flags(s) as u64,
                has_filter: sffi::cr_inet_sk_has_filter(s),
                rcvq: sffi::cr_inet_sk_rcvq_len(s),
                err: sffi::cr_inet_sk_err(s),
                errq: sffi::cr_inet_sk_errq_len(s),
                hop_limit: -1,
                ..Default::default()
            };
            if !matches!(i.family, AF_INET | AF_INET6) {
                return i;
            }
            i.tos = sffi::cr_inet_tos(s);
            i.uc_ttl = sffi::cr_inet_uc_ttl(s);
            i.inet_flags = sffi::cr_inet_flags(s) as u64;
            i.has_mc = sffi::cr_inet_has_mc(s);
            i.has_ip_opt = sffi::cr_inet_has_opt(s);
            if i.family == AF_INET6 {
                i.hop_limit = sffi::cr_inet6_hop_limit(s);
                i.tclass = sffi::cr_inet6_tclass(s);
                i.has_mc |= sffi::cr_inet6_has_mc(s);
            }
            match (i.ty, i.protocol) {
                (SOCK_STREAM, IPPROTO_TCP) => {
                    i.nonagle = sffi::cr_tcp_nonagle(s) as u32;
                    if i.state == tcp_state::LISTEN {
                        i.reqsk = sffi::cr_tcp_reqsk_queue_len(s);
                    }
                }
                (SOCK_DGRAM, IPPROTO_UDP) => i.rcvq += sffi::cr_udp_reader_queue_len(s),
                _ => {}
            }
            i
        }
    }

    /// `getsockname()`.
    pub(crate) fn sockname(&self) -> Result<SockAddr> {
        let mut st = Storage([0; 128]);
        // SAFETY: The socket is valid; `st` has room for any address.
        let r = unsafe { bindings::kernel_getsockname(self.raw(), st.0.as_mut_ptr().cast()) };
        SockAddr::from_raw(&st, errno_result(r.into())? as usize)
    }

    /// `getsockopt(level, opt)` into `buf` (at most [`MAX_OPT`] bytes),
    /// through `page`: the length the option has.
    pub(crate) fn get_opt(
        &self,
        page: &OptPage,
        level: i32,
        opt: i32,
        buf: &mut [u8],
    ) -> Result<usize> {
        let n = buf.len().min(MAX_OPT);
        let (val, len) = (page.addr + 64, page.addr);
        UserSlice::new(UserPtr::from_addr(len), 4)
            .writer()
            .write_slice(&(n as i32).to_ne_bytes())?;
        UserSlice::new(UserPtr::from_addr(val), n)
            .writer()
            .write_slice(&[0; MAX_OPT][..n])?;
        // SAFETY: The socket is valid; `val` and `len` are user addresses
        // of the caller's page, with room for `n` bytes and an int.
        let r = unsafe {
            sffi::cr_inet_getsockopt_user(self.raw(), level, opt, val as c_ulong, len as c_ulong)
        };
        errno_result(r.into())?;
        let mut l = [0u8; 4];
        UserSlice::new(UserPtr::from_addr(len), 4)
            .reader()
            .read_slice(&mut l)?;
        let got = (i32::from_ne_bytes(l).max(0) as usize).min(n);
        UserSlice::new(UserPtr::from_addr(val), got)
            .reader()
            .read_slice(&mut buf[..got])?;
        Ok(got)
    }

    /// `getsockopt()` of an `int` option.
    pub(crate) fn get_int(&self, page: &OptPage, level: i32, opt: i32) -> Result<i32> {
        let mut b = [0u8; 4];
        let n = self.get_opt(page, level, opt, &mut b)?;
        // A shorter answer (a one-byte option) is little-endian.
        Ok(match n {
            4 => i32::from_ne_bytes(b),
            1 => i32::from(b[0]),
            _ => return Err(EINVAL),
        })
    }

    /// `getpeername()`.
    pub(crate) fn peername(&self) -> Result<SockAddr> {
        let mut st = Storage([0; 128]);
        // SAFETY: As in `sockname`.
        let r = unsafe { bindings::kernel_getpeername(self.raw(), st.0.as_mut_ptr().cast()) };
        SockAddr::from_raw(&st, errno_result(r.into())? as usize)
    }
}

/// Most bytes [`SockRef::get_opt`] reads.
pub(crate) const MAX_OPT: usize = 256;

/// One page of the caller's address space, mapped for as long as it
/// lives: the protocols' `getsockopt()` write only to user memory, so
/// options are read through it (the page is the caller's, never the
/// target's; nothing else of the caller's mm changes).
pub(crate) struct OptPage {
    addr: usize,
}

const PAGE: usize = 4096;

impl OptPage {
    /// Maps the page (fails for a caller without an mm).
    pub(crate) fn new() -> Result<Self> {
        // PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS.
        // SAFETY: A new anonymous mapping anywhere in the current mm.
        let r = unsafe { bindings::vm_mmap(core::ptr::null_mut(), 0, PAGE, 3, 0x22, 0) };
        if super::is_err_value(r) {
            return Err(Error::from_errno(r as isize as i32));
        }
        Ok(OptPage { addr: r })
    }
}

impl Drop for OptPage {
    fn drop(&mut self) {
        // SAFETY: Unmaps the page `new` mapped in the current mm.
        unsafe { bindings::vm_munmap(self.addr, PAGE) };
    }
}

/// A socket made by cr, owned until it becomes a file
/// ([`Socket::into_file`]); released if dropped before.
pub(crate) struct Socket {
    sock: NonNull<bindings::socket>,
}

// SAFETY: A socket may be used and released from any task.
unsafe impl Send for Socket {}
// SAFETY: Its methods take `&self` only for what the socket layer locks.
unsafe impl Sync for Socket {}

impl Socket {
    /// `socket(family, ty, protocol)` in the caller's network namespace,
    /// as the caller (its credentials and security checks).
    pub(crate) fn create(family: i32, ty: i32, protocol: i32) -> Result<Self> {
        let mut s: *mut bindings::socket = core::ptr::null_mut();
        // SAFETY: `s` is valid for writes.
        errno_result(unsafe { bindings::sock_create(family, ty, protocol, &mut s) }.into())?;
        let sock = NonNull::new(s).ok_or(ENOMEM)?;
        Ok(Socket { sock })
    }

    /// Borrowed, to read it as a file's.
    pub(crate) fn as_ref(&self) -> SockRef<'_> {
        SockRef {
            sock: self.sock,
            _file: PhantomData,
        }
    }

    /// `setsockopt()` of an `int` option.
    pub(crate) fn set_int(&self, level: i32, opt: i32, val: i32) -> Result {
        // SAFETY: The socket is valid.
        let r = unsafe { sffi::cr_inet_setsockopt_int(self.sock.as_ptr(), level, opt, val) };
        errno_result(r.into()).map(|_| ())
    }

    /// `setsockopt()` of an option of any type, given as its bytes.
    pub(crate) fn set_bytes(&self, level: i32, opt: i32, val: &[u8]) -> Result {
        // SAFETY: The socket is valid; `val` is valid for its length.
        let r = unsafe {
            sffi::cr_inet_setsockopt_buf(
                self.sock.as_ptr(),
                level,
                opt,
                val.as_ptr(),
                val.len() as i32,
            )
        };
        errno_result(r.into()).map(|_| ())
    }

    /// `bind()`.
    pub(crate) fn bind(&self, a: SockAddr) -> Result {
        let (mut st, len) = a.to_raw();
        // SAFETY: The socket is valid; `st` holds an address of `len` bytes.
        let r = unsafe { bindings::kernel_bind(self.sock.as_ptr(), st.0.as_mut_ptr().cast(), len) };
        errno_result(r.into()).map(|_| ())
    }

    /// `listen()`.
    pub(crate) fn listen(&self, backlog: i32) -> Result {
        // SAFETY: The socket is valid.
        let r = unsafe { bindings::kernel_listen(self.sock.as_ptr(), backlog) };
        errno_result(r.into()).map(|_| ())
    }

    /// `connect()` (datagram sockets: no waiting).
    pub(crate) fn connect(&self, a: SockAddr) -> Result {
        let (mut st, len) = a.to_raw();
        // SAFETY: As in `bind`.
        let r = unsafe {
            bindings::kernel_connect(self.sock.as_ptr(), st.0.as_mut_ptr().cast(), len, 0)
        };
        errno_result(r.into()).map(|_| ())
    }

    /// The socket's file, with status flags `flags` (`O_NONBLOCK` is the
    /// one a socket file keeps).
    pub(crate) fn into_file(self, flags: u32) -> Result<ARef<File>> {
        let s = self.sock.as_ptr();
        core::mem::forget(self);
        // SAFETY: `s` is a valid socket without a file, whose ownership
        // `sock_alloc_file` takes (it releases it on failure).
        let f = err_ptr(unsafe { bindings::sock_alloc_file(s, flags as i32, core::ptr::null()) })?;
        // SAFETY: The new file's reference is ours.
        Ok(unsafe { file_from_raw(f) })
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // SAFETY: The socket is ours and has no file.
        unsafe { bindings::sock_release(self.sock.as_ptr()) };
    }
}
