// SPDX-License-Identifier: GPL-2.0

//! Event descriptors: eventfd ([`EventfdRec`]), timerfd ([`TimerfdRec`])
//! and signalfd ([`SignalfdRec`]), and the parser of the `fdinfo` text
//! their files show (`/proc/PID/fdinfo`), which is how their state is read.
//!
//! Each is an object that exactly one open file description opens (of kind
//! [`FileKind::Eventfd`], [`FileKind::Timerfd`] or [`FileKind::Signalfd`],
//! [`FileRec::obj`] its id among the objects of its kind, numbered from 1
//! in order of first appearance). Its record comes in the file table of
//! the first process with that description, just before its file record;
//! other descriptors of the description (`dup`, `fork`) are file records
//! with the same [`FileRec::id`].

use super::codec::{decode_whole, encode_whole, wire_size};
use super::*;

/// Size of the [`EventfdRec`] payload.
pub const EVENTFD_PAYLOAD: usize = wire_size::<EventfdRec>();
/// Size of the [`TimerfdRec`] payload.
pub const TIMERFD_PAYLOAD: usize = wire_size::<TimerfdRec>();
/// Size of the [`SignalfdRec`] payload.
pub const SIGNALFD_PAYLOAD: usize = wire_size::<SignalfdRec>();

/// [`EventfdRec::flags`]: `EFD_SEMAPHORE`.
pub const EVENTFD_SEMAPHORE: u32 = 1;
/// Largest value an eventfd counter holds (`ULLONG_MAX - 1`).
pub const EVENTFD_MAX: u64 = u64::MAX - 1;

/// [`TimerfdRec::flags`]: `TFD_TIMER_ABSTIME`.
pub const TIMERFD_ABSTIME: u32 = 1;
/// [`TimerfdRec::flags`]: `TFD_TIMER_CANCEL_ON_SET`.
pub const TIMERFD_CANCEL_ON_SET: u32 = 2;
/// `CLOCK_REALTIME`.
pub const CLOCK_REALTIME: u32 = 0;
/// `CLOCK_MONOTONIC`.
pub const CLOCK_MONOTONIC: u32 = 1;
/// `CLOCK_BOOTTIME`.
pub const CLOCK_BOOTTIME: u32 = 7;

/// Nanoseconds per second.
const NSEC: u64 = 1_000_000_000;

wire_struct! {
    /// An eventfd: its counter and mode. Its `EFD_NONBLOCK` is the file
    /// record's `O_NONBLOCK`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct EventfdRec, wire EventfdWire {
        /// Id among the eventfds of the image.
        pub id: u32,
        /// [`EVENTFD_SEMAPHORE`].
        pub flags: u32,
        /// The counter (at most [`EVENTFD_MAX`]).
        pub count: u64,
    }
}

wire_struct! {
    /// A timerfd: its clock, its setting and the expirations not yet read.
    /// Its `TFD_NONBLOCK` is the file record's `O_NONBLOCK`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct TimerfdRec, wire TimerfdWire {
        /// Id among the timerfds of the image.
        pub id: u32,
        /// [`CLOCK_REALTIME`], [`CLOCK_MONOTONIC`] or [`CLOCK_BOOTTIME`].
        pub clockid: u32,
        /// Its last `timerfd_settime` flags: [`TIMERFD_ABSTIME`],
        /// [`TIMERFD_CANCEL_ON_SET`].
        pub flags: u32,
        pad pad0,
        /// Expirations not yet read.
        pub ticks: u64,
        /// Time to the next expiration at checkpoint, in nanoseconds (0:
        /// disarmed, or a periodic timer that expired and waits for a read
        /// to rearm it).
        pub value_ns: u64,
        /// Interval, in nanoseconds (0: one-shot).
        pub interval_ns: u64,
        /// An armed absolute timer on `CLOCK_REALTIME`: its expiration, in
        /// nanoseconds since the epoch, kept across the checkpoint (0
        /// otherwise: the remaining time is kept).
        pub abs_ns: u64,
    }
}

wire_struct! {
    /// A signalfd: the signals it reads (which are the reading task's
    /// pending signals, restored with the task).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct SignalfdRec, wire SignalfdWire {
        /// Id among the signalfds of the image.
        pub id: u32,
        pad pad0,
        /// Bit `n - 1` for signal `n` (never `SIGKILL` or `SIGSTOP`).
        pub mask: u64,
    }
}

/// `SIGKILL` and `SIGSTOP`, which no signalfd reads.
const UNCATCHABLE: u64 = (1 << 8) | (1 << 18);

