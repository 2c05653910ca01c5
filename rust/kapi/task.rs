// SPDX-License-Identifier: GPL-2.0

//! Tasks: references, ids, the checkpoint permission rule, the tree walk and
//! task work.

use super::{cur, ffi, tf};
use core::{
    ptr::{self, NonNull},
    sync::atomic::{AtomicBool, Ordering},
};
use kernel::{
    bindings,
    error::to_result,
    prelude::*,
    sync::{aref::ARef, rcu, Arc},
    task::Task,
    types::Opaque,
};

/// The caller's active pid namespace.
///
/// # Invariants
///
/// Points to the current task's active pid namespace, which outlives the
/// ioctl that created this value (the task cannot leave it).
#[derive(Clone, Copy)]
pub(crate) struct PidNs(*mut bindings::pid_namespace);

// SAFETY: Only used as an opaque argument to pid lookups, which are safe from
// any thread while the namespace lives (see the type invariant).
unsafe impl Send for PidNs {}
// SAFETY: As above.
unsafe impl Sync for PidNs {}

impl PidNs {
    /// The current task's active pid namespace.
    pub(crate) fn current() -> Self {
        // SAFETY: `current` is valid and has an active namespace.
        PidNs(unsafe { bindings::task_active_pid_ns(cur()) })
    }
}

/// A task's ids as seen in a pid namespace (0 where it has none there).
#[derive(Default, Clone, Copy)]
pub(crate) struct TaskIds {
    pub(crate) pid: i32,
    pub(crate) tgid: i32,
    pub(crate) ppid: i32,
    pub(crate) pgid: i32,
    pub(crate) sid: i32,
}

/// A counted reference to a task.
pub(crate) struct TaskRef(ARef<Task>);

/// What [`TaskRef::zombie`] found.
pub(crate) enum Zombie {
    /// A live task.
    No,
    /// Exited, not yet reaped, with this `wait()` status.
    Yes(i32),
    /// A thread group leader that exited while its other threads run.
    DeadLeader,
}

/// Why a caller may not checkpoint a task.
pub(crate) enum Deny {
    /// Ids differ and the caller has no privilege over the target.
    Ids,
    /// The target has capabilities the caller lacks.
    Caps,
    /// The target is not dumpable (setuid, or `PR_SET_DUMPABLE` 0).
    Dumpable,
}

/// Bits of [`TaskRef::state`].
pub(crate) mod ts {
    pub(crate) const KTHREAD: i32 = 1;
    pub(crate) const EXITING: i32 = 2;
    pub(crate) const PTRACED: i32 = 4;
    pub(crate) const STOPPED: i32 = 8;
    pub(crate) const NO_MM: i32 = 32;
}

/// `TASK_DUMPABLE_OWNER`: dumpable by a caller with the same ids.
const TASK_DUMPABLE_OWNER: u32 = 1;

/// `thread_group_leader()`.
///
/// # Safety
///
/// `t` is a valid task.
unsafe fn is_leader(t: *mut bindings::task_struct) -> bool {
    // SAFETY: `t` is valid (safety requirement).
    unsafe { (*tf!(t, exit_signal)) >= 0 }
}

/// The task whose list node `node` is, at `off` bytes into it
/// (`list_entry()`); `off` is the node's offset, taken from a task with
/// [`node_offset`].
fn task_of(node: *mut bindings::list_head, off: usize) -> *mut bindings::task_struct {
    node.cast::<u8>().wrapping_sub(off).cast()
}

/// The offset of the list node `node` of the task `t` (which C knows; see
/// `tf!`).
fn node_offset(t: *mut bindings::task_struct, node: *mut bindings::list_head) -> usize {
    node as usize - t as usize
}

