// SPDX-License-Identifier: GPL-2.0

//! Pipes ([`Pipe`]) and the bytes buffered in them ([`PipeData`]).
//!
//! A pipe is an object that open file descriptions of kind
//! [`FileKind::Pipe`] open ([`FileRec::obj`] is its id). Its record comes
//! in the file table of the first process with a description of it, just
//! before that description's file record, followed by the pipe-data
//! records that carry its buffered bytes, [`Pipe::data_len`] in all, in
//! the order they are read.

use super::codec::{decode_whole, encode_whole, wire_size};
use super::*;
use zerocopy::little_endian::U32;

wire_struct! {
    /// An anonymous pipe whose every end is in the image.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct Pipe, wire PipeWire {
        /// Id among the pipes of the image, numbered from 1 in order of
        /// first appearance.
        pub id: u32,
        /// Capacity in bytes (`F_GETPIPE_SZ`): a multiple of the page size.
        pub capacity: u32,
        /// Bytes buffered, carried by the pipe-data records that follow.
        pub data_len: u64,
        /// Flags: none defined, zero.
        pub flags: u32,
        pad pad0,
    }
}

/// Size of the [`Pipe`] payload.
pub const PIPE_PAYLOAD: usize = wire_size::<Pipe>();

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

impl Pipe {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_whole(buf, RecordType::Pipe, *self)
    }

    /// Decodes and checks the payload (`page_size` from the header).
    pub fn decode(p: &[u8], page_size: u32) -> FResult<Self> {
        let r: Pipe = decode_whole(p)?;
        if r.id == 0 || r.flags != 0 {
            return Err(FormatError::BadField);
        }
        if r.capacity == 0
            || r.capacity > MAX_PIPE_CAPACITY
            || page_offset(u64::from(r.capacity), u64::from(page_size)) != 0
            || r.data_len > u64::from(r.capacity)
        {
            return Err(FormatError::BadField);
        }
        Ok(r)
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

const _: () = assert!(PIPE_PAYLOAD == 24 && PIPE_DATA_FIXED == 16);

#[cfg(feature = "info")]
mod show {
    use super::super::info::{Info, Json};
    use super::*;

    /// An element of `pipes` in `info --json`.
    #[derive(serde::Serialize)]
    struct PipeJson {
        id: u32,
        capacity: u32,
        data_len: u64,
    }

    impl Info for Pipe {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            l.push(format!(
                "  pipe {}: capacity {} bytes, {} bytes buffered",
                self.id, self.capacity, self.data_len
            ));
        }

        fn json(&self) -> Json {
            Json::element(
                "pipes",
                PipeJson {
                    id: self.id,
                    capacity: self.capacity,
                    data_len: self.data_len,
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
        let p = Pipe {
            id: 1,
            capacity: 65536,
            data_len: 10,
            flags: 0,
        };
        let mut b = [0u8; 64];
        let n = p.encode(&mut b).unwrap();
        assert_eq!(n, RECORD_HEADER_SIZE + PIPE_PAYLOAD);
        assert_eq!(Pipe::decode(&b[8..n], 4096), Ok(p));
        for bad in [
            Pipe { id: 0, ..p },
            Pipe { capacity: 100, ..p },
            Pipe { capacity: 0, ..p },
            Pipe {
                data_len: 65537,
                ..p
            },
            Pipe { flags: 1, ..p },
        ] {
            let n = bad.encode(&mut b).unwrap();
            assert_eq!(Pipe::decode(&b[8..n], 4096), Err(FormatError::BadField));
        }
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
