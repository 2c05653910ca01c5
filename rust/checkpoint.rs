// SPDX-License-Identifier: GPL-2.0

//! `CR_IOC_CHECKPOINT`: dump a process into an image on the caller's fd.
//!
//! How the target is held still without it noticing: the caller queues a
//! task work on the target (`TWA_SIGNAL`, which interrupts a sleep the way a
//! signal would, but queues no signal). At its next return to user space the
//! target runs [`Job::run`] in its own context: it collects what only it can
//! read cheaply and consistently (registers, signal state, file table, VMA
//! list, credentials) into a [`Snapshot`], then parks, killably, until the
//! caller is done. Meanwhile the caller writes the image, reading page
//! contents through the target's mm (pinned by the snapshot). Nothing is
//! written in the target's context, so a broken pipe or a full disk hits the
//! caller, not the target. When the caller finishes, fails, or is killed,
//! the target is released and resumes exactly where it was: an interrupted
//! system call restarts as it would after a signal with no handler.

use crate::{
    files, format, kapi,
    kapi::{current, PidNs, TaskRef},
    log::{eopnotsupp, fail, Log},
    memory, regs, signals,
    stream::ImageWriter,
    task,
    uapi::Args,
};
use core::fmt;
use kernel::{
    alloc::KVec,
    bindings,
    fs::File,
    new_spinlock,
    prelude::*,
    sync::{aref::ARef, Arc, SpinLock},
    types::Opaque,
};

/// Layout of `struct cr_checkpoint_args`.
mod layout {
    pub(super) const SIZE_VER0: usize = 24;
    pub(super) const FLAGS: usize = 4;
    pub(super) const PID: usize = 8;
    pub(super) const FD: usize = 12;
    pub(super) const LOGFD: usize = 16;
    pub(super) const PAD: usize = 20;
}

/// `CR_CHECKPOINT_KILL`.
pub(crate) const CR_CHECKPOINT_KILL: u32 = 1;
const KNOWN_FLAGS: u32 = CR_CHECKPOINT_KILL;

/// How long the caller waits for the target to reach a point where it can
/// be inspected (its next return to user space).
const PARK_TIMEOUT_MS: u64 = 30_000;

/// A reason the target's state cannot be saved, formatted in the target's
/// context, logged by the caller.
pub(crate) struct Refusal {
    pub(crate) err: Error,
    msg: KVec<u8>,
}

impl Refusal {
    /// A refusal with errno `err` and message `args` (empty if even that
    /// small allocation fails: the errno still tells).
    pub(crate) fn new(err: Error, args: fmt::Arguments<'_>) -> Self {
        let mut r = Refusal {
            err,
            msg: KVec::new(),
        };
        let _ = fmt::write(&mut r, args);
        r
    }

    /// The message.
    pub(crate) fn msg(&self) -> &[u8] {
        &self.msg
    }
}

impl fmt::Write for Refusal {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.msg
            .extend_from_slice(s.as_bytes(), GFP_KERNEL)
            .map_err(|_| fmt::Error)
    }
}

impl From<kernel::alloc::AllocError> for Refusal {
    fn from(_: kernel::alloc::AllocError) -> Self {
        Refusal::from(ENOMEM)
    }
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Self {
        Refusal::new(
            e,
            format_args!("out of resources while inspecting the target"),
        )
    }
}

/// `refuse!(ERR, "fmt", ...)`: a [`Refusal`].
macro_rules! refuse {
    ($err:expr, $($arg:tt)*) => {
        $crate::checkpoint::Refusal::new($err, ::core::format_args!($($arg)*))
    };
}
pub(crate) use refuse;

/// Everything about the target that is read in its own context.
pub(crate) struct Snapshot {
    pub(crate) task: KBox<task::TaskSnap>,
    pub(crate) regs: KBox<regs::RegsSnap>,
    pub(crate) signals: signals::SigSnap,
    pub(crate) mem: memory::MemSnap,
    pub(crate) files: files::FilesSnap,
}

