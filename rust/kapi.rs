// SPDX-License-Identifier: GPL-2.0

//! The kernel API layer: safe wrappers over the C functions of
//! `cr_kapi.c` and the few `kernel::bindings` cr calls directly.
//!
//! This is the only module with `unsafe` blocks that call into C. Everything
//! above it deals in owned references ([`TaskRef`], [`MmRef`], [`PinnedPage`],
//! `ARef<File>`) and plain data.

use core::{marker::PhantomData, ptr::NonNull};
use kernel::{
    bindings,
    error::to_result,
    fs::File,
    miscdevice::{MiscDevice, MiscDeviceOptions},
    prelude::*,
    sync::aref::ARef,
    types::Opaque,
};

/// Raw declarations of `cr_kapi.c` (see `cr_kapi.h`).
mod ffi {
    use kernel::bindings;
    use kernel::ffi::{c_char, c_int, c_long, c_uint, c_ulong};

    #[repr(C)]
    #[derive(Default, Clone, Copy)]
    pub(crate) struct TaskIds {
        pub(crate) pid: i32,
        pub(crate) tgid: i32,
        pub(crate) ppid: i32,
        pub(crate) pgid: i32,
        pub(crate) sid: i32,
    }

    pub(crate) const MAX_GROUPS_INLINE: usize = 32;

    #[repr(C)]
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub(crate) struct Creds {
        pub(crate) uids: [u32; 4],
        pub(crate) gids: [u32; 4],
        pub(crate) caps: [u64; 5],
        pub(crate) securebits: u32,
        pub(crate) no_new_privs: u32,
        pub(crate) ngroups: u32,
        pub(crate) groups: [u32; MAX_GROUPS_INLINE],
        pub(crate) dumpable: u32,
    }

    #[repr(C)]
    #[derive(Default, Clone, Copy)]
    pub(crate) struct Extra {
        pub(crate) pdeath_signal: i32,
        pub(crate) child_subreaper: u32,
        pub(crate) thp_disabled: u32,
        pub(crate) pad: u32,
        pub(crate) timer_slack_ns: u64,
        pub(crate) default_timer_slack_ns: u64,
    }

    #[repr(C)]
    #[derive(Default, Clone, Copy)]
    pub(crate) struct Sched {
        pub(crate) policy: u32,
        pub(crate) priority: u32,
        pub(crate) nice: i32,
        pub(crate) reset_on_fork: u32,
        pub(crate) ioprio: u32,
        pub(crate) all_cpus: u32,
        pub(crate) nr_cpu_ids: u32,
        pub(crate) pad: u32,
        pub(crate) cpus: [u64; 16],
    }

    #[repr(C)]
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

    #[repr(C)]
    #[derive(Default, Clone, Copy, PartialEq, Eq)]
    pub(crate) struct SigAction {
        pub(crate) handler: u64,
        pub(crate) flags: u64,
        pub(crate) restorer: u64,
        pub(crate) mask: u64,
    }

    #[repr(C)]
    #[derive(Clone, Copy)]
    pub(crate) struct Signals {
        pub(crate) blocked: u64,
        pub(crate) ss_sp: u64,
        pub(crate) ss_size: u64,
        pub(crate) ss_flags: u32,
        pub(crate) pad: u32,
        pub(crate) act: [SigAction; 64],
    }

    #[repr(C)]
    pub(crate) struct Vma {
        pub(crate) start: u64,
        pub(crate) end: u64,
        pub(crate) pgoff: u64,
        pub(crate) vm_flags: u64,
        pub(crate) file: *mut bindings::file,
        pub(crate) special: u32,
        pub(crate) has_anon_vma: u8,
        pub(crate) is_stack: u8,
        pub(crate) pad: [u8; 2],
        pub(crate) ino_key: u64,
    }

    #[repr(C)]
    #[derive(Default, Clone, Copy)]
    pub(crate) struct FileInfo {
        pub(crate) mode: u32,
        pub(crate) rdev_major: u32,
        pub(crate) rdev_minor: u32,
        pub(crate) f_flags: u32,
        pub(crate) pos: i64,
        pub(crate) fmode: u32,
        pub(crate) nlink: u32,
        pub(crate) sock_family: i32,
        pub(crate) sock_type: i32,
        pub(crate) inode: u64,
        pub(crate) size: i64,
    }