/// Calls `f` with each thread of `p`'s thread group (`for_each_thread`),
/// until it fails.
///
/// # Safety
///
/// `p` is a valid task, and the RCU read lock is held.
pub(super) unsafe fn for_each_thread(
    p: *mut bindings::task_struct,
    mut f: impl FnMut(*mut bindings::task_struct) -> Result,
) -> Result {
    // SAFETY: `p` is valid, and its threads are on the list of its signal
    // struct, which RCU keeps walkable (safety requirements).
    unsafe {
        let off = node_offset(p, tf!(p, thread_node));
        let head = &raw mut (*(*tf!(p, signal))).thread_head;
        let mut node = ptr::read_volatile(&raw const (*head).next);
        while node != head {
            f(task_of(node, off))?;
            node = ptr::read_volatile(&raw const (*node).next);
        }
    }
    Ok(())
}

/// Calls `f` with each thread group leader of the system
/// (`for_each_process`), until it fails.
///
/// # Safety
///
/// The RCU read lock is held.
unsafe fn for_each_process(mut f: impl FnMut(*mut bindings::task_struct) -> Result) -> Result {
    // SAFETY: Processes are on the list of `init_task`, which RCU keeps
    // walkable (safety requirement).
    unsafe {
        let init = &raw mut bindings::init_task;
        let head = tf!(init, tasks);
        let off = node_offset(init, head);
        let mut node = ptr::read_volatile(&raw const (*head).next);
        while node != head {
            f(task_of(node, off))?;
            node = ptr::read_volatile(&raw const (*node).next);
        }
    }
    Ok(())
}

impl TaskRef {
    /// Takes a reference on `t`.
    ///
    /// # Safety
    ///
    /// `t` is a valid task.
    unsafe fn get(t: *mut bindings::task_struct) -> Self {
        // SAFETY: `t` is valid (safety requirement) and `Task` is a
        // transparent wrapper of `task_struct`; `ARef::from` takes a
        // reference.
        TaskRef(ARef::from(unsafe { &*t.cast::<Task>() }))
    }

    /// Looks up a task by pid in the caller's pid namespace.
    pub(crate) fn by_vpid(nr: i32) -> Option<Self> {
        // SAFETY: Any pid number may be looked up; a pid reference or null
        // comes back.
        let pid = unsafe { bindings::find_get_pid(nr) };
        if pid.is_null() {
            return None;
        }
        // SAFETY: `pid` is a valid, referenced pid; a task reference or null
        // comes back. Then our pid reference is dropped.
        let t = unsafe {
            let t = bindings::get_pid_task(pid, bindings::pid_type_PIDTYPE_PID);
            bindings::put_pid(pid);
            t
        };
        // SAFETY: `get_pid_task` returned a reference, which `ARef` now owns;
        // `Task` is a transparent wrapper of `task_struct`.
        NonNull::new(t).map(|t| TaskRef(unsafe { ARef::from_raw(t.cast()) }))
    }

    /// The current task.
    pub(crate) fn by_vpid_current() -> Self {
        // SAFETY: `current` is valid.
        unsafe { Self::get(cur()) }
    }

    /// Another reference to the same task.
    pub(crate) fn clone_ref(&self) -> Self {
        TaskRef(self.0.clone())
    }

    pub(super) fn raw(&self) -> *mut bindings::task_struct {
        self.0.as_ptr()
    }

    /// Its ids as seen in `ns`.
    pub(crate) fn ids(&self, ns: PidNs) -> Result<TaskIds> {
        let t = self.raw();
        let nr = |t, ty| {
            // SAFETY: `t` is a valid task and `ns` a valid namespace (type
            // invariant of `PidNs`).
            unsafe { bindings::__task_pid_nr_ns(t, ty, ns.0) }
        };
        let _rcu = rcu::read_lock();
        // SAFETY: The task is valid; RCU keeps its real parent valid.
        let parent = unsafe { ptr::read_volatile(&raw const (*tf!(t, real_parent))) };
        let ids = TaskIds {
            pid: nr(t, bindings::pid_type_PIDTYPE_PID),
            tgid: nr(t, bindings::pid_type_PIDTYPE_TGID),
            ppid: if parent.is_null() {
                0
            } else {
                nr(parent, bindings::pid_type_PIDTYPE_TGID)
            },
            pgid: nr(t, bindings::pid_type_PIDTYPE_PGID),
            sid: nr(t, bindings::pid_type_PIDTYPE_SID),
        };
        if ids.pid == 0 {
            return Err(ESRCH);
        }
        Ok(ids)
    }

