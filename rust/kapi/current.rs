// SPDX-License-Identifier: GPL-2.0

//! Operations on the calling task (`current`), for the code that runs in
//! the task it inspects or restores.

use super::{cur, errno_result, ffi, is_err_value, path_in, task, tf, MmRef};
use core::ptr;
use kernel::{
    bindings,
    cpu::CpuId,
    cpumask::CpumaskVar,
    error::to_result,
    ffi::c_int,
    fs::File,
    prelude::*,
    sync::{aref::ARef, rcu, Arc},
};

/// Number of 64-bit words of [`Sched::cpus`].
const SCHED_CPU_WORDS: usize = 16;

/// Scheduling state of a thread.
#[derive(Default, Clone, Copy)]
pub(crate) struct Sched {
    pub(crate) policy: u32,
    pub(crate) priority: u32,
    pub(crate) nice: i32,
    pub(crate) reset_on_fork: u32,
    pub(crate) ioprio: u32,
    /// The affinity is every possible CPU.
    pub(crate) all_cpus: u32,
    pub(crate) nr_cpu_ids: u32,
    /// The affinity, for CPUs below `64 * SCHED_CPU_WORDS`.
    pub(crate) cpus: [u64; SCHED_CPU_WORDS],
}

/// Bits of [`refusals`].
pub(crate) mod refuse {
    pub(crate) const SIGPENDING: i32 = 1;
    pub(crate) const POSIX_TIMERS: i32 = 8;
    pub(crate) const SECCOMP: i32 = 16;
    pub(crate) const SHARED_FS: i32 = 32;
    pub(crate) const SHARED_FILES: i32 = 64;
    pub(crate) const SHARED_SIGHAND: i32 = 128;
    pub(crate) const SHARED_MM: i32 = 256;
}

/// Number of supplementary groups [`Creds`] holds inline.
pub(crate) const MAX_GROUPS_INLINE: usize = 32;

/// Credentials of the current task, in its user namespace.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Creds {
    /// Real, effective, saved and filesystem uids.
    pub(crate) uids: [u32; 4],
    /// Real, effective, saved and filesystem gids.
    pub(crate) gids: [u32; 4],
    /// Inheritable, permitted, effective, bounding and ambient sets.
    pub(crate) caps: [u64; 5],
    pub(crate) securebits: u32,
    pub(crate) no_new_privs: u32,
    pub(crate) ngroups: u32,
    pub(crate) groups: [u32; MAX_GROUPS_INLINE],
    /// `TASK_DUMPABLE_*`.
    pub(crate) dumpable: u32,
}

/// State that only a refusal or a plain field covers.
#[derive(Default, Clone, Copy)]
pub(crate) struct Extra {
    pub(crate) pdeath_signal: i32,
    pub(crate) child_subreaper: u32,
    pub(crate) timer_slack_ns: u64,
    pub(crate) default_timer_slack_ns: u64,
}

/// Personality, umask, comm and the thread-exit pointers.
#[derive(Default, Clone, Copy)]
pub(crate) struct Misc {
    pub(crate) personality: u32,
    pub(crate) umask: u32,
    pub(crate) comm: [u8; 16],
    pub(crate) clear_child_tid: u64,
    pub(crate) robust_list: u64,
    pub(crate) robust_list_len: u64,
    pub(crate) rseq: u64,
    pub(crate) rseq_len: u32,
    pub(crate) rseq_sig: u32,
}

/// One signal disposition.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SigAction {
    pub(crate) handler: u64,
    pub(crate) flags: u64,
    pub(crate) restorer: u64,
    pub(crate) mask: u64,
}

/// Signal dispositions, blocked mask and alternate stack.
#[derive(Clone, Copy)]
pub(crate) struct Signals {
    pub(crate) blocked: u64,
    pub(crate) ss_sp: u64,
    pub(crate) ss_size: u64,
    pub(crate) ss_flags: u32,
    pub(crate) act: [SigAction; 64],
}

/// `sigmask(SIGKILL) | sigmask(SIGSTOP)`: never blocked nor caught.
const KILL_STOP: u64 = 1 << (bindings::SIGKILL - 1) | 1 << (bindings::SIGSTOP - 1);

/// `DEFAULT_PRIO`: the static priority of nice 0.
const DEFAULT_PRIO: i32 = 120;

/// Whether a signal set is empty (`sigisemptyset()`).
fn sig_empty(s: &bindings::sigset_t) -> bool {
    s.sig.iter().all(|w| *w == 0)
}

/// `spin_lock()` of the `task_lock()` of `t` for the life of the guard.
struct TaskLock(*mut bindings::task_struct);

impl TaskLock {
    /// # Safety
    ///
    /// `t` is a valid task that outlives the guard, and the caller holds no
    /// lock that nests inside `alloc_lock`.
    unsafe fn new(t: *mut bindings::task_struct) -> Self {
        // SAFETY: `t` is valid (safety requirement).
        unsafe { bindings::spin_lock(&raw mut (*tf!(t, alloc_lock))) };
        TaskLock(t)
    }
}

impl Drop for TaskLock {
    fn drop(&mut self) {
        // SAFETY: Taken in `new`; `t` is still valid.
        unsafe { bindings::spin_unlock(tf!(self.0, alloc_lock)) };
    }
}

/// The current task's signal-handler lock (`spin_lock_irq`), for the life of
/// the guard.
pub(super) struct SigLock;

impl SigLock {
    pub(super) fn new() -> Self {
        // SAFETY: `current` is valid and has signal handlers.
        unsafe { ffi::cr_siglock(cur()) };
        SigLock
    }
}

