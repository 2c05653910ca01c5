// SPDX-License-Identifier: GPL-2.0

//! The kernel API layer: safe wrappers over `kernel::bindings`, the kernel
//! crate and the few accessors of `cr_kapi.c`.
//!
//! This is the bottom layer of the module: it imports nothing from the rest
//! of the crate but the image format's constants, and it is the only module
//! with `unsafe` blocks that call into C. Everything above it deals in owned
//! references ([`TaskRef`], [`MmRef`], [`PinnedPage`], `ARef<File>`) and
//! plain data. The rules cr applies to kernel state (who may checkpoint
//! whom, what state is refused, which tasks a tree holds) are plain Rust
//! here, over raw reads of the kernel's structures; `cr_kapi.c` only reaches
//! what the bindings cannot (inline functions, macros, opaque structs).

use core::ptr::NonNull;
use kernel::{bindings, fs::File, prelude::*, sync::aref::ARef};

pub(crate) mod current;
pub(crate) mod epoll;
pub(crate) mod evfd;
mod file;
pub(crate) mod inet;
pub(crate) mod lock;
mod miscdev;
mod mm;
pub(crate) mod pipe;
pub(crate) mod sigpending;
mod sync;
mod task;
pub(crate) mod timer;
mod unix;

pub(crate) use file::*;
pub(crate) use miscdev::OwnedMiscDevice;
pub(crate) use mm::{
    read_to_user, special, user_pages, vmf, write_pages, MmRef, PinnedPage, ThpDisabled,
    WRITE_PAGES_MAX,
};
pub(crate) use sync::KCompletion;
pub(crate) use task::*;
pub(crate) use unix::*;

pub(crate) use current::{Creds, Misc, Sched, SigAction, Signals};

/// Raw declarations of `cr_kapi.c` (see `cr_kapi.h`).
mod ffi {
    use kernel::bindings;
    use kernel::ffi::{c_char, c_int, c_uchar, c_uint, c_ulong};

    /// `enum cr_vm_flag`: the `VM_*` flags (macros, some per configuration).
    #[repr(C)]
    #[derive(Clone, Copy)]
    #[allow(dead_code)]
    pub(crate) enum VmFlag {
        Read = 1,
        Write,
        Exec,
        Shared,
        GrowsDown,
        Io,
        PfnMap,
        MixedMap,
        HugeTlb,
        DontExpand,
        ShadowStack,
        Pkeys,
        Locked,
        LockOnFault,
        NoReserve,
        DontCopy,
        WipeOnFork,
        DontDump,
        HugePage,
        NoHugePage,
        SoftDirty,
        Account,
        Mergeable,
        Sealed,
        MayShare,
    }

