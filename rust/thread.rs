// SPDX-License-Identifier: GPL-2.0

//! Per-thread state: tid, blocked mask, alternate signal stack, name,
//! thread-exit pointers, rseq, scheduling policy, nice value, CPU affinity
//! and I/O priority, and (through `regs.rs`) registers. Record:
//! [`format::Thread`], followed by the thread's regs and xstate records.
//! Everything else (memory, files, credentials, signal dispositions...) is
//! per process.

use crate::{
    error::{eopnotsupp, refuse, Refusal},
    format::{self, Record},
    kapi::{self, current, current::refuse as rf, sigpending},
    log::{fail, Log},
    regs::{RegsPlan, RegsReader, RegsSnap},
    signals::{AltStack, PendingPlan, PendingSnap},
    stream::ImageWriter,
    task::{Rlimits, RLIMIT_RTPRIO},
};
use kernel::{alloc::KVec, fs::File, prelude::*};

// ------------------------------------------------------------ checkpoint

/// One thread of a snapshot.
pub(crate) struct ThreadSnap {
    pub(crate) tid: i32,
    pub(crate) regs: KBox<RegsSnap>,
    /// The blocked mask, also the process's signals record's (leader).
    pub(crate) blocked: u64,
    /// The alternate stack, also the process's signals record's (leader).
    pub(crate) altstack: AltStack,
    misc: kapi::Misc,
    /// The thread's credentials: the image has one set per process, so a
    /// thread whose own differ is refused (see [`ThreadSnap::check_creds`]).
    creds: kapi::Creds,
    sched: format::Sched,
    pdeath_signal: u32,
    /// The thread's own pending signals (`task->pending`).
    pending: PendingSnap,
}

/// The parent-death signal, or why the thread's other odd state cannot be
/// saved (a timer slack set with `PR_SET_TIMERSLACK`).
fn gather_extra(pid: i32, tid: i32, sched: &format::Sched) -> Result<u32, Refusal> {
    let e = current::extra();
    // A real-time task's slack is 0, as the kernel sets it with the policy.
    let rt = matches!(sched.policy, format::SCHED_FIFO | format::SCHED_RR);
    if e.timer_slack_ns != e.default_timer_slack_ns && !(rt && e.timer_slack_ns == 0) {
        return Err(refuse!(
            eopnotsupp(),
            "pid {pid} tid {tid}: timer slack {} ns (PR_SET_TIMERSLACK): not supported yet",
            e.timer_slack_ns
        ));
    }
    Ok(e.pdeath_signal.clamp(0, 64) as u32)
}

/// `SECCOMP_MODE_STRICT`.
const SECCOMP_MODE_STRICT: i32 = 1;
/// `SCHED_DEADLINE`.
const SCHED_DEADLINE: u32 = 6;
/// `CAP_SYS_ADMIN`.
const CAP_SYS_ADMIN: i32 = 21;
/// `CAP_SYS_NICE`.
const CAP_SYS_NICE: i32 = 23;
/// `IOPRIO_CLASS_RT`.
const IOPRIO_CLASS_RT: u32 = 1;

/// The current thread's scheduling state, or why it cannot be saved.
fn gather_sched(pid: i32, tid: i32) -> Result<format::Sched, Refusal> {
    let k = current::sched();
    if k.policy == SCHED_DEADLINE {
        return Err(refuse!(
            eopnotsupp(),
            "pid {pid} tid {tid}: SCHED_DEADLINE: not supported yet"
        ));
    }
    if !matches!(
        k.policy,
        format::SCHED_NORMAL
            | format::SCHED_FIFO
            | format::SCHED_RR
            | format::SCHED_BATCH
            | format::SCHED_IDLE
    ) {
        return Err(refuse!(
            eopnotsupp(),
            "pid {pid} tid {tid}: scheduling policy {}: not supported",
            k.policy
        ));
    }
    let words = 64 * format::SCHED_CPU_WORDS as u32;
    if k.all_cpus == 0 && k.nr_cpu_ids > words {
        return Err(refuse!(
            eopnotsupp(),
            "pid {pid} tid {tid}: CPU affinity on a machine with more than {words} CPUs: not supported"
        ));
    }
    Ok(format::Sched {
        policy: k.policy,
        priority: k.priority,
        nice: k.nice,
        flags: if k.reset_on_fork != 0 {
            format::SCHED_RESET_ON_FORK
        } else {
            0
        },
        ioprio: k.ioprio,
        cpus: if k.all_cpus != 0 { [0; 16] } else { k.cpus },
    })
}

