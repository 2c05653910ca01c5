// SPDX-License-Identifier: GPL-2.0

//! Unix domain sockets ([`UnixSock`]) and the bytes queued in them
//! ([`UnixData`]).
//!
//! A socket is an object of the file table ([`FileKind::Unix`]): its
//! record comes before the first file record naming it. The two ends of a
//! connected pair name each other ([`UnixSock::peer`]); the first end to
//! appear is followed at once by its peer's record, then by the data
//! queued in the first end's receive queue, then by the peer's. A
//! listening socket is followed by the connections queued on it, not
//! accepted yet ([`UnixQueued`]), each with its client's record first if
//! that is its first appearance.

use super::codec::{decode_whole, encode_whole, wire_size};
use super::*;
use zerocopy::little_endian::U32;

/// Size of the [`UnixSock`] payload.
pub const UNIX_SOCK_PAYLOAD: usize = wire_size::<UnixSock>();
/// Most bytes of one [`UnixData`] record (a larger datagram spans several).
pub const MAX_UNIX_DATA: usize = 64 << 10;
/// Largest datagram an image may carry (its records together).
pub const MAX_UNIX_DGRAM: usize = 8 << 20;
/// Bytes of `sun_path`.
pub const UNIX_PATH_MAX: usize = 108;

/// `SOCK_STREAM`.
pub const SOCK_STREAM: u32 = 1;
/// `SOCK_DGRAM`.
pub const SOCK_DGRAM: u32 = 2;
/// `SOCK_SEQPACKET`.
pub const SOCK_SEQPACKET: u32 = 5;

/// [`UnixSock::shutdown`]: `RCV_SHUTDOWN`.
pub const UNIX_RCV_SHUTDOWN: u32 = 1;
/// [`UnixSock::shutdown`]: `SEND_SHUTDOWN`.
pub const UNIX_SEND_SHUTDOWN: u32 = 2;

/// [`UnixSock::flags`]: `SO_PASSCRED`.
pub const UNIX_PASSCRED: u32 = 1;
/// [`UnixSock::flags`]: `SO_PASSSEC`.
pub const UNIX_PASSSEC: u32 = 2;
/// [`UnixSock::flags`]: `SO_PASSPIDFD`.
pub const UNIX_PASSPIDFD: u32 = 4;
/// [`UnixSock::flags`]: `SO_PASSRIGHTS` (on by default).
pub const UNIX_PASSRIGHTS: u32 = 8;
/// [`UnixSock::flags`]: `SO_RCVBUF` was set ([`UnixSock::rcvbuf`] is kept).
pub const UNIX_RCVBUF_LOCK: u32 = 16;
/// [`UnixSock::flags`]: `SO_SNDBUF` was set ([`UnixSock::sndbuf`] is kept).
pub const UNIX_SNDBUF_LOCK: u32 = 32;
/// Every [`UnixSock::flags`] bit.
pub const UNIX_FLAGS: u32 = 63;

/// [`UnixData::flags`]: the last record of a datagram (every record of a
/// stream socket carries it).
pub const UNIX_DATA_EOR: u32 = 1;

u32_enum! {
    /// What a unix socket is doing.
    pub enum UnixState {
        /// Neither connected nor listening.
        Unconnected = 1,
        /// Connected to [`UnixSock::peer`].
        Connected = 2,
        /// Listening (stream and seqpacket).
        Listening = 3,
        /// Connected to a connection not accepted yet, queued on a
        /// listening socket of the image: a [`UnixQueued`] record names it
        /// (stream and seqpacket; no peer, name or data records).
        Connecting = 4,
    }
}

impl UnixState {
    /// Name used by `crctl info`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Unconnected => "unconnected",
            Self::Connected => "connected",
            Self::Listening => "listening",
            Self::Connecting => "connecting",
        }
    }
}

