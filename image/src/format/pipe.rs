// SPDX-License-Identifier: GPL-2.0

//! Pipes ([`Pipe`]) and the bytes buffered in them ([`PipeData`]).
//!
//! A pipe is an object that open file descriptions of kind
//! [`FileKind::Pipe`] (an anonymous pipe) or [`FileKind::Fifo`] (a FIFO,
//! whose path the pipe record carries) open ([`FileRec::obj`] is its id). Its record comes
//! in the file table of the first process with a description of it, just
//! before that description's file record, followed by the pipe-data
//! records that carry its buffered bytes, [`Pipe::data_len`] in all, in
//! the order they are read.

use super::codec::{wire_size, Le};
use super::*;
use zerocopy::little_endian::U32;

wire_struct! {
    /// The fixed part of a [`Pipe`]: a pipe whose every end is in the
    /// image. The FIFO's path follows it ([`PIPE_FIFO`]), else an empty
    /// path.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct PipeHead, wire PipeWire {
        /// Id among the pipes of the image, numbered from 1 in order of
        /// first appearance.
        pub id: u32,
        /// Capacity in bytes (`F_GETPIPE_SZ`): a multiple of the page size.
        pub capacity: u32,
        /// Bytes buffered, carried by the pipe-data records that follow.
        pub data_len: u64,
        /// `PIPE_*` flags.
        pub flags: u32,
        /// An external pipe's inode number, as `/proc` shows it
        /// (`pipe:[INO]`), which `crctl restart --inherit-fd` names; else 0.
        pub ino: u32,
        /// A deleted FIFO's permission bits (`PIPE_DELETED`), else 0.
        pub mode: u32,
        pad pad0,
    }
}

/// [`PipeHead::flags`]: a FIFO, reopened by its path.
pub const PIPE_FIFO: u32 = 1;

/// [`PipeHead::flags`]: an external anonymous pipe (a party of it was
/// outside the tree, and the checkpoint was asked to record it by name):
/// its bytes are not saved ([`PipeHead::data_len`] is 0) and restart uses
/// the pipe the caller hands over for it (`--inherit-fd`).
pub const PIPE_EXTERNAL: u32 = 2;

/// [`PipeHead::flags`]: a FIFO whose path was unlinked (with
/// [`PIPE_FIFO`]): the path is the one it had; restart makes a FIFO there
/// with [`PipeHead::mode`], opens it and unlinks it again.
pub const PIPE_DELETED: u32 = 4;

/// Size of the fixed part of the [`Pipe`] payload.
pub const PIPE_FIXED: usize = wire_size::<PipeHead>();

/// A pipe (anonymous, or a FIFO with its path).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pipe<'a> {
    /// The fixed fields.
    pub head: PipeHead,
    /// A FIFO's path, else empty.
    pub path: &'a [u8],
}

/// Largest capacity a pipe record may declare (`F_SETPIPE_SZ` takes an
/// `int`; the kernel's own ceiling is lower).
pub const MAX_PIPE_CAPACITY: u32 = 1 << 30;

/// Most bytes one pipe-data record carries.
pub const MAX_PIPE_DATA: usize = 64 * 1024;

/// [`PipeData::flags`]: the bytes are one packet (`O_DIRECT` pipe): one
/// write at restart, so its boundary survives.
pub const PIPE_DATA_PACKET: u32 = 1;

wire_head! {
    /// The fixed part of the [`PipeData`] payload; the bytes follow it,
    /// padded to 8.
    pub struct PipeDataWire {
        /// [`PipeData::id`].
        pub id: U32,
        /// [`PipeData::flags`].
        pub flags: U32,
        /// Number of bytes that follow.
        pub len: U32,
        /// Padding: zero.
        pub pad0: U32,
    }
}

/// Size of the fixed part of the [`PipeData`] payload.
pub const PIPE_DATA_FIXED: usize = core::mem::size_of::<PipeDataWire>();

/// Bytes buffered in a pipe, in read order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipeData<'a> {
    /// The pipe's id.
    pub id: u32,
    /// `PIPE_DATA_*` bits.
    pub flags: u32,
    /// The bytes, 1 to [`MAX_PIPE_DATA`] of them.
    pub data: &'a [u8],
}

