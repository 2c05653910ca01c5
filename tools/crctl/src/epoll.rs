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

// ------------------------------------------------------------ epoll sets
//
// A module cannot add an epoll watch (`do_epoll_ctl` is not exported):
// during a tree restart of an image with epoll sets, a helper process
// forked from the launcher (so on the same `/dev/cr` file) waits in
// `CR_IOC_EPOLL_WATCHES` for the coordinator to have opened every file of
// the image; the kernel installs each watched file in the helper and
// lists the sets and watches. The helper makes each set, puts each
// watched file at the fd number its watch was added with
// (`dup2`), adds the watch with its events and data, and hands the sets
// back with `CR_IOC_EPOLL_SETS`. The kernel checks them against the image
// before the point of no return.

/// Forks the epoll helper (twice, so that it is nobody's child to reap).
pub fn spawn_helper(dev: std::os::fd::BorrowedFd<'_>) -> Result<()> {
    // SAFETY: fork in a single-threaded process; the child only makes
    // system calls and exits.
    match unsafe { libc::fork() } {
        0 => {
            // SAFETY: As above.
            if unsafe { libc::fork() } == 0 {
                let code = match helper(dev.as_raw_fd()) {
                    Ok(()) => 0,
                    Err(e) => {
                        eprintln!("crctl: restart: epoll helper: {e}");
                        // Fails the restart at once rather than at the
                        // coordinator's timeout.
                        let _ = uapi::epoll_sets(dev, &[]);
                        1
                    }
                };
                // SAFETY: Plain exit.
                unsafe { libc::_exit(code) };
            }
            // SAFETY: Plain exit.
            unsafe { libc::_exit(0) };
        }
        p if p > 0 => {
            let mut st = 0;
            // SAFETY: Reaps the intermediate child.
            unsafe { libc::waitpid(p, &mut st, 0) };
            Ok(())
        }
        _ => Err(Error::Fork(std::io::Error::last_os_error())),
    }
}

fn helper(dev: i32) -> std::result::Result<(), String> {
    let sys = |what: &str, r: i32| {
        if r < 0 {
            Err(format!("{what}: {}", std::io::Error::last_os_error()))
        } else {
            Ok(r)
        }
    };
    let dev_b = |fd: i32| {
        // SAFETY: `fd` is open for the helper's lifetime.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
    };
    let mut buf = vec![uapi::CrEpollWatch::default(); 1 << 17];
    let n = uapi::epoll_watches(dev_b(dev), &mut buf)
        .map_err(|e| format!("CR_IOC_EPOLL_WATCHES: {e}"))?;
    let mut ws = buf[..n].to_vec();
    let base = ws
        .iter()
        .filter(|w| w.tfd != u32::MAX)
        .map(|w| w.tfd as i32 + 1)
        .max()
        .unwrap_or(0)
        .max(3);
    // Everything the helper keeps goes above every watch's fd number.
    // SAFETY: fcntl and close on fds of this process.
    let dev = sys("F_DUPFD", unsafe {
        libc::fcntl(dev, libc::F_DUPFD_CLOEXEC, base)
    })?;
    for w in ws.iter_mut().filter(|w| w.fd >= 0) {
        // SAFETY: As above.
        let nfd = sys("F_DUPFD", unsafe {
            libc::fcntl(w.fd, libc::F_DUPFD_CLOEXEC, base)
        })?;
        // SAFETY: As above.
        unsafe { libc::close(w.fd) };
        w.fd = nfd;
    }
    let mut sets: Vec<(u32, i32)> = vec![];
    for w in ws.iter().filter(|w| w.tfd == u32::MAX) {
        // SAFETY: Plain system calls.
        let ep = sys("epoll_create1", unsafe {
            libc::epoll_create1(libc::EPOLL_CLOEXEC)
        })?;
        // SAFETY: As above.
        let up = sys("F_DUPFD", unsafe {
            libc::fcntl(ep, libc::F_DUPFD_CLOEXEC, base)
        })?;
        // SAFETY: As above.
        unsafe { libc::close(ep) };
        sets.push((w.set, up));
    }
    let set_fd = |id: u32| {
        sets.iter()
            .find(|(s, _)| *s == id)
            .map(|(_, fd)| *fd)
            .ok_or_else(|| format!("no epoll set {id}"))
    };
    for w in ws.iter().filter(|w| w.tfd != u32::MAX) {
        let target = if w.target_set != 0 {
            set_fd(w.target_set)?
        } else {
            w.fd
        };
        let tfd = w.tfd as i32;
        // SAFETY: Plain system calls on this process's fds.
        sys("dup2", unsafe { libc::dup2(target, tfd) })?;
        let mut ev = libc::epoll_event {
            events: w.events,
            u64: w.data,
        };
        // SAFETY: As above; `ev` is a valid epoll_event.
        let r = unsafe { libc::epoll_ctl(set_fd(w.set)?, libc::EPOLL_CTL_ADD, tfd, &mut ev) };
        sys(&format!("epoll {}: watch on fd {tfd}: epoll_ctl", w.set), r)?;
        // SAFETY: As above.
        unsafe { libc::close(tfd) };
    }
    let objs: Vec<uapi::CrRestartObj> = sets
        .iter()
        .map(|&(id, fd)| uapi::CrRestartObj {
            kind: uapi::CR_RESTART_OBJ_EPOLL,
            id,
            fd,
            pad: 0,
        })
        .collect();
    uapi::epoll_sets(dev_b(dev), &objs).map_err(|e| format!("CR_IOC_EPOLL_SETS: {e}"))
}
