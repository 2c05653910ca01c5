// SPDX-License-Identifier: GPL-2.0

//! File locks and the owner of a file's signals: the locks an inode holds
//! (read under its lock context's spinlock), lock requests tested and taken
//! without blocking, and `F_SETOWN`/`F_SETSIG` read and set.

use core::{ffi::c_int, ffi::c_void, ptr};
use kernel::{bindings, fs::File, prelude::*};

/// Raw declarations of the file-lock part of `cr_kapi.c` (filelock.h is
/// not in the bindings: its structs are opaque here).
mod ffi {
    use core::ffi::{c_int, c_uint, c_void};
    use kernel::bindings;

    #[allow(improper_ctypes)]
    extern "C" {
        pub(super) fn cr_file_flctx(f: *mut bindings::file) -> *mut c_void;
        pub(super) fn cr_flctx_lock(ctx: *mut c_void);
        pub(super) fn cr_flctx_unlock(ctx: *mut c_void);
        pub(super) fn cr_flctx_flock(ctx: *mut c_void) -> *mut bindings::list_head;
        pub(super) fn cr_flctx_posix(ctx: *mut c_void) -> *mut bindings::list_head;
        pub(super) fn cr_flctx_lease(ctx: *mut c_void) -> *mut bindings::list_head;
        pub(super) fn cr_flc_entry(l: *mut bindings::list_head) -> *mut c_void;
        pub(super) fn cr_flc_read(
            c: *mut c_void,
            owner: *mut *mut c_void,
            file: *mut *mut bindings::file,
            flags: *mut c_uint,
            ty: *mut c_int,
        );
        pub(super) fn cr_fl_range(c: *mut c_void, start: *mut i64, end: *mut i64);
        pub(super) fn cr_flc_pid_vnr(c: *mut c_void) -> c_int;
        pub(super) fn cr_flc_set_pid(c: *mut c_void, t: *mut bindings::task_struct);
        pub(super) fn cr_lock_alloc() -> *mut c_void;
        pub(super) fn cr_lock_free(fl: *mut c_void);
        pub(super) fn cr_lock_set(
            fl: *mut c_void,
            f: *mut bindings::file,
            owner: *mut c_void,
            flags: c_uint,
            ty: c_int,
            start: i64,
            end: i64,
        );
        pub(super) fn cr_lock_type(fl: *mut c_void) -> c_int;
        pub(super) fn cr_vfs_test_lock(f: *mut bindings::file, fl: *mut c_void) -> c_int;
        pub(super) fn cr_vfs_lock_file(f: *mut bindings::file, fl: *mut c_void) -> c_int;
        pub(super) fn cr_locks_lock_file_wait(f: *mut bindings::file, fl: *mut c_void) -> c_int;
        pub(super) fn cr_current_files() -> *mut c_void;
        pub(super) fn cr_fown_read(o: *mut bindings::fown_struct, ty: *mut c_int) -> c_int;
    }
}

/// `FL_POSIX`.
pub(crate) const FL_POSIX: u32 = 1 << 0;
/// `FL_FLOCK`.
pub(crate) const FL_FLOCK: u32 = 1 << 1;
/// `FL_SLEEP`: the request was a blocking one (kept on granted locks).
pub(crate) const FL_SLEEP: u32 = 1 << 7;
/// `FL_OFDLCK`: a POSIX lock owned by the open file description.
pub(crate) const FL_OFDLCK: u32 = 1 << 10;
/// `F_RDLCK`.
pub(crate) const F_RDLCK: i32 = 0;
/// `F_WRLCK`.
pub(crate) const F_WRLCK: i32 = 1;
/// `F_UNLCK`.
const F_UNLCK: i32 = 2;

/// Which list of the inode's lock context a lock is on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockList {
    /// `flc_flock`: flock locks.
    Flock,
    /// `flc_posix`: POSIX and OFD locks.
    Posix,
    /// `flc_lease`: leases and delegations.
    Lease,
}

/// A lock (or lease) an inode holds, as read; identities are addresses,
/// compared, never dereferenced.
#[derive(Clone, Copy)]
pub(crate) struct HeldLock {
    pub(crate) list: LockList,
    /// `flc_owner`: a file table (POSIX), a file (flock, OFD).
    pub(crate) owner: usize,
    /// `flc_file`.
    pub(crate) file: usize,
    /// `flc_flags` (`FL_*`).
    pub(crate) flags: u32,
    /// `flc_type`: [`F_RDLCK`], [`F_WRLCK`] (leases: their type).
    pub(crate) ty: i32,
    /// Range, inclusive (0 for leases).
    pub(crate) start: i64,
    pub(crate) end: i64,
    /// `flc_pid`, the holder, as numbered in the current pid namespace (0:
    /// none there).
    pub(crate) pid: i32,
}

/// The identity of the current process's file table, the owner of its
/// POSIX locks.
pub(crate) fn current_files() -> usize {
    // SAFETY: No arguments; reads `current->files`.
    unsafe { ffi::cr_current_files() as usize }
}

