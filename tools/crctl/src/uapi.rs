// SPDX-License-Identifier: GPL-2.0

//! Mirror of `include/uapi/linux/cr.h` for crctl.
//!
//! The layouts are `#[repr(C)]` and their sizes are asserted against the
//! header's `*_SIZE_VER0` constants below.

pub const CR_DEVICE: &str = "/dev/cr";
pub const CR_IOC_MAGIC: u32 = 0xC1;

pub const CR_FEATURE_INFO: u64 = 1 << 0;
pub const CR_FEATURE_CHECKPOINT: u64 = 1 << 1;
pub const CR_FEATURE_RESTART: u64 = 1 << 2;

pub const CR_CHECKPOINT_KILL: u32 = 1 << 0;
pub const CR_RESTART_STOPPED: u32 = 1 << 0;
pub const CR_RESTART_COORDINATE: u32 = 1 << 1;
pub const CR_RESTART_JOIN: u32 = 1 << 2;
/// Each process maps its memory and has it filled before its children are
/// forked (with `CR_RESTART_JOIN`: now), so that they share its private
/// pages copy-on-write.
pub const CR_RESTART_PREMAP: u32 = 1 << 3;
pub const CR_FEATURE_TREE: u64 = 1 << 3;

#[repr(C)]
#[derive(Default, Debug, Clone, Copy)]
pub struct CrInfo {
    pub size: u32,
    pub flags: u32,
    pub module_version: u32,
    pub format_version: u32,
    pub features: u64,
    pub page_size: u32,
    pub pad: u32,
}

#[repr(C)]
#[derive(Default, Debug, Clone, Copy)]
pub struct CrCheckpointArgs {
    pub size: u32,
    pub flags: u32,
    pub pid: i32,
    pub fd: i32,
    pub logfd: i32,
    pub pad: u32,
    /// Since `CR_CHECKPOINT_ARGS_SIZE_VER1`: pipe inode numbers that may be
    /// external (`--external pipe:[INO]`).
    pub external_pipes: u64,
    pub nr_external_pipes: u32,
    pub pad1: u32,
}

#[repr(C)]
#[derive(Default, Debug, Clone, Copy)]
pub struct CrRestartArgs {
    pub size: u32,
    pub flags: u32,
    pub fd: i32,
    pub logfd: i32,
    pub prefix: u64,
    pub prefix_len: u64,
    /// Since `CR_RESTART_ARGS_SIZE_VER1`: `struct cr_restart_obj` array.
    pub objs: u64,
    pub nr_objs: u32,
    pub pad: u32,
}

/// `CR_RESTART_OBJ_PIPE`.
pub const CR_RESTART_OBJ_PIPE: u32 = 1;
/// `CR_RESTART_OBJ_INHERIT`: the caller's file for an external pipe.
pub const CR_RESTART_OBJ_INHERIT: u32 = 2;
/// `CR_RESTART_OBJ_MEMFD`: an empty memfd of the image's memfd's name and size.
pub const CR_RESTART_OBJ_MEMFD: u32 = 3;
/// `CR_RESTART_OBJ_EVENTFD`.
pub const CR_RESTART_OBJ_EVENTFD: u32 = 4;
/// `CR_RESTART_OBJ_TIMERFD`.
pub const CR_RESTART_OBJ_TIMERFD: u32 = 5;
/// `CR_RESTART_OBJ_SIGNALFD`.
pub const CR_RESTART_OBJ_SIGNALFD: u32 = 6;
/// `CR_RESTART_OBJ_EPOLL` (only in `CR_IOC_EPOLL_SETS`).
pub const CR_RESTART_OBJ_EPOLL: u32 = 7;
/// `CR_RESTART_OBJ_INOTIFY`.
pub const CR_RESTART_OBJ_INOTIFY: u32 = 8;

/// `struct cr_epoll_watch`.
#[repr(C)]
#[derive(Default, Debug, Clone, Copy)]
pub struct CrEpollWatch {
    pub set: u32,
    pub tfd: u32,
    pub events: u32,
    pub fd: i32,
    pub target_set: u32,
    pub pad: u32,
    pub data: u64,
}

/// `struct cr_epoll_args`.
#[repr(C)]
#[derive(Default, Debug, Clone, Copy)]
pub struct CrEpollArgs {
    pub size: u32,
    pub nr: u32,
    pub ptr: u64,
}

const _: () = assert!(core::mem::size_of::<CrEpollWatch>() == 32);
const _: () = assert!(core::mem::size_of::<CrEpollArgs>() == 16);

/// `_IOWR(CR_IOC_MAGIC, 0x03, struct cr_epoll_args)`.
pub const CR_IOC_EPOLL_WATCHES: Opcode = opcode::read_write::<CrEpollArgs>(CR_IOC_MAGIC as u8, 3);
/// `_IOW(CR_IOC_MAGIC, 0x04, struct cr_epoll_args)`.
pub const CR_IOC_EPOLL_SETS: Opcode = opcode::write::<CrEpollArgs>(CR_IOC_MAGIC as u8, 4);

/// `CR_IOC_EPOLL_WATCHES`: fills `buf` with the watches to add (the
/// kernel installs each watched file in this process): how many.
pub fn epoll_watches(dev: BorrowedFd<'_>, buf: &mut [CrEpollWatch]) -> Result<usize, Errno> {
    let mut a = CrEpollArgs {
        size: core::mem::size_of::<CrEpollArgs>() as u32,
        nr: buf.len() as u32,
        ptr: buf.as_mut_ptr() as u64,
    };
    // SAFETY: `CrEpollArgs` has the layout of `struct cr_epoll_args`; the
    // kernel writes at most `nr` elements to `buf`.
    let n = unsafe {
        libc::ioctl(
            dev.as_raw_fd(),
            CR_IOC_EPOLL_WATCHES as _,
            &mut a as *mut CrEpollArgs,
        )
    };
    if n < 0 {
        return Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO));
    }
    Ok(n as usize)
}

