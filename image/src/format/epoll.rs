// SPDX-License-Identifier: GPL-2.0

//! Event notification descriptors: inotify instances ([`Inotify`]) with
//! their watches ([`InotifyWatch`]), and the parsers of what the kernel
//! prints of an epoll set or an inotify instance in `/proc/PID/fdinfo`
//! ([`epoll_fdinfo`], [`inotify_fdinfo`]), which is how the module reads
//! their state (`struct eventpoll` and inotify's marks are private to
//! their source files).
//!
//! An inotify instance is an object that one open file description of
//! kind [`FileKind::Inotify`] opens ([`FileRec::obj`] is its id): its
//! record comes in the file table of the first process with a descriptor
//! of it, just before that file record, followed by one watch record per
//! watch in increasing watch descriptor order, [`InotifyHead::watches`]
//! in all.

use super::codec::{decode_whole, encode_whole, wire_size, Le};
use super::*;

// ------------------------------------------------------------ fdinfo

/// One watch of an epoll set, as its fdinfo line says
/// (`tfd: %8d events: %8x data: %16llx  pos:%lli ino:%llx sdev:%x`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct EpollWatchInfo {
    /// The fd number the watch was added with (the epitem keeps it even
    /// when that fd is closed).
    pub tfd: i32,
    /// The events mask, with `EPOLLET`, `EPOLLONESHOT`... bits.
    pub events: u32,
    /// `epoll_data`.
    pub data: u64,
    /// The watched file's position.
    pub pos: i64,
    /// The watched file's inode number.
    pub ino: u64,
    /// The watched file's superblock device (kernel `dev_t` encoding).
    pub sdev: u32,
}

/// One watch of an inotify instance, as its fdinfo line says
/// (`inotify wd:%x ino:%llx sdev:%x mask:%x ignored_mask:0 ...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct InotifyWatchInfo {
    /// Watch descriptor.
    pub wd: i32,
    /// The watched inode's number.
    pub ino: u64,
    /// Its superblock device (kernel `dev_t` encoding).
    pub sdev: u32,
    /// The user mask (`IN_*` events and `IN_EXCL_UNLINK`/`IN_ONESHOT`).
    pub mask: u32,
}

/// The value after `key` in `line` (up to the next space), where `key`
/// starts the line or follows a space; spaces after `key` are skipped.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let mut from = 0;
    loop {
        let at = from + line[from..].find(key)?;
        if at == 0 || line.as_bytes()[at - 1] == b' ' {
            let rest = line[at + key.len()..].trim_start_matches(' ');
            return Some(rest.split(' ').next().unwrap_or(""));
        }
        from = at + key.len();
    }
}

fn hex_u64(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

fn hex_u32(s: &str) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// The watches of an epoll set from its fdinfo text (the `pos:`,
/// `flags:`, `mnt_id:` and `ino:` lines of the file itself are skipped):
/// `Err(line number)` for a `tfd:` line that does not parse.
pub fn epoll_fdinfo(text: &str) -> impl Iterator<Item = Result<EpollWatchInfo, usize>> + '_ {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with("tfd:"))
        .map(|(n, l)| {
            let w = (|| {
                Some(EpollWatchInfo {
                    tfd: field(l, "tfd:")?.parse().ok()?,
                    events: hex_u32(field(l, "events:")?)?,
                    data: hex_u64(field(l, "data:")?)?,
                    pos: field(l, "pos:")?.parse().ok()?,
                    ino: hex_u64(field(l, "ino:")?)?,
                    sdev: hex_u32(field(l, "sdev:")?)?,
                })
            })();
            w.ok_or(n + 1)
        })
}

/// The watches of an inotify instance from its fdinfo text: `Err(line
/// number)` for an `inotify` line that does not parse.
pub fn inotify_fdinfo(text: &str) -> impl Iterator<Item = Result<InotifyWatchInfo, usize>> + '_ {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with("inotify "))
        .map(|(n, l)| {
            let w = (|| {
                let wd = hex_u32(field(l, "wd:")?)?;
                Some(InotifyWatchInfo {
                    wd: i32::try_from(wd).ok()?,
                    ino: hex_u64(field(l, "ino:")?)?,
                    sdev: hex_u32(field(l, "sdev:")?)?,
                    mask: hex_u32(field(l, "mask:")?)?,
                })
            })();
            w.ok_or(n + 1)
        })
}