    // The kernel structs are only passed by pointer; some contain zero-sized
    // members that the lint flags, as it does for `kernel::bindings` itself.
    #[allow(improper_ctypes)]
    extern "C" {
        pub(crate) fn cr_task_get_by_vpid(nr: i32) -> *mut bindings::task_struct;
        pub(crate) fn cr_task_put(t: *mut bindings::task_struct);
        pub(crate) fn cr_task_get_current() -> *mut bindings::task_struct;
        pub(crate) fn cr_task_get(t: *mut bindings::task_struct) -> *mut bindings::task_struct;
        pub(crate) fn cr_current_tid() -> c_int;
        pub(crate) fn cr_current_pid_ns() -> *mut bindings::pid_namespace;
        pub(crate) fn cr_task_ids(
            t: *mut bindings::task_struct,
            ns: *mut bindings::pid_namespace,
            out: *mut TaskIds,
        ) -> c_int;
        pub(crate) fn cr_task_same_thread_group(t: *mut bindings::task_struct) -> bool;
        pub(crate) fn cr_task_exec_id(t: *mut bindings::task_struct) -> u64;
        pub(crate) fn cr_task_state(t: *mut bindings::task_struct) -> c_int;
        pub(crate) fn cr_may_checkpoint(t: *mut bindings::task_struct) -> c_int;
        pub(crate) fn cr_task_work_add(
            t: *mut bindings::task_struct,
            work: *mut bindings::callback_head,
            f: unsafe extern "C" fn(*mut bindings::callback_head),
        ) -> c_int;
        pub(crate) fn cr_current_refusals(process: bool) -> c_int;
        pub(crate) fn cr_collect_tree(
            root: *mut bindings::task_struct,
            out: *mut *mut bindings::task_struct,
            max: c_int,
        ) -> c_int;
        pub(crate) fn cr_task_zombie(t: *mut bindings::task_struct, code: *mut c_int) -> c_int;
        pub(crate) fn cr_task_is_leader(t: *mut bindings::task_struct) -> bool;
        pub(crate) fn cr_jiffies_ms() -> u64;
        pub(crate) fn cr_task_poke(
            t: *mut bindings::task_struct,
            addr: c_ulong,
            buf: *const u8,
            len: c_int,
        ) -> c_int;
        pub(crate) fn cr_shmem_file(size: u64) -> *mut bindings::file;
        pub(crate) fn cr_current_exiting() -> bool;
        pub(crate) fn cr_current_creds(out: *mut Creds);
        pub(crate) fn cr_current_group(i: c_int, gid: *mut u32) -> c_int;
        pub(crate) fn cr_current_misc(out: *mut Misc);
        pub(crate) fn cr_current_rlimits(out: *mut u64);
        pub(crate) fn cr_current_signals(out: *mut Signals);
        pub(crate) fn cr_regset_size(note: c_uint) -> c_int;
        pub(crate) fn cr_regset_get(note: c_uint, buf: *mut u8, size: c_uint) -> c_int;
        pub(crate) fn cr_current_set_regs(r: *const u64);
        pub(crate) fn cr_current_set_ax(ax: u64);
        pub(crate) fn cr_current_work_add_resume(
            work: *mut bindings::callback_head,
            f: unsafe extern "C" fn(*mut bindings::callback_head),
        ) -> c_int;
        pub(crate) fn cr_current_sched(out: *mut Sched);
        pub(crate) fn cr_current_extra(out: *mut Extra);
        pub(crate) fn cr_current_set_pdeath_signal(sig: c_int);
        pub(crate) fn cr_current_set_sched(s: *const Sched) -> c_int;
        pub(crate) fn cr_cpus_usable(cpus: *const u64) -> bool;
        pub(crate) fn cr_current_nice() -> c_int;
        pub(crate) fn cr_current_can_nice(nice: c_int) -> bool;
        pub(crate) fn cr_current_set_dumpable(value: u32);
        pub(crate) fn cr_current_vma_change_flags(
            start: c_ulong,
            end: c_ulong,
            set: u64,
            clear: u64,
        ) -> c_int;
        pub(crate) fn cr_current_set_rseq(ptr: u64, len: u32, sig: u32, version: u8);
        pub(crate) fn cr_rseq_align() -> c_uint;
        pub(crate) fn cr_rseq_feature_size() -> c_uint;
        pub(crate) fn cr_user_cs() -> c_ulong;
        pub(crate) fn cr_user_ds() -> c_ulong;
        pub(crate) fn cr_task_size_max() -> c_ulong;
        pub(crate) fn cr_current_set_xstate(buf: *const u8, size: c_uint) -> c_int;
        pub(crate) fn cr_current_set_sigaction(sig: c_int, a: *const SigAction);
        pub(crate) fn cr_current_set_blocked(blocked: u64);
        pub(crate) fn cr_current_set_altstack(sp: u64, size: u64, flags: u32);
        pub(crate) fn cr_current_flush_signals();
        pub(crate) fn cr_minsigstksz() -> usize;
        pub(crate) fn cr_current_set_misc(m: *const Misc, no_new_privs: bool);
        pub(crate) fn cr_current_set_rlimit(i: c_int, cur: u64, max: u64);
        pub(crate) fn cr_nr_open() -> c_uint;
        pub(crate) fn cr_current_mm_get() -> *mut bindings::mm_struct;
        pub(crate) fn cr_mm_put(mm: *mut bindings::mm_struct);
        pub(crate) fn cr_mm_read_lock(mm: *mut bindings::mm_struct);
        pub(crate) fn cr_mm_read_unlock(mm: *mut bindings::mm_struct);
        pub(crate) fn cr_mm_layout(
            mm: *mut bindings::mm_struct,
            l: *mut u64,
            auxv: *mut u64,
            auxv_words: c_uint,
        );
        pub(crate) fn cr_mm_auxv_words() -> c_uint;
        pub(crate) fn cr_current_mm_set_layout(l: *const u64, auxv: *const u64, n: c_uint);
        pub(crate) fn cr_mm_vma_at(
            mm: *mut bindings::mm_struct,
            addr: c_ulong,
            out: *mut Vma,
        ) -> c_int;
        pub(crate) fn cr_vm_flag(which: c_int) -> u64;
        pub(crate) fn cr_mm_get_dump_pages(
            mm: *mut bindings::mm_struct,
            addr: c_ulong,
            n: c_ulong,
            pages: *mut *mut bindings::page,
        ) -> c_long;
        pub(crate) fn cr_page_is_anon(page: *mut bindings::page) -> bool;
        pub(crate) fn cr_page_copy_out(dst: *mut u8, page: *mut bindings::page);
        pub(crate) fn cr_page_put(page: *mut bindings::page);
        pub(crate) fn cr_vm_mmap(
            file: *mut bindings::file,
            addr: c_ulong,
            len: c_ulong,
            prot: c_ulong,
            flags: c_ulong,
            off: c_ulong,
        ) -> c_ulong;
        pub(crate) fn cr_vm_munmap(addr: c_ulong, len: usize) -> c_int;
        pub(crate) fn cr_current_poke(addr: c_ulong, buf: *const u8, len: c_int) -> c_int;
        pub(crate) fn cr_current_max_fds() -> c_uint;
        pub(crate) fn cr_current_fget(fd: c_uint, cloexec: *mut bool) -> *mut bindings::file;
        pub(crate) fn cr_file_info(f: *mut bindings::file, out: *mut FileInfo);
        pub(crate) fn cr_file_path(
            f: *mut bindings::file,
            buf: *mut c_char,
            len: c_int,
        ) -> *mut c_char;
        pub(crate) fn cr_file_dname(f: *mut bindings::file, buf: *mut c_char, len: c_int) -> c_int;
        pub(crate) fn cr_current_cwd(buf: *mut c_char, len: c_int) -> *mut c_char;
        pub(crate) fn cr_mm_exe_path(
            mm: *mut bindings::mm_struct,
            buf: *mut c_char,
            len: c_int,
        ) -> *mut c_char;
        pub(crate) fn cr_filp_open(path: *const c_char, flags: c_int) -> *mut bindings::file;
        pub(crate) fn cr_file_seek(f: *mut bindings::file, pos: i64) -> i64;
        pub(crate) fn cr_file_read(f: *mut bindings::file, buf: *mut u8, len: usize) -> isize;
        pub(crate) fn cr_file_read_at(
            f: *mut bindings::file,
            buf: *mut u8,
            len: usize,
            pos: *mut i64,
        ) -> isize;
        pub(crate) fn cr_file_write(f: *mut bindings::file, buf: *const u8, len: usize) -> isize;
        pub(crate) fn cr_fd_close(fd: c_uint) -> c_int;
        pub(crate) fn cr_current_set_exe_file(f: *mut bindings::file) -> c_int;
        pub(crate) fn cr_fd_alloc() -> c_int;
        pub(crate) fn cr_fd_unreserve(fd: c_uint);
        pub(crate) fn cr_fd_install(fd: c_uint, f: *mut bindings::file, cloexec: bool);
        pub(crate) fn cr_current_nr_threads() -> c_int;
        pub(crate) fn cr_current_creds_match(
            c: *const Creds,
            groups: *const u32,
            n: c_int,
        ) -> c_int;
        pub(crate) fn cr_completion_init(c: *mut bindings::completion);
        pub(crate) fn cr_wait_killable_timeout(c: *mut bindings::completion, ms: c_ulong)
            -> c_long;
        pub(crate) fn cr_wait_killable(c: *mut bindings::completion) -> c_int;
        pub(crate) fn cr_complete_all(c: *mut bindings::completion);
        pub(crate) fn cr_send_sig_current(sig: c_int) -> c_int;
        pub(crate) fn cr_send_sig(t: *mut bindings::task_struct, sig: c_int) -> c_int;
        pub(crate) fn cr_fatal_signal_pending() -> bool;
        pub(crate) fn cr_ktime_real_ns() -> u64;
        pub(crate) fn cr_uts_release() -> *const c_char;
    }
}

pub(crate) use ffi::{Creds, Extra, FileInfo, Misc, Sched, SigAction, Signals, TaskIds};

