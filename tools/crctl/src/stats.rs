// SPDX-License-Identifier: GPL-2.0

//! `--stats`: where the time of a checkpoint or restart went, printed on
//! stderr once it is done (see Documentation/cr/crctl.rst).
//!
//! Everything is measured by crctl itself: the module reports no times.
//! The time in the kernel (the `CR_IOC_CHECKPOINT` or `CR_IOC_RESTART`
//! ioctl) bounds the time the tree was frozen at checkpoint: the module
//! parks the tree inside the ioctl and lets it go (or kills it) before
//! returning. Bytes are the image's size where crctl can know it (a
//! regular file; not a pipe); pages and tasks are the image's own counts
//! (its meta-end and tree records).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use cr_image::format::Record;

/// What a `--stats` report says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// `"checkpoint"` or `"restart"`.
    pub what: &'static str,
    /// From crctl's start to the end (checkpoint: the image complete;
    /// restart: the tree restored).
    pub total: Duration,
    /// Before the ioctl: reading the image's metadata and making its
    /// objects (restart), opening the output (checkpoint).
    pub prepare: Duration,
    /// In the ioctl, every try together (checkpoint).
    pub kernel: Duration,
    /// How many times the checkpoint ioctl ran (EAGAIN retries).
    pub tries: u32,
    /// Tasks (processes, threads and zombies) in the image.
    pub tasks: Option<usize>,
    /// Processes in the image.
    pub processes: Option<usize>,
    /// Pages of memory contents in the image.
    pub pages: Option<u64>,
    pub page_size: u64,
    /// The image's size in bytes, if crctl can know it.
    pub bytes: Option<u64>,
    /// For a restart: how the tree was restored (`exec-style`, `tree`).
    pub how: Option<&'static str>,
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

fn rate(bytes: u64, d: Duration) -> String {
    let s = d.as_secs_f64();
    if s <= 0.0 {
        return "-".into();
    }
    format!("{:.1} MiB/s", mib(bytes) / s)
}

impl Report {
    /// The report's lines, as printed: a title line, then one `name:
    /// value` line per figure (a figure crctl cannot know says so).
    pub fn lines(&self) -> Vec<String> {
        let mut v = vec![format!("crctl: {} stats:", self.what)];
        let mut line = |k: &str, val: String| v.push(format!("  {:<12} {val}", format!("{k}:")));
        line("total", secs(self.total));
        line("prepare", secs(self.prepare));
        let frozen = if self.what == "checkpoint" {
            format!(
                " (the tree was frozen at most this long{})",
                if self.tries > 1 {
                    format!("; {} tries", self.tries)
                } else {
                    String::new()
                }
            )
        } else {
            String::new()
        };
        line("kernel", format!("{}{frozen}", secs(self.kernel)));
        let other = self.total.saturating_sub(self.prepare + self.kernel);
        line("crctl other", secs(other));
        match (self.tasks, self.processes) {
            (Some(t), Some(p)) => line(
                "tasks",
                format!("{t} in {p} process{}", if p == 1 { "" } else { "es" }),
            ),
            (Some(t), None) => line("tasks", t.to_string()),
            _ => line("tasks", "unknown".into()),
        }
        if let Some(how) = self.how {
            line("restored", how.into());
        }
        match self.pages {
            Some(p) => line(
                "pages",
                format!("{p} ({:.1} MiB)", mib(p.saturating_mul(self.page_size))),
            ),
            None => line("pages", "unknown".into()),
        }
        match self.bytes {
            Some(b) => {
                line("image", format!("{b} bytes ({:.1} MiB)", mib(b)));
                line(
                    "throughput",
                    format!(
                        "{} in the kernel, {} overall",
                        rate(b, self.kernel),
                        rate(b, self.total)
                    ),
                );
            }
            None => {
                line("image", "size unknown (not a regular file)".into());
                if let Some(p) = self.pages {
                    let b = p.saturating_mul(self.page_size);
                    line(
                        "throughput",
                        format!("{} of pages in the kernel", rate(b, self.kernel)),
                    );
                }
            }
        }
        v
    }

    /// Prints the report on stderr, in one write.
    pub fn print(&self) {
        let mut s = self.lines().join("\n");
        s.push('\n');
        let _ = rustix::io::write(std::io::stderr().as_fd(), s.as_bytes());
    }
}

