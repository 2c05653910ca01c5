// SPDX-License-Identifier: GPL-2.0

//! Rebuilding a process tree for a restart, in user space: every process
//! and thread of the image is created with its original pid (`clone3` with
//! `set_tid`, which needs `CAP_CHECKPOINT_RESTORE` and the pids to be free),
//! takes its session and process group, changes to its working directory,
//! moves its vdso, and asks the kernel to restore it (`CR_RESTART_JOIN`).
//! With several processes, each first has the kernel map and fill its
//! memory (`CR_RESTART_PREMAP`) and only then forks its children, which so
//! share its private pages copy-on-write, as the originals did; unless a
//! mapping of the image lies where crctl has one.
//! Zombies are created and exit at once with their status. The launcher
//! (crctl itself) reads the image for the kernel (`CR_RESTART_COORDINATE`)
//! and then waits for the tree's root.
//!
//! An image of one single-threaded process goes the same way by default,
//! so that it gets its original pid back; it then stands in for the
//! exec-style restore it replaces: it keeps crctl's session and process
//! group, and crctl passes on the signals sent to it (see [`launch`]). If
//! its pid cannot be had, nothing has been created yet, and crctl falls
//! back to the exec-style restore.
//!
//! `libc` remains for what rustix does not offer a program that runs on a
//! C library: `fork`, `clone3` (with `set_tid`, and for threads), ending a
//! thread, and the signal mask and actions (rustix has those only in its
//! `runtime` module, for C library implementations).

use crate::error::{ErrnoText, Error, Result};
use crate::uapi;
use cr_image::format::TreeEntry;
use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitOptions};
use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