/// Turns a C return value that is a negative errno or non-negative into a
/// `Result`.
fn errno_result(ret: i64) -> Result<i64> {
    if ret < 0 {
        Err(Error::from_errno(ret as i32))
    } else {
        Ok(ret)
    }
}

/// `IS_ERR_VALUE()` for pointer-sized values.
fn is_err_value(v: usize) -> bool {
    v >= (-4095isize) as usize
}

/// Converts an `ERR_PTR`/valid pointer into a `Result`.
fn err_ptr<T>(p: *mut T) -> Result<NonNull<T>> {
    if is_err_value(p as usize) {
        return Err(Error::from_errno(p as isize as i32));
    }
    NonNull::new(p).ok_or(ENOENT)
}

/// Wraps a raw `struct file` pointer carrying a reference into an
/// `ARef<File>`.
///
/// # Safety
///
/// `f` must be a valid file whose reference the caller transfers.
unsafe fn file_from_raw(f: NonNull<bindings::file>) -> ARef<File> {
    // SAFETY: `File` is a transparent wrapper of `struct file`, and the
    // caller transfers a reference, which `ARef` now owns.
    unsafe { ARef::from_raw(f.cast::<File>()) }
}

// ---------------------------------------------------------------- misc device

/// A registered misc device whose open files pin this module.
///
/// The kernel crate's `MiscDeviceRegistration` registers file operations
/// without an owner: `rmmod` then succeeds while a file of the device is
/// open, or while a checkpoint job that holds one is pending, and the next
/// call through that file runs freed module text. This registration copies
/// the crate's file operations for `T` and names the module as their owner,
/// so that `misc_open()` (through `fops_get()`) takes a module reference for
/// every open file and the last `fput()` drops it.
///
/// # Invariants
///
/// - `misc` is registered with `misc_register()` for the whole life of
///   `self` (which is pinned) and deregistered exactly once, in [`Drop`].
/// - `misc.fops` points at `fops`: the kernel crate's file operations for
///   `T` with `owner` set to this module.
/// - `misc_open()` hands the crate's callbacks a pointer to `misc`, which
///   they read as a `MiscDeviceRegistration<T>`: that type is
///   `repr(transparent)` over the same `Opaque<bindings::miscdevice>`.
#[pin_data(PinnedDrop)]
pub(crate) struct OwnedMiscDevice<T> {
    #[pin]
    fops: Opaque<bindings::file_operations>,
    #[pin]
    misc: Opaque<bindings::miscdevice>,
    _t: PhantomData<T>,
}

// SAFETY: `misc_deregister()` may be called from any thread, and `&self`
// gives access to nothing.
unsafe impl<T> Send for OwnedMiscDevice<T> {}
// SAFETY: There are no `&self` methods.
unsafe impl<T> Sync for OwnedMiscDevice<T> {}

impl<T: MiscDevice> OwnedMiscDevice<T> {
    /// Registers the misc device `name` for `T`, owned by `module`.
    pub(crate) fn register(
        name: &'static CStr,
        module: &'static ThisModule,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(&this in Self {
            fops <- Opaque::ffi_init(move |slot: *mut bindings::file_operations| {
                let raw = MiscDeviceOptions { name }.into_raw::<T>();
                // SAFETY: `raw.fops` points at the kernel crate's static file
                // operations for `T`, and `slot` is valid for writes.
                unsafe {
                    slot.write(core::ptr::read(raw.fops));
                    (*slot).owner = module.as_ptr();
                }
            }),
            misc <- Opaque::try_ffi_init(move |slot: *mut bindings::miscdevice| {
                let mut raw = MiscDeviceOptions { name }.into_raw::<T>();
                // Fields are initialised in order: `fops` is ready, and it is
                // pinned with `self`, which outlives the registration.
                // SAFETY: `this` points at the `Self` being initialised; only
                // a raw pointer to the field is taken.
                raw.fops = Opaque::cast_into(unsafe { &raw const (*this.as_ptr()).fops });
                // SAFETY: `slot` is valid for writes.
                unsafe { slot.write(raw) };
                // SAFETY: `slot` holds a complete `miscdevice`, pinned until
                // `drop` deregisters it (type invariants).
                to_result(unsafe { bindings::misc_register(slot) })
            }),
            _t: PhantomData,
        })
    }
}

#[pinned_drop]
impl<T> PinnedDrop for OwnedMiscDevice<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: `misc` is registered (type invariants), and this is the
        // only place that deregisters it.
        unsafe { bindings::misc_deregister(self.misc.get()) };
    }
}

// ---------------------------------------------------------------- tasks

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
        // SAFETY: Always valid for the current task.
        PidNs(unsafe { ffi::cr_current_pid_ns() })
    }
}

/// A counted reference to a task.
///
/// # Invariants
///
/// `0` is a valid task whose reference this object owns.
pub(crate) struct TaskRef(NonNull<bindings::task_struct>);

// SAFETY: Task references may be dropped and used from any thread.
unsafe impl Send for TaskRef {}
// SAFETY: As above; all methods only read or use thread-safe kernel APIs.
unsafe impl Sync for TaskRef {}

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

impl TaskRef {
    /// Looks up a task by pid in the caller's pid namespace.
    pub(crate) fn by_vpid(nr: i32) -> Option<Self> {
        // SAFETY: Any pid number may be looked up; a reference is returned.
        let t = unsafe { ffi::cr_task_get_by_vpid(nr) };
        NonNull::new(t).map(TaskRef)
    }

    /// The current task.
    pub(crate) fn by_vpid_current() -> Self {
        // SAFETY: Takes a reference on the current task, which is never null.
        let t = unsafe { ffi::cr_task_get_current() };
        // INVARIANT: `get_task_struct` returned a referenced task.
        TaskRef(NonNull::new(t).expect("current is never null"))
    }

    /// Another reference to the same task.
    pub(crate) fn clone_ref(&self) -> Self {
        // SAFETY: The task is valid; this takes a new reference.
        let t = unsafe { ffi::cr_task_get(self.raw()) };
        // INVARIANT: `get_task_struct` returned the same, referenced, task.
        TaskRef(NonNull::new(t).expect("get_task_struct returns its argument"))
    }

    fn raw(&self) -> *mut bindings::task_struct {
        self.0.as_ptr()
    }

    /// Its ids as seen in `ns`.
    pub(crate) fn ids(&self, ns: PidNs) -> Result<TaskIds> {
        let mut ids = TaskIds::default();
        // SAFETY: The task is valid (invariant) and so is `ns` (invariant).
        to_result(unsafe { ffi::cr_task_ids(self.raw(), ns.0, &mut ids) })?;
        Ok(ids)
    }

    /// Whether it is in the caller's thread group.
    pub(crate) fn is_caller(&self) -> bool {
        // SAFETY: The task is valid.
        unsafe { ffi::cr_task_same_thread_group(self.raw()) }
    }

    /// Its exec counter, to notice an exec between two moments.
    pub(crate) fn exec_id(&self) -> u64 {
        // SAFETY: The task is valid.
        unsafe { ffi::cr_task_exec_id(self.raw()) }
    }

    /// A snapshot of [`ts`] bits.
    pub(crate) fn state(&self) -> i32 {
        // SAFETY: The task is valid.
        unsafe { ffi::cr_task_state(self.raw()) }
    }

