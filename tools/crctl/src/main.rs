// SPDX-License-Identifier: GPL-2.0

//! crctl: the userspace companion of the cr checkpoint/restart module.

mod creds;
mod image;
mod info;
mod tree;
mod uapi;

use std::ffi::CString;
use std::fs::OpenOptions;
use std::os::fd::{AsRawFd, IntoRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::process::ExitCode;

use cr_image::format::{Record, VmaKind};

const USAGE: &str = "\
usage: crctl <command> [options]

commands:
  checkpoint [--kill] [--log FILE] [-o FILE|-] PID
        write an image of process PID to FILE (default: PID.img), or to
        stdout with '-o -'. The process keeps running, untouched, unless
        --kill is given: then it is killed once the image is complete.
        Reasons for a failure or refusal go to stderr, or to FILE with --log.
  restart [--stopped] [--detach] [--pidns|--new-pid] [-v] [--log FILE] [-i FILE|-]
        restore the program(s) saved in FILE (or read from stdin with '-i -').
        crctl recreates every process and thread with its original pid
        (needs CAP_CHECKPOINT_RESTORE and the pids free), waits for the
        restored root and exits with its status (128 + the signal if one
        killed it); --detach returns at once. --pidns restores them in a
        new pid namespace under a crctl init (pid 1), so the original pids
        are free even while the originals run. fds 0-2 that were a terminal
        or a pipe are crctl's own. --stopped: every restored task starts
        stopped (SIGSTOP). -v: say how it was restored.
        An image of one single-threaded process keeps crctl's session and
        process group, and (without --pidns) gets the signals sent to crctl.
        If its pid cannot be had (taken, or no CAP_CHECKPOINT_RESTORE),
        crctl says so and becomes the program, like exec, which then has
        crctl's pid; --new-pid chooses that without the warning.
  info [--json] FILE|-
        decode and validate an image without the kernel; names the first bad
        byte of a broken image.
  info-module
        what the loaded cr module reports (version, image format, features)
  help  this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    let result = match cmd.as_str() {
        "checkpoint" => checkpoint(rest),
        "restart" => restart(rest),
        "info" => info::run(rest),
        "info-module" => info_module(),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command '{other}' (see 'crctl help')")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crctl: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Command-line options: flags, options with a value, and positionals.
struct Opts {
    flags: Vec<String>,
    values: Vec<(String, String)>,
    positional: Vec<String>,
}

fn parse(args: &[String], flags: &[&str], valued: &[&str]) -> Result<Opts, String> {
    let mut o = Opts {
        flags: vec![],
        values: vec![],
        positional: vec![],
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if flags.contains(&a.as_str()) {
            o.flags.push(a.clone());
        } else if valued.contains(&a.as_str()) {
            let v = it.next().ok_or(format!("{a} needs a value"))?;
            o.values.push((a.clone(), v.clone()));
        } else if a.starts_with('-') && a != "-" {
            return Err(format!("unknown option {a} (see 'crctl help')"));
        } else {
            o.positional.push(a.clone());
        }
    }
    Ok(o)
}

impl Opts {
    fn flag(&self, f: &str) -> bool {
        self.flags.iter().any(|x| x == f)
    }
    fn value(&self, k: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
    }
}

/// Opens /dev/cr with a message that says what to do when it is missing.
fn open_device() -> Result<std::fs::File, String> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(uapi::CR_DEVICE)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) => format!(
                "{}: no such device; is the cr module loaded? (insmod cr.ko)",
                uapi::CR_DEVICE
            ),
            _ => format!("{}: {e}", uapi::CR_DEVICE),
        })
}

pub(crate) fn errno_text(e: &std::io::Error) -> String {
    let name = match e.raw_os_error() {
        Some(libc::EPERM) => "EPERM",
        Some(libc::ESRCH) => "ESRCH",
        Some(libc::EINVAL) => "EINVAL",
        Some(libc::EOPNOTSUPP) => "EOPNOTSUPP",
        Some(libc::EBUSY) => "EBUSY",
        Some(libc::EBADF) => "EBADF",
        Some(libc::ETIMEDOUT) => "ETIMEDOUT",
        Some(libc::EINTR) => "EINTR",
        Some(libc::EPIPE) => "EPIPE",
        Some(libc::ENOSPC) => "ENOSPC",
        Some(libc::ENOENT) => "ENOENT",
        Some(libc::EACCES) => "EACCES",
        Some(libc::ENOTTY) => "ENOTTY",
        _ => "",
    };
    if name.is_empty() {
        e.to_string()
    } else {
        format!("{e} ({name})")
    }
}

