// SPDX-License-Identifier: GPL-2.0

//! `CR_IOC_CHECKPOINT`: dump a process and its subtree into an image on the
//! caller's fd.
//!
//! How the tasks are held still without noticing: the caller queues a task
//! work on every thread of every process of the subtree (`TWA_SIGNAL`, which
//! interrupts a sleep the way a signal would, but queues no signal). At its
//! next return to user space each task runs [`Job::park`] in its own context:
//! it reads its thread state (registers, mask, alternate stack) and parks,
//! killably. The caller collects the tree again until no task appeared (a
//! parked task cannot fork or clone). Then each process's leader reads the
//! state its threads share (memory map, files, credentials, signal
//! handlers), with every task of the tree still parked, and parks again.
//! The caller writes the image, reading page contents through each process's
//! mm. Nothing is written in a target's context, so a broken pipe or a full
//! disk hits the caller. When the caller finishes, fails, or is killed,
//! every task is released and resumes exactly where it was: an interrupted
//! system call restarts as it would after a signal with no handler.

use crate::{
    error::{eopnotsupp, refuse, Refusal, WriteError},
    files, format, kapi,
    kapi::{current, PidNs, TaskRef},
    log::{fail, Log},
    memory,
    shared::SharedIds,
    signals,
    stream::{self, ImageWriter},
    task, thread, timers,
    uapi::CheckpointArgs,
};
use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use kernel::{
    alloc::KVec,
    bindings,
    fs::File,
    new_spinlock,
    prelude::*,
    sync::{aref::ARef, Arc, SpinLock},
};

/// How long the caller waits for the target to reach a point where it can
/// be inspected (its next return to user space).
const PARK_TIMEOUT_MS: u64 = 30_000;

/// The per-process part of a snapshot, read by the thread group leader once
/// every thread of the tree is parked.
pub(crate) struct ProcSnap {
    pub(crate) task: KBox<task::TaskSnap>,
    pub(crate) signals: signals::SigSnap,
    pub(crate) mem: memory::MemSnap,
    pub(crate) files: files::FilesSnap,
    pub(crate) timers: timers::TimerSnap,
}

impl ProcSnap {
    /// Collects the current process's shared state. Runs in its leader.
    #[inline(never)]
    fn gather(ns: PidNs) -> Result<KBox<Self>, Refusal> {
        let task = KBox::new(task::TaskSnap::gather(ns)?, GFP_KERNEL_ACCOUNT)?;
        let pid = task.ids.pid;
        Ok(KBox::new(
            ProcSnap {
                signals: signals::SigSnap::gather(pid)?,
                mem: memory::MemSnap::gather(pid)?,
                files: files::FilesSnap::gather(pid)?,
                timers: timers::TimerSnap::gather(pid)?,
                task,
            },
            GFP_KERNEL_ACCOUNT,
        )?)
    }
}

/// What one task leaves for the caller.
struct JobState {
    /// The caller gave up: the task must not park.
    abandoned: bool,
    /// The task exited before it could be inspected.
    exited: bool,
    thread: Option<Result<KBox<thread::ThreadSnap>, Refusal>>,
    process: Option<Result<KBox<ProcSnap>, Refusal>>,
}

/// One task of a checkpoint in flight, shared by the caller and the task,
/// which runs it as task work ([`kapi::TaskWork`]).
#[pin_data]
struct Job {
    work: kapi::TaskWorkHead,
    /// Completed by the task once its thread state is in `state`.
    #[pin]
    parked: kapi::KCompletion,
    /// Leaders: completed by the caller when every task is parked, to
    /// collect the process state.
    #[pin]
    go: kapi::KCompletion,
    /// Leaders: completed once the process state is in `state`.
    #[pin]
    gathered: kapi::KCompletion,
    /// Completed by the caller when the task may resume.
    #[pin]
    release: kapi::KCompletion,
    #[pin]
    state: SpinLock<JobState>,
    ns: PidNs,
    leader: bool,
    pid: i32,
    tid: i32,
    /// The task's exec counter when queued: an exec in between is refused.
    exec_id: u64,
    /// The task was held in a job-control stop when queued: it was woken
    /// into the parking ([`kapi::TaskRef::wake_stopped`]) and stops again
    /// after it.
    stopped: bool,
    /// Stopped tasks: how the wake left the blocked mask (0: untouched, 1:
    /// every signal blocked, `saved_blocked` to put back; 2: blocked, and
    /// put back by the task's own way out of the stop, a saved mask).
    masked: AtomicU8,
    saved_blocked: AtomicU64,
    /// The `/dev/cr` file: holds the module while the work is queued.
    _dev: ARef<File>,
}

