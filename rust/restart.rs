// SPDX-License-Identifier: GPL-2.0

//! `CR_IOC_RESTART`: tasks become the programs saved in an image.
//!
//! Two ways in:
//!
//! * A single task calls RESTART and becomes the image's only task, in
//!   place, exec-style (whatever its pid).
//! * For a tree: user space (crctl) creates every process and thread with
//!   its original pid (`clone3` with `set_tid`), from one launcher that keeps
//!   the `/dev/cr` file open. The launcher calls RESTART with
//!   `CR_RESTART_COORDINATE`: it reads the image, and it alone, start to
//!   end. Every task of the tree calls RESTART on the same `/dev/cr` file
//!   and waits to be told what to do. Steps, in lock-step: (1) the launcher
//!   reads and checks all metadata, opening files as the caller; (2) each
//!   task finds itself in the image by its pid and checks what only it can
//!   (working directory, vdso position); (3) the point of no return: process
//!   by process, each leader replaces its memory by the image's mappings;
//!   (4) the launcher streams the page contents into each process; (5) every
//!   task installs its files, identity, signal state and registers; (6) all
//!   return to user space together. A failure before (3) returns an error to
//!   everyone; after it, every task of the tree is killed. No task returns
//!   to user space until all are restored.
//!
//!   With `CR_RESTART_PREMAP` (crctl's way for several processes), (3) and
//!   (4) come first, process by process, before each process's children
//!   are forked ([`premap`]): they inherit its private pages copy-on-write,
//!   as the originals shared them. The point of no return then only
//!   removes crctl's own mappings.

use crate::{
    anonfile, epoll,
    error::ReadError,
    evfd,
    files::FilesPlan,
    format::{self, Record, TreeEntry},
    kapi::{self, current, KCompletion, PeerOf, TaskRef},
    log::{fail, Log, Show},
    memory::{self, MemPlan},
    pipe, regs,
    shared::SharedObjects,
    signals::SigPlan,
    stream::{self, ImageReader},
    task::TaskPlan,
    task::RLIMIT_NOFILE,
    thread::ThreadsPlan,
    timers::TimerPlan,
    uapi::{
        RestartArgs, RestartObj, CR_RESTART_OBJ_EVENTFD, CR_RESTART_OBJ_INHERIT,
        CR_RESTART_OBJ_INOTIFY, CR_RESTART_OBJ_MEMFD, CR_RESTART_OBJ_PIPE, CR_RESTART_OBJ_SIGNALFD,
        CR_RESTART_OBJ_TIMERFD,
    },
    unix,
};
use kernel::{
    alloc::{KVVec, KVec},
    bindings,
    fs::File,
    new_condvar, new_mutex,
    prelude::*,
    sync::{aref::ARef, Arc, CondVar, Mutex},
};

/// How long tasks wait for each other at each step.
const STEP_TIMEOUT_MS: u64 = 60_000;

/// One process of a restart plan: each part is its resource's own plan.
struct ProcPlan {
    task: TaskPlan,
    signals: SigPlan,
    mem: MemPlan,
    files: FilesPlan,
    threads: ThreadsPlan,
    timers: TimerPlan,
}

impl ProcPlan {
    /// A process whose section starts with the task record `t`.
    fn new(t: &format::Task) -> Result<Self> {
        Ok(ProcPlan {
            task: TaskPlan::new(t)?,
            signals: SigPlan::new(),
            mem: MemPlan::new(),
            files: FilesPlan::new(),
            threads: ThreadsPlan::new(),
            timers: TimerPlan::new(),
        })
    }

    /// Hands a record of the process's section to the resource it belongs
    /// to (`Ok(false)`: none takes it).
    fn add(&mut self, rec: &Record<'_>, shared: &mut SharedObjects, log: &Log) -> Result<bool> {
        Ok(self.task.add(rec)?
            || self.signals.add(rec, log)?
            || self.mem.add(rec, shared, log)?
            || self.files.add(rec, shared, log)?
            || self.threads.add(rec, log)?
            || self.timers.add(rec)?)
    }

    /// Fails unless every record the process needs was read.
    fn complete(&self, log: &Log) -> Result {
        if !(self.task.complete() && self.signals.complete() && self.mem.complete()) {
            return Err(fail!(log, EINVAL, "bad image: required record missing"));
        }
        Ok(())
    }

    /// What does not depend on which task checks it.
    fn check(&self, log: &Log) -> Result {
        // Files and file mappings were opened as the reader, the caller or
        // the coordinator: it must have the process's own credentials (as
        // must each task that restores it, see `join`), or they would be
        // opened with privileges the process never had.
        self.task.check_creds(log)?;
        self.task.check(log)?;
        self.files
            .check_nofile(self.task.rlimits.0[RLIMIT_NOFILE].cur, log)?;
        self.signals.check(log)?;
        for t in self.threads.list.iter() {
            t.check(log)?;
        }
        Ok(())
    }

    /// What only the task that becomes thread `t` can check, before the
    /// point of no return: its scheduling rights and, for the leader, the
    /// working directory and the kernel-provided mappings.
    /// `premapped`: the memory is mapped already ([`premap`]).
    fn check_here(&self, t: usize, log: &Log, premapped: bool) -> Result {
        self.threads.list[t].check_sched(log)?;
        if t == 0 {
            self.task.check_cwd(log)?;
            self.task.check_cpu_limit(log)?;
            self.timers.check_here(log)?;
            self.mem.check(log, !premapped)?;
        }
        Ok(())
    }

