// SPDX-License-Identifier: GPL-2.0

//! Unix domain sockets: reading one's state and queued bytes (never
//! consuming them), and making sockets, pairing them and queueing bytes
//! into them again.

use super::{err_ptr, errno_result, file_from_raw};
use core::{marker::PhantomData, ptr, ptr::NonNull};
use kernel::{
    bindings,
    ffi::{c_char, c_int, c_long, c_ulong},
    fs::File,
    prelude::*,
    sync::aref::ARef,
};

/// Raw declarations of the unix socket accessors of `cr_kapi.c`.
mod ffi {
    use super::*;

    #[allow(improper_ctypes)]
    extern "C" {
        pub(super) fn cr_sock_sk(sock: *mut bindings::socket) -> *mut bindings::sock;
        pub(super) fn cr_sk_type(sk: *mut bindings::sock) -> c_int;
        pub(super) fn cr_sk_state(sk: *mut bindings::sock) -> c_int;
        pub(super) fn cr_sk_shutdown(sk: *mut bindings::sock) -> c_int;
        pub(super) fn cr_sk_passcred(sk: *mut bindings::sock) -> c_int;
        pub(super) fn cr_sk_passsec(sk: *mut bindings::sock) -> c_int;
        pub(super) fn cr_sk_passpidfd(sk: *mut bindings::sock) -> c_int;
        pub(super) fn cr_sk_passrights(sk: *mut bindings::sock) -> c_int;
        pub(super) fn cr_sk_rcvbuf(sk: *mut bindings::sock) -> c_int;
        pub(super) fn cr_sk_sndbuf(sk: *mut bindings::sock) -> c_int;
        pub(super) fn cr_sk_userlocks(sk: *mut bindings::sock) -> c_int;
        pub(super) fn cr_sk_rcvtimeo(sk: *mut bindings::sock) -> c_long;
        pub(super) fn cr_sk_sndtimeo(sk: *mut bindings::sock) -> c_long;
        pub(super) fn cr_sk_peek_off(sk: *mut bindings::sock) -> c_int;
        pub(super) fn cr_sk_backlog(sk: *mut bindings::sock) -> u32;
        pub(super) fn cr_sk_dead(sk: *mut bindings::sock) -> bool;
        pub(super) fn cr_sk_peer_lock(sk: *mut bindings::sock);
        pub(super) fn cr_sk_peer_unlock(sk: *mut bindings::sock);
        pub(super) fn cr_sk_peer_pid(sk: *mut bindings::sock) -> *mut bindings::pid;
        pub(super) fn cr_sk_peer_cred(sk: *mut bindings::sock) -> *const bindings::cred;
        pub(super) fn cr_sk_set_peer_pid(sk: *mut bindings::sock, pid: *mut bindings::pid);
        pub(super) fn cr_sk_set_peer_cred(sk: *mut bindings::sock, cred: *const bindings::cred);
        pub(super) fn cr_sk_has_socket(sk: *mut bindings::sock) -> bool;
        pub(super) fn cr_sk_rqlen(sk: *mut bindings::sock) -> u32;
        pub(super) fn cr_sock_put(sk: *mut bindings::sock);
        pub(super) fn cr_hz() -> c_ulong;
        pub(super) fn cr_unix_oob(sk: *mut bindings::sock) -> bool;
        pub(super) fn cr_unix_addr(sk: *mut bindings::sock) -> *mut UnixAddress;
        pub(super) fn cr_unix_addr_len(a: *mut UnixAddress) -> c_int;
        pub(super) fn cr_unix_addr_path(a: *mut UnixAddress) -> *const c_char;
        pub(super) fn cr_sk_rqueue_get(
            sk: *mut bindings::sock,
            out: *mut *mut bindings::sk_buff,
            max: c_int,
        ) -> c_int;
        pub(super) fn cr_skb_put(skb: *mut bindings::sk_buff);
        pub(super) fn cr_skb_len(skb: *mut bindings::sk_buff) -> u32;
        pub(super) fn cr_skb_sender(skb: *mut bindings::sk_buff) -> *mut bindings::sock;
        pub(super) fn cr_unixcb_consumed(skb: *mut bindings::sk_buff) -> u32;
        pub(super) fn cr_unixcb_has_fds(skb: *mut bindings::sk_buff) -> bool;
        pub(super) fn cr_unix_set_name(
            sk: *mut bindings::sock,
            name: *const u8,
            len: c_int,
        ) -> c_int;
        pub(super) fn cr_sock_socketpair(
            a: *mut bindings::socket,
            b: *mut bindings::socket,
        ) -> c_int;
        pub(super) fn cr_sock_setsockopt_int(
            s: *mut bindings::socket,
            opt: c_int,
            val: c_int,
        ) -> c_int;
        pub(super) fn cr_sock_set_timeo(
            s: *mut bindings::socket,
            opt: c_int,
            sec: i64,
            usec: i64,
        ) -> c_int;
        pub(super) fn unix_peer_get(sk: *mut bindings::sock) -> *mut bindings::sock;
    }