impl Drop for SigLock {
    fn drop(&mut self) {
        // SAFETY: Taken in `new`, by the same task.
        unsafe { ffi::cr_sigunlock(cur()) };
    }
}

/// State this version cannot save, as bits of [`refuse`]: the thread's
/// own (a pending signal, seccomp), and with `process` its thread group's
/// (POSIX timers, and an fs, file table, signal handlers or mm that
/// are not the group's own, shared by all its threads and nobody else).
/// Run by the leader once every thread is parked.
pub(crate) fn refusals(process: bool) -> i32 {
    let t = cur();
    let mut r = 0;
    // SAFETY: `current`, its signal struct and signal handlers are valid;
    // the pending sets are read under the siglock.
    unsafe {
        let sig = *tf!(t, signal);
        {
            let _l = SigLock::new();
            if !sig_empty(&(*tf!(t, pending)).signal) {
                r |= refuse::SIGPENDING;
            }
            if process && !sig_empty(&(*sig).shared_pending.signal) {
                r |= refuse::SIGPENDING;
            }
        }
        #[cfg(CONFIG_SECCOMP)]
        if (*tf!(t, seccomp)).mode != bindings::SECCOMP_MODE_DISABLED as i32 {
            r |= refuse::SECCOMP;
        }
        if !process {
            return r;
        }
        let n = (*sig).nr_threads;
        {
            let _l = SigLock::new();
            if !(*sig).posix_timers.first.is_null() || !(*sig).ignored_posix_timers.first.is_null()
            {
                r |= refuse::POSIX_TIMERS;
            }
        }
        {
            let _rcu = rcu::read_lock();
            let _ = task::for_each_thread(t, |th| {
                if (*tf!(th, fs)) != (*tf!(t, fs)) {
                    r |= refuse::SHARED_FS;
                }
                if (*tf!(th, files)) != (*tf!(t, files)) {
                    r |= refuse::SHARED_FILES;
                }
                Ok(())
            });
        }
        if ffi::cr_fs_users(t) > n {
            r |= refuse::SHARED_FS;
        }
        if bindings::atomic_read(&raw const (*(*tf!(t, files))).count) > n {
            r |= refuse::SHARED_FILES;
        }
        if bindings::atomic_read(&raw const (*(*tf!(t, sighand))).count.refs) > n {
            r |= refuse::SHARED_SIGHAND;
        }
        if bindings::atomic_read(&raw const (*(*tf!(t, mm))).__bindgen_anon_1.mm_users) > n {
            r |= refuse::SHARED_MM;
        }
    }
    r
}

/// The current thread's seccomp mode: 0 disabled, 1 strict, 2 filter.
pub(crate) fn seccomp_mode() -> i32 {
    #[cfg(CONFIG_SECCOMP)]
    // SAFETY: The current task's own mode, read by itself.
    return unsafe { (*tf!(cur(), seccomp)).mode };
    #[cfg(not(CONFIG_SECCOMP))]
    0
}

/// The current credentials and the user namespace ids are seen in.
fn cred() -> (&'static bindings::cred, *mut bindings::user_namespace) {
    // SAFETY: A task's own credentials are stable while it runs (only it
    // replaces them, and it is here); the borrow does not leave this
    // module's callers, which run in the task.
    unsafe { (&*(*tf!(cur(), cred)), bindings::current_user_ns()) }
}

/// The current task's credentials, unreferenced (see [`cred`]).
pub(super) fn cred_ptr() -> *const bindings::cred {
    ptr::from_ref(cred().0)
}

/// Whether `c`'s effective uid and gid and supplementary groups are the
/// current task's (what `SO_PEERCRED` and `SO_PEERGROUPS` show of them).
pub(super) fn effective_ids_are_own(c: &bindings::cred) -> bool {
    let (me, _) = cred();
    if c.euid.val != me.euid.val || c.egid.val != me.egid.val {
        return false;
    }
    if ptr::eq(c.group_info, me.group_info) {
        return true;
    }
    // SAFETY: Both credentials are valid (the caller's `c` is borrowed,
    // the current task's are stable while it runs) and each holds a valid
    // group list of its `ngroups` entries; `b`'s is read for `n` entries
    // only once its count is known to be `n` too (`&&`).
    unsafe {
        let (a, b) = (&*c.group_info, &*me.group_info);
        let n = a.ngroups.max(0) as usize;
        a.ngroups == b.ngroups
            && a.gid
                .as_slice(n)
                .iter()
                .zip(b.gid.as_slice(n))
                .all(|(x, y)| x.val == y.val)
    }
}

/// Credentials (first [`MAX_GROUPS_INLINE`] groups inline; all via
/// [`group`]).
pub(crate) fn creds() -> Creds {
    let (c, ns) = cred();
    // SAFETY: `ns` is the current user namespace; any id may be mapped.
    let uid = |u| unsafe { bindings::from_kuid_munged(ns, u) };
    // SAFETY: As above.
    let gid = |g| unsafe { bindings::from_kgid_munged(ns, g) };
    let t = cur();
    let mut out = Creds {
        uids: [uid(c.uid), uid(c.euid), uid(c.suid), uid(c.fsuid)],
        gids: [gid(c.gid), gid(c.egid), gid(c.sgid), gid(c.fsgid)],
        caps: [
            c.cap_inheritable.val,
            c.cap_permitted.val,
            c.cap_effective.val,
            c.cap_bset.val,
            c.cap_ambient.val,
        ],
        securebits: c.securebits,
        // SAFETY: `current` is valid; `task_no_new_privs()`.
        no_new_privs: unsafe {
            (ptr::read_volatile(&raw const (*tf!(t, atomic_flags))) >> bindings::PFA_NO_NEW_PRIVS)
                & 1
        } as u32,
        ngroups: 0,
        groups: [0; MAX_GROUPS_INLINE],
        dumpable: {
            let _rcu = rcu::read_lock();
            let mut ns = ptr::null_mut();
            // SAFETY: `current` is valid, RCU is held, `ns` is valid for
            // writes.
            unsafe { ffi::cr_task_dumpable(t, &mut ns) }
        },
    };
    // SAFETY: The credentials hold a valid group list.
    let n = unsafe { (*c.group_info).ngroups };
    out.ngroups = n as u32;
    for (i, g) in out.groups.iter_mut().enumerate().take(n.max(0) as usize) {
        *g = group(i as u32).unwrap_or(0);
    }
    out
}

