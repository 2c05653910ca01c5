// SPDX-License-Identifier: GPL-2.0

//! crctl's errors: one enum, each variant the message crctl prints after
//! `crctl: ` (see `main`), and exit status 1.

use crate::image::ImageError;
use crate::uapi;
use rustix::io::Errno;
use std::ffi::CStr;
use std::fmt;
use std::io;

/// An errno as crctl prints it: the C library's message, then the
/// `E...` name in parentheses, as the module's log lines name them.
///
/// The name comes from the C library (`strerrorname_np`), so crctl keeps no
/// errno table of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ErrnoText(pub Errno);

extern "C" {
    /// glibc 2.32+: the name of an errno (`"EPERM"`), or NULL if unknown.
    /// Neither rustix nor the libc crate has it.
    fn strerrorname_np(errnum: core::ffi::c_int) -> *const core::ffi::c_char;
}

impl ErrnoText {
    /// The errno's name (`EPERM`), if the C library knows it.
    pub(crate) fn name(self) -> Option<&'static str> {
        // SAFETY: `strerrorname_np` takes any int and returns NULL or a
        // pointer to a static NUL-terminated string.
        let p = unsafe { strerrorname_np(self.0.raw_os_error()) };
        if p.is_null() {
            return None;
        }
        // SAFETY: `p` is a static C string (see above).
        unsafe { CStr::from_ptr(p) }.to_str().ok()
    }
}

impl fmt::Display for ErrnoText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", io::Error::from(self.0))?;
        match self.name() {
            Some(n) => write!(f, " ({n})"),
            None => Ok(()),
        }
    }
}

/// A failure of one of crctl's commands.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error(
        "{}: no such device; is the cr module loaded? (insmod cr.ko)",
        uapi::CR_DEVICE
    )]
    NoDevice,
    /// Opening a file named on the command line (or /dev/cr).
    #[error("{path}: {source}")]
    Open { path: String, source: io::Error },
    #[error("'{0}' is not a pid")]
    NotAPid(String),
    #[error("checkpoint of pid {pid} failed: {errno}")]
    Checkpoint { pid: i32, errno: ErrnoText },
    #[error("restart failed: {0}")]
    Restart(ErrnoText),
    #[error("restart returned without restoring")]
    RestartReturned,
    /// Making a pipe of the image (pipe2, F_SETPIPE_SZ).
    #[error("restart: pipe {id}: cannot make it with a capacity of {capacity} bytes: {errno}")]
    Pipe {
        id: u32,
        capacity: u32,
        errno: ErrnoText,
    },
    /// Making a deleted FIFO of the image again.
    #[error("restart: pipe {id}: deleted FIFO {path}: {what}: {errno}")]
    DeletedFifo {
        id: u32,
        path: String,
        what: &'static str,
        errno: ErrnoText,
    },
    /// An external pipe of the image with no `--inherit-fd` for it.
    #[error("restart: image needs --inherit-fd for pipe:[{0}] (FD:pipe:[{0}], a pipe of crctl's)")]
    NeedInheritFd(u32),
    /// An `--inherit-fd` fd that cannot be used.
    #[error("restart: --inherit-fd {0}: {1}")]
    InheritFd(i32, ErrnoText),
    /// An `--inherit-fd` naming a pipe the image does not have.
    #[error("restart: --inherit-fd {0}:pipe:[{1}]: the image has no external pipe pipe:[{1}]")]
    UnusedInheritFd(i32, u64),
    /// Making an eventfd, timerfd or signalfd of the image.
    #[error("restart: {what} {id}: cannot make it: {errno}")]
    Evfd {
        what: &'static str,
        id: u32,
        errno: ErrnoText,
    },
    /// Making an inotify instance of the image with its watches.
    #[error("restart: inotify {id}: {what}: {errno}")]
    Inotify {
        id: u32,
        what: String,
        errno: ErrnoText,
    },
    #[error(
        "{}: CR_IOC_INFO not understood; the loaded module is too old for this crctl",
        uapi::CR_DEVICE
    )]
    InfoTooOld,
    #[error("CR_IOC_INFO: {0}")]
    Info(io::Error),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("image has no process")]
    NoProcess,
    #[error("--new-pid: only an image of one single-threaded process can be restored with a new pid; this one has {0} tasks")]
    NewPidTree(usize),
    #[error("/proc/self/maps: {0}")]
    Maps(io::Error),
    #[error("bad maps line")]
    MapsLine,
    #[error("{0}")]
    MapsAddress(#[from] std::num::ParseIntError),
    #[error("arch_prctl(ARCH_MAP_VDSO_64, {at:#x}): {source}")]
    MapVdso { at: u64, source: io::Error },
    #[error("the vdso landed at {now:x?}, the image needs {want:x?}")]
    VdsoLanded {
        now: Vec<crate::Special>,
        want: Vec<crate::Special>,
    },
    #[error("the image has no vdso")]
    NoVdso,
    #[error("the image's vdso differs in size from this kernel's: made by another kernel build?")]
    VdsoSize,
    #[error("the image's vdso range {lo:#x}-{hi:#x} collides with crctl's own mapping {s:#x}-{e:#x}; retry")]
    VdsoCollides { lo: u64, hi: u64, s: u64, e: u64 },
    #[error("bad cwd")]
    BadCwd,
    #[error("cannot change to the image's working directory {}: {source}", String::from_utf8_lossy(.cwd))]
    Cwd { cwd: Vec<u8>, source: io::Error },
    /// Reading the calling thread's credentials.
    #[error(transparent)]
    Call(#[from] crate::creds::CallError),
    #[error("the image's root has pid 1: it cannot be restored under a new init")]
    RootIsInit,
    #[error("unshare(CLONE_NEWPID): {0}")]
    Unshare(io::Error),
    #[error("fork: {0}")]
    Fork(io::Error),
    #[error("waitpid: {0}")]
    Wait(io::Error),
    #[error("cannot create pid {pid} ({source}): restoring a tree needs CAP_CHECKPOINT_RESTORE and its pids free (or --pidns)")]
    CreateRoot { pid: i32, source: io::Error },
}

/// crctl's results.
pub(crate) type Result<T, E = Error> = core::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_text_has_message_and_name() {
        let t = ErrnoText(Errno::PERM).to_string();
        assert_eq!(t, "Operation not permitted (os error 1) (EPERM)");
        assert_eq!(ErrnoText(Errno::OPNOTSUPP).name(), Some("EOPNOTSUPP"));
        assert_eq!(ErrnoText(Errno::AGAIN).name(), Some("EAGAIN"));
        assert_eq!(ErrnoText(Errno::from_raw_os_error(4000)).name(), None);
    }
}
