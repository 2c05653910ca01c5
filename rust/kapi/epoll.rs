// SPDX-License-Identifier: GPL-2.0

//! Event notification files: what an epoll set or an inotify instance
//! prints of itself (`show_fdinfo`, as `/proc/PID/fdinfo` shows it), an
//! inotify instance's queue and next watch descriptor, and naming a watched
//! inode by a path.

use core::ptr;
use kernel::{bindings, fs::File, prelude::*, str::CStr};

mod ffi {
    use kernel::bindings;

    // `file` and `path` are only passed by pointer.
    #[allow(improper_ctypes)]
    extern "C" {
        pub(super) fn cr_inotify_queued(f: *mut bindings::file) -> u32;
        pub(super) fn cr_inotify_idr_next(f: *mut bindings::file) -> u32;
        pub(super) fn cr_current_pwd(p: *mut bindings::path);
        pub(super) fn cr_current_root(p: *mut bindings::path);
        pub(super) fn cr_inotify_wd_inode(f: *mut bindings::file, wd: i32) -> *mut bindings::inode;
        pub(super) fn cr_file_lock(f: *mut bindings::file);
        pub(super) fn cr_file_unlock(f: *mut bindings::file);
    }
}

/// What `f`'s `show_fdinfo` prints (after the `pos:`/`flags:` lines the
/// proc file adds, which it does not), into `buf`: `E2BIG` if it does not
/// fit, `ENOTTY` if the file has no `show_fdinfo`.
pub(crate) fn fdinfo<'b>(f: &File, buf: &'b mut [u8]) -> Result<&'b str> {
    let fp = f.as_ptr();
    // SAFETY: `f` is valid and keeps its operations.
    let show = unsafe { (*(*fp).f_op).show_fdinfo }.ok_or(ENOTTY)?;
    let mut m = bindings::seq_file {
        buf: buf.as_mut_ptr().cast(),
        size: buf.len(),
        ..Default::default()
    };
    m.file = fp;
    // SAFETY: `m` is a seq_file over `buf`, which `seq_printf` and its
    // kin fill without going past `size` (they only touch `buf`, `size`
    // and `count`); `f` is valid.
    unsafe { show(&mut m, fp) };
    // `seq_has_overflowed()`.
    if m.count >= m.size {
        return Err(E2BIG);
    }
    core::str::from_utf8(&buf[..m.count]).map_err(|_| EINVAL)
}

/// Events queued in an inotify instance and not yet read. `f` must be an
/// inotify file (its dentry name is "inotify").
pub(crate) fn inotify_queued(f: &File) -> u32 {
    // SAFETY: an inotify file's private data is its fsnotify group, which
    // lives as long as the file.
    unsafe { ffi::cr_inotify_queued(f.as_ptr()) }
}

/// The watch descriptor an inotify instance gives to its next new watch
/// (its idr's cyclic cursor, at least 1). `f` must be an inotify file.
pub(crate) fn inotify_next_wd(f: &File) -> u32 {
    // SAFETY: As in `inotify_queued`.
    unsafe { ffi::cr_inotify_idr_next(f.as_ptr()) }.max(1)
}

/// The inode number and superblock device of a file's inode.
pub(crate) fn file_ino_dev(f: &File) -> (u64, u32) {
    // SAFETY: `f` is valid and keeps its inode and superblock.
    unsafe {
        let i = (*f.as_ptr()).f_inode;
        ((*i).i_ino, (*(*i).i_sb).s_dev)
    }
}

/// A referenced inode (the reference is dropped with it).
pub(crate) struct InodeRef(ptr::NonNull<bindings::inode>);

impl Drop for InodeRef {
    fn drop(&mut self) {
        // SAFETY: We own a reference.
        unsafe { bindings::iput(self.0.as_ptr()) };
    }
}

impl InodeRef {
    /// Its number and superblock device.
    pub(crate) fn ino_dev(&self) -> (u64, u32) {
        // SAFETY: The inode is referenced and keeps its superblock.
        unsafe {
            let i = self.0.as_ptr();
            ((*i).i_ino, (*(*i).i_sb).s_dev)
        }
    }
}

/// The inode inotify watch `wd` of the inotify file `f` watches.
pub(crate) fn inotify_wd_inode(f: &File, wd: i32) -> Option<InodeRef> {
    // SAFETY: `f` is an inotify file (the caller checked its name); the
    // helper returns a referenced inode or null.
    ptr::NonNull::new(unsafe { ffi::cr_inotify_wd_inode(f.as_ptr(), wd) }).map(InodeRef)
}