/// The `i`th supplementary group.
pub(crate) fn group(i: u32) -> Result<u32> {
    let (c, ns) = cred();
    // SAFETY: The credentials hold a valid group list of `ngroups` entries,
    // and `i` is checked against it.
    unsafe {
        let gi = c.group_info;
        if i >= (*gi).ngroups.max(0) as u32 {
            return Err(EINVAL);
        }
        Ok(bindings::from_kgid_munged(
            ns,
            *(*gi).gid.as_ptr().add(i as usize),
        ))
    }
}

/// Whether the current credentials are exactly `c` with `groups`:
/// `Ok(())`, or `Err(what)` naming what differs.
pub(crate) fn creds_match(c: &Creds, groups: &[u32]) -> core::result::Result<(), &'static str> {
    let cur = creds();
    if cur.uids != c.uids {
        return Err("uids");
    }
    if cur.gids != c.gids {
        return Err("gids");
    }
    if cur.ngroups as usize != groups.len()
        || groups
            .iter()
            .enumerate()
            .any(|(i, g)| group(i as u32) != Ok(*g))
    {
        return Err("supplementary groups");
    }
    if cur.caps != c.caps {
        return Err("capabilities");
    }
    if cur.securebits != c.securebits {
        return Err("securebits");
    }
    Ok(())
}

/// Personality, umask, comm, thread-exit pointers.
pub(crate) fn misc() -> Misc {
    let t = cur();
    let mut m = Misc {
        // SAFETY: The fs struct of `current` is valid.
        umask: unsafe { ffi::cr_current_umask() },
        ..Misc::default()
    };
    // SAFETY: `current` is valid; these fields are its own.
    unsafe {
        m.personality = *tf!(t, personality);
        // `get_task_comm()`: up to the NUL, zero-padded.
        let comm = ptr::read_volatile(&raw const (*tf!(t, comm)));
        for (d, s) in m.comm.iter_mut().zip(comm.iter().take(15)) {
            if *s == 0 {
                break;
            }
            *d = *s;
        }
        m.clear_child_tid = (*tf!(t, clear_child_tid)) as u64;
        #[cfg(CONFIG_FUTEX)]
        {
            m.robust_list = (*tf!(t, futex)).robust_list as u64;
        }
        #[cfg(CONFIG_RSEQ)]
        {
            m.rseq = (*tf!(t, rseq)).usrptr as u64;
            m.rseq_len = (*tf!(t, rseq)).len;
            m.rseq_sig = (*tf!(t, rseq)).sig;
        }
    }
    if m.robust_list != 0 {
        m.robust_list_len = core::mem::size_of::<bindings::robust_list_head>() as u64;
    }
    m
}

/// Resource limits as `(cur, max)` pairs, flattened.
pub(crate) fn rlimits() -> [u64; 32] {
    let mut r = [0u64; 32];
    let t = cur();
    // SAFETY: `current`, its leader and signal struct are valid; the limits
    // are read under the leader's task lock, as `do_prlimit()` writes them.
    unsafe {
        let _l = TaskLock::new(*tf!(t, group_leader));
        for (i, l) in (*(*tf!(t, signal))).rlim.iter().enumerate().take(16) {
            r[2 * i] = l.rlim_cur as u64;
            r[2 * i + 1] = l.rlim_max as u64;
        }
    }
    r
}

/// Signal dispositions, blocked mask and alternate stack (2 KiB: on
/// the heap, not the kernel stack).
pub(crate) fn signals() -> Result<KBox<Signals>> {
    let mut s = KBox::new(
        Signals {
            blocked: 0,
            ss_sp: 0,
            ss_size: 0,
            ss_flags: 0,
            act: [SigAction::default(); 64],
        },
        GFP_KERNEL_ACCOUNT,
    )?;
    let t = cur();
    // SAFETY: `current` and its signal handlers are valid; they are read
    // under the siglock. Handler and restorer are read as the addresses
    // they are (`SIG_IGN` is not a function).
    unsafe {
        let _l = SigLock::new();
        s.blocked = (*tf!(t, blocked)).sig[0] as u64;
        for (a, k) in s.act.iter_mut().zip((*(*tf!(t, sighand))).action.iter()) {
            let sa = &k.sa;
            a.handler = ptr::read((&raw const sa.sa_handler).cast::<usize>()) as u64;
            a.flags = sa.sa_flags as u64;
            a.restorer = ptr::read((&raw const sa.sa_restorer).cast::<usize>()) as u64;
            a.mask = sa.sa_mask.sig[0] as u64;
        }
    }
    // SAFETY: The alternate stack of `current` is its own.
    unsafe {
        s.ss_sp = (*tf!(t, sas_ss_sp)) as u64;
        s.ss_size = (*tf!(t, sas_ss_size)) as u64;
        s.ss_flags = if s.ss_size != 0 {
            *tf!(t, sas_ss_flags)
        } else {
            bindings::SS_DISABLE
        };
    }
    Ok(s)
}