    // The kernel structs are only passed by pointer; some contain zero-sized
    // members that the lint flags, as it does for `kernel::bindings` itself.
    #[allow(improper_ctypes)]
    extern "C" {
        pub(crate) fn cr_siglock(t: *mut bindings::task_struct);
        pub(crate) fn cr_sighand_lock(sh: *mut bindings::sighand_struct);
        pub(crate) fn cr_sighand_unlock(sh: *mut bindings::sighand_struct);
        pub(crate) fn cr_sigunlock(t: *mut bindings::task_struct);
        pub(crate) fn cr_list_move_tail(
            e: *mut bindings::list_head,
            head: *mut bindings::list_head,
        );
        pub(crate) fn cr_current_restore_sigmask() -> bool;
        pub(crate) fn cr_task_restore_sigmask(t: *mut bindings::task_struct) -> bool;
        pub(crate) fn cr_mmap_write_lock(mm: *mut bindings::mm_struct);
        pub(crate) fn cr_mmap_write_unlock(mm: *mut bindings::mm_struct);
        pub(crate) fn cr_fs_users(t: *mut bindings::task_struct) -> c_int;
        pub(crate) fn cr_current_umask() -> u32;
        pub(crate) fn cr_current_set_umask(umask: u32);
        pub(crate) fn cr_current_cwd(buf: *mut c_char, len: c_int) -> *mut c_char;
        pub(crate) fn cr_task_dumpable(
            t: *mut bindings::task_struct,
            ns: *mut *mut bindings::user_namespace,
        ) -> u32;
        pub(crate) fn cr_current_set_dumpable(value: u32);
        pub(crate) fn cr_current_pt_regs() -> *mut bindings::pt_regs;
        pub(crate) fn cr_current_set_fsbase(base: u64);
        pub(crate) fn cr_task_size_max() -> c_ulong;
        pub(crate) fn cr_mm_flags_test(mm: *mut bindings::mm_struct, flag: c_int) -> bool;
        pub(crate) fn cr_mm_flags_set(mm: *mut bindings::mm_struct, flag: c_int);
        pub(crate) fn cr_mm_flags_clear(mm: *mut bindings::mm_struct, flag: c_int);
        pub(crate) fn cr_file_dentry_count(f: *mut bindings::file) -> c_int;
        pub(crate) fn cr_page_is_anon(page: *mut bindings::page) -> bool;
        pub(crate) fn cr_page_put(page: *mut bindings::page);
        pub(crate) fn cr_pgd_offset(
            mm: *mut bindings::mm_struct,
            addr: c_ulong,
        ) -> *mut bindings::pgd_t;
        pub(crate) fn cr_pgd_none(pgd: *mut bindings::pgd_t) -> bool;
        pub(crate) fn cr_p4d_offset(
            pgd: *mut bindings::pgd_t,
            addr: c_ulong,
        ) -> *mut bindings::p4d_t;
        pub(crate) fn cr_p4d_none(p4d: *mut bindings::p4d_t) -> bool;
        pub(crate) fn cr_pud_offset(
            p4d: *mut bindings::p4d_t,
            addr: c_ulong,
        ) -> *mut bindings::pud_t;
        pub(crate) fn cr_pud_none(pud: *mut bindings::pud_t) -> bool;
        pub(crate) fn cr_pud_leaf(pud: *mut bindings::pud_t) -> bool;
        pub(crate) fn cr_pmd_offset(
            pud: *mut bindings::pud_t,
            addr: c_ulong,
        ) -> *mut bindings::pmd_t;
        pub(crate) fn cr_pmd_none(pmd: *mut bindings::pmd_t) -> bool;
        pub(crate) fn cr_file_user_path(f: *mut bindings::file) -> *const bindings::path;
        pub(crate) fn cr_file_dname(f: *mut bindings::file) -> *const c_uchar;
        pub(crate) fn cr_sock_family(sock: *mut bindings::socket) -> c_int;
        pub(crate) fn cr_file_count(f: *mut bindings::file) -> c_ulong;
        pub(crate) fn cr_file_read(f: *mut bindings::file, buf: *mut u8, len: usize) -> isize;
        pub(crate) fn cr_file_write(f: *mut bindings::file, buf: *const u8, len: usize) -> isize;
        pub(crate) fn cr_file_read_iter(
            f: *mut bindings::file,
            it: *mut bindings::iov_iter,
        ) -> isize;
        pub(crate) fn cr_file_write_iter(
            f: *mut bindings::file,
            it: *mut bindings::iov_iter,
        ) -> isize;
        pub(crate) fn cr_shmem_file(size: u64) -> *mut bindings::file;
        pub(crate) fn cr_memfd_file(name: *const c_char, size: u64) -> *mut bindings::file;
        pub(crate) fn cr_file_is_shmem(f: *mut bindings::file) -> bool;
        pub(crate) fn cr_shmem_seals(f: *mut bindings::file) -> c_uint;
        pub(crate) fn cr_shmem_set_seals(f: *mut bindings::file, seals: c_uint);
        pub(crate) fn cr_mapping_deny_writable(f: *mut bindings::file) -> c_int;
        pub(crate) fn cr_file_mnt_idmap(f: *mut bindings::file) -> *mut bindings::mnt_idmap;
        pub(crate) fn cr_start_removing_dentry(
            parent: *mut bindings::dentry,
            child: *mut bindings::dentry,
        ) -> *mut bindings::dentry;
        pub(crate) fn cr_current_set_exe_file(f: *mut bindings::file) -> c_int;
        pub(crate) fn cr_vm_flag(which: VmFlag) -> u64;
        pub(crate) fn cr_vma_reset_page_prot(vma: *mut bindings::vm_area_struct);
        pub(crate) fn cr_vma_change_flags(vma: *mut bindings::vm_area_struct, set: u64, clear: u64);
        pub(crate) fn cr_current_set_rseq(ptr: u64, len: u32, sig: u32, version: u8);
        pub(crate) fn cr_current_rseq_reset();
        pub(crate) fn cr_rseq_align() -> c_uint;
        pub(crate) fn cr_rseq_feature_size() -> c_uint;
        pub(crate) fn cr_regset_size(note: c_uint) -> c_int;
        pub(crate) fn cr_regset_get(note: c_uint, buf: *mut u8, size: c_uint) -> c_int;
        pub(crate) fn cr_current_set_xstate(buf: *const u8, size: c_uint) -> c_int;
        pub(crate) fn cr_task_sched_reset_on_fork(t: *mut bindings::task_struct) -> bool;
        pub(crate) fn cr_current_sched_setattr(
            policy: u32,
            priority: u32,
            nice: i32,
            reset_on_fork: bool,
        ) -> c_int;
        pub(crate) fn cr_uts_release() -> *const c_char;
    }
}

