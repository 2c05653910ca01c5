// SPDX-License-Identifier: GPL-2.0

//! Event descriptors (eventfd, timerfd, signalfd): what their files show in
//! `/proc/PID/fdinfo`, read without changing them, and the realtime clock.

use kernel::{bindings, fs::File, prelude::*};

/// Runs `f`'s `show_fdinfo` (what `/proc/PID/fdinfo/FD` prints after its
/// generic lines) into `buf` and returns the text: `EINVAL` if the file
/// shows nothing, `EOVERFLOW` if the text does not fit.
pub(crate) fn show_fdinfo<'b>(f: &File, buf: &'b mut [u8]) -> Result<&'b [u8]> {
    let fp = f.as_ptr();
    // SAFETY: `f` is valid, and its `f_op` is set and constant while it is
    // open.
    let show = unsafe { (*(*fp).f_op).show_fdinfo };
    let Some(show) = show else {
        return Err(EINVAL);
    };
    // A seq_file of our own buffer: the seq_printf family writes into
    // `buf[count..size]` and marks an overflow with `count == size`; no
    // show_fdinfo of a file touches the lock, the iterator or the file.
    let mut m = bindings::seq_file {
        buf: buf.as_mut_ptr().cast(),
        size: buf.len(),
        ..Default::default()
    };
    // SAFETY: `show` is `f`'s own `show_fdinfo`, called as procfs calls it,
    // with a seq_file whose buffer is valid for `size` bytes and a valid file.
    unsafe { show(&mut m, fp) };
    if m.count >= m.size {
        return Err(EOVERFLOW);
    }
    Ok(&buf[..m.count])
}

/// `CLOCK_REALTIME` now, in nanoseconds since the epoch.
pub(crate) fn realtime_ns() -> i64 {
    // SAFETY: Always safe outside NMI context.
    unsafe { bindings::ktime_get_real() }
}

/// Offset of `tintv` in fs/timerfd.c's `struct timerfd_ctx` (private to
/// that file): it follows a union of a `struct hrtimer` and a `struct alarm`.
const TIMERFD_TINTV_OFFSET: usize = {
    let h = core::mem::size_of::<bindings::hrtimer>();
    let a = core::mem::size_of::<bindings::alarm>();
    let s = if h > a { h } else { a };
    (s + 7) & !7
};

/// The expiration of the hrtimer of a timerfd `f` (a file of `[timerfd]`,
/// not on an alarm clock) whose interval is `interval_ns` (non-zero), and
/// the time now on the timer's clock base, both in nanoseconds. fdinfo
/// shows the remaining time of an expired timer as 0; a periodic one that
/// has expired and not been read still keeps its last expiration, from
/// which a read counts the intervals since. The layout of the file's
/// private data (its hrtimer first, its interval after the union) is
/// checked: the interval read there must be `interval_ns`; `None` if it is
/// not, or if the timer has no clock base.
pub(crate) fn timerfd_expires(f: &File, interval_ns: u64) -> Option<(i64, i64)> {
    if interval_ns == 0 || interval_ns > i64::MAX as u64 {
        return None;
    }
    // SAFETY: `f` is valid.
    let p = unsafe { (*f.as_ptr()).private_data }.cast::<u8>();
    if p.is_null() {
        return None;
    }
    // SAFETY: A `[timerfd]` file's private data is its `timerfd_ctx`,
    // allocated while the file is open and larger than its union and its
    // `tintv`; read as the kernel's lockless readers do.
    let tintv = unsafe { core::ptr::read_volatile(p.add(TIMERFD_TINTV_OFFSET).cast::<i64>()) };
    if tintv as u64 != interval_ns {
        return None;
    }
    let t = p.cast::<bindings::hrtimer>();
    // SAFETY: As above: the hrtimer is the first member of the context.
    let (expires, base) = unsafe {
        (
            core::ptr::read_volatile(core::ptr::addr_of!((*t).node.expires)),
            core::ptr::read_volatile(core::ptr::addr_of!((*t).base)),
        )
    };
    if base.is_null() {
        return None;
    }
    // SAFETY: A set-up hrtimer's base is a per-CPU clock base, never freed.
    let clock = unsafe { (*base).clockid };
    // SAFETY: Always safe outside NMI context.
    let now = unsafe {
        match clock as u32 {
            bindings::CLOCK_REALTIME => bindings::ktime_get_real(),
            bindings::CLOCK_MONOTONIC => bindings::ktime_get(),
            bindings::CLOCK_BOOTTIME => bindings::ktime_get_boottime(),
            _ => return None,
        }
    };
    Some((expires, now))
}
