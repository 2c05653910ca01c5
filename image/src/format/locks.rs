// SPDX-License-Identifier: GPL-2.0

//! File locks ([`LockRec`]) and the owner of an open file description's
//! signals ([`FileOwner`]): parts of a description, in the file table right
//! after the [`FileRec`] they belong to.

use super::codec::{decode_whole, encode_whole, wire_size};
use super::*;

/// Size of the [`LockRec`] payload.
pub const LOCK_PAYLOAD: usize = wire_size::<LockRec>();
/// Size of the [`FileOwner`] payload.
pub const FILE_OWNER_PAYLOAD: usize = wire_size::<FileOwner>();

/// The end of a lock that runs to the end of the file, however it grows
/// (`OFFSET_MAX`).
pub const LOCK_TO_EOF: u64 = i64::MAX as u64;
/// [`LockRec::ty`]: a shared lock (`F_RDLCK`, `LOCK_SH`).
pub const LOCK_READ: u32 = 0;
/// [`LockRec::ty`]: an exclusive lock (`F_WRLCK`, `LOCK_EX`).
pub const LOCK_WRITE: u32 = 1;

u32_enum! {
    /// Which kind of lock a [`LockRec`] is, and so who owns it.
    pub enum LockKind {
        /// `flock()`: owned by the open file description, whole file.
        Flock = 1,
        /// Classic POSIX `fcntl(F_SETLK)`: owned by the process (its file
        /// table), a byte range of the inode.
        Posix = 2,
        /// Open file description lock `fcntl(F_OFD_SETLK)`: owned by the
        /// description, a byte range.
        Ofd = 3,
    }
}

impl LockKind {
    /// Name used by `crctl info`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Flock => "flock",
            Self::Posix => "posix",
            Self::Ofd => "ofd",
        }
    }
}

wire_struct! {
    /// One lock held at checkpoint time, on the file [`LockRec::file`]
    /// names: the file record just before it. Flock and OFD locks belong to
    /// that description and follow its first file record in the image;
    /// POSIX locks belong to the process whose file table holds the record.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct LockRec, wire LockWire {
        /// [`FileRec::id`] of the description the lock is on.
        pub file: u32,
        /// [`LockKind`].
        pub kind: u32,
        /// [`LOCK_READ`] or [`LOCK_WRITE`].
        pub ty: u32,
        /// Flock locks: the process `/proc/locks` names as the holder (the
        /// one that called `flock()`), by its number in the checkpointer's
        /// pid namespace (0: it has none there). Restart names it again
        /// when it is a live process of the restored tree, else the
        /// restarting coordinator. 0 for other kinds.
        pub pid: i32,
        /// First byte locked.
        pub start: u64,
        /// Last byte locked, inclusive ([`LOCK_TO_EOF`]: to the end of the
        /// file). Flock locks: 0 to [`LOCK_TO_EOF`].
        pub end: u64,
    }
}

impl LockRec {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_whole(buf, RecordType::Lock, *self)
    }

    /// The lock's [`LockKind`] (valid in a decoded record).
    pub fn lock_kind(&self) -> LockKind {
        LockKind::from_u32(self.kind).unwrap_or(LockKind::Posix)
    }

    /// Decodes the payload.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        let l: LockRec = decode_whole(p)?;
        let kind = LockKind::from_u32(l.kind).ok_or(FormatError::BadField)?;
        if l.file == 0 || l.ty > LOCK_WRITE || l.start > l.end || l.end > LOCK_TO_EOF {
            return Err(FormatError::BadField);
        }
        if kind == LockKind::Flock && (l.start != 0 || l.end != LOCK_TO_EOF) {
            return Err(FormatError::BadField);
        }
        if l.pid < 0 || (kind != LockKind::Flock && l.pid != 0) {
            return Err(FormatError::BadField);
        }
        Ok(l)
    }
}

/// [`FileOwner::owner_type`]: a thread (`F_OWNER_TID`).
pub const OWNER_TID: u32 = 0;
/// [`FileOwner::owner_type`]: a process (`F_OWNER_PID`, `F_SETOWN` with a
/// positive number).
pub const OWNER_PID: u32 = 1;
/// [`FileOwner::owner_type`]: a process group (`F_OWNER_PGRP`, `F_SETOWN`
/// with a negative number).
pub const OWNER_PGRP: u32 = 2;
/// [`FileOwner::flags`]: the description has `O_ASYNC` set.
pub const OWNER_ASYNC: u32 = 1;