/// The log fd: FILE (appended to) with --log; otherwise a pipe whose other
/// end a relay process copies to stderr. The kernel writes log lines with
/// kernel_write(), which not every kind of stderr supports (a virtio
/// console does not), and a pipe always does. The relay is a grandchild, so
/// that neither crctl nor a restored program ever sees it as a child.
fn log_fd(o: &Opts) -> Result<RawFd, String> {
    match o.value("--log") {
        None => {
            let mut p = [0; 2];
            // SAFETY: `p` has room for two fds.
            if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
                return Ok(2);
            }
            // SAFETY: fork in a single-threaded process.
            match unsafe { libc::fork() } {
                0 => {
                    // SAFETY: As above; the child only relays and exits.
                    if unsafe { libc::fork() } != 0 {
                        unsafe { libc::_exit(0) };
                    }
                    unsafe { libc::close(p[1]) };
                    let mut buf = [0u8; 4096];
                    loop {
                        // SAFETY: `buf` is valid for writes.
                        let n = unsafe { libc::read(p[0], buf.as_mut_ptr().cast(), buf.len()) };
                        if n <= 0 {
                            unsafe { libc::_exit(0) };
                        }
                        // SAFETY: `buf[..n]` is initialised.
                        unsafe { libc::write(2, buf.as_ptr().cast(), n as usize) };
                    }
                }
                child if child > 0 => {
                    // SAFETY: Reaps the intermediate child.
                    unsafe {
                        libc::waitpid(child, std::ptr::null_mut(), 0);
                        libc::close(p[0]);
                    }
                    Ok(p[1])
                }
                _ => Ok(2),
            }
        }
        Some(p) => OpenOptions::new()
            .append(true)
            .create(true)
            .open(p)
            .map(|f| f.into_raw_fd())
            .map_err(|e| format!("{p}: {e}")),
    }
}

fn checkpoint(args: &[String]) -> Result<(), String> {
    let o = parse(args, &["--kill"], &["--log", "-o"])?;
    let [pid] = o.positional.as_slice() else {
        return Err("checkpoint needs exactly one PID".into());
    };
    let pid: i32 = pid.parse().map_err(|_| format!("'{pid}' is not a pid"))?;
    let dev = open_device()?;
    let logfd = log_fd(&o)?;
    let default_out = format!("{pid}.img");
    let out_path = o.value("-o").unwrap_or(&default_out);
    let out_fd = if out_path == "-" {
        1
    } else {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(out_path)
            .map(|f| f.into_raw_fd())
            .map_err(|e| format!("{out_path}: {e}"))?
    };
    let a = uapi::CrCheckpointArgs {
        size: std::mem::size_of::<uapi::CrCheckpointArgs>() as u32,
        flags: if o.flag("--kill") {
            uapi::CR_CHECKPOINT_KILL
        } else {
            0
        },
        pid,
        fd: out_fd,
        logfd,
        pad: 0,
    };
    // A tree that changed under the checkpoint (a task exec'd, or kept
    // forking) fails with EAGAIN: try again, as long as the image can be
    // rewritten from its start (a regular file, not a pipe).
    let rewindable = regular_file_at_start(out_fd);
    let mut tries = 1;
    let r = loop {
        // SAFETY: CR_IOC_CHECKPOINT reads `a`, which is a valid struct.
        let r = unsafe { libc::ioctl(dev.as_raw_fd(), uapi::CR_IOC_CHECKPOINT, &a) };
        let again = r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN);
        if !again || !rewindable || tries >= CHECKPOINT_TRIES || !rewind(out_fd) {
            break r;
        }
        eprintln!("crctl: the tree changed during the checkpoint; trying again ({tries}/{CHECKPOINT_TRIES})");
        std::thread::sleep(std::time::Duration::from_millis(50 * tries as u64));
        tries += 1;
    };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        if out_path != "-" {
            let _ = std::fs::remove_file(out_path);
        }
        return Err(format!(
            "checkpoint of pid {pid} failed: {}",
            errno_text(&e)
        ));
    }
    Ok(())
}

/// How many times `crctl checkpoint` tries when the kernel says EAGAIN.
const CHECKPOINT_TRIES: u32 = 5;

/// Whether `fd` is a regular file at offset 0, which a failed checkpoint
/// can be rewritten into.
fn regular_file_at_start(fd: i32) -> bool {
    // SAFETY: `st` is a valid out-parameter for fstat().
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat() and lseek() on an fd we own, with valid arguments.
    unsafe {
        libc::fstat(fd, &mut st) == 0
            && st.st_mode & libc::S_IFMT == libc::S_IFREG
            && libc::lseek(fd, 0, libc::SEEK_CUR) == 0
    }
}