impl Snapshot {
    /// Collects the current task's state. Runs in the target, on the
    /// return-to-user path: the parts are boxed, to keep stack frames small.
    #[inline(never)]
    fn gather(ns: PidNs) -> Result<Self, Refusal> {
        let task = KBox::new(task::TaskSnap::gather(ns)?, GFP_KERNEL_ACCOUNT)?;
        let pid = task.ids.pid;
        Ok(Snapshot {
            regs: KBox::new(regs::RegsSnap::gather(pid)?, GFP_KERNEL_ACCOUNT)?,
            signals: signals::SigSnap::gather(pid)?,
            mem: memory::MemSnap::gather(pid)?,
            files: files::FilesSnap::gather(pid)?,
            task,
        })
    }
}

/// What the target leaves for the caller.
struct JobState {
    /// The caller gave up: the target must not park.
    abandoned: bool,
    /// The target's result, once it ran.
    snapshot: Option<Result<KBox<Snapshot>, Refusal>>,
}

/// One checkpoint in flight, shared by the caller and the target.
///
/// # Invariants
///
/// `work` is queued on the target at most once, with a reference to this
/// `Job` (from [`Arc::into_raw`]) that [`Job::run_raw`] takes back.
#[pin_data]
struct Job {
    #[pin]
    work: Opaque<bindings::callback_head>,
    /// Completed by the target once `state.snapshot` is set.
    #[pin]
    parked: kapi::KCompletion,
    /// Completed by the caller when the target may resume.
    #[pin]
    release: kapi::KCompletion,
    #[pin]
    state: SpinLock<JobState>,
    ns: PidNs,
    exec_id: u64,
    /// The `/dev/cr` file: holds the module while the work is queued.
    _dev: ARef<File>,
}

impl Job {
    /// Task work entry point, in the target.
    ///
    /// # Safety
    ///
    /// `head` is the `work` field of a `Job` queued as the type invariant
    /// says.
    unsafe extern "C" fn run_raw(head: *mut bindings::callback_head) {
        // SAFETY: `head` points to `Job::work` (safety requirement), so
        // this gives the containing `Job`, whose queued reference we take
        // back.
        let job: Arc<Job> = unsafe {
            let p =
                kernel::container_of!(head.cast::<Opaque<bindings::callback_head>>(), Job, work);
            Arc::from_raw(p)
        };
        job.run();
    }

    fn run(&self) {
        if self.state.lock().abandoned {
            return;
        }
        let result = self.gather();
        let ok = result.is_ok();
        {
            let mut st = self.state.lock();
            st.snapshot = Some(result);
        }
        self.parked.complete_all();
        if ok {
            // Held still until the caller has written the image. Only a fatal
            // signal ends this early; then the snapshot's references keep
            // what the caller reads alive while this task exits.
            let _ = self.release.wait_killable();
        }
    }

    #[inline(never)]
    fn gather(&self) -> Result<KBox<Snapshot>, Refusal> {
        if kapi::current::fatal_signal_pending() {
            return Err(refuse!(ESRCH, "target is being killed"));
        }
        let snap = Snapshot::gather(self.ns)?;
        if snap.task.exec_id != self.exec_id {
            return Err(refuse!(
                EAGAIN,
                "pid {} executed a new program during the checkpoint",
                snap.task.ids.pid
            ));
        }
        Ok(KBox::new(snap, GFP_KERNEL_ACCOUNT)?)
    }
}

/// Releases the target when the caller is done, whatever happens.
struct Release<'a>(&'a Job);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.state.lock().abandoned = true;
        self.0.release.complete_all();
    }
}

