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

/// How many open file descriptions have `f`'s inode open for writing
/// (`i_writecount`, each counted from its open to its last close; negative
/// while the inode is denied writing, as an executable being run).
pub(crate) fn inode_writers(f: &File) -> i32 {
    // SAFETY: `f` is a valid file, which keeps its inode; the counter is
    // an atomic read as `atomic_read()` reads it.
    unsafe { ptr::read_volatile(&raw const (*(*f.as_ptr()).f_inode).i_writecount.counter) }
}

/// The file's dentry, as an identity, and its reference count: every open
/// file description of it holds one (`d_count()`), and nothing else but
/// transient path walks.
pub(crate) fn dentry_refs(f: &File) -> (u64, i32) {
    let f = f.as_ptr();
    // SAFETY: `f` is a valid file, which keeps its dentry; the count is
    // read under nothing, as `d_count()` callers do for a hint.
    unsafe {
        (
            (*f).__bindgen_anon_1.f_path.dentry as u64,
            super::ffi::cr_file_dentry_count(f),
        )
    }
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
/// `FMODE_WRITER`, in [`FileInfo::fmode`]: the description counts in its
/// inode's [`inode_writers`] (an open for writing through a path; a file
/// made by `memfd_create()` does not).
pub(crate) const FMODE_WRITER: u32 = 1 << 16;

/// How many references the open file description `f` has
/// (`file_count()`): one per descriptor slot and per mapping of it, plus
/// any held for a while by whoever is using it.
pub(crate) fn file_count(f: &File) -> u64 {
    // SAFETY: `f` is valid.
    unsafe { ffi::cr_file_count(f.as_ptr()) as u64 }
}

/// `FMODE_READ` / `FMODE_WRITE` of a file.
pub(crate) fn file_mode(f: &File) -> (bool, bool) {
    let i = file_info(f);
    (i.fmode & FMODE_READ != 0, i.fmode & FMODE_WRITE != 0)
}

// ------------------------------------------------ memfds, deleted files

/// Whether a file is a shmem (tmpfs) file: a memfd or shared memory.
pub(crate) fn file_is_shmem(f: &File) -> bool {
    // SAFETY: `f` is valid.
    unsafe { ffi::cr_file_is_shmem(f.as_ptr()) }
}

/// The seals of a shmem file (`F_GET_SEALS`).
pub(crate) fn shmem_seals(f: &File) -> Result<u32> {
    if !file_is_shmem(f) {
        return Err(EINVAL);
    }
    // SAFETY: `f` is a valid shmem file.
    Ok(unsafe { ffi::cr_shmem_seals(f.as_ptr()) })
}

/// A new open file description of the file `f` opens, with `flags`, as
/// the current task (as an open of `/proc/self/fd/N` makes, without the
/// path walk). With `internal`, a file of the kernel's own, not counted
/// against the open files limit (`kernel_file_open`).
pub(crate) fn file_reopen(f: &File, flags: u32, internal: bool) -> Result<ARef<File>> {
    let f = f.as_ptr();
    // SAFETY: `f` is valid and keeps its path; the current task's
    // credentials are valid while it runs.
    let r = unsafe {
        let path = &raw const (*f).__bindgen_anon_1.f_path;
        let cred = *super::tf!(super::cur(), cred);
        if internal {
            bindings::kernel_file_open(path, flags as i32, cred)
        } else {
            bindings::dentry_open(path, flags as i32, cred)
        }
    };
    let r = err_ptr(r)?;
    // SAFETY: `dentry_open` returned a reference.
    Ok(unsafe { file_from_raw(r) })
}

/// `lseek(f, off, SEEK_DATA)` (`hole`: `SEEK_HOLE`) on a file of the
/// caller's own: `None` past the last data.
pub(crate) fn file_seek_data(f: &File, off: i64, hole: bool) -> Result<Option<i64>> {
    let whence = if hole {
        bindings::SEEK_HOLE
    } else {
        bindings::SEEK_DATA
    };
    // SAFETY: `f` is valid.
    let r = unsafe { bindings::vfs_llseek(f.as_ptr(), off, whence as i32) };
    match errno_result(r) {
        Ok(p) => Ok(Some(p)),
        Err(e) if e == ENXIO => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes to a file at `*pos`, which it advances; the file's own position
/// is left alone.
pub(crate) fn file_write_at(f: &File, buf: &[u8], pos: &mut i64) -> Result<usize> {
    // SAFETY: `f` is valid; `buf` is valid for reads and `pos` for reads
    // and writes.
    let r = unsafe { bindings::kernel_write(f.as_ptr(), buf.as_ptr().cast(), buf.len(), pos) };
    Ok(errno_result(r as i64)? as usize)
}

/// A new memfd inode named `name` (`"memfd:NAME"`, NUL-terminated) of
/// `size` bytes, as `memfd_create()` makes one, open read-write. Its
/// seals are `F_SEAL_SEAL` until [`shmem_set_seals`].
pub(crate) fn memfd_file(name: &CStr, size: u64) -> Result<ARef<File>> {
    // SAFETY: `name` is a valid C string.
    let f = err_ptr(unsafe { ffi::cr_memfd_file(name.as_char_ptr(), size) })?;
    // SAFETY: The file was just created with one reference, ours.
    Ok(unsafe { file_from_raw(f) })
}

/// `F_SEAL_WRITE`.
pub(crate) const F_SEAL_WRITE: u32 = 8;

/// Sets the seals of a shmem file that no one else has yet and that is
/// not mapped (a memfd just made by [`memfd_file`]), as `F_ADD_SEALS`
/// would.
pub(crate) fn shmem_set_seals(f: &File, seals: u32) -> Result {
    if !file_is_shmem(f) {
        return Err(EINVAL);
    }
    if seals & F_SEAL_WRITE != 0 {
        // SAFETY: `f` is a valid shmem file.
        errno_result(unsafe { ffi::cr_mapping_deny_writable(f.as_ptr()) }.into())?;
    }
    // SAFETY: `f` is a valid shmem file whose inode no one else uses.
    unsafe { ffi::cr_shmem_set_seals(f.as_ptr(), seals) };
    Ok(())
}

/// Sets the permission bits of the inode of a file no one else has yet.
pub(crate) fn file_set_mode_bits(f: &File, mode: u32) {
    // SAFETY: `f` is valid and keeps its inode, which no one else uses.
    unsafe {
        let inode = (*f.as_ptr()).f_inode;
        let m = u32::from((*inode).i_mode);
        (*inode).i_mode = ((m & bindings::S_IFMT) | (mode & 0o7777)) as u16;
    }
}

/// Creates `path` (NUL-terminated), which must not exist, as the caller,
/// with exactly the permission bits `mode` (the umask does not apply), and
/// opens it with `flags` (`O_CREAT | O_EXCL | O_NOFOLLOW` added).
pub(crate) fn file_create(path: &CStr, flags: u32, mode: u32) -> Result<ARef<File>> {
    let flags =
        flags | bindings::O_CREAT | bindings::O_EXCL | bindings::O_NOFOLLOW | bindings::O_LARGEFILE;
    // SAFETY: No pointers.
    let umask = unsafe { ffi::cr_current_umask() };
    // SAFETY: No pointers; the umask is put back below.
    unsafe { ffi::cr_current_set_umask(0) };
    // SAFETY: `path` is a valid C string.
    let f =
        unsafe { bindings::filp_open(path.as_char_ptr(), flags as i32, (mode & 0o7777) as u16) };
    // SAFETY: No pointers.
    unsafe { ffi::cr_current_set_umask(umask) };
    let f = err_ptr(f)?;
    // SAFETY: `filp_open` returned a reference.
    Ok(unsafe { file_from_raw(f) })
}

/// Unlinks the name a file was opened by (as `unlink(2)` of that name
/// would, as the caller), if that name still is the file's.
pub(crate) fn file_unlink(f: &File) -> Result {
    let f = f.as_ptr();
    // SAFETY: `f` is valid and keeps its path; the parent dentry is
    // referenced until the `dput`, the mount is held for writing between
    // `mnt_want_write` and `mnt_drop_write`, and `start_removing_dentry`
    // returns the child referenced with the parent locked, which
    // `end_dirop` undoes.
    unsafe {
        let path = &raw const (*f).__bindgen_anon_1.f_path;
        let (mnt, dentry) = ((*path).mnt, (*path).dentry);
        let parent = bindings::dget_parent(dentry);
        let r = errno_result(bindings::mnt_want_write(mnt).into());
        if r.is_ok() {
            let d = ffi::cr_start_removing_dentry(parent, dentry);
            let r2 = match err_ptr(d) {
                Ok(d) => {
                    let r = bindings::vfs_unlink(
                        ffi::cr_file_mnt_idmap(f),
                        (*parent).d_inode,
                        d.as_ptr(),
                        ptr::null_mut(),
                    );
                    bindings::end_dirop(d.as_ptr());
                    errno_result(r.into()).map(|_| ())
                }
                Err(e) => Err(e),
            };
            bindings::mnt_drop_write(mnt);
            bindings::dput(parent);
            return r2;
        }
        bindings::dput(parent);
        r.map(|_| ())
    }
}