/// What crctl needs to know of each process before the kernel takes over.
#[derive(Default, Clone)]
pub struct ProcInfo {
    pub tgid: i32,
    pub cwd: Vec<u8>,
    pub specials: Vec<crate::Special>,
    /// Its credentials, which each of its tasks takes on before it joins.
    pub creds: crate::creds::Creds,
    /// Its CPU limit and CPU-time timers, which it sets before it joins.
    pub timers: crate::timers::Prep,
    /// The spans of its mappings but the kernel-provided ones.
    pub maps: Vec<(u64, u64)>,
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
fn fork_with_pid(pid: i32) -> std::io::Result<i32> {
    let tid = [pid];
    let args = CloneArgs {
        exit_signal: libc::SIGCHLD as u64,
        set_tid: tid.as_ptr() as u64,
        set_tid_size: 1,
        ..Default::default()
    };
    // SAFETY: clone3 without CLONE_VM is fork: the child gets a copy of
    // this (single-threaded) process and returns here with 0. rustix has
    // no clone3.
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
    let a = unsafe { &*(arg as *const JoinArgs<'_>) };
    if let Some(plan) = &a.creds {
        // A failure leaves credentials the kernel refuses by name.
        let _ = plan.apply();
    }
    join(a);
    // SAFETY: Ends this thread only (rustix has that only in its `runtime`
    // module).
    unsafe { libc::syscall(libc::SYS_exit, 1) };
    // exit(2) does not return.
    loop {
        std::hint::spin_loop();
    }
}

/// Creates a thread with tid `tid` sharing everything with this process,
/// running `thread_main(arg)` on a fresh stack.
fn spawn_thread(tid: i32, arg: usize) -> std::io::Result<()> {
    use rustix::mm::{mmap_anonymous, MapFlags, ProtFlags};
    const STACK: usize = 64 << 10;
    // SAFETY: A fresh anonymous mapping for the thread's stack, which
    // overlaps nothing (no address is asked for).
    let stack = unsafe {
        mmap_anonymous(
            std::ptr::null_mut(),
            STACK,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::PRIVATE,
        )
    }?;
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
struct JoinArgs<'fd> {
    dev: BorrowedFd<'fd>,
    image: RawFd,
    flags: u32,
    /// The calls that give the task its process's credentials, if it does
    /// not have them: each thread makes them itself (they change only the
    /// calling thread), with no allocation.
    creds: Option<crate::creds::Plan>,
}

/// Calls `CR_IOC_RESTART` with `CR_RESTART_JOIN`: on success this task is
/// the restored one and this does not return.
fn join(a: &JoinArgs<'_>) {
    let r = uapi::CrRestartArgs {
        size: std::mem::size_of::<uapi::CrRestartArgs>() as u32,
        flags: a.flags | uapi::CR_RESTART_JOIN,
        fd: a.image,
        logfd: -1,
        prefix: 0,
        prefix_len: 0,
        ..Default::default()
    };
    // Its error is the coordinator's to report.
    let _ = uapi::restart(a.dev, &r);
}

/// The fds a restart works with: /dev/cr, the image, and the log.
pub struct Fds<'fd> {
    pub dev: BorrowedFd<'fd>,
    pub image: BorrowedFd<'fd>,
    pub log: &'fd crate::LogFd,
    /// The objects made for the image (its pipes), which the coordinator
    /// hands over.
    pub objs: &'fd [uapi::CrRestartObj],
    /// Whether the image has epoll sets (made by a helper during the
    /// restart: see `crate::epoll`).
    pub epoll: bool,
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
fn become_process(t: &TreeInfo, i: usize, fds: &Fds<'_>, flags: u32) -> ! {
    let e = t.entries[i];
    let premap = flags & uapi::CR_RESTART_PREMAP != 0;
    let fail = |what: &dyn std::fmt::Display| -> ! {
        eprintln!("crctl: restoring pid {}: {what}", e.pid);
        // SAFETY: Plain exit.
        unsafe { libc::_exit(1) }
    };
    // An image of one process keeps crctl's session and group, as the
    // exec-style restore does: run from a shell, it stays in the
    // terminal's foreground job. A failure leaves a difference the kernel
    // refuses by name.
    if t.entries.len() == 1 {
        // crctl's session and group.
    } else if e.sid == e.pid {
        let _ = rustix::process::setsid();
    } else if e.pgid == e.pid {
        let _ = rustix::process::setpgid(None, None);
    } else if t.entries.iter().any(|x| x.pid == e.pgid) {
        let _ = rustix::process::setpgid(None, Pid::from_raw(e.pgid));
    }
    if premap {
        // The image's memory, mapped and filled now, before the children
        // are forked: they share its private pages copy-on-write.
        let r = uapi::CrRestartArgs {
            size: std::mem::size_of::<uapi::CrRestartArgs>() as u32,
            flags: uapi::CR_RESTART_JOIN | uapi::CR_RESTART_PREMAP,
            fd: fds.image.as_raw_fd(),
            logfd: -1,
            ..Default::default()
        };
        if uapi::restart(fds.dev, &r).is_err() {
            // The coordinator reports why.
            // SAFETY: Plain exit.
            unsafe { libc::_exit(1) }
        }
    }
    for (k, c) in t.entries.iter().enumerate() {
        if !c.is_leader() || c.ppid != e.pid || k == i || c.tgid == e.tgid {
            continue;
        }
        match fork_with_pid(c.pid) {
            Ok(0) if c.is_zombie() => exit_like(c.exit_code),
            Ok(0) => become_process(t, k, fds, flags),
            Ok(_) => {}
            Err(err) => fail(&format_args!("cannot create pid {}: {err}", c.pid)),
        }
    }
    let Some(p) = t.procs.iter().find(|p| p.tgid == e.pid) else {
        fail(&"not in the image")
    };
    // Decided while this process still has crctl's credentials, which its
    // threads are created with.
    let creds = crate::creds::Plan::new(&p.creds).unwrap_or_else(|e| fail(&e));
    let args = Box::leak(Box::new(JoinArgs {
        dev: fds.dev,
        image: fds.image.as_raw_fd(),
        flags: flags & !uapi::CR_RESTART_PREMAP,
        creds,
    }));
    for c in t
        .entries
        .iter()
        .filter(|c| c.tgid == e.tgid && !c.is_leader())
    {
        if let Err(err) = spawn_thread(c.pid, args as *const JoinArgs<'_> as usize) {
            fail(&format_args!("cannot create thread {}: {err}", c.pid));
        }
    }
    let cwd = CString::new(p.cwd.clone()).unwrap_or_default();
    if rustix::process::chdir(cwd.as_c_str()).is_err() {
        fail(&format_args!(
            "cannot change to {}",
            String::from_utf8_lossy(&p.cwd)
        ));
    }
    if let Err(err) = crate::place_vdso(&p.specials) {
        fail(&err);
    }
    if let Err(err) = p.timers.apply() {
        // The kernel refuses by name: it checks them.
        eprintln!(
            "crctl: restoring pid {}: cannot set its CPU limit or timers: {err}",
            e.pid
        );
    }
    if let Some(plan) = &args.creds {
        if let Err(err) = plan.apply() {
            // The kernel refuses by name: it checks them exactly.
            eprintln!(
                "crctl: restoring pid {}: cannot take on its credentials: {err}",
                e.pid
            );
        }
    }
    join(args);
    // The kernel refused before the point of no return: the coordinator
    // reports why.
    // SAFETY: Plain exit.
    unsafe { libc::_exit(1) }
}

/// Pid 1 of a new pid namespace: creates the root, reaps, exits like it.
fn init_of_namespace(t: &TreeInfo, fds: &Fds<'_>, flags: u32) -> ! {
    let root = t.entries[0];
    let pid = match fork_with_pid(root.pid) {
        Ok(0) => become_process(t, 0, fds, flags),
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
        // Reaps any child of this init.
        let status = match rustix::process::wait(WaitOptions::empty()) {
            Ok(Some((p, status))) if p.as_raw_nonzero().get() == pid => status.as_raw(),
            Ok(_) => continue,
            Err(_) => 0,
        };
        // SAFETY: Plain exit (the namespace's other processes are killed).
        unsafe { libc::_exit(exit_code(status)) }
    }
}

/// How to launch a restart.
pub struct Launch {
    /// Exit as soon as the tree is restored.
    pub detach: bool,
    /// Restore in a new pid namespace under a crctl init.
    pub pidns: bool,
    /// Say on stderr how the restart went.
    pub verbose: bool,
    /// `--stats`: the report to complete and print once the tree is
    /// restored, and crctl's clock.
    pub stats: Option<(crate::stats::Report, crate::stats::Clock)>,
}

/// What became of a launch.
pub enum Launched {
    /// Restored: crctl's exit status.
    Exit(i32),
    /// An image of one process whose pid cannot be had (why): nothing was
    /// created, the exec-style restore is still possible.
    PidUnavailable(String),
}

/// Capability bits of `CapEff` in /proc/self/status.
const CAP_SYS_ADMIN: u32 = 21;
const CAP_CHECKPOINT_RESTORE: u32 = 40;

/// Whether this process has `CAP_CHECKPOINT_RESTORE` or `CAP_SYS_ADMIN` in
/// its effective set, which `clone3()` with `set_tid` needs (over the user
/// namespace that owns the pid namespace: `clone3()` itself has the last
/// word). `None` if /proc does not say.
pub fn may_set_tid() -> Option<bool> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    cap_eff_allows_set_tid(&status)
}

/// [`may_set_tid`] on the text of a /proc/PID/status.
fn cap_eff_allows_set_tid(status: &str) -> Option<bool> {
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))?
        .trim();
    let caps = u64::from_str_radix(hex, 16).ok()?;
    Some(caps & (1 << CAP_CHECKPOINT_RESTORE | 1 << CAP_SYS_ADMIN) != 0)
}

