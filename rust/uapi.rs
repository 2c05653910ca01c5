// SPDX-License-Identifier: GPL-2.0

//! The ioctl argument structs of `include/uapi/linux/cr.h`, and the rules of
//! `Documentation/process/botching-up-ioctls.rst` for reading them.
//!
//! Each struct is declared once, `#[repr(C)]` as in the header, with its
//! size and every field offset asserted against `cr.h` at build time, and
//! read from the caller with [`UserSliceReader::read`] (through
//! [`FromBytes`]). A leaf: it imports nothing of this module but the image
//! format.

use crate::format;
use core::mem::{offset_of, size_of};
use kernel::{
    bindings,
    page::PAGE_SIZE,
    prelude::*,
    transmute::{AsBytes, FromBytes},
    uaccess::{UserPtr, UserSlice, UserSliceReader},
};

pub(crate) const CR_IOC_MAGIC: u32 = 0xC1;
pub(crate) const CR_IOC_NR_INFO: u32 = 0x00;
pub(crate) const CR_IOC_NR_CHECKPOINT: u32 = 0x01;
pub(crate) const CR_IOC_NR_RESTART: u32 = 0x02;
pub(crate) const CR_IOC_NR_EPOLL_WATCHES: u32 = 0x03;
pub(crate) const CR_IOC_NR_EPOLL_SETS: u32 = 0x04;

/// `CR_VERSION(major, minor, patch)`.
pub(crate) const MODULE_VERSION: u32 = module_version(0, 1, 0);

/// `CR_VERSION()` of `include/uapi/linux/cr.h`.
const fn module_version(major: u32, minor: u32, patch: u32) -> u32 {
    (major << 16) | (minor << 8) | patch
}

pub(crate) const CR_FEATURE_INFO: u64 = 1 << 0;
pub(crate) const CR_FEATURE_CHECKPOINT: u64 = 1 << 1;
pub(crate) const CR_FEATURE_RESTART: u64 = 1 << 2;
pub(crate) const CR_FEATURE_TREE: u64 = 1 << 3;

/// `CR_CHECKPOINT_KILL`: SIGKILL the target after a complete dump.
pub(crate) const CR_CHECKPOINT_KILL: u32 = 1 << 0;
const CR_CHECKPOINT_KNOWN: u32 = CR_CHECKPOINT_KILL;

/// `CR_RESTART_STOPPED`: the restored task starts SIGSTOP-ed.
pub(crate) const CR_RESTART_STOPPED: u32 = 1 << 0;
/// `CR_RESTART_COORDINATE`: coordinate the tasks of a tree that join.
pub(crate) const CR_RESTART_COORDINATE: u32 = 1 << 1;
/// `CR_RESTART_JOIN`: become a task of the tree being coordinated.
pub(crate) const CR_RESTART_JOIN: u32 = 1 << 2;
/// `CR_RESTART_PREMAP`: with `CR_RESTART_COORDINATE`, each process maps
/// its memory and has it filled before its children are forked, which
/// then share its private pages copy-on-write; with `CR_RESTART_JOIN`, a
/// process's leader does so now.
pub(crate) const CR_RESTART_PREMAP: u32 = 1 << 3;
const CR_RESTART_KNOWN: u32 =
    CR_RESTART_STOPPED | CR_RESTART_COORDINATE | CR_RESTART_JOIN | CR_RESTART_PREMAP;

/// Largest argument struct a caller may pass.
const MAX_ARGS_SIZE: usize = PAGE_SIZE;

/// An extensible argument struct: its first member is `__u32 size`.
///
/// Implementors are `#[repr(C)]` structs of integer fields with no padding
/// (asserted next to each), so every byte pattern is a value and every byte
/// is initialised.
trait Extensible: FromBytes + AsBytes + Default {
    /// Size of the struct's first published version (`*_SIZE_VER0`).
    const SIZE_VER0: usize;
}

