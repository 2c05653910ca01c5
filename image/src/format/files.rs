// SPDX-License-Identifier: GPL-2.0

//! Open file descriptors ([`FileRec`]).

use super::*;
use zerocopy::little_endian::{U32, U64};

wire_head! {
    /// The fixed part of the [`FileRec`] payload on the wire; the path follows it.
    pub struct FileWire {
        /// [`FileRec::fd`].
        pub fd: U32,
        /// [`FileRec::kind`].
        pub kind: U32,
        /// [`FileRec::open_flags`].
        pub open_flags: U32,
        /// [`FileRec::fd_flags`].
        pub fd_flags: U32,
        /// [`FileRec::pos`].
        pub pos: U64,
        /// [`FileRec::id`].
        pub id: U32,
        /// [`FileRec::obj`].
        pub obj: U32,
    }
}

/// Size of the fixed part of the [`FileRec`] payload.
pub const FILE_FIXED: usize = core::mem::size_of::<FileWire>();

u32_enum! {
    /// How a file descriptor comes back.
    pub enum FileKind {
        /// Inherited from the restarting process (a terminal or pipe on fd 0-2).
        Inherit = 1,
        /// A regular file or a directory, or an `O_PATH` descriptor of a
        /// file of any type, reopened by path.
        Regular = 2,
        /// `/dev/null`.
        DevNull = 3,
        /// `/dev/zero`.
        DevZero = 4,
        /// An anonymous pipe's end ([`FileRec::obj`]: its [`Pipe`]).
        Pipe = 5,
        /// A FIFO's end, reopened by the path of its [`Pipe`] ([`FileRec::obj`]).
        Fifo = 6,
        /// A memfd ([`MemfdRec`]), reopened from the restored inode.
        Memfd = 7,
        /// A deleted regular file ([`DeletedRec`]), recreated and
        /// unlinked again.
        Deleted = 8,
        /// A unix domain socket ([`UnixSock`]), created again.
        Unix = 9,
        /// A TCP or UDP socket ([`Inet`], named by [`FileRec::obj`]).
        Inet = 10,
        /// An eventfd ([`EventfdRec`], named by [`FileRec::obj`]).
        Eventfd = 11,
        /// A timerfd ([`TimerfdRec`], named by [`FileRec::obj`]).
        Timerfd = 12,
        /// A signalfd ([`SignalfdRec`], named by [`FileRec::obj`]).
        Signalfd = 13,
        /// An inotify instance ([`Inotify`], named by [`FileRec::obj`]),
        /// made again with its watches.
        Inotify = 15,
        /// An epoll set ([`Epoll`], named by [`FileRec::obj`]), made
        /// again by crctl's helper with its watches.
        Epoll = 16,
    }
}

impl FileKind {
    /// Whether a description of this kind opens an object described by
    /// its own records ([`FileRec::obj`] names it), rather than a path.
    pub fn has_object(self) -> bool {
        match self {
            Self::Inherit | Self::Regular | Self::DevNull | Self::DevZero => false,
            Self::Pipe | Self::Fifo => true,
            Self::Unix => true,
            Self::Inet => true,
            Self::Inotify | Self::Epoll => true,
            Self::Memfd | Self::Deleted => true,
            Self::Eventfd | Self::Timerfd | Self::Signalfd => true,
        }
    }

    /// Name used by `crctl info`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Inherit => "inherit",
            Self::Regular => "regular",
            Self::DevNull => "devnull",
            Self::DevZero => "devzero",
            Self::Pipe => "pipe",
            Self::Fifo => "fifo",
            Self::Unix => "unix",
            Self::Inet => "inet",
            Self::Memfd => "memfd",
            Self::Deleted => "deleted",
            Self::Eventfd => "eventfd",
            Self::Timerfd => "timerfd",
            Self::Signalfd => "signalfd",
            Self::Inotify => "inotify",
            Self::Epoll => "epoll",
        }
    }
}

/// [`FileRec::fd_flags`]: close-on-exec.
pub const FD_CLOEXEC: u32 = 1;

/// Status flags a file is reopened with: `O_ACCMODE | O_APPEND | O_NONBLOCK
/// | O_DSYNC | O_DIRECT | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_NOATIME
/// | O_SYNC | O_PATH` (`O_PATH` since format 3: such a description is
/// reopened by path with `O_PATH`, whatever the file type). Never
/// `O_CREAT`, `O_TRUNC` or `O_EXCL`.
pub const FILE_OPEN_FLAGS: u32 = 0o3
    | 0o2000
    | 0o4000
    | 0o10000
    | 0o40000
    | 0o100000
    | 0o200000
    | 0o400000
    | 0o1000000
    | 0o4010000
    | 0o10000000;