    /// Whether it is in the caller's thread group.
    pub(crate) fn is_caller(&self) -> bool {
        // SAFETY: Both tasks are valid; a task's signal struct never changes.
        unsafe { (*tf!(self.raw(), signal)) == (*tf!(cur(), signal)) }
    }

    /// Its exec counter, to notice an exec between two moments.
    pub(crate) fn exec_id(&self) -> u64 {
        // SAFETY: The task is valid; the counter is read once, as
        // `READ_ONCE()` would.
        unsafe { ptr::read_volatile(&raw const (*tf!(self.raw(), self_exec_id))) }
    }

    /// A snapshot of [`ts`] bits.
    pub(crate) fn state(&self) -> i32 {
        let t = self.raw();
        // SAFETY: The task is valid; its signal struct lives as long.
        let (flags, ptraced, jobctl, mm) = unsafe {
            (
                *tf!(t, flags),
                ptr::read_volatile(tf!(t, ptrace)),
                ptr::read_volatile(&raw const (*tf!(t, jobctl))),
                (*tf!(t, mm)),
            )
        };
        let stopped = u64::from(
            bindings::JOBCTL_STOPPED | bindings::JOBCTL_TRACED | bindings::JOBCTL_STOP_PENDING,
        );
        let mut r = 0;
        if flags & bindings::PF_KTHREAD != 0 {
            r |= ts::KTHREAD;
        }
        if flags & bindings::PF_EXITING != 0 {
            r |= ts::EXITING;
        }
        if ptraced != 0 {
            r |= ts::PTRACED;
        }
        if jobctl as u64 & stopped != 0 {
            r |= ts::STOPPED;
        }
        if mm.is_null() {
            r |= ts::NO_MM;
        }
        r
    }

    /// Whether the caller may read this task's state: the rule of
    /// `ptrace_may_access()` for reading (which a module cannot call). The
    /// caller's real ids match all of the target's, the target's
    /// capabilities are a subset of the caller's, and the target is
    /// dumpable; or the caller is privileged over the target's user
    /// namespace (`CAP_SYS_PTRACE`), or holds `CAP_CHECKPOINT_RESTORE` or
    /// `CAP_SYS_ADMIN`.
    pub(crate) fn may_checkpoint(&self) -> core::result::Result<(), Deny> {
        if super::capable(bindings::CAP_CHECKPOINT_RESTORE as i32)
            || super::capable(bindings::CAP_SYS_ADMIN as i32)
        {
            return Ok(());
        }
        let t = self.raw();
        let ptrace_capable = |ns| {
            // SAFETY: `ns` is a valid user namespace, kept by RCU.
            unsafe { bindings::ns_capable(ns, bindings::CAP_SYS_PTRACE as i32) }
        };
        {
            let _rcu = rcu::read_lock();
            // SAFETY: The caller's credentials are its own to read; the
            // target's are kept by RCU.
            let (c, tc) = unsafe {
                (
                    &*(*tf!(cur(), cred)),
                    &*ptr::read_volatile(&raw const (*tf!(t, real_cred))),
                )
            };
            let ids = c.uid.val == tc.euid.val
                && c.uid.val == tc.suid.val
                && c.uid.val == tc.uid.val
                && c.gid.val == tc.egid.val
                && c.gid.val == tc.sgid.val
                && c.gid.val == tc.gid.val;
            let why = if !ids {
                Some(Deny::Ids)
            } else if tc.cap_permitted.val & !c.cap_permitted.val != 0 {
                Some(Deny::Caps)
            } else {
                None
            };
            if let Some(why) = why {
                if !ptrace_capable(tc.user_ns) {
                    return Err(why);
                }
            }
        }
        // Read dumpability after the credentials, as ptrace does.
        // SAFETY: A barrier.
        unsafe { bindings::smp_rmb() };
        let _rcu = rcu::read_lock();
        let mut ns = ptr::null_mut();
        // SAFETY: The task is valid, RCU is held, `ns` is valid for writes.
        let dumpable = unsafe { ffi::cr_task_dumpable(t, &mut ns) };
        if dumpable != TASK_DUMPABLE_OWNER && !ptrace_capable(ns) {
            return Err(Deny::Dumpable);
        }
        Ok(())
    }

