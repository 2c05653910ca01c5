// SPDX-License-Identifier: GPL-2.0

//! Pending signals of the current task: read by peeking (under the
//! siglock, never dequeued: a checkpointed task keeps them) and queued back
//! with their full siginfo at restart.
//!
//! Linux 7.2 exports `send_sig_info()`, which queues a signal with a given
//! siginfo on one task's own queue (`task->pending`), allocating its
//! `sigqueue` from the kernel's private cache and charging it to the
//! task's user (`RLIMIT_SIGPENDING`). Nothing exported queues a siginfo on
//! a thread group's shared queue (`kill_pid*()`, `kill_pgrp()` send without
//! one, `kill_pid_usb_asyncio()` with a fixed `SI_ASYNCIO` one), so a
//! process-wide signal is queued on the current thread with
//! `send_sig_info()` and its `sigqueue` then moved, under the siglock, to
//! the tail of `signal->shared_pending`: a queue entry is the same object
//! on either list (its accounting is per user, not per list).

use super::{cur, ffi, tf};
use core::{mem, ptr};
use kernel::{alloc::KVec, bindings, prelude::*};

/// Size of `kernel_siginfo_t` on x86-64.
const SIGINFO_SIZE: usize = 48;
const _: () = assert!(mem::size_of::<bindings::kernel_siginfo_t>() == SIGINFO_SIZE);
/// `SIGQUEUE_PREALLOC`: the entry belongs to a POSIX timer.
const SIGQUEUE_PREALLOC: i32 = 1;
/// Offset of `_sifields` in `kernel_siginfo_t` (64-bit).
const FIELDS_AT: usize = 16;

/// One pending signal.
#[derive(Clone, Copy, Default)]
pub(crate) struct PendingSig {
    pub(crate) signo: u32,
    pub(crate) errno: i32,
    pub(crate) code: i32,
    /// `_sifields`, as the kernel holds it.
    pub(crate) fields: [u8; 32],
    /// The signal's bit is set but no siginfo is queued.
    pub(crate) noinfo: bool,
    /// The entry is a POSIX timer's own (preallocated).
    pub(crate) timer: bool,
}

/// The siglock of the current task, for the life of the guard.
struct SigLock;

impl SigLock {
    fn new() -> Self {
        // SAFETY: `current` is valid and has signal handlers.
        unsafe { ffi::cr_siglock(cur()) };
        SigLock
    }
}

impl Drop for SigLock {
    fn drop(&mut self) {
        // SAFETY: Taken in `new`, by the same task.
        unsafe { ffi::cr_sigunlock(cur()) };
    }
}

/// The current thread's pending set, or with `shared` its process's.
fn queue_of(shared: bool) -> *mut bindings::sigpending {
    let t = cur();
    // SAFETY: `current` and its signal struct are valid while it runs.
    unsafe {
        if shared {
            &raw mut (*(*tf!(t, signal))).shared_pending
        } else {
            tf!(t, pending)
        }
    }
}

/// The bits of signal `n` in a set (`sigmask()` on one word).
fn bit(n: u32) -> usize {
    1usize << (n - 1)
}

/// Calls `f` with each entry of `p`'s queue, in order.
///
/// # Safety
///
/// `p` is a pending set of the current task, whose siglock is held.
unsafe fn for_each(p: *mut bindings::sigpending, mut f: impl FnMut(*mut bindings::sigqueue)) {
    let off = mem::offset_of!(bindings::sigqueue, list);
    // SAFETY: The list is walked under the siglock (safety requirements);
    // each node is the `list` member of a `sigqueue`.
    unsafe {
        let head = &raw mut (*p).list;
        let mut node = (*head).next;
        while node != head {
            f(node.cast::<u8>().sub(off).cast::<bindings::sigqueue>());
            node = (*node).next;
        }
    }
}

/// Signals of `p`'s bit set that have no queue entry.
///
/// # Safety
///
/// As [`for_each`].
unsafe fn bits_without_entry(p: *mut bindings::sigpending) -> usize {
    // SAFETY: As the caller's.
    let mut bits = unsafe { (*p).signal.sig[0] };
    // SAFETY: As the caller's; each entry is valid under the lock.
    unsafe { for_each(p, |q| bits &= !bit(signo_of(q))) };
    bits
}