impl ThreadSnap {
    /// Reads the current thread's own state (runs in the thread).
    #[inline(never)]
    pub(crate) fn gather(pid: i32, tid: i32) -> Result<Self, Refusal> {
        // First, whatever follows: the original (and the image, whose
        // registers are read after this) re-issues a signal wait the
        // parking interrupted.
        sigpending::undo_parking_eintr();
        // A SIGKILL that came after the task parked is not state to save.
        if current::fatal_signal_pending() {
            return Err(refuse!(EAGAIN, "pid {pid}: killed during the checkpoint"));
        }
        let r = current::refusals(false);
        if r & rf::SECCOMP != 0 {
            // kernel/seccomp.c exports nothing: its filter struct is
            // private (the stack cannot be read) and neither
            // `seccomp_set_mode_filter()` nor `prctl_set_seccomp()` is
            // reachable (no filter or mode can be attached). Dropping it
            // would restore a sandboxed program unsandboxed.
            return Err(if current::seccomp_mode() == SECCOMP_MODE_STRICT {
                refuse!(
                    eopnotsupp(),
                    "pid {pid} tid {tid}: seccomp strict mode: cannot be restored by a module (7.2 exports no way to set a seccomp mode): not supported"
                )
            } else {
                refuse!(
                    eopnotsupp(),
                    "pid {pid} tid {tid}: seccomp filter mode: cannot be restored by a module (7.2 exports no way to read or attach a filter): not supported"
                )
            });
        }
        let s = current::signals()?;
        let sched = gather_sched(pid, tid)?;
        let pdeath_signal = gather_extra(pid, tid, &sched)?;
        Ok(ThreadSnap {
            tid,
            regs: KBox::new(RegsSnap::gather(pid)?, GFP_KERNEL_ACCOUNT)?,
            // Not a sigsuspend()'s temporary mask, which the restored
            // thread sets again as it re-issues the call.
            blocked: sigpending::blocked_on_return(),
            altstack: AltStack::from_kernel(s.ss_sp, s.ss_size, s.ss_flags),
            misc: current::misc(),
            creds: current::creds(),
            sched,
            pdeath_signal,
            pending: PendingSnap::gather(pid, tid, false)?,
        })
    }

    /// Refuses a thread whose credentials differ from its process's (the
    /// leader's): the image holds one set per process.
    pub(crate) fn check_creds(&self, pid: i32, process: &kapi::Creds) -> Result<(), Refusal> {
        if self.creds != *process {
            return Err(refuse!(
                eopnotsupp(),
                "pid {pid} tid {}: credentials differ from its process's (per-thread credentials): not supported yet",
                self.tid
            ));
        }
        Ok(())
    }

    /// Writes the thread, regs and xstate records.
    pub(crate) fn write(&self, w: &mut ImageWriter<'_>) -> Result {
        let m = &self.misc;
        let mut comm = m.comm;
        comm[format::COMM_LEN - 1] = 0;
        let t = format::Thread {
            tid: self.tid,
            pdeath_signal: self.pdeath_signal,
            blocked: self.blocked,
            altstack: self.altstack.to_record(),
            comm,
            clear_child_tid: m.clear_child_tid,
            robust_list: (m.robust_list, m.robust_list_len),
            rseq: (m.rseq, m.rseq_len, m.rseq_sig),
            sched: self.sched,
        };
        w.record(|b| t.encode(b))?;
        self.regs.write(w)?;
        self.pending.write(w)
    }
}

// ------------------------------------------------------------ restart

/// One thread of a restart plan.
pub(crate) struct ThreadPlan {
    pub(crate) thread: format::Thread,
    regs: RegsPlan,
    /// Its own pending signals.
    pending: PendingPlan,
}

/// The threads of a process of a restart plan, in tree order.
pub(crate) struct ThreadsPlan {
    pub(crate) list: KVec<ThreadPlan>,
    /// The thread record whose regs and xstate records come next.
    pending: Option<(format::Thread, RegsReader)>,
}

impl ThreadsPlan {
    /// No thread yet.
    pub(crate) fn new() -> Self {
        ThreadsPlan {
            list: KVec::new(),
            pending: None,
        }
    }