/// Why `clone3()` could not give a process pid `pid`, for the fallback
/// line.
fn unavailable_reason(pid: i32, e: &std::io::Error) -> String {
    match Errno::from_io_error(e) {
        Some(Errno::EXIST) => format!("pid {pid} is taken"),
        Some(Errno::PERM) => {
            format!("no CAP_CHECKPOINT_RESTORE over this pid namespace to restore pid {pid}")
        }
        Some(errno) => format!("cannot create pid {pid} ({})", ErrnoText(errno)),
        None => format!("cannot create pid {pid} ({e})"),
    }
}

/// The signals crctl passes on to the restored process of a one-process
/// image while it waits for it: those a caller would have sent to an
/// exec-style restore, which was that process. Job control signals
/// (SIGTSTP, SIGTTIN, SIGTTOU) keep their default action: crctl stops with
/// its job, which the restored process is part of.
const FORWARDED: [libc::c_int; 9] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
    libc::SIGCONT,
    libc::SIGWINCH,
];

/// Whether a signal crctl got (as `siginfo`) is passed on to `pid`: one
/// sent by a process (`kill()`, `sigqueue()`, `tgkill()`: `si_code <= 0`)
/// other than `pid` itself. Signals of the kernel, such as the terminal's
/// SIGINT to its foreground group, reach the restored process directly:
/// it is in crctl's group.
fn passes_on(si_code: i32, sender: i32, pid: i32) -> bool {
    si_code <= 0 && sender != pid
}

