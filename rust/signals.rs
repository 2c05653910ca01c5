// SPDX-License-Identifier: GPL-2.0

//! Signal dispositions. Record: [`format::Signals`]. Pending signals, per
//! thread and per process: [`format::PendingSig`] (read peeking, queued back
//! blocked, see `kapi/sigpending.rs`). Timers are refused at checkpoint
//! (see `task.rs`).
//!
//! The record also holds a blocked mask and an alternate stack, which Linux
//! keeps per thread: they are the thread's (see `thread.rs`), written from
//! the leader's and, on restart, checked but restored per thread only.

use crate::{
    error::{eopnotsupp, refuse, Refusal},
    format,
    format::Record,
    kapi::{self, current, sigpending},
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
    /// The process's pending signals (`shared_pending`).
    pending: PendingSnap,
}

impl SigSnap {
    /// Reads the current task's signal state (runs in the target).
    pub(crate) fn gather(pid: i32) -> Result<Self, Refusal> {
        Ok(SigSnap {
            s: current::signals()?,
            pending: PendingSnap::gather(pid, pid, true)?,
        })
    }

    /// Writes the process's pending-signal records (after its threads).
    pub(crate) fn write_pending(&self, w: &mut ImageWriter<'_>) -> Result {
        self.pending.write(w)
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
    /// The process's pending signals.
    pending: PendingPlan,
}

impl SigPlan {
    /// A plan waiting for its signals record.
    pub(crate) fn new() -> Self {
        SigPlan {
            actions: KVec::new(),
            pending: PendingPlan::new(),
        }
    }

    /// Whether every record the plan needs was read.
    pub(crate) fn complete(&self) -> bool {
        !self.actions.is_empty()
    }

    /// Takes the signals record (`Ok(false)` for any other), checking its
    /// alternate stack, which the threads' own records restore.
    pub(crate) fn add(&mut self, rec: &Record<'_>, log: &Log) -> Result<bool> {
        if let Record::PendingSig(p) = rec {
            if !p.shared() {
                return Ok(false);
            }
            self.pending.add(p, log)?;
            return Ok(true);
        }
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

    /// Queues the process's pending signals back (after [`Self::restore`]
    /// and with every signal blocked in the current thread).
    pub(crate) fn restore_pending(&self, log: &Log) -> Result {
        self.pending.restore(true, log)
    }
}

// ------------------------------------------------------------ pending signals

/// `SIGRTMIN`: signals below it are queued at most once per queue.
const SIGRTMIN: u32 = 32;

/// Pending signals of a thread or (`shared`) of a process, at checkpoint.
pub(crate) struct PendingSnap {
    list: KVec<format::PendingSig>,
}

impl PendingSnap {
    /// Reads the current thread's pending signals or, with `shared`, its
    /// process's, without dequeuing them (runs in the target).
    pub(crate) fn gather(pid: i32, tid: i32, shared: bool) -> Result<Self, Refusal> {
        let got = sigpending::pending(shared)
            .map_err(|e| refuse!(e, "pid {pid} tid {tid}: cannot read its pending signals"))?;
        let mut list = KVec::with_capacity(got.len(), GFP_KERNEL_ACCOUNT)?;
        for s in got.iter() {
            // Killed during the checkpoint: it is exiting (and an image
            // holds no SIGKILL).
            if s.signo == format::SIGKILL {
                return Err(refuse!(
                    ESRCH,
                    "pid {pid} tid {tid}: exiting (SIGKILL pending)"
                ));
            }
            if s.timer {
                return Err(refuse!(
                    eopnotsupp(),
                    "pid {pid}: pending POSIX timer signal: not supported yet"
                ));
            }
            list.push(
                format::PendingSig {
                    signo: s.signo,
                    flags: if shared { format::PENDING_SHARED } else { 0 }
                        | if s.noinfo { format::PENDING_NOINFO } else { 0 },
                    tid: if shared { 0 } else { tid },
                    errno: s.errno,
                    code: s.code,
                    fields: s.fields,
                },
                GFP_KERNEL_ACCOUNT,
            )?;
        }
        Ok(PendingSnap { list })
    }

    /// Writes one pending-signal record per signal, in queue order.
    pub(crate) fn write(&self, w: &mut ImageWriter<'_>) -> Result {
        for s in self.list.iter() {
            w.record(|b| s.encode(b))?;
        }
        Ok(())
    }
}

/// Pending signals of a thread or of a process, at restart.
pub(crate) struct PendingPlan {
    list: KVec<format::PendingSig>,
}

impl PendingPlan {
    /// None yet.
    pub(crate) fn new() -> Self {
        PendingPlan { list: KVec::new() }
    }

    /// Takes a pending-signal record (the caller checked whose it is).
    /// Fails for a standard signal queued twice on one queue, which the
    /// kernel never does.
    pub(crate) fn add(&mut self, s: &format::PendingSig, log: &Log) -> Result {
        if s.signo < SIGRTMIN && self.list.iter().any(|x| x.signo == s.signo) {
            return Err(fail!(
                log,
                EINVAL,
                "bad image: standard signal {} pending twice on one queue",
                s.signo
            ));
        }
        self.list.push(*s, GFP_KERNEL_ACCOUNT)?;
        Ok(())
    }

    /// Queues the signals back on the current thread's queue or (`shared`)
    /// its process's, in order, with every signal blocked (see
    /// [`sigpending::queue`]).
    pub(crate) fn restore(&self, shared: bool, log: &Log) -> Result {
        for s in self.list.iter() {
            let k = sigpending::PendingSig {
                signo: s.signo,
                errno: s.errno,
                code: s.code,
                fields: s.fields,
                noinfo: s.flags & format::PENDING_NOINFO != 0,
                timer: false,
            };
            sigpending::queue(&k, shared).map_err(|e| {
                fail!(
                    log,
                    e,
                    "pending signal {} could not be queued back (RLIMIT_SIGPENDING or memory)",
                    s.signo
                )
            })?;
        }
        Ok(())
    }
}