kapi::impl_has_task_work!(Job, work);

impl kapi::TaskWork for Job {
    /// Task work entry point, in the task.
    fn run(this: Arc<Self>) {
        if this.masked.load(Ordering::Acquire) == 1 {
            current::set_blocked(this.saved_blocked.load(Ordering::Acquire));
        }
        this.park();
        if this.stopped {
            kapi::current_stop_again();
        }
    }
}

impl Job {
    fn park(&self) {
        if self.state.lock().abandoned {
            return;
        }
        if current::fatal_signal_pending() || current::exiting() {
            self.state.lock().exited = true;
            self.parked.complete_all();
            return;
        }
        if TaskRef::by_vpid_current().exec_id() != self.exec_id {
            let r = refuse!(
                EAGAIN,
                "pid {} executed a new program during the checkpoint",
                self.pid
            );
            self.state.lock().thread = Some(Err(r));
            self.parked.complete_all();
            return;
        }
        let t = thread::ThreadSnap::gather(self.pid, self.tid)
            .map(|t| KBox::new(t, GFP_KERNEL_ACCOUNT));
        let t = match t {
            Ok(Ok(t)) => Ok(t),
            Ok(Err(e)) => Err(Refusal::from(e)),
            Err(r) => Err(r),
        };
        let ok = t.is_ok();
        self.state.lock().thread = Some(t);
        self.parked.complete_all();
        if !ok {
            return;
        }
        if self.leader {
            // Every thread of the tree is parked before a process's shared
            // state (memory map, files) is read: nothing can change it.
            if self.go.wait_killable().is_err() || self.state.lock().abandoned {
                // Killed while parked (or the caller gave up): the caller
                // waits for this process's state, so say there is none.
                self.state.lock().exited = true;
                self.gathered.complete_all();
                return;
            }
            let p = ProcSnap::gather(self.ns);
            let ok = p.is_ok();
            self.state.lock().process = Some(p);
            self.gathered.complete_all();
            if !ok {
                return;
            }
        }
        // Held still until the caller has written the image. Only a fatal
        // signal ends this early; then the snapshot's references keep what
        // the caller reads alive while this task exits.
        let _ = self.release.wait_killable();
    }
}

/// A task of the tree as the caller tracks it.
struct Member {
    task: TaskRef,
    entry: format::TreeEntry,
    /// `None` for zombies.
    job: Option<Arc<Job>>,
    /// Position in the final tree order (`usize::MAX`: left out).
    rank: usize,
    /// Held in a job-control stop when admitted.
    stopped: bool,
    /// Leaders: the stop bits of the task record (`format::TASK_STOPPED`…).
    stop_flags: u32,
}

/// Releases every task when the caller is done, whatever happens.
struct ReleaseAll<'a>(&'a KVec<Member>);

impl Drop for ReleaseAll<'_> {
    fn drop(&mut self) {
        for m in self.0.iter() {
            if let Some(j) = &m.job {
                j.state.lock().abandoned = true;
                j.go.complete_all();
                j.release.complete_all();
            }
        }
    }
}

/// Most tasks one checkpoint takes.
const MAX_TASKS: usize = format::MAX_TASKS as usize;

