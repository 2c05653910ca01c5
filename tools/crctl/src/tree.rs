// SPDX-License-Identifier: GPL-2.0

//! Rebuilding a process tree for a restart, in user space: every process
//! and thread of the image is created with its original pid (`clone3` with
//! `set_tid`, which needs `CAP_CHECKPOINT_RESTORE` and the pids to be free),
//! takes its session and process group, changes to its working directory,
//! moves its vdso, and asks the kernel to restore it (`CR_RESTART_JOIN`).
//! Zombies are created and exit at once with their status. The launcher
//! (crctl itself) reads the image for the kernel (`CR_RESTART_COORDINATE`)
//! and then waits for the tree's root.

use crate::uapi;
use cr_image::format::TreeEntry;
use std::os::fd::RawFd;

/// What crctl needs to know of each process before the kernel takes over.
#[derive(Default, Clone)]
pub struct ProcInfo {
    pub tgid: i32,
    pub cwd: Vec<u8>,
    pub specials: Vec<crate::Special>,
}

/// The image's tree and per-process facts.
pub struct TreeInfo {
    pub entries: Vec<TreeEntry>,
    pub procs: Vec<ProcInfo>,
}

/// `struct clone_args` (version 2, 88 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_VM: u64 = 0x100;
const CLONE_FS: u64 = 0x200;
const CLONE_FILES: u64 = 0x400;
const CLONE_SIGHAND: u64 = 0x800;
const CLONE_THREAD: u64 = 0x10000;
const CLONE_SYSVSEM: u64 = 0x40000;

/// Forks a process with pid `pid`: returns 0 in the child, the pid in the
/// parent, or the error.
fn fork_with_pid(pid: i32) -> Result<i32, std::io::Error> {
    let tid = [pid];
    let args = CloneArgs {
        exit_signal: libc::SIGCHLD as u64,
        set_tid: tid.as_ptr() as u64,
        set_tid_size: 1,
        ..Default::default()
    };
    // SAFETY: clone3 without CLONE_VM is fork: the child gets a copy of
    // this (single-threaded) process and returns here with 0.
    let r = unsafe { libc::syscall(libc::SYS_clone3, &args, std::mem::size_of::<CloneArgs>()) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(r as i32)
}

/// What a thread of the tree does: join the restart. Never returns.
extern "C" fn thread_main(arg: usize) -> ! {
    // SAFETY: `arg` points to a `JoinArgs` that lives in memory the
    // creating process never frees before the restore replaces it.
    let a = unsafe { &*(arg as *const JoinArgs) };
    join(a);
    // SAFETY: Ends this thread only.
    unsafe { libc::syscall(libc::SYS_exit, 1) };
    // exit(2) does not return.
    loop {
        std::hint::spin_loop();
    }
}

/// Creates a thread with tid `tid` sharing everything with this process,
/// running `thread_main(arg)` on a fresh stack.
fn spawn_thread(tid: i32, arg: usize) -> Result<(), std::io::Error> {
    const STACK: usize = 64 << 10;
    // SAFETY: A fresh anonymous mapping for the thread's stack.
    let stack = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            STACK,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if stack == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    let tids = Box::leak(Box::new([tid]));
    let args = Box::leak(Box::new(CloneArgs {
        flags: CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM,
        stack: stack as u64,
        stack_size: STACK as u64,
        set_tid: tids.as_ptr() as u64,
        set_tid_size: 1,
        ..Default::default()
    }));
    let ret: i64;
    // SAFETY: clone3 creates a thread that starts on the new stack with
    // this thread's registers: it finds `arg` and `thread_main` in the same
    // registers and calls it; `thread_main` never returns. The parent
    // continues with the new tid in rax.
    unsafe {
        core::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "mov rdi, {arg}",
            "call {f}",
            "ud2",
            "2:",
            arg = in(reg) arg,
            f = in(reg) thread_main as extern "C" fn(usize) -> ! as usize,
            inlateout("rax") libc::SYS_clone3 => ret,
            in("rdi") args as *const CloneArgs,
            in("rsi") std::mem::size_of::<CloneArgs>(),
            // Not "lateout": the syscall clobbers rcx and r11, so neither
            // may carry `arg` or `f`.
            out("rcx") _,
            out("r11") _,
        );
    }
    if ret < 0 {
        return Err(std::io::Error::from_raw_os_error(-ret as i32));
    }
    Ok(())
}