    /// Makes the current task thread `t` of this process, once its memory
    /// holds the image's contents: the leader first installs what the
    /// process shares (mm layout, identity, files, signal dispositions,
    /// dumpability), then every thread its own state.
    fn restore(&self, t: usize, log: &Log, dev: &File) -> Result {
        if t == 0 {
            self.mem.set_layout(log)?;
            self.task.restore();
            self.files.restore(log)?;
            self.files.restore_locks(self.task.task.tgid, log)?;
            self.signals.restore();
            self.task.restore_dumpable();
            self.timers.restore(log)?;
        }
        let task = &self.task.task;
        let nnp = task.flags & format::TASK_NO_NEW_PRIVS != 0;
        self.threads.list[t]
            .restore(task.personality, task.umask, nnp, dev)
            .map_err(|e| fail!(log, e, "the image's FPU or scheduling state was refused"))?;
        if t == 0 {
            // Every signal is blocked in the leader now (see `finish`).
            self.signals.restore_pending(log)?;
        }
        Ok(())
    }

    /// Last step of thread `t`, when every task of the tree is restored:
    /// its pending signals and blocked mask.
    fn finish(&self, t: usize, log: &Log) -> Result {
        self.threads.list[t].finish(log)?;
        self.task.restore_stop();
        Ok(())
    }
}

/// Everything restart needs before the point of no return.
struct Plan {
    tree: KVec<TreeEntry>,
    procs: KVec<ProcPlan>,
    live_tasks: u32,
}

impl Plan {
    /// Finds the task `tid`: its process index and thread index.
    fn find(&self, tid: i32) -> Option<(usize, usize)> {
        for (p, proc_) in self.procs.iter().enumerate() {
            if let Some(t) = proc_.threads.list.iter().position(|t| t.thread.tid == tid) {
                return Some((p, t));
            }
        }
        None
    }

    /// The process process `p` was forked from: its parent, if in the
    /// image (parents come first).
    fn parent_of(&self, p: usize) -> Option<usize> {
        let tgid = self.procs.get(p)?.task.task.tgid;
        let ppid = self.tree.iter().find(|e| e.pid == tgid)?.ppid;
        self.procs[..p]
            .iter()
            .position(|q| q.task.task.tgid == ppid)
    }

    /// The memory plan of each process, in image order.
    fn mems(&self) -> Result<KVec<&MemPlan>> {
        let mut v = KVec::with_capacity(self.procs.len(), GFP_KERNEL)?;
        for p in self.procs.iter() {
            v.push(&p.mem, GFP_KERNEL)?;
        }
        Ok(v)
    }
}

/// Logs a read error and turns it into the errno.
fn read_fail(log: &Log, e: ReadError) -> Error {
    match e {
        ReadError::Io(e) => fail!(log, e, "reading the image failed"),
        ReadError::Format(f, off) => {
            fail!(log, EINVAL, "bad image at byte {off}: {}", f.describe())
        }
        ReadError::Logged(e) => e,
    }
}

/// Reads and checks the metadata into a plan (step 1), and the objects its
/// processes share into `shared`.
#[inline(never)]
fn read_plan(r: &mut ImageReader<'_>, log: &Log, shared: &mut SharedObjects) -> Result<KBox<Plan>> {
    let rf = |e| read_fail(log, e);
    r.magic().map_err(rf)?;
    let (xsize, xfeatures, _) = regs::here()?;
    let here = stream::here_header(xsize, xfeatures, 0);
    let mut plan = KBox::new(
        Plan {
            tree: KVec::new(),
            procs: KVec::new(),
            live_tasks: 0,
        },
        GFP_KERNEL,
    )?;
    let mut tree_walk = format::TreeWalk::new();
    loop {
        let rec = r.next().map_err(rf)?;
        match &rec {
            Record::Header(h) => {
                if let Err(e) = h.check_against(&here) {
                    return Err(fail!(
                        log,
                        EINVAL,
                        "image does not fit this kernel: {} (image from {}, running {})",
                        e.describe(),
                        Show(h.release()),
                        Show(here.release())
                    ));
                }
                continue;
            }
            Record::Tree(t) => {
                for i in 0..t.len() {
                    plan.tree.push(t.get(i), GFP_KERNEL_ACCOUNT)?;
                }
                plan.live_tasks = t.live_threads();
                continue;
            }
            Record::Task(t) => {
                if let Some(p) = plan.procs.last() {
                    p.complete(log)?;
                }
                // The i-th process section is the i-th live process of the tree.
                if tree_walk.task(&plan.tree, t).is_err() {
                    return Err(fail!(
                        log,
                        EINVAL,
                        "bad image: process {} does not match the tree",
                        t.tgid
                    ));
                }
                plan.procs.push(ProcPlan::new(t)?, GFP_KERNEL_ACCOUNT)?;
                continue;
            }
            Record::MetaEnd(_) => break,
            Record::Pages(_) | Record::Inherited(_) | Record::Tail(_) => {
                return Err(fail!(log, EINVAL, "bad image: record out of place"))
            }
            Record::Thread(t) => {
                // Threads of the process, in tree order.
                if tree_walk.thread(&plan.tree, t).is_err() {
                    return Err(fail!(
                        log,
                        EINVAL,
                        "bad image: thread {} does not match the tree",
                        t.tid
                    ));
                }
            }
            _ => {}
        }
        let b = plan.procs.last_mut().ok_or(EINVAL)?;
        if !b.add(&rec, shared, log)? {
            return Err(fail!(log, EINVAL, "bad image: record out of place"));
        }
    }
    if let Some(p) = plan.procs.last() {
        p.complete(log)?;
    }
    for p in plan.procs.iter() {
        p.check(log)?;
    }
    Ok(plan)
}

/// Steps of a tree restart.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    /// The launcher is reading the metadata.
    Reading,
    /// Tasks are arriving and checking.
    Arriving,
    /// Leaders map their memory, process by process (the index).
    Mapping(usize),
    /// The launcher streams the page contents.
    Filling,
    /// Every task installs its state.
    Restoring,
    /// All done: return to user space.
    Done,
}

