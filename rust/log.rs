// SPDX-License-Identifier: GPL-2.0

//! Human-readable failure reasons, written to the caller's `logfd`.
//!
//! Every refusal and error of a checkpoint or restart is reported twice: as
//! the ioctl's errno and as one line on `logfd` that says what and why, e.g.
//! `cr: checkpoint: pid 42 fd 5: unix socket not supported yet (EOPNOTSUPP)`.

use crate::{error::errno_name, kapi};
use core::fmt::{self, Write};
use kernel::{fs::File, prelude::*, sync::aref::ARef};

/// The caller's log fd, or none.
pub(crate) struct Log {
    file: Option<ARef<File>>,
    what: &'static str,
}

/// Formats into a fixed buffer, truncating.
struct LineBuf {
    buf: [u8; 512],
    len: usize,
}

impl Write for LineBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - 1 - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

impl Log {
    /// Opens the log: `fd` -1 means none; anything else must be an open fd
    /// (`EBADF`).
    pub(crate) fn open(fd: i32, what: &'static str) -> Result<Self> {
        let file = if fd == -1 {
            None
        } else {
            Some(kapi::fget(fd)?)
        };
        Ok(Self { file, what })
    }

    /// Another log to the same file.
    pub(crate) fn share(&self) -> Log {
        Log {
            file: self.file.clone(),
            what: self.what,
        }
    }

    /// Writes one line: `cr: <what>: <message> (<ERRNO>)`.
    pub(crate) fn line(&self, err: Option<Error>, args: fmt::Arguments<'_>) {
        let Some(file) = &self.file else { return };
        let mut l = LineBuf {
            buf: [0; 512],
            len: 0,
        };
        let _ = write!(l, "cr: {}: ", self.what);
        let _ = l.write_fmt(args);
        if let Some(e) = err {
            let _ = write!(l, " ({})", errno_name(e));
        }
        l.buf[l.len] = b'\n';
        // A failing log must not change the outcome: best effort.
        let _ = kapi::file_write(file, &l.buf[..l.len + 1]);
    }

    /// Logs `args` with `err` and returns `err`, for `return Err(log.fail(..))`.
    pub(crate) fn fail(&self, err: Error, args: fmt::Arguments<'_>) -> Error {
        self.line(Some(err), args);
        err
    }
}

/// `fail!(log, ERR, "fmt", args...)`: logs and evaluates to the error.
macro_rules! fail {
    ($log:expr, $err:expr, $($arg:tt)*) => {
        $log.fail($err, ::core::format_args!($($arg)*))
    };
}
pub(crate) use fail;

/// Displays bytes (paths, names) as text, escaping what is not printable.
pub(crate) struct Show<'a>(pub(crate) &'a [u8]);

impl fmt::Display for Show<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.0 {
            if (0x20..0x7f).contains(&b) {
                f.write_char(b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}