/// Reads an extensible struct from the user address `arg`, following the
/// rules at the top of `cr.h`: returns the struct (zero-filled beyond what
/// the caller passed) and the caller's `size`.
///
/// EINVAL if the caller's `size` is below the first version's, E2BIG if it
/// is above a page or if bytes this module does not know are not zero.
fn read_args<T: Extensible>(arg: usize) -> Result<(T, usize)> {
    let size = UserSlice::new(UserPtr::from_addr(arg), size_of::<u32>())
        .reader()
        .read::<u32>()? as usize;
    if size < T::SIZE_VER0 {
        return Err(EINVAL);
    }
    if size > MAX_ARGS_SIZE {
        return Err(E2BIG);
    }
    let n = size_of::<T>();
    let mut r: UserSliceReader = UserSlice::new(UserPtr::from_addr(arg), size.min(n)).reader();
    let args = if size >= n {
        r.read::<T>()?
    } else {
        // An older caller: what it does not pass stays zero.
        let mut t = T::default();
        r.read_slice(&mut t.as_bytes_mut()[..size])?;
        t
    };
    if size > n {
        check_zeroed_user(arg + n, size - n)?;
    }
    Ok((args, size))
}

/// Fails with E2BIG unless the `len` user bytes at `addr` are all zero.
fn check_zeroed_user(addr: usize, len: usize) -> Result {
    // SAFETY: `check_zeroed_user` only reads user memory through the uaccess
    // primitives, which handle any address safely.
    let ret = unsafe { bindings::check_zeroed_user(addr as *const c_void, len) };
    match ret {
        1 => Ok(()),
        0 => Err(E2BIG),
        _ => Err(EFAULT),
    }
}

/// Asserts, at build time, a struct's size and its fields' offsets.
macro_rules! assert_layout {
    ($t:ty, $size:expr, { $($field:ident: $off:expr),* $(,)? }) => {
        const _: () = assert!(size_of::<$t>() == $size);
        $(const _: () = assert!(offset_of!($t, $field) == $off);)*
    };
}

/// `struct cr_info`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CrInfo {
    size: u32,
    flags: u32,
    module_version: u32,
    format_version: u32,
    features: u64,
    page_size: u32,
    pad: u32,
}

assert_layout!(CrInfo, 32, {
    size: 0, flags: 4, module_version: 8, format_version: 12, features: 16, page_size: 24,
    pad: 28,
});

// SAFETY: `CrInfo` is `repr(C)` with integer fields only, so every bit
// pattern is valid, and it has no interior mutability.
unsafe impl FromBytes for CrInfo {}
// SAFETY: `CrInfo` has no padding (its layout is asserted above), so every
// byte is initialised, and it has no interior mutability.
unsafe impl AsBytes for CrInfo {}

impl Extensible for CrInfo {
    /// `CR_INFO_SIZE_VER0`.
    const SIZE_VER0: usize = 32;
}

/// `struct cr_checkpoint_args`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct CheckpointArgs {
    size: u32,
    /// `CR_CHECKPOINT_*` bits, all known.
    pub(crate) flags: u32,
    /// The target, in the caller's pid namespace.
    pub(crate) pid: i32,
    /// Where the image is written.
    pub(crate) fd: i32,
    /// Where a reason is written on failure, or -1.
    pub(crate) logfd: i32,
    pad: u32,
    /// User address of `nr_external_pipes` pipe inode numbers (since
    /// version 1).
    external_pipes: u64,
    nr_external_pipes: u32,
    pad1: u32,
}

assert_layout!(CheckpointArgs, 40, {
    size: 0, flags: 4, pid: 8, fd: 12, logfd: 16, pad: 20, external_pipes: 24,
    nr_external_pipes: 32, pad1: 36,
});

/// `CR_CHECKPOINT_MAX_EXTERNAL`.
const CR_CHECKPOINT_MAX_EXTERNAL: u32 = 1024;

// SAFETY: `CheckpointArgs` is `repr(C)` with integer fields only, so every
// bit pattern is valid, and it has no interior mutability.
unsafe impl FromBytes for CheckpointArgs {}
// SAFETY: `CheckpointArgs` has no padding (its layout is asserted above), so
// every byte is initialised, and it has no interior mutability.
unsafe impl AsBytes for CheckpointArgs {}