/// Checks whether the caller may checkpoint `t` and whether `t` is in a
/// state that can be; returns whether it is held in a job-control stop.
fn admit(log: &Log, t: &TaskRef, ids: &kapi::TaskIds) -> Result<bool> {
    let (pid, tid) = (ids.tgid, ids.pid);
    if let Err(why) = t.may_checkpoint() {
        let reason = match why {
            kapi::Deny::Ids => "it belongs to another user",
            kapi::Deny::Caps => "it has capabilities the caller lacks",
            kapi::Deny::Dumpable => "it is not dumpable (setuid or PR_SET_DUMPABLE 0)",
        };
        return Err(fail!(log, EPERM, "pid {pid}: permission denied: {reason}"));
    }
    let st = t.state();
    if st & kapi::ts::KTHREAD != 0 {
        return Err(fail!(log, EINVAL, "pid {pid}: a kernel thread"));
    }
    if st & kapi::ts::PTRACED != 0 {
        return Err(fail!(
            log,
            EBUSY,
            "pid {pid} tid {tid}: being traced (ptrace): not supported"
        ));
    }
    if st & kapi::ts::STOPPED != 0 {
        let s = t.stop_state().unwrap_or_default();
        if !s.stopped {
            return Err(fail!(
                log,
                EAGAIN,
                "pid {pid} tid {tid}: a group stop (SIGSTOP) is under way: try again"
            ));
        }
        return Ok(true);
    }
    Ok(false)
}