/// The mount points of `/proc/PID/mountinfo` text whose filesystem is the
/// device `major:minor` (its third field), as printed (with `\ooo` octal
/// escapes: see [`unescape_octal`]).
pub fn mountinfo_points(text: &str, major: u32, minor: u32) -> impl Iterator<Item = &str> + '_ {
    text.lines().filter_map(move |l| {
        let mut f = l.split(' ');
        let dev = f.nth(2)?;
        let (ma, mi) = dev.split_once(':')?;
        if ma.parse::<u32>().ok()? != major || mi.parse::<u32>().ok()? != minor {
            return None;
        }
        let _root = f.next()?;
        f.next()
    })
}

/// Undoes the `\ooo` escapes of a mountinfo field into `out`: its length,
/// or `None` if it does not fit or an escape is bad.
pub fn unescape_octal(s: &str, out: &mut [u8]) -> Option<usize> {
    let b = s.as_bytes();
    let (mut i, mut n) = (0, 0);
    while i < b.len() {
        let c = if b[i] == b'\\' {
            let d = b.get(i + 1..i + 4)?;
            if !d.iter().all(|c| (b'0'..=b'7').contains(c)) {
                return None;
            }
            i += 4;
            u8::try_from(d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0'))).ok()?
        } else {
            i += 1;
            b[i - 1]
        };
        *out.get_mut(n)? = c;
        n += 1;
    }
    Some(n)
}

// ------------------------------------------------------------ records

/// Most watches one inotify record may announce.
pub const MAX_INOTIFY_WATCHES: u32 = 65536;

/// [`InotifyWatch::mask`] bits a watch may have: the events
/// (`IN_ALL_EVENTS`), `IN_EXCL_UNLINK` and `IN_ONESHOT`.
pub const INOTIFY_WATCH_MASK: u32 = 0xfff | 0x0400_0000 | 0x8000_0000;

wire_struct! {
    /// An inotify instance ([`RecordType::Inotify`]), before the file
    /// record opening it; its [`InotifyWatch`] records follow it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct Inotify, wire InotifyWire {
        /// Id among the inotify instances of the image, numbered from 1
        /// in order of first appearance.
        pub id: u32,
        /// Number of watch records that follow.
        pub watches: u32,
        /// The watch descriptor the next `inotify_add_watch()` would get
        /// (at least one above every watch's): the kernel allocates them
        /// cyclically upwards.
        pub next_wd: u32,
        pad pad0,
    }
}

/// Size of the [`Inotify`] payload.
pub const INOTIFY_PAYLOAD: usize = wire_size::<Inotify>();

wire_struct! {
    /// The fixed part of an [`InotifyWatch`]; the watched path follows.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct InotifyWatchHead, wire InotifyWatchWire {
        /// The instance's id.
        pub id: u32,
        /// Watch descriptor, 1 or more, increasing within the instance.
        pub wd: u32,
        /// Within [`INOTIFY_WATCH_MASK`], with at least one event.
        pub mask: u32,
        pad pad0,
    }
}

/// Size of the fixed part of the [`InotifyWatch`] payload.
pub const INOTIFY_WATCH_FIXED: usize = wire_size::<InotifyWatchHead>();

/// One watch of an inotify instance: the watched inode by its absolute
/// path (added again with `IN_DONT_FOLLOW`, so a watched symbolic link
/// stays one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InotifyWatch<'a> {
    /// The fixed fields.
    pub head: InotifyWatchHead,
    /// Absolute path of the watched inode.
    pub path: &'a [u8],
}

impl Inotify {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_whole(buf, RecordType::Inotify, *self)
    }

    /// Decodes and checks the payload.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        let r: Inotify = decode_whole(p)?;
        if r.id == 0
            || r.watches > MAX_INOTIFY_WATCHES
            || r.next_wd == 0
            || r.next_wd > i32::MAX as u32
        {
            return Err(FormatError::BadField);
        }
        Ok(r)
    }
}

