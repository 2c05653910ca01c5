// SPDX-License-Identifier: GPL-2.0

//! The current process's interval timers (`alarm`/`setitimer`), read and
//! set as `getitimer` and `setitimer` do, under the signal-handler lock:
//! `ITIMER_REAL` is the signal struct's hrtimer and its interval;
//! `ITIMER_VIRTUAL` and `ITIMER_PROF` are absolute expiries on the
//! thread group's CPU clocks, which the group's CPU timer accounting
//! samples while any process CPU timer is armed.

use super::{cur, current::SigLock, tf};
use kernel::bindings;

/// `CPUCLOCK_PROF`: user and system time.
const CPUCLOCK_PROF: usize = 0;
/// `CPUCLOCK_VIRT`: user time.
const CPUCLOCK_VIRT: usize = 1;
/// `TICK_NSEC` is at most this (`HZ` 100): what `getitimer` reports for a
/// CPU timer that is about to fire is one tick; any positive time will do.
const ABOUT_TO_FIRE_NS: u64 = 1000;
/// `NSEC_PER_USEC`: what `getitimer` reports for a real timer about to fire.
const NSEC_PER_USEC: u64 = 1000;

/// One timer: nanoseconds left (0: disarmed) and interval.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Itimer {
    pub(crate) value: u64,
    pub(crate) interval: u64,
}

/// The three timers, in `ITIMER_*` order (real, virtual, prof).
pub(crate) type Itimers = [Itimer; 3];

/// The CPU clock samples of the thread group (`[prof, virt]`), from the
/// group accounting. The caller holds the signal-handler lock, and a
/// process CPU timer is armed (so the accounting runs).
///
/// # Safety
///
/// `sig` is the current task's signal struct.
unsafe fn group_sample(sig: *mut bindings::signal_struct) -> [u64; 2] {
    // SAFETY: `sig` is valid (safety requirement); the counters are atomics.
    unsafe {
        let a = &raw const (*sig).cputimer.cputime_atomic;
        let u = bindings::atomic64_read(&raw const (*a).utime) as u64;
        let s = bindings::atomic64_read(&raw const (*a).stime) as u64;
        [u.wrapping_add(s), u]
    }
}

/// Reads the current process's timers, as `getitimer` would.
pub(crate) fn itimers() -> Itimers {
    let mut r = Itimers::default();
    let t = cur();
    let _l = SigLock::new();
    // SAFETY: `current` and its signal struct are valid; the timers are
    // read under the siglock, as `getitimer` reads them.
    unsafe {
        let sig = *tf!(t, signal);
        let timer = &raw const (*sig).real_timer;
        if bindings::hrtimer_active(timer) {
            let rem = bindings::__hrtimer_get_remaining(timer, true);
            r[0].value = if rem <= 0 { NSEC_PER_USEC } else { rem as u64 };
        }
        r[0].interval = (*sig).it_real_incr.max(0) as u64;
        let armed = (*sig).it[CPUCLOCK_PROF].expires != 0 || (*sig).it[CPUCLOCK_VIRT].expires != 0;
        if armed && (*sig).posix_cputimers.timers_active != 0 {
            let now = group_sample(sig);
            for (slot, clk) in [(2, CPUCLOCK_PROF), (1, CPUCLOCK_VIRT)] {
                let it = (*sig).it[clk];
                r[slot].interval = it.incr;
                if it.expires != 0 {
                    r[slot].value = if it.expires <= now[clk] {
                        ABOUT_TO_FIRE_NS
                    } else {
                        it.expires - now[clk]
                    };
                }
            }
        } else {
            r[1].interval = (*sig).it[CPUCLOCK_VIRT].incr;
            r[2].interval = (*sig).it[CPUCLOCK_PROF].incr;
        }
    }
    r
}

/// Whether the thread group's CPU timer accounting runs and `ITIMER_VIRTUAL`
/// (`which` 1) or `ITIMER_PROF` (2) is armed: what a `setitimer` from user
/// space leaves, which [`set_itimers`] needs to arm a CPU timer.
pub(crate) fn cpu_itimer_armed(which: usize) -> bool {
    let clk = if which == 1 {
        CPUCLOCK_VIRT
    } else {
        CPUCLOCK_PROF
    };
    let t = cur();
    let _l = SigLock::new();
    // SAFETY: `current` and its signal struct are valid; read under the
    // siglock.
    unsafe {
        let sig = *tf!(t, signal);
        (*sig).it[clk].expires != 0 && (*sig).posix_cputimers.timers_active != 0
    }
}

/// Sets the current process's timers, as `setitimer` would: each armed one
/// fires `value` nanoseconds from now (of its clock), then every
/// `interval`. An armed CPU timer needs [`cpu_itimer_armed`] (the caller
/// checked it); its expiry is rewritten and the clock's expiry cache
/// lowered to it, as `set_process_cpu_timer` does. The real timer must be
/// disarmed (a new process's is).
pub(crate) fn set_itimers(v: &Itimers) {
    let t = cur();
    // SAFETY: `current` and its signal struct are valid.
    let sig = unsafe { *tf!(t, signal) };
    // SAFETY: The timer is the signal struct's, initialised at fork; it is
    // not armed, so this returns at once (outside the siglock, which its
    // callback may take).
    unsafe { bindings::hrtimer_cancel(&raw mut (*sig).real_timer) };
    let _l = SigLock::new();
    // SAFETY: The fields are written under the siglock, as `setitimer`
    // writes them; the CPU timers' clocks run (checked by the caller).
    unsafe {
        (*sig).it_real_incr = v[0].interval as i64;
        if v[0].value != 0 {
            bindings::hrtimer_start_range_ns(
                &raw mut (*sig).real_timer,
                v[0].value as i64,
                0,
                bindings::hrtimer_mode_HRTIMER_MODE_REL,
            );
        }
        let now = group_sample(sig);
        for (slot, clk) in [(2, CPUCLOCK_PROF), (1, CPUCLOCK_VIRT)] {
            let it = &raw mut (*sig).it[clk];
            (*it).incr = v[slot].interval;
            if v[slot].value == 0 || (*sig).posix_cputimers.timers_active == 0 {
                (*it).expires = 0;
                continue;
            }
            let exp = now[clk].saturating_add(v[slot].value);
            (*it).expires = exp;
            let next = &raw mut (*sig).posix_cputimers.bases[clk].nextevt;
            if exp < *next {
                *next = exp;
            }
        }
    }
}