impl Extensible for CheckpointArgs {
    /// `CR_CHECKPOINT_ARGS_SIZE_VER0`.
    const SIZE_VER0: usize = 24;
}

impl CheckpointArgs {
    /// Reads and checks the caller's struct: EINVAL for unknown flags or a
    /// non-zero `__pad`.
    pub(crate) fn read(arg: usize) -> Result<Self> {
        let (a, _) = read_args::<Self>(arg)?;
        if a.flags & !CR_CHECKPOINT_KNOWN != 0
            || a.pad != 0
            || a.pad1 != 0
            || a.nr_external_pipes > CR_CHECKPOINT_MAX_EXTERNAL
        {
            return Err(EINVAL);
        }
        Ok(a)
    }

    /// The inode numbers of the pipes the caller lets be external
    /// (`crctl checkpoint --external pipe:[INO]`).
    pub(crate) fn external_pipes(&self) -> Result<KVec<u64>> {
        let n = self.nr_external_pipes as usize;
        let mut v = KVec::with_capacity(n, GFP_KERNEL)?;
        if n == 0 {
            return Ok(v);
        }
        let mut r = UserSlice::new(
            UserPtr::from_addr(self.external_pipes as usize),
            n * size_of::<u64>(),
        )
        .reader();
        for _ in 0..n {
            v.push(r.read::<u64>()?, GFP_KERNEL)?;
        }
        Ok(v)
    }

    /// `CR_CHECKPOINT_KILL`.
    pub(crate) fn kill(&self) -> bool {
        self.flags & CR_CHECKPOINT_KILL != 0
    }
}

/// `struct cr_restart_args`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct RestartArgs {
    size: u32,
    /// `CR_RESTART_*` bits, all known.
    pub(crate) flags: u32,
    /// Where the image is read from.
    pub(crate) fd: i32,
    /// Where a reason is written on failure, or -1.
    pub(crate) logfd: i32,
    /// User address of the bytes of the image the caller already read.
    pub(crate) prefix: u64,
    /// Their length.
    pub(crate) prefix_len: u64,
    /// User address of `nr_objs` [`RestartObj`] (since version 1).
    objs: u64,
    nr_objs: u32,
    pad: u32,
}

assert_layout!(RestartArgs, 48, {
    size: 0, flags: 4, fd: 8, logfd: 12, prefix: 16, prefix_len: 24, objs: 32, nr_objs: 40,
    pad: 44,
});

/// `CR_RESTART_OBJ_PIPE`.
pub(crate) const CR_RESTART_OBJ_PIPE: u32 = 1;
/// `CR_RESTART_OBJ_INHERIT`: the caller's file for an external pipe.
pub(crate) const CR_RESTART_OBJ_INHERIT: u32 = 2;
/// `CR_RESTART_OBJ_MEMFD`.
pub(crate) const CR_RESTART_OBJ_MEMFD: u32 = 3;
/// `CR_RESTART_OBJ_EVENTFD`.
pub(crate) const CR_RESTART_OBJ_EVENTFD: u32 = 4;
/// `CR_RESTART_OBJ_TIMERFD`.
pub(crate) const CR_RESTART_OBJ_TIMERFD: u32 = 5;
/// `CR_RESTART_OBJ_SIGNALFD`.
pub(crate) const CR_RESTART_OBJ_SIGNALFD: u32 = 6;
/// `CR_RESTART_OBJ_INOTIFY`.
pub(crate) const CR_RESTART_OBJ_EPOLL: u32 = 7;
pub(crate) const CR_RESTART_OBJ_INOTIFY: u32 = 8;
/// `CR_RESTART_MAX_OBJS`.
const CR_RESTART_MAX_OBJS: u32 = 65536;