struct CtxState {
    step: Step,
    failed: Option<Error>,
    plan: Option<Arc<KBox<Plan>>>,
    arrived: u32,
    restored: u32,
    /// Leader of each process, registered on arrival.
    leaders: KVec<Option<TaskRef>>,
    /// Each process's turn to map ([`Step::Mapping`]): only its leader
    /// waits for it, so handing the turn on wakes one task, not the tree.
    turns: KVec<Arc<KCompletion>>,
    /// The objects the processes share, created by the first to map them.
    shared: SharedObjects,
    /// The exchange with crctl's epoll helper.
    epoll: epoll::Handover,
    /// `CR_RESTART_PREMAP`: each process maps its memory and has it filled
    /// before its children are forked ([`premap`]).
    premap: bool,
    /// Processes whose memory is filled, in image order (premap).
    filled: usize,
    /// Which VMAs of each process were kept from its parent's (premap),
    /// once it mapped its memory.
    kept: KVec<Option<KVec<bool>>>,
    /// Per process, for premap: its turn to map (the ones before it are
    /// filled), it mapped, it is filled. Each has one waiter, so handing on
    /// wakes one task, not the tree (which waits on the condition
    /// variable).
    premap_steps: KVec<[Arc<KCompletion>; 3]>,
}

/// Indexes of [`CtxState::premap_steps`].
const PREMAP_TURN: usize = 0;
const PREMAP_MAPPED: usize = 1;
const PREMAP_FILLED: usize = 2;

/// A tree restart in flight, shared by the launcher and every task through
/// their common `/dev/cr` file.
#[pin_data]
pub(crate) struct RestartCtx {
    image: ARef<File>,
    /// The coordinator's log, where every task's failure is told.
    log: Log,
    #[pin]
    st: Mutex<CtxState>,
    #[pin]
    cv: CondVar,
}

impl RestartCtx {
    fn new(image: ARef<File>, log: Log) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(RestartCtx {
                image,
                log,
                st <- new_mutex!(CtxState {
                    step: Step::Reading,
                    failed: None,
                    plan: None,
                    arrived: 0,
                    restored: 0,
                    leaders: KVec::new(),
                    turns: KVec::new(),
                    shared: SharedObjects::new(),
                    epoll: epoll::Handover::default(),
                    premap: false,
                    filled: 0,
                    kept: KVec::new(),
                    premap_steps: KVec::new(),
                }),
                cv <- new_condvar!(),
            }),
            GFP_KERNEL,
        )
    }

    /// Records a failure: every task stops waiting and gives up.
    fn fail(&self, e: Error) {
        let mut st = self.st.lock();
        if st.failed.is_none() {
            st.failed = Some(e);
        }
        for t in st.turns.iter() {
            t.complete_all();
        }
        for t in st.premap_steps.iter().flatten() {
            t.complete_all();
        }
        drop(st);
        self.cv.notify_all();
    }

    /// Waits until `ok` holds (or the restart failed, or, before the point
    /// of no return, a step's time ran out: after it, progress depends only
    /// on the coordinator streaming the image, however long that takes, and
    /// a coordinator that fails or is killed fails the restart).
    fn wait_for(&self, log: &Log, what: &str, ok: impl Fn(&CtxState) -> bool) -> Result {
        self.wait_bounded(log, what, ok, true)
    }

    /// Waits, without a step's timeout, for what only the coordinator
    /// does (reading and checking the metadata, which grows with the
    /// image): a coordinator that fails or is killed fails the restart.
    fn wait_for_coordinator(
        &self,
        log: &Log,
        what: &str,
        ok: impl Fn(&CtxState) -> bool,
    ) -> Result {
        self.wait_bounded(log, what, ok, false)
    }

    fn wait_bounded(
        &self,
        log: &Log,
        what: &str,
        ok: impl Fn(&CtxState) -> bool,
        bounded: bool,
    ) -> Result {
        let committed = self.st.lock().step >= Step::Mapping(0);
        let deadline = if committed || !bounded {
            u64::MAX
        } else {
            kapi::jiffies_ms() + STEP_TIMEOUT_MS
        };
        let mut st = self.st.lock();
        loop {
            if let Some(e) = st.failed {
                return Err(e);
            }
            if ok(&st) {
                return Ok(());
            }
            let now = kapi::jiffies_ms();
            if now >= deadline {
                drop(st);
                let e = fail!(log, ETIMEDOUT, "gave up waiting for {what}");
                self.fail(e);
                return Err(e);
            }
            // crctl blocks every signal it can before RESTART: only a fatal
            // one ends this wait early.
            let jiffies =
                kernel::time::msecs_to_jiffies((deadline - now).min(STEP_TIMEOUT_MS) as u32);
            let res = self.cv.wait_interruptible_timeout(&mut st, jiffies);
            // A stop signal (CR_RESTART_STOPPED, sent just before the end)
            // only makes this wait spin until then; a fatal one ends it.
            if matches!(res, kernel::sync::CondVarTimeoutResult::Signal { .. })
                && current::fatal_signal_pending()
            {
                drop(st);
                self.fail(EINTR);
                return Err(EINTR);
            }
        }
    }

    /// Waits for one step of the premap handshake: without a limit (the
    /// coordinator's work ends it, or the restart's failure), or, with
    /// `bounded` (what is waited for, for the log), a step's limit.
    fn wait_step(&self, c: &KCompletion, bounded: Option<(&Log, &str)>) -> Result {
        let r = match bounded {
            Some(_) => c.wait_killable_timeout(STEP_TIMEOUT_MS),
            None => c.wait_killable(),
        };
        if let Some(e) = self.st.lock().failed {
            return Err(e);
        }
        let e = match (r, bounded) {
            (Ok(()), _) => return Ok(()),
            (Err(e), Some((log, what))) if e == ETIMEDOUT => {
                fail!(log, ETIMEDOUT, "gave up waiting for {what}")
            }
            (Err(e), _) => e,
        };
        self.fail(e);
        Err(e)
    }

    fn update(&self, f: impl FnOnce(&mut CtxState)) {
        f(&mut self.st.lock());
        self.cv.notify_all();
    }

    /// As [`RestartCtx::update`], waking the waiters only if `f` says a
    /// wait may end (a count only the coordinator waits for reached its
    /// total, a step others wait for): each task's arrival waking every
    /// waiting task made a restart quadratic in the tree's size.
    fn update_if(&self, f: impl FnOnce(&mut CtxState) -> bool) {
        if f(&mut self.st.lock()) {
            self.cv.notify_all();
        }
    }
}

