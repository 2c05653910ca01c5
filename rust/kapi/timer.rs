// SPDX-License-Identifier: GPL-2.0

//! The current process's interval timers (`alarm`/`setitimer`), read and
//! set as `getitimer` and `setitimer` do, under the signal-handler lock:
//! `ITIMER_REAL` is the signal struct's hrtimer and its interval;
//! `ITIMER_VIRTUAL` and `ITIMER_PROF` are absolute expiries on the
//! thread group's CPU clocks, which the group's CPU timer accounting
//! samples while any process CPU timer is armed.
//!
//! And its POSIX timers (`timer_create`): the `k_itimer`s of the signal
//! struct's `posix_timers` list, walked under RCU (the list changes under
//! the siglock, and only by the process's own threads, which are parked
//! or restoring; a timer is freed after an RCU grace period), each read
//! and set under its `it_lock` through its clock's `timer_get` and
//! `timer_set`, as `timer_gettime` and `timer_settime` do. The siglock is
//! never held with it (`it_lock` nests outside it).

use super::{cur, current::SigLock, tf};
use core::{mem, ptr};
use kernel::{alloc::KVec, bindings, prelude::*, sync::rcu};

/// Raw declarations of the POSIX timer part of `cr_kapi.c` (`struct
/// k_clock` is in a private header, opaque to the bindings).
mod ffi {
    use core::ffi::c_int;
    use kernel::bindings;

    #[allow(improper_ctypes)]
    extern "C" {
        pub(super) fn cr_ptimer_lock(t: *mut bindings::k_itimer);
        pub(super) fn cr_ptimer_unlock(t: *mut bindings::k_itimer);
        pub(super) fn cr_ptimer_get(t: *mut bindings::k_itimer, s: *mut bindings::itimerspec64);
        pub(super) fn cr_ptimer_set(
            t: *mut bindings::k_itimer,
            s: *mut bindings::itimerspec64,
        ) -> c_int;
    }
}

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

// ------------------------------------------------------------ POSIX timers

/// `SIGEV_THREAD_ID`.
const SIGEV_THREAD_ID: i32 = 4;
/// Offset of `si_value` in `kernel_siginfo_t` (`_sifields._timer._sigval`).
const SIGVAL_AT: usize = 24;
/// `NSEC_PER_SEC`.
const NSEC_PER_SEC: u64 = 1_000_000_000;

/// One POSIX timer, as `timer_gettime` and `timer_getoverrun` see it.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PosixTimer {
    pub(crate) id: i32,
    /// `it_clock`: negative for a CPU clock.
    pub(crate) clock: i32,
    pub(crate) notify: i32,
    pub(crate) signo: i32,
    /// For `SIGEV_THREAD_ID`: the thread's tid in the current pid
    /// namespace (0: it has none there); else 0.
    pub(crate) tid: i32,
    pub(crate) sigval: u64,
    /// Nanoseconds left (0: disarmed) and interval.
    pub(crate) value: u64,
    pub(crate) interval: u64,
    /// `it_overrun_last` and `it_overrun`.
    pub(crate) overrun_last: i64,
    pub(crate) overrun: i64,
}

/// Calls `f` with each POSIX timer of the current process that is valid
/// (created to the end, not being deleted), its `it_lock` held; stops when
/// `f` returns false.
fn for_each_locked(mut f: impl FnMut(*mut bindings::k_itimer) -> bool) {
    // SAFETY: `current` and its signal struct are valid.
    let sig = unsafe { *tf!(cur(), signal) };
    let _rcu = rcu::read_lock();
    // SAFETY: The list is walked under RCU (its nodes are freed after a
    // grace period); each node is the `list` member of a `k_itimer`.
    unsafe {
        let mut n = (*sig).posix_timers.first;
        while !n.is_null() {
            let t = n
                .cast::<u8>()
                .sub(mem::offset_of!(bindings::k_itimer, list))
                .cast::<bindings::k_itimer>();
            let next = (*n).next;
            ffi::cr_ptimer_lock(t);
            // Valid and ours: what `lock_timer` checks under the lock.
            let go = if ptr::eq((*t).it_signal, sig) {
                f(t)
            } else {
                true
            };
            ffi::cr_ptimer_unlock(t);
            if !go {
                return;
            }
            n = next;
        }
    }
}

fn ns(t: &bindings::timespec64) -> u64 {
    (t.tv_sec.max(0) as u64)
        .saturating_mul(NSEC_PER_SEC)
        .saturating_add(t.tv_nsec.max(0) as u64)
}

fn timespec(ns: u64) -> bindings::timespec64 {
    bindings::timespec64 {
        tv_sec: (ns / NSEC_PER_SEC) as i64,
        tv_nsec: (ns % NSEC_PER_SEC) as kernel::ffi::c_long,
    }
}