/// Everything a task needs to join.
struct JoinArgs {
    dev: RawFd,
    image: RawFd,
    flags: u32,
}

/// Calls `CR_IOC_RESTART` with `CR_RESTART_JOIN`: on success this task is
/// the restored one and this does not return.
fn join(a: &JoinArgs) {
    let r = uapi::CrRestartArgs {
        size: std::mem::size_of::<uapi::CrRestartArgs>() as u32,
        flags: a.flags | uapi::CR_RESTART_JOIN,
        fd: a.image,
        logfd: -1,
        prefix: 0,
        prefix_len: 0,
    };
    // SAFETY: The ioctl reads `r`.
    unsafe { libc::ioctl(a.dev, uapi::CR_IOC_RESTART, &r) };
}

/// Exits the way a zombie did: its status from `wait()`.
fn exit_like(status: i32) -> ! {
    let sig = status & 0x7f;
    if sig != 0 {
        // SAFETY: Restores the default action and kills this process with
        // the signal that killed the original.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
            libc::kill(libc::getpid(), sig);
        }
    }
    // SAFETY: Plain exit.
    unsafe { libc::_exit((status >> 8) & 0xff) }
}

/// Blocks every signal that can be: the restart's waits in the kernel are
/// then only ended by a fatal one, and the restored tasks get their own
/// masks from the image.
pub fn block_signals() -> libc::sigset_t {
    // SAFETY: Fills and installs a full mask, returning the old one.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, &mut old);
        old
    }
}

/// In a new process that has the pid of tree entry `i`: builds its part of
/// the tree and joins the restart. Never returns.
fn become_process(t: &TreeInfo, i: usize, dev: RawFd, image: RawFd, flags: u32) -> ! {
    let e = t.entries[i];
    let fail = |what: String| -> ! {
        eprintln!("crctl: restoring pid {}: {what}", e.pid);
        // SAFETY: Plain exit.
        unsafe { libc::_exit(1) }
    };
    // SAFETY: Session and process group calls on this process.
    unsafe {
        if e.sid == e.pid {
            libc::setsid();
        } else if e.pgid == e.pid {
            libc::setpgid(0, 0);
        } else if t.entries.iter().any(|x| x.pid == e.pgid) {
            libc::setpgid(0, e.pgid);
        }
    }
    for (k, c) in t.entries.iter().enumerate() {
        if !c.is_leader() || c.ppid != e.pid || k == i || c.tgid == e.tgid {
            continue;
        }
        match fork_with_pid(c.pid) {
            Ok(0) if c.is_zombie() => exit_like(c.exit_code),
            Ok(0) => become_process(t, k, dev, image, flags),
            Ok(_) => {}
            Err(err) => fail(format!("cannot create pid {}: {err}", c.pid)),
        }
    }
    let args = Box::leak(Box::new(JoinArgs { dev, image, flags }));
    for c in t
        .entries
        .iter()
        .filter(|c| c.tgid == e.tgid && !c.is_leader())
    {
        if let Err(err) = spawn_thread(c.pid, args as *const JoinArgs as usize) {
            fail(format!("cannot create thread {}: {err}", c.pid));
        }
    }
    let Some(p) = t.procs.iter().find(|p| p.tgid == e.pid) else {
        fail("not in the image".into())
    };
    let cwd = std::ffi::CString::new(p.cwd.clone()).unwrap_or_default();
    // SAFETY: `cwd` is a valid C string.
    if unsafe { libc::chdir(cwd.as_ptr()) } != 0 {
        fail(format!(
            "cannot change to {}",
            String::from_utf8_lossy(&p.cwd)
        ));
    }
    if let Err(err) = crate::place_vdso(&p.specials) {
        fail(err);
    }
    join(args);
    // The kernel refused before the point of no return: the coordinator
    // reports why.
    // SAFETY: Plain exit.
    unsafe { libc::_exit(1) }
}

