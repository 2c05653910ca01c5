// SPDX-License-Identifier: GPL-2.0

//! crctl: the userspace companion of the cr checkpoint/restart module.

mod creds;
mod epoll;
mod error;
mod evfd;
mod image;
mod info;
mod json;
mod memfd;
mod pipes;
mod stats;
mod timers;
mod tree;
mod uapi;

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use cr_image::format::{Record, VmaKind};
use rustix::io::Errno;

use crate::error::{ErrnoText, Error, Result};

/// What `--version` prints: crctl's version and the image format it reads
/// and writes.
static VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{} (image format {})",
        env!("CARGO_PKG_VERSION"),
        cr_image::format::FORMAT_VERSION
    )
});

/// Checkpoint and restart Linux processes with the cr module (/dev/cr).
#[derive(Parser, Debug)]
#[command(name = "crctl", version = VERSION.as_str(), arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Checkpoint(CheckpointArgs),
    Restart(RestartArgs),
    Info(InfoArgs),
    InfoModule(InfoModuleArgs),
}

/// Write an image of process PID and its descendants to a file or stdout.
///
/// The image goes to FILE (default: PID.img), or to stdout with '-o -'. The
/// processes keep running, untouched, unless --kill is given: then they are
/// killed once the image is complete. Reasons for a failure or refusal go
/// to stderr, or to FILE with --log. When the tree changes under the
/// checkpoint (EAGAIN) and the image goes to a regular file, crctl tries
/// again, up to 5 times.
#[derive(Args, Debug)]
#[command(args_override_self = true)]
struct CheckpointArgs {
    /// Kill the processes once the image is complete.
    #[arg(long)]
    kill: bool,
    /// Append the kernel's log lines to FILE instead of stderr.
    #[arg(long, value_name = "FILE")]
    log: Option<String>,
    /// Where the image goes ('-' for stdout); default PID.img.
    #[arg(short = 'o', long = "output", value_name = "FILE|-")]
    output: Option<String>,
    /// Record the anonymous pipe pipe:[INO] (as /proc/PID/fd shows it),
    /// whose other end is outside the tree, as an external object instead
    /// of refusing it: `restart --inherit-fd FD:pipe:[INO]` then gives it
    /// a pipe. Repeatable.
    #[arg(long = "external", value_name = "pipe:[INO]", value_parser = pipes::parse_external)]
    external: Vec<u64>,
    /// Print on stderr where the time went (total, in the kernel, which
    /// bounds the time the tree was frozen), tasks, pages, bytes and
    /// throughput.
    #[arg(long)]
    stats: bool,
    /// The process (the root of the tree) to checkpoint.
    #[arg(value_parser = parse_pid)]
    pid: i32,
}

/// Restore the program(s) saved in an image.
///
/// The image is FILE, or stdin with '-i -' (the default). crctl recreates
/// every process and thread with its original pid (needs
/// CAP_CHECKPOINT_RESTORE and the pids free), waits for the restored root
/// and exits with its status (128 + the signal if one killed it). fds 0-2
/// that were a terminal or a pipe are crctl's own.
///
/// An image of one single-threaded process keeps crctl's session and
/// process group, and (without --pidns) gets the signals sent to crctl. If
/// its pid cannot be had (taken, or no CAP_CHECKPOINT_RESTORE), crctl says
/// so and becomes the program, like exec, which then has crctl's pid;
/// --new-pid chooses that without the warning.
#[derive(Args, Debug)]
#[command(args_override_self = true)]
struct RestartArgs {
    /// Every restored task starts stopped (SIGSTOP).
    #[arg(long)]
    stopped: bool,
    /// Return as soon as the tree is restored, without waiting for it.
    #[arg(long)]
    detach: bool,
    /// Restore in a new pid namespace under a crctl init (pid 1), so the
    /// original pids are free even while the originals run.
    #[arg(long, conflicts_with = "new_pid")]
    pidns: bool,
    /// Restore one single-threaded process exec-style, with crctl's pid.
    #[arg(long)]
    new_pid: bool,
    /// Say how it was restored.
    #[arg(short, long)]
    verbose: bool,
    /// Append the kernel's log lines to FILE instead of stderr.
    #[arg(long, value_name = "FILE")]
    log: Option<String>,
    /// Use crctl's fd FD for the image's external pipe pipe:[INO]
    /// (`checkpoint --external`): each description of it is opened anew
    /// from FD's pipe. Repeatable.
    #[arg(long = "inherit-fd", value_name = "FD:pipe:[INO]", value_parser = pipes::parse_inherit)]
    inherit_fd: Vec<(i32, u64)>,
    /// Print on stderr where the time went (total, reading the metadata
    /// and creating the tasks, in the kernel), tasks, pages, bytes and
    /// throughput, once the tree is restored.
    #[arg(long)]
    stats: bool,
    /// The image ('-' for stdin).
    #[arg(
        short = 'i',
        long = "input",
        value_name = "FILE|-",
        default_value = "-"
    )]
    input: String,
}