/// Reads timer `t` (its `it_lock` held by the caller).
///
/// # Safety
///
/// `t` is a valid timer of the current process, locked.
unsafe fn read(t: *mut bindings::k_itimer) -> PosixTimer {
    let mut spec = bindings::itimerspec64 {
        it_interval: timespec(0),
        it_value: timespec(0),
    };
    // SAFETY: `t` is valid and locked (safety requirement); `timer_get`
    // is what `timer_gettime` calls under the same lock.
    unsafe {
        ffi::cr_ptimer_get(t, &mut spec);
        let info = ptr::read((&raw const (*t).sigq.info).cast::<[u8; 48]>());
        let mut v = [0u8; 8];
        v.copy_from_slice(&info[SIGVAL_AT..SIGVAL_AT + 8]);
        let notify = (*t).it_sigev_notify;
        let tid = if notify & SIGEV_THREAD_ID != 0 && (*t).it_clock >= 0 {
            bindings::pid_vnr((*t).__bindgen_anon_1.it_pid)
        } else {
            0
        };
        PosixTimer {
            id: (*t).it_id,
            clock: (*t).it_clock,
            notify,
            signo: i32::from_ne_bytes([info[0], info[1], info[2], info[3]]),
            tid,
            sigval: u64::from_ne_bytes(v),
            value: ns(&spec.it_value),
            interval: ns(&spec.it_interval),
            overrun_last: (*t).it_overrun_last,
            overrun: (*t).it_overrun,
        }
    }
}

/// The current process's POSIX timers, in list order (newest first).
/// `EAGAIN` if the list grew while it was read (it does not: every thread
/// of the process is parked).
pub(crate) fn posix_timers() -> Result<KVec<PosixTimer>> {
    let mut n = 0usize;
    for_each_locked(|_| {
        n += 1;
        true
    });
    let mut v = KVec::with_capacity(n, GFP_KERNEL_ACCOUNT)?;
    let mut full = false;
    for_each_locked(|t| {
        // SAFETY: `for_each_locked` passes valid locked timers of the process.
        full = v.push_within_capacity(unsafe { read(t) }).is_err();
        !full
    });
    if full {
        return Err(EAGAIN);
    }
    Ok(v)
}

/// Whether a POSIX timer of the current process has its signal parked on
/// the ignored list (its signal was ignored when it fired).
pub(crate) fn posix_timer_ignored() -> bool {
    // SAFETY: `current` and its signal struct are valid.
    let sig = unsafe { *tf!(cur(), signal) };
    let _l = SigLock::new();
    // SAFETY: The list head is read under the siglock, which guards it.
    unsafe { !(*sig).ignored_posix_timers.first.is_null() }
}

/// The current process's tgid in its own pid namespace.
pub(crate) fn own_tgid() -> i32 {
    // SAFETY: `current` is valid; a null namespace is the current one.
    unsafe { bindings::__task_pid_nr_ns(cur(), bindings::pid_type_PIDTYPE_TGID, ptr::null_mut()) }
}

/// The current process's next POSIX timer id (`next_posix_timer_id`).
pub(crate) fn next_posix_timer_id() -> u32 {
    // SAFETY: `current` and its signal struct are valid; an atomic.
    unsafe {
        let sig = *tf!(cur(), signal);
        bindings::atomic_read(&raw const (*sig).next_posix_timer_id) as u32
    }
}

/// Sets the current process's next POSIX timer id.
pub(crate) fn set_next_posix_timer_id(v: u32) {
    // SAFETY: `current` and its signal struct are valid; an atomic.
    unsafe {
        let sig = *tf!(cur(), signal);
        bindings::atomic_set(&raw mut (*sig).next_posix_timer_id, v as i32);
    }
}

/// Arms POSIX timer `id` of the current process to fire `value` ns from
/// now, then every `interval`, and sets its overrun counts, as a
/// relative `timer_settime` followed by the expiries it missed would.
/// `ENOENT` if the process has no such timer. The timer must be
/// disarmed and on a clock that is not a CPU clock (the caller checked).
pub(crate) fn arm_posix_timer(
    id: i32,
    value: u64,
    interval: u64,
    last: i64,
    overrun: i64,
) -> Result {
    let mut r = Err(ENOENT);
    // SAFETY: `for_each_locked` passes valid locked timers of the process.
    for_each_locked(|t| unsafe {
        if (*t).it_id != id {
            return true;
        }
        let mut spec = bindings::itimerspec64 {
            it_interval: timespec(interval),
            it_value: timespec(value),
        };
        // As `timer_settime`: a signal of the old setting is dropped.
        (*t).it_signal_seq = (*t).it_signal_seq.wrapping_add(1);
        // The timer is disarmed: no callback runs, `TIMER_RETRY` cannot be.
        let e = ffi::cr_ptimer_set(t, &mut spec);
        (*t).it_overrun_last = last;
        (*t).it_overrun = overrun;
        r = if e == 0 {
            Ok(())
        } else {
            Err(Error::from_errno(e))
        };
        false
    });
    r
}