wire_struct! {
    /// A unix domain socket.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct UnixSock, wire UnixSockWire {
        /// Its id among the unix sockets of the image, from 1, in order of
        /// first appearance ([`FileRec::obj`] of its file).
        pub id: u32,
        /// [`SOCK_STREAM`], [`SOCK_DGRAM`] or [`SOCK_SEQPACKET`].
        pub ty: u32,
        /// [`UnixState`].
        pub state: u32,
        /// The id of the socket it is connected to, 0 for none. The ends of
        /// a pair name each other.
        pub peer: u32,
        /// `RCV_SHUTDOWN` and `SEND_SHUTDOWN` bits ([`UNIX_RCV_SHUTDOWN`]...).
        pub shutdown: u32,
        /// Option bits ([`UNIX_PASSCRED`]...).
        pub flags: u32,
        /// `SO_RCVBUF` as `getsockopt` returns it (with [`UNIX_RCVBUF_LOCK`]).
        pub rcvbuf: u32,
        /// `SO_SNDBUF` as `getsockopt` returns it (with [`UNIX_SNDBUF_LOCK`]).
        pub sndbuf: u32,
        /// `SO_PEEK_OFF`, -1 for none.
        pub peek_off: i32,
        /// Listening: the backlog.
        pub backlog: u32,
        /// `SO_RCVTIMEO` in microseconds, 0 for none.
        pub rcvtimeo_us: u64,
        /// `SO_SNDTIMEO` in microseconds, 0 for none.
        pub sndtimeo_us: u64,
        /// Length of [`UnixSock::addr`]: 0 unnamed, else the bytes of
        /// `sun_path` (a leading NUL for an abstract name).
        pub addr_len: u32,
        /// The [`UnixData`] records of its receive queue, which follow
        /// (after its peer's record for the first end of a pair, before
        /// the peer's own data records).
        pub data_records: u32,
        /// The address the socket is bound to; zero past `addr_len`.
        pub addr: [u8; UNIX_PATH_MAX],
        /// The process `SO_PEERCRED` names (the peer that connected, the
        /// process that made the pair, or for a listening socket the one
        /// that called `listen()`): its tgid, a process of the image; 0 for
        /// none (`SO_PEERCRED` gives pid 0, uid and gid -1).
        pub peer_pid: i32,
    }
}

/// Most microseconds of a socket timeout.
const MAX_TIMEO_US: u64 = 1 << 62;

impl UnixSock {
    /// The bound address.
    pub fn addr(&self) -> &[u8] {
        &self.addr[..(self.addr_len as usize).min(UNIX_PATH_MAX)]
    }

    /// The [`UnixState`] (validated by [`UnixSock::decode`]).
    pub fn state(&self) -> UnixState {
        UnixState::from_u32(self.state).unwrap_or(UnixState::Unconnected)
    }

    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_whole(buf, RecordType::UnixSock, *self)
    }

    /// Decodes the payload.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        let s: UnixSock = decode_whole(p)?;
        let state = UnixState::from_u32(s.state).ok_or(FormatError::BadField)?;
        let n = s.addr_len as usize;
        let bad = s.id == 0
            || !matches!(s.ty, SOCK_STREAM | SOCK_DGRAM | SOCK_SEQPACKET)
            || s.peer == s.id
            || (state == UnixState::Connected) != (s.peer != 0)
            || (state == UnixState::Listening && s.ty == SOCK_DGRAM)
            || (state == UnixState::Connecting
                && (s.ty == SOCK_DGRAM || s.addr_len != 0 || s.data_records != 0))
            || (state != UnixState::Listening && s.backlog != 0)
            || s.shutdown & !(UNIX_RCV_SHUTDOWN | UNIX_SEND_SHUTDOWN) != 0
            || s.flags & !UNIX_FLAGS != 0
            || s.rcvbuf > i32::MAX as u32
            || s.sndbuf > i32::MAX as u32
            || s.peek_off < -1
            || s.peer_pid < 0
            || s.backlog > 1 << 20
            || s.rcvtimeo_us > MAX_TIMEO_US
            || s.sndtimeo_us > MAX_TIMEO_US
            || n > UNIX_PATH_MAX
            || n == 1 && s.addr[0] == 0;
        if bad {
            return Err(FormatError::BadField);
        }
        if s.addr[n..].iter().any(|&b| b != 0) {
            return Err(FormatError::NonZeroPadding);
        }
        // A path name is a path without NULs; an abstract one is any bytes.
        if n > 0 && s.addr[0] != 0 && (s.addr[..n].contains(&0) || s.addr[0] != b'/') {
            return Err(FormatError::BadPath);
        }
        Ok(s)
    }
}

