// SPDX-License-Identifier: GPL-2.0

//! The memfds of an image, which crctl makes for the kernel with
//! `memfd_create` (so the caller's LSM labels them as they label any memfd
//! it makes): one per record, with its name, `MFD_ALLOW_SEALING` and its
//! size, empty, handed over to `CR_IOC_RESTART` as `struct cr_restart_obj`
//! of kind `CR_RESTART_OBJ_MEMFD`. The kernel checks each against its
//! record, fills it, and sets its mode and seals.

use crate::error::{ErrnoText, Error, Result};
use crate::uapi;
use rustix::io::Errno;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

/// A memfd record of the image: its id, name and size.
pub struct MemfdRec {
    pub id: u32,
    pub name: Vec<u8>,
    pub size: u64,
}

/// The memfds made for an image, and the array the kernel reads.
#[derive(Default)]
pub struct Memfds {
    /// Kept open until the kernel takes them.
    _fds: Vec<OwnedFd>,
    pub objs: Vec<uapi::CrRestartObj>,
}

fn last_errno() -> Errno {
    Errno::from_raw_os_error(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

fn make_memfd(r: &MemfdRec) -> rustix::io::Result<OwnedFd> {
    let name = CString::new(r.name.clone()).map_err(|_| Errno::INVAL)?;
    // SAFETY: `name` is a valid C string.
    let fd =
        unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(last_errno());
    }
    // SAFETY: A new fd, owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let size = i64::try_from(r.size).map_err(|_| Errno::FBIG)?;
    // SAFETY: `fd` is open.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), size) } != 0 {
        return Err(last_errno());
    }
    Ok(fd)
}

impl Memfds {
    /// Makes one memfd per record.
    pub fn make(recs: &[MemfdRec]) -> Result<Self> {
        let mut m = Memfds::default();
        for r in recs {
            let fd = make_memfd(r).map_err(|errno| Error::Evfd {
                what: "memfd",
                id: r.id,
                errno: ErrnoText(errno),
            })?;
            m.objs.push(uapi::CrRestartObj {
                kind: uapi::CR_RESTART_OBJ_MEMFD,
                id: r.id,
                fd: fd.as_fd().as_raw_fd(),
                pad: 0,
            });
            m._fds.push(fd);
        }
        Ok(m)
    }
}