/// Parks every task of the subtree of `root`: queues a job on each, waits
/// for all, and collects the tree again until no task appeared (a parked
/// task cannot fork). Zombies are recorded, not parked.
fn park_tree(
    log: &Log,
    dev: &File,
    root: &TaskRef,
    ns: PidNs,
    members: &mut KVec<Member>,
) -> Result {
    let deadline = kapi::jiffies_ms() + PARK_TIMEOUT_MS;
    loop {
        let tasks = root.collect_tree(MAX_TASKS).map_err(|e| {
            if e == E2BIG {
                fail!(log, e, "the tree has more than {MAX_TASKS} tasks")
            } else {
                fail!(log, e, "cannot collect the tree")
            }
        })?;
        let mut added = 0;
        for t in tasks {
            if members.iter().any(|m| m.task.same(&t)) {
                continue;
            }
            if t.in_callers_group() {
                return Err(fail!(
                    log,
                    EINVAL,
                    "the caller is a task of the tree it checkpoints"
                ));
            }
            // A task that is already gone (reaped) has no pid: it is not
            // part of the tree any more.
            let Ok(ids) = t.ids(ns) else { continue };
            let mut entry = format::TreeEntry {
                pid: ids.pid,
                tgid: ids.tgid,
                ppid: ids.ppid,
                pgid: ids.pgid,
                sid: ids.sid,
                flags: 0,
                exit_code: 0,
            };
            match t.zombie() {
                kapi::Zombie::Yes(_) if !t.is_leader() => continue,
                kapi::Zombie::Yes(code) => {
                    entry.flags = format::TREE_ZOMBIE;
                    entry.exit_code = code;
                    members.push(
                        Member {
                            task: t,
                            entry,
                            job: None,
                            rank: 0,
                            stopped: false,
                            stop_flags: 0,
                        },
                        GFP_KERNEL,
                    )?;
                    continue;
                }
                kapi::Zombie::DeadLeader => {
                    return Err(fail!(
                        log,
                        eopnotsupp(),
                        "pid {}: its main thread exited while others run: not supported",
                        ids.tgid
                    ));
                }
                kapi::Zombie::No => {}
            }
            if t.is_leader() && t.state() & kapi::ts::EXITING != 0 {
                return Err(fail!(
                    log,
                    EAGAIN,
                    "pid {}: exited during the checkpoint",
                    ids.tgid
                ));
            }
            let stopped = admit(log, &t, &ids)?;
            let leader = t.is_leader();
            let exec_id = t.exec_id();
            let job = Arc::pin_init(
                pin_init!(Job {
                    work: kapi::TaskWorkHead::new(),
                    parked <- kapi::KCompletion::new(),
                    go <- kapi::KCompletion::new(),
                    gathered <- kapi::KCompletion::new(),
                    release <- kapi::KCompletion::new(),
                    state <- new_spinlock!(JobState { abandoned: false, exited: false, thread: None, process: None }),
                    ns,
                    leader,
                    exec_id,
                    pid: ids.tgid,
                    tid: ids.pid,
                    stopped,
                    masked: AtomicU8::new(0),
                    saved_blocked: AtomicU64::new(0),
                    _dev: ARef::from(dev),
                }),
                GFP_KERNEL,
            )?;
            // Left stopped with its job queued, it runs that job (and, the
            // checkpoint abandoned, does nothing) after a SIGCONT.
            let mut stop_pending = false;
            if t.queue_work(job.clone()).is_err() {
                job.state.lock().exited = true;
                job.parked.complete_all();
            } else if stopped {
                // A stopped task runs no task work: wake it into the
                // parking, blocking every signal so that it takes none on
                // its way there (the job puts the mask back first). A
                // SIGCONT that came first woke it already.
                let w = t.wake_stopped(|blocked, restore| {
                    job.saved_blocked.store(blocked, Ordering::Release);
                    job.masked
                        .store(if restore { 2 } else { 1 }, Ordering::Release);
                });
                stop_pending = w == kapi::Wake::StopPending;
            }
            members.push(
                Member {
                    task: t,
                    entry,
                    job: Some(job),
                    rank: 0,
                    stopped,
                    stop_flags: 0,
                },
                GFP_KERNEL,
            )?;
            if stop_pending {
                return Err(fail!(
                    log,
                    EBUSY,
                    "pid {} tid {}: stopped with another SIGSTOP pending: not supported",
                    ids.tgid,
                    ids.pid
                ));
            }
            added += 1;
        }
        for m in members.iter() {
            let Some(j) = &m.job else { continue };
            let left = deadline.saturating_sub(kapi::jiffies_ms()).max(1);
            match j.parked.wait_killable_timeout(left) {
                Ok(()) => {}
                Err(e) if e == ETIMEDOUT => {
                    return Err(fail!(
                        log,
                        e,
                        "pid {} tid {}: did not reach a safe point within {} s (blocked in the kernel?)",
                        m.entry.tgid,
                        m.entry.pid,
                        PARK_TIMEOUT_MS / 1000
                    ))
                }
                Err(e) => return Err(fail!(log, e, "interrupted")),
            }
            let refused = {
                let mut st = j.state.lock();
                match st.thread.take() {
                    Some(Err(r)) => Some(r),
                    other => {
                        st.thread = other;
                        None
                    }
                }
            };
            if let Some(r) = refused {
                log.line(Some(r.err), format_args!("{}", crate::log::Show(r.msg())));
                return Err(r.err);
            }
        }
        if added == 0 {
            break;
        }
    }
    // Put every task in tree order (each process, then its threads;
    // parents first), as the tree is now that every task is parked. A
    // process that exited while the others were being parked is what it
    // is now: a zombie (recorded with its status) or gone (reaped, left
    // out, with its threads), as if the snapshot were taken just after.
    // Nothing leaves `members` before the order is known, so an error
    // here still releases every parked task (ReleaseAll).
    let order = root
        .collect_tree(MAX_TASKS)
        .map_err(|e| fail!(log, e, "cannot collect the tree"))?;
    let exited = |m: &Member| m.job.as_ref().is_some_and(|j| j.state.lock().exited);
    for m in members.iter_mut() {
        m.rank = usize::MAX;
    }
    for (r, t) in order.iter().enumerate() {
        let Some(m) = members.iter_mut().find(|m| m.task.same(t)) else {
            return Err(fail!(log, EAGAIN, "the tree changed during the checkpoint"));
        };
        m.rank = r;
    }
    // A parked task that left the tree (its parent exited) changed it.
    if members
        .iter()
        .any(|m| m.rank == usize::MAX && m.job.is_some() && !exited(m))
    {
        return Err(fail!(log, EAGAIN, "the tree changed during the checkpoint"));
    }
    let mut dead = KVec::new();
    for m in members.iter_mut().filter(|m| m.rank != usize::MAX) {
        if m.job.as_ref().is_some_and(|j| j.state.lock().exited) {
            match m.task.zombie() {
                kapi::Zombie::Yes(code) if m.entry.is_leader() => {
                    m.entry.flags = format::TREE_ZOMBIE;
                    m.entry.exit_code = code;
                    m.job = None;
                }
                _ => m.rank = usize::MAX,
            }
        }
        if m.entry.is_zombie() {
            dead.push(m.entry.tgid, GFP_KERNEL)?;
        }
    }
    // Threads whose process became a zombie go with it (they exited).
    for m in members.iter_mut() {
        if !m.entry.is_leader() && dead.contains(&m.entry.tgid) {
            m.rank = usize::MAX;
        }
    }
    // What is left out is exited (never parked): dropping it is safe.
    members.sort_unstable_by_key(|m| m.rank);
    members.retain(|m| m.rank != usize::MAX);
    if members.first().is_none_or(|m| m.entry.is_zombie()) {
        return Err(fail!(
            log,
            ESRCH,
            "the process exited during the checkpoint"
        ));
    }
    Ok(())
}