impl<'a> InotifyWatch<'a> {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_record(buf, RecordType::InotifyWatch, |w| {
            w.wire(&self.head.to_le());
            w.path(self.path);
        })
    }

    /// Decodes and checks the payload.
    pub fn decode(p: &'a [u8]) -> FResult<Self> {
        let mut c = Cursor::new(p);
        let w = c.wire::<InotifyWatchWire>()?;
        if !InotifyWatchHead::padding_is_zero(w) {
            return Err(FormatError::NonZeroPadding);
        }
        let head = InotifyWatchHead::from_le(w);
        let path = c.path(false)?;
        c.finish()?;
        if path[0] != b'/' {
            return Err(FormatError::BadPath);
        }
        if head.id == 0
            || head.wd == 0
            || head.wd >= i32::MAX as u32
            || head.mask & !INOTIFY_WATCH_MASK != 0
            || head.mask & 0xfff == 0
        {
            return Err(FormatError::BadField);
        }
        Ok(InotifyWatch { head, path })
    }
}

/// The order of an inotify instance's watch records, checked as they come
/// (by the validator): each names the instance just before, with a watch
/// descriptor above the last one's and below the instance's
/// [`Inotify::next_wd`], and exactly [`Inotify::watches`] of them come.
#[derive(Clone, Copy, Debug, Default)]
pub struct InotifyLeft {
    id: u32,
    left: u32,
    last_wd: u32,
    next_wd: u32,
}

impl InotifyLeft {
    /// After an inotify record.
    pub fn new(r: &Inotify) -> Self {
        InotifyLeft {
            id: r.id,
            left: r.watches,
            last_wd: 0,
            next_wd: r.next_wd,
        }
    }

    /// Watch records still to come.
    pub fn left(&self) -> u32 {
        self.left
    }

    /// Takes a watch record.
    pub fn take(&mut self, w: &InotifyWatch<'_>) -> FResult<()> {
        let h = &w.head;
        if self.left == 0 || h.id != self.id || h.wd <= self.last_wd || h.wd >= self.next_wd {
            return Err(FormatError::BadField);
        }
        self.left -= 1;
        self.last_wd = h.wd;
        Ok(())
    }
}

const _: () = assert!(INOTIFY_PAYLOAD == 16 && INOTIFY_WATCH_FIXED == 16);

// ------------------------------------------------------------ epoll

/// `EPOLLEXCLUSIVE`.
pub const EPOLLEXCLUSIVE: u32 = 1 << 28;
/// `EPOLLWAKEUP`.
pub const EPOLLWAKEUP: u32 = 1 << 29;
/// `EPOLLONESHOT`.
pub const EPOLLONESHOT: u32 = 1 << 30;
/// `EPOLLET`.
pub const EPOLLET: u32 = 1 << 31;
/// The bits of a watch's mask that are not events (`EP_PRIVATE_BITS`): a
/// oneshot watch that fired keeps only these.
pub const EPOLL_PRIVATE: u32 = EPOLLEXCLUSIVE | EPOLLWAKEUP | EPOLLONESHOT | EPOLLET;
/// `EPOLLERR | EPOLLHUP`, which `epoll_ctl()` adds to every watch.
pub const EPOLL_ALWAYS: u32 = 0x8 | 0x10;

/// Most watches one epoll record may announce.
pub const MAX_EPOLL_WATCHES: u32 = 65536;

wire_struct! {
    /// An epoll set ([`RecordType::Epoll`]), before the file record
    /// opening it; its [`EpollWatch`] records follow it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct Epoll, wire EpollWire {
        /// Id among the epoll sets of the image, numbered from 1 in order
        /// of first appearance.
        pub id: u32,
        /// Number of watch records that follow.
        pub watches: u32,
    }
}

/// Size of the [`Epoll`] payload.
pub const EPOLL_PAYLOAD: usize = wire_size::<Epoll>();

