// SPDX-License-Identifier: GPL-2.0

//! Files: what kind of object a file is, its path, and kernel reads and
//! writes.

use super::{err_ptr, errno_result, ffi, file_from_raw, path_in};
use core::ptr;
use kernel::{bindings, fs::File, prelude::*, sync::aref::ARef};

/// What kind of object a file is, from its inode and socket.
#[derive(Default, Clone, Copy)]
pub(crate) struct FileInfo {
    /// `i_mode`.
    pub(crate) mode: u32,
    pub(crate) rdev_major: u32,
    pub(crate) rdev_minor: u32,
    pub(crate) f_flags: u32,
    pub(crate) pos: i64,
    /// `f_mode` (see [`FMODE_READ`], [`FMODE_WRITE`]).
    pub(crate) fmode: u32,
    pub(crate) nlink: u32,
    /// `sk_family` of a socket, or -1.
    pub(crate) sock_family: i32,
    /// Type of a socket, or -1.
    pub(crate) sock_type: i32,
    /// Identity of the inode (its address), never saved.
    pub(crate) inode: u64,
    /// `i_size`.
    pub(crate) size: i64,
}

/// `MINORBITS` of a `dev_t`.
const MINORBITS: u32 = 20;

/// What kind of object a file is, from its inode and socket.
pub(crate) fn file_info(f: &File) -> FileInfo {
    let f = f.as_ptr();
    // SAFETY: `f` is a valid file, which keeps its inode and socket.
    unsafe {
        let inode = (*f).f_inode;
        let rdev = (*inode).i_rdev;
        let mut i = FileInfo {
            mode: (*inode).i_mode.into(),
            rdev_major: rdev >> MINORBITS,
            rdev_minor: rdev & ((1 << MINORBITS) - 1),
            f_flags: (*f).f_flags,
            pos: (*f).f_pos,
            fmode: (*f).f_mode,
            nlink: ptr::read_volatile(&raw const (*inode).__bindgen_anon_1.i_nlink),
            sock_family: -1,
            sock_type: -1,
            inode: inode as u64,
            // `i_size_read()` on a 64-bit kernel.
            size: ptr::read_volatile(&raw const (*inode).i_size),
        };
        let sock = bindings::sock_from_file(f);
        if !sock.is_null() && !(*sock).sk.is_null() {
            i.sock_family = ffi::cr_sock_family(sock);
            i.sock_type = (*sock).type_.into();
        }
        i
    }
}

/// `d_path` of a file (the path user space sees: for overlayfs, not the
/// backing file's), into `buf`.
pub(crate) fn file_path<'b>(f: &File, buf: &'b mut [u8]) -> Result<&'b [u8]> {
    // SAFETY: `f` is valid; `buf` is valid for writes of its length.
    let p = unsafe {
        bindings::d_path(
            ffi::cr_file_user_path(f.as_ptr()),
            buf.as_mut_ptr().cast(),
            buf.len() as i32,
        )
    };
    path_in(buf, p.cast())
}

/// The dentry name of a file (anon inodes: "inotify", "[eventfd]"...);
/// empty if it does not fit in `buf` with its NUL.
pub(crate) fn file_dname<'b>(f: &File, buf: &'b mut [u8]) -> &'b [u8] {
    // SAFETY: `f` is valid and keeps its dentry, whose name is a C string.
    let name = unsafe { CStr::from_char_ptr(ffi::cr_file_dname(f.as_ptr()).cast()) }.to_bytes();
    if name.len() >= buf.len() {
        return &buf[..0];
    }
    buf[..name.len()].copy_from_slice(name);
    buf[name.len()] = 0;
    &buf[..name.len()]
}

/// Opens `path` (NUL-terminated) with `flags`, as the caller.
pub(crate) fn filp_open(path: &CStr, flags: u32) -> Result<ARef<File>> {
    let flags = (flags | bindings::O_LARGEFILE) as i32;
    // SAFETY: `path` is a valid C string.
    let f = err_ptr(unsafe { bindings::filp_open(path.as_char_ptr(), flags, 0) })?;
    // SAFETY: `filp_open` returned a reference.
    Ok(unsafe { file_from_raw(f) })
}

/// A new shared anonymous memory object of `size` bytes.
pub(crate) fn shmem_file(size: u64) -> Result<ARef<File>> {
    // SAFETY: No pointers in; a referenced file or an error out.
    let f = err_ptr(unsafe { ffi::cr_shmem_file(size) })?;
    // SAFETY: The file was just created with one reference, ours.
    Ok(unsafe { file_from_raw(f) })
}

/// Sets a file's position.
pub(crate) fn file_seek(f: &File, pos: i64) -> Result {
    // SAFETY: `f` is valid.
    let r = unsafe { bindings::vfs_llseek(f.as_ptr(), pos, bindings::SEEK_SET as i32) };
    errno_result(r).map(|_| ())
}

/// Reads from a file at its position (streams: no position).
pub(crate) fn file_read(f: &File, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: `f` is valid; `buf` is valid for writes.
    let r = unsafe { ffi::cr_file_read(f.as_ptr(), buf.as_mut_ptr(), buf.len()) };
    Ok(errno_result(r as i64)? as usize)
}

/// Reads from a regular file at `*pos`, which it advances; the file's own
/// position is left alone.
pub(crate) fn file_read_at(f: &File, buf: &mut [u8], pos: &mut i64) -> Result<usize> {
    // SAFETY: `f` is valid; `buf` is valid for writes and `pos` for reads
    // and writes.
    let r = unsafe { bindings::kernel_read(f.as_ptr(), buf.as_mut_ptr().cast(), buf.len(), pos) };
    Ok(errno_result(r as i64)? as usize)
}

/// Writes to a file at its position (streams: no position).
pub(crate) fn file_write(f: &File, buf: &[u8]) -> Result<usize> {
    // SAFETY: `f` is valid; `buf` is valid for reads.
    let r = unsafe { ffi::cr_file_write(f.as_ptr(), buf.as_ptr(), buf.len()) };
    Ok(errno_result(r as i64)? as usize)
}

/// Looks up `fd` in the caller's file table.
pub(crate) fn fget(fd: i32) -> Result<ARef<File>> {
    let fd = u32::try_from(fd).map_err(|_| EBADF)?;
    super::current::fget(fd).map(|(f, _)| f).ok_or(EBADF)
}

/// `FMODE_READ`, in [`FileInfo::fmode`].
pub(crate) const FMODE_READ: u32 = 1;
/// `FMODE_WRITE`, in [`FileInfo::fmode`].
pub(crate) const FMODE_WRITE: u32 = 2;

/// `FMODE_READ` / `FMODE_WRITE` of a file.
pub(crate) fn file_mode(f: &File) -> (bool, bool) {
    let i = file_info(f);
    (i.fmode & FMODE_READ != 0, i.fmode & FMODE_WRITE != 0)
}