/// `CR_IOC_CHECKPOINT`.
#[inline(never)]
pub(crate) fn ioctl(dev: &File, arg: usize) -> Result<isize> {
    let args = CheckpointArgs::read(arg)?;
    let log = Log::open(args.logfd, "checkpoint")?;
    let external = args
        .external_pipes()
        .map_err(|e| fail!(log, e, "cannot read the external pipes' list"))?;
    let pid = args.pid;
    let fd = args.fd;
    let out = kapi::fget(fd).map_err(|e| fail!(log, e, "fd {fd}: not an open file"))?;
    if !kapi::file_mode(&out).1 {
        return Err(fail!(log, EBADF, "fd {fd}: not open for writing"));
    }
    let root = if pid > 0 { TaskRef::by_vpid(pid) } else { None };
    let root = root.ok_or_else(|| fail!(log, ESRCH, "pid {pid}: no such process"))?;
    if root.is_caller() {
        return Err(fail!(
            log,
            EINVAL,
            "pid {pid}: a process cannot checkpoint itself"
        ));
    }
    let st = root.state();
    if st & kapi::ts::KTHREAD != 0 {
        return Err(fail!(log, EINVAL, "pid {pid}: a kernel thread"));
    }
    if st & kapi::ts::EXITING != 0 || st & kapi::ts::NO_MM != 0 {
        return Err(fail!(log, ESRCH, "pid {pid}: exiting or a zombie"));
    }
    if !root.is_leader() {
        return Err(fail!(
            log,
            EINVAL,
            "pid {pid}: a thread, not a process (give its process id)"
        ));
    }

    let ns = PidNs::current();
    let mut members = KVec::new();
    let result = park_tree(&log, dev, &root, ns, &mut members).and_then(|()| {
        // Every task is parked: now each leader reads its process's
        // shared state.
        for m in members.iter().filter(|m| m.entry.is_leader()) {
            if let Some(j) = &m.job {
                j.go.complete_all();
            }
        }
        for m in members.iter().filter(|m| m.entry.is_leader()) {
            let Some(j) = &m.job else { continue };
            j.gathered
                .wait_killable()
                .map_err(|e| fail!(log, e, "interrupted"))?;
            let refused = {
                let mut st = j.state.lock();
                match st.process.take() {
                    Some(Err(r)) => Some(r),
                    None => {
                        return Err(fail!(
                            log,
                            EAGAIN,
                            "pid {}: killed during the checkpoint",
                            m.entry.tgid
                        ))
                    }
                    other => {
                        st.process = other;
                        None
                    }
                }
            };
            if let Some(r) = refused {
                log.line(Some(r.err), format_args!("{}", crate::log::Show(r.msg())));
                return Err(r.err);
            }
        }
        check_stops(&log, &mut members)?;
        write_image(&members, &out, args.flags, &external).map_err(|e| match e {
            WriteError::Refused(r) => {
                log.line(Some(r.err), format_args!("{}", crate::log::Show(r.msg())));
                r.err
            }
            WriteError::Io(e, off) => fail!(log, e, "writing the image failed at byte {off}"),
        })
    });
    if result.is_ok() && args.kill() {
        for m in members
            .iter()
            .filter(|m| m.entry.is_leader() && !m.entry.is_zombie())
        {
            m.task.send_sig(bindings::SIGKILL as i32);
        }
    }
    drop(ReleaseAll(&members));
    result.map(|()| 0)
}