/// Decode and validate an image without the kernel.
///
/// Uses the validator the kernel runs, and names the first bad byte of a
/// broken image. --json prints one JSON object (see
/// Documentation/cr/crctl.rst for its schema).
#[derive(Args, Debug)]
#[command(args_override_self = true)]
pub(crate) struct InfoArgs {
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// The image ('-' for stdin).
    #[arg(value_name = "FILE|-")]
    pub(crate) file: String,
}

/// What the loaded cr module reports (version, image format, features).
#[derive(Args, Debug)]
struct InfoModuleArgs {}

fn parse_pid(s: &str) -> core::result::Result<i32, Error> {
    s.parse().map_err(|_| Error::NotAPid(s.to_string()))
}

fn main() -> ExitCode {
    let clock = stats::Clock::new();
    let cli = Cli::parse();
    let result: anyhow::Result<()> = match cli.command {
        Command::Checkpoint(a) => checkpoint(&a, clock).map_err(Into::into),
        Command::Restart(a) => restart(&a, clock).map_err(Into::into),
        Command::Info(a) => info::run(&a).map_err(Into::into),
        Command::InfoModule(_) => info_module().map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crctl: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Opens /dev/cr with a message that says what to do when it is missing.
fn open_device() -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(uapi::CR_DEVICE)
        .map_err(|e| match Errno::from_io_error(&e) {
            Some(Errno::NOENT) => Error::NoDevice,
            _ => Error::Open {
                path: uapi::CR_DEVICE.into(),
                source: e,
            },
        })
}

/// Opens a file named on the command line, saying which on failure.
fn open_named(path: &str, o: &OpenOptions) -> Result<File> {
    o.open(path).map_err(|source| Error::Open {
        path: path.into(),
        source,
    })
}

/// Where the kernel writes its log lines: crctl's stderr, or an fd crctl
/// keeps open for as long as it runs.
pub(crate) enum LogFd {
    Stderr,
    Owned(OwnedFd),
}

impl LogFd {
    /// The fd number for the ioctl's `logfd`.
    pub(crate) fn raw(&self) -> RawFd {
        match self {
            LogFd::Stderr => std::io::stderr().as_raw_fd(),
            LogFd::Owned(fd) => fd.as_raw_fd(),
        }
    }
}

/// The log fd: FILE (appended to) with --log; otherwise a pipe whose other
/// end a relay process copies to stderr. The kernel writes log lines with
/// kernel_write(), which not every kind of stderr supports (a virtio
/// console does not), and a pipe always does. The relay is a grandchild, so
/// that neither crctl nor a restored program ever sees it as a child.
fn log_fd(log: Option<&str>) -> Result<LogFd> {
    if let Some(p) = log {
        let f = open_named(p, OpenOptions::new().append(true).create(true))?;
        return Ok(LogFd::Owned(f.into()));
    }
    let Ok((rd, wr)) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) else {
        return Ok(LogFd::Stderr);
    };
    // SAFETY: fork() in a single-threaded process (rustix has no fork for
    // programs that run on a C library, which must run its atfork hooks).
    match unsafe { libc::fork() } {
        0 => {
            // SAFETY: As above; the child only forks the relay and exits.
            if unsafe { libc::fork() } != 0 {
                // SAFETY: Exits the intermediate child without running
                // crctl's exit handlers (rustix has `_exit` only for C
                // library implementations).
                unsafe { libc::_exit(0) };
            }
            drop(wr);
            relay(rd.as_fd());
            // SAFETY: As above, for the relay.
            unsafe { libc::_exit(0) }
        }
        child if child > 0 => {
            // Reaps the intermediate child; nothing to do if that fails.
            let _ = rustix::process::waitpid(
                rustix::process::Pid::from_raw(child),
                rustix::process::WaitOptions::empty(),
            );
            Ok(LogFd::Owned(wr))
        }
        _ => Ok(LogFd::Stderr),
    }
}