/// `struct cr_restart_obj`: an object the caller made for the image.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct RestartObj {
    /// `CR_RESTART_OBJ_*`.
    pub(crate) kind: u32,
    /// Its id in the image.
    pub(crate) id: u32,
    /// The caller's fd of it.
    pub(crate) fd: i32,
    pad: u32,
}

assert_layout!(RestartObj, 16, { kind: 0, id: 4, fd: 8, pad: 12 });

// SAFETY: `RestartObj` is `repr(C)` with integer fields only, so every bit
// pattern is valid, and it has no interior mutability.
unsafe impl FromBytes for RestartObj {}
// SAFETY: `RestartObj` has no padding (its layout is asserted above), so
// every byte is initialised, and it has no interior mutability.
unsafe impl AsBytes for RestartObj {}

// SAFETY: `RestartArgs` is `repr(C)` with integer fields only, so every bit
// pattern is valid, and it has no interior mutability.
unsafe impl FromBytes for RestartArgs {}
// SAFETY: `RestartArgs` has no padding (its layout is asserted above), so
// every byte is initialised, and it has no interior mutability.
unsafe impl AsBytes for RestartArgs {}

impl Extensible for RestartArgs {
    /// `CR_RESTART_ARGS_SIZE_VER0`.
    const SIZE_VER0: usize = 32;
}

impl RestartArgs {
    /// Reads and checks the caller's struct: EINVAL for unknown flags, a
    /// non-zero `__pad` or more than `CR_RESTART_MAX_OBJS` objects.
    pub(crate) fn read(arg: usize) -> Result<Self> {
        let (a, _) = read_args::<Self>(arg)?;
        if a.flags & !CR_RESTART_KNOWN != 0 || a.pad != 0 || a.nr_objs > CR_RESTART_MAX_OBJS {
            return Err(EINVAL);
        }
        Ok(a)
    }

    /// The objects the caller handed over (EINVAL for a non-zero `__pad`).
    pub(crate) fn objs(&self) -> Result<KVVec<RestartObj>> {
        let n = self.nr_objs as usize;
        let mut v = KVVec::with_capacity(n, GFP_KERNEL_ACCOUNT)?;
        if n == 0 {
            return Ok(v);
        }
        let mut r = UserSlice::new(
            UserPtr::from_addr(self.objs as usize),
            n * size_of::<RestartObj>(),
        )
        .reader();
        for _ in 0..n {
            let o = r.read::<RestartObj>()?;
            if o.pad != 0 {
                return Err(EINVAL);
            }
            v.push(o, GFP_KERNEL_ACCOUNT)?;
        }
        Ok(v)
    }

    /// `CR_RESTART_STOPPED`.
    pub(crate) fn stopped(&self) -> bool {
        self.flags & CR_RESTART_STOPPED != 0
    }

    /// `CR_RESTART_COORDINATE`.
    pub(crate) fn coordinate(&self) -> bool {
        self.flags & CR_RESTART_COORDINATE != 0
    }

    /// `CR_RESTART_JOIN`.
    pub(crate) fn join(&self) -> bool {
        self.flags & CR_RESTART_JOIN != 0
    }

    /// `CR_RESTART_PREMAP`.
    pub(crate) fn premap(&self) -> bool {
        self.flags & CR_RESTART_PREMAP != 0
    }
}

/// `CR_IOC_INFO`: reports the module version, image format version and
/// features.
pub(crate) fn info(arg: usize) -> Result<isize> {
    let (args, size) = read_args::<CrInfo>(arg)?;
    if args.flags != 0 || args.pad != 0 {
        return Err(EINVAL);
    }
    let out = CrInfo {
        size: size_of::<CrInfo>() as u32,
        flags: 0,
        module_version: MODULE_VERSION,
        format_version: format::FORMAT_VERSION,
        features: features(),
        page_size: PAGE_SIZE as u32,
        pad: 0,
    };
    // Write back only what the caller's struct can hold; a bigger struct
    // keeps its (zero) tail, and its `size` field tells what the module knew.
    let n = size.min(size_of::<CrInfo>());
    UserSlice::new(UserPtr::from_addr(arg), n)
        .writer()
        .write_slice(&out.as_bytes()[..n])?;
    Ok(0)
}

