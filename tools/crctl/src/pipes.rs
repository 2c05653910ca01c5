// SPDX-License-Identifier: GPL-2.0

//! The pipes of an image, which crctl makes for the kernel (a module cannot
//! create a pipe): one per pipe record, empty, with the recorded capacity,
//! handed over to `CR_IOC_RESTART` as `struct cr_restart_obj`. For a FIFO
//! it opens the record's path `O_RDWR | O_NONBLOCK` (which never waits for
//! the other side) and sets its capacity. The kernel
//! checks each, writes its buffered bytes back and takes it (closing the fd
//! in the caller).

use crate::error::{ErrnoText, Error, Result};
use crate::uapi;
use rustix::fs::{fstat, open, FileType, Mode, OFlags};
use rustix::pipe::{fcntl_getpipe_size, fcntl_setpipe_size, pipe_with, PipeFlags};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

/// The pipes made for an image, and the array the kernel reads.
#[derive(Default)]
pub struct Pipes {
    /// Read ends, kept open until the kernel takes them.
    _ends: Vec<OwnedFd>,
    pub objs: Vec<uapi::CrRestartObj>,
}

impl Pipes {
    /// Makes one pipe per `(id, capacity, FIFO path or empty)` of the
    /// image's pipe records.
    pub fn make(pipes: &[(u32, u32, Vec<u8>)]) -> Result<Self> {
        let mut p = Pipes::default();
        for (id, capacity, path) in pipes {
            let (id, capacity) = (*id, *capacity);
            let err = |e: rustix::io::Errno| Error::Pipe {
                id,
                capacity,
                errno: ErrnoText(e),
            };
            let (r, w) = if path.is_empty() {
                let (r, w) = pipe_with(PipeFlags::CLOEXEC).map_err(err)?;
                (r, Some(w))
            } else {
                let c = std::ffi::CString::new(path.clone())
                    .map_err(|_| err(rustix::io::Errno::INVAL))?;
                let f = open(
                    c.as_c_str(),
                    OFlags::RDWR | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
                    Mode::empty(),
                )
                .map_err(err)?;
                if FileType::from_raw_mode(fstat(&f).map_err(err)?.st_mode) != FileType::Fifo {
                    return Err(err(rustix::io::Errno::INVAL));
                }
                (f, None)
            };
            if fcntl_getpipe_size(&r).map_err(err)? != capacity as usize {
                fcntl_setpipe_size(&r, capacity as usize).map_err(err)?;
            }
            if fcntl_getpipe_size(&r).map_err(err)? != capacity as usize {
                return Err(err(rustix::io::Errno::INVAL));
            }
            // The kernel writes the bytes back through an end of its own:
            // only the read end is handed over, and nothing else holds it.
            drop(w);
            p.objs.push(uapi::CrRestartObj {
                kind: uapi::CR_RESTART_OBJ_PIPE,
                id,
                fd: r.as_raw_fd(),
                pad: 0,
            });
            p._ends.push(r);
        }
        Ok(p)
    }
}

impl Pipes {
    /// Hands over, for each external pipe `(id, inode number)` of the
    /// image, the fd the command line maps to it (`--inherit-fd
    /// FD:pipe:[INO]`), as a copy the kernel takes: every external pipe
    /// needs one, and every mapping must name one of them.
    pub fn inherit(&mut self, external: &[(u32, u32)], map: &[(i32, u64)]) -> Result<()> {
        if let Some(&(fd, ino)) = map
            .iter()
            .find(|(_, i)| !external.iter().any(|(_, e)| u64::from(*e) == *i))
        {
            return Err(Error::UnusedInheritFd(fd, ino));
        }
        for &(id, ino) in external {
            let Some(&(fd, _)) = map.iter().find(|(_, i)| u64::from(ino) == *i) else {
                return Err(Error::NeedInheritFd(ino));
            };
            // SAFETY: `fd` is only borrowed for the duplication; an fd
            // that is not open makes it fail.
            let b = unsafe { BorrowedFd::borrow_raw(fd) };
            let copy = rustix::io::fcntl_dupfd_cloexec(b, 3)
                .map_err(|e| Error::InheritFd(fd, ErrnoText(e)))?;
            self.objs.push(uapi::CrRestartObj {
                kind: uapi::CR_RESTART_OBJ_INHERIT,
                id,
                fd: copy.as_raw_fd(),
                pad: 0,
            });
            self._ends.push(copy);
        }
        Ok(())
    }
}