/// Copies `from` to stderr until the end of file.
fn relay(from: BorrowedFd<'_>) {
    let mut buf = [0u8; 4096];
    let err = std::io::stderr();
    loop {
        match rustix::io::read(from, &mut buf) {
            Ok(0) => return,
            Ok(n) => {
                let _ = rustix::io::write(err.as_fd(), &buf[..n]);
            }
            Err(Errno::INTR) => {}
            Err(_) => return,
        }
    }
}

fn checkpoint(o: &CheckpointArgs, clock: stats::Clock) -> Result<()> {
    let pid = o.pid;
    let dev = open_device()?;
    let logfd = log_fd(o.log.as_deref())?;
    let default_out = format!("{pid}.img");
    let out_path = o.output.as_deref().unwrap_or(&default_out);
    let file = if out_path == "-" {
        None
    } else {
        Some(open_named(
            out_path,
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600),
        )?)
    };
    let stdout = std::io::stdout();
    let out = file.as_ref().map_or(stdout.as_fd(), |f| f.as_fd());
    let a = uapi::CrCheckpointArgs {
        size: core::mem::size_of::<uapi::CrCheckpointArgs>() as u32,
        flags: if o.kill { uapi::CR_CHECKPOINT_KILL } else { 0 },
        pid,
        fd: out.as_raw_fd(),
        logfd: logfd.raw(),
        pad: 0,
        external_pipes: o.external.as_ptr() as u64,
        nr_external_pipes: o.external.len() as u32,
        pad1: 0,
    };
    // A tree that changed under the checkpoint (a task exec'd, or kept
    // forking) fails with EAGAIN: try again, as long as the image can be
    // rewritten from its start (a regular file, not a pipe).
    let rewindable = regular_file_at_start(out);
    let start_off = stats::regular_offset(out);
    let prepare = clock.elapsed();
    let mut kernel = std::time::Duration::ZERO;
    let mut tries = 1;
    let r = loop {
        let k0 = stats::mono();
        let r = uapi::checkpoint(dev.as_fd(), &a);
        kernel += stats::mono().saturating_sub(k0);
        let again = r == Err(Errno::AGAIN);
        if !again || !rewindable || tries >= CHECKPOINT_TRIES || !rewind(out) {
            break r;
        }
        eprintln!("crctl: the tree changed during the checkpoint; trying again ({tries}/{CHECKPOINT_TRIES})");
        std::thread::sleep(std::time::Duration::from_millis(50 * tries as u64));
        tries += 1;
    };
    if let Err(errno) = r {
        if file.is_some() {
            let _ = std::fs::remove_file(out_path);
        }
        return Err(Error::Checkpoint {
            pid,
            errno: ErrnoText(errno),
        });
    }
    if o.stats {
        let total = clock.elapsed();
        // After a retry the image starts at 0 (rewound).
        let start = if tries > 1 { Some(0) } else { start_off };
        let end = stats::regular_offset(out);
        let counts = start.and_then(|s| stats::written_counts(out, s));
        stats::Report {
            what: "checkpoint",
            total,
            prepare,
            kernel,
            tries,
            tasks: counts.map(|c| c.0),
            processes: counts.map(|c| c.1),
            pages: counts.map(|c| c.2),
            page_size: counts.map_or(4096, |c| c.3),
            bytes: start.zip(end).map(|(s, e)| e.saturating_sub(s)),
            how: None,
        }
        .print();
    }
    Ok(())
}

/// How many times `crctl checkpoint` tries when the kernel says EAGAIN.
const CHECKPOINT_TRIES: u32 = 5;

/// Whether `fd` is a regular file at offset 0, which a failed checkpoint
/// can be rewritten into.
fn regular_file_at_start(fd: BorrowedFd<'_>) -> bool {
    use rustix::fs::{fstat, seek, FileType, SeekFrom};
    fstat(fd).is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::RegularFile)
        && seek(fd, SeekFrom::Current(0)) == Ok(0)
}

/// Empties the image file `fd` and moves back to its start.
fn rewind(fd: BorrowedFd<'_>) -> bool {
    use rustix::fs::{ftruncate, seek, SeekFrom};
    ftruncate(fd, 0).is_ok() && seek(fd, SeekFrom::Start(0)) == Ok(0)
}

