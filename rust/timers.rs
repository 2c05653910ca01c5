// SPDX-License-Identifier: GPL-2.0

//! A process's interval timers (`alarm`, `setitimer`). Record:
//! [`format::Itimers`], written only when a timer is armed or has an
//! interval.
//!
//! Time across the checkpoint: each timer keeps the time it had left, on
//! its own clock. `ITIMER_REAL` fires that much wall time after the
//! restore (the kernel's monotonic clock, which does not carry over to
//! another boot: the time between checkpoint and restart is not counted);
//! `ITIMER_VIRTUAL` and `ITIMER_PROF` after that much more CPU time of the
//! restored process. Then each fires every interval.
//!
//! The real timer is armed here. A CPU timer needs the thread group's CPU
//! time accounting, which only `setitimer` from user space can start (the
//! functions that start it are not exported): crctl arms each CPU timer
//! the image has, far in the future, in the restoring process before it
//! joins; the restore checks that it did and sets the expiry exactly. All
//! are set last, once the signal dispositions are in place.
//!
//! POSIX timers (`timer_create`), record [`format::PosixTimer`], one per
//! timer: on `CLOCK_REALTIME`, `MONOTONIC`, `BOOTTIME` or `TAI`, with a
//! signal to the process or to its leader (`SIGEV_THREAD_ID`) or none.
//! Each keeps its id, clock, notification and `sigev_value`, its time left
//! (counted as the real itimer's: from the restore, relative), interval and
//! both overrun counts. crctl creates each one, disarmed, with its id
//! (`PR_TIMER_CREATE_RESTORE_IDS`) in the restoring process before it
//! joins; the restore checks the process has exactly those and arms them
//! last. Refused by name at checkpoint: a timer on a CPU or alarm clock, a
//! `SIGEV_THREAD_ID` to a thread other than the leader, a timer whose
//! signal was ignored (parked by the kernel), and (signals.rs) a pending
//! timer signal.

use crate::{
    error::{eopnotsupp, refuse, Refusal},
    format::{self, Record},
    kapi::timer::{self, Itimer},
    log::{fail, Log},
    stream::ImageWriter,
};
use kernel::{alloc::KVec, prelude::*};

/// Names of the timers, in `ITIMER_*` order.
const NAMES: [&str; 3] = ["ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF"];

fn to_record(t: &timer::Itimers, posix_next_id: u32) -> format::Itimers {
    format::Itimers {
        posix_next_id,
        real_value: t[0].value,
        real_interval: t[0].interval,
        virt_value: t[1].value,
        virt_interval: t[1].interval,
        prof_value: t[2].value,
        prof_interval: t[2].interval,
    }
}

fn from_record(r: &format::Itimers) -> timer::Itimers {
    let [a, b, c] = r.timers();
    let t = |(value, interval)| Itimer { value, interval };
    [t(a), t(b), t(c)]
}

// ------------------------------------------------------------ checkpoint

/// The timers of a snapshot.
pub(crate) struct TimerSnap {
    itimers: format::Itimers,
    /// The POSIX timers, by ascending id.
    ptimers: KVec<format::PosixTimer>,
}

/// The record of POSIX timer `t` of process `pid`, or the refusal naming
/// what cannot be saved.
fn ptimer_record(
    pid: i32,
    t: &timer::PosixTimer,
    next_id: u32,
) -> Result<format::PosixTimer, Refusal> {
    let id = t.id;
    if t.clock < 0 {
        return Err(refuse!(
            eopnotsupp(),
            "pid {pid}: POSIX timer {id} on a CPU-time clock ({}): not supported yet",
            t.clock
        ));
    }
    if !format::POSIX_TIMER_CLOCKS.contains(&t.clock) {
        return Err(refuse!(
            eopnotsupp(),
            "pid {pid}: POSIX timer {id} on clock {} (an alarm clock): not supported",
            t.clock
        ));
    }
    let known = [
        format::SIGEV_SIGNAL,
        format::SIGEV_NONE,
        format::SIGEV_THREAD,
        format::SIGEV_THREAD_ID,
    ];
    if !known.contains(&t.notify) {
        return Err(refuse!(
            eopnotsupp(),
            "pid {pid}: POSIX timer {id}: notification {:#x}: not supported",
            t.notify
        ));
    }
    let mut tid = 0;
    if t.notify == format::SIGEV_THREAD_ID {
        if t.tid == 0 || t.tid != timer::own_tgid() {
            return Err(refuse!(
                eopnotsupp(),
                "pid {pid}: POSIX timer {id}: SIGEV_THREAD_ID to thread {}, not the leader: not supported yet",
                t.tid
            ));
        }
        tid = pid;
    }
    Ok(format::PosixTimer {
        id,
        clock: t.clock,
        notify: t.notify,
        signo: t.signo,
        tid,
        next_id,
        sigval: t.sigval,
        value_ns: t.value.min(format::ITIMER_MAX_NS),
        interval_ns: if t.value == 0 {
            0
        } else {
            t.interval.min(format::ITIMER_MAX_NS)
        },
        overrun_last: t.overrun_last.max(0) as u64,
        overrun: t.overrun.saturating_add(1).max(0) as u64,
    })
}