/// `NT_PRSTATUS`: general purpose registers.
pub(crate) const NT_PRSTATUS: u32 = 1;
/// `NT_X86_XSTATE`: the xsave area.
pub(crate) const NT_X86_XSTATE: u32 = 0x202;

/// Size of a regset of the current task.
pub(crate) fn regset_size(note: u32) -> Result<usize> {
    // SAFETY: No pointers involved.
    let n = unsafe { ffi::cr_regset_size(note) };
    Ok(errno_result(n.into())? as usize)
}

/// Reads a regset of the current task into `buf`.
pub(crate) fn regset_get(note: u32, buf: &mut [u8]) -> Result {
    // SAFETY: `buf` is valid for `buf.len()` bytes of writes.
    let r = unsafe { ffi::cr_regset_get(note, buf.as_mut_ptr(), buf.len() as u32) };
    errno_result(r.into()).map(|_| ())
}

/// The flags user space may set (ptrace's `FLAG_MASK`).
const FLAG_MASK: usize = {
    use bindings::*;
    let bits = [
        X86_EFLAGS_CF_BIT,
        X86_EFLAGS_PF_BIT,
        X86_EFLAGS_AF_BIT,
        X86_EFLAGS_ZF_BIT,
        X86_EFLAGS_SF_BIT,
        X86_EFLAGS_TF_BIT,
        X86_EFLAGS_DF_BIT,
        X86_EFLAGS_OF_BIT,
        X86_EFLAGS_RF_BIT,
        X86_EFLAGS_AC_BIT,
        X86_EFLAGS_NT_BIT,
    ];
    let mut m = 0;
    let mut i = 0;
    while i < bits.len() {
        m |= 1 << bits[i];
        i += 1;
    }
    m
};

/// Installs the general purpose registers and fs base, `ax` excepted
/// (see [`set_ax_on_return`]), as ptrace would for a stopped tracee; flags
/// are limited to what user space may set. The caller has validated cs,
/// ss, the selectors and the bases.
pub(crate) fn set_regs(r: &[u64; crate::format::NR_GREGS]) {
    // SAFETY: The current task's user registers are its own to write, in
    // an ioctl on its way back to user space.
    unsafe {
        let regs = &mut *ffi::cr_current_pt_regs();
        regs.r15 = r[0] as usize;
        regs.r14 = r[1] as usize;
        regs.r13 = r[2] as usize;
        regs.r12 = r[3] as usize;
        regs.bp = r[4] as usize;
        regs.bx = r[5] as usize;
        regs.r11 = r[6] as usize;
        regs.r10 = r[7] as usize;
        regs.r9 = r[8] as usize;
        regs.r8 = r[9] as usize;
        regs.cx = r[11] as usize;
        regs.dx = r[12] as usize;
        regs.si = r[13] as usize;
        regs.di = r[14] as usize;
        regs.orig_ax = usize::MAX;
        regs.ip = r[16] as usize;
        regs.flags = (regs.flags & !FLAG_MASK) | (r[18] as usize & FLAG_MASK);
        regs.sp = r[19] as usize;
        ffi::cr_current_set_fsbase(r[21]);
    }
}

/// The task work of [`set_ax_on_return`].
struct AxWork {
    work: task::TaskWorkHead,
    ax: u64,
    _dev: ARef<File>,
}

task::impl_has_task_work!(AxWork, work);

impl task::TaskWork for AxWork {
    fn run(this: Arc<Self>) {
        // SAFETY: Runs in the task that queued it, in its own context on
        // the way back to user space: its registers are its own.
        unsafe { (*ffi::cr_current_pt_regs()).ax = this.ax as usize };
        // Dropping `this` puts the `/dev/cr` file; a last `fput()` is
        // deferred to a later task work, so the module outlives this
        // function.
    }
}

/// Sets the current task's `ax` on its way back to user space, after
/// the system call in progress has stored its own return value there:
/// a restored `ax` never passes through the syscall's return path,
/// which for `ioctl` is an `int` (the upper half would be lost). It is
/// queued as "resume" work (`TWA_RESUME`: it makes no signal pending,
/// so the task's last waits still sleep); `get_signal()` runs pending
/// work first, so a task stopped on its way out already shows the
/// value. The syscall-exit trace and audit hooks, which run before it,
/// see the ioctl's 0. `dev`, the
/// `/dev/cr` file, keeps the module loaded until the work has run.
pub(crate) fn set_ax_on_return(ax: u64, dev: &File) -> Result {
    let work = Arc::new(
        AxWork {
            work: task::TaskWorkHead::new(),
            ax,
            _dev: ARef::from(dev),
        },
        GFP_KERNEL,
    )?;
    task::queue_work(cur(), work, bindings::task_work_notify_mode_TWA_RESUME).map_err(|_| ESRCH)
}

/// Registers the rseq area at `ptr` (already in the task's memory) as
/// `rseq(2)` would, without rewriting it: the kernel refreshes its
/// cpu and node ids on the way back to user space and aborts a
/// critical section that was in progress, as after a preemption.
/// `version` is the registration's ABI (2 for an area longer than the
/// original 32 bytes). The caller has validated the area
/// ([`rseq_area_ok`]).
pub(crate) fn set_rseq(ptr: u64, len: u32, sig: u32, version: u8) {
    // SAFETY: Sets fields of the current task only.
    unsafe { ffi::cr_current_set_rseq(ptr, len, sig, version) };
}