/// A special mapping's range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Special {
    kind: VmaKind,
    start: u64,
    end: u64,
}

/// The special mappings of this process, from /proc/self/maps.
fn own_specials() -> Result<Vec<Special>> {
    let maps = std::fs::read_to_string("/proc/self/maps").map_err(Error::Maps)?;
    let mut v = vec![];
    for line in maps.lines() {
        let name = line.split_whitespace().nth(5).unwrap_or("");
        let kind = match name {
            "[vdso]" => VmaKind::Vdso,
            "[vvar]" => VmaKind::Vvar,
            "[vvar_vclock]" => VmaKind::VvarVclock,
            _ => continue,
        };
        let range = line.split_whitespace().next().unwrap_or("");
        let (s, e) = range.split_once('-').ok_or(Error::MapsLine)?;
        v.push(Special {
            kind,
            start: u64::from_str_radix(s, 16)?,
            end: u64::from_str_radix(e, 16)?,
        });
    }
    Ok(v)
}

/// All mappings of this process, as ranges.
pub(crate) fn own_ranges() -> Result<Vec<(u64, u64)>> {
    let maps = std::fs::read_to_string("/proc/self/maps").map_err(Error::Maps)?;
    let mut v = vec![];
    for line in maps.lines() {
        let range = line.split_whitespace().next().unwrap_or("");
        if let Some((s, e)) = range.split_once('-') {
            v.push((
                u64::from_str_radix(s, 16).unwrap_or(0),
                u64::from_str_radix(e, 16).unwrap_or(0),
            ));
        }
    }
    Ok(v)
}

/// `ARCH_MAP_VDSO_64` of `arch_prctl(2)`.
const ARCH_MAP_VDSO_64: libc::c_int = 0x2003;

/// Moves [vvar]/[vdso] to where the image has them: the restored program
/// holds pointers into them, and only user space can place them.
pub(crate) fn place_vdso(want: &[Special]) -> Result<()> {
    let Some((have, lo)) = vdso_move(want)? else {
        return Ok(());
    };
    for h in &have {
        // SAFETY: Unmaps only the kernel-provided [vvar]/[vdso]; nothing in
        // crctl calls into the vdso until the restore replaces everything.
        let _ = unsafe { rustix::mm::munmap(h.start as *mut _, (h.end - h.start) as usize) };
    }
    // SAFETY: A plain system call with integer arguments, which rustix
    // does not have. It returns the vdso size on success.
    let r = unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_MAP_VDSO_64, lo) };
    if r < 0 {
        return Err(Error::MapVdso {
            at: lo,
            source: std::io::Error::last_os_error(),
        });
    }
    let now = own_specials()?;
    if now != want {
        return Err(Error::VdsoLanded {
            now,
            want: want.to_vec(),
        });
    }
    Ok(())
}

/// Whether [`place_vdso`] can move this process's [vvar]/[vdso] where the
/// image has them (and so in a child forked now): the reason if not.
pub(crate) fn check_vdso(want: &[Special]) -> Result<()> {
    vdso_move(want).map(|_| ())
}

/// The move [`place_vdso`] has to make: `None` if the vdso is in place
/// already, else the special mappings to unmap and the new start.
fn vdso_move(want: &[Special]) -> Result<Option<(Vec<Special>, u64)>> {
    let have = own_specials()?;
    if have == want {
        return Ok(None);
    }
    let (Some(lo), Some(hi)) = (
        want.iter().map(|s| s.start).min(),
        want.iter().map(|s| s.end).max(),
    ) else {
        return Err(Error::NoVdso);
    };
    let size = |v: &[Special]| v.iter().map(|s| s.end - s.start).sum::<u64>();
    if size(&have) != size(want) || have.len() != want.len() {
        return Err(Error::VdsoSize);
    }
    for (s, e) in own_ranges()? {
        let special = have.iter().any(|h| h.start == s);
        if !special && s < hi && lo < e {
            return Err(Error::VdsoCollides { lo, hi, s, e });
        }
    }
    Ok(Some((have, lo)))
}

/// Changes to the image's working directory `cwd`, which the restored
/// process must have.
pub(crate) fn enter_cwd(cwd: &[u8]) -> Result<()> {
    let cwd_c = CString::new(cwd).map_err(|_| Error::BadCwd)?;
    rustix::process::chdir(cwd_c.as_c_str()).map_err(|e| Error::Cwd {
        cwd: cwd.to_vec(),
        source: e.into(),
    })
}