/// Waits for the restored process `pid` of a one-process image, passing on
/// to it the [`FORWARDED`] signals crctl gets meanwhile. Returns its wait
/// status.
fn wait_passing_signals(pid: i32, old_mask: &libc::sigset_t) -> Result<i32> {
    // SAFETY: Plain signal-set and mask calls on valid sets.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in FORWARDED.iter().chain(&[libc::SIGCHLD]) {
            libc::sigaddset(&mut set, *s);
        }
        let mut mask = *old_mask;
        for s in FORWARDED.iter().chain(&[libc::SIGCHLD]) {
            libc::sigaddset(&mut mask, *s);
        }
        libc::sigprocmask(libc::SIG_SETMASK, &mask, std::ptr::null_mut());
        set
    };
    loop {
        // Polls our child, the restored process.
        match rustix::process::waitpid(Pid::from_raw(pid), WaitOptions::NOHANG) {
            Ok(Some((_, status))) => return Ok(status.as_raw()),
            Ok(None) | Err(Errno::INTR) => {}
            Err(e) => return Err(Error::Wait(e.into())),
        }
        // SAFETY: `info` is a valid out-parameter; `set` a valid set. The
        // timeout only bounds the wait should a SIGCHLD be lost.
        let (sig, info) = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let ts = libc::timespec {
                tv_sec: 1,
                tv_nsec: 0,
            };
            (libc::sigtimedwait(&set, &mut info, &ts), info)
        };
        if sig > 0 && sig != libc::SIGCHLD {
            // SAFETY: `info` was filled in by sigtimedwait() for `sig`.
            let sender = unsafe { info.si_pid() };
            if passes_on(info.si_code, sender, pid) {
                // SAFETY: Sends a signal to our child.
                unsafe { libc::kill(pid, sig) };
            }
        }
    }
}

/// crctl's exit status for a wait status: the exit code, or 128 plus the
/// signal that killed.
fn exit_code(status: i32) -> i32 {
    // WIFEXITED, WEXITSTATUS and WTERMSIG.
    if status & 0x7f == 0 {
        (status >> 8) & 0xff
    } else {
        128 + (status & 0x7f)
    }
}

/// Whether a mapping of the image lies where crctl has one (or cannot tell).
fn overlaps_crctl(t: &TreeInfo) -> bool {
    let Ok(own) = crate::own_ranges() else {
        return true;
    };
    t.procs
        .iter()
        .flat_map(|p| p.maps.iter())
        .any(|&(s, e)| own.iter().any(|&(os, oe)| s < oe && os < e))
}