/// Whether `rseq(2)` would accept an area of `len` bytes at `ptr`: the
/// original 32 bytes aligned on 32, or at least every supported field
/// aligned as `AT_RSEQ_ALIGN` says; and inside user space.
pub(crate) fn rseq_area_ok(ptr: u64, len: u32) -> bool {
    // SAFETY: Constants.
    let (align, feature) = unsafe { (ffi::cr_rseq_align(), ffi::cr_rseq_feature_size()) };
    let aligned = |a: u32| a != 0 && ptr % u64::from(a) == 0;
    let shape = if len == 32 {
        aligned(32)
    } else {
        len > 32 && len >= feature && aligned(align)
    };
    shape
        && ptr
            .checked_add(u64::from(len))
            .is_some_and(|e| e <= task_size_max())
}

/// State of the current task that only a refusal or a plain field
/// covers: parent-death signal, child subreaper, timer slack.
pub(crate) fn extra() -> Extra {
    let t = cur();
    // SAFETY: `current` and its signal struct are valid.
    unsafe {
        Extra {
            pdeath_signal: (*tf!(t, pdeath_signal)),
            child_subreaper: (*(*tf!(t, signal))).is_child_subreaper(),
            timer_slack_ns: (*tf!(t, timer_slack_ns)),
            default_timer_slack_ns: (*tf!(t, default_timer_slack_ns)),
        }
    }
}

/// `prctl(PR_SET_PDEATHSIG, sig)`; the caller checked `sig <= 64`.
pub(crate) fn set_pdeath_signal(sig: u32) {
    // SAFETY: Sets a field of the current task.
    unsafe { (*tf!(cur(), pdeath_signal)) = sig as c_int };
}

/// `IOPRIO_DEFAULT`: no class, level 0.
const IOPRIO_DEFAULT: u32 = bindings::IOPRIO_CLASS_NONE << bindings::IOPRIO_CLASS_SHIFT;

/// Whether CPU `i` is in `mask` (`cpumask_test_cpu()`).
fn cpu_in(i: u32, mask: *const bindings::cpumask) -> bool {
    // SAFETY: `mask` is a valid cpumask (callers) and `i < nr_cpu_ids`.
    unsafe { bindings::cpumask_test_cpu(i as i32, mask.cast_mut()) }
}

/// `nr_cpu_ids`, bounded by what [`Sched::cpus`] holds.
fn nr_cpus() -> u32 {
    // SAFETY: Set at boot, read-only after.
    let n = unsafe { bindings::nr_cpu_ids };
    n.min(64 * SCHED_CPU_WORDS as u32)
}

/// The current thread's scheduling state.
pub(crate) fn sched() -> Sched {
    let t = cur();
    let mut s = Sched::default();
    // SAFETY: `current` is valid; its io context is read under its task
    // lock; the possible mask is set at boot.
    unsafe {
        s.policy = *tf!(t, policy);
        s.priority = *tf!(t, rt_priority);
        s.nice = *tf!(t, static_prio) - DEFAULT_PRIO;
        s.reset_on_fork = u32::from(ffi::cr_task_sched_reset_on_fork(t));
        s.ioprio = IOPRIO_DEFAULT;
        #[cfg(CONFIG_BLOCK)]
        {
            let _l = TaskLock::new(t);
            let ioc = (*tf!(t, io_context));
            if !ioc.is_null() {
                s.ioprio = (*ioc).ioprio.into();
            }
        }
        // SAFETY: Read once, as the C code of the kernel does.
        s.nr_cpu_ids = bindings::nr_cpu_ids;
        let mask = &raw const (*tf!(t, cpus_mask));
        let possible = &raw const bindings::__cpu_possible_mask;
        let mut all = true;
        for i in 0..s.nr_cpu_ids {
            if cpu_in(i, mask) != cpu_in(i, possible) {
                all = false;
            }
        }
        s.all_cpus = u32::from(all);
        for i in 0..nr_cpus() {
            if cpu_in(i, mask) {
                s.cpus[i as usize / 64] |= 1 << (i % 64);
            }
        }
    }
    s
}

/// Applies scheduling state to the current thread, as `sched_setattr`,
/// `sched_setaffinity` and `ioprio_set` would; the caller has checked
/// that the thread may (see [`can_nice`]).
pub(crate) fn set_sched(s: &Sched) -> Result {
    let t = cur();
    // SAFETY: Acts on the current thread.
    to_result(unsafe {
        ffi::cr_current_sched_setattr(s.policy, s.priority, s.nice, s.reset_on_fork != 0)
    })?;
    // `sched_setattr()` leaves the nice value of other than fair policies.
    // SAFETY: Acts on the current thread.
    unsafe { bindings::set_user_nice(t, s.nice as isize) };
    let mut mask = CpumaskVar::new_zero(GFP_KERNEL)?;
    let mut ret = Ok(());
    if s.all_cpus == 0 {
        // Within the restoring thread's own affinity, which its cpuset
        // bounds (`set_cpus_allowed_ptr()` does not check the cpuset):
        // "every CPU" leaves it as it is.
        // SAFETY: `current` is valid.
        let allowed = unsafe { *tf!(t, cpus_ptr) };
        let mut any = false;
        for i in 0..nr_cpus() {
            if s.cpus[i as usize / 64] >> (i % 64) & 1 != 0 && cpu_in(i, allowed) {
                mask.set(CpuId::from_u32(i).ok_or(EINVAL)?);
                any = true;
            }
        }
        ret = if any {
            // SAFETY: `mask` is a valid cpumask; acts on the current thread.
            to_result(unsafe { bindings::set_cpus_allowed_ptr(t, mask.as_raw()) })
        } else {
            Err(EINVAL)
        };
    }
    #[cfg(CONFIG_BLOCK)]
    if ret.is_ok() {
        // SAFETY: Acts on the current thread.
        ret = to_result(unsafe { bindings::set_task_ioprio(t, s.ioprio as i32) });
    }
    ret
}