impl<'a> Pipe<'a> {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_record(buf, RecordType::Pipe, |w| {
            w.wire(&self.head.to_le());
            w.path(self.path);
        })
    }

    /// Decodes and checks the payload (`page_size` from the header).
    pub fn decode(p: &'a [u8], page_size: u32) -> FResult<Self> {
        let mut c = Cursor::new(p);
        let w = c.wire::<PipeWire>()?;
        if !PipeHead::padding_is_zero(w) {
            return Err(FormatError::NonZeroPadding);
        }
        let r = PipeHead::from_le(w);
        let path = c.path(true)?;
        c.finish()?;
        if r.id == 0 || r.flags & !(PIPE_FIFO | PIPE_EXTERNAL | PIPE_DELETED) != 0 {
            return Err(FormatError::BadField);
        }
        // Only a deleted FIFO has a mode (permission bits only).
        let deleted = r.flags & PIPE_DELETED != 0;
        if (deleted && (r.flags & PIPE_FIFO == 0 || r.mode & !0o7777 != 0))
            || (!deleted && r.mode != 0)
        {
            return Err(FormatError::BadField);
        }
        // An external pipe is anonymous, named by its inode, and carries
        // no bytes; no other pipe has an inode number.
        let external = r.flags & PIPE_EXTERNAL != 0;
        if external != (r.ino != 0) || (external && (r.flags & PIPE_FIFO != 0 || r.data_len != 0)) {
            return Err(FormatError::BadField);
        }
        if (r.flags & PIPE_FIFO != 0) == path.is_empty() || (!path.is_empty() && path[0] != b'/') {
            return Err(FormatError::BadPath);
        }
        if r.capacity == 0
            || r.capacity > MAX_PIPE_CAPACITY
            || page_offset(u64::from(r.capacity), u64::from(page_size)) != 0
            || r.data_len > u64::from(r.capacity)
        {
            return Err(FormatError::BadField);
        }
        Ok(Pipe { head: r, path })
    }

    /// Whether it is a FIFO.
    pub fn is_fifo(&self) -> bool {
        self.head.flags & PIPE_FIFO != 0
    }

    /// Whether it is a FIFO whose path was unlinked ([`PIPE_DELETED`]).
    pub fn is_deleted(&self) -> bool {
        self.head.flags & PIPE_DELETED != 0
    }

    /// Whether it is an external pipe ([`PIPE_EXTERNAL`]).
    pub fn is_external(&self) -> bool {
        self.head.flags & PIPE_EXTERNAL != 0
    }
}

impl<'a> PipeData<'a> {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        let head = PipeDataWire {
            id: self.id.into(),
            flags: self.flags.into(),
            len: (self.data.len() as u32).into(),
            pad0: U32::ZERO,
        };
        encode_record(buf, RecordType::PipeData, |w| {
            w.wire(&head);
            w.bytes(self.data);
        })
    }

    /// Decodes and checks the payload.
    pub fn decode(p: &'a [u8]) -> FResult<Self> {
        let mut c = Cursor::new(p);
        let head = c.wire::<PipeDataWire>()?;
        if head.pad0.get() != 0 {
            return Err(FormatError::NonZeroPadding);
        }
        let len = head.len.get() as usize;
        if len == 0 || len > MAX_PIPE_DATA {
            return Err(FormatError::BadLength);
        }
        let data = c.bytes(len)?;
        let pad = c.bytes(padded(len) - len)?;
        if pad.iter().any(|&b| b != 0) {
            return Err(FormatError::NonZeroPadding);
        }
        c.finish()?;
        let (id, flags) = (head.id.get(), head.flags.get());
        if id == 0 || flags & !PIPE_DATA_PACKET != 0 {
            return Err(FormatError::BadField);
        }
        Ok(PipeData { id, flags, data })
    }
}

const _: () = assert!(PIPE_FIXED == 32 && PIPE_DATA_FIXED == 16);

#[cfg(feature = "info")]
mod show {
    use super::super::info::{text, Info, Json};
    use super::*;

    /// An element of `pipes` in `info --json`.
    #[derive(serde::Serialize)]
    struct PipeJson {
        id: u32,
        capacity: u32,
        data_len: u64,
        fifo: bool,
        path: String,
        /// A FIFO whose path was unlinked: recreated there, unlinked again.
        deleted: bool,
        /// Its permission bits (deleted FIFO), else 0.
        mode: u32,
        /// An external pipe's inode number (`pipe:[INO]`), else absent.
        #[serde(skip_serializing_if = "Option::is_none")]
        external: Option<u32>,
    }