    /// Whether the caller may read this task's state (ptrace rules).
    pub(crate) fn may_checkpoint(&self) -> core::result::Result<(), Deny> {
        // SAFETY: The task is valid.
        match unsafe { ffi::cr_may_checkpoint(self.raw()) } {
            0 => Ok(()),
            1 => Err(Deny::Ids),
            2 => Err(Deny::Caps),
            _ => Err(Deny::Dumpable),
        }
    }

    /// Writes `buf` at `addr` of the task's memory even where it is not
    /// writable (as ptrace's POKE does, copy-on-write).
    pub(crate) fn poke(&self, addr: u64, buf: &[u8]) -> Result {
        // SAFETY: The task is valid; `buf` is valid for reads.
        let n =
            unsafe { ffi::cr_task_poke(self.raw(), addr as usize, buf.as_ptr(), buf.len() as i32) };
        if n as usize != buf.len() {
            return Err(EFAULT);
        }
        Ok(())
    }

    /// Whether it is a thread group leader.
    pub(crate) fn is_leader(&self) -> bool {
        // SAFETY: The task is valid.
        unsafe { ffi::cr_task_is_leader(self.raw()) }
    }

    /// Whether it is a zombie (with its exit status) or a dead leader of
    /// a live thread group.
    pub(crate) fn zombie(&self) -> Zombie {
        let mut code = 0;
        // SAFETY: The task is valid; `code` is valid for writes.
        match unsafe { ffi::cr_task_zombie(self.raw(), &mut code) } {
            0 => Zombie::No,
            1 => Zombie::Yes(code),
            _ => Zombie::DeadLeader,
        }
    }

    /// Whether it belongs to the caller's thread group.
    pub(crate) fn in_callers_group(&self) -> bool {
        self.is_caller()
    }

    /// Whether two references are the same task.
    pub(crate) fn same(&self, other: &TaskRef) -> bool {
        self.0 == other.0
    }

    /// The subtree of processes rooted at this task's process: each
    /// process's leader, then its threads; parents before children;
    /// zombies included. `E2BIG` beyond `max` tasks.
    pub(crate) fn collect_tree(&self, max: usize) -> Result<KVec<TaskRef>> {
        let mut raw = KVec::from_elem(core::ptr::null_mut(), max, GFP_KERNEL)?;
        // SAFETY: `raw` has room for `max` pointers.
        let n = unsafe { ffi::cr_collect_tree(self.raw(), raw.as_mut_ptr(), max as i32) };
        let n = errno_result(n.into())? as usize;
        let mut v = KVec::with_capacity(n, GFP_KERNEL)?;
        for p in raw.iter().take(n) {
            // INVARIANT: the C side took a reference on each task.
            let t = TaskRef(NonNull::new(*p).ok_or(EINVAL)?);
            // Cannot fail: capacity reserved above.
            v.push(t, GFP_KERNEL)?;
        }
        Ok(v)
    }

    /// Sends `sig` to the task.
    pub(crate) fn send_sig(&self, sig: i32) {
        // SAFETY: The task is valid.
        unsafe { ffi::cr_send_sig(self.raw(), sig) };
    }

    /// Queues `work` to run in the task's own context at its next return to
    /// user space (interrupting an interruptible sleep).
    ///
    /// # Safety
    ///
    /// `work` must stay valid until `f` has been called with it, and `f`
    /// must be a function that is valid to call with it.
    pub(crate) unsafe fn task_work_add(
        &self,
        work: *mut bindings::callback_head,
        f: unsafe extern "C" fn(*mut bindings::callback_head),
    ) -> Result {
        // SAFETY: The task is valid; the caller guarantees `work` and `f`.
        to_result(unsafe { ffi::cr_task_work_add(self.raw(), work, f) })
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        // SAFETY: We own a reference (invariant).
        unsafe { ffi::cr_task_put(self.raw()) };
    }
}

/// The task work of [`current::set_ax_on_return`].
///
/// # Invariants
///
/// Queued at most once, on the task that created it, from a leaked `KBox`
/// that [`AxWork::run`] takes back; `work` is the first field.
#[repr(C)]
struct AxWork {
    work: Opaque<bindings::callback_head>,
    ax: u64,
    _dev: ARef<File>,
}

impl AxWork {
    /// # Safety
    ///
    /// `head` is the `work` field of an `AxWork` queued as the type
    /// invariant says.
    unsafe extern "C" fn run(head: *mut bindings::callback_head) {
        // SAFETY: `work` is the first field of the `repr(C)` `AxWork` whose
        // leaked box was queued (safety requirement): take it back.
        let w = unsafe { KBox::from_raw(head.cast::<AxWork>()) };
        // SAFETY: Runs in the task that queued it (type invariant), in its
        // own context on the way back to user space.
        unsafe { ffi::cr_current_set_ax(w.ax) };
        // Dropping `w` puts the `/dev/cr` file; a last `fput()` is deferred
        // to a later task work, so the module outlives this function.
    }
}

// ---------------------------------------------------------------- completion

/// A `struct completion` that is waited for killably.
///
/// # Invariants
///
/// The completion is initialised once pinned (by [`KCompletion::new`]).
#[pin_data]
pub(crate) struct KCompletion {
    #[pin]
    inner: Opaque<bindings::completion>,
}

// SAFETY: Completions are made for use across threads.
unsafe impl Send for KCompletion {}
// SAFETY: As above.
unsafe impl Sync for KCompletion {}

impl KCompletion {
    /// A new, not yet completed, completion.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is valid for writes and pinned.
            inner <- Opaque::ffi_init(|slot| unsafe { ffi::cr_completion_init(slot) }),
        })
    }

    /// Wakes every waiter, now and in the future.
    pub(crate) fn complete_all(&self) {
        // SAFETY: Initialised (invariant).
        unsafe { ffi::cr_complete_all(self.inner.get()) };
    }

    /// Waits until completed or a fatal signal arrives (`Err(EINTR)`).
    pub(crate) fn wait_killable(&self) -> Result {
        // SAFETY: Initialised (invariant).
        match unsafe { ffi::cr_wait_killable(self.inner.get()) } {
            0 => Ok(()),
            _ => Err(EINTR),
        }
    }

    /// Waits up to `ms` milliseconds: `Err(ETIMEDOUT)` or `Err(EINTR)`.
    pub(crate) fn wait_killable_timeout(&self, ms: u64) -> Result {
        // SAFETY: Initialised (invariant).
        let r = unsafe { ffi::cr_wait_killable_timeout(self.inner.get(), ms as usize) };
        match r {
            0 => Err(ETIMEDOUT),
            r if r < 0 => Err(EINTR),
            _ => Ok(()),
        }
    }
}

// ---------------------------------------------------------------- current task

/// Operations on the calling task (`current`), for the code that runs in
/// the task it inspects or restores.
pub(crate) mod current {
    use super::*;

    /// Bits of [`refusals`].
    pub(crate) mod refuse {
        pub(crate) const SIGPENDING: i32 = 1;
        pub(crate) const ITIMER_REAL: i32 = 2;
        pub(crate) const ITIMER_CPU: i32 = 4;
        pub(crate) const POSIX_TIMERS: i32 = 8;
        pub(crate) const SECCOMP: i32 = 16;
        pub(crate) const SHARED_FS: i32 = 32;
        pub(crate) const SHARED_FILES: i32 = 64;
        pub(crate) const SHARED_SIGHAND: i32 = 128;
        pub(crate) const SHARED_MM: i32 = 256;
        pub(crate) const RLIMIT_CPU: i32 = 512;
    }

