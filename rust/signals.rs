// SPDX-License-Identifier: GPL-2.0

//! Signal dispositions, blocked mask and alternate stack. Record:
//! [`format::Signals`]. Pending signals and timers are refused at
//! checkpoint (see `task.rs`).

use crate::{
    error::Refusal,
    format,
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

    /// Writes the signals record.
    pub(crate) fn write(&self, w: &mut ImageWriter<'_>) -> Result {
        let s = &*self.s;
        let disabled = s.ss_flags & format::SS_DISABLE != 0;
        let altstack = (
            if disabled { 0 } else { s.ss_sp },
            if disabled { 0 } else { s.ss_size },
            s.ss_flags & (format::SS_DISABLE | format::SS_AUTODISARM),
        );
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
        w.record(|b| format::Signals::encode(b, s.blocked, altstack, action))
    }
}

/// Signal state of a restart plan (dispositions on the heap).
pub(crate) struct SigPlan {
    blocked: u64,
    altstack: (u64, u64, u32),
    actions: KVec<format::SigAction>,
}

impl SigPlan {
    /// Copies a signals record.
    pub(crate) fn new(s: &format::Signals<'_>) -> Result<Self> {
        let mut actions = KVec::with_capacity(format::NSIG as usize, GFP_KERNEL_ACCOUNT)?;
        for i in 0..format::NSIG as usize {
            actions.push(s.action(i), GFP_KERNEL_ACCOUNT)?;
        }
        Ok(SigPlan {
            blocked: s.blocked,
            altstack: (s.altstack_sp, s.altstack_size, s.altstack_flags),
            actions,
        })
    }

    /// Checks handlers (in user space, known flags) and the alternate stack.
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
        let (sp, size, flags) = self.altstack;
        if flags & format::SS_DISABLE == 0 {
            let end = sp.checked_add(size);
            if size < current::minsigstksz() || end.is_none_or(|e| e > limit) {
                return Err(fail!(
                    log,
                    EINVAL,
                    "alternate signal stack {sp:#x}+{size:#x} unusable"
                ));
            }
        }
        Ok(())
    }

    /// Installs the signal state in the current task.
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
        current::set_blocked(self.blocked);
        current::set_altstack(self.altstack.0, self.altstack.1, self.altstack.2);
    }
}