    /// Writes `buf` at `addr` of the task's memory even where it is not
    /// writable (as ptrace's POKE does, copy-on-write).
    pub(crate) fn poke(&self, addr: u64, buf: &[u8]) -> Result {
        poke(self.raw(), addr, buf)
    }

    /// The task's mm, referenced, if it has one.
    pub(crate) fn mm(&self) -> Option<super::MmRef> {
        super::MmRef::of(self.raw())
    }

    /// Reads `buf.len()` bytes at `addr` of the task's memory, readable or
    /// not (as ptrace's PEEK does).
    pub(crate) fn peek(&self, addr: u64, buf: &mut [u8]) -> Result {
        // SAFETY: The task is valid (invariant); `buf` is valid for writes
        // of its length, which a read without `FOLL_WRITE` does.
        unsafe {
            access_vm(
                self.raw(),
                addr,
                buf.as_mut_ptr(),
                buf.len(),
                bindings::FOLL_FORCE,
            )
        }
    }

    /// Whether it is a thread group leader.
    pub(crate) fn is_leader(&self) -> bool {
        // SAFETY: The task is valid.
        unsafe { is_leader(self.raw()) }
    }

    /// Whether it is a zombie (with its exit status) or a dead leader of
    /// a live thread group.
    pub(crate) fn zombie(&self) -> Zombie {
        let t = self.raw();
        // SAFETY: The task is valid; so is its signal struct. The fields
        // are read once, as `READ_ONCE()` would.
        unsafe {
            if ptr::read_volatile(&raw const (*tf!(t, exit_state))) != bindings::EXIT_ZOMBIE as i32
            {
                return Zombie::No;
            }
            let head = &raw mut (*(*tf!(t, signal))).thread_head;
            // `thread_group_empty()`: the leader is the last thread left.
            if is_leader(t) && (*tf!(t, thread_node)).next != head {
                return Zombie::DeadLeader;
            }
            Zombie::Yes(ptr::read_volatile(&raw const (*tf!(t, exit_code))))
        }
    }

    /// Whether it belongs to the caller's thread group.
    pub(crate) fn in_callers_group(&self) -> bool {
        self.is_caller()
    }

    /// Whether two references are the same task.
    pub(crate) fn same(&self, other: &TaskRef) -> bool {
        self.raw() == other.raw()
    }

    /// The subtree of processes rooted at this task's process: each
    /// process's leader, then its threads; parents before children
    /// (breadth first, by real parent); zombies included. `E2BIG` beyond
    /// `max` tasks.
    pub(crate) fn collect_tree(&self, max: usize) -> Result<KVec<TaskRef>> {
        let mut v = KVec::<TaskRef>::with_capacity(max, GFP_KERNEL)?;
        let _rcu = rcu::read_lock();
        let add = |v: &mut KVec<TaskRef>, t| {
            if v.len() >= max {
                return Err(E2BIG);
            }
            // SAFETY: `t` is a task found under RCU, which keeps it valid.
            let t = unsafe { TaskRef::get(t) };
            // Cannot allocate (capacity reserved above), so cannot sleep.
            Ok(v.push(t, GFP_ATOMIC)?)
        };
        // SAFETY: The task is valid, and so is its leader.
        let leader = unsafe { *tf!(self.raw(), group_leader) };
        // Each process: its leader, then its other threads.
        let add_process = |v: &mut KVec<TaskRef>, p| {
            add(v, p)?;
            // SAFETY: `p` is valid and RCU is held.
            unsafe { for_each_thread(p, |t| if t == p { Ok(()) } else { add(v, t) }) }
        };
        add_process(&mut v, leader)?;
        let mut i = 0;
        while i < v.len() {
            let parent = v[i].raw();
            i += 1;
            // SAFETY: `parent` is referenced by `v`.
            if !unsafe { is_leader(parent) } {
                continue;
            }
            // SAFETY: `parent` is valid.
            let tgid = unsafe { *tf!(parent, tgid) };
            // SAFETY: RCU is held; each `p` and its real parent are valid
            // under it.
            unsafe {
                for_each_process(|p| {
                    let pp = ptr::read_volatile(&raw const (*tf!(p, real_parent)));
                    if (*tf!(pp, tgid)) != tgid || (*tf!(p, tgid)) == tgid {
                        return Ok(());
                    }
                    add_process(&mut v, p)
                })?;
            }
        }
        drop(_rcu);
        Ok(v)
    }