/// The launcher: creates the tree, coordinates the restart, and waits for
/// the root (unless `detach`). Returns the exit status for crctl, or, for
/// an image of one process (without `pidns`) whose pid cannot be had,
/// [`Launched::PidUnavailable`] before anything was created.
///
/// An image of one process is restored as a tree of one, with these
/// differences, which make it behave as the exec-style restore did: it
/// keeps crctl's session and process group, crctl gives up its own stdin
/// and stdout once it is restored, and (without `pidns`) crctl passes on to
/// it the signals sent to crctl while it waits.
pub fn launch(
    t: &TreeInfo,
    fds: &Fds<'_>,
    prefix: &[u8],
    flags: u32,
    how: &Launch,
) -> Result<Launched> {
    let root = t.entries[0];
    let single = t.entries.len() == 1;
    if single {
        // What the process checks before it joins, checked here first (it
        // is a copy of crctl): a failure there would leave the coordinator
        // waiting for it until the step's timeout, and exec-style would
        // fail just the same.
        let p = t
            .procs
            .iter()
            .find(|p| p.tgid == root.pid)
            .ok_or(Error::NoProcess)?;
        crate::enter_cwd(&p.cwd)?;
        crate::check_vdso(&p.specials)?;
    }
    if single && !how.pidns && may_set_tid() == Some(false) {
        return Ok(Launched::PidUnavailable(format!(
            "no CAP_CHECKPOINT_RESTORE to restore pid {}",
            root.pid
        )));
    }
    // Several processes: each maps its memory before its children are
    // forked, so that they share its pages as they did, unless a mapping
    // of the image lies where crctl has one (their pages are then copied).
    let flags = if t.procs.len() > 1 && !overlaps_crctl(t) {
        flags | uapi::CR_RESTART_PREMAP
    } else {
        if t.procs.len() > 1 && how.verbose {
            eprintln!("crctl: restart: crctl's memory lies where the image has some: pages the processes shared copy-on-write are restored as copies");
        }
        flags
    };
    // A SIGCHLD ignored by whoever ran crctl would reap the root unseen.
    // SAFETY: Restores the default action of SIGCHLD.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
    let old_mask = block_signals();
    let pid = if how.pidns {
        // A new pid namespace: its init (pid 1) is crctl, which creates the
        // tree's root with its original pid inside, reaps orphans, and exits
        // with the root's status.
        if root.pid == 1 {
            return Err(Error::RootIsInit);
        }
        // SAFETY: Affects only the children created from now on; crctl has
        // no other thread, which could be confused by it.
        unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWPID) }
            .map_err(|e| Error::Unshare(e.into()))?;
        // SAFETY: fork in a single-threaded process (see `crate::log_fd`).
        match unsafe { libc::fork() } {
            0 => init_of_namespace(t, fds, flags),
            p if p > 0 => p,
            _ => return Err(Error::Fork(std::io::Error::last_os_error())),
        }
    } else {
        match fork_with_pid(root.pid) {
            Ok(0) => become_process(t, 0, fds, flags),
            Ok(p) => p,
            Err(e) if single => {
                // Nothing was created: the caller can still restore it
                // exec-style, with the mask it had.
                // SAFETY: Installs the saved mask.
                unsafe { libc::sigprocmask(libc::SIG_SETMASK, &old_mask, std::ptr::null_mut()) };
                return Ok(Launched::PidUnavailable(unavailable_reason(root.pid, &e)));
            }
            Err(source) => {
                return Err(Error::CreateRoot {
                    pid: root.pid,
                    source,
                })
            }
        }
    };
    // The kernel opens the tree's files as the coordinator, which must
    // therefore have the processes' credentials too: now that every task
    // is created, crctl takes them on when the processes share one set
    // (otherwise the kernel refuses by name).
    if let Some(first) = t.procs.first().map(|p| &p.creds) {
        if t.procs.iter().all(|p| p.creds == *first) {
            if let Some(plan) = crate::creds::Plan::new(first)? {
                if let Err(e) = plan.apply() {
                    eprintln!("crctl: restart: cannot take on the image's credentials: {e}");
                }
            }
        }
    }
    let a = uapi::CrRestartArgs {
        size: std::mem::size_of::<uapi::CrRestartArgs>() as u32,
        flags: uapi::CR_RESTART_COORDINATE
            | (flags & (uapi::CR_RESTART_STOPPED | uapi::CR_RESTART_PREMAP)),
        fd: fds.image.as_raw_fd(),
        logfd: fds.log.raw(),
        prefix: prefix.as_ptr() as u64,
        prefix_len: prefix.len() as u64,
        objs: fds.objs.as_ptr() as u64,
        nr_objs: fds.objs.len() as u32,
        pad: 0,
    };
    if fds.epoll {
        crate::epoll::spawn_helper(fds.dev)?;
    }
    let k0 = crate::stats::mono();
    let r = uapi::restart(fds.dev, &a);
    let k1 = crate::stats::mono();
    let forward = single && !how.pidns && !how.detach;
    if !forward {
        // The launcher itself is interruptible again (the tree has its masks).
        // SAFETY: Installs the saved mask.
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, &old_mask, std::ptr::null_mut()) };
    }
    let root_pid = Pid::from_raw(pid).expect("a child's pid is positive");
    if let Err(e) = r {
        // Kills what is left of the tree (its tasks exit by themselves when
        // the kernel refused before the point of no return).
        let _ = rustix::process::kill_process(root_pid, Signal::KILL);
        return Err(Error::Restart(ErrnoText(e)));
    }
    if let Some((rep, clock)) = &how.stats {
        crate::stats::Report {
            total: k1.saturating_sub(clock.start),
            prepare: k0.saturating_sub(clock.start),
            kernel: k1.saturating_sub(k0),
            how: Some(if how.pidns {
                "with the original pids, in a new pid namespace"
            } else {
                "with the original pids"
            }),
            ..rep.clone()
        }
        .print();
    }
    if how.verbose {
        let ns = if how.pidns {
            " in a new pid namespace"
        } else {
            ""
        };
        if single {
            eprintln!(
                "crctl: restart: pid {} restored with its original pid{ns}",
                root.pid
            );
        } else {
            eprintln!(
                "crctl: restart: {} tasks restored with their original pids{ns} (root pid {})",
                t.entries.len(),
                root.pid
            );
        }
    }
    if single {
        // The restored process's stdin and stdout are its own now: a
        // reader of its stdout sees the end of file when it closes it, as
        // after an exec-style restore. stderr stays, for crctl's messages.
        // crctl no longer uses its fds 0 and 1 (the image has been read).
        use rustix::fs::{open, Mode, OFlags};
        if let Ok(null) = open(c"/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()) {
            let _ = rustix::stdio::dup2_stdin(&null);
            let _ = rustix::stdio::dup2_stdout(&null);
        }
    }
    if how.detach {
        return Ok(Launched::Exit(0));
    }
    let status = if forward {
        wait_passing_signals(pid, &old_mask)?
    } else {
        // Waits for our child, the root.
        match rustix::process::waitpid(Some(root_pid), WaitOptions::empty()) {
            Ok(Some((_, status))) => status.as_raw(),
            Ok(None) => 0,
            Err(e) => return Err(Error::Wait(e.into())),
        }
    };
    Ok(Launched::Exit(exit_code(status)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_eff() {
        let s = |eff: &str| {
            format!("Name:\tcrctl\nCapInh:\t0000000000000000\nCapEff:\t{eff}\nCapBnd:\t000001ffffffffff\n")
        };
        assert_eq!(cap_eff_allows_set_tid(&s("000001ffffffffff")), Some(true));
        assert_eq!(cap_eff_allows_set_tid(&s("0000010000000000")), Some(true));
        assert_eq!(cap_eff_allows_set_tid(&s("0000000000200000")), Some(true));
        assert_eq!(cap_eff_allows_set_tid(&s("0000000000000000")), Some(false));
        // CAP_SYS_PTRACE alone is not enough.
        assert_eq!(cap_eff_allows_set_tid(&s("0000000000080000")), Some(false));
        assert_eq!(cap_eff_allows_set_tid("Name:\tx\n"), None);
        assert_eq!(cap_eff_allows_set_tid("CapEff:\tzz\n"), None);
    }

    #[test]
    fn reasons() {
        let e = |n: Errno| std::io::Error::from(n);
        assert_eq!(unavailable_reason(42, &e(Errno::EXIST)), "pid 42 is taken");
        assert!(unavailable_reason(42, &e(Errno::PERM)).starts_with("no CAP_CHECKPOINT_RESTORE"));
        assert!(unavailable_reason(42, &e(Errno::INVAL)).contains("(EINVAL)"));
    }

    #[test]
    fn passing_on() {
        // kill() by another process: passed on.
        assert!(passes_on(0, 100, 42));
        // sigqueue(), tgkill().
        assert!(passes_on(-1, 100, 42));
        assert!(passes_on(-6, 100, 42));
        // The restored process itself (kill(0, sig)): it has it already.
        assert!(!passes_on(0, 42, 42));
        // The kernel (a terminal's ^C to the foreground group).
        assert!(!passes_on(0x80, 0, 42));
    }

    #[test]
    fn codes() {
        assert_eq!(exit_code(3 << 8), 3);
        assert_eq!(exit_code(libc::SIGKILL), 128 + libc::SIGKILL);
    }
}