/// `CR_IOC_CHECKPOINT`.
#[inline(never)]
pub(crate) fn ioctl(dev: &File, arg: usize) -> Result<isize> {
    use layout as l;
    let args = Args::<{ l::SIZE_VER0 }>::read(arg, l::SIZE_VER0)?;
    let flags = args.u32_at(l::FLAGS);
    if flags & !KNOWN_FLAGS != 0 || args.u32_at(l::PAD) != 0 {
        return Err(EINVAL);
    }
    let log = Log::open(args.i32_at(l::LOGFD), "checkpoint")?;
    let pid = args.i32_at(l::PID);
    let fd = args.i32_at(l::FD);
    let out = kapi::fget(fd).map_err(|e| fail!(log, e, "fd {fd}: not an open file"))?;
    if !kapi::file_mode(&out).1 {
        return Err(fail!(log, EBADF, "fd {fd}: not open for writing"));
    }

    let target = if pid > 0 { TaskRef::by_vpid(pid) } else { None };
    let target = target.ok_or_else(|| fail!(log, ESRCH, "pid {pid}: no such process"))?;
    if target.is_caller() {
        return Err(fail!(
            log,
            EINVAL,
            "pid {pid}: a process cannot checkpoint itself"
        ));
    }
    if let Err(why) = target.may_checkpoint() {
        let reason = match why {
            kapi::Deny::Ids => "it belongs to another user",
            kapi::Deny::Caps => "it has capabilities the caller lacks",
            kapi::Deny::Dumpable => "it is not dumpable (setuid or PR_SET_DUMPABLE 0)",
        };
        return Err(fail!(log, EPERM, "pid {pid}: permission denied: {reason}"));
    }
    let st = target.state();
    if st & kapi::ts::KTHREAD != 0 {
        return Err(fail!(log, EINVAL, "pid {pid}: a kernel thread"));
    }
    if st & kapi::ts::EXITING != 0 || st & kapi::ts::NO_MM != 0 {
        return Err(fail!(log, ESRCH, "pid {pid}: exiting or a zombie"));
    }
    if st & kapi::ts::PTRACED != 0 {
        return Err(fail!(
            log,
            EBUSY,
            "pid {pid}: being traced (ptrace): not supported"
        ));
    }
    if st & kapi::ts::STOPPED != 0 {
        return Err(fail!(
            log,
            EBUSY,
            "pid {pid}: stopped (SIGSTOP): not supported yet"
        ));
    }
    if st & kapi::ts::THREADED != 0 {
        return Err(fail!(
            log,
            eopnotsupp(),
            "pid {pid}: has several threads: multi-threaded processes not supported yet"
        ));
    }

    let exec_id = target.exec_id();
    let job = Arc::pin_init(
        pin_init!(Job {
            work: Opaque::uninit(),
            parked <- kapi::KCompletion::new(),
            release <- kapi::KCompletion::new(),
            state <- new_spinlock!(JobState { abandoned: false, snapshot: None }),
            ns: PidNs::current(),
            exec_id,
            _dev: ARef::from(dev),
        }),
        GFP_KERNEL,
    )?;
    let release = Release(&job);
    let queued = Arc::into_raw(job.clone());
    // SAFETY: `work` lives in the `Job` whose reference `queued` we hand to
    // the target; `run_raw` takes it back (type invariant).
    let r = unsafe { target.task_work_add((*queued).work.get(), Job::run_raw) };
    if r.is_err() {
        // SAFETY: Not queued: the reference is still ours.
        drop(unsafe { Arc::from_raw(queued) });
        return Err(fail!(log, ESRCH, "pid {pid}: exiting"));
    }

    match job.parked.wait_killable_timeout(PARK_TIMEOUT_MS) {
        Ok(()) => {}
        Err(e) if e == ETIMEDOUT => {
            return Err(fail!(
                log,
                e,
                "pid {pid}: did not reach a safe point within {} s (blocked in the kernel?)",
                PARK_TIMEOUT_MS / 1000
            ))
        }
        Err(e) => return Err(fail!(log, e, "interrupted")),
    }
    let snap = job.state.lock().snapshot.take();
    let snap = match snap {
        Some(Ok(s)) => s,
        Some(Err(r)) => {
            log.line(Some(r.err), format_args!("{}", crate::log::Show(r.msg())));
            return Err(r.err);
        }
        None => return Err(fail!(log, EINVAL, "pid {pid}: no snapshot")),
    };

    write_image(&snap, &out, flags).map_err(|e| match e {
        WriteError::Refused(r) => {
            log.line(Some(r.err), format_args!("{}", crate::log::Show(r.msg())));
            r.err
        }
        WriteError::Io(e, off) => fail!(log, e, "writing the image failed at byte {off}"),
    })?;

    if flags & CR_CHECKPOINT_KILL != 0 {
        target.send_sig(bindings::SIGKILL as i32);
    }
    drop(release);
    Ok(0)
}