/// Per open `/dev/cr` file: the tree restart it coordinates, if any.
#[pin_data]
pub(crate) struct RestartSlot {
    #[pin]
    ctx: Mutex<Option<Arc<RestartCtx>>>,
    /// Notified when a coordinator starts.
    #[pin]
    cv: CondVar,
}

impl RestartSlot {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(RestartSlot { ctx <- new_mutex!(None), cv <- new_condvar!() })
    }

    /// Waits (up to a step's timeout) for a coordinator to start.
    fn wait_coordinator(&self) -> Option<Arc<RestartCtx>> {
        let deadline = kapi::jiffies_ms() + STEP_TIMEOUT_MS;
        let mut g = self.ctx.lock();
        loop {
            if let Some(c) = &*g {
                return Some(c.clone());
            }
            let now = kapi::jiffies_ms();
            if now >= deadline {
                return None;
            }
            let j = kernel::time::msecs_to_jiffies((deadline - now) as u32);
            if matches!(
                self.cv.wait_interruptible_timeout(&mut g, j),
                kernel::sync::CondVarTimeoutResult::Signal { .. }
            ) {
                return None;
            }
        }
    }
}

/// The launcher's part (`CR_RESTART_COORDINATE`): read, wait, fill, wait.
fn coordinate(
    ctx: &RestartCtx,
    r: &mut ImageReader<'_>,
    log: &Log,
    stopped: bool,
    premap: bool,
    mut shared: SharedObjects,
) -> Result {
    let mut plan = read_plan(r, log, &mut shared)?;
    if epoll::any(&shared) {
        make_epolls(ctx, &mut plan, &mut shared, log)?;
    }
    let plan: Arc<KBox<Plan>> = Arc::new(plan, GFP_KERNEL)?;
    let nprocs = plan.procs.len();
    if let Some(mut replay) = r.replay()? {
        memory::verify(&plan.mems()?, &mut replay, log).map_err(|e| read_fail(log, e))?;
    }
    let live = plan.live_tasks;
    {
        let mut st = ctx.st.lock();
        st.shared = shared;
        for _ in 0..nprocs {
            st.leaders.push(None, GFP_KERNEL)?;
            st.turns
                .push(Arc::pin_init(KCompletion::new(), GFP_KERNEL)?, GFP_KERNEL)?;
            st.kept.push(None, GFP_KERNEL)?;
            let step = || Arc::pin_init(KCompletion::new(), GFP_KERNEL);
            st.premap_steps
                .push([step()?, step()?, step()?], GFP_KERNEL)?;
        }
        if let Some(s) = st.premap_steps.first() {
            s[PREMAP_TURN].complete_all();
        }
        st.plan = Some(plan.clone());
        st.premap = premap;
        st.step = Step::Arriving;
    }
    ctx.cv.notify_all();
    if premap {
        // Before the point of no return, process by process as each maps
        // its memory and before it forks its children.
        let mut f = PremapFill::new(ctx, &plan, log);
        f.fill(r)?;
    }
    ctx.wait_for(log, "every task of the tree to arrive", |st| {
        st.arrived == live
    })?;
    // Every process of the tree exists now: `SO_PEERCRED` can name them.
    {
        let (mut shared, leaders) = {
            let mut st = ctx.st.lock();
            let mut v: KVec<(i32, TaskRef)> = KVec::with_capacity(nprocs, GFP_KERNEL)?;
            for (p, l) in st.leaders.iter().enumerate() {
                if let (Some(t), Some(pp)) = (l, plan.procs.get(p)) {
                    v.push((pp.task.task.tgid, t.clone_ref()), GFP_KERNEL)?;
                }
            }
            (core::mem::replace(&mut st.shared, SharedObjects::new()), v)
        };
        // And /proc/locks can name the holders of flock locks.
        for pp in plan.procs.iter() {
            pp.files.name_flock_holders(|n| {
                leaders.iter().find(|(tgid, _)| *tgid == n).map(|(_, t)| t)
            });
        }
        let r = unix::set_peer_creds(
            &mut shared,
            |n| {
                leaders
                    .iter()
                    .find(|(tgid, _)| *tgid == n)
                    .map(|(_, t)| PeerOf::Task(t))
            },
            log,
        );
        ctx.st.lock().shared = shared;
        r?;
    }
    // The point of no return for the tree.
    ctx.update(|st| {
        st.step = Step::Mapping(0);
        if let Some(t) = st.turns.first() {
            t.complete_all();
        }
    });
    ctx.wait_for(log, "every process to map its memory", |st| {
        st.step == Step::Filling
    })?;
    let leaders: KVec<TaskRef> = {
        let st = ctx.st.lock();
        let mut v = KVec::with_capacity(nprocs, GFP_KERNEL)?;
        for l in st.leaders.iter() {
            v.push(l.as_ref().ok_or(EINVAL)?.clone_ref(), GFP_KERNEL)?;
        }
        v
    };
    if premap {
        // Filled already.
        ctx.update(|st| st.step = Step::Restoring);
        return finish_coordinate(ctx, log, stopped, live, &leaders);
    }
    let mems = plan.mems()?;
    let mut sink = |p: u32, _v, _w, a: u64, data: &[u8]| {
        leaders[p as usize].poke(a, data).map_err(|e| {
            ReadError::Logged(fail!(
                log,
                e,
                "writing memory of process {p} at {a:#x} failed"
            ))
        })
    };
    // Pages a process shares with its parent: copied from the parent's
    // memory, filled before (its pages come first).
    let mut buf = KVVec::from_elem(0u8, memory::COPY_BYTES, GFP_KERNEL)?;
    let mut inherit = |from: u32, to: u32, _v, _w, a: u64, len: u64| {
        let ends = (&leaders[from as usize], &leaders[to as usize]);
        copy_memory(ends, (from, to), a, len, &mut buf, log)
    };
    memory::fill(&mems, r, &mut sink, &mut inherit).map_err(|e| read_fail(log, e))?;
    ctx.update(|st| st.step = Step::Restoring);
    finish_coordinate(ctx, log, stopped, live, &leaders)
}

