// SPDX-License-Identifier: GPL-2.0

//! A process's interval timers: `alarm`/`setitimer` ([`Itimers`]), and
//! its POSIX timers, `timer_create` ([`PosixTimer`]).

use super::codec::{decode_whole, encode_whole, wire_size};
use super::*;

/// Size of the [`Itimers`] payload.
pub const ITIMERS_PAYLOAD: usize = wire_size::<Itimers>();

/// The largest time an [`Itimers`] field may hold, in nanoseconds
/// (`KTIME_MAX`).
pub const ITIMER_MAX_NS: u64 = i64::MAX as u64;

wire_struct! {
    /// The three interval timers of a process (`setitimer`; `alarm` is
    /// `ITIMER_REAL`), each as the time left before it next fires (0:
    /// disarmed) and its interval, in nanoseconds, as `getitimer` reads
    /// them at checkpoint time. In the process's metadata, after its
    /// signals record, only when one of the six is not 0.
    ///
    /// `real_*` counts wall time (the kernel's monotonic clock);
    /// `virt_*` the process's user CPU time, `prof_*` its user and system
    /// CPU time.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct Itimers, wire ItimersWire {
        /// `ITIMER_REAL`: time left.
        pub real_value: u64,
        /// `ITIMER_REAL`: interval.
        pub real_interval: u64,
        /// `ITIMER_VIRTUAL`: user CPU time left.
        pub virt_value: u64,
        /// `ITIMER_VIRTUAL`: interval.
        pub virt_interval: u64,
        /// `ITIMER_PROF`: CPU time left.
        pub prof_value: u64,
        /// `ITIMER_PROF`: interval.
        pub prof_interval: u64,
        /// The process's next POSIX timer id (its `next_posix_timer_id`),
        /// 0 for a process that never made one (version 6). A process
        /// with timers has it in their records too ([`PosixTimer::next_id`]).
        pub posix_next_id: u32,
        pad pad0,
    }
}

impl Itimers {
    /// The six fields, `(value, interval)` per timer in `ITIMER_*` order.
    pub fn timers(&self) -> [(u64, u64); 3] {
        [
            (self.real_value, self.real_interval),
            (self.virt_value, self.virt_interval),
            (self.prof_value, self.prof_interval),
        ]
    }

    /// Whether any timer is armed or has an interval, or the next POSIX
    /// timer id is not 0 (a record is written).
    pub fn any(&self) -> bool {
        self.posix_next_id != 0 || self.timers().iter().any(|&(v, i)| v != 0 || i != 0)
    }

    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_whole(buf, RecordType::Itimers, *self)
    }

    /// Decodes the payload: every time at most [`ITIMER_MAX_NS`], and not
    /// all of them 0.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        let t: Itimers = decode_whole(p)?;
        let big = t
            .timers()
            .iter()
            .any(|&(v, i)| v > ITIMER_MAX_NS || i > ITIMER_MAX_NS);
        if big || !t.any() || t.posix_next_id > i32::MAX as u32 {
            return Err(FormatError::BadField);
        }
        Ok(t)
    }
}

const _: () = assert!(ITIMERS_PAYLOAD == 56);

/// Size of the [`PosixTimer`] payload.
pub const POSIX_TIMER_PAYLOAD: usize = wire_size::<PosixTimer>();

/// `SIGEV_SIGNAL`: the timer sends its signal to the process.
pub const SIGEV_SIGNAL: i32 = 0;
/// `SIGEV_NONE`: the timer sends nothing.
pub const SIGEV_NONE: i32 = 1;
/// `SIGEV_THREAD`: as the kernel holds it, the same as `SIGEV_SIGNAL`.
pub const SIGEV_THREAD: i32 = 2;
/// `SIGEV_THREAD_ID`: the timer sends its signal to the thread `tid`.
pub const SIGEV_THREAD_ID: i32 = 4;

/// The clocks a [`PosixTimer`] may count: `CLOCK_REALTIME`,
/// `CLOCK_MONOTONIC`, `CLOCK_BOOTTIME`, `CLOCK_TAI`.
pub const POSIX_TIMER_CLOCKS: [i32; 4] = [0, 1, 7, 11];