wire_head! {
    /// The fixed part of the [`UnixData`] payload on the wire; the bytes
    /// follow it, padded to 8.
    pub struct UnixDataWire {
        /// [`UnixData::id`].
        pub id: U32,
        /// [`UnixData::flags`].
        pub flags: U32,
        /// Number of bytes.
        pub len: U32,
        /// Padding: zero.
        pub pad0: U32,
    }
}

/// Size of the fixed part of the [`UnixData`] payload.
pub const UNIX_DATA_FIXED: usize = core::mem::size_of::<UnixDataWire>();

/// Bytes queued in a unix socket's receive queue, not yet received (and,
/// at checkpoint, peeked, never consumed), in queue order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnixData<'a> {
    /// The socket whose receive queue holds them.
    pub id: u32,
    /// [`UNIX_DATA_EOR`].
    pub flags: u32,
    /// The bytes.
    pub data: &'a [u8],
}

impl<'a> UnixData<'a> {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        let head = UnixDataWire {
            id: self.id.into(),
            flags: self.flags.into(),
            len: (self.data.len() as u32).into(),
            pad0: U32::ZERO,
        };
        encode_record(buf, RecordType::UnixData, |w| {
            w.wire(&head);
            w.bytes(self.data);
        })
    }

    /// Decodes the payload.
    pub fn decode(p: &'a [u8]) -> FResult<Self> {
        let mut c = Cursor::new(p);
        let h = c.wire::<UnixDataWire>()?;
        let len = h.len.get() as usize;
        if len > MAX_UNIX_DATA {
            return Err(FormatError::BadLength);
        }
        let data = c.bytes(len)?;
        c.finish()?;
        if h.pad0.get() != 0 {
            return Err(FormatError::NonZeroPadding);
        }
        let (id, flags) = (h.id.get(), h.flags.get());
        if id == 0 || flags & !UNIX_DATA_EOR != 0 {
            return Err(FormatError::BadField);
        }
        Ok(UnixData { id, flags, data })
    }
}

wire_struct! {
    /// A connection queued on a listening socket, not accepted yet, in
    /// queue order: it follows the listener's record (after the record of
    /// its client, if that is the client's first appearance). Its client
    /// connects to the listener again; the [`UnixData`] records that
    /// follow (naming the client) are the bytes the client sent, queued in
    /// the connection.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct UnixQueued, wire UnixQueuedWire {
        /// The listening socket ([`UnixState::Listening`]).
        pub listener: u32,
        /// The client ([`UnixState::Connecting`]), an earlier record.
        pub client: u32,
        /// The [`UnixData`] records that follow.
        pub data_records: u32,
        /// The process the connection's `SO_PEERCRED` names (the one that
        /// connected), as [`UnixSock::peer_pid`].
        pub peer_pid: i32,
    }
}

/// Size of the [`UnixQueued`] payload.
pub const UNIX_QUEUED_PAYLOAD: usize = wire_size::<UnixQueued>();

impl UnixQueued {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_whole(buf, RecordType::UnixQueued, *self)
    }

    /// Decodes the payload.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        let q: UnixQueued = decode_whole(p)?;
        if q.listener == 0 || q.client == 0 || q.listener == q.client || q.peer_pid < 0 {
            return Err(FormatError::BadField);
        }
        Ok(q)
    }
}

const _: () = assert!(UNIX_SOCK_PAYLOAD == 176);
const _: () = assert!(UNIX_QUEUED_PAYLOAD == 16);
const _: () = assert!(UNIX_DATA_FIXED == 16);

#[cfg(feature = "info")]
mod show {
    use super::super::info::{text, Info, Json};
    use super::*;