    /// `struct unix_address`, only passed by pointer.
    #[repr(C)]
    pub(super) struct UnixAddress {
        _p: [u8; 0],
    }
}

/// `AF_UNIX`.
pub(crate) const AF_UNIX: i32 = 1;
/// `TCP_ESTABLISHED`: a connected unix socket's `sk_state`.
pub(crate) const SK_ESTABLISHED: i32 = 1;
/// `TCP_CLOSE`: an unconnected one's.
pub(crate) const SK_CLOSE: i32 = 7;
/// `TCP_LISTEN`: a listening one's.
pub(crate) const SK_LISTEN: i32 = 10;
/// `SOCK_RCVBUF_LOCK` in `sk_userlocks`.
const SOCK_RCVBUF_LOCK: i32 = 2;
/// `SOCK_SNDBUF_LOCK`.
const SOCK_SNDBUF_LOCK: i32 = 1;
/// `MAX_SCHEDULE_TIMEOUT`: no timeout.
const MAX_SCHEDULE_TIMEOUT: c_long = c_long::MAX;

/// The state of a unix socket, read without its locks (its owners are
/// parked, or it is the restart's own).
#[derive(Clone, Copy)]
pub(crate) struct UnixInfo {
    pub(crate) ty: i32,
    /// `sk_state` ([`SK_ESTABLISHED`]...).
    pub(crate) state: i32,
    /// `sk_shutdown`: `RCV_SHUTDOWN` 1, `SEND_SHUTDOWN` 2.
    pub(crate) shutdown: u32,
    pub(crate) passcred: bool,
    pub(crate) passsec: bool,
    pub(crate) passpidfd: bool,
    pub(crate) passrights: bool,
    pub(crate) rcvbuf: u32,
    pub(crate) sndbuf: u32,
    pub(crate) rcvbuf_locked: bool,
    pub(crate) sndbuf_locked: bool,
    /// `SO_RCVTIMEO` in microseconds as `getsockopt` reports it, 0 none.
    pub(crate) rcvtimeo_us: u64,
    pub(crate) sndtimeo_us: u64,
    pub(crate) peek_off: i32,
    /// `sk_max_ack_backlog`: a listening socket's backlog.
    pub(crate) backlog: u32,
    /// `SOCK_DEAD`: closed.
    pub(crate) dead: bool,
    /// Has a `struct socket` (false for a connection not yet accepted).
    pub(crate) has_socket: bool,
    /// Out-of-band byte pending (`MSG_OOB`).
    pub(crate) oob: bool,
    /// Skbs in the receive queue.
    pub(crate) qlen: u32,
    /// The bound address: `sun_path` bytes (a leading NUL for abstract
    /// names; a path without its NUL), `addr_len` of them.
    pub(crate) addr_len: usize,
    pub(crate) addr: [u8; 108],
    /// The identity of its `struct unix_address`, 0 if unnamed: an
    /// accepted socket shares its listener's.
    pub(crate) addr_key: u64,
}

/// Jiffies of a socket timeout to microseconds as `getsockopt` reports
/// them (`sock_get_timeout`); 0 for none.
fn timeo_us(t: c_long) -> u64 {
    // SAFETY: No arguments.
    let hz = unsafe { ffi::cr_hz() } as u64;
    if t == MAX_SCHEDULE_TIMEOUT || t <= 0 || hz == 0 {
        return 0;
    }
    let t = t as u64;
    (t / hz) * 1_000_000 + (t % hz) * 1_000_000 / hz
}

