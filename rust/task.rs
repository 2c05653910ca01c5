// SPDX-License-Identifier: GPL-2.0

//! Identity of a task: ids, credentials, comm, personality, umask, working
//! directory, resource limits. Records: [`format::Task`],
//! [`format::Groups`], cwd, [`format::Rlimits`].
//!
//! Credentials are checked, never granted: restart goes ahead only if each
//! restoring task already has exactly the image's uids, gids, groups,
//! capabilities and securebits (crctl gives them with the ordinary system
//! calls, whose rules decide), and raises no hard limit above the
//! caller's unless the caller has `CAP_SYS_RESOURCE`.

use crate::{
    error::{eopnotsupp, refuse, Refusal},
    format::{self, Record},
    kapi::{self, current, current::refuse as rf, PidNs, TaskIds},
    log::{fail, Log, Show},
    stream::ImageWriter,
};
use kernel::{alloc::KVec, prelude::*};

/// `RLIMIT_CPU`.
const RLIMIT_CPU: usize = 0;
/// `RLIMIT_NOFILE`.
pub(crate) const RLIMIT_NOFILE: usize = 7;
/// `RLIMIT_RTPRIO`.
pub(crate) const RLIMIT_RTPRIO: usize = 14;
/// `RLIM_INFINITY`.
const RLIM_INFINITY: u64 = u64::MAX;
/// `CAP_SYS_RESOURCE`.
const CAP_SYS_RESOURCE: i32 = 24;

/// One resource limit (`struct rlimit`).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Rlimit {
    /// The soft limit.
    pub(crate) cur: u64,
    /// The hard limit.
    pub(crate) max: u64,
}

/// A task's resource limits, by `RLIMIT_*` number.
#[derive(Clone, Copy, Default)]
pub(crate) struct Rlimits(pub(crate) [Rlimit; format::RLIM_NLIMITS as usize]);

impl Rlimits {
    /// The current task's.
    pub(crate) fn current() -> Self {
        let w = current::rlimits();
        let mut r = Rlimits::default();
        for (i, l) in r.0.iter_mut().enumerate() {
            *l = Rlimit {
                cur: w[2 * i],
                max: w[2 * i + 1],
            };
        }
        r
    }
}

// ------------------------------------------------------------ checkpoint

/// The identity part of a snapshot.
pub(crate) struct TaskSnap {
    pub(crate) ids: TaskIds,
    pub(crate) creds: kapi::Creds,
    groups: KVec<u32>,
    misc: kapi::Misc,
    rlimits: Rlimits,
    cwd: KVec<u8>,
    /// The job-control stop bits of the task record (`format::TASK_STOPPED`
    /// …), set by the caller once every task is parked.
    pub(crate) stop_flags: u32,
}

impl TaskSnap {
    /// Reads the current task's identity (runs in the target).
    #[inline(never)]
    pub(crate) fn gather(ns: PidNs) -> Result<Self, Refusal> {
        let me = kapi::TaskRef::by_vpid_current();
        let ids = me
            .ids(ns)
            .map_err(|e| refuse!(e, "target not visible in the caller's pid namespace"))?;
        let pid = ids.pid;
        // A SIGKILL that came after the task parked is not state to save.
        if current::fatal_signal_pending() {
            return Err(refuse!(EAGAIN, "pid {pid}: killed during the checkpoint"));
        }
        let r = current::refusals(true);
        let what = [
            (rf::SECCOMP, "uses seccomp: not supported"),
            (
                rf::SHARED_FS,
                "shares its fs state (CLONE_FS) with another process: not supported",
            ),
            (
                rf::SHARED_FILES,
                "shares its file table (CLONE_FILES) with another process: not supported",
            ),
            (
                rf::SHARED_SIGHAND,
                "shares its signal handlers (CLONE_SIGHAND) with another process: not supported",
            ),
            (
                rf::SHARED_MM,
                "shares its memory (CLONE_VM) with another process: not supported yet",
            ),
        ];
        for (bit, msg) in what {
            if r & bit != 0 {
                return Err(refuse!(eopnotsupp(), "pid {pid}: {msg}"));
            }
        }
        let e = current::extra();
        if e.child_subreaper != 0 {
            return Err(refuse!(
                eopnotsupp(),
                "pid {pid}: is a child subreaper (PR_SET_CHILD_SUBREAPER): not supported yet"
            ));
        }
        let creds = current::creds();
        let mut groups = KVec::with_capacity(creds.ngroups as usize, GFP_KERNEL_ACCOUNT)?;
        for i in 0..creds.ngroups {
            groups.push(current::group(i)?, GFP_KERNEL_ACCOUNT)?;
        }
        let mut buf = KVec::from_elem(0u8, 4096, GFP_KERNEL_ACCOUNT)?;
        let cwd = current::cwd(&mut buf)
            .map_err(|e| refuse!(e, "pid {pid}: cannot name its working directory"))?;
        if cwd.ends_with(b" (deleted)") || cwd.first() != Some(&b'/') {
            return Err(refuse!(
                eopnotsupp(),
                "pid {pid}: working directory {} is deleted or unreachable: not supported",
                Show(cwd)
            ));
        }
        let mut c = KVec::with_capacity(cwd.len(), GFP_KERNEL_ACCOUNT)?;
        c.extend_from_slice(cwd, GFP_KERNEL_ACCOUNT)?;
        Ok(TaskSnap {
            ids,
            creds,
            groups,
            misc: current::misc(),
            rlimits: Rlimits::current(),
            cwd: c,
            stop_flags: 0,
        })
    }