/// The signal of a queue entry (1 to 64).
///
/// # Safety
///
/// `q` is a valid entry.
unsafe fn signo_of(q: *const bindings::sigqueue) -> u32 {
    // SAFETY: As the caller's.
    let b = unsafe { info_bytes(&raw const (*q).info) };
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]]).clamp(1, 64)
}

/// Number of records [`pending`] makes of `p`.
///
/// # Safety
///
/// As [`for_each`].
unsafe fn count(p: *mut bindings::sigpending) -> usize {
    let mut n = 0;
    // SAFETY: As the caller's.
    unsafe { for_each(p, |_| n += 1) };
    // SAFETY: As the caller's.
    n + unsafe { bits_without_entry(p) }.count_ones() as usize
}

/// The raw bytes of a siginfo.
///
/// # Safety
///
/// `i` is valid for reads.
unsafe fn info_bytes(i: *const bindings::kernel_siginfo_t) -> [u8; SIGINFO_SIZE] {
    // SAFETY: `kernel_siginfo_t` is `SIGINFO_SIZE` plain bytes (checked
    // above), readable (safety requirements).
    unsafe { ptr::read(i.cast::<[u8; SIGINFO_SIZE]>()) }
}

/// The current thread's pending signals (with `shared`, its process's):
/// each queued siginfo in queue order, then each signal pending without
/// one. Peeks: nothing is dequeued.
pub(crate) fn pending(shared: bool) -> Result<KVec<PendingSig>> {
    let p = queue_of(shared);
    // Signals may arrive while the vector is allocated: retry a few times.
    for _ in 0..8 {
        let n = {
            let _l = SigLock::new();
            // SAFETY: `p` is the current task's, under its siglock.
            unsafe { count(p) }
        };
        let mut v = KVec::with_capacity(n + 4, GFP_KERNEL_ACCOUNT)?;
        let _l = SigLock::new();
        // SAFETY: As above.
        if unsafe { count(p) } > v.capacity() {
            continue;
        }
        // SAFETY: As above; each entry is valid under the lock.
        unsafe {
            for_each(p, |q| {
                let b = info_bytes(&raw const (*q).info);
                let mut s = PendingSig {
                    signo: u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
                    errno: i32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
                    code: i32::from_ne_bytes([b[8], b[9], b[10], b[11]]),
                    timer: (*q).flags & SIGQUEUE_PREALLOC != 0,
                    ..Default::default()
                };
                s.fields.copy_from_slice(&b[FIELDS_AT..]);
                // Within capacity, checked above.
                let _ = v.push_within_capacity(s);
            });
            let bits = bits_without_entry(p);
            for n in 1..=64u32 {
                if bits & bit(n) != 0 {
                    let _ = v.push_within_capacity(PendingSig {
                        signo: n,
                        noinfo: true,
                        ..Default::default()
                    });
                }
            }
        }
        return Ok(v);
    }
    Err(EAGAIN)
}

/// The mask the current thread returns to user space with: its blocked
/// mask, or the one a `sigsuspend()`/`ppoll()`/`pselect()` interrupted on
/// this return will put back (`saved_sigmask` with `TIF_RESTORE_SIGMASK`).
pub(crate) fn blocked_on_return() -> u64 {
    let t = cur();
    // SAFETY: The current task's own flags and masks, read by itself.
    unsafe {
        if ffi::cr_current_restore_sigmask() {
            (*tf!(t, saved_sigmask)).sig[0] as u64
        } else {
            (*tf!(t, blocked)).sig[0] as u64
        }
    }
}