wire_struct! {
    /// Who receives the signals of an open file description (`F_SETOWN`,
    /// `F_SETOWN_EX`), which signal (`F_SETSIG`), and whether `O_ASYNC` is
    /// set: after the description's first file record, when any is set.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct FileOwner, wire FileOwnerWire {
        /// [`FileRec::id`] of the description.
        pub file: u32,
        /// [`OWNER_TID`], [`OWNER_PID`] or [`OWNER_PGRP`].
        pub owner_type: u32,
        /// The owner's number in the tree's pid namespace (a task or a
        /// process group of the tree); 0 for none.
        pub pid: i32,
        /// `F_SETSIG` signal, 0 for `SIGIO`.
        pub signum: u32,
        /// [`OWNER_ASYNC`].
        pub flags: u32,
        pad pad0,
    }
}

impl FileOwner {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_whole(buf, RecordType::FileOwner, *self)
    }

    /// Decodes the payload.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        let o: FileOwner = decode_whole(p)?;
        if o.file == 0
            || o.owner_type > OWNER_PGRP
            || o.pid < 0
            || o.signum > NSIG
            || o.flags & !OWNER_ASYNC != 0
        {
            return Err(FormatError::BadField);
        }
        Ok(o)
    }
}

const _: () = assert!(LOCK_PAYLOAD == 32);
const _: () = assert!(FILE_OWNER_PAYLOAD == 24);

#[cfg(feature = "info")]
mod show {
    use super::super::info::{Info, Json};
    use super::*;

    fn range(l: &LockRec) -> String {
        if l.end == LOCK_TO_EOF {
            format!("{}-EOF", l.start)
        } else {
            format!("{}-{}", l.start, l.end)
        }
    }

    fn ty_name(l: &LockRec) -> &'static str {
        match (l.lock_kind(), l.ty) {
            (LockKind::Flock, LOCK_READ) => "LOCK_SH",
            (LockKind::Flock, _) => "LOCK_EX",
            (_, LOCK_READ) => "F_RDLCK",
            _ => "F_WRLCK",
        }
    }

    /// An element of `locks` in `info --json`.
    #[derive(serde::Serialize)]
    struct LockJson {
        file: u32,
        kind: &'static str,
        #[serde(rename = "type")]
        ty: &'static str,
        start: u64,
        /// `null`: to the end of the file.
        end: Option<u64>,
        /// Flock locks: the holder `/proc/locks` names (`null`: none saved).
        #[serde(skip_serializing_if = "Option::is_none")]
        pid: Option<i32>,
    }

    impl Info for LockRec {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            let by = if self.pid != 0 {
                format!(" (held by pid {})", self.pid)
            } else {
                String::new()
            };
            l.push(format!(
                "    lock: file {} {} {} {}{by}",
                self.file,
                self.lock_kind().name(),
                ty_name(self),
                range(self)
            ));
        }

        fn json(&self) -> Json {
            Json::element(
                "locks",
                LockJson {
                    file: self.file,
                    kind: self.lock_kind().name(),
                    ty: ty_name(self),
                    start: self.start,
                    end: (self.end != LOCK_TO_EOF).then_some(self.end),
                    pid: (self.pid != 0).then_some(self.pid),
                },
            )
        }
    }

    fn owner_type_name(t: u32) -> &'static str {
        match t {
            OWNER_TID => "tid",
            OWNER_PGRP => "pgrp",
            _ => "pid",
        }
    }

    /// An element of `owners` in `info --json`.
    #[derive(serde::Serialize)]
    struct OwnerJson {
        file: u32,
        owner_type: &'static str,
        pid: i32,
        signum: u32,
        #[serde(rename = "async")]
        async_: bool,
    }

    impl Info for FileOwner {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            l.push(format!(
                "    owner: file {} {} {} signal {}{}",
                self.file,
                owner_type_name(self.owner_type),
                self.pid,
                self.signum,
                if self.flags & OWNER_ASYNC != 0 {
                    " O_ASYNC"
                } else {
                    ""
                }
            ));
        }

        fn json(&self) -> Json {
            Json::element(
                "owners",
                OwnerJson {
                    file: self.file,
                    owner_type: owner_type_name(self.owner_type),
                    pid: self.pid,
                    signum: self.signum,
                    async_: self.flags & OWNER_ASYNC != 0,
                },
            )
        }
    }
}
