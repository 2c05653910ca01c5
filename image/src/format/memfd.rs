// SPDX-License-Identifier: GPL-2.0

//! Files with no name to reopen: memfds ([`MemfdRec`]) and deleted
//! regular files ([`DeletedRec`]), each followed by its contents in
//! [`FileData`] records.
//!
//! Both are objects ([`FileKind::has_object`]): the inode, which several
//! open file descriptions (fds made by `dup()`, or reopened through
//! `/proc/self/fd`) can open. The object record declares how many bytes of
//! contents follow (`data`); exactly that many follow, in [`FileData`]
//! records at increasing offsets inside the file's size: the parts of the
//! file that hold data, as `SEEK_DATA` finds them, so that holes stay holes.

use super::*;
use zerocopy::little_endian::{U32, U64};

/// Most bytes of contents one memfd or deleted file may carry
/// ([`MemfdRec::data`], [`DeletedRec::data`]): a larger one is refused at
/// checkpoint.
pub const MAX_FILE_DATA: u64 = 64 << 20;
/// Most bytes of contents in one [`FileData`] record.
pub const FILE_DATA_CHUNK: usize = 64 << 10;
/// Longest memfd name (`NAME_MAX` minus `"memfd:"`).
pub const MAX_MEMFD_NAME: usize = 249;

/// `F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
/// F_SEAL_FUTURE_WRITE | F_SEAL_EXEC`: the seals an image may carry.
pub const MEMFD_SEALS: u32 = 0x3f;

wire_head! {
    /// The fixed part of a [`MemfdRec`] or [`DeletedRec`] payload; the name
    /// or path follows it.
    pub struct AnonFileWire {
        /// Object id.
        pub id: U32,
        /// [`MemfdRec::seals`], or [`DeletedRec::mode`].
        pub word: U32,
        /// `i_size`.
        pub size: U64,
        /// Bytes of contents that follow.
        pub data: U64,
        /// [`MemfdRec::mode`]; zero for a deleted file.
        pub mode: U32,
        /// Padding: zero.
        pub pad: U32,
    }
}

/// Size of [`AnonFileWire`].
pub const ANON_FILE_FIXED: usize = core::mem::size_of::<AnonFileWire>();
const _: () = assert!(ANON_FILE_FIXED == 32);

/// A memfd: the inode `memfd_create()` made, which the open file
/// descriptions of [`FileKind::Memfd`] open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemfdRec<'a> {
    /// Object id among memfds, numbered from 1 across the image.
    pub id: u32,
    /// `F_GET_SEALS` (within [`MEMFD_SEALS`]).
    pub seals: u32,
    /// Size in bytes.
    pub size: u64,
    /// Bytes of contents that follow in [`FileData`] records.
    pub data: u64,
    /// Permission bits of the inode (`0777` unless changed).
    pub mode: u32,
    /// The name given to `memfd_create()` (without `"memfd:"`).
    pub name: &'a [u8],
}

/// A deleted regular file (unlinked while open): the inode, which the
/// open file descriptions of [`FileKind::Deleted`] open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeletedRec<'a> {
    /// Object id among deleted files, numbered from 1 across the image.
    pub id: u32,
    /// Permission bits (`07777`).
    pub mode: u32,
    /// Size in bytes.
    pub size: u64,
    /// Bytes of contents that follow in [`FileData`] records.
    pub data: u64,
    /// The path it had, without `" (deleted)"`: restart recreates it
    /// there (or next to it) and unlinks it again.
    pub path: &'a [u8],
}

fn encode_anon(buf: &mut [u8], ty: RecordType, head: AnonFileWire, name: &[u8]) -> Option<usize> {
    encode_record(buf, ty, |w| {
        w.wire(&head);
        w.path(name);
    })
}

fn decode_anon(p: &[u8], allow_empty: bool) -> FResult<(AnonFileWire, &[u8])> {
    let mut c = Cursor::new(p);
    let h = c.wire::<AnonFileWire>()?;
    let head = AnonFileWire {
        id: h.id,
        word: h.word,
        size: h.size,
        data: h.data,
        mode: h.mode,
        pad: h.pad,
    };
    let name = c.path(allow_empty)?;
    c.finish()?;
    if head.pad.get() != 0 {
        return Err(FormatError::NonZeroPadding);
    }
    let (size, data) = (head.size.get(), head.data.get());
    if head.id.get() == 0 || size > i64::MAX as u64 || data > size || data > MAX_FILE_DATA {
        return Err(FormatError::BadField);
    }
    Ok((head, name))
}