/// Queues `s` for the current thread or, with `shared`, for its process,
/// behind what is already queued. Without siginfo ([`PendingSig::noinfo`])
/// only the bit is set, as the kernel left it. The caller blocks the
/// signal (so that nothing is delivered or woken yet, and it is not
/// discarded as ignored). `EAGAIN`: the kernel would not queue the siginfo
/// (`RLIMIT_SIGPENDING`, or memory).
pub(crate) fn queue(s: &PendingSig, shared: bool) -> Result {
    if s.signo == 0 || s.signo > 64 || s.signo == bindings::SIGKILL {
        return Err(EINVAL);
    }
    let own = queue_of(false);
    if s.noinfo {
        let _l = SigLock::new();
        // SAFETY: The current task's set, under its siglock.
        unsafe { (*queue_of(shared)).signal.sig[0] |= bit(s.signo) };
        return Ok(());
    }
    let mut b = [0u8; SIGINFO_SIZE];
    b[0..4].copy_from_slice(&s.signo.to_ne_bytes());
    b[4..8].copy_from_slice(&s.errno.to_ne_bytes());
    b[8..12].copy_from_slice(&s.code.to_ne_bytes());
    b[FIELDS_AT..].copy_from_slice(&s.fields);
    // SAFETY: Plain bytes of the right size for a plain C struct.
    let mut info: bindings::kernel_siginfo_t = unsafe { ptr::read(b.as_ptr().cast()) };
    let before = {
        let _l = SigLock::new();
        let mut n = 0;
        // SAFETY: The current task's queue, under its siglock.
        unsafe { for_each(own, |_| n += 1) };
        n
    };
    // SAFETY: `info` is a valid siginfo; `current` is valid.
    let r = unsafe { bindings::send_sig_info(s.signo as i32, &mut info, cur()) };
    if r < 0 {
        return Err(Error::from_errno(r));
    }
    let _l = SigLock::new();
    // SAFETY: The current task's queues, under its siglock; the tail entry
    // is checked to be the one just queued before it is moved.
    unsafe {
        let mut n = 0;
        for_each(own, |_| n += 1);
        let head = &raw mut (*own).list;
        let tail = (*head).prev;
        if n != before + 1 || tail == head {
            return Err(EAGAIN);
        }
        let q = tail
            .cast::<u8>()
            .sub(mem::offset_of!(bindings::sigqueue, list))
            .cast::<bindings::sigqueue>();
        if info_bytes(&raw const (*q).info) != b {
            return Err(EAGAIN);
        }
        if shared {
            let sp = queue_of(true);
            ffi::cr_list_move_tail(tail, &raw mut (*sp).list);
            (*sp).signal.sig[0] |= bit(s.signo);
            let mut still = false;
            for_each(own, |e| still |= signo_of(e) == s.signo);
            if !still {
                (*own).signal.sig[0] &= !bit(s.signo);
            }
        }
    }
    Ok(())
}

/// The calls (x86-64 numbers) that return `-EINTR`, not a restart code,
/// when anything interrupts their sleep: `rt_sigtimedwait` (`sigwaitinfo()`,
/// `sigtimedwait()`), `epoll_wait`, `epoll_pwait`, `epoll_pwait2`.
const NR_EINTR_WAITS: [usize; 4] = [128, 232, 281, 441];

/// Undoes the checkpoint's own interruption of a wait: the task
/// work that parks a thread interrupts its sleep (`TWA_SIGNAL`), and
/// the calls of [`NR_EINTR_WAITS`], unlike most, then return `-EINTR`
/// rather than a restart code. (A restarted wait counts its relative
/// timeout again from the restart.) If the current thread is on its way back from that
/// call with `-EINTR` and no signal it could take is pending (so nothing
/// but the checkpoint interrupted it), turns the return into a restart of
/// the call, as the kernel does for `-ERESTARTNOHAND` (`ax` = the call
/// number, `ip` back on the `syscall` instruction), for the original and,
/// read after this, the image. Returns whether it did.
pub(crate) fn undo_parking_eintr() -> bool {
    // SAFETY: The current task's own registers, in its task work on the
    // way back to user space; its pending sets read under its siglock.
    unsafe {
        let regs = &mut *ffi::cr_current_pt_regs();
        if !NR_EINTR_WAITS.contains(&regs.orig_ax)
            || regs.ax as isize != -(bindings::EINTR as isize)
        {
            return false;
        }
        let t = cur();
        let _l = SigLock::new();
        let blocked = (*tf!(t, blocked)).sig[0];
        let pending = (*queue_of(false)).signal.sig[0] | (*queue_of(true)).signal.sig[0];
        if pending & !blocked != 0 {
            return false;
        }
        regs.ax = regs.orig_ax;
        regs.ip -= 2;
    }
    true
}