/// Pid 1 of a new pid namespace: creates the root, reaps, exits like it.
fn init_of_namespace(t: &TreeInfo, dev: RawFd, image: RawFd, flags: u32) -> ! {
    let root = t.entries[0];
    let pid = match fork_with_pid(root.pid) {
        Ok(0) => become_process(t, 0, dev, image, flags),
        Ok(p) => p,
        Err(e) => {
            eprintln!(
                "crctl: cannot create pid {} in the new pid namespace: {e}",
                root.pid
            );
            // SAFETY: Plain exit.
            unsafe { libc::_exit(1) }
        }
    };
    loop {
        let mut status = 0;
        // SAFETY: Reaps any child of this init.
        let r = unsafe { libc::waitpid(-1, &mut status, 0) };
        if r == pid || r < 0 {
            let code = if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                128 + libc::WTERMSIG(status)
            };
            // SAFETY: Plain exit (the namespace's other processes are killed).
            unsafe { libc::_exit(code) }
        }
    }
}

/// The launcher: creates the tree, coordinates the restart, and waits for
/// the root (unless `detach`). Returns the exit status for crctl.
#[allow(clippy::too_many_arguments)]
pub fn launch(
    t: &TreeInfo,
    dev: RawFd,
    image: RawFd,
    logfd: RawFd,
    prefix: &[u8],
    flags: u32,
    detach: bool,
    pidns: bool,
) -> Result<i32, String> {
    let old_mask = block_signals();
    let root = t.entries[0];
    let pid = if pidns {
        // A new pid namespace: its init (pid 1) is crctl, which creates the
        // tree's root with its original pid inside, reaps orphans, and exits
        // with the root's status.
        if root.pid == 1 {
            return Err(
                "the image's root has pid 1: it cannot be restored under a new init".into(),
            );
        }
        // SAFETY: Affects the children created from now on.
        if unsafe { libc::unshare(libc::CLONE_NEWPID) } != 0 {
            return Err(format!(
                "unshare(CLONE_NEWPID): {}",
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: fork in a single-threaded process.
        match unsafe { libc::fork() } {
            0 => init_of_namespace(t, dev, image, flags),
            p if p > 0 => p,
            _ => return Err(format!("fork: {}", std::io::Error::last_os_error())),
        }
    } else {
        match fork_with_pid(root.pid) {
            Ok(0) => become_process(t, 0, dev, image, flags),
            Ok(p) => p,
            Err(e) => {
                return Err(format!(
                    "cannot create pid {} ({e}): restoring a tree needs CAP_CHECKPOINT_RESTORE and its pids free (or --pidns)",
                    root.pid
                ))
            }
        }
    };
    let a = uapi::CrRestartArgs {
        size: std::mem::size_of::<uapi::CrRestartArgs>() as u32,
        flags: uapi::CR_RESTART_COORDINATE | (flags & uapi::CR_RESTART_STOPPED),
        fd: image,
        logfd,
        prefix: prefix.as_ptr() as u64,
        prefix_len: prefix.len() as u64,
    };
    // SAFETY: The ioctl reads `a` and the prefix.
    let r = unsafe { libc::ioctl(dev, uapi::CR_IOC_RESTART, &a) };
    // The launcher itself is interruptible again (the tree has its masks).
    // SAFETY: Installs the saved mask.
    unsafe { libc::sigprocmask(libc::SIG_SETMASK, &old_mask, std::ptr::null_mut()) };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        // SAFETY: Kills what is left of the tree (its tasks exit by
        // themselves when the kernel refused before the point of no return).
        unsafe { libc::kill(pid, libc::SIGKILL) };
        return Err(format!("restart failed: {}", crate::errno_text(&e)));
    }
    if detach {
        return Ok(0);
    }
    let mut status = 0;
    // SAFETY: Waits for our child, the root.
    if unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
        return Err(format!("waitpid: {}", std::io::Error::last_os_error()));
    }
    Ok(if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    })
}