wire_struct! {
    /// One POSIX timer of a process (`timer_create`), as `timer_gettime`
    /// and `timer_getoverrun` read it at checkpoint time. In the process's
    /// metadata, after its itimers record (if any), one per timer in
    /// ascending id order. Version 5.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct PosixTimer, wire PosixTimerWire {
        /// The timer id `timer_create` returned (0 to `INT_MAX`).
        pub id: i32,
        /// Its clock, one of [`POSIX_TIMER_CLOCKS`].
        pub clock: i32,
        /// `sigev_notify`: [`SIGEV_SIGNAL`], [`SIGEV_NONE`],
        /// [`SIGEV_THREAD`] or [`SIGEV_THREAD_ID`].
        pub notify: i32,
        /// `sigev_signo`: 1 to 64 (any value for `SIGEV_NONE`, which
        /// sends nothing and keeps what it was given).
        pub signo: i32,
        /// The thread of a `SIGEV_THREAD_ID` timer (a thread of the
        /// process), else 0.
        pub tid: i32,
        /// The process's next timer id (its `next_posix_timer_id`, where
        /// a `timer_create` starts looking): the same in each of its
        /// records.
        pub next_id: u32,
        /// `sigev_value`, as the signal's `si_value` carries it.
        pub sigval: u64,
        /// Time left before it next fires, in nanoseconds (0: disarmed).
        pub value_ns: u64,
        /// Its interval, in nanoseconds (0: one-shot).
        pub interval_ns: u64,
        /// What `timer_getoverrun` reports: the overruns of the last
        /// signal delivered.
        pub overrun_last: u64,
        /// The kernel's running overrun count plus one (its idle value -1
        /// is 0): what the next signal's `si_overrun` starts from.
        pub overrun: u64,
    }
}

impl PosixTimer {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_whole(buf, RecordType::PosixTimer, *self)
    }

    /// Decodes the payload: a valid id, clock, notification and signal,
    /// times and counts at most [`ITIMER_MAX_NS`], an interval only when
    /// armed.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        let t: PosixTimer = decode_whole(p)?;
        let notify_ok = matches!(
            t.notify,
            SIGEV_SIGNAL | SIGEV_NONE | SIGEV_THREAD | SIGEV_THREAD_ID
        );
        // A SIGEV_NONE timer keeps whatever `sigev_signo` it was given.
        let signo_ok = t.notify == SIGEV_NONE || (1..=64).contains(&t.signo);
        let tid_ok = (t.notify == SIGEV_THREAD_ID) == (t.tid > 0) && t.tid >= 0;
        let ok = t.id >= 0
            && POSIX_TIMER_CLOCKS.contains(&t.clock)
            && notify_ok
            && signo_ok
            && tid_ok
            && t.value_ns <= ITIMER_MAX_NS
            && t.interval_ns <= ITIMER_MAX_NS
            && (t.value_ns != 0 || t.interval_ns == 0)
            && t.overrun_last <= ITIMER_MAX_NS
            && t.overrun <= ITIMER_MAX_NS;
        if !ok {
            return Err(FormatError::BadField);
        }
        Ok(t)
    }

    /// The clock's name.
    pub fn clock_name(&self) -> &'static str {
        match self.clock {
            0 => "CLOCK_REALTIME",
            1 => "CLOCK_MONOTONIC",
            7 => "CLOCK_BOOTTIME",
            11 => "CLOCK_TAI",
            _ => "?",
        }
    }

    /// The notification's name.
    pub fn notify_name(&self) -> &'static str {
        match self.notify {
            SIGEV_SIGNAL => "SIGEV_SIGNAL",
            SIGEV_NONE => "SIGEV_NONE",
            SIGEV_THREAD => "SIGEV_THREAD",
            SIGEV_THREAD_ID => "SIGEV_THREAD_ID",
            _ => "?",
        }
    }
}

const _: () = assert!(POSIX_TIMER_PAYLOAD == 64);

#[cfg(feature = "info")]
mod show {
    use super::super::info::{Info, Json};
    use super::*;

    const NAMES: [&str; 3] = ["real", "virtual", "prof"];

    fn secs(ns: u64) -> String {
        format!("{}.{:09}s", ns / 1_000_000_000, ns % 1_000_000_000)
    }

    /// One timer in the `itimers` member of `info --json`.
    #[derive(serde::Serialize)]
    struct ItimerJson {
        which: &'static str,
        value_ns: u64,
        interval_ns: u64,
    }

    impl Info for Itimers {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            let s: Vec<String> = self
                .timers()
                .iter()
                .zip(NAMES)
                .filter(|((v, i), _)| *v != 0 || *i != 0)
                .map(|((v, i), n)| format!("{n} {} every {}", secs(*v), secs(*i)))
                .collect();
            l.push(format!("itimers: {}", s.join(", ")));
        }

