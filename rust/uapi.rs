// SPDX-License-Identifier: GPL-2.0

//! The ioctl argument structs of `include/uapi/linux/cr.h`, and the rules of
//! `Documentation/process/botching-up-ioctls.rst` for reading them.
//!
//! Structs are decoded field by field from a byte buffer, so no layout is
//! trusted: the byte offsets below are the ABI, checked against the C header
//! by the selftests (which are compiled against it).

use crate::format;
use kernel::{
    bindings,
    page::PAGE_SIZE,
    prelude::*,
    uaccess::{UserPtr, UserSlice},
};

pub(crate) const CR_IOC_MAGIC: u32 = 0xC1;
pub(crate) const CR_IOC_NR_INFO: u32 = 0x00;
pub(crate) const CR_IOC_NR_CHECKPOINT: u32 = 0x01;
pub(crate) const CR_IOC_NR_RESTART: u32 = 0x02;

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

/// Largest argument struct a caller may pass.
const MAX_ARGS_SIZE: usize = PAGE_SIZE;

/// The known part of an extensible argument struct, as read from the caller.
///
/// # Invariants
///
/// `buf[..N]` holds the caller's first `min(size, N)` bytes, zero-filled
/// beyond; `size` is the caller's `size` field, between the struct's first
/// published size and [`MAX_ARGS_SIZE`].
pub(crate) struct Args<const N: usize> {
    buf: [u8; N],
    size: usize,
}

impl<const N: usize> Args<N> {
    /// Reads an extensible struct whose first version is `ver0` bytes and
    /// whose current version is `N` bytes from the user address `arg`.
    ///
    /// EINVAL if the caller's `size` is below `ver0`, E2BIG if it is above a
    /// page or if bytes this module does not know are not zero.
    pub(crate) fn read(arg: usize, ver0: usize) -> Result<Self> {
        let mut size_bytes = [0u8; 4];
        UserSlice::new(UserPtr::from_addr(arg), 4)
            .reader()
            .read_slice(&mut size_bytes)?;
        let size = u32::from_ne_bytes(size_bytes) as usize;
        if size < ver0 {
            return Err(EINVAL);
        }
        if size > MAX_ARGS_SIZE {
            return Err(E2BIG);
        }
        let mut buf = [0u8; N];
        let known = size.min(N);
        UserSlice::new(UserPtr::from_addr(arg), known)
            .reader()
            .read_slice(&mut buf[..known])?;
        if size > N {
            check_zeroed_user(arg + N, size - N)?;
        }
        Ok(Self { buf, size })
    }

    pub(crate) fn i32_at(&self, off: usize) -> i32 {
        self.u32_at(off) as i32
    }

    pub(crate) fn u64_at(&self, off: usize) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.buf[off..off + 8]);
        u64::from_ne_bytes(b)
    }

    /// The caller's `size` field.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    pub(crate) fn u32_at(&self, off: usize) -> u32 {
        let mut b = [0u8; 4];
        b.copy_from_slice(&self.buf[off..off + 4]);
        u32::from_ne_bytes(b)
    }
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

/// `struct cr_info`.
mod info_layout {
    pub(super) const SIZE_VER0: usize = 32;
    pub(super) const FLAGS: usize = 4;
    pub(super) const MODULE_VERSION: usize = 8;
    pub(super) const FORMAT_VERSION: usize = 12;
    pub(super) const FEATURES: usize = 16;
    pub(super) const PAGE_SIZE: usize = 24;
    pub(super) const PAD: usize = 28;
}

/// `CR_IOC_INFO`: reports the module version, image format version and
/// features.
pub(crate) fn info(arg: usize) -> Result<isize> {
    use info_layout as l;
    let args = Args::<{ l::SIZE_VER0 }>::read(arg, l::SIZE_VER0)?;
    if args.u32_at(l::FLAGS) != 0 || args.u32_at(l::PAD) != 0 {
        return Err(EINVAL);
    }
    let mut out = [0u8; l::SIZE_VER0];
    out[0..4].copy_from_slice(&(l::SIZE_VER0 as u32).to_ne_bytes());
    out[l::MODULE_VERSION..l::MODULE_VERSION + 4].copy_from_slice(&MODULE_VERSION.to_ne_bytes());
    out[l::FORMAT_VERSION..l::FORMAT_VERSION + 4]
        .copy_from_slice(&format::FORMAT_VERSION.to_ne_bytes());
    out[l::FEATURES..l::FEATURES + 8].copy_from_slice(&features().to_ne_bytes());
    out[l::PAGE_SIZE..l::PAGE_SIZE + 4].copy_from_slice(&(PAGE_SIZE as u32).to_ne_bytes());
    // Write back only what the caller's struct can hold; a bigger struct
    // keeps its (zero) tail, and its `size` field tells what the module knew.
    let n = args.size().min(l::SIZE_VER0);
    UserSlice::new(UserPtr::from_addr(arg), n)
        .writer()
        .write_slice(&out[..n])?;
    Ok(0)
}

/// The `CR_FEATURE_*` bits this build supports.
pub(crate) fn features() -> u64 {
    CR_FEATURE_INFO | CR_FEATURE_CHECKPOINT | CR_FEATURE_RESTART | CR_FEATURE_TREE
}