impl EventfdRec {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_whole(buf, RecordType::Eventfd, *self)
    }

    /// Decodes and checks the payload.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        let r: EventfdRec = decode_whole(p)?;
        if r.id == 0 || r.flags & !EVENTFD_SEMAPHORE != 0 || r.count > EVENTFD_MAX {
            return Err(FormatError::BadField);
        }
        Ok(r)
    }
}

impl TimerfdRec {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_whole(buf, RecordType::Timerfd, *self)
    }

    /// Decodes and checks the payload.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        let r: TimerfdRec = decode_whole(p)?;
        let clock_ok = matches!(r.clockid, CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_BOOTTIME);
        // Times fit a timespec's seconds as the kernel keeps them (ktime_t).
        let max = i64::MAX as u64;
        let abs_ok = if r.abs_ns != 0 {
            r.clockid == CLOCK_REALTIME && r.flags & TIMERFD_ABSTIME != 0 && r.value_ns != 0
        } else {
            true
        };
        if r.id == 0
            || !clock_ok
            || r.flags & !(TIMERFD_ABSTIME | TIMERFD_CANCEL_ON_SET) != 0
            || r.value_ns > max
            || r.interval_ns > max
            || r.abs_ns > max
            || !abs_ok
        {
            return Err(FormatError::BadField);
        }
        Ok(r)
    }

    /// Whether the timer runs (armed, or periodic).
    pub fn armed(&self) -> bool {
        self.value_ns != 0 || self.interval_ns != 0
    }
}

impl SignalfdRec {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_whole(buf, RecordType::Signalfd, *self)
    }

    /// Decodes and checks the payload.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        let r: SignalfdRec = decode_whole(p)?;
        if r.id == 0 || r.mask & UNCATCHABLE != 0 {
            return Err(FormatError::BadField);
        }
        Ok(r)
    }
}

const _: () = assert!(EVENTFD_PAYLOAD == 16);
const _: () = assert!(TIMERFD_PAYLOAD == 48);
const _: () = assert!(SIGNALFD_PAYLOAD == 16);

// ------------------------------------------------------------ fdinfo

/// What an eventfd's `fdinfo` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventfdInfo {
    /// `eventfd-count`.
    pub count: u64,
    /// `eventfd-semaphore`.
    pub semaphore: bool,
}

/// What a timerfd's `fdinfo` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerfdInfo {
    /// `clockid`.
    pub clockid: u32,
    /// `ticks`.
    pub ticks: u64,
    /// `settime flags`.
    pub flags: u32,
    /// `it_value`, in nanoseconds.
    pub value_ns: u64,
    /// `it_interval`, in nanoseconds.
    pub interval_ns: u64,
}

/// The value of the line `key: value` (or `key:\tvalue`) of `text`,
/// trimmed.
fn field<'a>(text: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    text.split(|&b| b == b'\n').find_map(|l| {
        let rest = l.strip_prefix(key)?.strip_prefix(b":")?;
        Some(rest.trim_ascii())
    })
}

fn num(s: &[u8], radix: u32) -> Option<u64> {
    if s.is_empty() || s.len() > 22 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        let d = (b as char).to_digit(radix)?;
        v = v.checked_mul(u64::from(radix))?.checked_add(u64::from(d))?;
    }
    Some(v)
}

/// `(sec, nsec)` as nanoseconds.
fn timespec(s: &[u8]) -> Option<u64> {
    let s = s.strip_prefix(b"(")?.strip_suffix(b")")?;
    let mut it = s.splitn(2, |&b| b == b',');
    let sec = num(it.next()?.trim_ascii(), 10)?;
    let nsec = num(it.next()?.trim_ascii(), 10)?;
    if nsec >= NSEC {
        return None;
    }
    sec.checked_mul(NSEC)?.checked_add(nsec)
}

impl EventfdInfo {
    /// Parses an eventfd's `fdinfo` (`eventfd-count: %16llx`,
    /// `eventfd-semaphore: %d`).
    pub fn parse(text: &[u8]) -> Option<Self> {
        let count = num(field(text, b"eventfd-count")?, 16)?;
        let semaphore = match field(text, b"eventfd-semaphore")? {
            b"0" => false,
            b"1" => true,
            _ => return None,
        };
        Some(EventfdInfo { count, semaphore })
    }
}

impl TimerfdInfo {
    /// Parses a timerfd's `fdinfo` (`clockid: %d`, `ticks: %llu`,
    /// `settime flags: 0%o`, `it_value: (%llu, %llu)`, `it_interval: ...`).
    pub fn parse(text: &[u8]) -> Option<Self> {
        let clockid = u32::try_from(num(field(text, b"clockid")?, 10)?).ok()?;
        let ticks = num(field(text, b"ticks")?, 10)?;
        let flags = u32::try_from(num(field(text, b"settime flags")?, 8)?).ok()?;
        let value_ns = timespec(field(text, b"it_value")?)?;
        let interval_ns = timespec(field(text, b"it_interval")?)?;
        Some(TimerfdInfo {
            clockid,
            ticks,
            flags,
            value_ns,
            interval_ns,
        })
    }
}

