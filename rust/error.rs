// SPDX-License-Identifier: GPL-2.0

//! The module's error vocabulary, shared by every layer: errno values the
//! kernel crate does not name, their names for log lines, a [`Refusal`]
//! (why a target's state cannot be saved) and why writing or reading an
//! image failed ([`WriteError`], [`ReadError`]).
//!
//! A leaf: it imports nothing of this module but the image format.

use crate::format::FormatError;
use core::fmt;
use kernel::{alloc::KVec, bindings, prelude::*};

/// `EOPNOTSUPP`, which the kernel crate does not name: unsupported state.
pub(crate) fn eopnotsupp() -> Error {
    Error::from_errno(-(bindings::EOPNOTSUPP as i32))
}

/// `EADDRINUSE`, which the kernel crate does not name.
pub(crate) fn eaddrinuse() -> Error {
    Error::from_errno(-(bindings::EADDRINUSE as i32))
}

/// Name of an errno, for log lines.
pub(crate) fn errno_name(e: Error) -> &'static str {
    match -e.to_errno() as u32 {
        bindings::EPERM => "EPERM",
        bindings::ENOENT => "ENOENT",
        bindings::ESRCH => "ESRCH",
        bindings::EINTR => "EINTR",
        bindings::EIO => "EIO",
        bindings::EBADF => "EBADF",
        bindings::EAGAIN => "EAGAIN",
        bindings::ENOMEM => "ENOMEM",
        bindings::EACCES => "EACCES",
        bindings::EFAULT => "EFAULT",
        bindings::EBUSY => "EBUSY",
        bindings::EINVAL => "EINVAL",
        bindings::EMFILE => "EMFILE",
        bindings::ENOSPC => "ENOSPC",
        bindings::EPIPE => "EPIPE",
        bindings::E2BIG => "E2BIG",
        bindings::ETIMEDOUT => "ETIMEDOUT",
        bindings::EOPNOTSUPP => "EOPNOTSUPP",
        bindings::ENAMETOOLONG => "ENAMETOOLONG",
        bindings::EROFS => "EROFS",
        bindings::EFBIG => "EFBIG",
        bindings::EXDEV => "EXDEV",
        bindings::EADDRINUSE => "EADDRINUSE",
        bindings::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        bindings::EAFNOSUPPORT => "EAFNOSUPPORT",
        bindings::ECONNREFUSED => "ECONNREFUSED",
        _ => "error",
    }
}

/// A reason the target's state cannot be saved, formatted in the target's
/// context, logged by the caller.
pub(crate) struct Refusal {
    pub(crate) err: Error,
    msg: KVec<u8>,
}

impl Refusal {
    /// A refusal with errno `err` and message `args` (empty if even that
    /// small allocation fails: the errno still tells).
    pub(crate) fn new(err: Error, args: fmt::Arguments<'_>) -> Self {
        let mut r = Refusal {
            err,
            msg: KVec::new(),
        };
        let _ = fmt::write(&mut r, args);
        r
    }

    /// The message.
    pub(crate) fn msg(&self) -> &[u8] {
        &self.msg
    }
}

impl fmt::Write for Refusal {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.msg
            .extend_from_slice(s.as_bytes(), GFP_KERNEL)
            .map_err(|_| fmt::Error)
    }
}

impl From<kernel::alloc::AllocError> for Refusal {
    fn from(_: kernel::alloc::AllocError) -> Self {
        Refusal::from(ENOMEM)
    }
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Self {
        Refusal::new(
            e,
            format_args!("out of resources while inspecting the target"),
        )
    }
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        r.err
    }
}

/// `refuse!(ERR, "fmt", ...)`: a [`Refusal`].
macro_rules! refuse {
    ($err:expr, $($arg:tt)*) => {
        $crate::error::Refusal::new($err, ::core::format_args!($($arg)*))
    };
}
pub(crate) use refuse;

/// Why writing an image failed.
pub(crate) enum WriteError {
    /// State found unsupported while writing (e.g. while reading pages).
    Refused(Refusal),
    /// The fd failed at this offset.
    Io(Error, u64),
}

impl From<Refusal> for WriteError {
    fn from(r: Refusal) -> Self {
        WriteError::Refused(r)
    }
}

/// Why reading an image failed: an I/O error, or a format error at an
/// offset.
pub(crate) enum ReadError {
    Io(Error),
    Format(FormatError, u64),
    /// An error already written to the log.
    Logged(Error),
}

impl From<kernel::alloc::AllocError> for ReadError {
    fn from(_: kernel::alloc::AllocError) -> Self {
        ReadError::Io(ENOMEM)
    }
}

impl From<Error> for ReadError {
    fn from(e: Error) -> Self {
        ReadError::Io(e)
    }
}