fn restart(o: &RestartArgs, clock: stats::Clock) -> Result<()> {
    let pidns = o.pidns;
    let new_pid = o.new_pid;
    let verbose = o.verbose;
    let dev = open_device()?;
    let logfd = log_fd(o.log.as_deref())?;
    let in_path = o.input.as_str();
    let file = if in_path == "-" {
        None
    } else {
        Some(open_named(in_path, OpenOptions::new().read(true))?)
    };
    let stdin = std::io::stdin();
    let input = file.as_ref().map_or(stdin.as_fd(), |f| f.as_fd());
    // What the kernel will have read: the rest of a regular file.
    let image_bytes = stats::regular_left(input);
    let mut total_pages = None;

    // Read (and validate) the metadata prefix, exactly up to the end of the
    // meta-end record, so the kernel continues from the fd where we stop.
    let mut w = image::Walker::new(input, true);
    w.magic()?;
    let mut t = tree::TreeInfo {
        entries: vec![],
        procs: vec![],
    };
    let mut pipes = vec![];
    let mut external = vec![];
    let mut deleted_fifos = vec![];
    let mut evfds = vec![];
    let mut inotifies = vec![];
    let mut memfds = vec![];
    let mut epolls = false;
    while let Some((_, rec, _)) = w.next()? {
        match rec {
            Record::Pipe(p) if p.is_external() => external.push((p.head.id, p.head.ino)),
            Record::Pipe(p) if p.is_deleted() => {
                deleted_fifos.push((p.head.id, p.head.capacity, p.path.to_vec(), p.head.mode))
            }
            Record::Memfd(m) => memfds.push(memfd::MemfdRec {
                id: m.id,
                name: m.name.to_vec(),
                size: m.size,
            }),
            Record::Eventfd(r) => evfds.push(evfd::EvRec::Eventfd(r)),
            Record::Timerfd(r) => evfds.push(evfd::EvRec::Timerfd(r)),
            Record::Signalfd(r) => evfds.push(evfd::EvRec::Signalfd(r)),
            Record::Pipe(p) => pipes.push((p.head.id, p.head.capacity, p.path.to_vec())),
            Record::Inotify(i) => inotifies.push(epoll::InotifyRec {
                id: i.id,
                next_wd: i.next_wd,
                watches: vec![],
            }),
            Record::Epoll(_) => epolls = true,
            Record::InotifyWatch(w) => {
                if let Some(i) = inotifies.last_mut() {
                    i.watches.push((w.head.wd, w.head.mask, w.path.to_vec()));
                }
            }
            Record::Tree(tr) => t.entries = (0..tr.len()).map(|i| tr.get(i)).collect(),
            Record::Task(task) => t.procs.push(tree::ProcInfo {
                tgid: task.tgid,
                creds: creds::Creds::of(&task, &[]),
                ..Default::default()
            }),
            Record::Groups(g) => {
                if let Some(pi) = t.procs.last_mut() {
                    pi.creds.groups = (0..g.len()).map(|i| g.get(i)).collect();
                }
            }
            Record::Cwd(p) => {
                if let Some(pi) = t.procs.last_mut() {
                    pi.cwd = p.to_vec();
                }
            }
            Record::Rlimits(r) => {
                if let Some(pi) = t.procs.last_mut() {
                    pi.timers.rlimits(&r);
                }
            }
            Record::Itimers(it) => {
                if let Some(pi) = t.procs.last_mut() {
                    pi.timers.itimers(&it);
                }
            }
            Record::PosixTimer(pt) => {
                if let Some(pi) = t.procs.last_mut() {
                    pi.timers.posix_timer(&pt);
                }
            }
            Record::Vma(v, _) if v.kind.is_special() => {
                if let Some(pi) = t.procs.last_mut() {
                    pi.specials.push(Special {
                        kind: v.kind,
                        start: v.start,
                        end: v.end,
                    });
                }
            }
            Record::Vma(v, _) => {
                if let Some(pi) = t.procs.last_mut() {
                    pi.maps.push((v.start, v.end));
                }
            }
            Record::MetaEnd(m) => {
                total_pages = Some(m.total_pages);
                break;
            }
            _ => {}
        }
    }
    let page_size = w.page_size();
    let prefix = w.keep.take().unwrap_or_default();
    let mut pipes = pipes::Pipes::make(&pipes)?;
    pipes.inherit(&external, &o.inherit_fd)?;
    pipes.deleted_fifos(&deleted_fifos)?;
    let inotifies = epoll::Inotifies::make(&inotifies)?;
    pipes.objs.extend_from_slice(&inotifies.objs);
    let memfds = memfd::Memfds::make(&memfds)?;
    pipes.objs.extend_from_slice(&memfds.objs);
    // Made last, just before the kernel takes them: a timer runs from here.
    let evfds = evfd::Evfds::make(&evfds)?;
    pipes.objs.extend_from_slice(&evfds.objs);
    let flags = if o.stopped {
        uapi::CR_RESTART_STOPPED
    } else {
        0
    };
    let Some(root) = t.entries.first().copied() else {
        return Err(Error::NoProcess);
    };
    // One single-threaded process (no other process, no zombie): the only
    // kind of image that can also be restored exec-style.
    let single = t.entries.len() == 1;
    if new_pid && !single {
        return Err(Error::NewPidTree(t.entries.len()));
    }
    let me = rustix::process::getpid().as_raw_nonzero().get();
    let report = o.stats.then(|| stats::Report {
        what: "restart",
        tasks: Some(t.entries.len()),
        processes: Some(t.procs.len()),
        pages: total_pages,
        page_size,
        bytes: image_bytes,
        ..Default::default()
    });

    // A tree, and by default one process too, through the tree machinery,
    // with the original pids; a process whose pid is crctl's own gets it
    // exec-style as well.
    if !single || pidns || (!new_pid && root.pid != me) {
        let how = tree::Launch {
            detach: o.detach,
            pidns,
            verbose,
            stats: report.clone().map(|r| (r, clock)),
        };
        let fds = tree::Fds {
            dev: dev.as_fd(),
            image: input,
            log: &logfd,
            objs: &pipes.objs,
            epoll: epolls,
        };
        match tree::launch(&t, &fds, &prefix, flags, &how)? {
            tree::Launched::Exit(code) => std::process::exit(code),
            tree::Launched::PidUnavailable(why) => eprintln!(
                "crctl: restart: {why}: restoring as pid {me} (exec-style); --new-pid to choose this without the warning"
            ),
        }
    } else if verbose && root.pid == me {
        eprintln!(
            "crctl: restart: pid {me} restored with its original pid (crctl's own, exec-style)"
        );
    } else if verbose {
        eprintln!(
            "crctl: restart: pid {} restored as pid {me} (exec-style, --new-pid)",
            root.pid
        );
    }

    // Exec-style: become it, in place.
    let p = t.procs.first().ok_or(Error::NoProcess)?;
    // Started before crctl takes on the image's limits, credentials and
    // vdso, which the watcher keeps out of.
    let watch = report.as_ref().and_then(|r| {
        let r = stats::Report {
            how: Some("exec-style"),
            ..r.clone()
        };
        stats::ExecWatch::start(&r, clock)
    });
    enter_cwd(&p.cwd)?;
    if let Err(e) = p.timers.apply() {
        // The kernel refuses by name: it checks them.
        eprintln!("crctl: restart: cannot set the image's CPU limit or timers: {e}");
    }
    if let Some(plan) = creds::Plan::new(&p.creds)? {
        if let Err(e) = plan.apply() {
            // The kernel refuses by name: it checks them exactly.
            eprintln!("crctl: restart: cannot take on the image's credentials: {e}");
        }
    }
    place_vdso(&p.specials)?;

    let a = uapi::CrRestartArgs {
        size: core::mem::size_of::<uapi::CrRestartArgs>() as u32,
        flags,
        fd: input.as_raw_fd(),
        logfd: logfd.raw(),
        prefix: prefix.as_ptr() as u64,
        prefix_len: prefix.len() as u64,
        objs: pipes.objs.as_ptr() as u64,
        nr_objs: pipes.objs.len() as u32,
        pad: 0,
    };
    if let Some(w) = &watch {
        w.ioctl_starts();
    }
    // On success this does not return: this process is the restored
    // program.
    if let Err(e) = uapi::restart(dev.as_fd(), &a) {
        // Only raw system calls from here: the vdso may have moved.
        if let Some(w) = &watch {
            w.failed();
        }
        let msg = format!("crctl: {}\n", Error::Restart(ErrnoText(e)));
        let _ = rustix::io::write(std::io::stderr().as_fd(), msg.as_bytes());
        // SAFETY: Exits without running anything that may use the vdso
        // (rustix has `_exit` only for C library implementations).
        unsafe { libc::_exit(1) };
    }
    Err(Error::RestartReturned)
}