    /// State this version cannot save, as bits of [`refuse`]: the
    /// thread's own, and with `process` its thread group's.
    pub(crate) fn refusals(process: bool) -> i32 {
        // SAFETY: Only reads the current task and its group.
        unsafe { ffi::cr_current_refusals(process) }
    }

    /// Credentials (first [`ffi::MAX_GROUPS_INLINE`] groups inline; all via
    /// [`group`]).
    pub(crate) fn creds() -> Creds {
        let mut c = Creds {
            uids: [0; 4],
            gids: [0; 4],
            caps: [0; 5],
            securebits: 0,
            no_new_privs: 0,
            ngroups: 0,
            groups: [0; ffi::MAX_GROUPS_INLINE],
            dumpable: 0,
        };
        // SAFETY: `c` is valid for writes.
        unsafe { ffi::cr_current_creds(&mut c) };
        c
    }

    /// The `i`th supplementary group.
    pub(crate) fn group(i: u32) -> Result<u32> {
        let mut g = 0;
        // SAFETY: `g` is valid for writes.
        to_result(unsafe { ffi::cr_current_group(i as i32, &mut g) })?;
        Ok(g)
    }

    /// Personality, umask, comm, thread-exit pointers.
    pub(crate) fn misc() -> Misc {
        let mut m = Misc::default();
        // SAFETY: `m` is valid for writes.
        unsafe { ffi::cr_current_misc(&mut m) };
        m
    }

    /// Resource limits as `(cur, max)` pairs, flattened.
    pub(crate) fn rlimits() -> [u64; 32] {
        let mut r = [0u64; 32];
        // SAFETY: `r` holds `RLIM_NLIMITS` pairs.
        unsafe { ffi::cr_current_rlimits(r.as_mut_ptr()) };
        r
    }