    /// Sends `sig` to the task.
    pub(crate) fn send_sig(&self, sig: i32) {
        // SAFETY: The task is valid.
        unsafe { bindings::send_sig(sig, self.raw(), 1) };
    }

    /// Queues `work` to run in the task's own context at its next return to
    /// user space, interrupting an interruptible sleep (`TWA_SIGNAL`). The
    /// work is given back if it cannot be queued: it was queued before, or
    /// the task is exiting.
    pub(crate) fn queue_work<T: TaskWork>(&self, work: Arc<T>) -> core::result::Result<(), Arc<T>> {
        queue_work(self.raw(), work, bindings::task_work_notify_mode_TWA_SIGNAL)
    }
}

/// `access_process_vm(FOLL_FORCE | FOLL_WRITE)` of all of `buf`.
pub(super) fn poke(t: *mut bindings::task_struct, addr: u64, buf: &[u8]) -> Result {
    let flags = bindings::FOLL_FORCE | bindings::FOLL_WRITE;
    // SAFETY: `t` is a valid task (callers); `buf` is valid for reads of its
    // length, and a write (`FOLL_WRITE`) only reads it despite the pointer
    // type.
    unsafe { access_vm(t, addr, buf.as_ptr().cast_mut(), buf.len(), flags) }
}

/// `access_process_vm()` of `len` bytes at `addr`, all or `EFAULT`.
///
/// # Safety
///
/// `t` is a valid task; `buf` is valid for `len` bytes: for writes if
/// `flags` lacks `FOLL_WRITE` (the memory is read into it), for reads if
/// it has it.
unsafe fn access_vm(
    t: *mut bindings::task_struct,
    addr: u64,
    buf: *mut u8,
    len: usize,
    flags: u32,
) -> Result {
    // SAFETY: As the caller guarantees.
    let n = unsafe { bindings::access_process_vm(t, addr as usize, buf.cast(), len as i32, flags) };
    if n as usize != len {
        return Err(EFAULT);
    }
    Ok(())
}

// ---------------------------------------------------------------- task work

/// The `struct callback_head` of a type run as task work ([`TaskWork`]).
///
/// # Invariants
///
/// `queued` is set before `head` is handed to `task_work_add()`, and never
/// cleared: a head is queued at most once in its life.
pub(crate) struct TaskWorkHead {
    head: Opaque<bindings::callback_head>,
    queued: AtomicBool,
}

// SAFETY: The head is only used by `task_work_add()` and the task that runs
// it, through raw pointers; `queued` is atomic.
unsafe impl Send for TaskWorkHead {}
// SAFETY: As above: `&TaskWorkHead` gives access to nothing but `queued`.
unsafe impl Sync for TaskWorkHead {}

impl TaskWorkHead {
    /// A head that was never queued.
    pub(crate) fn new() -> Self {
        Self {
            head: Opaque::uninit(),
            queued: AtomicBool::new(false),
        }
    }
}

impl Default for TaskWorkHead {
    fn default() -> Self {
        Self::new()
    }
}

/// A type with a [`TaskWorkHead`] field; implemented by
/// [`impl_has_task_work!`].
///
/// # Safety
///
/// `OFFSET` is the offset in `Self` of a field of type [`TaskWorkHead`].
pub(crate) unsafe trait HasTaskWork {
    /// Offset of the [`TaskWorkHead`] field.
    const OFFSET: usize;
}