/// `CLOCK_MONOTONIC` by a raw system call: usable after crctl moved its
/// vdso (the C library's `clock_gettime` would jump to the old one).
pub fn mono() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-parameter. rustix's clock_gettime goes
    // through the vdso, which may have moved.
    unsafe { libc::syscall(libc::SYS_clock_gettime, libc::CLOCK_MONOTONIC, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A stopwatch from crctl's start.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    pub start: Duration,
}

impl Clock {
    pub fn new() -> Self {
        Clock { start: mono() }
    }

    /// Time since crctl started.
    pub fn elapsed(&self) -> Duration {
        mono().saturating_sub(self.start)
    }
}

/// What crctl sends the exec-style watcher instead of a start time: the
/// restart failed (crctl said why).
const FAILED: u64 = u64::MAX;

/// The exec-style restart's reporter: crctl becomes the restored program,
/// so the ioctl never returns to it. A grandchild (not a child, which the
/// restored program would see) waits on a pipe whose only writer is
/// crctl's fd: the restore closes it when it replaces crctl's file table
/// (or crctl exits). crctl sends the ioctl's start time, or [`FAILED`].
pub struct ExecWatch {
    wr: OwnedFd,
}

impl ExecWatch {
    /// Starts the watcher, which prints `rep` (with the kernel and total
    /// times filled in) once the restore is done. `None` if it cannot.
    pub fn start(rep: &Report, clock: Clock) -> Option<Self> {
        let (rd, wr) = rustix::pipe::pipe().ok()?;
        // SAFETY: fork() in a single-threaded process (see `crate::log_fd`).
        match unsafe { libc::fork() } {
            0 => {
                // SAFETY: As above; the intermediate child only forks.
                if unsafe { libc::fork() } != 0 {
                    // SAFETY: Exits without crctl's exit handlers.
                    unsafe { libc::_exit(0) };
                }
                drop(wr);
                watch(rd, rep, clock);
                // SAFETY: As above, for the watcher.
                unsafe { libc::_exit(0) }
            }
            child if child > 0 => {
                let _ = rustix::process::waitpid(
                    rustix::process::Pid::from_raw(child),
                    rustix::process::WaitOptions::empty(),
                );
                Some(ExecWatch { wr })
            }
            _ => None,
        }
    }

    /// Just before the ioctl: its start time. Raw system calls only.
    pub fn ioctl_starts(&self) {
        let t = mono().as_nanos() as u64;
        let _ = rustix::io::write(&self.wr, &t.to_ne_bytes());
    }

    /// The restart failed: the watcher prints nothing.
    pub fn failed(&self) {
        let _ = rustix::io::write(&self.wr, &FAILED.to_ne_bytes());
    }
}

/// The watcher: keeps only stderr and the pipe, waits for its end.
fn watch(rd: OwnedFd, rep: &Report, clock: Clock) {
    use rustix::fs::{open, Mode, OFlags};
    // Holds none of crctl's files (/dev/cr, the image, its pipes), nor
    // its stdin and stdout.
    let r = rd.as_raw_fd();
    for fd in 0..1024 {
        if fd != r && fd != 2 {
            // SAFETY: Closing fds this process does not use (it is about
            // to use only stderr and `rd`).
            unsafe { libc::close(fd) };
        }
    }
    if let Ok(null) = open(c"/dev/null", OFlags::RDWR, Mode::empty()) {
        let _ = rustix::stdio::dup2_stdin(&null);
        let _ = rustix::stdio::dup2_stdout(&null);
    }
    let mut ioctl_start = None;
    let mut buf = [0u8; 8];
    loop {
        match crate::image::read_exact_fd(rd.as_fd(), &mut buf) {
            Ok(8) => match u64::from_ne_bytes(buf) {
                FAILED => return,
                t => ioctl_start = Some(Duration::from_nanos(t)),
            },
            Ok(_) => break,
            Err(_) => return,
        }
    }
    let Some(k0) = ioctl_start else {
        // crctl ended before the ioctl: it said why.
        return;
    };
    let end = mono();
    let mut rep = rep.clone();
    rep.prepare = k0.saturating_sub(clock.start);
    rep.kernel = end.saturating_sub(k0);
    rep.total = end.saturating_sub(clock.start);
    rep.print();
}

/// The image's counts from its metadata, read from `fd` (positioned at the
/// image's start): tasks, processes and pages; `None` if it cannot be read.
pub fn image_counts(fd: BorrowedFd<'_>) -> Option<(usize, usize, u64, u64)> {
    let mut w = crate::image::Walker::new(fd, false);
    w.magic().ok()?;
    let (mut tasks, mut procs) = (0, 0);
    loop {
        match w.next().ok()?? {
            (_, Record::Tree(t), _) => tasks = t.len(),
            (_, Record::Task(_), _) => procs += 1,
            (_, Record::MetaEnd(m), _) => {
                let ps = w.page_size();
                return Some((tasks, procs, m.total_pages, ps));
            }
            _ => {}
        }
    }
}

/// The counts of the image just written to the regular file `fd` from
/// `start`: reads its metadata again through a new open file description.
pub fn written_counts(fd: BorrowedFd<'_>, start: u64) -> Option<(usize, usize, u64, u64)> {
    use rustix::fs::{seek, SeekFrom};
    let f = std::fs::File::open(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&fd)
    ))
    .ok()?;
    seek(f.as_fd(), SeekFrom::Start(start)).ok()?;
    image_counts(f.as_fd())
}

