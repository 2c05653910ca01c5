// SPDX-License-Identifier: GPL-2.0

//! The inotify instances of an image, which crctl makes for the kernel (a
//! module cannot add an inotify watch): one per inotify record, with its
//! watches added again by path (`IN_DONT_FOLLOW`), each at its recorded
//! watch descriptor, handed over to `CR_IOC_RESTART` as
//! `struct cr_restart_obj` (`CR_RESTART_OBJ_INOTIFY`). The kernel checks
//! each against the image and takes it.
//!
//! The kernel gives a new watch the lowest free descriptor at or above its
//! cursor, which only moves up: a descriptor to skip (a watch removed
//! before the checkpoint) is used up by a throw-away watch on a memfd of
//! crctl's, removed at once; so is every one up to the instance's next
//! watch descriptor. Those removals queue `IN_IGNORED` events, read away
//! before the handover.

use crate::error::{ErrnoText, Error, Result};
use crate::uapi;
use rustix::fs::inotify::{self, CreateFlags, WatchFlags};
use rustix::fs::{memfd_create, MemfdFlags};
use rustix::io::Errno;
use std::os::fd::{AsRawFd, OwnedFd};

/// `IN_DONT_FOLLOW`.
const IN_DONT_FOLLOW: u32 = 0x0200_0000;

/// An inotify record of the image and its watch records.
#[derive(Default, Debug, Clone)]
pub struct InotifyRec {
    pub id: u32,
    pub next_wd: u32,
    /// `(wd, mask, path)`, in increasing `wd` order.
    pub watches: Vec<(u32, u32, Vec<u8>)>,
}

/// The instances made for an image, and the array the kernel reads.
#[derive(Default)]
pub struct Inotifies {
    /// Kept open until the kernel takes them.
    _fds: Vec<OwnedFd>,
    pub objs: Vec<uapi::CrRestartObj>,
}

impl Inotifies {
    /// Makes one instance per record.
    pub fn make(recs: &[InotifyRec]) -> Result<Self> {
        let mut s = Inotifies::default();
        if recs.is_empty() {
            return Ok(s);
        }
        let gap =
            memfd_create("crctl-inotify-gap", MemfdFlags::CLOEXEC).map_err(|e| Error::Inotify {
                id: 0,
                what: "cannot make its memfd".into(),
                errno: ErrnoText(e),
            })?;
        let gap_path = format!("/proc/self/fd/{}", gap.as_raw_fd());
        for r in recs {
            let fd = make_one(r, &gap_path)?;
            s.objs.push(uapi::CrRestartObj {
                kind: uapi::CR_RESTART_OBJ_INOTIFY,
                id: r.id,
                fd: fd.as_raw_fd(),
                pad: 0,
            });
            s._fds.push(fd);
        }
        Ok(s)
    }
}

fn make_one(r: &InotifyRec, gap_path: &str) -> Result<OwnedFd> {
    let err = |what: String| {
        let id = r.id;
        move |e: Errno| Error::Inotify {
            id,
            what,
            errno: ErrnoText(e),
        }
    };
    let fd = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)
        .map_err(err("cannot make it".into()))?;
    // The descriptor the next new watch gets.
    let mut next = 1u32;
    let skip_to = |next: &mut u32, to: u32| -> Result<()> {
        while *next < to {
            let wd = inotify::add_watch(&fd, gap_path, WatchFlags::ATTRIB)
                .map_err(err(format!("cannot skip watch descriptor {next}")))?;
            inotify::remove_watch(&fd, wd)
                .map_err(err(format!("cannot skip watch descriptor {next}")))?;
            *next = wd as u32 + 1;
        }
        Ok(())
    };
    for (wd, mask, path) in &r.watches {
        skip_to(&mut next, *wd)?;
        let p = std::ffi::CString::new(path.clone())
            .map_err(|_| err(format!("watch {wd}: bad path"))(Errno::INVAL))?;
        let flags = WatchFlags::from_bits_retain(mask | IN_DONT_FOLLOW);
        let what = || format!("watch {wd}: cannot watch {}", String::from_utf8_lossy(path));
        let got = inotify::add_watch(&fd, p.as_c_str(), flags).map_err(err(what()))?;
        if got as u32 != *wd {
            return Err(err(format!(
                "{} at its watch descriptor (got {got})",
                what()
            ))(Errno::EXIST));
        }
        next = *wd + 1;
    }
    skip_to(&mut next, r.next_wd)?;
    // Read away the IN_IGNORED events of the throw-away watches.
    let mut buf = [0u8; 4096];
    loop {
        match rustix::io::read(&fd, &mut buf) {
            Ok(0) | Err(Errno::AGAIN) => break,
            Ok(_) | Err(Errno::INTR) => continue,
            Err(e) => return Err(err("cannot read its queue".into())(e)),
        }
    }
    Ok(fd)
}