/// Whom [`Sk::set_peer`] makes `SO_PEERCRED` name.
pub(crate) enum PeerOf<'t> {
    /// Nobody: pid 0, uid and gid -1 (an unconnected socket).
    Nobody,
    /// The current task's process.
    Current,
    /// That task's process.
    Task(&'t super::TaskRef),
}

/// A `struct sock` borrowed for `'a`.
#[derive(Clone, Copy)]
pub(crate) struct Sk<'a> {
    sk: NonNull<bindings::sock>,
    _life: PhantomData<&'a ()>,
}

impl<'a> Sk<'a> {
    /// The sock of a unix socket file (`None` for any other file).
    pub(crate) fn of_file(f: &'a File) -> Option<Self> {
        // SAFETY: `f` is valid; a socket file keeps its socket and sock.
        unsafe {
            let sock = bindings::sock_from_file(f.as_ptr());
            if sock.is_null() {
                return None;
            }
            let sk = NonNull::new(ffi::cr_sock_sk(sock))?;
            if super::ffi::cr_sock_family(sock) != AF_UNIX {
                return None;
            }
            Some(Sk {
                sk,
                _life: PhantomData,
            })
        }
    }

    /// Its identity (its address), never saved.
    pub(crate) fn key(&self) -> u64 {
        self.sk.as_ptr() as usize as u64
    }

    /// Its state.
    pub(crate) fn info(&self) -> UnixInfo {
        let sk = self.sk.as_ptr();
        // SAFETY: `sk` is a valid unix sock for `'a`; the accessors read
        // its fields, and its address lives as long as it does.
        unsafe {
            let locks = ffi::cr_sk_userlocks(sk);
            let mut i = UnixInfo {
                ty: ffi::cr_sk_type(sk),
                state: ffi::cr_sk_state(sk),
                shutdown: ffi::cr_sk_shutdown(sk) as u32 & 3,
                passcred: ffi::cr_sk_passcred(sk) != 0,
                passsec: ffi::cr_sk_passsec(sk) != 0,
                passpidfd: ffi::cr_sk_passpidfd(sk) != 0,
                passrights: ffi::cr_sk_passrights(sk) != 0,
                rcvbuf: ffi::cr_sk_rcvbuf(sk).max(0) as u32,
                sndbuf: ffi::cr_sk_sndbuf(sk).max(0) as u32,
                rcvbuf_locked: locks & SOCK_RCVBUF_LOCK != 0,
                sndbuf_locked: locks & SOCK_SNDBUF_LOCK != 0,
                rcvtimeo_us: timeo_us(ffi::cr_sk_rcvtimeo(sk)),
                sndtimeo_us: timeo_us(ffi::cr_sk_sndtimeo(sk)),
                peek_off: ffi::cr_sk_peek_off(sk),
                backlog: ffi::cr_sk_backlog(sk),
                dead: ffi::cr_sk_dead(sk),
                has_socket: ffi::cr_sk_has_socket(sk),
                oob: ffi::cr_unix_oob(sk),
                qlen: ffi::cr_sk_rqlen(sk),
                addr_len: 0,
                addr: [0; 108],
                addr_key: 0,
            };
            let a = ffi::cr_unix_addr(sk);
            if !a.is_null() {
                let n = (ffi::cr_unix_addr_len(a).max(0) as usize).min(108);
                let p = ffi::cr_unix_addr_path(a).cast::<u8>();
                core::ptr::copy_nonoverlapping(p, i.addr.as_mut_ptr(), n);
                // A path name's length counts its NUL.
                let mut n = n;
                if n > 0 && i.addr[0] != 0 {
                    n = i.addr[..n].iter().position(|&b| b == 0).unwrap_or(n);
                }
                i.addr_len = n;
                i.addr_key = a as usize as u64;
            }
            i
        }
    }

    /// The process `SO_PEERCRED` names, as a pid in the current task's
    /// pid namespace (0 for none).
    pub(crate) fn peer_pid(&self) -> i32 {
        let sk = self.sk.as_ptr();
        // SAFETY: `sk` is a valid sock for `'a`; its peer pid is read under
        // `sk_peer_lock`, which keeps it referenced while it is.
        unsafe {
            ffi::cr_sk_peer_lock(sk);
            let p = ffi::cr_sk_peer_pid(sk);
            let nr = if p.is_null() { 0 } else { bindings::pid_vnr(p) };
            ffi::cr_sk_peer_unlock(sk);
            nr
        }
    }

