// SPDX-License-Identifier: GPL-2.0

//! Signal dispositions. Record: [`format::Signals`]. Pending signals and
//! timers are refused at checkpoint (see `task.rs`).
//!
//! The record also holds a blocked mask and an alternate stack, which Linux
//! keeps per thread: they are the thread's (see `thread.rs`), written from
//! the leader's and, on restart, checked but restored per thread only.

use crate::{
    error::Refusal,
    format,
    format::Record,
    kapi::{self, current},
    log::{fail, Log},
    stream::ImageWriter,
};
use kernel::{alloc::KVec, prelude::*};

/// `sa_flags` bits user space may set on x86-64.
const SA_KNOWN: u64 = 0x1 // SA_NOCLDSTOP
    | 0x2 // SA_NOCLDWAIT
    | 0x4 // SA_SIGINFO
    | 0x400 // SA_UNSUPPORTED
    | 0x800 // SA_EXPOSE_TAGBITS
    | 0x0400_0000 // SA_RESTORER
    | 0x0800_0000 // SA_ONSTACK
    | 0x1000_0000 // SA_RESTART
    | 0x4000_0000 // SA_NODEFER
    | 0x8000_0000; // SA_RESETHAND

/// A thread's alternate signal stack (`sigaltstack`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct AltStack {
    /// `ss_sp`: 0 when disabled.
    pub(crate) sp: u64,
    /// `ss_size`: 0 when disabled.
    pub(crate) size: u64,
    /// `ss_flags`: `SS_DISABLE` or `SS_AUTODISARM` (or neither).
    pub(crate) flags: u32,
}

impl AltStack {
    /// The stack as the kernel reports it (`ss_flags` may carry
    /// `SS_ONSTACK`, and a disabled stack its old address).
    pub(crate) fn from_kernel(sp: u64, size: u64, flags: u32) -> Self {
        let disabled = flags & format::SS_DISABLE != 0;
        AltStack {
            sp: if disabled { 0 } else { sp },
            size: if disabled { 0 } else { size },
            flags: flags & (format::SS_DISABLE | format::SS_AUTODISARM),
        }
    }

    /// The stack as an image record holds it.
    pub(crate) fn from_record((sp, size, flags): (u64, u64, u32)) -> Self {
        AltStack { sp, size, flags }
    }

    /// The stack as an image record holds it.
    pub(crate) fn to_record(self) -> (u64, u64, u32) {
        (self.sp, self.size, self.flags)
    }

    /// Whether a thread could have set it: disabled, or at least
    /// `MINSIGSTKSZ` bytes all in user space.
    pub(crate) fn usable(&self) -> bool {
        if self.flags & format::SS_DISABLE != 0 {
            return true;
        }
        let end = self.sp.checked_add(self.size);
        self.size >= current::minsigstksz() && end.is_some_and(|e| e <= current::task_size_max())
    }

    /// Installs it in the current thread.
    pub(crate) fn restore(&self) {
        current::set_altstack(self.sp, self.size, self.flags);
    }
}

/// Signal state of a snapshot.
pub(crate) struct SigSnap {
    s: KBox<kapi::Signals>,
}

impl SigSnap {
    /// Reads the current task's signal state (runs in the target).
    pub(crate) fn gather(_pid: i32) -> Result<Self, Refusal> {
        Ok(SigSnap {
            s: current::signals()?,
        })
    }

    /// Writes the signals record, with the leader's blocked mask and
    /// alternate stack.
    pub(crate) fn write(
        &self,
        w: &mut ImageWriter<'_>,
        blocked: u64,
        altstack: AltStack,
    ) -> Result {
        let s = &*self.s;
        let action = |i: usize| {
            // SIGKILL and SIGSTOP have no disposition to save.
            if i == 8 || i == 18 {
                return format::SigAction::default();
            }
            let k = &s.act[i];
            format::SigAction {
                handler: k.handler,
                flags: k.flags,
                restorer: k.restorer,
                mask: k.mask,
            }
        };
        w.record(|b| format::Signals::encode(b, blocked, altstack.to_record(), action))
    }
}

/// Signal state of a restart plan (dispositions on the heap).
pub(crate) struct SigPlan {
    actions: KVec<format::SigAction>,
}

impl SigPlan {
    /// A plan waiting for its signals record.
    pub(crate) fn new() -> Self {
        SigPlan {
            actions: KVec::new(),
        }
    }

    /// Whether every record the plan needs was read.
    pub(crate) fn complete(&self) -> bool {
        !self.actions.is_empty()
    }

    /// Takes the signals record (`Ok(false)` for any other), checking its
    /// alternate stack, which the threads' own records restore.
    pub(crate) fn add(&mut self, rec: &Record<'_>, log: &Log) -> Result<bool> {
        let Record::Signals(s) = rec else {
            return Ok(false);
        };
        let mut actions = KVec::with_capacity(format::NSIG as usize, GFP_KERNEL_ACCOUNT)?;
        for i in 0..format::NSIG as usize {
            actions.push(s.action(i), GFP_KERNEL_ACCOUNT)?;
        }
        let a = AltStack::from_record((s.altstack_sp, s.altstack_size, s.altstack_flags));
        if !a.usable() {
            return Err(fail!(
                log,
                EINVAL,
                "alternate signal stack {:#x}+{:#x} unusable",
                a.sp,
                a.size
            ));
        }
        self.actions = actions;
        Ok(true)
    }

    /// Checks handlers (in user space, known flags).
    pub(crate) fn check(&self, log: &Log) -> Result {
        let limit = current::task_size_max();
        for (i, a) in self.actions.iter().enumerate() {
            if a.handler >= limit || a.restorer >= limit {
                return Err(fail!(
                    log,
                    EINVAL,
                    "signal {}: handler outside user space",
                    i + 1
                ));
            }
            if a.flags & !SA_KNOWN != 0 {
                return Err(fail!(
                    log,
                    EINVAL,
                    "signal {}: unknown flags {:#x}",
                    i + 1,
                    a.flags
                ));
            }
        }
        Ok(())
    }

    /// Installs the dispositions in the current task.
    pub(crate) fn restore(&self) {
        current::flush_signals();
        for (i, a) in self.actions.iter().enumerate() {
            if i == 8 || i == 18 {
                continue;
            }
            let k = kapi::SigAction {
                handler: a.handler,
                flags: a.flags,
                restorer: a.restorer,
                mask: a.mask,
            };
            current::set_sigaction(i as i32 + 1, &k);
        }
    }
}