wire_struct! {
    /// One watch of the epoll set before it ([`RecordType::EpollWatch`]):
    /// the watch's key is the pair (watched open file description, `tfd`),
    /// as `epoll_ctl()` made it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct EpollWatch, wire EpollWatchWire {
        /// The set's id.
        pub id: u32,
        /// The fd number the watch was added with (the key's second half;
        /// that fd may have been closed since).
        pub tfd: u32,
        /// The events mask, private bits ([`EPOLL_PRIVATE`]) included;
        /// always with [`EPOLL_ALWAYS`].
        pub events: u32,
        /// An fd of the process whose file table holds the set's file
        /// record that refers to the watched open file description (it is
        /// `tfd` unless that was closed).
        pub target_fd: u32,
        /// `epoll_data`.
        pub data: u64,
    }
}

/// Size of the [`EpollWatch`] payload.
pub const EPOLL_WATCH_PAYLOAD: usize = wire_size::<EpollWatch>();

impl Epoll {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_whole(buf, RecordType::Epoll, *self)
    }

    /// Decodes and checks the payload.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        let r: Epoll = decode_whole(p)?;
        if r.id == 0 || r.watches > MAX_EPOLL_WATCHES {
            return Err(FormatError::BadField);
        }
        Ok(r)
    }
}

impl EpollWatch {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_whole(buf, RecordType::EpollWatch, *self)
    }

    /// Decodes and checks the payload.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        let r: EpollWatch = decode_whole(p)?;
        // A fired oneshot (no event bit) is refused at checkpoint; the
        // target is an fd number.
        if r.id == 0
            || r.tfd >= 1 << 20
            || r.target_fd >= 1 << 20
            || r.events & EPOLL_ALWAYS != EPOLL_ALWAYS
            || (r.events & EPOLLEXCLUSIVE != 0 && r.events & EPOLLONESHOT != 0)
        {
            return Err(FormatError::BadField);
        }
        Ok(r)
    }
}

/// The order of an epoll set's watch records, checked as they come (by
/// the validator): each names the set just before, and exactly
/// [`Epoll::watches`] of them come.
#[derive(Clone, Copy, Debug, Default)]
pub struct EpollLeft {
    id: u32,
    left: u32,
}

impl EpollLeft {
    /// After an epoll record.
    pub fn new(r: &Epoll) -> Self {
        EpollLeft {
            id: r.id,
            left: r.watches,
        }
    }

    /// Watch records still to come.
    pub fn left(&self) -> u32 {
        self.left
    }

    /// Takes a watch record.
    pub fn take(&mut self, w: &EpollWatch) -> FResult<()> {
        if self.left == 0 || w.id != self.id {
            return Err(FormatError::BadField);
        }
        self.left -= 1;
        Ok(())
    }
}

const _: () = assert!(EPOLL_PAYLOAD == 8 && EPOLL_WATCH_PAYLOAD == 24);

#[cfg(feature = "info")]
mod show {
    use super::super::info::{text, Info, Json};
    use super::*;

    /// An element of `file_objects` in `info --json`.
    #[derive(serde::Serialize)]
    struct InotifyJson {
        r#type: &'static str,
        id: u32,
        watches: u32,
        next_wd: u32,
    }

    /// An element of `file_objects` in `info --json`.
    #[derive(serde::Serialize)]
    struct WatchJson {
        r#type: &'static str,
        id: u32,
        wd: u32,
        mask: u32,
        path: String,
    }

    /// An element of `file_objects` in `info --json`.
    #[derive(serde::Serialize)]
    struct EpollJson {
        r#type: &'static str,
        id: u32,
        watches: u32,
    }

    /// An element of `file_objects` in `info --json`.
    #[derive(serde::Serialize)]
    struct EpollWatchJson {
        r#type: &'static str,
        id: u32,
        tfd: u32,
        events: u32,
        data: u64,
        target_fd: u32,
    }

    impl Info for Epoll {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            l.push(format!("  epoll {}: {} watches", self.id, self.watches));
        }