/// Why writing failed.
pub(crate) enum WriteError {
    /// State found unsupported while writing (e.g. while reading pages).
    Refused(Refusal),
    /// The fd failed at this offset.
    Io(Error, u64),
}

impl From<Refusal> for WriteError {
    fn from(r: Refusal) -> Self {
        WriteError::Refused(r)
    }
}

/// Writes the whole image: header, metadata, meta-end, pages, tail.
fn write_image(snap: &Snapshot, out: &File, flags: u32) -> Result<(), WriteError> {
    let io = |w: &ImageWriter<'_>, e: Error| WriteError::Io(e, w.offset());
    let mut w = ImageWriter::new(out).map_err(|e| WriteError::Io(e, 0))?;
    let hdr = here_header(snap.regs.xstate.len() as u32, snap.regs.xfeatures, flags);
    w.record(|b| hdr.encode(b)).map_err(|e| io(&w, e))?;
    snap.task.write(&mut w).map_err(|e| io(&w, e))?;
    snap.regs.write(&mut w).map_err(|e| io(&w, e))?;
    snap.signals.write(&mut w).map_err(|e| io(&w, e))?;
    let plan = snap.mem.plan_pages()?;
    snap.mem.write_meta(&mut w, &plan).map_err(|e| io(&w, e))?;
    snap.files.write(&mut w).map_err(|e| io(&w, e))?;
    let me = format::MetaEnd {
        checksum: w.checksum(),
        total_pages: plan.total_pages(),
    };
    w.record(|b| me.encode(b)).map_err(|e| io(&w, e))?;
    snap.mem.write_pages(&mut w, &plan)?;
    let tail = format::Tail {
        checksum: w.checksum(),
        total_len: w.offset() + (format::RECORD_HEADER_SIZE + 24) as u64,
        nr_records: w.records() + 1,
    };
    w.record(|b| tail.encode(b)).map_err(|e| io(&w, e))?;
    w.flush().map_err(|e| io(&w, e))?;
    Ok(())
}

/// The header this kernel writes, also what restart compares images with.
pub(crate) fn here_header(xstate_size: u32, xfeatures: u64, flags: u32) -> format::Header {
    let mut release = [0u8; format::RELEASE_LEN];
    let r = kapi::uts_release().to_bytes();
    let n = r.len().min(format::RELEASE_LEN - 1);
    release[..n].copy_from_slice(&r[..n]);
    let now = kapi::real_time_ns();
    format::Header {
        version: format::FORMAT_VERSION,
        arch: format::ARCH_X86_64,
        page_size: kernel::page::PAGE_SIZE as u32,
        flags,
        nr_tasks: 1,
        module_version: crate::uapi::MODULE_VERSION,
        time_sec: now / 1_000_000_000,
        time_nsec: (now % 1_000_000_000) as u32,
        nsig: format::NSIG,
        rlim_nlimits: format::RLIM_NLIMITS,
        comm_len: format::COMM_LEN as u32,
        xstate_size,
        auxv_words: current::auxv_words(),
        xfeatures,
        task_size: current::task_size_max(),
        release,
    }
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        r.err
    }
}