/// The `CR_FEATURE_*` bits this build supports.
pub(crate) fn features() -> u64 {
    CR_FEATURE_INFO | CR_FEATURE_CHECKPOINT | CR_FEATURE_RESTART | CR_FEATURE_TREE
}

/// `struct cr_epoll_args`: the argument of `CR_IOC_EPOLL_WATCHES` (an
/// array of `struct cr_epoll_watch` of `nr` elements to fill) and of
/// `CR_IOC_EPOLL_SETS` (an array of `nr` `struct cr_restart_obj`).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct EpollArgs {
    size: u32,
    pub(crate) nr: u32,
    ptr: u64,
}

assert_layout!(EpollArgs, 16, { size: 0, nr: 4, ptr: 8 });

// SAFETY: `EpollArgs` is `repr(C)` with integer fields only, so every bit
// pattern is valid, and it has no interior mutability.
unsafe impl FromBytes for EpollArgs {}
// SAFETY: `EpollArgs` has no padding (its layout is asserted above), so
// every byte is initialised, and it has no interior mutability.
unsafe impl AsBytes for EpollArgs {}

impl Extensible for EpollArgs {
    const SIZE_VER0: usize = 16;
}

/// `struct cr_epoll_watch`: one watch crctl's helper adds.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct EpollWatchOut {
    set: u32,
    tfd: u32,
    events: u32,
    fd: i32,
    target_set: u32,
    pad: u32,
    data: u64,
}

assert_layout!(EpollWatchOut, 32, {
    set: 0, tfd: 4, events: 8, fd: 12, target_set: 16, pad: 20, data: 24,
});

// SAFETY: `EpollWatchOut` is `repr(C)` with integer fields only, so every
// bit pattern is valid, and it has no interior mutability.
unsafe impl FromBytes for EpollWatchOut {}
// SAFETY: `EpollWatchOut` has no padding (its layout is asserted above),
// so every byte is initialised, and it has no interior mutability.
unsafe impl AsBytes for EpollWatchOut {}

impl EpollWatchOut {
    pub(crate) fn new(
        set: u32,
        tfd: u32,
        events: u32,
        fd: i32,
        target_set: u32,
        data: u64,
    ) -> Self {
        EpollWatchOut {
            set,
            tfd,
            events,
            fd,
            target_set,
            pad: 0,
            data,
        }
    }
}

/// Most elements of a `struct cr_epoll_args` array.
const CR_EPOLL_MAX: u32 = 1 << 20;

impl EpollArgs {
    pub(crate) fn read(arg: usize) -> Result<Self> {
        let (a, _) = read_args::<Self>(arg)?;
        if a.nr > CR_EPOLL_MAX {
            return Err(EINVAL);
        }
        Ok(a)
    }

    /// Writes `w` to the caller's array (`ENOSPC` if it is too short).
    pub(crate) fn write_watches(&self, w: &[EpollWatchOut]) -> Result {
        if w.len() > self.nr as usize {
            return Err(ENOSPC);
        }
        let mut out = UserSlice::new(
            UserPtr::from_addr(self.ptr as usize),
            core::mem::size_of_val(w),
        )
        .writer();
        for x in w {
            out.write(x)?;
        }
        Ok(())
    }

    /// The caller's restart objects.
    pub(crate) fn objs(&self) -> Result<KVVec<RestartObj>> {
        let n = self.nr as usize;
        let mut v = KVVec::with_capacity(n, GFP_KERNEL_ACCOUNT)?;
        let mut r = UserSlice::new(
            UserPtr::from_addr(self.ptr as usize),
            n * size_of::<RestartObj>(),
        )
        .reader();
        for _ in 0..n {
            let o = r.read::<RestartObj>()?;
            if o.pad != 0 {
                return Err(EINVAL);
            }
            v.push(o, GFP_KERNEL_ACCOUNT)?;
        }
        Ok(v)
    }
}