impl<'a> MemfdRec<'a> {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        let head = AnonFileWire {
            id: self.id.into(),
            word: self.seals.into(),
            size: self.size.into(),
            data: self.data.into(),
            mode: self.mode.into(),
            pad: 0.into(),
        };
        encode_anon(buf, RecordType::Memfd, head, self.name)
    }

    /// Decodes the payload.
    pub fn decode(p: &'a [u8]) -> FResult<Self> {
        let (h, name) = decode_anon(p, true)?;
        if h.word.get() & !MEMFD_SEALS != 0 || h.mode.get() & !0o7777 != 0 {
            return Err(FormatError::BadField);
        }
        if name.len() > MAX_MEMFD_NAME || name.contains(&b'/') {
            return Err(FormatError::BadPath);
        }
        Ok(MemfdRec {
            id: h.id.get(),
            seals: h.word.get(),
            size: h.size.get(),
            data: h.data.get(),
            mode: h.mode.get(),
            name,
        })
    }
}

impl<'a> DeletedRec<'a> {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        let head = AnonFileWire {
            id: self.id.into(),
            word: self.mode.into(),
            size: self.size.into(),
            data: self.data.into(),
            mode: 0.into(),
            pad: 0.into(),
        };
        encode_anon(buf, RecordType::Deleted, head, self.path)
    }

    /// Decodes the payload.
    pub fn decode(p: &'a [u8]) -> FResult<Self> {
        let (h, path) = decode_anon(p, false)?;
        if h.word.get() & !0o7777 != 0 || h.mode.get() != 0 {
            return Err(FormatError::BadField);
        }
        if path[0] != b'/' || path.ends_with(b"/") {
            return Err(FormatError::BadPath);
        }
        Ok(DeletedRec {
            id: h.id.get(),
            mode: h.word.get(),
            size: h.size.get(),
            data: h.data.get(),
            path,
        })
    }
}

wire_head! {
    /// The fixed part of a [`FileData`] payload; the bytes follow it.
    pub struct FileDataWire {
        /// [`FileData::offset`].
        pub offset: U64,
        /// Number of bytes.
        pub len: U32,
        /// Padding: zero.
        pub pad: U32,
    }
}

/// Size of [`FileDataWire`].
pub const FILE_DATA_FIXED: usize = core::mem::size_of::<FileDataWire>();

/// Contents of the memfd or deleted file whose record comes before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileData<'a> {
    /// Offset in the file.
    pub offset: u64,
    /// The bytes there (at most [`FILE_DATA_CHUNK`], at least one).
    pub bytes: &'a [u8],
}

impl<'a> FileData<'a> {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        let head = FileDataWire {
            offset: self.offset.into(),
            len: (self.bytes.len() as u32).into(),
            pad: 0.into(),
        };
        encode_record(buf, RecordType::FileData, |w| {
            w.wire(&head);
            w.bytes(self.bytes);
        })
    }

    /// Decodes the payload.
    pub fn decode(p: &'a [u8]) -> FResult<Self> {
        let mut c = Cursor::new(p);
        let h = c.wire::<FileDataWire>()?;
        if h.pad.get() != 0 {
            return Err(FormatError::NonZeroPadding);
        }
        let len = h.len.get() as usize;
        if len == 0 || len > FILE_DATA_CHUNK {
            return Err(FormatError::BadLength);
        }
        let bytes = c.bytes(len)?;
        c.finish()?;
        Ok(FileData {
            offset: h.offset.get(),
            bytes,
        })
    }
}

/// What the [`Validator`] keeps of the object whose contents are being
/// read: its size, the bytes still declared, and where the last chunk
/// ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DataLeft {
    /// The object's size.
    pub size: u64,
    /// Bytes of contents still to come.
    pub left: u64,
    /// End of the last chunk.
    pub end: u64,
}

impl DataLeft {
    /// Checks a chunk against what is left, and takes it.
    pub fn take(&mut self, d: &FileData<'_>) -> FResult<()> {
        let len = d.bytes.len() as u64;
        let end = d.offset.checked_add(len).ok_or(FormatError::BadField)?;
        if len > self.left || d.offset < self.end || end > self.size {
            return Err(FormatError::BadField);
        }
        self.left -= len;
        self.end = end;
        Ok(())
    }
}

#[cfg(feature = "info")]
mod show {
    use super::super::info::{text, Info, Json};
    use super::*;