/// Checks, once every process's state is read, that each process is
/// stopped (every thread held in its group stop) or not, as it was when
/// parked: a SIGCONT or a stop that came in between is refused, not saved
/// half-way. Sets each stopped leader's stop bits for its task record.
fn check_stops(log: &Log, members: &mut KVec<Member>) -> Result {
    for i in 0..members.len() {
        let m = &members[i];
        if m.job.is_none() {
            continue;
        }
        let (pid, tid) = (m.entry.tgid, m.entry.pid);
        let Some(s) = m.task.stop_state() else {
            return Err(fail!(
                log,
                EAGAIN,
                "pid {pid}: exited during the checkpoint"
            ));
        };
        if s.stopped != m.stopped {
            return Err(fail!(
                log,
                EAGAIN,
                "pid {pid} tid {tid}: {} during the checkpoint: try again",
                if m.stopped {
                    "continued (SIGCONT)"
                } else {
                    "stopped"
                }
            ));
        }
        let leader = members[..=i]
            .iter()
            .rev()
            .find(|l| l.entry.is_leader() && l.entry.tgid == pid);
        let Some(leader) = leader else { continue };
        if leader.stopped != m.stopped {
            return Err(fail!(
                log,
                EAGAIN,
                "pid {pid}: some of its threads are stopped, others not (a group stop under way): try again"
            ));
        }
        if !m.entry.is_leader() || !m.stopped {
            continue;
        }
        if !s.group {
            return Err(fail!(
                log,
                EAGAIN,
                "pid {pid}: its group stop is not complete: try again"
            ));
        }
        let sig = s.signo;
        if !(format::TASK_STOP_SIG_MIN..=format::TASK_STOP_SIG_MAX).contains(&sig) {
            return Err(fail!(
                log,
                eopnotsupp(),
                "pid {pid}: stopped by signal {sig}, not a job-control stop signal: not supported"
            ));
        }
        members[i].stop_flags = format::TASK_STOPPED
            | if s.exit_code == 0 {
                format::TASK_STOP_REPORTED
            } else {
                0
            }
            | sig << format::TASK_STOP_SIG_SHIFT;
    }
    Ok(())
}

/// A process's snapshot and its threads', taken out of the jobs.
struct ProcOut {
    proc_: KBox<ProcSnap>,
    threads: KVec<KBox<thread::ThreadSnap>>,
}

impl ProcOut {
    /// Writes the process's metadata records, each resource its own (task,
    /// signals, mm and VMAs, files, then each thread), and returns the plan
    /// of its pages, written after the meta-end record.
    fn write_meta(
        &self,
        w: &mut ImageWriter<'_>,
        shared: &mut SharedIds,
        shared_seen: &mut KVec<(u64, u64, u64)>,
        parent: Option<(u32, &memory::MemSnap)>,
    ) -> Result<memory::PagePlan, WriteError> {
        let io = |w: &ImageWriter<'_>, e: Error| WriteError::Io(e, w.written());
        let ps = &self.proc_;
        ps.task.write(w).map_err(|e| io(w, e))?;
        // Linux keeps the blocked mask and alternate stack per thread: the
        // process's record holds the leader's.
        let leader = self
            .threads
            .first()
            .ok_or(WriteError::Io(EINVAL, w.written()))?;
        ps.signals
            .write(w, leader.blocked, leader.altstack)
            .map_err(|e| io(w, e))?;
        ps.timers.write(w).map_err(|e| io(w, e))?;
        let plan = ps.mem.plan_pages(shared_seen, parent)?;
        ps.mem.write_meta(w, &plan, shared).map_err(|e| io(w, e))?;
        ps.files.write(w, shared).map_err(|e| io(w, e))?;
        for t in self.threads.iter() {
            t.write(w).map_err(|e| io(w, e))?;
        }
        ps.signals.write_pending(w).map_err(|e| io(w, e))?;
        Ok(plan)
    }
}

