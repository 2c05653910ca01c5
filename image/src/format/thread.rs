// SPDX-License-Identifier: GPL-2.0

//! Per-thread state ([`Thread`]) and its scheduling part ([`Sched`]).

use super::codec::{decode_whole, encode_whole, wire_size};
use super::*;

/// Size of the [`Thread`] payload.
pub const THREAD_PAYLOAD: usize = wire_size::<Thread>();

/// Words of [`Sched::cpus`]: CPUs 0 to 1023.
pub const SCHED_CPU_WORDS: usize = 16;
/// `SCHED_NORMAL`.
pub const SCHED_NORMAL: u32 = 0;
/// `SCHED_FIFO`.
pub const SCHED_FIFO: u32 = 1;
/// `SCHED_RR`.
pub const SCHED_RR: u32 = 2;
/// `SCHED_BATCH`.
pub const SCHED_BATCH: u32 = 3;
/// `SCHED_IDLE`.
pub const SCHED_IDLE: u32 = 5;
/// [`Sched::flags`]: `SCHED_RESET_ON_FORK`.
pub const SCHED_RESET_ON_FORK: u32 = 1;

wire_struct! {
    /// Scheduling state of a thread.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct Sched, wire SchedWire {
        /// `SCHED_NORMAL`, `SCHED_FIFO`, `SCHED_RR`, `SCHED_BATCH` or
        /// `SCHED_IDLE`.
        pub policy: u32,
        /// Real-time priority: 1 to 99 for `SCHED_FIFO` and `SCHED_RR`, else 0.
        pub priority: u32,
        /// Nice value, -20 to 19.
        pub nice: i32,
        /// `SCHED_*` flag bits ([`SCHED_RESET_ON_FORK`]).
        pub flags: u32,
        /// I/O priority as `ioprio_get(2)` returns it for the thread, without
        /// the class derived from the nice value when none was set (class 0).
        pub ioprio: u32,
        pad pad0,
        /// CPU affinity, a bitmap of CPUs 0 to 1023; empty for every CPU there
        /// is (the default, which a restart on another machine keeps).
        pub cpus: [u64; SCHED_CPU_WORDS],
    }
}

impl Sched {
    fn check(&self) -> FResult<()> {
        let s = self;
        let rt = matches!(s.policy, SCHED_FIFO | SCHED_RR);
        if !matches!(
            s.policy,
            SCHED_NORMAL | SCHED_FIFO | SCHED_RR | SCHED_BATCH | SCHED_IDLE
        ) || (rt && !(1..=99).contains(&s.priority))
            || (!rt && s.priority != 0)
            || !(-20..=19).contains(&s.nice)
            || s.flags & !SCHED_RESET_ON_FORK != 0
            || s.ioprio >= 1 << 16
            || s.ioprio >> 13 > 3
        {
            return Err(FormatError::BadField);
        }
        Ok(())
    }
}

wire_struct! {
    /// Per-thread state (the rest is per process). Its [`Regs`] and [`Xstate`]
    /// records follow it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct Thread, wire ThreadWire {
        /// Thread id.
        pub tid: i32,
        /// `PR_SET_PDEATHSIG` signal, 0 for none.
        pub pdeath_signal: u32,
        /// Blocked signal mask.
        pub blocked: u64,
        /// `sigaltstack`: `ss_sp`, `ss_size`, `ss_flags`.
        pub altstack: (u64, u64, u32),
        pad pad0,
        /// Thread name.
        pub comm: [u8; COMM_LEN],
        /// `set_tid_address(2)` pointer.
        pub clear_child_tid: u64,
        /// `set_robust_list(2)` head and length.
        pub robust_list: (u64, u64),
        /// Registered rseq area, length, signature (registered again by restart).
        pub rseq: (u64, u32, u32),
        /// Scheduling policy, priorities and CPU affinity.
        pub sched: Sched,
    }
}