/// Copies `len` bytes at `a` from one process's memory to another's
/// (`ends`: their leaders; `idx`: their indexes, for the log), through
/// `buf`.
fn copy_memory(
    ends: (&TaskRef, &TaskRef),
    idx: (u32, u32),
    mut a: u64,
    mut left: u64,
    buf: &mut [u8],
    log: &Log,
) -> Result<(), ReadError> {
    while left > 0 {
        let n = (left as usize).min(buf.len());
        ends.0
            .peek(a, &mut buf[..n])
            .and_then(|()| ends.1.poke(a, &buf[..n]))
            .map_err(|e| {
                ReadError::Logged(fail!(
                    log,
                    e,
                    "copying memory of process {} at {a:#x} to process {} failed",
                    idx.0,
                    idx.1
                ))
            })?;
        a += n as u64;
        left -= n as u64;
    }
    Ok(())
}

/// The coordinator's last steps: every task restores itself, then all
/// return together.
fn finish_coordinate(
    ctx: &RestartCtx,
    log: &Log,
    stopped: bool,
    live: u32,
    leaders: &[TaskRef],
) -> Result {
    ctx.wait_for(log, "every task to restore itself", |st| {
        st.restored == live
    })?;
    if stopped {
        // Queued before any task may return: each stops before its first
        // instruction.
        for l in leaders.iter() {
            l.send_sig(bindings::SIGSTOP as i32);
        }
    }
    ctx.update(|st| st.step = Step::Done);
    Ok(())
}

/// Has crctl's helper make the image's epoll sets, on the files the plan
/// opened, and puts them in the plan (before the point of no return).
fn make_epolls(ctx: &RestartCtx, plan: &mut Plan, shared: &mut SharedObjects, log: &Log) -> Result {
    let (ids, req) = {
        let mut firsts = KVec::new();
        for (i, p) in plan.procs.iter().enumerate() {
            for id in p.files.epoll_firsts() {
                firsts.push((id, i), GFP_KERNEL)?;
            }
        }
        let procs = &plan.procs;
        epoll::requests(&firsts, |t, fd| procs[t].files.at_fd(fd), shared, log)?
    };
    ctx.update(|st| {
        st.epoll.ids = ids;
        st.epoll.req = Some(req);
    });
    ctx.wait_for(log, "crctl's epoll helper", |st| st.epoll.sets.is_some())?;
    let mut h = core::mem::take(&mut ctx.st.lock().epoll);
    epoll::take_sets(&mut h, shared, log)?;
    for p in plan.procs.iter_mut() {
        p.files.fill_epolls(shared)?;
    }
    Ok(())
}

/// `CR_IOC_EPOLL_WATCHES`: crctl's epoll helper waits for the coordinator
/// on this file to have opened every file of the image, and takes the
/// watches to add.
pub(crate) fn epoll_watches(slot: &RestartSlot, arg: usize) -> Result<isize> {
    let args = crate::uapi::EpollArgs::read(arg)?;
    let ctx = slot.wait_coordinator().ok_or(ETIMEDOUT)?;
    let log = ctx.log.share();
    ctx.wait_for(&log, "the image's files (for the epoll helper)", |st| {
        st.epoll.req.is_some()
    })?;
    let mut out = KVec::new();
    let r =
        epoll::serve(&mut ctx.st.lock().epoll, &mut out).and_then(|()| args.write_watches(&out));
    if let Err(e) = r {
        ctx.fail(fail!(
            log,
            e,
            "crctl's epoll helper could not take the watches"
        ));
        return Err(e);
    }
    Ok(out.len() as isize)
}

/// `CR_IOC_EPOLL_SETS`: crctl's epoll helper hands the sets over.
pub(crate) fn epoll_sets(slot: &RestartSlot, arg: usize) -> Result<isize> {
    let args = crate::uapi::EpollArgs::read(arg)?;
    let ctx = slot.ctx.lock().clone().ok_or(EINVAL)?;
    let log = ctx.log.share();
    let r = args
        .objs()
        .and_then(|objs| epoll::hand_sets(&mut ctx.st.lock().epoll, &objs));
    match r {
        Ok(()) => {
            ctx.cv.notify_all();
            Ok(0)
        }
        Err(e) => {
            ctx.fail(fail!(
                log,
                e,
                "crctl's epoll helper could not hand the sets over"
            ));
            Err(e)
        }
    }
}

/// `CR_RESTART_JOIN` with `CR_RESTART_PREMAP`: a process's leader, before
/// crctl forks its children, maps the image's memory beside crctl's own
/// (keeping what its parent's fork left of the same mappings) when the
/// processes before it are filled, and waits until the coordinator filled
/// it. Its children, forked next, share its private pages copy-on-write.
fn premap(ctx: &RestartCtx, log: &Log) -> Result {
    ctx.wait_for_coordinator(log, "the image's metadata", |st| st.step >= Step::Arriving)?;
    let (plan, on) = {
        let st = ctx.st.lock();
        (st.plan.clone().ok_or(EINVAL)?, st.premap)
    };
    let tid = kapi::current_tid();
    let (p, t) = plan
        .find(tid)
        .ok_or_else(|| fail!(log, EINVAL, "pid {tid} is not a task of the image"))?;
    if !on || t != 0 {
        return Err(fail!(
            log,
            EINVAL,
            "pid {tid}: premap without a premap restart, or not a process's leader"
        ));
    }
    let proc_ = &plan.procs[p];
    proc_.task.check_creds(log)?;
    // One process at a time maps (the shared objects are the plan's), in
    // image order, as the coordinator fills them.
    let steps = ctx.st.lock().premap_steps.get(p).cloned().ok_or(EINVAL)?;
    ctx.wait_step(&steps[PREMAP_TURN], None)?;
    {
        let st = ctx.st.lock();
        if st.filled != p || st.kept.get(p).is_some_and(|k| k.is_some()) {
            return Err(fail!(
                log,
                EINVAL,
                "pid {tid}: its memory is mapped already"
            ));
        }
    }
    let parent = plan.parent_of(p).map(|q| &plan.procs[q].mem);
    let kept = {
        let mut shared = core::mem::replace(&mut ctx.st.lock().shared, SharedObjects::new());
        let r = proc_.mem.premap(parent, log, &mut shared);
        ctx.st.lock().shared = shared;
        r?
    };
    {
        let mut st = ctx.st.lock();
        if let Some(slot) = st.leaders.get_mut(p) {
            *slot = Some(TaskRef::by_vpid_current());
        }
        if let Some(k) = st.kept.get_mut(p) {
            *k = Some(kept);
        }
    }
    steps[PREMAP_MAPPED].complete_all();
    ctx.wait_step(&steps[PREMAP_FILLED], None)
}