        /// The timers that are armed or have an interval.
        fn json(&self) -> Json {
            let v: Vec<ItimerJson> = self
                .timers()
                .iter()
                .zip(NAMES)
                .filter(|((v, i), _)| *v != 0 || *i != 0)
                .map(|(&(value_ns, interval_ns), which)| ItimerJson {
                    which,
                    value_ns,
                    interval_ns,
                })
                .collect();
            Json::member("itimers", v)
        }
    }

    /// One timer of the `posix_timers` member of `info --json`.
    #[derive(serde::Serialize)]
    struct PosixTimerJson {
        id: i32,
        clock: &'static str,
        notify: &'static str,
        signo: i32,
        tid: i32,
        sigval: u64,
        value_ns: u64,
        interval_ns: u64,
        overrun_last: u64,
        overrun: u64,
    }

    impl Info for PosixTimer {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            let to = if self.notify == SIGEV_THREAD_ID {
                format!(" tid {}", self.tid)
            } else {
                String::new()
            };
            l.push(format!(
                "posix-timer {}: {} {} signal {}{} value {:#x}, {} every {}, overrun {} (counting {})",
                self.id,
                self.clock_name(),
                self.notify_name(),
                self.signo,
                to,
                self.sigval,
                secs(self.value_ns),
                secs(self.interval_ns),
                self.overrun_last,
                self.overrun
            ));
        }

        /// An element of the process's `posix_timers` list.
        fn json(&self) -> Json {
            Json::element(
                "posix_timers",
                PosixTimerJson {
                    id: self.id,
                    clock: self.clock_name(),
                    notify: self.notify_name(),
                    signo: self.signo,
                    tid: self.tid,
                    sigval: self.sigval,
                    value_ns: self.value_ns,
                    interval_ns: self.interval_ns,
                    overrun_last: self.overrun_last,
                    overrun: self.overrun,
                },
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_checks() {
        let t = Itimers {
            real_value: 5_000_000_000,
            real_interval: 1_000_000_000,
            prof_value: 7,
            ..Default::default()
        };
        let mut b = [0u8; 64];
        let n = t.encode(&mut b).unwrap();
        assert_eq!(n, RECORD_HEADER_SIZE + ITIMERS_PAYLOAD);
        let p = b[RECORD_HEADER_SIZE..n].to_vec();
        assert_eq!(Itimers::decode(&p), Ok(t));
        assert_eq!(
            Itimers::decode(&[0u8; ITIMERS_PAYLOAD]),
            Err(FormatError::BadField)
        );
        let big = Itimers {
            virt_interval: ITIMER_MAX_NS + 1,
            ..t
        };
        let n = big.encode(&mut b).unwrap();
        assert_eq!(
            Itimers::decode(&b[RECORD_HEADER_SIZE..n]),
            Err(FormatError::BadField)
        );
        assert!(Itimers::decode(&p[..ITIMERS_PAYLOAD - 1]).is_err());
        // Only a next POSIX timer id (every timer deleted): a record.
        let ids = Itimers {
            posix_next_id: 3,
            ..Default::default()
        };
        let n = ids.encode(&mut b).unwrap();
        assert_eq!(Itimers::decode(&b[RECORD_HEADER_SIZE..n]), Ok(ids));
        let n = Itimers {
            posix_next_id: 1 << 31,
            ..ids
        }
        .encode(&mut b)
        .unwrap();
        assert_eq!(
            Itimers::decode(&b[RECORD_HEADER_SIZE..n]),
            Err(FormatError::BadField)
        );
    }
    #[test]
    fn posix_timer_round_trip_and_checks() {
        let t = PosixTimer {
            id: 1,
            clock: 1,
            notify: SIGEV_THREAD_ID,
            signo: 34,
            tid: 77,
            sigval: 0xdead,
            value_ns: 5_000_000_000,
            interval_ns: 1_000_000,
            overrun_last: 3,
            overrun: 0,
            ..Default::default()
        };
        let mut b = [0u8; 128];
        let n = t.encode(&mut b).unwrap();
        assert_eq!(n, RECORD_HEADER_SIZE + POSIX_TIMER_PAYLOAD);
        assert_eq!(PosixTimer::decode(&b[RECORD_HEADER_SIZE..n]), Ok(t));
        for bad in [
            PosixTimer { id: -1, ..t },
            PosixTimer { clock: -6, ..t },
            PosixTimer { clock: 9, ..t },
            PosixTimer { notify: 3, ..t },
            PosixTimer { tid: 0, ..t },
            PosixTimer {
                notify: SIGEV_SIGNAL,
                ..t
            },
            PosixTimer { signo: 0, ..t },
            PosixTimer { value_ns: 0, ..t },
            PosixTimer {
                overrun: u64::MAX,
                ..t
            },
        ] {
            let n = bad.encode(&mut b).unwrap();
            assert_eq!(
                PosixTimer::decode(&b[RECORD_HEADER_SIZE..n]),
                Err(FormatError::BadField),
                "{bad:?}"
            );
        }
    }
}
