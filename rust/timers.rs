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

use crate::{
    error::Refusal,
    format::{self, Record},
    kapi::timer::{self, Itimer},
    log::{fail, Log},
    stream::ImageWriter,
};
use kernel::prelude::*;

/// Names of the timers, in `ITIMER_*` order.
const NAMES: [&str; 3] = ["ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF"];

fn to_record(t: &timer::Itimers) -> format::Itimers {
    format::Itimers {
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
}

impl TimerSnap {
    /// Reads the current process's timers (runs in the target's leader,
    /// every thread parked).
    pub(crate) fn gather(_pid: i32) -> Result<Self, Refusal> {
        Ok(TimerSnap {
            itimers: to_record(&timer::itimers()),
        })
    }

    /// Writes the itimers record, if any timer is set.
    pub(crate) fn write(&self, w: &mut ImageWriter<'_>) -> Result {
        if !self.itimers.any() {
            return Ok(());
        }
        w.record(|b| self.itimers.encode(b))
    }
}

// ------------------------------------------------------------ restart

/// The timers of a restart plan.
pub(crate) struct TimerPlan {
    itimers: timer::Itimers,
}

impl TimerPlan {
    /// A plan with every timer disarmed (no record).
    pub(crate) fn new() -> Self {
        TimerPlan {
            itimers: Default::default(),
        }
    }

    /// Takes the itimers record (`Ok(false)` for any other).
    pub(crate) fn add(&mut self, rec: &Record<'_>) -> Result<bool> {
        let Record::Itimers(t) = rec else {
            return Ok(false);
        };
        self.itimers = from_record(t);
        Ok(true)
    }

    /// Checks, in the leader of the restoring process, that each CPU timer
    /// of the image is armed already (crctl does it), so that the process's
    /// CPU time is counted.
    pub(crate) fn check_here(&self, log: &Log) -> Result {
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
    pub(crate) fn restore(&self) {
        timer::set_itimers(&self.itimers);
    }
}