    /// Whether the credentials `SO_PEERCRED` and `SO_PEERGROUPS` report
    /// (the effective uid and gid, the supplementary groups) are the
    /// current task's own, or there are none.
    pub(crate) fn peer_cred_is_own(&self) -> bool {
        let sk = self.sk.as_ptr();
        // SAFETY: `sk` is a valid sock for `'a`; its credentials are read
        // under `sk_peer_lock`, which keeps them referenced while it is.
        unsafe {
            ffi::cr_sk_peer_lock(sk);
            let c = ffi::cr_sk_peer_cred(sk);
            let own = c.is_null() || super::current::effective_ids_are_own(&*c);
            ffi::cr_sk_peer_unlock(sk);
            own
        }
    }

    /// Makes `SO_PEERCRED` name `who`'s thread group, with the current
    /// task's credentials, or nothing at all.
    pub(crate) fn set_peer(&self, who: PeerOf<'_>) -> Result {
        let sk = self.sk.as_ptr();
        let tgid = bindings::pid_type_PIDTYPE_TGID;
        let pid = match who {
            PeerOf::Nobody => ptr::null_mut(),
            // SAFETY: `current` is valid; a referenced pid or null comes
            // back.
            PeerOf::Current => unsafe { bindings::get_task_pid(super::cur(), tgid) },
            // SAFETY: The task is referenced, so valid; as above.
            PeerOf::Task(t) => unsafe { bindings::get_task_pid(t.raw(), tgid) },
        };
        if pid.is_null() && !matches!(who, PeerOf::Nobody) {
            return Err(ESRCH);
        }
        // SAFETY: `sk` is valid; its peer pid and credentials are replaced
        // under `sk_peer_lock`, as af_unix's `update_peercred()` does, and
        // the references the old ones held are dropped after it (both may
        // be null, which `put_pid` accepts and the check skips). The new
        // references move into the sock: `pid` from `get_task_pid` above,
        // the credentials from `get_cred` on the current task's own, which
        // are valid while it runs.
        unsafe {
            let new_cred = if pid.is_null() {
                ptr::null()
            } else {
                bindings::get_cred(super::current::cred_ptr())
            };
            ffi::cr_sk_peer_lock(sk);
            let old_pid = ffi::cr_sk_peer_pid(sk);
            let old_cred = ffi::cr_sk_peer_cred(sk);
            ffi::cr_sk_set_peer_pid(sk, pid);
            ffi::cr_sk_set_peer_cred(sk, new_cred);
            ffi::cr_sk_peer_unlock(sk);
            bindings::put_pid(old_pid);
            if !old_cred.is_null() {
                bindings::put_cred(old_cred);
            }
        }
        Ok(())
    }

    /// A reference to the socket it is connected to.
    pub(crate) fn peer(&self) -> Option<SockRef> {
        // SAFETY: `sk` is a valid unix sock; `unix_peer_get` returns its
        // peer with a reference, or NULL.
        let p = unsafe { ffi::unix_peer_get(self.sk.as_ptr()) };
        NonNull::new(p).map(|sk| SockRef { sk })
    }

    /// Calls `f` on each skb of the receive queue, in order, each held by
    /// a reference taken under the queue's lock: nothing is consumed.
    pub(crate) fn for_each_queued(&self, mut f: impl FnMut(&QueuedSkb<'_>) -> Result) -> Result {
        let mut want: usize = 64;
        for _ in 0..8 {
            let mut v = KVec::from_elem(core::ptr::null_mut(), want, GFP_KERNEL)?;
            let mut skbs: KVec<QueuedSkb<'_>> = KVec::with_capacity(want, GFP_KERNEL)?;
            // SAFETY: `v` has room for `want` pointers.
            let n =
                unsafe { ffi::cr_sk_rqueue_get(self.sk.as_ptr(), v.as_mut_ptr(), want as c_int) }
                    .max(0) as usize;
            for &p in &v[..n.min(want)] {
                let Some(skb) = NonNull::new(p) else { continue };
                // Each came with a reference of ours, which `QueuedSkb`
                // drops; `skbs` has room for all of them.
                let q = QueuedSkb {
                    skb,
                    _life: PhantomData,
                };
                if let Err(e) = skbs.push_within_capacity(q) {
                    drop(e.0);
                }
            }
            if n > want {
                // The queue grew past the array: take it again.
                drop(skbs);
                want = n + 16;
                continue;
            }
            for q in skbs.iter() {
                f(q)?;
            }
            return Ok(());
        }
        Err(EAGAIN)
    }
}

/// A counted reference to a `struct sock`.
pub(crate) struct SockRef {
    sk: NonNull<bindings::sock>,
}

// SAFETY: A counted reference to a sock may be used and dropped on any
// thread (`sock_put` may run in any process context).
unsafe impl Send for SockRef {}
// SAFETY: `&SockRef` only reads the sock's fields and takes its own locks.
unsafe impl Sync for SockRef {}

impl SockRef {
    /// The sock, borrowed.
    pub(crate) fn sk(&self) -> Sk<'_> {
        Sk {
            sk: self.sk,
            _life: PhantomData,
        }
    }
}