    /// Writes the task, groups, cwd and rlimits records.
    pub(crate) fn write(&self, w: &mut ImageWriter<'_>) -> Result {
        let c = &self.creds;
        let m = &self.misc;
        let t = format::Task {
            pid: self.ids.pid,
            tgid: self.ids.tgid,
            ppid: self.ids.ppid,
            pgid: self.ids.pgid,
            sid: self.ids.sid,
            personality: m.personality,
            umask: m.umask,
            flags: if c.no_new_privs != 0 {
                format::TASK_NO_NEW_PRIVS
            } else {
                0
            } | (c.dumpable << format::TASK_DUMPABLE_SHIFT) & format::TASK_DUMPABLE_MASK
                | self.stop_flags,
            uids: c.uids,
            gids: c.gids,
            caps: c.caps,
            securebits: c.securebits,
            comm: {
                let mut comm = m.comm;
                comm[format::COMM_LEN - 1] = 0;
                comm
            },
            clear_child_tid: m.clear_child_tid,
            robust_list: m.robust_list,
            robust_list_len: m.robust_list_len,
            rseq: m.rseq,
            rseq_len: m.rseq_len,
            rseq_sig: m.rseq_sig,
        };
        w.record(|b| t.encode(b))?;
        w.record(|b| format::Groups::encode(b, &self.groups))?;
        w.record(|b| format::encode_record(b, format::RecordType::Cwd, |wr| wr.path(&self.cwd)))?;
        let mut r = format::Rlimits::default();
        for (l, s) in r.lim.iter_mut().zip(self.rlimits.0.iter()) {
            *l = (s.cur, s.max);
        }
        w.record(|b| r.encode(b))
    }
}

// ------------------------------------------------------------ restart

/// The identity part of a restart plan.
pub(crate) struct TaskPlan {
    pub(crate) task: KBox<format::Task>,
    groups: KVec<u32>,
    cwd: KVec<u8>,
    pub(crate) rlimits: Rlimits,
    /// The rlimits record was read.
    has_rlimits: bool,
}

impl TaskPlan {
    /// A plan from the task record, which starts a process's section.
    pub(crate) fn new(t: &format::Task) -> Result<Self> {
        Ok(TaskPlan {
            task: KBox::new(*t, GFP_KERNEL_ACCOUNT)?,
            groups: KVec::new(),
            cwd: KVec::new(),
            rlimits: Rlimits::default(),
            has_rlimits: false,
        })
    }

    /// Whether every record the plan needs was read.
    pub(crate) fn complete(&self) -> bool {
        self.has_rlimits
    }