    impl Info for Pipe<'_> {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            let h = &self.head;
            if self.is_external() {
                l.push(format!(
                    "  pipe {}: external pipe:[{}] (restart needs --inherit-fd FD:pipe:[{}])",
                    h.id, h.ino, h.ino
                ));
                return;
            }
            l.push(format!(
                "  {} {}: capacity {} bytes, {} bytes buffered{}",
                if self.is_fifo() { "fifo" } else { "pipe" },
                h.id,
                h.capacity,
                h.data_len,
                if self.is_deleted() {
                    format!(" {} (deleted, mode {:o})", text(self.path), h.mode)
                } else if self.is_fifo() {
                    format!(" {}", text(self.path))
                } else {
                    String::new()
                }
            ));
        }

        fn json(&self) -> Json {
            let h = &self.head;
            Json::element(
                "pipes",
                PipeJson {
                    id: h.id,
                    capacity: h.capacity,
                    data_len: h.data_len,
                    fifo: self.is_fifo(),
                    path: text(self.path),
                    deleted: self.is_deleted(),
                    mode: h.mode,
                    external: self.is_external().then_some(h.ino),
                },
            )
        }
    }

    impl Info for PipeData<'_> {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            l.push(format!(
                "    pipe {} data: {} bytes{}",
                self.id,
                self.data.len(),
                if self.flags & PIPE_DATA_PACKET != 0 {
                    " (packet)"
                } else {
                    ""
                }
            ));
        }

        fn json(&self) -> Json {
            Json::None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipe_round_trip_and_limits() {
        let h = PipeHead {
            id: 1,
            capacity: 65536,
            data_len: 10,
            flags: 0,
            ino: 0,
            mode: 0,
        };
        let p = Pipe { head: h, path: b"" };
        let mut b = [0u8; 128];
        let n = p.encode(&mut b).unwrap();
        assert_eq!(n, RECORD_HEADER_SIZE + PIPE_FIXED + 8);
        assert_eq!(Pipe::decode(&b[8..n], 4096), Ok(p));
        let f = Pipe {
            head: PipeHead {
                flags: PIPE_FIFO,
                ..h
            },
            path: b"/tmp/fifo",
        };
        let n = f.encode(&mut b).unwrap();
        assert_eq!(Pipe::decode(&b[8..n], 4096), Ok(f));
        for bad in [
            PipeHead { id: 0, ..h },
            PipeHead { capacity: 100, ..h },
            PipeHead { capacity: 0, ..h },
            PipeHead {
                data_len: 65537,
                ..h
            },
            PipeHead { flags: 8, ..h },
            PipeHead { flags: 4, ..h },
            PipeHead { mode: 0o600, ..h },
            PipeHead { ino: 7, ..h },
            PipeHead {
                flags: PIPE_EXTERNAL,
                ..h
            },
            PipeHead {
                flags: PIPE_EXTERNAL,
                ino: 7,
                ..h
            },
            PipeHead {
                flags: PIPE_EXTERNAL | PIPE_FIFO,
                ino: 7,
                data_len: 0,
                ..h
            },
        ] {
            let n = Pipe {
                head: bad,
                path: b"",
            }
            .encode(&mut b)
            .unwrap();
            assert_eq!(Pipe::decode(&b[8..n], 4096), Err(FormatError::BadField));
        }
        // A FIFO has a path, a pipe none.
        let n = Pipe {
            head: h,
            path: b"/x",
        }
        .encode(&mut b)
        .unwrap();
        assert_eq!(Pipe::decode(&b[8..n], 4096), Err(FormatError::BadPath));
        let n = Pipe { path: b"", ..f }.encode(&mut b).unwrap();
        assert_eq!(Pipe::decode(&b[8..n], 4096), Err(FormatError::BadPath));
        // An external pipe: its inode, no bytes.
        let e = Pipe {
            head: PipeHead {
                flags: PIPE_EXTERNAL,
                ino: 1234,
                data_len: 0,
                ..h
            },
            path: b"",
        };
        let n = e.encode(&mut b).unwrap();
        assert_eq!(Pipe::decode(&b[8..n], 4096), Ok(e));
        assert!(e.is_external());
        // A deleted FIFO: its path and permission bits.
        let d = Pipe {
            head: PipeHead {
                flags: PIPE_FIFO | PIPE_DELETED,
                mode: 0o640,
                ..h
            },
            path: b"/tmp/gone",
        };
        let n = d.encode(&mut b).unwrap();
        assert_eq!(Pipe::decode(&b[8..n], 4096), Ok(d));
        let n = Pipe {
            head: PipeHead {
                mode: 0o10640,
                ..d.head
            },
            ..d
        }
        .encode(&mut b)
        .unwrap();
        assert_eq!(Pipe::decode(&b[8..n], 4096), Err(FormatError::BadField));
    }

    #[test]
    fn pipe_data_round_trip_and_limits() {
        let d = PipeData {
            id: 2,
            flags: PIPE_DATA_PACKET,
            data: b"hello",
        };
        let mut b = [0u8; 64];
        let n = d.encode(&mut b).unwrap();
        assert_eq!(n, 8 + 16 + 8);
        assert_eq!(PipeData::decode(&b[8..n]), Ok(d));
        b[8 + 16 + 6] = 1;
        assert_eq!(PipeData::decode(&b[8..n]), Err(FormatError::NonZeroPadding));
        let n = PipeData { flags: 2, ..d }.encode(&mut b).unwrap();
        assert_eq!(PipeData::decode(&b[8..n]), Err(FormatError::BadField));
        let n = PipeData { data: b"", ..d }.encode(&mut b).unwrap();
        assert_eq!(PipeData::decode(&b[8..n]), Err(FormatError::BadLength));
    }
}
