// SPDX-License-Identifier: GPL-2.0

//! A completion waited for killably (the kernel crate's `Completion` has no
//! killable wait).

use kernel::{bindings, prelude::*, types::Opaque};

/// A `struct completion` that is waited for killably.
///
/// # Invariants
///
/// The completion is initialised once pinned (by [`KCompletion::new`]).
#[pin_data]
pub(crate) struct KCompletion {
    #[pin]
    inner: Opaque<bindings::completion>,
}

// SAFETY: Completions are made for use across threads.
unsafe impl Send for KCompletion {}
// SAFETY: As above.
unsafe impl Sync for KCompletion {}

impl KCompletion {
    /// A new, not yet completed, completion.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is valid for writes and pinned.
            inner <- Opaque::ffi_init(|slot| unsafe { bindings::init_completion(slot) }),
        })
    }

    /// Wakes every waiter, now and in the future.
    pub(crate) fn complete_all(&self) {
        // SAFETY: Initialised (invariant).
        unsafe { bindings::complete_all(self.inner.get()) };
    }

    /// Waits until completed or a fatal signal arrives (`Err(EINTR)`).
    pub(crate) fn wait_killable(&self) -> Result {
        // SAFETY: Initialised (invariant).
        match unsafe { bindings::wait_for_completion_killable(self.inner.get()) } {
            0 => Ok(()),
            _ => Err(EINTR),
        }
    }

    /// Waits up to `ms` milliseconds: `Err(ETIMEDOUT)` or `Err(EINTR)`.
    pub(crate) fn wait_killable_timeout(&self, ms: u64) -> Result {
        // `msecs_to_jiffies()` takes an `unsigned int`.
        let j = kernel::time::msecs_to_jiffies(ms as u32);
        // SAFETY: Initialised (invariant).
        let r = unsafe { bindings::wait_for_completion_killable_timeout(self.inner.get(), j) };
        match r {
            0 => Err(ETIMEDOUT),
            r if r < 0 => Err(EINTR),
            _ => Ok(()),
        }
    }
}