    /// Takes a thread, regs or xstate record (`Ok(false)` for any other).
    /// The caller has checked a thread record's place in the tree.
    pub(crate) fn add(&mut self, rec: &Record<'_>, log: &Log) -> Result<bool> {
        match rec {
            Record::PendingSig(s) if !s.shared() => {
                let t = self.list.last_mut().ok_or(EINVAL)?;
                if self.pending.is_some() || t.thread.tid != s.tid {
                    return Err(fail!(
                        log,
                        EINVAL,
                        "bad image: pending signal of tid {} out of place",
                        s.tid
                    ));
                }
                t.pending.add(s, log)?;
            }
            Record::Thread(t) => self.pending = Some((*t, RegsReader::new())),
            Record::Regs(_) | Record::Xstate(_) => {
                let (_, regs) = self.pending.as_mut().ok_or(EINVAL)?;
                if let Some(regs) = regs.add(rec)? {
                    let (thread, _) = self.pending.take().ok_or(EINVAL)?;
                    let pending = PendingPlan::new();
                    self.list.push(
                        ThreadPlan {
                            thread,
                            regs,
                            pending,
                        },
                        GFP_KERNEL_ACCOUNT,
                    )?;
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl ThreadPlan {
    /// Checks the thread's alternate stack and registers (anywhere: they
    /// do not depend on the checking task).
    pub(crate) fn check(&self, log: &Log) -> Result {
        let a = AltStack::from_record(self.thread.altstack);
        if !a.usable() {
            return Err(fail!(
                log,
                EINVAL,
                "tid {}: alternate signal stack {:#x}+{:#x} unusable",
                self.thread.tid,
                a.sp,
                a.size
            ));
        }
        let (rseq, len, _) = self.thread.rseq;
        if rseq != 0 && !current::rseq_area_ok(rseq, len) {
            return Err(fail!(
                log,
                EINVAL,
                "tid {}: rseq area {rseq:#x}+{len:#x} unusable",
                self.thread.tid
            ));
        }
        self.regs.check(log)
    }

    /// Checks, in the task that will become this thread (with the image's
    /// credentials), that it may take the thread's scheduling state as the
    /// system calls would let it: a real-time policy needs `CAP_SYS_NICE`
    /// or a high enough `RLIMIT_RTPRIO`, a lower nice value `CAP_SYS_NICE`
    /// or `RLIMIT_NICE`, a real-time I/O class `CAP_SYS_ADMIN` or
    /// `CAP_SYS_NICE`; and that an affinity names a CPU online here.
    pub(crate) fn check_sched(&self, log: &Log) -> Result {
        let s = &self.thread.sched;
        let tid = self.thread.tid;
        let nice_cap = kapi::capable(CAP_SYS_NICE);
        if matches!(s.policy, format::SCHED_FIFO | format::SCHED_RR)
            && !nice_cap
            && Rlimits::current().0[RLIMIT_RTPRIO].cur < u64::from(s.priority)
        {
            return Err(fail!(
                log,
                EPERM,
                "tid {tid}: real-time policy {} priority {}: needs CAP_SYS_NICE or RLIMIT_RTPRIO",
                s.policy,
                s.priority
            ));
        }
        if s.nice < current::nice() && !current::can_nice(s.nice) {
            return Err(fail!(
                log,
                EPERM,
                "tid {tid}: nice {}: below the caller's {}, needs CAP_SYS_NICE or RLIMIT_NICE",
                s.nice,
                current::nice()
            ));
        }
        if s.ioprio >> 13 == IOPRIO_CLASS_RT && !kapi::capable(CAP_SYS_ADMIN) && !nice_cap {
            return Err(fail!(
                log,
                EPERM,
                "tid {tid}: real-time I/O priority: needs CAP_SYS_ADMIN or CAP_SYS_NICE"
            ));
        }
        if s.cpus != [0; 16] && !current::cpus_usable(&s.cpus) {
            return Err(fail!(
                log,
                EINVAL,
                "tid {tid}: CPU affinity: none of its CPUs is online here"
            ));
        }
        Ok(())
    }

    /// Installs the thread's state; `personality`, `umask` and
    /// `no_new_privs` come from its process; `dev` is the `/dev/cr` file.
    pub(crate) fn restore(
        &self,
        personality: u32,
        umask: u32,
        no_new_privs: bool,
        dev: &File,
    ) -> Result {
        let t = &self.thread;
        let m = kapi::Misc {
            personality,
            umask,
            comm: t.comm,
            clear_child_tid: t.clear_child_tid,
            robust_list: t.robust_list.0,
            robust_list_len: t.robust_list.1,
            ..Default::default()
        };
        current::set_misc(&m, no_new_privs);
        let (rseq, len, sig) = t.rseq;
        if rseq != 0 {
            current::set_rseq(rseq, len, sig, if len > 32 { 2 } else { 1 });
        }
        let s = &t.sched;
        let all = s.cpus == [0; 16];
        current::set_sched(&kapi::Sched {
            policy: s.policy,
            priority: s.priority,
            nice: s.nice,
            reset_on_fork: u32::from(s.flags & format::SCHED_RESET_ON_FORK != 0),
            ioprio: s.ioprio,
            all_cpus: u32::from(all),
            cpus: s.cpus,
            ..Default::default()
        })?;
        // After the credentials, whose change cleared it.
        current::set_pdeath_signal(t.pdeath_signal);
        // Every signal blocked until [`Self::finish`]: pending signals are
        // queued back without waking anyone or being discarded as ignored.
        current::set_blocked(u64::MAX);
        AltStack::from_record(t.altstack).restore();
        self.regs.restore(dev)
    }

    /// Last step, once every task of the tree is restored (so its process's
    /// dispositions, which setting one to `SIG_IGN` would flush from every
    /// queue, are in place): queues the thread's own pending signals back
    /// and sets its blocked mask, which makes those not blocked (its own
    /// and its process's) pending for delivery on the return to user space.
    pub(crate) fn finish(&self, log: &Log) -> Result {
        self.pending.restore(false, log)?;
        current::set_blocked(self.thread.blocked);
        Ok(())
    }
}