/// The locks and leases of `f`'s inode, at most `cap` (`Err(E2BIG)` if it
/// holds more): read under its lock context's spinlock, without allocating.
pub(crate) fn inode_locks(f: &File, cap: usize) -> Result<KVec<HeldLock>> {
    let fp = f.as_ptr();
    // SAFETY: `f` is valid; its inode's lock context, once set, lives as
    // long as the inode.
    let ctx = unsafe { ffi::cr_file_flctx(fp) };
    let mut out = KVec::new();
    if ctx.is_null() {
        return Ok(out);
    }
    out.reserve(cap, GFP_KERNEL_ACCOUNT)?;
    let mut full = false;
    // SAFETY: `ctx` is a valid lock context; its lists are walked under its
    // spinlock, which keeps every entry alive and linked; nothing in the
    // loop sleeps or allocates.
    unsafe {
        ffi::cr_flctx_lock(ctx);
        for (list, head) in [
            (LockList::Flock, ffi::cr_flctx_flock(ctx)),
            (LockList::Posix, ffi::cr_flctx_posix(ctx)),
            (LockList::Lease, ffi::cr_flctx_lease(ctx)),
        ] {
            let mut p = (*head).next;
            while p != head && !full {
                let c = ffi::cr_flc_entry(p);
                let mut owner = ptr::null_mut();
                let mut file = ptr::null_mut();
                let mut flags = 0;
                let mut ty = 0;
                ffi::cr_flc_read(c, &mut owner, &mut file, &mut flags, &mut ty);
                let (mut start, mut end) = (0, 0);
                if list != LockList::Lease {
                    ffi::cr_fl_range(c, &mut start, &mut end);
                }
                let l = HeldLock {
                    list,
                    owner: owner as usize,
                    file: file as usize,
                    flags,
                    ty,
                    start,
                    end,
                    pid: ffi::cr_flc_pid_vnr(c),
                };
                full = out.push_within_capacity(l).is_err();
                p = (*p).next;
            }
        }
        ffi::cr_flctx_unlock(ctx);
    }
    if full {
        return Err(E2BIG);
    }
    Ok(out)
}

/// Names the process of `t` as the holder of the flock lock of `f` (the
/// one whose owner is `f`), as `/proc/locks` shows it: as if that process
/// had taken it. Nothing if `f` holds none.
pub(crate) fn set_flock_holder(f: &File, t: &super::TaskRef) {
    let fp = f.as_ptr();
    // SAFETY: `f` is valid; its inode's lock context, once set, lives as
    // long as the inode.
    let ctx = unsafe { ffi::cr_file_flctx(fp) };
    if ctx.is_null() {
        return;
    }
    // SAFETY: `ctx` is a valid lock context; its flock list is walked
    // under its spinlock, which keeps every entry alive and linked; its
    // `flc_pid` is a plain number that readers (`/proc/locks`) take as it
    // is, old or new; `t` is a valid task.
    unsafe {
        ffi::cr_flctx_lock(ctx);
        let head = ffi::cr_flctx_flock(ctx);
        let mut p = (*head).next;
        while p != head {
            let c = ffi::cr_flc_entry(p);
            let mut owner = ptr::null_mut();
            let mut file = ptr::null_mut();
            let (mut flags, mut ty) = (0, 0);
            ffi::cr_flc_read(c, &mut owner, &mut file, &mut flags, &mut ty);
            if ptr::eq(owner, fp.cast()) {
                ffi::cr_flc_set_pid(c, t.raw());
            }
            p = (*p).next;
        }
        ffi::cr_flctx_unlock(ctx);
    }
}

/// A lock request, freed when dropped.
struct Request(*mut c_void);

impl Request {
    /// A request on `f` for `owner`, of type `ty`, over `start..=end`.
    fn new(f: &File, owner: usize, flags: u32, ty: i32, start: i64, end: i64) -> Result<Self> {
        // SAFETY: No arguments; a new lock or null.
        let fl = unsafe { ffi::cr_lock_alloc() };
        if fl.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: `fl` is a new, initialized lock; `f` is valid and outlives
        // the request (the callers hold it).
        unsafe { ffi::cr_lock_set(fl, f.as_ptr(), owner as *mut c_void, flags, ty, start, end) };
        Ok(Request(fl))
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        // SAFETY: `self.0` came from `locks_alloc_lock()` and is not on any
        // list (a granted lock is a copy of its request).
        unsafe { ffi::cr_lock_free(self.0) }
    }
}

/// Takes a flock lock on `f` (owner: `f`), without blocking: `EAGAIN`
/// (`EWOULDBLOCK`) if another description holds a conflicting one.
pub(crate) fn flock(f: &File, ty: i32) -> Result {
    let r = Request::new(f, f.as_ptr() as usize, FL_FLOCK, ty, 0, i64::MAX)?;
    let fp = f.as_ptr();
    // SAFETY: `f` is valid; its `f_op` is set for as long as it is open.
    let op = unsafe { (*(*fp).f_op).flock };
    // SAFETY: `r` is a valid request on `f`; like `flock(2)` with
    // `LOCK_NB`, the filesystem's own method if it has one.
    let e = unsafe {
        match op {
            Some(op) => op(fp, bindings::F_SETLK as c_int, r.0.cast()),
            None => ffi::cr_locks_lock_file_wait(fp, r.0),
        }
    };
    kernel::error::to_result(e)
}