    /// Signal dispositions, blocked mask and alternate stack (2 KiB: on
    /// the heap, not the kernel stack).
    pub(crate) fn signals() -> Result<KBox<Signals>> {
        let mut s = KBox::<Signals>::new_uninit(GFP_KERNEL_ACCOUNT)?;
        // SAFETY: `s` is valid for writes of a `Signals`, which the C side
        // fills completely.
        unsafe { ffi::cr_current_signals(s.as_mut_ptr()) };
        // SAFETY: Initialised just above.
        Ok(unsafe { s.assume_init() })
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

    /// Installs the general purpose registers and fs base, `ax` excepted
    /// (see [`set_ax_on_return`]). The caller has validated them.
    pub(crate) fn set_regs(r: &[u64; crate::format::NR_GREGS]) {
        // SAFETY: `r` holds the 27 words the C side reads.
        unsafe { ffi::cr_current_set_regs(r.as_ptr()) };
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
        let work = KBox::new(
            AxWork {
                work: Opaque::uninit(),
                ax,
                _dev: ARef::from(dev),
            },
            GFP_KERNEL,
        )?;
        let raw = KBox::into_raw(work);
        // SAFETY: `raw` is a live `AxWork` whose box `AxWork::run` takes
        // back; `work` is its first field (`repr(C)`), as `run` expects.
        let r =
            to_result(unsafe { ffi::cr_current_work_add_resume((*raw).work.get(), AxWork::run) });
        if r.is_err() {
            // SAFETY: Not queued: the box is still ours.
            drop(unsafe { KBox::from_raw(raw) });
        }
        r
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
    /// covers: parent-death signal, child subreaper, THP disabling, timer
    /// slack.
    pub(crate) fn extra() -> Extra {
        let mut e = Extra::default();
        // SAFETY: `e` is valid for writes.
        unsafe { ffi::cr_current_extra(&mut e) };
        e
    }

    /// `prctl(PR_SET_PDEATHSIG, sig)`; the caller checked `sig <= 64`.
    pub(crate) fn set_pdeath_signal(sig: u32) {
        // SAFETY: Sets a field of the current task.
        unsafe { ffi::cr_current_set_pdeath_signal(sig as c_int) };
    }

    /// The current thread's scheduling state.
    pub(crate) fn sched() -> Sched {
        let mut s = Sched::default();
        // SAFETY: `s` is valid for writes.
        unsafe { ffi::cr_current_sched(&mut s) };
        s
    }

    /// Applies scheduling state to the current thread, as `sched_setattr`,
    /// `sched_setaffinity` and `ioprio_set` would; the caller has checked
    /// that the thread may (see [`can_nice`]).
    pub(crate) fn set_sched(s: &Sched) -> Result {
        // SAFETY: `s` is valid for reads.
        to_result(unsafe { ffi::cr_current_set_sched(s) })
    }

    /// Whether the bitmap `cpus` names a CPU that is online here.
    pub(crate) fn cpus_usable(cpus: &[u64; 16]) -> bool {
        // SAFETY: `cpus` holds the 16 words the C side reads.
        unsafe { ffi::cr_cpus_usable(cpus.as_ptr()) }
    }

    /// The current thread's nice value.
    pub(crate) fn nice() -> i32 {
        // SAFETY: Reads the current task.
        unsafe { ffi::cr_current_nice() }
    }

    /// Whether the current thread may lower its nice value to `nice`
    /// (`RLIMIT_NICE` or `CAP_SYS_NICE`).
    pub(crate) fn can_nice(nice: i32) -> bool {
        // SAFETY: Reads the current task.
        unsafe { ffi::cr_current_can_nice(nice) }
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
    /// for a mapping with no page yet.
    pub(crate) fn vma_change_flags(start: u64, end: u64, set: u64, clear: u64) -> Result {
        // SAFETY: Takes the current mm's mmap lock for writing; the ioctl
        // holds no mmap lock.
        to_result(unsafe {
            ffi::cr_current_vma_change_flags(start as c_ulong, end as c_ulong, set, clear)
        })
    }

    /// `__USER_CS` and `__USER_DS`.
    pub(crate) fn user_segments() -> (u64, u64) {
        // SAFETY: Constants.
        unsafe { (ffi::cr_user_cs() as u64, ffi::cr_user_ds() as u64) }
    }

    /// `TASK_SIZE_MAX`.
    pub(crate) fn task_size_max() -> u64 {
        // SAFETY: A constant.
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
        // SAFETY: `a` is valid; the C side takes the siglock.
        unsafe { ffi::cr_current_set_sigaction(sig, a) };
    }

    /// Sets the blocked mask (SIGKILL and SIGSTOP are never blocked).
    pub(crate) fn set_blocked(mask: u64) {
        // SAFETY: No pointers.
        unsafe { ffi::cr_current_set_blocked(mask) };
    }

    /// Sets the alternate signal stack.
    pub(crate) fn set_altstack(sp: u64, size: u64, flags: u32) {
        // SAFETY: No pointers; only the current task's fields are written.
        unsafe { ffi::cr_current_set_altstack(sp, size, flags) };
    }

    /// Discards pending signals.
    pub(crate) fn flush_signals() {
        // SAFETY: No pointers.
        unsafe { ffi::cr_current_flush_signals() };
    }

    /// `MINSIGSTKSZ`.
    pub(crate) fn minsigstksz() -> u64 {
        // SAFETY: A constant.
        unsafe { ffi::cr_minsigstksz() as u64 }
    }

    /// Sets comm, personality, umask, thread-exit pointers; unregisters
    /// rseq; sets no_new_privs if asked.
    pub(crate) fn set_misc(m: &Misc, no_new_privs: bool) {
        // SAFETY: `m` is valid.
        unsafe { ffi::cr_current_set_misc(m, no_new_privs) };
    }

    /// Sets resource limit `i`.
    pub(crate) fn set_rlimit(i: usize, cur: u64, max: u64) {
        // SAFETY: `i < RLIM_NLIMITS` is checked by the caller (format).
        unsafe { ffi::cr_current_set_rlimit(i as i32, cur, max) };
    }

    /// The default of `sysctl fs.nr_open` (the sysctl itself is not
    /// exported to modules).
    pub(crate) fn nr_open() -> u64 {
        // SAFETY: Reads a sysctl.
        unsafe { ffi::cr_nr_open().into() }
    }

    /// Number of threads in the current thread group.
    pub(crate) fn nr_threads() -> i32 {
        // SAFETY: Reads the current task.
        unsafe { ffi::cr_current_nr_threads() }
    }

    /// Whether the current credentials are exactly `c` with `groups`:
    /// `Ok(())`, or `Err(what)` naming what differs.
    pub(crate) fn creds_match(c: &Creds, groups: &[u32]) -> core::result::Result<(), &'static str> {
        // SAFETY: `c` and `groups` are valid for reads.
        match unsafe { ffi::cr_current_creds_match(c, groups.as_ptr(), groups.len() as i32) } {
            0 => Ok(()),
            1 => Err("uids"),
            2 => Err("gids"),
            3 => Err("supplementary groups"),
            4 => Err("capabilities"),
            _ => Err("securebits"),
        }
    }

    /// Sends `sig` to the current task.
    pub(crate) fn send_sig(sig: i32) {
        // SAFETY: No pointers.
        unsafe { ffi::cr_send_sig_current(sig) };
    }

    /// Whether the current task is exiting.
    pub(crate) fn exiting() -> bool {
        // SAFETY: Reads the current task.
        unsafe { ffi::cr_current_exiting() }
    }

    /// Whether a fatal signal is pending.
    pub(crate) fn fatal_signal_pending() -> bool {
        // SAFETY: Reads the current task.
        unsafe { ffi::cr_fatal_signal_pending() }
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
        let f = file.map_or(core::ptr::null_mut(), |f| f.as_ptr());
        // SAFETY: `f` is null or a valid file; the mm is the current task's.
        let r = unsafe {
            ffi::cr_vm_mmap(
                f,
                addr as usize,
                len as usize,
                prot as usize,
                flags as usize,
                off as usize,
            )
        };
        if is_err_value(r as usize) {
            return Err(Error::from_errno(r as isize as i32));
        }
        Ok(r as u64)
    }

    /// Unmaps `[addr, addr + len)` of the current mm.
    pub(crate) fn vm_munmap(addr: u64, len: u64) -> Result {
        // SAFETY: Acts on the current mm only.
        to_result(unsafe { ffi::cr_vm_munmap(addr as usize, len as usize) })
    }

    /// Writes `buf` at `addr` of the current mm even where the mapping is
    /// not writable (as ptrace's POKE does, copy-on-write).
    pub(crate) fn poke(addr: u64, buf: &[u8]) -> Result {
        // SAFETY: `buf` is valid for reads; user addresses are checked by GUP.
        let n = unsafe { ffi::cr_current_poke(addr as usize, buf.as_ptr(), buf.len() as i32) };
        if n as usize != buf.len() {
            return Err(EFAULT);
        }
        Ok(())
    }

    /// Sets the mm layout words and saved auxv.
    pub(crate) fn set_mm_layout(l: &[u64; 11], auxv: &[u64]) {
        // SAFETY: Both slices are valid; the C side takes the mmap lock.
        unsafe { ffi::cr_current_mm_set_layout(l.as_ptr(), auxv.as_ptr(), auxv.len() as u32) };
    }

    /// Number of words of `mm->saved_auxv`.
    pub(crate) fn auxv_words() -> u32 {
        // SAFETY: A constant of the current mm.
        unsafe { ffi::cr_mm_auxv_words() }
    }

    /// The current task's mm, referenced.
    pub(crate) fn mm() -> Option<MmRef> {
        // SAFETY: Takes a reference on the current mm if it has one.
        NonNull::new(unsafe { ffi::cr_current_mm_get() }).map(MmRef)
    }

    /// Makes `f` the executable of the current mm (`/proc/self/exe`).
    pub(crate) fn set_exe_file(f: &File) -> Result {
        // SAFETY: `f` is valid; the C side takes its own reference.
        to_result(unsafe { ffi::cr_current_set_exe_file(f.as_ptr()) })
    }

    /// Highest fd table size.
    pub(crate) fn max_fds() -> u32 {
        // SAFETY: Reads the current file table.
        unsafe { ffi::cr_current_max_fds() }
    }

    /// The file at `fd` and its close-on-exec flag.
    pub(crate) fn fget(fd: u32) -> Option<(ARef<File>, bool)> {
        let mut cloexec = false;
        // SAFETY: `cloexec` is valid for writes.
        let f = unsafe { ffi::cr_current_fget(fd, &mut cloexec) };
        // SAFETY: `fget_raw` returned a reference.
        NonNull::new(f).map(|f| (unsafe { file_from_raw(f) }, cloexec))
    }

    /// Closes `fd` (`EBADF` if not open).
    pub(crate) fn close_fd(fd: u32) -> Result {
        // SAFETY: Acts on the current file table.
        to_result(unsafe { ffi::cr_fd_close(fd) })
    }

    /// Reserves the lowest free fd.
    pub(crate) fn fd_reserve() -> Result<u32> {
        // SAFETY: Acts on the current file table.
        let r = unsafe { ffi::cr_fd_alloc() };
        Ok(errno_result(r.into())? as u32)
    }

    /// Releases a reserved, not installed fd.
    pub(crate) fn fd_unreserve(fd: u32) {
        // SAFETY: `fd` was returned by `fd_reserve` and not installed.
        unsafe { ffi::cr_fd_unreserve(fd) };
    }

    /// Installs `file` at the reserved `fd`.
    pub(crate) fn fd_install(fd: u32, file: ARef<File>, cloexec: bool) {
        let raw = ARef::into_raw(file);
        // SAFETY: `fd` is reserved; the reference is handed to the table.
        unsafe { ffi::cr_fd_install(fd, raw.as_ptr().cast(), cloexec) };
    }
}

/// Interprets a `d_path`-style result pointing into `buf`.
fn path_in(buf: &[u8], p: *const u8) -> Result<&[u8]> {
    if is_err_value(p as usize) {
        return Err(Error::from_errno(p as isize as i32));
    }
    let start = (p as usize)
        .checked_sub(buf.as_ptr() as usize)
        .filter(|s| *s < buf.len())
        .ok_or(EINVAL)?;
    let s = &buf[start..];
    let n = s
        .iter()
        .position(|&b| b == 0)
        .ok_or(crate::log::enametoolong())?;
    Ok(&s[..n])
}

// ---------------------------------------------------------------- mm

/// A reference on an mm (`mm_users`), keeping its mappings alive.
///
/// # Invariants
///
/// `0` is a valid mm with a user reference owned by this object.
pub(crate) struct MmRef(NonNull<bindings::mm_struct>);

// SAFETY: mm references may be used and dropped from any task.
unsafe impl Send for MmRef {}
// SAFETY: As above.
unsafe impl Sync for MmRef {}

impl MmRef {
    /// Takes the mmap lock for reading.
    pub(crate) fn read_lock(&self) -> MmReadGuard<'_> {
        // SAFETY: The mm is valid (invariant).
        unsafe { ffi::cr_mm_read_lock(self.0.as_ptr()) };
        MmReadGuard(self)
    }
}

impl Drop for MmRef {
    fn drop(&mut self) {
        // SAFETY: We own a user reference (invariant).
        unsafe { ffi::cr_mm_put(self.0.as_ptr()) };
    }
}

/// Kinds of special mapping ([`VmaInfo::special`]).
pub(crate) mod special {
    pub(crate) const VDSO: u32 = 1;
    pub(crate) const VVAR: u32 = 2;
    pub(crate) const VVAR_VCLOCK: u32 = 3;
    pub(crate) const OTHER: u32 = 4;
}

/// One VMA as read under the mmap lock.
pub(crate) struct VmaInfo {
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) pgoff: u64,
    pub(crate) vm_flags: u64,
    pub(crate) file: Option<ARef<File>>,
    pub(crate) special: u32,
    pub(crate) has_anon_vma: bool,
    /// Identity of the backing object (kernel-internal, never written).
    pub(crate) ino_key: u64,
}