/// The `task_struct` fields reached through `cr_task_<field>()` (see
/// `CR_TASK_FIELDS` in `cr_kapi.h`): bindgen misplaces every field after
/// `stats`, which is zero-sized and cache-aligned without
/// `CONFIG_SCHEDSTATS`, so the offsets of all the fields kapi reads come
/// from C. The bindings still
/// give each field's type.
#[allow(dead_code)] // Some fields are read only in some configurations.
mod tf_ffi {
    macro_rules! task_fields {
        ($($f:ident)*) => {
            ::kernel::macros::paste! {
                // `task_struct` is only passed by pointer (see `ffi`).
                #[allow(improper_ctypes)]
                extern "C" {
                    $(pub(crate) fn [<cr_task_ $f>](
                        t: *mut kernel::bindings::task_struct,
                    ) -> *mut kernel::ffi::c_void;)*
                }
            }
        };
    }
    task_fields!(thread_info flags ptrace static_prio rt_priority policy cpus_ptr cpus_mask tasks mm exit_state exit_code exit_signal pdeath_signal jobctl personality atomic_flags tgid real_parent group_leader thread_node clear_child_tid real_cred cred comm fs files signal sighand blocked pending sas_ss_sp sas_ss_size sas_ss_flags seccomp self_exec_id alloc_lock io_context futex rseq timer_slack_ns default_timer_slack_ns saved_sigmask);
}

/// The address of field `$f` of the task `$t` (`&raw mut (*t).f`, at the
/// offset C gives it).
///
/// # Safety
///
/// Expands to an unsafe call: `$t` must be a valid task.
macro_rules! tf {
    ($t:expr, $f:ident) => {
        ::kernel::macros::paste! {
            $crate::kapi::task_field(
                $t,
                |x: &::kernel::bindings::task_struct| &x.$f,
                $crate::kapi::tf_ffi::[<cr_task_ $f>],
            )
        }
    };
}
use tf;

/// The address `get` gives of a field of `t`, of the type `_ty` names.
///
/// # Safety
///
/// `t` is a valid task, and `get` returns the address of the field `_ty`
/// projects.
unsafe fn task_field<F>(
    t: *mut bindings::task_struct,
    _ty: fn(&bindings::task_struct) -> &F,
    get: unsafe extern "C" fn(*mut bindings::task_struct) -> *mut kernel::ffi::c_void,
) -> *mut F {
    // SAFETY: `t` is valid (safety requirement).
    unsafe { get(t).cast() }
}

/// The current task (`current`), as a raw pointer.
fn cur() -> *mut bindings::task_struct {
    kernel::task::Task::current_raw()
}

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
        .ok_or(Error::from_errno(-(bindings::ENAMETOOLONG as i32)))?;
    Ok(&s[..n])
}

/// Whether the current task has capability `cap` in the initial namespace.
pub(crate) fn capable(cap: i32) -> bool {
    // SAFETY: No pointers; may audit.
    unsafe { bindings::capable(cap) }
}

/// The caller's thread id in its own pid namespace (`task_pid_vnr`).
pub(crate) fn current_tid() -> i32 {
    // SAFETY: `current` is valid; a null namespace means its own.
    unsafe {
        bindings::__task_pid_nr_ns(cur(), bindings::pid_type_PIDTYPE_PID, core::ptr::null_mut())
    }
}

/// A monotonic clock in milliseconds.
pub(crate) fn jiffies_ms() -> u64 {
    // SAFETY: No pointers.
    let ns = unsafe { bindings::ktime_get() };
    ns as u64 / u64::from(bindings::NSEC_PER_MSEC)
}

/// Wall-clock time in nanoseconds.
pub(crate) fn real_time_ns() -> u64 {
    // SAFETY: No pointers.
    unsafe { bindings::ktime_get_real() as u64 }
}

/// The running kernel's release string.
pub(crate) fn uts_release() -> &'static CStr {
    // SAFETY: `init_utsname()->release` is a NUL-terminated static string.
    unsafe { CStr::from_char_ptr(ffi::cr_uts_release()) }
}