/// Takes a byte-range lock on `f`, without blocking: an OFD lock (owner
/// `f`) if `ofd`, else a POSIX lock owned by the current process's file
/// table. `EAGAIN` if someone else holds a conflicting one.
pub(crate) fn posix_lock(f: &File, ofd: bool, ty: i32, start: i64, end: i64) -> Result {
    let (owner, flags) = if ofd {
        (f.as_ptr() as usize, FL_POSIX | FL_OFDLCK)
    } else {
        (current_files(), FL_POSIX)
    };
    let r = Request::new(f, owner, flags, ty, start, end)?;
    // SAFETY: `r` is a valid request on `f`, which is valid.
    kernel::error::to_result(unsafe { ffi::cr_vfs_lock_file(f.as_ptr(), r.0) })
}

/// Whether a POSIX lock of type `ty` over `start..=end` on `f` could be
/// taken now by an owner that holds none (`Ok(false)`: a lock of someone
/// else conflicts).
pub(crate) fn posix_lock_free(f: &File, ty: i32, start: i64, end: i64) -> Result<bool> {
    let r = Request::new(f, 0, FL_POSIX, ty, start, end)?;
    // SAFETY: `r` is valid; its owner becomes the request itself, which no
    // lock has.
    unsafe { ffi::cr_lock_set(r.0, f.as_ptr(), r.0, FL_POSIX, ty, start, end) };
    // SAFETY: `r` is a valid request on `f`.
    kernel::error::to_result(unsafe { ffi::cr_vfs_test_lock(f.as_ptr(), r.0) })?;
    // SAFETY: `r` is valid; a conflict was copied into it, released by
    // `locks_free_lock()` on drop.
    Ok(unsafe { ffi::cr_lock_type(r.0) } == F_UNLCK)
}

// ------------------------------------------------------------ owners

/// The owner of a file's signals.
#[derive(Clone, Copy, Default)]
pub(crate) struct FileOwnerInfo {
    /// `F_GETOWN`: a pid, minus a process group, 0 for none or an owner
    /// with no task left (in the current task's pid namespace).
    pub(crate) who: i32,
    /// Whether the owner is a thread (`F_OWNER_TID`).
    pub(crate) tid: bool,
    /// `F_GETSIG`.
    pub(crate) signum: i32,
    /// `O_ASYNC` is set.
    pub(crate) fasync: bool,
}

/// Reads who owns a file's signals.
pub(crate) fn file_owner(f: &File) -> FileOwnerInfo {
    let fp = f.as_ptr();
    // SAFETY: `f` is valid; `f_owner` once set lives as long as the file;
    // its pid is read under its lock, `signum` once (`F_SETSIG` writes it
    // locklessly too).
    unsafe {
        let mut i = FileOwnerInfo {
            fasync: ptr::read_volatile(&raw const (*fp).f_flags) & bindings::FASYNC != 0,
            ..Default::default()
        };
        let o = ptr::read_volatile(&raw const (*fp).f_owner);
        if !o.is_null() {
            let mut ty = 0;
            let nr = ffi::cr_fown_read(o, &mut ty);
            let ty = ty as bindings::pid_type;
            i.tid = ty == bindings::pid_type_PIDTYPE_PID;
            i.who = if ty == bindings::pid_type_PIDTYPE_PGID {
                -nr
            } else {
                nr
            };
            i.signum = ptr::read_volatile(&raw const (*o).signum);
        }
        i
    }
}

/// Makes `who` (`F_SETOWN`: a pid, minus a process group, in the current
/// task's pid namespace; a thread if `tid`) the owner of `f`'s signals, and
/// `signum` their signal (`F_SETSIG`).
pub(crate) fn set_file_owner(f: &File, who: i32, tid: bool, signum: i32) -> Result {
    let fp = f.as_ptr();
    // SAFETY: `f` is valid.
    kernel::error::to_result(unsafe { bindings::file_f_owner_allocate(fp) })?;
    if tid {
        // SAFETY: Any number may be looked up; a reference or null.
        let pid = unsafe { bindings::find_get_pid(who) };
        if pid.is_null() {
            return Err(ESRCH);
        }
        // SAFETY: `f` has an `f_owner`; `pid` is referenced, and
        // `__f_setown` takes its own reference.
        unsafe {
            bindings::__f_setown(fp, pid, bindings::pid_type_PIDTYPE_PID, 1);
            bindings::put_pid(pid);
        }
    } else if who != 0 {
        // SAFETY: `f` is valid.
        kernel::error::to_result(unsafe { bindings::f_setown(fp, who, 1) })?;
    }
    // SAFETY: `f_owner` was allocated above and lives as long as `f`;
    // `F_SETSIG` writes `signum` the same way, without a lock.
    unsafe {
        let o = ptr::read_volatile(&raw const (*fp).f_owner);
        ptr::write_volatile(&raw mut (*o).signum, signum);
    }
    Ok(())
}