/// Declares the [`TaskWorkHead`] field of a type: `impl_has_task_work!(Job, work)`.
macro_rules! impl_has_task_work {
    ($t:ty, $field:ident) => {
        // SAFETY: `OFFSET` is the offset of `$field`, which `check` proves a
        // `TaskWorkHead`.
        unsafe impl $crate::kapi::HasTaskWork for $t {
            const OFFSET: usize = {
                #[allow(dead_code)]
                fn check(x: &$t) -> &$crate::kapi::TaskWorkHead {
                    &x.$field
                }
                ::core::mem::offset_of!($t, $field)
            };
        }
    };
}
pub(crate) use impl_has_task_work;

/// Work that a task runs in its own context on its way back to user space.
pub(crate) trait TaskWork: HasTaskWork + Send + Sync + Sized {
    /// Runs in the task it was queued on, with the reference queued.
    fn run(this: Arc<Self>);
}

/// The `task_work_func_t` of `T`.
///
/// # Safety
///
/// `head` is the `head` field of the [`TaskWorkHead`] of a `T` whose
/// reference [`queue_work`] leaked when it queued it.
unsafe extern "C" fn run_raw<T: TaskWork>(head: *mut bindings::callback_head) {
    // SAFETY: `head` is the `head` field of a `TaskWorkHead` at `OFFSET`
    // in a `T` (safety requirement and `HasTaskWork`): this is that `T`,
    // whose leaked reference we take back.
    let this = unsafe {
        let h = kernel::container_of!(
            head.cast::<Opaque<bindings::callback_head>>(),
            TaskWorkHead,
            head
        );
        Arc::from_raw(h.cast::<u8>().sub(T::OFFSET).cast::<T>())
    };
    T::run(this);
}

/// Queues `work` on `t` with `mode`; gives it back if it cannot.
pub(super) fn queue_work<T: TaskWork>(
    t: *mut bindings::task_struct,
    work: Arc<T>,
    mode: bindings::task_work_notify_mode,
) -> core::result::Result<(), Arc<T>> {
    // SAFETY: `T: HasTaskWork` puts a `TaskWorkHead` at `OFFSET`.
    let h = unsafe {
        &*ptr::from_ref(&*work)
            .cast::<u8>()
            .add(T::OFFSET)
            .cast::<TaskWorkHead>()
    };
    if h.queued.swap(true, Ordering::AcqRel) {
        return Err(work);
    }
    let head = h.head.get();
    let raw = Arc::into_raw(work);
    // SAFETY: `t` is a valid task (callers). `head` was never queued (type
    // invariant of `TaskWorkHead`) and lives in the `T` whose reference
    // `raw` leaks, which `run_raw::<T>` takes back when it runs.
    let r = unsafe {
        bindings::init_task_work(head, Some(run_raw::<T>));
        to_result(bindings::task_work_add(t, head, mode))
    };
    match r {
        Ok(()) => Ok(()),
        // SAFETY: Not queued: the reference is still ours.
        Err(_) => Err(unsafe { Arc::from_raw(raw) }),
    }
}

// ------------------------------------------------------- job-control stop

/// The part of `SIGNAL_STOP_MASK` that says whether a group stop is in
/// effect or was ended by `SIGCONT` (the `SIGNAL_CLD_*` bits are the
/// parent's notification still to send).
const SIGNAL_STOP_MASK: u32 = bindings::SIGNAL_STOP_STOPPED
    | bindings::SIGNAL_STOP_CONTINUED
    | bindings::SIGNAL_CLD_STOPPED
    | bindings::SIGNAL_CLD_CONTINUED;

/// A task's job-control stop, read under its siglock.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StopState {
    /// The task is held in a group stop (`JOBCTL_STOPPED`, no stop or trap
    /// pending, not traced).
    pub(crate) stopped: bool,
    /// A group stop is under way or pending for the task
    /// (`JOBCTL_STOP_PENDING`) or it is traced-stopped.
    pub(crate) pending: bool,
    /// Its process is in a completed group stop (`SIGNAL_STOP_STOPPED`).
    pub(crate) group: bool,
    /// The signal of the last group stop (`JOBCTL_STOP_SIGMASK`).
    pub(crate) signo: u32,
    /// The process's stop is not yet reported to its parent by `wait`
    /// (`group_exit_code`, which `WUNTRACED` consumes).
    pub(crate) exit_code: i32,
}

