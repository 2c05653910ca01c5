// SPDX-License-Identifier: GPL-2.0

//! The eventfds, timerfds and signalfds of an image, which crctl makes for
//! the kernel (a module cannot call `eventfd`, `timerfd_create` or
//! `signalfd`): one per record, in the recorded state, handed over to
//! `CR_IOC_RESTART` as `struct cr_restart_obj`. The kernel checks each
//! against its record (its fdinfo), installs it, and sets `O_NONBLOCK` as
//! the file record says.
//!
//! A timerfd is set from its record: a relative timer (and an absolute one
//! on `CLOCK_MONOTONIC` or `CLOCK_BOOTTIME`, whose clock need not be the
//! checkpoint's) with the remaining time it had at checkpoint, counted from
//! now; an absolute `CLOCK_REALTIME` one with its recorded expiration; a
//! periodic timer that had expired and waited for a read to rearm it, one
//! interval from now. Its unread expirations are set with
//! `TFD_IOC_SET_TICKS`, after `timerfd_settime` (which clears them), so
//! none that comes in between is lost (see [`set_ticks`]).

use crate::error::{ErrnoText, Error, Result};
use crate::uapi;
use cr_image::format::{
    EventfdRec, SignalfdRec, TimerfdInfo, TimerfdRec, CLOCK_BOOTTIME, CLOCK_MONOTONIC,
    EVENTFD_SEMAPHORE, TIMERFD_ABSTIME, TIMERFD_CANCEL_ON_SET,
};
use rustix::event::{eventfd, EventfdFlags};
use rustix::io::Errno;
use rustix::time::{
    clock_gettime, timerfd_create, timerfd_settime, ClockId, Itimerspec, TimerfdClockId,
    TimerfdFlags, TimerfdTimerFlags, Timespec,
};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

/// `TFD_IOC_SET_TICKS`: `_IOW('T', 0, __u64)`.
const TFD_IOC_SET_TICKS: libc::c_ulong = 0x4008_5400;
const NSEC: u64 = 1_000_000_000;

/// One event descriptor record of the image.
pub enum EvRec {
    Eventfd(EventfdRec),
    Timerfd(TimerfdRec),
    Signalfd(SignalfdRec),
}

/// The event descriptors made for an image, and the array the kernel reads.
#[derive(Default)]
pub struct Evfds {
    /// Kept open until the kernel takes them.
    _fds: Vec<OwnedFd>,
    pub objs: Vec<uapi::CrRestartObj>,
}

fn ts(ns: u64) -> Timespec {
    Timespec {
        tv_sec: (ns / NSEC) as i64,
        tv_nsec: (ns % NSEC) as _,
    }
}

fn ns(t: Timespec) -> u64 {
    (t.tv_sec.max(0) as u64)
        .saturating_mul(NSEC)
        .saturating_add(t.tv_nsec.max(0) as u64)
}

fn make_eventfd(r: &EventfdRec) -> rustix::io::Result<OwnedFd> {
    let mut flags = EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK;
    if r.flags & EVENTFD_SEMAPHORE != 0 {
        flags |= EventfdFlags::SEMAPHORE;
    }
    let fd = eventfd(0, flags)?;
    // The counter may exceed the u32 eventfd() takes: one write adds it.
    if r.count != 0 && rustix::io::write(&fd, &r.count.to_ne_bytes())? != 8 {
        return Err(Errno::IO);
    }
    Ok(fd)
}

fn ioctl_set_ticks(fd: &OwnedFd, ticks: u64) -> rustix::io::Result<()> {
    // SAFETY: TFD_IOC_SET_TICKS reads one u64 at the pointer, a local.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), TFD_IOC_SET_TICKS, &ticks as *const u64) };
    if r < 0 {
        return Err(Errno::from_raw_os_error(
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        ));
    }
    Ok(())
}

/// What the timerfd `fd`'s fdinfo says (reading the timerfd would consume
/// its expirations, and `timerfd_gettime` rearms an expired periodic one).
fn fdinfo(fd: &OwnedFd) -> rustix::io::Result<TimerfdInfo> {
    let t = std::fs::read(format!("/proc/self/fdinfo/{}", fd.as_raw_fd()))
        .map_err(|e| Errno::from_raw_os_error(e.raw_os_error().unwrap_or(0)))?;
    TimerfdInfo::parse(&t).ok_or(Errno::IO)
}