/// A path of `inode` as the current task sees it: `d_path` of an alias of
/// it in the mount of the task's working directory, else of its root, if
/// one is of its filesystem, into `buf`. `None` if neither is or the inode
/// has no alias. The caller checks the path leads to the inode.
pub(crate) fn name_inode<'b>(inode: &InodeRef, buf: &'b mut [u8]) -> Result<Option<&'b [u8]>> {
    for root in [false, true] {
        let mut p = bindings::path::default();
        // SAFETY: `p` is a path to fill; it takes references.
        unsafe {
            if root {
                ffi::cr_current_root(&mut p)
            } else {
                ffi::cr_current_pwd(&mut p)
            }
        };
        let r = name_in(&p, inode, buf);
        // SAFETY: `p` holds the references `cr_current_*` took.
        unsafe { bindings::path_put(&p) };
        if let Some((a, b)) = r? {
            return Ok(Some(&buf[a..b]));
        }
    }
    Ok(None)
}

/// As [`name_inode`], in the mount of the file `f` (a mount point opened
/// with `O_PATH`).
pub(crate) fn name_inode_in<'b>(
    f: &File,
    inode: &InodeRef,
    buf: &'b mut [u8],
) -> Result<Option<&'b [u8]>> {
    // SAFETY: `f` is valid and keeps its path.
    let p = unsafe { &*super::ffi::cr_file_user_path(f.as_ptr()) };
    Ok(name_in(p, inode, buf)?.map(|(a, b)| &buf[a..b]))
}

/// `d_path` of an alias of `inode` in the mount of `p`, if that mount is
/// of the inode's filesystem: where in `buf` the path is.
fn name_in(p: &bindings::path, inode: &InodeRef, buf: &mut [u8]) -> Result<Option<(usize, usize)>> {
    let i = inode.0.as_ptr();
    // SAFETY: `p` holds a reference to its mount; the inode is referenced.
    if unsafe { (*p.mnt).mnt_sb != (*i).i_sb } {
        return Ok(None);
    }
    // SAFETY: The inode is referenced; `d_find_alias` returns a referenced
    // dentry or null.
    let dentry = unsafe { bindings::d_find_alias(i) };
    if dentry.is_null() {
        return Ok(None);
    }
    let q = bindings::path { mnt: p.mnt, dentry };
    // SAFETY: `q`'s mount and dentry are referenced (by `p` and by
    // `d_find_alias`); `buf` is valid for its length. Then the dentry's
    // reference is dropped.
    let r = unsafe {
        let r = bindings::d_path(&q, buf.as_mut_ptr().cast(), buf.len() as i32);
        bindings::dput(dentry);
        r
    };
    let n = super::path_in(buf, r.cast())?;
    let a = n.as_ptr() as usize - buf.as_ptr() as usize;
    Ok(Some((a, a + n.len())))
}

/// Opens `path` with `O_PATH | O_NOFOLLOW` and says whether it is inode
/// `ino` of the filesystem `sdev`.
pub(crate) fn path_is_inode(path: &CStr, sdev: u32, ino: u64) -> bool {
    const O_PATH: u32 = 0o10000000;
    const O_NOFOLLOW: u32 = 0o400000;
    match super::filp_open(path, O_PATH | O_NOFOLLOW) {
        Ok(f) => file_ino_dev(&f) == (ino, sdev),
        Err(_) => false,
    }
}

/// How many epoll watches, in every epoll set of the system, watch the open
/// file description `f`: the length of its `f_ep` list.
pub(crate) fn epoll_watch_count(f: &File) -> u32 {
    let fp = f.as_ptr();
    let mut n = 0;
    // SAFETY: `f` is valid. Its `f_lock` guards `f_ep` and the list it
    // heads (fs/eventpoll.c), which is only walked while it is held: every
    // node is the link of an epoll watch, valid while it is linked.
    unsafe {
        ffi::cr_file_lock(fp);
        let head = (*fp).f_ep;
        if !head.is_null() {
            let mut node = (*head).first;
            while !node.is_null() {
                n += 1;
                node = (*node).next;
            }
        }
        ffi::cr_file_unlock(fp);
    }
    n
}

/// Whether some epoll set watches `f` (its `f_ep` list is not empty: the
/// kernel drops the list with the file's last watch).
pub(crate) fn file_watched(f: &File) -> bool {
    // SAFETY: `f` is valid; `f_ep` is only read, as `READ_ONCE` does.
    unsafe { !ptr::read_volatile(&raw const (*f.as_ptr()).f_ep).is_null() }
}