    /// Takes a groups, cwd or rlimits record (`Ok(false)` for any other).
    pub(crate) fn add(&mut self, rec: &Record<'_>) -> Result<bool> {
        match rec {
            Record::Groups(g) => {
                self.groups = KVec::with_capacity(g.len(), GFP_KERNEL_ACCOUNT)?;
                for i in 0..g.len() {
                    self.groups.push(g.get(i), GFP_KERNEL_ACCOUNT)?;
                }
            }
            Record::Cwd(p) => {
                let mut c = KVec::with_capacity(p.len(), GFP_KERNEL_ACCOUNT)?;
                c.extend_from_slice(p, GFP_KERNEL_ACCOUNT)?;
                self.cwd = c;
            }
            Record::Rlimits(l) => {
                for (r, &(cur, max)) in self.rlimits.0.iter_mut().zip(l.lim.iter()) {
                    *r = Rlimit { cur, max };
                }
                self.has_rlimits = true;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Checks, in each task that will become one of this process's, that
    /// it already has exactly the image's credentials (crctl sets them with
    /// the ordinary system calls, which decide what it may become).
    pub(crate) fn check_creds(&self, log: &Log) -> Result {
        let t = &self.task;
        let mut img = current::creds();
        img.uids = t.uids;
        img.gids = t.gids;
        img.caps = t.caps;
        img.securebits = t.securebits;
        if let Err(what) = current::creds_match(&img, &self.groups) {
            return Err(fail!(
                log,
                EPERM,
                "image credentials (uid {} gid {}) differ from the caller's in their {what}: restart runs with the caller's credentials and never grants others",
                t.uids[0],
                t.gids[0]
            ));
        }
        Ok(())
    }

    /// Checks, before anything changes, that the caller (the coordinator of
    /// a tree restart) may restore this process: no hard limit raised
    /// without `CAP_SYS_RESOURCE`, a supported personality.
    pub(crate) fn check(&self, log: &Log) -> Result {
        let t = &self.task;
        let mine = Rlimits::current().0;
        let privileged = kapi::capable(CAP_SYS_RESOURCE);
        for (i, &Rlimit { max, .. }) in self.rlimits.0.iter().enumerate() {
            if max > mine[i].max && !privileged {
                return Err(fail!(
                    log,
                    EPERM,
                    "resource limit {i}: hard limit {max} is above the caller's {}",
                    mine[i].max
                ));
            }
            if i == RLIMIT_NOFILE && max > current::nr_open() {
                return Err(fail!(log, EPERM, "RLIMIT_NOFILE {max} is above fs.nr_open"));
            }
        }
        // 2 ("as root") only comes from a set-user-id exec with
        // fs.suid_dumpable 2; prctl() cannot set it, nor may restart.
        if (t.flags & format::TASK_DUMPABLE_MASK) >> format::TASK_DUMPABLE_SHIFT == 2 {
            return Err(fail!(
                log,
                eopnotsupp(),
                "process {}: dumpable as root (fs.suid_dumpable 2): not restored",
                t.tgid
            ));
        }
        if t.personality & 0xff != 0 {
            return Err(fail!(
                log,
                eopnotsupp(),
                "personality {:#x}: only PER_LINUX is supported",
                t.personality
            ));
        }
        Ok(())
    }

    /// Checks, in the leader of the process that will become this one, that
    /// a finite `RLIMIT_CPU` soft limit of the image is its own already
    /// (crctl sets it with `setrlimit`, which arms the process CPU timer
    /// that enforces it; the functions that arm it are not exported).
    pub(crate) fn check_cpu_limit(&self, log: &Log) -> Result {
        let img = self.rlimits.0[RLIMIT_CPU];
        let mine = Rlimits::current().0[RLIMIT_CPU];
        if img.cur != RLIM_INFINITY && img.cur != mine.cur {
            return Err(fail!(
                log,
                EINVAL,
                "RLIMIT_CPU soft limit {}: the restoring process has {} (it must set it with setrlimit first, as crctl does)",
                img.cur,
                mine.cur
            ));
        }
        Ok(())
    }

    /// Checks, in the process that will become this one, that it is in the
    /// image's working directory.
    pub(crate) fn check_cwd(&self, log: &Log) -> Result {
        let mut buf = KVec::from_elem(0u8, 4096, GFP_KERNEL)?;
        let cwd = current::cwd(&mut buf)?;
        if cwd != &self.cwd[..] {
            return Err(fail!(
                log,
                EINVAL,
                "working directory is {}, the image's is {} (the caller must chdir there before RESTART)",
                Show(cwd),
                Show(&self.cwd)
            ));
        }
        Ok(())
    }

    /// Makes the caller this task's identity (after the point of no return).
    pub(crate) fn restore(&self) {
        for (i, &Rlimit { cur, max }) in self.rlimits.0.iter().enumerate() {
            // A finite CPU soft limit is the process's own already (see
            // `check_cpu_limit`): its hard limit is plain.
            current::set_rlimit(i, cur, max);
        }
        let t = &self.task;
        let mut m = kapi::Misc {
            personality: t.personality,
            umask: t.umask,
            clear_child_tid: t.clear_child_tid,
            robust_list: t.robust_list,
            robust_list_len: t.robust_list_len,
            ..Default::default()
        };
        m.comm.copy_from_slice(&t.comm);
        current::set_misc(&m, t.flags & format::TASK_NO_NEW_PRIVS != 0);
    }

    /// Puts the current task, a thread of this process at the very end of
    /// its restart, in the group stop the image's process was in (if it
    /// was): it stops on its way back to user space, as stopped by the
    /// image's signal, its stop reported to its parent or not as it was,
    /// and no one is notified (the parent's pending SIGCHLD, if any, is
    /// the parent's own record).
    pub(crate) fn restore_stop(&self) {
        let f = self.task.flags;
        if f & format::TASK_STOPPED != 0 {
            kapi::current_enter_stop(
                (f & format::TASK_STOP_SIG_MASK) >> format::TASK_STOP_SIG_SHIFT,
                f & format::TASK_STOP_REPORTED != 0,
            );
        }
    }

    /// Sets the process's dumpability: last, once nothing of the restoring
    /// program is left that a tracer it lets in could take.
    pub(crate) fn restore_dumpable(&self) {
        let t = &self.task;
        current::set_dumpable(
            (t.flags & format::TASK_DUMPABLE_MASK) >> format::TASK_DUMPABLE_SHIFT,
        );
    }
}