/// `VM_*` flags of the running kernel.
pub(crate) mod vmf {
    use super::ffi;

    fn get(which: i32) -> u64 {
        // SAFETY: Returns a constant.
        unsafe { ffi::cr_vm_flag(which) }
    }
    pub(crate) fn read() -> u64 {
        get(1)
    }
    pub(crate) fn write() -> u64 {
        get(2)
    }
    pub(crate) fn exec() -> u64 {
        get(3)
    }
    pub(crate) fn shared() -> u64 {
        get(4)
    }
    pub(crate) fn growsdown() -> u64 {
        get(5)
    }
    /// `VM_IO | VM_PFNMAP | VM_MIXEDMAP | VM_HUGETLB | VM_DONTEXPAND`,
    /// shadow stacks and protection keys.
    pub(crate) fn unsupported() -> u64 {
        get(6)
    }
    /// `VM_LOCKED | VM_LOCKONFAULT`.
    pub(crate) fn locked() -> u64 {
        get(7)
    }
    pub(crate) fn noreserve() -> u64 {
        get(8)
    }
    /// `VM_DONTCOPY` (`MADV_DONTFORK`).
    pub(crate) fn dontcopy() -> u64 {
        get(9)
    }
    pub(crate) fn wipeonfork() -> u64 {
        get(10)
    }
    pub(crate) fn dontdump() -> u64 {
        get(11)
    }
    /// `VM_HUGEPAGE` (0 without transparent huge pages).
    pub(crate) fn hugepage() -> u64 {
        get(12)
    }
    /// `VM_NOHUGEPAGE` (0 without transparent huge pages).
    pub(crate) fn nohugepage() -> u64 {
        get(13)
    }

    /// `VM_SOFTDIRTY` (0 without soft-dirty tracking).
    pub(crate) fn softdirty() -> u64 {
        get(14)
    }
    /// `VM_ACCOUNT`.
    pub(crate) fn account() -> u64 {
        get(15)
    }
    /// `VM_MERGEABLE` (`MADV_MERGEABLE`, KSM).
    pub(crate) fn mergeable() -> u64 {
        get(16)
    }
    /// `VM_SEALED` (`mseal`; 0 where it does not exist).
    pub(crate) fn sealed() -> u64 {
        get(17)
    }
    /// The image's `VMA_*` bits and the kernel's `VM_*` flags they stand
    /// for (the `madvise` state and `VM_NORESERVE`).
    pub(crate) fn advice() -> [(u32, u64); 6] {
        use crate::format as f;
        [
            (f::VMA_NORESERVE, noreserve()),
            (f::VMA_DONTFORK, dontcopy()),
            (f::VMA_WIPEONFORK, wipeonfork()),
            (f::VMA_DONTDUMP, dontdump()),
            (f::VMA_HUGEPAGE, hugepage()),
            (f::VMA_NOHUGEPAGE, nohugepage()),
        ]
    }
}

/// The mmap lock of an [`MmRef`], held for reading.
pub(crate) struct MmReadGuard<'a>(&'a MmRef);

impl MmReadGuard<'_> {
    /// The first VMA that ends above `addr`.
    pub(crate) fn vma_at(&self, addr: u64) -> Option<VmaInfo> {
        let mut v = ffi::Vma {
            start: 0,
            end: 0,
            pgoff: 0,
            vm_flags: 0,
            file: core::ptr::null_mut(),
            special: 0,
            has_anon_vma: 0,
            is_stack: 0,
            pad: [0; 2],
            ino_key: 0,
        };
        // SAFETY: The lock is held (type invariant of the guard); `v` is
        // valid for writes.
        if unsafe { ffi::cr_mm_vma_at(self.0 .0.as_ptr(), addr as usize, &mut v) } != 0 {
            return None;
        }
        Some(VmaInfo {
            start: v.start,
            end: v.end,
            pgoff: v.pgoff,
            vm_flags: v.vm_flags,
            // SAFETY: The C side took a reference on the file.
            file: NonNull::new(v.file).map(|f| unsafe { file_from_raw(f) }),
            special: v.special,
            has_anon_vma: v.has_anon_vma != 0,
            ino_key: v.ino_key,
        })
    }

    /// Layout words and saved auxv of the mm.
    pub(crate) fn layout(&self, auxv: &mut [u64]) -> [u64; 11] {
        let mut l = [0u64; 11];
        // SAFETY: Both buffers are valid for writes of their lengths.
        unsafe {
            ffi::cr_mm_layout(
                self.0 .0.as_ptr(),
                l.as_mut_ptr(),
                auxv.as_mut_ptr(),
                auxv.len() as u32,
            )
        };
        l
    }

    /// Path of the executable, into `buf`.
    pub(crate) fn exe_path<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8]> {
        // SAFETY: The lock is held, which keeps `exe_file` stable.
        let p = unsafe {
            ffi::cr_mm_exe_path(
                self.0 .0.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len() as i32,
            )
        };
        path_in(buf, p.cast())
    }

    /// Pins the pages from `addr` that a core dump would save (no holes, no
    /// zero page), up to `out.len()`; returns how many (0 at a hole).
    pub(crate) fn dump_pages(&self, addr: u64, out: &mut [Option<PinnedPage>]) -> Result<usize> {
        let mut raw = [core::ptr::null_mut::<bindings::page>(); 64];
        let n = out.len().min(raw.len());
        // SAFETY: The lock is held; `raw` has room for `n` pointers.
        let r = unsafe {
            ffi::cr_mm_get_dump_pages(self.0 .0.as_ptr(), addr as usize, n, raw.as_mut_ptr())
        };
        if r == -(bindings::EFAULT as isize) || r == 0 {
            return Ok(0);
        }
        let got = errno_result(r as i64)? as usize;
        // INVARIANT: GUP returned `got` referenced pages, each now owned by
        // one `PinnedPage`.
        for (slot, p) in out.iter_mut().zip(raw.iter()).take(got) {
            *slot = NonNull::new(*p).map(PinnedPage);
        }
        Ok(got)
    }
}