        fn json(&self) -> Json {
            Json::element(
                "file_objects",
                EpollJson {
                    r#type: "epoll",
                    id: self.id,
                    watches: self.watches,
                },
            )
        }
    }

    impl Info for EpollWatch {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            l.push(format!(
                "    epoll {} tfd {}: events {:#x} data {:#x} (file of fd {})",
                self.id, self.tfd, self.events, self.data, self.target_fd
            ));
        }

        fn json(&self) -> Json {
            Json::element(
                "file_objects",
                EpollWatchJson {
                    r#type: "epoll-watch",
                    id: self.id,
                    tfd: self.tfd,
                    events: self.events,
                    data: self.data,
                    target_fd: self.target_fd,
                },
            )
        }
    }

    impl Info for Inotify {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            l.push(format!(
                "  inotify {}: {} watches, next wd {}",
                self.id, self.watches, self.next_wd
            ));
        }

        fn json(&self) -> Json {
            Json::element(
                "file_objects",
                InotifyJson {
                    r#type: "inotify",
                    id: self.id,
                    watches: self.watches,
                    next_wd: self.next_wd,
                },
            )
        }
    }

    impl Info for InotifyWatch<'_> {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            let h = &self.head;
            l.push(format!(
                "    inotify {} wd {}: mask {:#x} {}",
                h.id,
                h.wd,
                h.mask,
                text(self.path)
            ));
        }

        fn json(&self) -> Json {
            let h = &self.head;
            Json::element(
                "file_objects",
                WatchJson {
                    r#type: "inotify-watch",
                    id: h.id,
                    wd: h.wd,
                    mask: h.mask,
                    path: text(self.path),
                },
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoll_fdinfo_parses() {
        let t = "pos:\t0\nflags:\t02\nmnt_id:\t15\nino:\t1057\n\
                 tfd:        5 events:       19 data:                7  pos:0 ino:3f1 sdev:e\n\
                 tfd:       12 events: 80000001 data: ffffffffffffffff  pos:42 ino:a sdev:800001\n";
        let v: Vec<_> = epoll_fdinfo(t).collect();
        assert_eq!(
            v,
            [
                Ok(EpollWatchInfo {
                    tfd: 5,
                    events: 0x19,
                    data: 7,
                    pos: 0,
                    ino: 0x3f1,
                    sdev: 0xe
                }),
                Ok(EpollWatchInfo {
                    tfd: 12,
                    events: 0x8000_0001,
                    data: u64::MAX,
                    pos: 42,
                    ino: 0xa,
                    sdev: 0x80_0001
                })
            ]
        );
        assert_eq!(epoll_fdinfo("pos:\t0\n").count(), 0);
        let bad: Vec<_> =
            epoll_fdinfo("pos:\t0\ntfd: 5 events: zz data: 1  pos:0 ino:1 sdev:1\n").collect();
        assert_eq!(bad, [Err(2)]);
        // A line cut short (the kernel's buffer overflowed).
        let cut: Vec<_> = epoll_fdinfo("tfd:        5 events:       19 data: ").collect();
        assert_eq!(cut, [Err(1)]);
    }

    #[test]
    fn epoll_records_round_trip() {
        let mut buf = [0u8; 64];
        let r = Epoll { id: 1, watches: 2 };
        let n = r.encode(&mut buf).unwrap();
        assert_eq!(n, 8 + EPOLL_PAYLOAD);
        assert_eq!(Epoll::decode(&buf[8..n]), Ok(r));
        let w = EpollWatch {
            id: 1,
            tfd: 28,
            events: 0x19 | EPOLLET,
            target_fd: 29,
            data: u64::MAX,
        };
        let n = w.encode(&mut buf).unwrap();
        assert_eq!(EpollWatch::decode(&buf[8..n]), Ok(w));
        // No EPOLLERR | EPOLLHUP: not a mask epoll_ctl() makes.
        let bad = EpollWatch { events: 1, ..w };
        let n = bad.encode(&mut buf).unwrap();
        assert!(EpollWatch::decode(&buf[8..n]).is_err());
        let mut left = EpollLeft::new(&r);
        assert!(left.take(&w).is_ok() && left.take(&w).is_ok());
        assert!(left.take(&w).is_err());
    }

    #[test]
    fn inotify_fdinfo_parses() {
        let t = "pos:\t0\nflags:\t04000\nmnt_id:\t15\nino:\t1057\n\
                 inotify wd:3 ino:1a2 sdev:2f mask:100 ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:a201000000000000\n\
                 inotify wd:1 ino:7 sdev:2f mask:84000fff ignored_mask:0 \n";
        let v: Vec<_> = inotify_fdinfo(t).collect();
        assert_eq!(
            v,
            [
                Ok(InotifyWatchInfo {
                    wd: 3,
                    ino: 0x1a2,
                    sdev: 0x2f,
                    mask: 0x100
                }),
                Ok(InotifyWatchInfo {
                    wd: 1,
                    ino: 7,
                    sdev: 0x2f,
                    mask: 0x8400_0fff
                })
            ]
        );
        let bad: Vec<_> = inotify_fdinfo("inotify wd:x ino:1 sdev:1 mask:1\n").collect();
        assert_eq!(bad, [Err(1)]);
        // "ino:" is not found inside "fhandle-..." nor "ignored_mask:" as
        // "mask:".
        assert_eq!(field("a ignored_mask:5 mask:6", "mask:"), Some("6"));
    }

    #[test]
    fn mountinfo_parses() {
        let t = "22 1 0:21 / / rw,relatime - overlay overlay rw\n\
                 30 22 0:27 / /tmp rw - tmpfs tmpfs rw\n\
                 31 22 0:27 /sub /mnt/a\\040b rw - tmpfs tmpfs rw\n\
                 bad line\n";
        let v: Vec<_> = mountinfo_points(t, 0, 27).collect();
        assert_eq!(v, ["/tmp", "/mnt/a\\040b"]);
        let mut out = [0u8; 16];
        let n = unescape_octal(v[1], &mut out).unwrap();
        assert_eq!(&out[..n], b"/mnt/a b");
        assert_eq!(unescape_octal("\\09x", &mut out), None);
        assert_eq!(unescape_octal("/way/too/long/for/it", &mut out), None);
    }

    #[test]
    fn inotify_records_round_trip_and_limits() {
        let r = Inotify {
            id: 1,
            watches: 2,
            next_wd: 5,
        };
        let mut b = [0u8; 128];
        let n = r.encode(&mut b).unwrap();
        assert_eq!(n, 8 + 16);
        assert_eq!(Inotify::decode(&b[8..n]), Ok(r));
        for bad in [
            Inotify { id: 0, ..r },
            Inotify { next_wd: 0, ..r },
            Inotify {
                watches: MAX_INOTIFY_WATCHES + 1,
                ..r
            },
        ] {
            let n = bad.encode(&mut b).unwrap();
            assert_eq!(Inotify::decode(&b[8..n]), Err(FormatError::BadField));
        }
        let w = InotifyWatch {
            head: InotifyWatchHead {
                id: 1,
                wd: 2,
                mask: 0x100,
            },
            path: b"/tmp/a",
        };
        let n = w.encode(&mut b).unwrap();
        assert_eq!(InotifyWatch::decode(&b[8..n]), Ok(w));
        let n = InotifyWatch { path: b"tmp", ..w }.encode(&mut b).unwrap();
        assert_eq!(InotifyWatch::decode(&b[8..n]), Err(FormatError::BadPath));
        for mask in [0, 0x1000_0100, 0x4000_0000] {
            let n = InotifyWatch {
                head: InotifyWatchHead { mask, ..w.head },
                ..w
            }
            .encode(&mut b)
            .unwrap();
            assert_eq!(InotifyWatch::decode(&b[8..n]), Err(FormatError::BadField));
        }
        let mut left = InotifyLeft::new(&r);
        assert!(left.take(&w).is_ok());
        assert!(left.take(&w).is_err(), "wd not increasing");
        let w4 = InotifyWatch {
            head: InotifyWatchHead { wd: 4, ..w.head },
            ..w
        };
        assert!(left.take(&w4).is_ok());
        assert_eq!(left.left(), 0);
        let mut left = InotifyLeft::new(&r);
        let w5 = InotifyWatch {
            head: InotifyWatchHead { wd: 5, ..w.head },
            ..w
        };
        assert!(left.take(&w5).is_err(), "wd not below next_wd");
    }
}