/// The coordinator's part of a premap restart: the page records, process
/// by process, each once it mapped its memory ([`premap`]). A VMA kept
/// from the parent holds the parent's pages since the fork: its inherited
/// runs are there already, its own pages are written over them, and the
/// rest is dropped (the child did not have those pages).
struct PremapFill<'a> {
    ctx: &'a RestartCtx,
    plan: &'a Plan,
    log: &'a Log,
    /// The process being filled: its index, leader and kept VMAs.
    cur: Option<(usize, TaskRef, KVec<bool>)>,
    /// In a kept VMA of it: its index and the first address not covered.
    cursor: Option<(usize, u64)>,
    /// The VMAs of `cur` before this one are done.
    next_vma: usize,
}

impl<'a> PremapFill<'a> {
    fn new(ctx: &'a RestartCtx, plan: &'a Plan, log: &'a Log) -> Self {
        PremapFill {
            ctx,
            plan,
            log,
            cur: None,
            cursor: None,
            next_vma: 0,
        }
    }

    /// Reads the page records to the tail.
    fn fill(&mut self, r: &mut ImageReader<'_>) -> Result {
        let plan = self.plan;
        let mems = plan.mems()?;
        let log = self.log;
        let this = core::cell::RefCell::new(self);
        let mut buf = KVVec::from_elem(0u8, memory::COPY_BYTES, GFP_KERNEL)?;
        let mut sink = |p: u32, v: usize, _w, a: u64, data: &[u8]| {
            let mut f = this.borrow_mut();
            f.cover(p as usize, v, a, data.len() as u64)?;
            f.leader().poke(a, data).map_err(|e| {
                ReadError::Logged(fail!(
                    log,
                    e,
                    "writing memory of process {p} at {a:#x} failed"
                ))
            })
        };
        let mut inherit = |from: u32, to: u32, v: usize, _w, a: u64, left: u64| {
            let mut f = this.borrow_mut();
            f.cover(to as usize, v, a, left)?;
            if f.kept(v) && f.plan.parent_of(to as usize) == Some(from as usize) {
                // Shared since the fork.
                return Ok(());
            }
            let src = {
                let st = f.ctx.st.lock();
                st.leaders
                    .get(from as usize)
                    .and_then(|l| l.as_ref().map(|t| t.clone_ref()))
            };
            let src = src.ok_or(ReadError::Io(EINVAL))?;
            copy_memory((&src, f.leader()), (from, to), a, left, &mut buf, log)
        };
        memory::fill(&mems, r, &mut sink, &mut inherit).map_err(|e| read_fail(log, e))?;
        let mut f = this.borrow_mut();
        let n = f.plan.procs.len();
        f.enter(n).map_err(|e| read_fail(log, e))
    }

    /// The current process's leader.
    fn leader(&self) -> &TaskRef {
        // `cover` entered a process before any page is written.
        &self.cur.as_ref().expect("a process was entered").1
    }

    fn kept(&self, v: usize) -> bool {
        self.cur
            .as_ref()
            .and_then(|c| c.2.get(v).copied())
            .unwrap_or(false)
    }

    /// Finishes the processes before `p` and starts `p` (once it mapped
    /// its memory); `p` = the number of processes finishes them all.
    fn enter(&mut self, p: usize) -> Result<(), ReadError> {
        let n = self.plan.procs.len();
        loop {
            let next = match &self.cur {
                Some((c, _, _)) if *c == p => return Ok(()),
                Some((c, _, _)) if *c > p => return Err(ReadError::Io(EINVAL)),
                Some((c, _, _)) => {
                    let c = *c;
                    self.finish_cur()?;
                    c + 1
                }
                None => self.ctx.st.lock().filled,
            };
            if next >= n || next > p {
                return Ok(());
            }
            let steps = self.ctx.st.lock().premap_steps.get(next).cloned();
            let steps = steps.ok_or(ReadError::Io(EINVAL))?;
            self.ctx
                .wait_step(
                    &steps[PREMAP_MAPPED],
                    Some((self.log, "a process to map its memory")),
                )
                .map_err(ReadError::Logged)?;
            let (leader, kept) = {
                let mut st = self.ctx.st.lock();
                let leader = st
                    .leaders
                    .get(next)
                    .and_then(|l| l.as_ref().map(|t| t.clone_ref()));
                let kept = st.kept.get_mut(next).and_then(|k| k.take());
                (leader, kept)
            };
            let (Some(leader), Some(kept)) = (leader, kept) else {
                return Err(ReadError::Io(EINVAL));
            };
            self.cur = Some((next, leader, kept));
            self.cursor = None;
            self.next_vma = 0;
        }
    }

    /// Drops the pages of `start..end` of the current process.
    fn zap(&self, start: u64, end: u64) -> Result<(), ReadError> {
        if start >= end {
            return Ok(());
        }
        let mm = self.leader().mm().ok_or(ReadError::Io(ESRCH))?;
        let r = mm.read_lock().zap(start, end);
        r.map_err(|e| {
            ReadError::Logged(fail!(
                self.log,
                e,
                "dropping memory at {start:#x}-{end:#x} failed"
            ))
        })
    }