    /// An element of `file_objects` in `info --json`.
    #[derive(serde::Serialize)]
    struct ObjJson {
        r#type: &'static str,
        id: u32,
        name: String,
        size: u64,
        data: u64,
        mode: u32,
        seals: u32,
    }

    fn seals_str(s: u32) -> String {
        let v: Vec<&str> = [
            (1, "seal"),
            (2, "shrink"),
            (4, "grow"),
            (8, "write"),
            (0x10, "future-write"),
            (0x20, "exec"),
        ]
        .iter()
        .filter(|(b, _)| s & b != 0)
        .map(|(_, n)| *n)
        .collect();
        if v.is_empty() {
            "none".into()
        } else {
            v.join(",")
        }
    }

    impl Info for MemfdRec<'_> {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            l.push(format!(
                "  memfd {}: \"{}\" size {} data {} mode {:o} seals {}",
                self.id,
                text(self.name),
                self.size,
                self.data,
                self.mode,
                seals_str(self.seals)
            ));
        }

        fn json(&self) -> Json {
            Json::element(
                "file_objects",
                ObjJson {
                    r#type: "memfd",
                    id: self.id,
                    name: text(self.name),
                    size: self.size,
                    data: self.data,
                    mode: self.mode,
                    seals: self.seals,
                },
            )
        }
    }

    impl Info for DeletedRec<'_> {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            l.push(format!(
                "  deleted file {}: {} size {} data {} mode {:o}",
                self.id,
                text(self.path),
                self.size,
                self.data,
                self.mode
            ));
        }

        fn json(&self) -> Json {
            Json::element(
                "file_objects",
                ObjJson {
                    r#type: "deleted",
                    id: self.id,
                    name: text(self.path),
                    size: self.size,
                    data: self.data,
                    mode: self.mode,
                    seals: 0,
                },
            )
        }
    }

    impl Info for FileData<'_> {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            l.push(format!(
                "    data at {}: {} bytes",
                self.offset,
                self.bytes.len()
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
    fn memfd_round_trip() {
        let r = MemfdRec {
            id: 1,
            seals: 8 | 1,
            size: 12288,
            data: 4096,
            mode: 0o777,
            name: b"buf",
        };
        let mut b = [0u8; 128];
        let n = r.encode(&mut b).unwrap();
        assert_eq!(MemfdRec::decode(&b[8..n]).unwrap(), r);
        let bad = MemfdRec { data: 20000, ..r };
        let n = bad.encode(&mut b).unwrap();
        assert!(MemfdRec::decode(&b[8..n]).is_err());
        let bad = MemfdRec { seals: 0x40, ..r };
        let n = bad.encode(&mut b).unwrap();
        assert!(MemfdRec::decode(&b[8..n]).is_err());
        let bad = MemfdRec { name: b"a/b", ..r };
        let n = bad.encode(&mut b).unwrap();
        assert!(MemfdRec::decode(&b[8..n]).is_err());
    }

    #[test]
    fn deleted_round_trip() {
        let r = DeletedRec {
            id: 2,
            mode: 0o600,
            size: 10,
            data: 10,
            path: b"/tmp/x",
        };
        let mut b = [0u8; 128];
        let n = r.encode(&mut b).unwrap();
        assert_eq!(DeletedRec::decode(&b[8..n]).unwrap(), r);
        let bad = DeletedRec {
            path: b"tmp/x",
            ..r
        };
        let n = bad.encode(&mut b).unwrap();
        assert!(DeletedRec::decode(&b[8..n]).is_err());
    }

    #[test]
    fn data_chunks() {
        let bytes = [7u8; 100];
        let d = FileData {
            offset: 4096,
            bytes: &bytes,
        };
        let mut b = [0u8; 256];
        let n = d.encode(&mut b).unwrap();
        assert_eq!(FileData::decode(&b[8..n]).unwrap(), d);
        let mut left = DataLeft {
            size: 8192,
            left: 200,
            end: 0,
        };
        left.take(&d).unwrap();
        // Not before the last chunk's end, nor past the size or the total.
        assert!(left.take(&d).is_err());
        let late = FileData {
            offset: 8100,
            bytes: &bytes,
        };
        assert!(left.take(&late).is_err());
        let ok = FileData {
            offset: 5000,
            bytes: &bytes,
        };
        left.take(&ok).unwrap();
        assert_eq!(left.left, 0);
        assert!(left
            .take(&FileData {
                offset: 6000,
                bytes: &bytes[..1]
            })
            .is_err());
    }
}