/// Whether the bitmap `cpus` names a CPU that is online here and in the
/// current thread's own affinity.
pub(crate) fn cpus_usable(cpus: &[u64; 16]) -> bool {
    // SAFETY: `current` is valid; the active mask is the kernel's.
    let (active, allowed) = unsafe {
        (
            &raw const bindings::__cpu_active_mask,
            (*tf!(cur(), cpus_ptr)),
        )
    };
    (0..nr_cpus()).any(|i| {
        cpus[i as usize / 64] >> (i % 64) & 1 != 0 && cpu_in(i, active) && cpu_in(i, allowed)
    })
}

/// The current thread's nice value.
pub(crate) fn nice() -> i32 {
    // SAFETY: Reads the current task.
    unsafe { *tf!(cur(), static_prio) - DEFAULT_PRIO }
}

/// Whether the current thread may lower its nice value to `nice`
/// (`RLIMIT_NICE` or `CAP_SYS_NICE`).
pub(crate) fn can_nice(nice: i32) -> bool {
    // SAFETY: Reads the current task.
    unsafe { bindings::can_nice(cur(), nice) != 0 }
}

/// Sets the current process's dumpability (`TASK_DUMPABLE_*`, at most
/// 2), as `prctl(PR_SET_DUMPABLE)` and a set-user-id `exec` do.
pub(crate) fn set_dumpable(value: u32) {
    // SAFETY: The current task has an `exec_state` of its own (it has
    // an mm: it is a user task in an ioctl); the value is in range.
    unsafe { ffi::cr_current_set_dumpable(value.min(2)) };
}

/// Adds the kernel's `VM_*` flags `set` to and clears `clear` from the
/// current task's mapping that spans exactly `start..end`, and
/// recomputes its page protection (`EINVAL` if no mapping does). Only
/// for a mapping with no page yet. Clearing `VM_SOFTDIRTY` alone may
/// span more (it does not keep neighbours from merging).
pub(crate) fn vma_change_flags(start: u64, end: u64, set: u64, clear: u64) -> Result {
    // SAFETY: The current task is a user task with an mm.
    let mm = unsafe { *tf!(cur(), mm) };
    // SAFETY: `mm` is valid; the ioctl holds no mmap lock. The VMA is
    // valid under the lock.
    unsafe {
        ffi::cr_mmap_write_lock(mm);
        let vma = bindings::vma_lookup(mm, start as usize);
        let ok = !vma.is_null() && {
            let r = &(*vma).__bindgen_anon_1.__bindgen_anon_1;
            (r.vm_start as u64 == start && r.vm_end as u64 == end)
                || (set == 0 && clear == super::vmf::softdirty() && r.vm_end as u64 >= end)
        };
        if ok {
            ffi::cr_vma_change_flags(vma, set, clear);
            // Shared writable mappings may need write-notify: their
            // protection is left as mmap made it.
            if (*vma).__bindgen_anon_2.vm_flags as u64 & super::vmf::shared() == 0 {
                ffi::cr_vma_reset_page_prot(vma);
            }
        }
        ffi::cr_mmap_write_unlock(mm);
        if ok {
            Ok(())
        } else {
            Err(EINVAL)
        }
    }
}

/// `__USER_CS` and `__USER_DS`.
pub(crate) fn user_segments() -> (u64, u64) {
    let sel = |entry: u32| u64::from(entry * 8 + 3);
    (
        sel(bindings::GDT_ENTRY_DEFAULT_USER_CS),
        sel(bindings::GDT_ENTRY_DEFAULT_USER_DS),
    )
}

/// `TASK_SIZE_MAX`.
pub(crate) fn task_size_max() -> u64 {
    // SAFETY: A constant of the running kernel.
    unsafe { ffi::cr_task_size_max() as u64 }
}

/// Installs an xsave area (validated by the regset code too).
pub(crate) fn set_xstate(buf: &[u8]) -> Result {
    // SAFETY: `buf` is valid for `buf.len()` bytes of reads.
    let r = unsafe { ffi::cr_current_set_xstate(buf.as_ptr(), buf.len() as u32) };
    errno_result(r.into()).map(|_| ())
}

/// Sets the disposition of signal `sig` (1-based, not SIGKILL/SIGSTOP).
pub(crate) fn set_sigaction(sig: i32, a: &SigAction) {
    let i = (sig - 1) as usize;
    // SAFETY: `current`'s signal handlers are valid and written under the
    // siglock; handler and restorer are stored as the addresses they are.
    unsafe {
        let _l = SigLock::new();
        let sa = &mut (*(*tf!(cur(), sighand))).action[i].sa;
        ptr::write((&raw mut sa.sa_handler).cast::<usize>(), a.handler as usize);
        sa.sa_flags = a.flags as usize;
        ptr::write(
            (&raw mut sa.sa_restorer).cast::<usize>(),
            a.restorer as usize,
        );
        sa.sa_mask.sig[0] = (a.mask & !KILL_STOP) as usize;
    }
}