impl Drop for MmReadGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: Taken in `read_lock`.
        unsafe { ffi::cr_mm_read_unlock(self.0 .0.as_ptr()) };
    }
}

/// A page with a reference from GUP.
///
/// # Invariants
///
/// `0` is a valid page whose reference this object owns.
pub(crate) struct PinnedPage(NonNull<bindings::page>);

impl PinnedPage {
    /// Whether it is an anonymous page (for private file mappings: copied on
    /// write).
    pub(crate) fn is_anon(&self) -> bool {
        // SAFETY: Valid page (invariant).
        unsafe { ffi::cr_page_is_anon(self.0.as_ptr()) }
    }

    /// Copies the page into `dst`, which must be one page long.
    pub(crate) fn copy_to(&self, dst: &mut [u8]) {
        assert_eq!(dst.len(), kernel::page::PAGE_SIZE);
        // SAFETY: `dst` has room for a page; the page is valid.
        unsafe { ffi::cr_page_copy_out(dst.as_mut_ptr(), self.0.as_ptr()) };
    }
}

impl Drop for PinnedPage {
    fn drop(&mut self) {
        // SAFETY: We own the reference (invariant).
        unsafe { ffi::cr_page_put(self.0.as_ptr()) };
    }
}

// ---------------------------------------------------------------- files

/// What kind of object a file is, from its inode and socket.
pub(crate) fn file_info(f: &File) -> FileInfo {
    let mut i = FileInfo::default();
    // SAFETY: `f` is valid; `i` is valid for writes.
    unsafe { ffi::cr_file_info(f.as_ptr(), &mut i) };
    i
}

/// `d_path` of a file, into `buf`.
pub(crate) fn file_path<'b>(f: &File, buf: &'b mut [u8]) -> Result<&'b [u8]> {
    // SAFETY: `f` is valid; `buf` is valid for writes of its length.
    let p = unsafe { ffi::cr_file_path(f.as_ptr(), buf.as_mut_ptr().cast(), buf.len() as i32) };
    path_in(buf, p.cast())
}

/// The dentry name of a file (anon inodes: "inotify", "[eventfd]"...).
pub(crate) fn file_dname<'b>(f: &File, buf: &'b mut [u8]) -> &'b [u8] {
    // SAFETY: `f` is valid; `buf` is valid for writes of its length.
    let n = unsafe { ffi::cr_file_dname(f.as_ptr(), buf.as_mut_ptr().cast(), buf.len() as i32) };
    &buf[..(n.max(0) as usize).min(buf.len())]
}

/// Opens `path` (NUL-terminated) with `flags`, as the caller.
pub(crate) fn filp_open(path: &CStr, flags: u32) -> Result<ARef<File>> {
    // SAFETY: `path` is a valid C string.
    let f = err_ptr(unsafe { ffi::cr_filp_open(path.as_char_ptr(), flags as i32) })?;
    // SAFETY: `filp_open` returned a reference.
    Ok(unsafe { file_from_raw(f) })
}

/// A new shared anonymous memory object of `size` bytes.
pub(crate) fn shmem_file(size: u64) -> Result<ARef<File>> {
    // SAFETY: No pointers in; a referenced file or an error out.
    let f = err_ptr(unsafe { ffi::cr_shmem_file(size) })?;
    // SAFETY: The file was just created with one reference, ours.
    Ok(unsafe { file_from_raw(f) })
}

/// Sets a file's position.
pub(crate) fn file_seek(f: &File, pos: i64) -> Result {
    // SAFETY: `f` is valid.
    let r = unsafe { ffi::cr_file_seek(f.as_ptr(), pos) };
    errno_result(r).map(|_| ())
}

/// Reads from a file at its position (streams: no position).
pub(crate) fn file_read(f: &File, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: `f` is valid; `buf` is valid for writes.
    let r = unsafe { ffi::cr_file_read(f.as_ptr(), buf.as_mut_ptr(), buf.len()) };
    Ok(errno_result(r as i64)? as usize)
}

/// Reads from a regular file at `*pos`, which it advances; the file's own
/// position is left alone.
pub(crate) fn file_read_at(f: &File, buf: &mut [u8], pos: &mut i64) -> Result<usize> {
    // SAFETY: `f` is valid; `buf` is valid for writes and `pos` for reads
    // and writes.
    let r = unsafe { ffi::cr_file_read_at(f.as_ptr(), buf.as_mut_ptr(), buf.len(), pos) };
    Ok(errno_result(r as i64)? as usize)
}

/// Writes to a file at its position (streams: no position).
pub(crate) fn file_write(f: &File, buf: &[u8]) -> Result<usize> {
    // SAFETY: `f` is valid; `buf` is valid for reads.
    let r = unsafe { ffi::cr_file_write(f.as_ptr(), buf.as_ptr(), buf.len()) };
    Ok(errno_result(r as i64)? as usize)
}

/// Looks up `fd` in the caller's file table.
pub(crate) fn fget(fd: i32) -> Result<ARef<File>> {
    let fd = u32::try_from(fd).map_err(|_| EBADF)?;
    current::fget(fd).map(|(f, _)| f).ok_or(EBADF)
}

/// Whether the current task has capability `cap` in the initial namespace.
pub(crate) fn capable(cap: i32) -> bool {
    // SAFETY: No pointers; may audit.
    unsafe { bindings::capable(cap) }
}

/// The caller's thread id in its own pid namespace.
pub(crate) fn current_tid() -> i32 {
    // SAFETY: Reads the current task.
    unsafe { ffi::cr_current_tid() }
}

/// A monotonic clock in milliseconds (jiffies).
pub(crate) fn jiffies_ms() -> u64 {
    // SAFETY: No pointers.
    unsafe { ffi::cr_jiffies_ms() }
}

/// Wall-clock time in nanoseconds.
pub(crate) fn real_time_ns() -> u64 {
    // SAFETY: No pointers.
    unsafe { ffi::cr_ktime_real_ns() }
}

/// The running kernel's release string.
pub(crate) fn uts_release() -> &'static CStr {
    // SAFETY: `init_utsname()->release` is a NUL-terminated static string.
    unsafe { CStr::from_char_ptr(ffi::cr_uts_release()) }
}

/// `FMODE_READ`, in [`FileInfo::fmode`].
pub(crate) const FMODE_READ: u32 = 1;
/// `FMODE_WRITE`, in [`FileInfo::fmode`].
pub(crate) const FMODE_WRITE: u32 = 2;

/// `FMODE_READ` / `FMODE_WRITE` of a file.
pub(crate) fn file_mode(f: &File) -> (bool, bool) {
    let i = file_info(f);
    (i.fmode & FMODE_READ != 0, i.fmode & FMODE_WRITE != 0)
}
