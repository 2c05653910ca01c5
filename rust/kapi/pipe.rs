// SPDX-License-Identifier: GPL-2.0

//! Pipes: their state and buffered bytes read under the pipe's lock without
//! consuming them, and new open file descriptions of an existing pipe.

use super::{err_ptr, file_from_raw};
use core::ffi::c_void;
use kernel::{bindings, fs::File, page::PAGE_SIZE, prelude::*, sync::aref::ARef};

/// `PIPEFS_MAGIC`: the filesystem of anonymous pipes.
const PIPEFS_MAGIC: u64 = bindings::PIPEFS_MAGIC as u64;

mod ffi {
    use core::ffi::{c_int, c_uint, c_ulong, c_void};
    use kernel::bindings;

    // `file` and `pipe_inode_info` are only passed by pointer.
    #[allow(improper_ctypes)]
    extern "C" {
        pub(super) fn cr_file_pipe(f: *mut bindings::file) -> *mut bindings::pipe_inode_info;
        pub(super) fn cr_pipe_state(
            p: *mut bindings::pipe_inode_info,
            readers: *mut c_uint,
            writers: *mut c_uint,
            max_usage: *mut c_uint,
            occupancy: *mut c_uint,
            watch_queue: *mut bool,
        );
        pub(super) fn cr_pipe_buf(
            p: *mut bindings::pipe_inode_info,
            n: c_uint,
            offset: *mut c_uint,
            len: *mut c_uint,
            packet: *mut bool,
        ) -> c_int;
        pub(super) fn cr_pipe_buf_copy(
            p: *mut bindings::pipe_inode_info,
            n: c_uint,
            off: c_uint,
            dst: *mut c_void,
            len: usize,
        );
        pub(super) fn cr_file_reopen(f: *mut bindings::file, flags: c_int) -> *mut bindings::file;
        pub(super) fn cr_file_change_flags(f: *mut bindings::file, set: c_uint, clear: c_uint);
        pub(super) fn cr_file_sb_magic(f: *mut bindings::file) -> c_ulong;
        pub(super) fn pipe_lock(p: *mut bindings::pipe_inode_info);
        pub(super) fn pipe_unlock(p: *mut bindings::pipe_inode_info);
    }
}

/// Whether `f` is an end of an anonymous pipe (not a FIFO).
pub(crate) fn is_anon_pipe(f: &File) -> bool {
    // SAFETY: `f` is valid and keeps its inode and superblock.
    unsafe { ffi::cr_file_sb_magic(f.as_ptr()) as u64 == PIPEFS_MAGIC }
}

/// What a pipe is at one moment.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PipeState {
    /// Open file descriptions that read it / write it, anywhere.
    pub(crate) readers: u32,
    pub(crate) writers: u32,
    /// Capacity in bytes (`F_GETPIPE_SZ`).
    pub(crate) capacity: u32,
    /// Buffers in use.
    pub(crate) nr_bufs: u32,
    /// An `O_NOTIFICATION_PIPE`.
    pub(crate) watch_queue: bool,
}

/// One buffer of a pipe.
#[derive(Clone, Copy)]
pub(crate) struct PipeBuf {
    pub(crate) len: u32,
    /// Written by an `O_DIRECT` (packet) writer.
    pub(crate) packet: bool,
}

/// A pipe held locked (`pipe_lock`), through one of its files.
pub(crate) struct PipeGuard<'a> {
    pipe: *mut bindings::pipe_inode_info,
    _file: &'a File,
}

/// Locks the pipe of `f` (`None`: not a pipe or FIFO).
pub(crate) fn lock(f: &File) -> Option<PipeGuard<'_>> {
    // SAFETY: `f` is valid.
    let pipe = unsafe { ffi::cr_file_pipe(f.as_ptr()) };
    if pipe.is_null() {
        return None;
    }
    // SAFETY: An open pipe or FIFO file keeps its pipe, which `f` holds.
    unsafe { ffi::pipe_lock(pipe) };
    Some(PipeGuard { pipe, _file: f })
}

impl PipeGuard<'_> {
    /// The pipe's identity (never saved).
    pub(crate) fn key(&self) -> u64 {
        self.pipe as u64
    }

    /// Its state.
    pub(crate) fn state(&self) -> PipeState {
        let (mut r, mut w, mut m, mut o, mut wq) = (0, 0, 0, 0, false);
        // SAFETY: Locked (invariant of the guard); all pointers are to locals.
        unsafe { ffi::cr_pipe_state(self.pipe, &mut r, &mut w, &mut m, &mut o, &mut wq) };
        PipeState {
            readers: r,
            writers: w,
            capacity: m.saturating_mul(PAGE_SIZE as u32),
            nr_bufs: o,
            watch_queue: wq,
        }
    }

    /// The `n`-th buffer in read order (`n` below [`PipeState::nr_bufs`]),
    /// made readable; `EIO` for one whose bytes do not lie in one page.
    pub(crate) fn buf(&self, n: u32) -> Result<PipeBuf> {
        if n >= self.state().nr_bufs {
            return Err(EINVAL);
        }
        let (mut off, mut len, mut packet) = (0, 0, false);
        // SAFETY: Locked; `n` is below the occupancy; pointers are to locals.
        let r = unsafe { ffi::cr_pipe_buf(self.pipe, n, &mut off, &mut len, &mut packet) };
        kernel::error::to_result(r)?;
        if off as usize + len as usize > PAGE_SIZE {
            return Err(EIO);
        }
        Ok(PipeBuf { len, packet })
    }

    /// Copies `dst.len()` bytes from byte `at` of buffer `n` (checked
    /// against the buffer as [`PipeGuard::buf`] reads it).
    pub(crate) fn copy(&self, n: u32, at: u32, dst: &mut [u8]) -> Result {
        let b = self.buf(n)?;
        if at as usize + dst.len() > b.len as usize {
            return Err(EINVAL);
        }
        let (mut off, mut len, mut packet) = (0, 0, false);
        // SAFETY: As in `buf`.
        unsafe { ffi::cr_pipe_buf(self.pipe, n, &mut off, &mut len, &mut packet) };
        // SAFETY: Locked; `n` is below the occupancy and `off + at + len`
        // within the buffer, which lies in its page (checked by `buf`);
        // `dst` is valid for writes of its length.
        unsafe {
            ffi::cr_pipe_buf_copy(
                self.pipe,
                n,
                off + at,
                dst.as_mut_ptr().cast::<c_void>(),
                dst.len(),
            )
        };
        Ok(())
    }
}

impl Drop for PipeGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: Locked by `lock`, once.
        unsafe { ffi::pipe_unlock(self.pipe) };
    }
}

/// A new open file description of the pipe or FIFO inode of `f`, opened
/// with `flags` for the caller (no `O_DIRECT`: see [`set_flags`]).
pub(crate) fn reopen(f: &File, flags: u32) -> Result<ARef<File>> {
    // SAFETY: `f` is valid; `dentry_open` takes its own path references.
    let n = err_ptr(unsafe { ffi::cr_file_reopen(f.as_ptr(), flags as i32) })?;
    // SAFETY: `dentry_open` returned a new reference.
    Ok(unsafe { file_from_raw(n) })
}

/// Sets and clears status flags of `f` that open cannot set (`O_DIRECT` of
/// a pipe: packet mode), as `fcntl(F_SETFL)` does for a pipe.
pub(crate) fn set_flags(f: &File, set: u32, clear: u32) {
    // SAFETY: `f` is valid; the accessor takes `f_lock`.
    unsafe { ffi::cr_file_change_flags(f.as_ptr(), set, clear) };
}