    /// Moves to VMA `v` of the current process (`v` = its number of VMAs:
    /// past the last): what the kept VMAs before it did not get is dropped.
    fn move_to_vma(&mut self, v: usize) -> Result<(), ReadError> {
        let Some((p, _, _)) = &self.cur else {
            return Ok(());
        };
        let mem = &self.plan.procs[*p].mem;
        if let Some((cv, c)) = self.cursor {
            if cv == v {
                return Ok(());
            }
            self.zap(c, mem.vma_span(cv).1)?;
            self.cursor = None;
        }
        for i in self.next_vma..v.min(mem.nr_vmas()) {
            if self.kept(i) {
                let (s, e) = mem.vma_span(i);
                self.zap(s, e)?;
            }
        }
        if v >= self.next_vma && v < mem.nr_vmas() {
            self.next_vma = v + 1;
            if self.kept(v) {
                self.cursor = Some((v, mem.vma_span(v).0));
            }
        }
        Ok(())
    }

    /// A run of `len` bytes at `a` in VMA `v` of process `p`.
    fn cover(&mut self, p: usize, v: usize, a: u64, len: u64) -> Result<(), ReadError> {
        self.enter(p)?;
        self.move_to_vma(v)?;
        if let Some((cv, c)) = self.cursor {
            if cv == v {
                self.zap(c, a)?;
                self.cursor = Some((v, a + len));
            }
        }
        Ok(())
    }

    /// The current process is complete: the rest of its kept VMAs goes,
    /// and it may go on (fork its children).
    fn finish_cur(&mut self) -> Result<(), ReadError> {
        let n = match &self.cur {
            Some((p, _, _)) => self.plan.procs[*p].mem.nr_vmas(),
            None => return Ok(()),
        };
        self.move_to_vma(n)?;
        if let Some((p, _, _)) = self.cur.take() {
            let mut st = self.ctx.st.lock();
            st.filled = p + 1;
            for (i, step) in [(p, PREMAP_FILLED), (p + 1, PREMAP_TURN)] {
                if let Some(s) = st.premap_steps.get(i) {
                    s[step].complete_all();
                }
            }
        }
        Ok(())
    }
}

/// A task of the tree: find itself, check, map (leaders), restore.
fn join(ctx: &RestartCtx, log: &Log, dev: &File) -> Result {
    ctx.wait_for_coordinator(log, "the image's metadata", |st| st.step >= Step::Arriving)?;
    let plan = ctx.st.lock().plan.clone().ok_or(EINVAL)?;
    let tid = kapi::current_tid();
    let (p, t) = plan
        .find(tid)
        .ok_or_else(|| fail!(log, EINVAL, "pid {tid} is not a task of the image"))?;
    let proc_ = &plan.procs[p];
    let leader = t == 0;
    proc_.task.check_creds(log)?;
    let premapped = ctx.st.lock().premap;
    proc_.check_here(t, log, premapped)?;
    ctx.update_if(|st| {
        if leader {
            if let Some(slot) = st.leaders.get_mut(p) {
                *slot = Some(TaskRef::by_vpid_current());
            }
        }
        st.arrived += 1;
        st.plan
            .as_ref()
            .is_some_and(|pl| st.arrived == pl.live_tasks)
    });
    // Past here a failure kills the whole tree. With premap, the
    // coordinator may still be filling the processes after this one: that
    // wait has no step limit.
    let at_ponr = |st: &CtxState| st.step >= Step::Mapping(0);
    if premapped {
        ctx.wait_for_coordinator(log, "the point of no return", at_ponr)?;
    } else {
        ctx.wait_for(log, "the point of no return", at_ponr)?;
    }
    if leader {
        let turn = ctx.st.lock().turns.get(p).cloned().ok_or(EINVAL)?;
        if let Err(e) = turn.wait_killable() {
            ctx.fail(e);
            return Err(e);
        }
        // Completed for its turn, or because the restart failed.
        ctx.wait_for(log, "this process's turn to map", |st| {
            st.step >= Step::Mapping(p)
        })?;
        let r = if ctx.st.lock().premap {
            // Mapped and filled before its children were forked: only
            // crctl's own memory goes.
            proc_.mem.drop_others(log)
        } else {
            let mut shared = core::mem::replace(&mut ctx.st.lock().shared, SharedObjects::new());
            let r = proc_.mem.map(log, &mut shared);
            ctx.st.lock().shared = shared;
            r
        };
        r?;
        let n = plan.procs.len();
        ctx.update_if(|st| {
            if p + 1 == n {
                // The coordinator waits for it.
                st.step = Step::Filling;
                return true;
            }
            st.step = Step::Mapping(p + 1);
            if let Some(t) = st.turns.get(p + 1) {
                t.complete_all();
            }
            false
        });
    }
    ctx.wait_for(log, "the memory contents", |st| st.step >= Step::Restoring)?;
    proc_.restore(t, log, dev)?;
    ctx.update_if(|st| {
        st.restored += 1;
        st.plan
            .as_ref()
            .is_some_and(|pl| st.restored == pl.live_tasks)
    });
    ctx.wait_for(log, "every task to be restored", |st| st.step == Step::Done)?;
    proc_.finish(t, log)
}