/// Sets the blocked mask (SIGKILL and SIGSTOP are never blocked).
pub(crate) fn set_blocked(mask: u64) {
    let mut set = bindings::sigset_t {
        sig: [(mask & !KILL_STOP) as usize],
    };
    // SAFETY: `set` is valid for reads; no old set is asked for.
    unsafe { bindings::sigprocmask(bindings::SIG_SETMASK as i32, &mut set, ptr::null_mut()) };
}

/// Sets the alternate signal stack (`SS_DISABLE` in `flags`: none).
pub(crate) fn set_altstack(sp: u64, size: u64, flags: u32) {
    let (sp, size, flags) = if flags & bindings::SS_DISABLE != 0 {
        (0, 0, bindings::SS_DISABLE)
    } else {
        (sp, size, flags)
    };
    let t = cur();
    // SAFETY: Only the current task's own fields are written.
    unsafe {
        (*tf!(t, sas_ss_sp)) = sp as usize;
        (*tf!(t, sas_ss_size)) = size as usize;
        (*tf!(t, sas_ss_flags)) = flags;
    }
}

/// Discards pending signals.
pub(crate) fn flush_signals() {
    // SAFETY: `current` is valid.
    unsafe { bindings::flush_signals(cur()) };
}

/// `MINSIGSTKSZ`.
pub(crate) fn minsigstksz() -> u64 {
    bindings::MINSIGSTKSZ.into()
}

/// Sets comm, personality, umask, thread-exit pointers; unregisters
/// rseq (the caller's own area is gone with its memory); sets
/// no_new_privs if asked.
pub(crate) fn set_misc(m: &Misc, no_new_privs: bool) {
    let t = cur();
    // SAFETY: Only the current task's own state is written; comm under its
    // task lock.
    unsafe {
        {
            let _l = TaskLock::new(t);
            for (d, s) in (*tf!(t, comm)).iter_mut().zip(m.comm.iter()) {
                *d = *s;
            }
            (*tf!(t, comm))[15] = 0;
        }
        (*tf!(t, personality)) = m.personality;
        ffi::cr_current_set_umask(m.umask & 0o777);
        (*tf!(t, clear_child_tid)) = m.clear_child_tid as usize as *mut c_int;
        #[cfg(CONFIG_FUTEX)]
        {
            (*tf!(t, futex)).robust_list = m.robust_list as usize as *mut _;
        }
        ffi::cr_current_rseq_reset();
        if no_new_privs {
            bindings::set_bit(
                bindings::PFA_NO_NEW_PRIVS as usize,
                &raw mut (*tf!(t, atomic_flags)),
            );
        }
    }
}

/// Sets resource limit `i`.
pub(crate) fn set_rlimit(i: usize, cur_: u64, max: u64) {
    let t = cur();
    // SAFETY: `i < RLIM_NLIMITS` is checked by the caller (format); the
    // limits are written under the leader's task lock.
    unsafe {
        let _l = TaskLock::new(*tf!(t, group_leader));
        let l = &mut (*(*tf!(t, signal))).rlim[i];
        l.rlim_cur = cur_ as usize;
        l.rlim_max = max as usize;
    }
}

/// The default of `sysctl fs.nr_open` (the sysctl itself is not
/// exported to modules).
pub(crate) fn nr_open() -> u64 {
    1024 * 1024
}

/// Number of threads in the current thread group.
pub(crate) fn nr_threads() -> i32 {
    // SAFETY: `current` and its signal struct are valid.
    unsafe { (*(*tf!(cur(), signal))).nr_threads }
}

/// Sends `sig` to the current task.
pub(crate) fn send_sig(sig: i32) {
    // SAFETY: `current` is valid.
    unsafe { bindings::send_sig(sig, cur(), 1) };
}

/// Whether the current task is exiting.
pub(crate) fn exiting() -> bool {
    // SAFETY: Reads the current task's own flags.
    unsafe { *tf!(cur(), flags) & bindings::PF_EXITING != 0 }
}

/// Whether a fatal signal is pending (`fatal_signal_pending()`).
pub(crate) fn fatal_signal_pending() -> bool {
    let t = cur();
    // SAFETY: `current` is valid; racy reads, as in C.
    unsafe {
        let flags = ptr::read_volatile(&raw const (*tf!(t, thread_info)).flags);
        let pending = ptr::read_volatile(&raw const (*tf!(t, pending)).signal.sig[0]);
        flags & (1 << bindings::TIF_SIGPENDING) != 0
            && pending & (1 << (bindings::SIGKILL - 1)) != 0
    }
}

/// Path of the working directory, into `buf`.
pub(crate) fn cwd(buf: &mut [u8]) -> Result<&[u8]> {
    // SAFETY: `buf` is valid for writes of its length.
    let p = unsafe { ffi::cr_current_cwd(buf.as_mut_ptr().cast(), buf.len() as i32) };
    path_in(buf, p.cast())
}

/// Maps `len` bytes at `addr` (`MAP_FIXED` expected in `flags`).
pub(crate) fn vm_mmap(
    file: Option<&File>,
    addr: u64,
    len: u64,
    prot: u32,
    flags: u32,
    off: u64,
) -> Result<u64> {
    let f = file.map_or(ptr::null_mut(), |f| f.as_ptr());
    // SAFETY: `f` is null or a valid file; the mm is the current task's.
    let r = unsafe {
        bindings::vm_mmap(
            f,
            addr as usize,
            len as usize,
            prot as usize,
            flags as usize,
            off as usize,
        )
    };
    if is_err_value(r) {
        return Err(Error::from_errno(r as isize as i32));
    }
    Ok(r as u64)
}

/// Unmaps `[addr, addr + len)` of the current mm.
pub(crate) fn vm_munmap(addr: u64, len: u64) -> Result {
    // SAFETY: Acts on the current mm only.
    to_result(unsafe { bindings::vm_munmap(addr as usize, len as usize) })
}