/// Gives the armed (`armed`) timerfd `fd` its `ticks` unread expirations.
/// An expiration that comes after `TFD_IOC_SET_TICKS` adds to them; one
/// that came between `timerfd_settime` and it was overwritten: the timer
/// has expired then (it is not rearmed until read), and its ticks are
/// still exactly `ticks`, so that one is added back.
fn set_ticks(fd: &OwnedFd, ticks: u64, armed: bool) -> rustix::io::Result<()> {
    if ticks == 0 {
        return Ok(());
    }
    ioctl_set_ticks(fd, ticks)?;
    // fdinfo shows an expired timer's remaining time as 0.
    let i = fdinfo(fd)?;
    if armed && i.value_ns == 0 && i.ticks == ticks && ticks < u64::MAX {
        ioctl_set_ticks(fd, ticks + 1)?;
    }
    Ok(())
}

fn make_timerfd(r: &TimerfdRec) -> rustix::io::Result<OwnedFd> {
    let (clock, now_clock) = match r.clockid {
        CLOCK_MONOTONIC => (TimerfdClockId::Monotonic, ClockId::Monotonic),
        CLOCK_BOOTTIME => (TimerfdClockId::Boottime, ClockId::Boottime),
        _ => (TimerfdClockId::Realtime, ClockId::Realtime),
    };
    let fd = timerfd_create(clock, TimerfdFlags::CLOEXEC)?;
    // A periodic timer that expired and waits for a read to rearm it: its
    // next expiration is at most one interval away.
    let value = if r.value_ns == 0 {
        r.interval_ns
    } else {
        r.value_ns
    };
    let abs = r.flags & TIMERFD_ABSTIME != 0;
    let mut tf = TimerfdTimerFlags::empty();
    if abs {
        tf |= TimerfdTimerFlags::ABSTIME;
    }
    if r.flags & TIMERFD_CANCEL_ON_SET != 0 {
        tf |= TimerfdTimerFlags::CANCEL_ON_SET;
    }
    let it_value = if value == 0 || !abs {
        value
    } else if r.abs_ns != 0 {
        r.abs_ns
    } else {
        ns(clock_gettime(now_clock)).saturating_add(value)
    };
    let spec = Itimerspec {
        it_interval: ts(r.interval_ns),
        it_value: ts(it_value),
    };
    timerfd_settime(&fd, tf, &spec)?;
    set_ticks(&fd, r.ticks, value != 0)?;
    Ok(fd)
}

fn make_signalfd(r: &SignalfdRec) -> rustix::io::Result<OwnedFd> {
    // SAFETY: An empty sigset is filled in by sigemptyset before use.
    let mut set: libc::sigset_t = unsafe { core::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t; signals 1 to 64 are in range.
    unsafe {
        libc::sigemptyset(&mut set);
        for s in 1..=64 {
            if r.mask & (1u64 << (s - 1)) != 0 {
                libc::sigaddset(&mut set, s);
            }
        }
    }
    // SAFETY: `set` is a valid sigset_t; -1 makes a new signalfd.
    let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC) };
    if fd < 0 {
        return Err(Errno::from_raw_os_error(
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        ));
    }
    // SAFETY: A new fd, owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl Evfds {
    /// Makes one object per record.
    pub fn make(recs: &[EvRec]) -> Result<Self> {
        let mut e = Evfds::default();
        for r in recs {
            let (what, id, kind, made) = match r {
                EvRec::Eventfd(r) => (
                    "eventfd",
                    r.id,
                    uapi::CR_RESTART_OBJ_EVENTFD,
                    make_eventfd(r),
                ),
                EvRec::Timerfd(r) => (
                    "timerfd",
                    r.id,
                    uapi::CR_RESTART_OBJ_TIMERFD,
                    make_timerfd(r),
                ),
                EvRec::Signalfd(r) => (
                    "signalfd",
                    r.id,
                    uapi::CR_RESTART_OBJ_SIGNALFD,
                    make_signalfd(r),
                ),
            };
            let fd = made.map_err(|errno| Error::Evfd {
                what,
                id,
                errno: ErrnoText(errno),
            })?;
            e.objs.push(uapi::CrRestartObj {
                kind,
                id,
                fd: fd.as_fd().as_raw_fd(),
                pad: 0,
            });
            e._fds.push(fd);
        }
        Ok(e)
    }
}