/// `lock_task_sighand()` (whose out-of-line part is not exported): the
/// task's sighand, locked, or `None` once the task is released.
///
/// # Safety
///
/// `t` is a valid task.
unsafe fn lock_sighand(t: *mut bindings::task_struct) -> Option<*mut bindings::sighand_struct> {
    let _rcu = rcu::read_lock();
    loop {
        // SAFETY: `t` is valid; its sighand pointer is read once, and the
        // sighand it points to lives while RCU is held
        // (`SLAB_TYPESAFE_BY_RCU`), as `__lock_task_sighand` relies on.
        let sh = unsafe { ptr::read_volatile(tf!(t, sighand)) };
        if sh.is_null() {
            return None;
        }
        // SAFETY: `sh` is a sighand kept by RCU.
        unsafe { ffi::cr_sighand_lock(sh) };
        // SAFETY: As above; under the lock the pointer is stable.
        if unsafe { ptr::read_volatile(tf!(t, sighand)) } == sh {
            return Some(sh);
        }
        // SAFETY: Locked just above.
        unsafe { ffi::cr_sighand_unlock(sh) };
    }
}

impl TaskRef {
    /// Its job-control stop state (`None`: the task is released).
    pub(crate) fn stop_state(&self) -> Option<StopState> {
        let t = self.raw();
        // SAFETY: The task is valid.
        let sh = unsafe { lock_sighand(t) }?;
        // SAFETY: Under the siglock, which guards `jobctl` and the signal
        // struct's stop fields; the signal struct lives with the task.
        let s = unsafe {
            let j = *tf!(t, jobctl) as u32;
            let sig = *tf!(t, signal);
            let pending = bindings::JOBCTL_STOP_PENDING | bindings::JOBCTL_TRACED;
            StopState {
                stopped: j & bindings::JOBCTL_STOPPED != 0
                    && j & bindings::JOBCTL_PENDING_MASK == 0
                    && j & pending == 0,
                pending: j & (pending | bindings::JOBCTL_PENDING_MASK) != 0,
                group: (*sig).flags & bindings::SIGNAL_STOP_STOPPED != 0,
                signo: j & bindings::JOBCTL_STOP_SIGMASK,
                exit_code: (*sig).group_exit_code,
            }
        };
        // SAFETY: Locked by `lock_sighand`.
        unsafe { ffi::cr_sighand_unlock(sh) };
        Some(s)
    }

    /// Wakes a task held in a job-control stop (as `SIGCONT` would, but
    /// leaving its stop state as it is) so that its queued task work runs,
    /// with every signal blocked so that it takes none on its way there.
    /// `saved` gets, before the wake, its blocked mask and whether it is
    /// to return with a saved mask (`TIF_RESTORE_SIGMASK`: then its way
    /// there restores that mask itself). A task with a `SIGSTOP` pending
    /// (which no mask blocks, and which would start a new group stop
    /// before its task work) is left as it is.
    pub(crate) fn wake_stopped(&self, saved: impl FnOnce(u64, bool)) -> Wake {
        let t = self.raw();
        // SAFETY: The task is valid.
        let Some(sh) = (unsafe { lock_sighand(t) }) else {
            return Wake::NotStopped;
        };
        // SAFETY: Under the siglock, which guards `jobctl`, `blocked` and
        // the thread flags' signal bits; the task is asleep (stopped), so
        // nothing else writes them. `entry` is a wait entry of our own whose
        // only use is to name the task to wake.
        let woken = unsafe {
            let j = *tf!(t, jobctl) as u32;
            let ok = j & bindings::JOBCTL_STOPPED != 0
                && j & (bindings::JOBCTL_PENDING_MASK | bindings::JOBCTL_TRACED) == 0
                && (*tf!(t, ptrace)) == 0;
            let stop = 1u64 << (bindings::SIGSTOP - 1);
            let pending = (*tf!(t, pending)).signal.sig[0] as u64
                | (*(*tf!(t, signal))).shared_pending.signal.sig[0] as u64;
            let w = if !ok {
                Wake::NotStopped
            } else if pending & stop != 0 {
                Wake::StopPending
            } else {
                Wake::Woken
            };
            if w == Wake::Woken {
                let restore = ffi::cr_task_restore_sigmask(t);
                let b = tf!(t, blocked);
                saved((*b).sig[0] as u64, restore);
                (*b).sig[0] = !KILL_STOP as usize;
                let mut entry = bindings::wait_queue_entry {
                    private: t.cast(),
                    ..Default::default()
                };
                bindings::default_wake_function(
                    &mut entry,
                    bindings::__TASK_STOPPED,
                    0,
                    ptr::null_mut(),
                );
            }
            w
        };
        // SAFETY: Locked by `lock_sighand`.
        unsafe { ffi::cr_sighand_unlock(sh) };
        woken
    }
}