/// The offset of `fd` if it is a regular file, else `None`.
pub fn regular_offset(fd: BorrowedFd<'_>) -> Option<u64> {
    use rustix::fs::{fstat, seek, FileType, SeekFrom};
    let st = fstat(fd).ok()?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return None;
    }
    seek(fd, SeekFrom::Current(0)).ok()
}

/// The size of the regular file `fd` after its offset, else `None`.
pub fn regular_left(fd: BorrowedFd<'_>) -> Option<u64> {
    let off = regular_offset(fd)?;
    let st = rustix::fs::fstat(fd).ok()?;
    Some((st.st_size as u64).saturating_sub(off))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            what: "checkpoint",
            total: Duration::from_millis(500),
            prepare: Duration::from_millis(20),
            kernel: Duration::from_millis(400),
            tries: 1,
            tasks: Some(3),
            processes: Some(2),
            pages: Some(256),
            page_size: 4096,
            bytes: Some(2 << 20),
            how: None,
        }
    }

    #[test]
    fn checkpoint_report_format() {
        let l = report().lines();
        assert_eq!(
            l,
            [
                "crctl: checkpoint stats:",
                "  total:       0.500 s",
                "  prepare:     0.020 s",
                "  kernel:      0.400 s (the tree was frozen at most this long)",
                "  crctl other: 0.080 s",
                "  tasks:       3 in 2 processes",
                "  pages:       256 (1.0 MiB)",
                "  image:       2097152 bytes (2.0 MiB)",
                "  throughput:  5.0 MiB/s in the kernel, 4.0 MiB/s overall",
            ]
        );
    }

    #[test]
    fn retries_and_a_pipe() {
        let r = Report {
            tries: 3,
            bytes: None,
            ..report()
        };
        let l = r.lines();
        assert!(l[3].ends_with("(the tree was frozen at most this long; 3 tries)"));
        assert_eq!(l[7], "  image:       size unknown (not a regular file)");
        assert_eq!(l[8], "  throughput:  2.5 MiB/s of pages in the kernel");
    }

    #[test]
    fn restart_report_format() {
        let r = Report {
            what: "restart",
            how: Some("exec-style"),
            tasks: Some(1),
            processes: None,
            pages: None,
            ..report()
        };
        let l = r.lines();
        assert_eq!(l[0], "crctl: restart stats:");
        assert_eq!(l[3], "  kernel:      0.400 s");
        assert_eq!(l[5], "  tasks:       1");
        assert_eq!(l[6], "  restored:    exec-style");
        assert_eq!(l[7], "  pages:       unknown");
        // Every line after the title is "  name: value".
        for x in &l[1..] {
            let (k, v) = x.trim_start().split_once(": ").unwrap();
            assert!(!k.is_empty() && !v.trim().is_empty(), "{x}");
        }
    }

    #[test]
    fn counts_of_a_real_image() {
        const COUNTER: &[u8] = include_bytes!("../../../image/testdata/counter.img");
        let p = std::env::temp_dir().join(format!("crctl-stats-{}", std::process::id()));
        std::fs::write(&p, COUNTER).unwrap();
        let f = std::fs::File::open(&p).unwrap();
        let (tasks, procs, pages, ps) = image_counts(f.as_fd()).unwrap();
        assert_eq!((tasks, procs, ps), (1, 1, 4096));
        assert!(pages > 0);
        assert_eq!(
            regular_left(f.as_fd()),
            Some(COUNTER.len() as u64 - offset(&f))
        );
        assert_eq!(
            written_counts(f.as_fd(), 0),
            Some((tasks, procs, pages, ps))
        );
        std::fs::remove_file(&p).unwrap();
    }

    fn offset(f: &std::fs::File) -> u64 {
        rustix::fs::seek(f.as_fd(), rustix::fs::SeekFrom::Current(0)).unwrap()
    }
}