/// Empties the image file `fd` and moves back to its start.
fn rewind(fd: i32) -> bool {
    // SAFETY: ftruncate() and lseek() on an fd we own.
    unsafe { libc::ftruncate(fd, 0) == 0 && libc::lseek(fd, 0, libc::SEEK_SET) == 0 }
}

/// A special mapping's range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Special {
    kind: VmaKind,
    start: u64,
    end: u64,
}

/// The special mappings of this process, from /proc/self/maps.
fn own_specials() -> Result<Vec<Special>, String> {
    let maps =
        std::fs::read_to_string("/proc/self/maps").map_err(|e| format!("/proc/self/maps: {e}"))?;
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
        let (s, e) = range.split_once('-').ok_or("bad maps line")?;
        v.push(Special {
            kind,
            start: u64::from_str_radix(s, 16).map_err(|e| e.to_string())?,
            end: u64::from_str_radix(e, 16).map_err(|e| e.to_string())?,
        });
    }
    Ok(v)
}

/// All mappings of this process, as ranges.
fn own_ranges() -> Result<Vec<(u64, u64)>, String> {
    let maps =
        std::fs::read_to_string("/proc/self/maps").map_err(|e| format!("/proc/self/maps: {e}"))?;
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

const ARCH_MAP_VDSO_64: libc::c_int = 0x2003;

/// Moves [vvar]/[vdso] to where the image has them: the restored program
/// holds pointers into them, and only user space can place them.
pub(crate) fn place_vdso(want: &[Special]) -> Result<(), String> {
    let Some((have, lo)) = vdso_move(want)? else {
        return Ok(());
    };
    for h in &have {
        // SAFETY: Unmaps only the kernel-provided [vvar]/[vdso]; nothing in
        // crctl calls into the vdso until the restore replaces everything.
        unsafe { libc::munmap(h.start as *mut libc::c_void, (h.end - h.start) as usize) };
    }
    // SAFETY: A plain syscall with integer arguments. It returns the vdso
    // size on success.
    let r = unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_MAP_VDSO_64, lo) };
    if r < 0 {
        return Err(format!(
            "arch_prctl(ARCH_MAP_VDSO_64, {lo:#x}): {}",
            std::io::Error::last_os_error()
        ));
    }
    let now = own_specials()?;
    if now != want {
        return Err(format!(
            "the vdso landed at {now:x?}, the image needs {want:x?}"
        ));
    }
    Ok(())
}

/// Whether [`place_vdso`] can move this process's [vvar]/[vdso] where the
/// image has them (and so in a child forked now): the reason if not.
pub(crate) fn check_vdso(want: &[Special]) -> Result<(), String> {
    vdso_move(want).map(|_| ())
}

/// The move [`place_vdso`] has to make: `None` if the vdso is in place
/// already, else the special mappings to unmap and the new start.
fn vdso_move(want: &[Special]) -> Result<Option<(Vec<Special>, u64)>, String> {
    let have = own_specials()?;
    if have == want {
        return Ok(None);
    }
    let (Some(lo), Some(hi)) = (
        want.iter().map(|s| s.start).min(),
        want.iter().map(|s| s.end).max(),
    ) else {
        return Err("the image has no vdso".into());
    };
    let size = |v: &[Special]| v.iter().map(|s| s.end - s.start).sum::<u64>();
    if size(&have) != size(want) || have.len() != want.len() {
        return Err(
            "the image's vdso differs in size from this kernel's: made by another kernel build?"
                .into(),
        );
    }
    for (s, e) in own_ranges()? {
        let special = have.iter().any(|h| h.start == s);
        if !special && s < hi && lo < e {
            return Err(format!(
                "the image's vdso range {lo:#x}-{hi:#x} collides with crctl's own mapping {s:#x}-{e:#x}; retry"
            ));
        }
    }
    Ok(Some((have, lo)))
}