impl Drop for SockRef {
    fn drop(&mut self) {
        // SAFETY: We own one reference.
        unsafe { ffi::cr_sock_put(self.sk.as_ptr()) };
    }
}

/// One skb of a receive queue, held by a reference of ours.
pub(crate) struct QueuedSkb<'a> {
    skb: NonNull<bindings::sk_buff>,
    _life: PhantomData<&'a ()>,
}

impl QueuedSkb<'_> {
    /// Bytes not yet received: `len` minus what a stream reader consumed.
    pub(crate) fn unread(&self) -> (u32, u32) {
        let s = self.skb.as_ptr();
        // SAFETY: We hold a reference to the skb.
        let (len, consumed) = unsafe { (ffi::cr_skb_len(s), ffi::cr_unixcb_consumed(s)) };
        (consumed.min(len), len.saturating_sub(consumed))
    }

    /// Whether it carries file descriptors (`SCM_RIGHTS`).
    pub(crate) fn has_fds(&self) -> bool {
        // SAFETY: We hold a reference to the skb.
        unsafe { ffi::cr_unixcb_has_fds(self.skb.as_ptr()) }
    }

    /// The sock that owns it: in a listening socket's queue, the
    /// connection not accepted yet that it carries.
    pub(crate) fn owner(&self) -> Option<Sk<'_>> {
        // SAFETY: We hold a reference to the skb; its owner's memory lives
        // until the skb is freed (`sock_wfree`).
        let sk = unsafe { ffi::cr_skb_sender(self.skb.as_ptr()) };
        NonNull::new(sk).map(|sk| Sk {
            sk,
            _life: PhantomData,
        })
    }

    /// The identity of the socket that sent it.
    pub(crate) fn sender(&self) -> u64 {
        // SAFETY: We hold a reference to the skb.
        unsafe { ffi::cr_skb_sender(self.skb.as_ptr()) as usize as u64 }
    }

    /// Copies `buf.len()` bytes of its data from `off`.
    pub(crate) fn copy(&self, off: u32, buf: &mut [u8]) -> Result {
        // SAFETY: We hold a reference to the skb; `buf` is valid for writes
        // of its length, which `skb_copy_bits` checks against the skb's.
        let r = unsafe {
            bindings::skb_copy_bits(
                self.skb.as_ptr(),
                off as c_int,
                buf.as_mut_ptr().cast(),
                buf.len() as c_int,
            )
        };
        errno_result(r.into()).map(|_| ())
    }
}

impl Drop for QueuedSkb<'_> {
    fn drop(&mut self) {
        // SAFETY: We own one reference.
        unsafe { ffi::cr_skb_put(self.skb.as_ptr()) };
    }
}

// ------------------------------------------------------------ restart

/// `SO_*` options [`NewSocket::setsockopt`] sets.
pub(crate) const SO_SNDBUF: i32 = 7;
pub(crate) const SO_RCVBUF: i32 = 8;
pub(crate) const SO_PASSCRED: i32 = 16;
pub(crate) const SO_PASSSEC: i32 = 34;
pub(crate) const SO_PEEK_OFF: i32 = 42;
pub(crate) const SO_RCVTIMEO_NEW: i32 = 66;
pub(crate) const SO_SNDTIMEO_NEW: i32 = 67;
pub(crate) const SO_PASSPIDFD: i32 = 76;
pub(crate) const SO_PASSRIGHTS: i32 = 83;
/// `O_NONBLOCK`.
const O_NONBLOCK: i32 = 0o4000;
/// `MSG_DONTWAIT | MSG_NOSIGNAL`.
const SEND_FLAGS: u32 = 0x40 | 0x4000;