/// Parses a signalfd's `fdinfo` (`sigmask:\t%016x`, highest signal first):
/// bit `n - 1` for signal `n`.
pub fn parse_signalfd_info(text: &[u8]) -> Option<u64> {
    let s = field(text, b"sigmask")?;
    if s.len() != 16 {
        return None;
    }
    num(s, 16)
}

#[cfg(feature = "info")]
mod show {
    use super::super::info::{Info, Json};
    use super::*;

    /// An element of `eventfds` in `info --json`.
    #[derive(serde::Serialize)]
    struct EventfdJson {
        id: u32,
        count: u64,
        semaphore: bool,
    }

    /// An element of `timerfds` in `info --json`.
    #[derive(serde::Serialize)]
    struct TimerfdJson {
        id: u32,
        clock: &'static str,
        abstime: bool,
        cancel_on_set: bool,
        ticks: u64,
        value_ns: u64,
        interval_ns: u64,
        /// `null` unless an absolute `CLOCK_REALTIME` expiration is kept.
        abs_ns: Option<u64>,
    }

    /// An element of `signalfds` in `info --json`.
    #[derive(serde::Serialize)]
    struct SignalfdJson {
        id: u32,
        mask: u64,
    }

    fn clock_name(c: u32) -> &'static str {
        match c {
            CLOCK_REALTIME => "realtime",
            CLOCK_MONOTONIC => "monotonic",
            CLOCK_BOOTTIME => "boottime",
            _ => "?",
        }
    }

    impl Info for EventfdRec {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            l.push(format!(
                "  eventfd {}: count {}{}",
                self.id,
                self.count,
                if self.flags & EVENTFD_SEMAPHORE != 0 {
                    " (semaphore)"
                } else {
                    ""
                }
            ));
        }

        fn json(&self) -> Json {
            Json::element(
                "eventfds",
                EventfdJson {
                    id: self.id,
                    count: self.count,
                    semaphore: self.flags & EVENTFD_SEMAPHORE != 0,
                },
            )
        }
    }

    impl Info for TimerfdRec {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            let mut s = format!(
                "  timerfd {}: {}, {} ticks unread",
                self.id,
                clock_name(self.clockid),
                self.ticks
            );
            if !self.armed() {
                s.push_str(", disarmed");
            } else if self.abs_ns != 0 {
                s.push_str(&format!(", expires at {} ns (absolute)", self.abs_ns));
            } else {
                s.push_str(&format!(", next in {} ns", self.value_ns));
            }
            if self.interval_ns != 0 {
                s.push_str(&format!(", every {} ns", self.interval_ns));
            }
            if self.flags & TIMERFD_ABSTIME != 0 {
                s.push_str(" TFD_TIMER_ABSTIME");
            }
            if self.flags & TIMERFD_CANCEL_ON_SET != 0 {
                s.push_str(" TFD_TIMER_CANCEL_ON_SET");
            }
            l.push(s);
        }

        fn json(&self) -> Json {
            Json::element(
                "timerfds",
                TimerfdJson {
                    id: self.id,
                    clock: clock_name(self.clockid),
                    abstime: self.flags & TIMERFD_ABSTIME != 0,
                    cancel_on_set: self.flags & TIMERFD_CANCEL_ON_SET != 0,
                    ticks: self.ticks,
                    value_ns: self.value_ns,
                    interval_ns: self.interval_ns,
                    abs_ns: (self.abs_ns != 0).then_some(self.abs_ns),
                },
            )
        }
    }

    impl Info for SignalfdRec {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            l.push(format!("  signalfd {}: mask {:#018x}", self.id, self.mask));
        }

        fn json(&self) -> Json {
            Json::element(
                "signalfds",
                SignalfdJson {
                    id: self.id,
                    mask: self.mask,
                },
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eventfd_round_trip_and_limits() {
        let r = EventfdRec {
            id: 1,
            flags: EVENTFD_SEMAPHORE,
            count: 7,
        };
        let mut b = [0u8; 64];
        let n = r.encode(&mut b).unwrap();
        assert_eq!(n, RECORD_HEADER_SIZE + EVENTFD_PAYLOAD);
        assert_eq!(EventfdRec::decode(&b[8..n]), Ok(r));
        for bad in [
            EventfdRec { id: 0, ..r },
            EventfdRec { flags: 2, ..r },
            EventfdRec {
                count: u64::MAX,
                ..r
            },
        ] {
            let n = bad.encode(&mut b).unwrap();
            assert_eq!(EventfdRec::decode(&b[8..n]), Err(FormatError::BadField));
        }
    }

    #[test]
    fn timerfd_round_trip_and_limits() {
        let r = TimerfdRec {
            id: 2,
            clockid: CLOCK_REALTIME,
            flags: TIMERFD_ABSTIME | TIMERFD_CANCEL_ON_SET,
            ticks: 3,
            value_ns: 5,
            interval_ns: 10,
            abs_ns: 1_700_000_000 * NSEC,
        };
        let mut b = [0u8; 128];
        let n = r.encode(&mut b).unwrap();
        assert_eq!(n, RECORD_HEADER_SIZE + TIMERFD_PAYLOAD);
        assert_eq!(TimerfdRec::decode(&b[8..n]), Ok(r));
        for bad in [
            TimerfdRec { id: 0, ..r },
            TimerfdRec { clockid: 8, ..r },
            TimerfdRec { clockid: 2, ..r },
            TimerfdRec { flags: 4, ..r },
            TimerfdRec { flags: 0, ..r },
            TimerfdRec {
                clockid: CLOCK_MONOTONIC,
                ..r
            },
            TimerfdRec { value_ns: 0, ..r },
            TimerfdRec {
                interval_ns: u64::MAX,
                ..r
            },
        ] {
            let n = bad.encode(&mut b).unwrap();
            assert_eq!(TimerfdRec::decode(&b[8..n]), Err(FormatError::BadField));
        }
        // Padding.
        b[8 + 12] = 1;
        assert!(TimerfdRec::decode(&b[8..n]).is_err());
    }

    #[test]
    fn signalfd_round_trip_and_limits() {
        let r = SignalfdRec {
            id: 1,
            mask: 1 << 9,
        };
        let mut b = [0u8; 64];
        let n = r.encode(&mut b).unwrap();
        assert_eq!(SignalfdRec::decode(&b[8..n]), Ok(r));
        let n = SignalfdRec { mask: 1 << 8, ..r }.encode(&mut b).unwrap();
        assert_eq!(SignalfdRec::decode(&b[8..n]), Err(FormatError::BadField));
    }

    #[test]
    fn fdinfo_parsers() {
        let e = b"pos:\t0\nflags:\t02004002\nmnt_id:\t16\nino:\t1057\neventfd-count:               2a\neventfd-id: 3\neventfd-semaphore: 1\n";
        assert_eq!(
            EventfdInfo::parse(e),
            Some(EventfdInfo {
                count: 42,
                semaphore: true
            })
        );
        let e2 = b"eventfd-count: ffffffffffffffff\neventfd-semaphore: 0\n";
        assert_eq!(EventfdInfo::parse(e2).unwrap().count, u64::MAX);
        assert_eq!(EventfdInfo::parse(b"eventfd-count: 1\n"), None);
        assert_eq!(
            EventfdInfo::parse(b"eventfd-count: x\neventfd-semaphore: 0\n"),
            None
        );
        let t = b"clockid: 1\nticks: 4\nsettime flags: 03\nit_value: (0, 499999000)\nit_interval: (2, 5)\n";
        assert_eq!(
            TimerfdInfo::parse(t),
            Some(TimerfdInfo {
                clockid: 1,
                ticks: 4,
                flags: 3,
                value_ns: 499_999_000,
                interval_ns: 2 * NSEC + 5
            })
        );
        let t0 =
            b"clockid: 0\nticks: 0\nsettime flags: 00\nit_value: (0, 0)\nit_interval: (0, 0)\n";
        assert_eq!(TimerfdInfo::parse(t0).unwrap().flags, 0);
        let tbad =
            b"clockid: 1\nticks: 4\nsettime flags: 09\nit_value: (0, 1)\nit_interval: (0, 0)\n";
        assert_eq!(TimerfdInfo::parse(tbad), None);
        let tbad = b"clockid: 1\nticks: 4\nsettime flags: 0\nit_value: (0, 1000000000)\nit_interval: (0, 0)\n";
        assert_eq!(TimerfdInfo::parse(tbad), None);
        let s = b"pos:\t0\nsigmask:\t0000000000000202\n";
        assert_eq!(parse_signalfd_info(s), Some((1 << 1) | (1 << 9)));
        assert_eq!(parse_signalfd_info(b"sigmask:\t202\n"), None);
        assert_eq!(parse_signalfd_info(b""), None);
    }
}