/// Changes to the image's working directory `cwd`, which the restored
/// process must have.
pub(crate) fn enter_cwd(cwd: &[u8]) -> Result<(), String> {
    let cwd_c = CString::new(cwd).map_err(|_| "bad cwd")?;
    // SAFETY: `cwd_c` is a valid C string.
    if unsafe { libc::chdir(cwd_c.as_ptr()) } != 0 {
        return Err(format!(
            "cannot change to the image's working directory {}: {}",
            String::from_utf8_lossy(cwd),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

fn restart(args: &[String]) -> Result<(), String> {
    let o = parse(
        args,
        &[
            "--stopped",
            "--detach",
            "--pidns",
            "--new-pid",
            "-v",
            "--verbose",
        ],
        &["--log", "-i"],
    )?;
    if !o.positional.is_empty() {
        return Err("restart takes no positional argument (use -i FILE)".into());
    }
    let pidns = o.flag("--pidns");
    let new_pid = o.flag("--new-pid");
    let verbose = o.flag("-v") || o.flag("--verbose");
    if new_pid && pidns {
        return Err("--new-pid and --pidns exclude each other".into());
    }
    let dev = open_device()?;
    let logfd = log_fd(&o)?;
    let in_path = o.value("-i").unwrap_or("-");
    let in_fd = if in_path == "-" {
        0
    } else {
        std::fs::File::open(in_path)
            .map(|f| f.into_raw_fd())
            .map_err(|e| format!("{in_path}: {e}"))?
    };

    // Read (and validate) the metadata prefix, exactly up to the end of the
    // meta-end record, so the kernel continues from the fd where we stop.
    let mut w = image::Walker::new(in_fd, true);
    w.magic().map_err(|e| e.to_string())?;
    let mut t = tree::TreeInfo {
        entries: vec![],
        procs: vec![],
    };
    while let Some((_, rec, _)) = w.next().map_err(|e| e.to_string())? {
        match rec {
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
            Record::Vma(v, _) if v.kind.is_special() => {
                if let Some(pi) = t.procs.last_mut() {
                    pi.specials.push(Special {
                        kind: v.kind,
                        start: v.start,
                        end: v.end,
                    });
                }
            }
            Record::MetaEnd(_) => break,
            _ => {}
        }
    }
    let prefix = w.keep.take().unwrap_or_default();
    let flags = if o.flag("--stopped") {
        uapi::CR_RESTART_STOPPED
    } else {
        0
    };
    let Some(root) = t.entries.first().copied() else {
        return Err("image has no process".into());
    };
    // One single-threaded process (no other process, no zombie): the only
    // kind of image that can also be restored exec-style.
    let single = t.entries.len() == 1;
    if new_pid && !single {
        return Err(format!(
            "--new-pid: only an image of one single-threaded process can be restored with a new pid; this one has {} tasks",
            t.entries.len()
        ));
    }
    // SAFETY: getpid() has no preconditions.
    let me = unsafe { libc::getpid() };

    // A tree, and by default one process too, through the tree machinery,
    // with the original pids; a process whose pid is crctl's own gets it
    // exec-style as well.
    if !single || pidns || (!new_pid && root.pid != me) {
        let how = tree::Launch {
            detach: o.flag("--detach"),
            pidns,
            verbose,
        };
        match tree::launch(&t, dev.as_raw_fd(), in_fd, logfd, &prefix, flags, &how)? {
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
    let p = t.procs.first().ok_or("image has no process")?;
    enter_cwd(&p.cwd)?;
    if let Some(plan) = creds::Plan::new(&p.creds)? {
        if let Err((what, errno)) = plan.apply() {
            // The kernel refuses by name: it checks them exactly.
            eprintln!(
                "crctl: restart: cannot take on the image's credentials: {what}: {}",
                std::io::Error::from_raw_os_error(errno)
            );
        }
    }
    place_vdso(&p.specials)?;

    let a = uapi::CrRestartArgs {
        size: std::mem::size_of::<uapi::CrRestartArgs>() as u32,
        flags,
        fd: in_fd,
        logfd,
        prefix: prefix.as_ptr() as u64,
        prefix_len: prefix.len() as u64,
    };
    // SAFETY: CR_IOC_RESTART reads `a` and `prefix_len` bytes at `prefix`.
    // On success it does not return here: this process is the restored
    // program.
    let r = unsafe { libc::ioctl(dev.as_raw_fd(), uapi::CR_IOC_RESTART, &a) };
    let e = std::io::Error::last_os_error();
    if r < 0 {
        // Only raw syscalls from here: the vdso may have moved.
        let msg = format!("crctl: restart failed: {}\n", errno_text(&e));
        // SAFETY: Writes a valid buffer to stderr.
        unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
        // SAFETY: Exits without running anything that may use the vdso.
        unsafe { libc::_exit(1) };
    }
    Err("restart returned without restoring".into())
}

fn query_info() -> Result<uapi::CrInfo, String> {
    let dev = open_device()?;
    let mut info = uapi::CrInfo {
        size: std::mem::size_of::<uapi::CrInfo>() as u32,
        ..Default::default()
    };
    // SAFETY: CR_IOC_INFO writes at most `info.size` bytes into `info`.
    let r = unsafe { libc::ioctl(dev.as_raw_fd(), uapi::CR_IOC_INFO, &mut info) };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::ENOTTY) => format!(
                "{}: CR_IOC_INFO not understood; the loaded module is too old for this crctl",
                uapi::CR_DEVICE
            ),
            _ => format!("CR_IOC_INFO: {e}"),
        });
    }
    Ok(info)
}

fn info_module() -> Result<(), String> {
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
