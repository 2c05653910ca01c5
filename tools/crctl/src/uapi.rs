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
}

const _: () = assert!(core::mem::size_of::<CrInfo>() == 32);
const _: () = assert!(core::mem::size_of::<CrCheckpointArgs>() == 24);
const _: () = assert!(core::mem::size_of::<CrRestartArgs>() == 32);

const fn ioc(dir: u32, nr: u32, size: usize) -> libc::c_ulong {
    ((dir << 30) | ((size as u32) << 16) | (CR_IOC_MAGIC << 8) | nr) as libc::c_ulong
}
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

pub const CR_IOC_INFO: libc::c_ulong = ioc(IOC_READ | IOC_WRITE, 0, 32);
pub const CR_IOC_CHECKPOINT: libc::c_ulong = ioc(IOC_WRITE, 1, 24);
pub const CR_IOC_RESTART: libc::c_ulong = ioc(IOC_WRITE, 2, 32);

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