enum Own {
    /// Ours until it gets a file.
    Sock(NonNull<bindings::socket>),
    /// Its file holds it.
    File(ARef<File>, NonNull<bindings::socket>),
    /// Released (a failed `sock_alloc_file` releases it).
    Gone,
}

/// A unix socket made by restart, as the caller (its network namespace,
/// credentials and security checks).
pub(crate) struct NewSocket {
    own: Own,
}

// SAFETY: The socket is only used by the restart that made it, under its
// locks; the kernel's socket calls may run on any CPU.
unsafe impl Send for NewSocket {}
// SAFETY: As above: `&NewSocket` only makes kernel socket calls, which
// take the socket's own locks.
unsafe impl Sync for NewSocket {}

impl NewSocket {
    /// A new unix socket of type `ty`.
    pub(crate) fn create(ty: i32) -> Result<Self> {
        let mut s: *mut bindings::socket = core::ptr::null_mut();
        // SAFETY: `s` is valid for writes.
        errno_result(unsafe { bindings::sock_create(AF_UNIX, ty, 0, &mut s) }.into())?;
        Ok(NewSocket {
            own: Own::Sock(NonNull::new(s).ok_or(EINVAL)?),
        })
    }

    fn sock(&self) -> Result<*mut bindings::socket> {
        match &self.own {
            Own::Sock(s) | Own::File(_, s) => Ok(s.as_ptr()),
            Own::Gone => Err(EBADF),
        }
    }