/// `CR_IOC_EPOLL_SETS`: hands the sets made over.
pub fn epoll_sets(dev: BorrowedFd<'_>, objs: &[CrRestartObj]) -> Result<(), Errno> {
    let a = CrEpollArgs {
        size: core::mem::size_of::<CrEpollArgs>() as u32,
        nr: objs.len() as u32,
        ptr: objs.as_ptr() as u64,
    };
    // SAFETY: `CrEpollArgs` has the layout of `struct cr_epoll_args`; the
    // kernel reads `nr` elements of `objs`.
    unsafe { rustix::ioctl::ioctl(dev, Setter::<CR_IOC_EPOLL_SETS, _>::new(a)) }
}

/// `struct cr_restart_obj`.
#[repr(C)]
#[derive(Default, Debug, Clone, Copy)]
pub struct CrRestartObj {
    pub kind: u32,
    pub id: u32,
    pub fd: i32,
    pub pad: u32,
}

const _: () = assert!(core::mem::size_of::<CrInfo>() == 32);
const _: () = assert!(core::mem::size_of::<CrCheckpointArgs>() == 40);
const _: () = assert!(core::mem::size_of::<CrRestartArgs>() == 48);
const _: () = assert!(core::mem::size_of::<CrRestartObj>() == 16);

use rustix::io::Errno;
use rustix::ioctl::{opcode, Opcode, Setter, Updater};
use std::os::fd::{AsRawFd, BorrowedFd};

/// `_IOWR(CR_IOC_MAGIC, 0x00, struct cr_info)`.
pub const CR_IOC_INFO: Opcode = opcode::read_write::<CrInfo>(CR_IOC_MAGIC as u8, 0);
/// `_IOW(CR_IOC_MAGIC, 0x01, struct cr_checkpoint_args)`.
/// It keeps the size of the first version of the struct (24), as `cr.h` does.
pub const CR_IOC_CHECKPOINT: Opcode =
    opcode::from_components(rustix::ioctl::Direction::Write, CR_IOC_MAGIC as u8, 1, 24);
/// `_IOW(CR_IOC_MAGIC, 0x02, struct cr_restart_args)`.
/// It keeps the size of the first version of the struct (32), as `cr.h` does.
pub const CR_IOC_RESTART: Opcode =
    opcode::from_components(rustix::ioctl::Direction::Write, CR_IOC_MAGIC as u8, 2, 32);

/// `CR_IOC_INFO` on `/dev/cr`: fills in `info`, whose `size` says how much
/// the caller has room for.
pub fn info(dev: BorrowedFd<'_>, info: &mut CrInfo) -> Result<(), Errno> {
    // SAFETY: `CrInfo` has the layout of `struct cr_info` (size asserted
    // above), which CR_IOC_INFO reads and writes.
    unsafe { rustix::ioctl::ioctl(dev, Updater::<CR_IOC_INFO, CrInfo>::new(info)) }
}

/// `CR_IOC_CHECKPOINT` on `/dev/cr`.
pub fn checkpoint(dev: BorrowedFd<'_>, a: &CrCheckpointArgs) -> Result<(), Errno> {
    // SAFETY: `CrCheckpointArgs` has the layout of `struct
    // cr_checkpoint_args` (size asserted above), which CR_IOC_CHECKPOINT
    // only reads.
    unsafe { rustix::ioctl::ioctl(dev, Setter::<CR_IOC_CHECKPOINT, _>::new(*a)) }
}

/// `CR_IOC_RESTART` on `/dev/cr`. On success of a restore (not a
/// coordination) it does not return: the calling task is the restored one.
///
/// A raw system call, with no C library state: the threads that join a
/// restart call it (see `tree`).
pub fn restart(dev: BorrowedFd<'_>, a: &CrRestartArgs) -> Result<(), Errno> {
    // SAFETY: `CrRestartArgs` has the layout of `struct cr_restart_args`
    // (size asserted above), which CR_IOC_RESTART only reads; `prefix` and
    // `prefix_len` are the caller's, and the kernel checks the range.
    unsafe { rustix::ioctl::ioctl(dev, Setter::<CR_IOC_RESTART, _>::new(*a)) }
}

/// Decodes `CR_VERSION()`.
pub fn version_string(v: u32) -> String {
    format!("{}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff)
}

/// Names of the feature bits, for `crctl info-module`.
pub fn feature_names(f: u64) -> Vec<&'static str> {
    let mut v = Vec::new();
    for (bit, name) in [
        (CR_FEATURE_INFO, "info"),
        (CR_FEATURE_CHECKPOINT, "checkpoint"),
        (CR_FEATURE_RESTART, "restart"),
        (CR_FEATURE_TREE, "tree"),
    ] {
        if f & bit != 0 {
            v.push(name);
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_match_the_c_header() {
        // _IOWR(0xC1, 0x00, 32 bytes), _IOW(0xC1, 0x01, 24), _IOW(0xC1, 0x02, 32)
        assert_eq!(CR_IOC_INFO, 0xc020_c100);
        assert_eq!(CR_IOC_CHECKPOINT, 0x4018_c101);
        assert_eq!(CR_IOC_RESTART, 0x4020_c102);
    }

    #[test]
    fn versions_and_features_decode() {
        assert_eq!(version_string((1 << 16) | (2 << 8) | 3), "1.2.3");
        assert_eq!(feature_names(0b101), vec!["info", "restart"]);
    }
}