/// Writes `buf` at `addr` of the current mm even where the mapping is
/// not writable (as ptrace's POKE does, copy-on-write).
pub(crate) fn poke(addr: u64, buf: &[u8]) -> Result {
    task::poke(cur(), addr, buf)
}

/// Sets the mm layout words and saved auxv.
pub(crate) fn set_mm_layout(l: &[u64; 11], auxv: &[u64]) {
    // SAFETY: The current task is a user task with an mm, written under
    // its mmap lock (and the argument ranges under `arg_lock`).
    unsafe {
        let mm = *tf!(cur(), mm);
        ffi::cr_mmap_write_lock(mm);
        let m = &mut (*mm).__bindgen_anon_1;
        m.start_code = l[0] as usize;
        m.end_code = l[1] as usize;
        m.start_data = l[2] as usize;
        m.end_data = l[3] as usize;
        m.start_brk = l[4] as usize;
        m.brk = l[5] as usize;
        m.start_stack = l[6] as usize;
        bindings::spin_lock(&raw mut m.arg_lock);
        m.arg_start = l[7] as usize;
        m.arg_end = l[8] as usize;
        m.env_start = l[9] as usize;
        m.env_end = l[10] as usize;
        bindings::spin_unlock(&raw mut m.arg_lock);
        for (d, s) in m.saved_auxv.iter_mut().zip(auxv.iter()) {
            *d = *s as usize;
        }
        ffi::cr_mmap_write_unlock(mm);
    }
}

/// Number of words of `mm->saved_auxv`.
pub(crate) fn auxv_words() -> u32 {
    fn len<T, const N: usize>(_: fn(&bindings::mm_struct__bindgen_ty_1) -> &[T; N]) -> usize {
        N
    }
    len(|m| &m.saved_auxv) as u32
}

/// The current task's mm, referenced.
pub(crate) fn mm() -> Option<MmRef> {
    MmRef::of(cur())
}

/// Makes `f` the executable of the current mm (`/proc/self/exe`).
pub(crate) fn set_exe_file(f: &File) -> Result {
    // SAFETY: `f` is valid; the C side takes its own reference.
    to_result(unsafe { ffi::cr_current_set_exe_file(f.as_ptr()) })
}

/// The current file table, and its fd table (`files_fdtable()`).
///
/// # Safety
///
/// The caller holds `file_lock` or the RCU read lock for as long as it
/// uses the fd table.
unsafe fn fdtable() -> (*mut bindings::files_struct, *mut bindings::fdtable) {
    // SAFETY: `current` has a file table (a user task in an ioctl).
    unsafe {
        let files = *tf!(cur(), files);
        (files, ptr::read_volatile(&raw const (*files).fdt))
    }
}

/// Highest fd table size.
pub(crate) fn max_fds() -> u32 {
    let _rcu = rcu::read_lock();
    // SAFETY: RCU is held.
    unsafe { (*fdtable().1).max_fds }
}

/// Runs `f` with the current fd table under `file_lock`.
fn with_file_lock<R>(f: impl FnOnce(*mut bindings::fdtable) -> R) -> R {
    // SAFETY: The current file table is valid; its lock is held across
    // the use of the fd table.
    unsafe {
        let files = *tf!(cur(), files);
        bindings::spin_lock(&raw mut (*files).file_lock);
        let r = f(fdtable().1);
        bindings::spin_unlock(&raw mut (*files).file_lock);
        r
    }
}

/// The file at `fd` and its close-on-exec flag.
pub(crate) fn fget(fd: u32) -> Option<(ARef<File>, bool)> {
    // SAFETY: Any fd may be looked up; a reference or null comes back.
    let f = ptr::NonNull::new(unsafe { bindings::fget_raw(fd) })?;
    let cloexec = with_file_lock(|fdt| {
        // SAFETY: Under `file_lock`; `fd` is open, so below `max_fds`.
        unsafe { *(*fdt).close_on_exec.add(fd as usize / 64) >> (fd % 64) & 1 != 0 }
    });
    // SAFETY: `fget_raw` returned a reference.
    Some((unsafe { super::file_from_raw(f) }, cloexec))
}

/// Closes `fd` (`EBADF` if not open).
pub(crate) fn close_fd(fd: u32) -> Result {
    // SAFETY: Acts on the current file table.
    to_result(unsafe { bindings::close_fd(fd) })
}

/// Reserves the lowest free fd.
pub(crate) fn fd_reserve() -> Result<u32> {
    // SAFETY: Acts on the current file table.
    let r = unsafe { bindings::get_unused_fd_flags(0) };
    Ok(errno_result(r.into())? as u32)
}

/// Releases a reserved, not installed fd.
pub(crate) fn fd_unreserve(fd: u32) {
    // SAFETY: `fd` was returned by `fd_reserve` and not installed.
    unsafe { bindings::put_unused_fd(fd) };
}

/// Installs `file` at the reserved `fd`.
pub(crate) fn fd_install(fd: u32, file: ARef<File>, cloexec: bool) {
    let raw = ARef::into_raw(file);
    // SAFETY: `fd` is reserved; the reference is handed to the table.
    unsafe { bindings::fd_install(fd, raw.as_ptr().cast()) };
    if cloexec {
        with_file_lock(|fdt| {
            // SAFETY: Under `file_lock`; `fd` is installed, so below
            // `max_fds`.
            unsafe { bindings::__set_bit(fd as usize, (*fdt).close_on_exec) }
        });
    }
}