/// What [`TaskRef::wake_stopped`] did.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Woken into its task work.
    Woken,
    /// Not stopped (any more): it runs its task work anyway.
    NotStopped,
    /// Left stopped: a `SIGSTOP` is pending.
    StopPending,
}

/// `sigmask(SIGKILL) | sigmask(SIGSTOP)`.
const KILL_STOP: u64 = (1 << (bindings::SIGKILL - 1)) | (1 << (bindings::SIGSTOP - 1));

/// Makes the current task, woken from a job-control stop by
/// [`TaskRef::wake_stopped`], stop again on its way back to user space:
/// it takes its part in its process's group stop anew, which notifies no
/// one (the stop is its process's already). Nothing is done if the stop
/// ended meanwhile (`SIGCONT` or a fatal signal): the task goes on, and a
/// `SIGCONT`'s notification of the parent is sent on its way as usual.
pub(crate) fn current_stop_again() {
    let t = cur();
    // SAFETY: The current task's siglock guards its `jobctl` and its
    // signal struct's flags.
    unsafe {
        ffi::cr_siglock(t);
        let j = tf!(t, jobctl);
        let sig = *tf!(t, signal);
        if (*j as u32) & bindings::JOBCTL_STOPPED != 0
            && (*sig).flags & bindings::SIGNAL_GROUP_EXIT == 0
            && (*sig).group_exec_task.is_null()
        {
            *j |= bindings::JOBCTL_STOP_PENDING as kernel::ffi::c_ulong;
            bindings::recalc_sigpending();
        }
        ffi::cr_sigunlock(t);
    }
}

/// Puts the current task's process in a completed group stop by `signo`
/// (`reported`: already reported to the parent by `wait`, as if it were
/// waited for with `WUNTRACED`), and the current task in it on its way
/// back to user space, notifying no one: restart's end for a process that
/// was stopped. Each of its threads calls it.
pub(crate) fn current_enter_stop(signo: u32, reported: bool) {
    let t = cur();
    // SAFETY: The current task's siglock guards its `jobctl` and its
    // signal struct's stop fields.
    unsafe {
        ffi::cr_siglock(t);
        let sig = *tf!(t, signal);
        if (*sig).flags & bindings::SIGNAL_GROUP_EXIT == 0 && (*sig).group_exec_task.is_null() {
            (*sig).flags = ((*sig).flags & !SIGNAL_STOP_MASK) | bindings::SIGNAL_STOP_STOPPED;
            (*sig).group_exit_code = if reported { 0 } else { signo as i32 };
            (*sig).group_stop_count = 0;
            let j = tf!(t, jobctl);
            let v = (*j as u32 & !bindings::JOBCTL_STOP_SIGMASK)
                | (signo & bindings::JOBCTL_STOP_SIGMASK)
                | bindings::JOBCTL_STOP_PENDING;
            *j = v as kernel::ffi::c_ulong;
            bindings::recalc_sigpending();
        }
        ffi::cr_sigunlock(t);
    }
}