/// Takes the snapshots out of the jobs (no lock is held while writing).
fn take_snapshots(members: &KVec<Member>) -> Result<KVec<ProcOut>> {
    let mut out: KVec<ProcOut> = KVec::new();
    for m in members.iter() {
        let Some(j) = &m.job else { continue };
        let mut st = j.state.lock();
        let th = match st.thread.take() {
            Some(Ok(t)) => t,
            _ => return Err(EINVAL),
        };
        let pr = st.process.take();
        drop(st);
        if m.entry.is_leader() {
            let mut proc_ = match pr {
                Some(Ok(p)) => p,
                _ => return Err(EINVAL),
            };
            proc_.task.stop_flags = m.stop_flags;
            out.push(
                ProcOut {
                    proc_,
                    threads: KVec::new(),
                },
                GFP_KERNEL,
            )?;
        }
        out.last_mut().ok_or(EINVAL)?.threads.push(th, GFP_KERNEL)?;
    }
    Ok(out)
}

/// Writes the whole image: header, tree, each process with its threads,
/// meta-end, pages, tail.
fn write_image(
    members: &KVec<Member>,
    out: &File,
    flags: u32,
    external: &[u64],
) -> Result<(), WriteError> {
    let io = |w: &ImageWriter<'_>, e: Error| WriteError::Io(e, w.written());
    let mut procs = take_snapshots(members).map_err(|e| WriteError::Io(e, 0))?;
    let mut w = ImageWriter::new(out).map_err(|e| WriteError::Io(e, 0))?;

    let first = procs
        .first()
        .and_then(|p| p.threads.first())
        .ok_or(WriteError::Io(EINVAL, 0))?;
    let mut hdr = stream::here_header(first.regs.xstate.len() as u32, first.regs.xfeatures, flags);
    hdr.nr_tasks = members.len() as u32;
    w.record(|b| hdr.encode(b)).map_err(|e| io(&w, e))?;
    w.record(|b| format::Tree::encode(b, members.len(), |i| members[i].entry))
        .map_err(|e| io(&w, e))?;

    files::check_tree(
        procs.iter_mut().map(|p| {
            let ps = &mut *p.proc_;
            (ps.task.ids.pid, &mut ps.files, ps.mem.mapped_files())
        }),
        members.iter().map(|m| m.entry),
        external,
    )?;
    for p in procs.iter() {
        for t in p.threads.iter() {
            t.check_creds(p.proc_.task.ids.pid, &p.proc_.task.creds)?;
        }
    }
    // Shared anonymous memory and open files: one id per object, across
    // processes.
    let mut shared = SharedIds::new();
    let mut plans = KVec::new();
    let mut shared_seen = KVec::new();
    for (idx, p) in procs.iter().enumerate() {
        // Its parent, if in the tree: it comes first (tree order), and the
        // pages they still share since the fork are saved there.
        let ppid = p.proc_.task.ids.ppid;
        let parent = procs[..idx]
            .iter()
            .position(|q| q.proc_.task.ids.pid == ppid)
            .map(|j| (j as u32, &procs[j].proc_.mem));
        let plan = p.write_meta(&mut w, &mut shared, &mut shared_seen, parent)?;
        plans
            .push(plan, GFP_KERNEL)
            .map_err(|_| WriteError::Io(ENOMEM, w.written()))?;
    }
    let total: u64 = plans.iter().map(|p| p.total_pages()).sum();
    let me = format::MetaEnd {
        checksum: w.checksum(),
        total_pages: total,
    };
    w.record(|b| me.encode(b)).map_err(|e| io(&w, e))?;
    for (idx, (p, plan)) in procs.iter().zip(plans.iter()).enumerate() {
        p.proc_.mem.write_pages(&mut w, plan, idx as u32)?;
    }
    let tail = format::Tail {
        checksum: w.checksum(),
        total_len: w.offset() + (format::RECORD_HEADER_SIZE + 24) as u64,
        nr_records: w.records() + 1,
    };
    w.record(|b| tail.encode(b)).map_err(|e| io(&w, e))?;
    w.flush().map_err(|e| io(&w, e))?;
    Ok(())
}