impl TimerSnap {
    /// Reads the current process's timers (runs in the target's leader,
    /// every thread parked).
    pub(crate) fn gather(pid: i32) -> Result<Self, Refusal> {
        if timer::posix_timer_ignored() {
            return Err(refuse!(
                eopnotsupp(),
                "pid {pid}: a POSIX timer fired while its signal was ignored: not supported yet"
            ));
        }
        let got = timer::posix_timers()
            .map_err(|e| refuse!(e, "pid {pid}: cannot read its POSIX timers"))?;
        let next_id = timer::next_posix_timer_id();
        let mut ptimers = KVec::with_capacity(got.len(), GFP_KERNEL_ACCOUNT)?;
        // The kernel's list is newest first; the image's by id.
        for t in got.iter() {
            let r = ptimer_record(pid, t, next_id)?;
            let at = ptimers
                .iter()
                .position(|x: &format::PosixTimer| x.id > r.id)
                .unwrap_or(ptimers.len());
            ptimers.insert_within_capacity(at, r).map_err(|_| ENOMEM)?;
        }
        Ok(TimerSnap {
            itimers: to_record(&timer::itimers(), next_id),
            ptimers,
        })
    }

    /// Writes the itimers record, if any timer is set, then a record per
    /// POSIX timer.
    pub(crate) fn write(&self, w: &mut ImageWriter<'_>) -> Result {
        if self.itimers.any() {
            w.record(|b| self.itimers.encode(b))?;
        }
        for t in self.ptimers.iter() {
            w.record(|b| t.encode(b))?;
        }
        Ok(())
    }
}

// ------------------------------------------------------------ restart

/// The timers of a restart plan.
pub(crate) struct TimerPlan {
    itimers: timer::Itimers,
    /// The next POSIX timer id, from the itimers record (0 without one).
    next_id: u32,
    /// The POSIX timers, by ascending id (the validator checked).
    ptimers: KVec<format::PosixTimer>,
}

impl TimerPlan {
    /// A plan with every timer disarmed (no record).
    pub(crate) fn new() -> Self {
        TimerPlan {
            itimers: Default::default(),
            next_id: 0,
            ptimers: KVec::new(),
        }
    }

    /// Takes the itimers record or a posix-timer record (`Ok(false)` for
    /// any other).
    pub(crate) fn add(&mut self, rec: &Record<'_>) -> Result<bool> {
        match rec {
            Record::Itimers(t) => {
                self.itimers = from_record(t);
                self.next_id = t.posix_next_id;
            }
            Record::PosixTimer(t) => self.ptimers.push(*t, GFP_KERNEL_ACCOUNT)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Checks, in the leader of the restoring process, that the process
    /// has exactly the image's POSIX timers, each disarmed with the
    /// image's id, clock and notification (crctl creates them).
    fn check_posix(&self, log: &Log) -> Result {
        let have = timer::posix_timers()
            .map_err(|e| fail!(log, e, "cannot read the restoring process's POSIX timers"))?;
        if have.len() != self.ptimers.len() || timer::posix_timer_ignored() {
            return Err(fail!(
                log,
                EINVAL,
                "the restoring process has {} POSIX timers, the image {}: crctl creates them",
                have.len(),
                self.ptimers.len()
            ));
        }
        let me = timer::own_tgid();
        for r in self.ptimers.iter() {
            let id = r.id;
            let Some(h) = have.iter().find(|h| h.id == id) else {
                return Err(fail!(
                    log,
                    EINVAL,
                    "POSIX timer {id}: the restoring process has none with this id"
                ));
            };
            let tid = if r.notify == format::SIGEV_THREAD_ID {
                me
            } else {
                0
            };
            let same = h.clock == r.clock
                && h.notify == r.notify
                && h.signo == r.signo
                && h.sigval == r.sigval
                && h.tid == tid
                && h.value == 0
                && h.interval == 0;
            if !same {
                return Err(fail!(
                    log,
                    EINVAL,
                    "POSIX timer {id}: the restoring process's is not the image's (clock, sigevent) or is armed"
                ));
            }
        }
        Ok(())
    }

    /// Checks, in the leader of the restoring process, that each CPU timer
    /// of the image is armed already (crctl does it), so that the process's
    /// CPU time is counted.
    pub(crate) fn check_here(&self, log: &Log) -> Result {
        self.check_posix(log)?;
        for which in [1, 2] {
            if self.itimers[which].value != 0 && !timer::cpu_itimer_armed(which) {
                return Err(fail!(
                    log,
                    EINVAL,
                    "{}: the restoring process must arm it first (setitimer), as crctl does",
                    NAMES[which]
                ));
            }
        }
        Ok(())
    }

    /// Sets the timers (the leader, after the signal dispositions).
    pub(crate) fn restore(&self, log: &Log) -> Result {
        timer::set_itimers(&self.itimers);
        // A process whose timers were all deleted still has its next id
        // (the timers' records set it too, below).
        timer::set_next_posix_timer_id(self.next_id);
        for r in self.ptimers.iter() {
            let overrun = (r.overrun as i64).saturating_sub(1);
            timer::arm_posix_timer(
                r.id,
                r.value_ns,
                r.interval_ns,
                r.overrun_last as i64,
                overrun,
            )
            .map_err(|e| fail!(log, e, "POSIX timer {} could not be armed", r.id))?;
            timer::set_next_posix_timer_id(r.next_id);
        }
        Ok(())
    }
}
