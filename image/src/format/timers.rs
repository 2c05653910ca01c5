// SPDX-License-Identifier: GPL-2.0

//! A process's interval timers: `alarm`/`setitimer` ([`Itimers`]).

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

    /// Whether any timer is armed or has an interval (a record is written).
    pub fn any(&self) -> bool {
        self.timers().iter().any(|&(v, i)| v != 0 || i != 0)
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
        if big || !t.any() {
            return Err(FormatError::BadField);
        }
        Ok(t)
    }
}

const _: () = assert!(ITIMERS_PAYLOAD == 48);

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
    }
}