    /// Its sock, to read its state.
    pub(crate) fn sk(&self) -> Result<Sk<'_>> {
        // SAFETY: A live socket has its sock.
        let sk = unsafe { ffi::cr_sock_sk(self.sock()?) };
        Ok(Sk {
            sk: NonNull::new(sk).ok_or(EINVAL)?,
            _life: PhantomData,
        })
    }

    /// Connects two new sockets of one type to each other (`socketpair`).
    pub(crate) fn pair(a: &NewSocket, b: &NewSocket) -> Result {
        // SAFETY: Both are live unix sockets, unconnected.
        errno_result(unsafe { ffi::cr_sock_socketpair(a.sock()?, b.sock()?) }.into()).map(|_| ())
    }

    /// `setsockopt(SOL_SOCKET, opt, &val)` with an int.
    pub(crate) fn setsockopt(&self, opt: i32, val: i32) -> Result {
        // SAFETY: The socket is live.
        errno_result(unsafe { ffi::cr_sock_setsockopt_int(self.sock()?, opt, val) }.into())
            .map(|_| ())
    }

    /// `SO_RCVTIMEO_NEW` or `SO_SNDTIMEO_NEW` of `us` microseconds.
    pub(crate) fn set_timeo(&self, opt: i32, us: u64) -> Result {
        let (sec, usec) = ((us / 1_000_000) as i64, (us % 1_000_000) as i64);
        // SAFETY: The socket is live.
        errno_result(unsafe { ffi::cr_sock_set_timeo(self.sock()?, opt, sec, usec) }.into())
            .map(|_| ())
    }

    /// Binds it to `addr` (`sun_path` bytes: a path without its NUL, or a
    /// NUL and an abstract name).
    pub(crate) fn bind(&self, addr: &[u8]) -> Result {
        let mut a = [0u8; 128];
        if addr.len() > 108 {
            return Err(EINVAL);
        }
        a[..2].copy_from_slice(&(AF_UNIX as u16).to_ne_bytes());
        a[2..2 + addr.len()].copy_from_slice(addr);
        let len = (2 + addr.len()) as c_int;
        // SAFETY: `a` is a `sockaddr_un` with room past `len` for the NUL
        // that `unix_bind` may write at `len`.
        errno_result(
            unsafe { bindings::kernel_bind(self.sock()?, a.as_mut_ptr().cast(), len) }.into(),
        )
        .map(|_| ())
    }

    /// Gives it the name `addr` (as [`NewSocket::bind`] takes it) the way
    /// an accepted socket has its listener's: nothing is bound.
    pub(crate) fn set_name(&self, addr: &[u8]) -> Result {
        let mut a = [0u8; 109];
        if addr.is_empty() || addr.len() > 108 {
            return Err(EINVAL);
        }
        a[..addr.len()].copy_from_slice(addr);
        // A path's name counts its NUL, as `unix_bind` records it.
        let len = if addr[0] == 0 {
            addr.len()
        } else {
            addr.len() + 1
        };
        let sk = self.sk()?;
        // SAFETY: `sk` is our new socket's, not bound and not yet shared;
        // `a` holds `len` bytes.
        errno_result(
            unsafe { ffi::cr_unix_set_name(sk.sk.as_ptr(), a.as_ptr(), len as c_int) }.into(),
        )
        .map(|_| ())
    }

    /// Connects it to the listening socket at `addr` (as
    /// [`NewSocket::bind`] takes it), without waiting.
    pub(crate) fn connect(&self, addr: &[u8]) -> Result {
        let mut a = [0u8; 128];
        if addr.is_empty() || addr.len() > 108 {
            return Err(EINVAL);
        }
        a[..2].copy_from_slice(&(AF_UNIX as u16).to_ne_bytes());
        a[2..2 + addr.len()].copy_from_slice(addr);
        let len = (2 + addr.len()) as c_int;
        // SAFETY: `a` is a `sockaddr_un` of `len` bytes, with room past it.
        errno_result(
            unsafe {
                bindings::kernel_connect(self.sock()?, a.as_mut_ptr().cast(), len, O_NONBLOCK)
            }
            .into(),
        )
        .map(|_| ())
    }

    /// `listen(backlog)`.
    pub(crate) fn listen(&self, backlog: u32) -> Result {
        let b = backlog.min(i32::MAX as u32) as c_int;
        // SAFETY: The socket is live.
        errno_result(unsafe { bindings::kernel_listen(self.sock()?, b) }.into()).map(|_| ())
    }

    /// `shutdown(how)`: 0 `SHUT_RD`, 1 `SHUT_WR`.
    pub(crate) fn shutdown(&self, how: u32) -> Result {
        // SAFETY: The socket is live.
        errno_result(unsafe { bindings::kernel_sock_shutdown(self.sock()?, how) }.into())
            .map(|_| ())
    }

    /// Sends `data` to its peer as one message, without waiting; returns
    /// how much was sent.
    pub(crate) fn send(&self, data: &[u8]) -> Result<usize> {
        let sock = self.sock()?;
        // SAFETY: `msghdr` is plain data, all zero a valid empty header.
        let mut msg: bindings::msghdr = unsafe { core::mem::zeroed() };
        msg.msg_flags = SEND_FLAGS;
        let mut v = bindings::kvec {
            iov_base: data.as_ptr().cast_mut().cast(),
            iov_len: data.len(),
        };
        // SAFETY: `msg` and `v` are valid; `data` is valid for reads of its
        // length and is only read.
        let r = unsafe { bindings::kernel_sendmsg(sock, &mut msg, &mut v, 1, data.len()) };
        Ok(errno_result(r.into())? as usize)
    }

    /// Its file (made once, `O_RDWR` and `O_NONBLOCK` if `nonblock`).
    pub(crate) fn file(&mut self, nonblock: bool) -> Result<ARef<File>> {
        let s = match &self.own {
            Own::File(f, _) => return Ok(f.clone()),
            Own::Gone => return Err(EBADF),
            Own::Sock(s) => *s,
        };
        let flags = if nonblock { O_NONBLOCK } else { 0 };
        // SAFETY: The socket is ours; `sock_alloc_file` takes it over, or
        // releases it on failure.
        let f = unsafe { bindings::sock_alloc_file(s.as_ptr(), flags, core::ptr::null()) };
        self.own = Own::Gone;
        let f = err_ptr(f)?;
        // SAFETY: `sock_alloc_file` returned a new file with one reference.
        let f = unsafe { file_from_raw(f) };
        self.own = Own::File(f.clone(), s);
        Ok(f)
    }
}

impl Drop for NewSocket {
    fn drop(&mut self) {
        if let Own::Sock(s) = self.own {
            // SAFETY: The socket is ours and has no file.
            unsafe { bindings::sock_release(s.as_ptr()) };
        }
    }
}