/// One open file descriptor and the open file description it refers to.
///
/// Descriptors that share one open file description (made by `dup()`, or
/// inherited across `fork()`), in one process or several, carry the same
/// [`FileRec::id`] and identical description fields (`kind`, `open_flags`,
/// `pos`, `path`): restart opens the file once and installs it at each of
/// them, so they share an offset and status flags again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileRec<'a> {
    /// Descriptor number.
    pub fd: u32,
    /// Open file description, numbered from 1 across the image in order of
    /// first appearance.
    pub id: u32,
    /// [`FileKind`].
    pub kind: FileKind,
    /// `O_*` status flags (within [`FILE_OPEN_FLAGS`]).
    pub open_flags: u32,
    /// `FD_*` descriptor flags.
    pub fd_flags: u32,
    /// File position.
    pub pos: u64,
    /// The object the description opens, for kinds that have one
    /// ([`FileKind::has_object`]): its id among the objects of that kind,
    /// numbered from 1 across the image, whose record comes before the
    /// first file record naming it. Zero for the other kinds.
    pub obj: u32,
    /// Path (regular files), else empty.
    pub path: &'a [u8],
}

impl<'a> FileRec<'a> {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        let head = FileWire {
            fd: self.fd.into(),
            kind: (self.kind as u32).into(),
            open_flags: self.open_flags.into(),
            fd_flags: self.fd_flags.into(),
            pos: self.pos.into(),
            id: self.id.into(),
            obj: self.obj.into(),
        };
        encode_record(buf, RecordType::File, |w| {
            w.wire(&head);
            w.path(self.path);
        })
    }

    /// Decodes the payload.
    pub fn decode(p: &'a [u8]) -> FResult<Self> {
        let mut c = Cursor::new(p);
        let head = c.wire::<FileWire>()?;
        let fd = head.fd.get();
        let kind = FileKind::from_u32(head.kind.get()).ok_or(FormatError::BadField)?;
        let open_flags = head.open_flags.get();
        let fd_flags = head.fd_flags.get();
        let pos = head.pos.get();
        let id = head.id.get();
        let obj = head.obj.get();
        let path = c.path(true)?;
        c.finish()?;
        if id == 0 || (obj != 0) != kind.has_object() {
            return Err(FormatError::BadField);
        }
        if fd >= (1 << 20) || open_flags & !FILE_OPEN_FLAGS != 0 || fd_flags & !FD_CLOEXEC != 0 {
            return Err(FormatError::BadField);
        }
        if pos > i64::MAX as u64 {
            return Err(FormatError::BadField);
        }
        if (kind == FileKind::Regular) == path.is_empty() || (!path.is_empty() && path[0] != b'/') {
            return Err(FormatError::BadPath);
        }
        if kind == FileKind::Inherit && fd > 2 {
            return Err(FormatError::BadField);
        }
        Ok(FileRec {
            fd,
            id,
            kind,
            open_flags,
            fd_flags,
            pos,
            obj,
            path,
        })
    }
}

const _: () = assert!(FILE_FIXED == 32);

#[cfg(feature = "info")]
mod show {
    use super::super::info::{text, Info, Json};
    use super::*;

    fn open_flags_str(f: u32) -> String {
        let mut v = vec![match f & 3 {
            0 => "O_RDONLY",
            1 => "O_WRONLY",
            2 => "O_RDWR",
            _ => "O_ACCMODE",
        }];
        for (bit, name) in [
            (0o2000, "O_APPEND"),
            (0o4000, "O_NONBLOCK"),
            (0o40000, "O_DIRECT"),
            (0o200000, "O_DIRECTORY"),
            (0o400000, "O_NOFOLLOW"),
            (0o1000000, "O_NOATIME"),
            (0o10000000, "O_PATH"),
        ] {
            if f & bit != 0 {
                v.push(name);
            }
        }
        if f & 0o4010000 == 0o4010000 {
            v.push("O_SYNC");
        } else if f & 0o10000 != 0 {
            v.push("O_DSYNC");
        }
        v.join("|")
    }

    /// An element of `files` in `info --json`.
    #[derive(serde::Serialize)]
    struct FileJson {
        fd: u32,
        id: u32,
        kind: &'static str,
        path: String,
        flags: u32,
        pos: u64,
        cloexec: bool,
        /// The object it opens (a pipe...), 0 for none.
        obj: u32,
    }

    impl Info for FileRec<'_> {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            let f = self;
            let what = match f.kind {
                FileKind::Regular => text(f.path),
                k if k.has_object() => format!("[{} {}]", k.name(), f.obj),
                k => format!("[{}]", k.name()),
            };
            let what = if f.kind.has_object() {
                format!("[{} {}]", f.kind.name(), f.obj)
            } else {
                what
            };
            let pos = if matches!(
                f.kind,
                FileKind::Regular | FileKind::Memfd | FileKind::Deleted
            ) {
                format!(" pos {}", f.pos)
            } else {
                String::new()
            };
            l.push(format!(
                "  fd {}: file {} {} {what}{pos} {}{}",
                f.fd,
                f.id,
                f.kind.name(),
                open_flags_str(f.open_flags),
                if f.fd_flags & FD_CLOEXEC != 0 {
                    " cloexec"
                } else {
                    ""
                }
            ));
        }

        fn json(&self) -> Json {
            let f = self;
            Json::element(
                "files",
                FileJson {
                    fd: f.fd,
                    id: f.id,
                    kind: f.kind.name(),
                    path: text(f.path),
                    flags: f.open_flags,
                    pos: f.pos,
                    cloexec: f.fd_flags & 1 != 0,
                    obj: f.obj,
                },
            )
        }
    }
}