impl Pipes {
    /// Makes each FIFO of the image whose path was unlinked, `(id,
    /// capacity, path, mode)`: a FIFO at the path with the mode (the name
    /// must be free), opened `O_RDWR | O_NONBLOCK`, unlinked again, with
    /// the capacity; the kernel checks it is `<path> (deleted)`.
    pub fn deleted_fifos(&mut self, fifos: &[(u32, u32, Vec<u8>, u32)]) -> Result<()> {
        use rustix::fs::{chmodat, mkfifoat, stat, unlinkat, AtFlags, CWD};
        for (id, capacity, path, mode) in fifos {
            let (id, capacity) = (*id, *capacity);
            let why = |what: &'static str| {
                move |e: rustix::io::Errno| Error::DeletedFifo {
                    id,
                    path: String::from_utf8_lossy(path).into_owned(),
                    what,
                    errno: ErrnoText(e),
                }
            };
            let c = std::ffi::CString::new(path.clone())
                .map_err(|_| why("bad path")(rustix::io::Errno::INVAL))?;
            let m = Mode::from_raw_mode(*mode);
            mkfifoat(CWD, c.as_c_str(), m).map_err(why("cannot make it again"))?;
            let made = (|| {
                chmodat(CWD, c.as_c_str(), m, AtFlags::empty())?;
                let f = open(
                    c.as_c_str(),
                    OFlags::RDWR | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
                    Mode::empty(),
                )?;
                let (a, b) = (fstat(&f)?, stat(c.as_c_str())?);
                if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino) {
                    return Err(rustix::io::Errno::BUSY);
                }
                Ok(f)
            })();
            // Unlinked again whatever happened: it was never there.
            let gone = unlinkat(CWD, c.as_c_str(), AtFlags::empty());
            let f = made.map_err(why("cannot open it"))?;
            gone.map_err(why("cannot unlink it again"))?;
            let err = |e: rustix::io::Errno| Error::Pipe {
                id,
                capacity,
                errno: ErrnoText(e),
            };
            if fcntl_getpipe_size(&f).map_err(err)? != capacity as usize {
                fcntl_setpipe_size(&f, capacity as usize).map_err(err)?;
            }
            if fcntl_getpipe_size(&f).map_err(err)? != capacity as usize {
                return Err(err(rustix::io::Errno::INVAL));
            }
            self.objs.push(uapi::CrRestartObj {
                kind: uapi::CR_RESTART_OBJ_PIPE,
                id,
                fd: f.as_raw_fd(),
                pad: 0,
            });
            self._ends.push(f);
        }
        Ok(())
    }
}

/// The inode number of `pipe:[INO]`.
fn pipe_ino(s: &str) -> Option<u64> {
    s.strip_prefix("pipe:[")?.strip_suffix(']')?.parse().ok()
}

/// Parses `checkpoint --external pipe:[INO]`.
pub fn parse_external(s: &str) -> core::result::Result<u64, String> {
    pipe_ino(s).ok_or_else(|| format!("{s}: not pipe:[INODE]"))
}

/// Parses `restart --inherit-fd FD:pipe:[INO]`.
pub fn parse_inherit(s: &str) -> core::result::Result<(i32, u64), String> {
    let bad = || format!("{s}: not FD:pipe:[INODE]");
    let (fd, what) = s.split_once(':').ok_or_else(bad)?;
    let fd: i32 = fd.parse().map_err(|_| bad())?;
    if fd < 0 {
        return Err(bad());
    }
    Ok((fd, pipe_ino(what).ok_or_else(bad)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_external_and_inherit_fd() {
        assert_eq!(parse_external("pipe:[1234]"), Ok(1234));
        assert!(parse_external("pipe:1234").is_err());
        assert!(parse_external("socket:[1]").is_err());
        assert_eq!(parse_inherit("7:pipe:[99]"), Ok((7, 99)));
        assert!(parse_inherit("-1:pipe:[99]").is_err());
        assert!(parse_inherit("x:pipe:[99]").is_err());
        assert!(parse_inherit("7:pipe:[]").is_err());
    }
}