    fn type_name(ty: u32) -> &'static str {
        match ty {
            SOCK_STREAM => "stream",
            SOCK_DGRAM => "dgram",
            _ => "seqpacket",
        }
    }

    /// The address as `crctl info` shows it: a path, `@name` for an
    /// abstract one, empty for none.
    fn addr_text(a: &[u8]) -> String {
        match a.first() {
            Some(0) => format!("@{}", text(&a[1..])),
            _ => text(a),
        }
    }

    /// An element of `unix_sockets` in `info --json`.
    #[derive(serde::Serialize)]
    struct UnixJson {
        id: u32,
        #[serde(rename = "type")]
        ty: &'static str,
        state: &'static str,
        peer: u32,
        addr: String,
        shutdown: u32,
        flags: u32,
        rcvbuf: u32,
        sndbuf: u32,
        peek_off: i32,
        backlog: u32,
        rcvtimeo_us: u64,
        sndtimeo_us: u64,
        data_records: u32,
        peer_pid: i32,
    }

    impl Info for UnixSock {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            let s = self;
            let mut t = format!(
                "  unix socket {}: {} {}",
                s.id,
                type_name(s.ty),
                s.state().name()
            );
            if s.peer != 0 {
                t += &format!(" to {}", s.peer);
            }
            if s.addr_len != 0 {
                t += &format!(" addr {}", addr_text(s.addr()));
            }
            if s.state() == UnixState::Listening {
                t += &format!(" backlog {}", s.backlog);
            }
            if s.shutdown != 0 {
                t += &format!(" shutdown {}", s.shutdown);
            }
            if s.data_records != 0 {
                t += &format!(" queued {} records", s.data_records);
            }
            if s.peer_pid != 0 {
                t += &format!(" peercred pid {}", s.peer_pid);
            }
            for (bit, name) in [
                (UNIX_PASSCRED, " passcred"),
                (UNIX_PASSSEC, " passsec"),
                (UNIX_PASSPIDFD, " passpidfd"),
            ] {
                if s.flags & bit != 0 {
                    t += name;
                }
            }
            if s.flags & UNIX_PASSRIGHTS == 0 {
                t += " no-passrights";
            }
            if s.flags & UNIX_RCVBUF_LOCK != 0 {
                t += &format!(" rcvbuf {}", s.rcvbuf);
            }
            if s.flags & UNIX_SNDBUF_LOCK != 0 {
                t += &format!(" sndbuf {}", s.sndbuf);
            }
            l.push(t);
        }

        fn json(&self) -> Json {
            let s = self;
            Json::element(
                "unix_sockets",
                UnixJson {
                    id: s.id,
                    ty: type_name(s.ty),
                    state: s.state().name(),
                    peer: s.peer,
                    addr: addr_text(s.addr()),
                    shutdown: s.shutdown,
                    flags: s.flags,
                    rcvbuf: s.rcvbuf,
                    sndbuf: s.sndbuf,
                    peek_off: s.peek_off,
                    backlog: s.backlog,
                    rcvtimeo_us: s.rcvtimeo_us,
                    sndtimeo_us: s.sndtimeo_us,
                    data_records: s.data_records,
                    peer_pid: s.peer_pid,
                },
            )
        }
    }

    impl Info for UnixQueued {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            l.push(format!(
                "  unix connection queued on socket {} from socket {}: {} data records, peercred pid {}",
                self.listener, self.client, self.data_records, self.peer_pid
            ));
        }

        fn json(&self) -> Json {
            Json::None
        }
    }

    impl Info for UnixData<'_> {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            l.push(format!(
                "  unix data for socket {}: {} bytes{}",
                self.id,
                self.data.len(),
                if self.flags & UNIX_DATA_EOR != 0 {
                    ""
                } else {
                    " (continued)"
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

    fn pair_end() -> UnixSock {
        UnixSock {
            id: 1,
            ty: SOCK_STREAM,
            state: UnixState::Connected as u32,
            peer: 2,
            shutdown: UNIX_SEND_SHUTDOWN,
            flags: UNIX_PASSRIGHTS | UNIX_RCVBUF_LOCK,
            rcvbuf: 8192,
            sndbuf: 212992,
            peek_off: -1,
            backlog: 0,
            rcvtimeo_us: 1_500_000,
            sndtimeo_us: 0,
            addr_len: 0,
            data_records: 0,
            addr: [0; UNIX_PATH_MAX],
            peer_pid: 42,
        }
    }

    fn round(s: &UnixSock) -> FResult<UnixSock> {
        let mut buf = [0u8; 512];
        let n = s.encode(&mut buf).unwrap();
        assert_eq!(n, RECORD_HEADER_SIZE + UNIX_SOCK_PAYLOAD);
        UnixSock::decode(&buf[RECORD_HEADER_SIZE..n])
    }

    #[test]
    fn socket_round_trips_and_is_checked() {
        let s = pair_end();
        assert_eq!(round(&s), Ok(s));
        let mut named = s;
        named.addr[..5].copy_from_slice(b"/tmp/");
        named.addr_len = 5;
        assert_eq!(round(&named), Ok(named));
        let mut abs = s;
        abs.addr[..3].copy_from_slice(b"\0ab");
        abs.addr_len = 3;
        assert_eq!(round(&abs), Ok(abs));
        let bad: [fn(&mut UnixSock); 11] = [
            |s| s.id = 0,
            |s| s.peer_pid = -1,
            |s| s.ty = 3,
            |s| s.peer = 1,
            |s| s.peer = 0,
            |s| s.state = 5,
            |s| s.shutdown = 4,
            |s| s.flags = 64,
            |s| s.peek_off = -2,
            |s| s.addr_len = 109,
            |s| {
                s.state = UnixState::Listening as u32;
                s.peer = 0;
                s.ty = SOCK_DGRAM;
            },
        ];
        for f in bad {
            let mut b = s;
            f(&mut b);
            assert_eq!(round(&b), Err(FormatError::BadField), "{b:?}");
        }
        let mut junk = s;
        junk.addr[7] = 1;
        assert_eq!(round(&junk), Err(FormatError::NonZeroPadding));
        let mut rel = s;
        rel.addr[..2].copy_from_slice(b"ab");
        rel.addr_len = 2;
        assert_eq!(round(&rel), Err(FormatError::BadPath));
    }

    #[test]
    fn connecting_and_queued_are_checked() {
        let mut c = pair_end();
        c.state = UnixState::Connecting as u32;
        c.peer = 0;
        assert_eq!(round(&c), Ok(c));
        let mut named = c;
        named.addr[..2].copy_from_slice(b"\0a");
        named.addr_len = 2;
        assert_eq!(round(&named), Err(FormatError::BadField));
        let mut dg = c;
        dg.ty = SOCK_DGRAM;
        assert_eq!(round(&dg), Err(FormatError::BadField));
        let q = UnixQueued {
            listener: 1,
            client: 2,
            data_records: 3,
            ..Default::default()
        };
        let mut buf = [0u8; 64];
        let n = q.encode(&mut buf).unwrap();
        assert_eq!(UnixQueued::decode(&buf[RECORD_HEADER_SIZE..n]), Ok(q));
        let same = UnixQueued { client: 1, ..q };
        let n = same.encode(&mut buf).unwrap();
        assert_eq!(
            UnixQueued::decode(&buf[RECORD_HEADER_SIZE..n]),
            Err(FormatError::BadField)
        );
    }

    #[test]
    fn data_round_trips_and_is_checked() {
        let mut buf = vec![0u8; MAX_UNIX_DATA + 64];
        for len in [0usize, 1, 7, 8, 100, MAX_UNIX_DATA] {
            let bytes: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let d = UnixData {
                id: 3,
                flags: UNIX_DATA_EOR,
                data: &bytes,
            };
            let n = d.encode(&mut buf).unwrap();
            assert!(n <= RecordType::UnixData.max_len());
            assert_eq!(UnixData::decode(&buf[RECORD_HEADER_SIZE..n]), Ok(d));
        }
        let d = UnixData {
            id: 0,
            flags: 0,
            data: b"x",
        };
        let n = d.encode(&mut buf).unwrap();
        assert_eq!(
            UnixData::decode(&buf[RECORD_HEADER_SIZE..n]),
            Err(FormatError::BadField)
        );
    }
}