fn query_info() -> Result<uapi::CrInfo> {
    let dev = open_device()?;
    let mut info = uapi::CrInfo {
        size: core::mem::size_of::<uapi::CrInfo>() as u32,
        ..Default::default()
    };
    uapi::info(dev.as_fd(), &mut info).map_err(|e| match e {
        Errno::NOTTY => Error::InfoTooOld,
        e => Error::Info(e.into()),
    })?;
    Ok(info)
}

fn info_module() -> Result<()> {
    let info = query_info()?;
    println!(
        "module version: {}",
        uapi::version_string(info.module_version)
    );
    println!("image format:   {}", info.format_version);
    println!("page size:      {}", info.page_size);
    println!(
        "features:       {}",
        uapi::feature_names(info.features).join(" ")
    );
    if info.format_version != cr_image::format::FORMAT_VERSION {
        println!(
            "warning: crctl speaks image format {}, the module format {}",
            cr_image::format::FORMAT_VERSION,
            info.format_version
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> core::result::Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("crctl").chain(args.iter().copied()))
    }

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_form_the_tests_use_parses() {
        let Command::Checkpoint(c) = parse(&["checkpoint", "--kill", "-o", "-", "42"])
            .unwrap()
            .command
        else {
            panic!()
        };
        assert!(c.kill && c.output.as_deref() == Some("-") && c.pid == 42);
        let Command::Checkpoint(c) = parse(&["checkpoint", "-o", "x.img", "--log", "l", "7"])
            .unwrap()
            .command
        else {
            panic!()
        };
        assert!(!c.kill && c.output.as_deref() == Some("x.img") && c.log.as_deref() == Some("l"));
        let Command::Checkpoint(c) = parse(&["checkpoint", "7"]).unwrap().command else {
            panic!()
        };
        assert!(c.output.is_none() && !c.stats);
        let Command::Checkpoint(c) = parse(&["checkpoint", "--stats", "7"]).unwrap().command else {
            panic!()
        };
        assert!(c.stats);
        for opt in [
            "-v",
            "--verbose",
            "--pidns",
            "--new-pid",
            "--stopped",
            "--detach",
            "--stats",
        ] {
            let Command::Restart(r) = parse(&["restart", opt, "-i", "img"]).unwrap().command else {
                panic!()
            };
            assert_eq!(r.input, "img");
        }
        let Command::Restart(r) = parse(&["restart", "--new-pid", "--stopped", "-i", "-"])
            .unwrap()
            .command
        else {
            panic!()
        };
        assert!(r.new_pid && r.stopped && !r.pidns && r.input == "-");
        let Command::Restart(r) = parse(&["restart"]).unwrap().command else {
            panic!()
        };
        assert_eq!(r.input, "-");
        let Command::Info(i) = parse(&["info", "--json", "-"]).unwrap().command else {
            panic!()
        };
        assert!(i.json && i.file == "-");
        assert!(matches!(
            parse(&["info-module"]).unwrap().command,
            Command::InfoModule(_)
        ));
        // The last of a repeated option counts, as before.
        let Command::Checkpoint(c) =
            parse(&["checkpoint", "-o", "a", "-o", "b", "--kill", "--kill", "1"])
                .unwrap()
                .command
        else {
            panic!()
        };
        assert_eq!(c.output.as_deref(), Some("b"));
    }

    #[test]
    fn bad_command_lines_are_refused() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["frobnicate"]).is_err());
        assert!(parse(&["checkpoint"]).is_err());
        assert!(parse(&["checkpoint", "1", "2"]).is_err());
        assert!(parse(&["checkpoint", "--frob", "1"]).is_err());
        let e = parse(&["checkpoint", "x"]).unwrap_err().to_string();
        assert!(e.contains("'x' is not a pid"), "{e}");
        assert!(parse(&["restart", "img"]).is_err());
        assert!(parse(&["restart", "--pidns", "--new-pid"]).is_err());
        assert!(parse(&["restart", "-i"]).is_err());
        assert!(parse(&["info"]).is_err());
    }
}