/// The single-task restart: the caller becomes the image's only task.
fn single(
    r: &mut ImageReader<'_>,
    log: &Log,
    stopped: bool,
    dev: &File,
    committed: &mut bool,
    mut shared: SharedObjects,
) -> Result {
    if current::nr_threads() != 1 {
        return Err(fail!(
            log,
            EBUSY,
            "the caller has several threads: restart needs a single-threaded caller"
        ));
    }
    let plan = read_plan(r, log, &mut shared)?;
    if epoll::any(&shared) {
        return Err(fail!(
            log,
            crate::error::eopnotsupp(),
            "the image has epoll sets: restore it with crctl's tree restart (not exec-style)"
        ));
    }
    if plan.live_tasks != 1 || plan.tree.len() != 1 {
        return Err(fail!(
            log,
            EINVAL,
            "the image holds {} tasks: restore it with crctl, which rebuilds the tree (CR_RESTART_COORDINATE)",
            plan.tree.len()
        ));
    }
    // `read_plan` checked the credentials: the reader is the caller.
    let proc_ = &plan.procs[0];
    proc_.check_here(0, log, false)?;
    // The caller becomes the image's process (with its own pid).
    let me = proc_.task.task.tgid;
    unix::set_peer_creds(&mut shared, |n| (n == me).then_some(PeerOf::Current), log)?;
    let mems = plan.mems()?;
    if let Some(mut replay) = r.replay()? {
        memory::verify(&mems, &mut replay, log).map_err(|e| read_fail(log, e))?;
    }
    *committed = true;
    proc_.mem.map(log, &mut shared)?;
    let mut sink = memory::local_sink(log);
    memory::fill_local(&mems, r, &mut sink).map_err(|e| read_fail(log, e))?;
    proc_.restore(0, log, dev)?;
    proc_.finish(0, log)?;
    if stopped {
        current::send_sig(bindings::SIGSTOP as i32);
    }
    Ok(())
}

/// Takes one object the caller made for the image into `shared` (before
/// the image is read), by the module of its kind. Its fd is closed in the
/// caller: the module holds the file now.
fn take_handed(o: &RestartObj, shared: &mut SharedObjects, log: &Log) -> Result {
    match o.kind {
        CR_RESTART_OBJ_PIPE | CR_RESTART_OBJ_INHERIT => pipe::take_handed(o, shared, log),
        CR_RESTART_OBJ_EVENTFD | CR_RESTART_OBJ_TIMERFD | CR_RESTART_OBJ_SIGNALFD => {
            evfd::take_handed(o, shared, log)
        }
        CR_RESTART_OBJ_INOTIFY => epoll::take_handed(o, shared, log),
        CR_RESTART_OBJ_MEMFD => anonfile::take_handed(o, shared, log),
        k => Err(fail!(
            log,
            EINVAL,
            "restart object {}: unknown kind {k}",
            o.id
        )),
    }
}

/// `CR_IOC_RESTART`.
#[inline(never)]
pub(crate) fn ioctl(slot: &RestartSlot, dev: &File, arg: usize) -> Result<isize> {
    // A reference of our own: restoring the file table may close the fd
    // this ioctl came through, which held the only one.
    let dev: ARef<File> = dev.into();
    let args = RestartArgs::read(arg)?;
    let log = Log::open(args.logfd, "restart")?;
    let fd = args.fd;
    let file = kapi::fget(fd).map_err(|e| fail!(log, e, "fd {fd}: not an open file"))?;
    if !kapi::file_mode(&file).0 {
        return Err(fail!(log, EBADF, "fd {fd}: not open for reading"));
    }
    // The objects the caller made for the image (its pipes, eventfds,
    // timerfds and signalfds).
    let mut shared = SharedObjects::new();
    if !args.join() {
        let objs = args
            .objs()
            .map_err(|e| fail!(log, e, "cannot read the restart objects"))?;
        for o in objs.iter() {
            take_handed(o, &mut shared, &log)?;
        }
    }

    if args.coordinate() {
        let ctx = {
            let mut s = slot.ctx.lock();
            if s.is_some() {
                return Err(fail!(
                    log,
                    EBUSY,
                    "a restart is already in progress on this /dev/cr file"
                ));
            }
            let ctx = RestartCtx::new(file.clone(), log.share())?;
            *s = Some(ctx.clone());
            ctx
        };
        slot.cv.notify_all();
        let mut reader = ImageReader::new(&file, args.prefix, args.prefix_len)
            .map_err(|e| fail!(log, e, "cannot read the prefix ({} bytes)", args.prefix_len));
        let r = match reader.as_mut() {
            Ok(reader) => coordinate(&ctx, reader, &log, args.stopped(), args.premap(), shared),
            Err(e) => Err(*e),
        };
        if let Err(e) = r {
            ctx.fail(e);
        }
        *slot.ctx.lock() = None;
        return r.map(|()| 0);
    }

    // A task of a tree being coordinated on this file.
    if args.join() {
        let ctx = slot.wait_coordinator().ok_or_else(|| {
            fail!(
                log,
                ETIMEDOUT,
                "no restart is being coordinated on this /dev/cr file"
            )
        })?;
        if !core::ptr::eq(ctx.image.as_ptr(), file.as_ptr()) {
            return Err(fail!(log, EINVAL, "fd {fd}: not the image being restored"));
        }
        let committed = |c: &RestartCtx| c.st.lock().step >= Step::Mapping(0);
        let log = ctx.log.share();
        if args.premap() {
            // Before the point of no return.
            return premap(&ctx, &log).map(|()| 0).inspect_err(|&e| ctx.fail(e));
        }
        return match join(&ctx, &log, &dev) {
            Ok(()) => Ok(0),
            Err(e) => {
                let after = committed(&ctx);
                ctx.fail(e);
                if after {
                    log.line(
                        None,
                        format_args!(
                            "restart failed after the point of no return: the task is killed"
                        ),
                    );
                    current::send_sig(bindings::SIGKILL as i32);
                }
                Err(e)
            }
        };
    }

    let mut reader = ImageReader::new(&file, args.prefix, args.prefix_len)
        .map_err(|e| fail!(log, e, "cannot read the prefix ({} bytes)", args.prefix_len))?;
    let mut committed = false;
    match single(
        &mut reader,
        &log,
        args.stopped(),
        &dev,
        &mut committed,
        shared,
    ) {
        Ok(()) => Ok(0),
        Err(e) => {
            if committed {
                log.line(
                    None,
                    format_args!("restart failed after the point of no return: the task is killed"),
                );
                current::send_sig(bindings::SIGKILL as i32);
            }
            Err(e)
        }
    }
}