impl Thread {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_whole(buf, RecordType::Thread, *self)
    }

    /// Decodes the payload.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        let t: Thread = decode_whole(p)?;
        t.sched.check()?;
        if t.tid <= 0 || t.comm[COMM_LEN - 1] != 0 || t.pdeath_signal > NSIG {
            return Err(FormatError::BadField);
        }
        if t.blocked & ((1u64 << 8) | (1u64 << 18)) != 0 {
            return Err(FormatError::BadField);
        }
        if t.altstack.2 & !(SS_DISABLE | SS_AUTODISARM) != 0 {
            return Err(FormatError::BadField);
        }
        Ok(t)
    }
}

const _: () = assert!(THREAD_PAYLOAD == 96 + 24 + 8 * SCHED_CPU_WORDS);

#[cfg(feature = "info")]
mod show {
    use super::super::info::{text, Info, Json};
    use super::*;

    fn policy_name(p: u32) -> &'static str {
        match p {
            SCHED_NORMAL => "normal",
            SCHED_FIFO => "fifo",
            SCHED_RR => "rr",
            SCHED_BATCH => "batch",
            SCHED_IDLE => "idle",
            _ => "?",
        }
    }

    /// A CPU bitmap as a list (`0-3,6`), or `all` for the empty one.
    fn cpus_str(words: &[u64]) -> String {
        let on = |i: usize| words[i / 64] >> (i % 64) & 1 != 0;
        let n = words.len() * 64;
        let mut parts = vec![];
        let mut i = 0;
        while i < n {
            if on(i) {
                let start = i;
                while i + 1 < n && on(i + 1) {
                    i += 1;
                }
                parts.push(if start == i {
                    start.to_string()
                } else {
                    format!("{start}-{i}")
                });
            }
            i += 1;
        }
        if parts.is_empty() {
            "all".to_string()
        } else {
            parts.join(",")
        }
    }

    /// The thread's `comm`, up to its NUL.
    fn comm(t: &Thread) -> &[u8] {
        t.comm
            .iter()
            .position(|&b| b == 0)
            .map_or(&t.comm[..], |n| &t.comm[..n])
    }

    /// An element of `threads` in `info --json`.
    #[derive(serde::Serialize)]
    struct ThreadJson {
        tid: i32,
        comm: String,
        blocked: u64,
        policy: u32,
        priority: u32,
        nice: i32,
        ioprio: u32,
        cpus: String,
        rseq: u64,
    }

    impl Info for Thread {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            let t = self;
            l.push(format!(
                "thread {}: comm {:?} blocked {:#x} altstack {}",
                t.tid,
                text(comm(t)),
                t.blocked,
                if t.altstack.2 & SS_DISABLE != 0 {
                    "none".to_string()
                } else {
                    format!("{:#x}+{:#x}", t.altstack.0, t.altstack.1)
                }
            ));
            let s = &t.sched;
            l.push(format!(
                "  sched: policy {} priority {} nice {} ioprio {:#x}{} cpus {}; rseq {}",
                policy_name(s.policy),
                s.priority,
                s.nice,
                s.ioprio,
                if s.flags & SCHED_RESET_ON_FORK != 0 {
                    " reset-on-fork"
                } else {
                    ""
                },
                cpus_str(&s.cpus),
                if t.rseq.0 == 0 {
                    "none".to_string()
                } else {
                    format!("{:#x}+{} sig {:#x}", t.rseq.0, t.rseq.1, t.rseq.2)
                }
            ));
        }

        fn json(&self) -> Json {
            let (t, s) = (self, &self.sched);
            Json::element(
                "threads",
                ThreadJson {
                    tid: t.tid,
                    comm: text(comm(t)),
                    blocked: t.blocked,
                    policy: s.policy,
                    priority: s.priority,
                    nice: s.nice,
                    ioprio: s.ioprio,
                    cpus: cpus_str(&s.cpus),
                    rseq: t.rseq.0,
                },
            )
        }
    }
}
