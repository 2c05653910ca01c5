// SPDX-License-Identifier: GPL-2.0

//! Signal dispositions, blocked mask and alternate stack ([`Signals`]).

use super::codec::Le;
use super::*;
use zerocopy::little_endian::{U32, U64};

wire_struct! {
    /// One signal's disposition.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct SigAction, wire SigActionWire {
        /// Handler address, or 0 (`SIG_DFL`), 1 (`SIG_IGN`).
        pub handler: u64,
        /// `SA_*` flags.
        pub flags: u64,
        /// `sa_restorer`.
        pub restorer: u64,
        /// `sa_mask`.
        pub mask: u64,
    }
}

wire_head! {
    /// The fixed head of the [`Signals`] payload on the wire; the [`NSIG`]
    /// dispositions ([`SigActionWire`]) follow it.
    pub struct SignalsWire {
        /// Blocked mask.
        pub blocked: U64,
        /// `sigaltstack`: `ss_sp`.
        pub altstack_sp: U64,
        /// `sigaltstack`: `ss_size`.
        pub altstack_size: U64,
        /// `sigaltstack`: `ss_flags`.
        pub altstack_flags: U32,
        /// Padding: zero.
        pub pad0: U32,
    }
}

/// Size of the [`Signals`] payload.
pub const SIGNALS_PAYLOAD: usize =
    core::mem::size_of::<SignalsWire>() + NSIG as usize * core::mem::size_of::<SigActionWire>();

/// Signal state of a task, as a view of a record payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signals<'a> {
    /// Blocked mask (bit `n - 1` for signal `n`).
    pub blocked: u64,
    /// `sigaltstack`: `ss_sp`.
    pub altstack_sp: u64,
    /// `sigaltstack`: `ss_size`.
    pub altstack_size: u64,
    /// `sigaltstack`: `ss_flags` (`SS_AUTODISARM` or 0; `SS_DISABLE` if none).
    pub altstack_flags: u32,
    /// The [`NSIG`] dispositions.
    raw: &'a [SigActionWire],
}

impl core::fmt::Debug for SigActionWire {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        SigAction::from_le(self).fmt(f)
    }
}

impl PartialEq for SigActionWire {
    fn eq(&self, other: &Self) -> bool {
        zerocopy::IntoBytes::as_bytes(self) == zerocopy::IntoBytes::as_bytes(other)
    }
}

impl Eq for SigActionWire {}

/// `SS_DISABLE`.
pub const SS_DISABLE: u32 = 2;
/// `SS_AUTODISARM`.
pub const SS_AUTODISARM: u32 = 1 << 31;

impl<'a> Signals<'a> {
    /// Encodes the record; `action(i)` gives the disposition of signal
    /// `i + 1`. (A view plus a callback keeps the 2 KiB table off the
    /// kernel stack.)
    pub fn encode(
        buf: &mut [u8],
        blocked: u64,
        altstack: (u64, u64, u32),
        action: impl Fn(usize) -> SigAction,
    ) -> Option<usize> {
        let head = SignalsWire {
            blocked: blocked.into(),
            altstack_sp: altstack.0.into(),
            altstack_size: altstack.1.into(),
            altstack_flags: altstack.2.into(),
            pad0: U32::ZERO,
        };
        encode_record(buf, RecordType::Signals, |w| {
            w.wire(&head);
            for i in 0..NSIG as usize {
                w.wire(&action(i).to_le());
            }
        })
    }

    /// Decodes the payload.
    pub fn decode(p: &'a [u8]) -> FResult<Self> {
        if p.len() != SIGNALS_PAYLOAD {
            return Err(FormatError::BadLength);
        }
        let mut c = Cursor::new(p);
        let h = c.wire::<SignalsWire>()?;
        let raw = c.wire_slice::<SigActionWire>(NSIG as usize)?;
        let s = Signals {
            blocked: h.blocked.get(),
            altstack_sp: h.altstack_sp.get(),
            altstack_size: h.altstack_size.get(),
            altstack_flags: h.altstack_flags.get(),
            raw,
        };
        if h.pad0.get() != 0 {
            return Err(FormatError::NonZeroPadding);
        }
        // SIGKILL (9) and SIGSTOP (19) can be neither blocked nor caught.
        let unblockable = (1u64 << 8) | (1u64 << 18);
        if s.blocked & unblockable != 0 {
            return Err(FormatError::BadField);
        }
        if s.action(8) != SigAction::default() || s.action(18) != SigAction::default() {
            return Err(FormatError::BadField);
        }
        if s.altstack_flags & !(SS_DISABLE | SS_AUTODISARM) != 0 {
            return Err(FormatError::BadField);
        }
        Ok(s)
    }

    /// Disposition of signal `i + 1` (`i < NSIG`).
    pub fn action(&self, i: usize) -> SigAction {
        SigAction::from_le(&self.raw[i])
    }
}

const _: () = assert!(SIGNALS_PAYLOAD == 32 + 32 * NSIG as usize);

#[cfg(feature = "info")]
mod show {
    use super::super::info::{Info, Json};
    use super::*;

    /// `SIG:ign` or `SIG:0xHANDLER` for each signal not at its default
    /// action, separated by spaces.
    fn handlers(s: &Signals<'_>) -> String {
        let mut h = vec![];
        for i in 0..NSIG as usize {
            match s.action(i).handler {
                0 => {}
                1 => h.push(format!("{}:ign", i + 1)),
                p => h.push(format!("{}:{p:#x}", i + 1)),
            }
        }
        h.join(" ")
    }

    /// `signals` in `info --json`.
    #[derive(serde::Serialize)]
    struct SignalsJson {
        blocked: u64,
        handlers: String,
    }

    impl Info for Signals<'_> {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            let s = self;
            let alt = if s.altstack_flags & SS_DISABLE != 0 {
                "none".to_string()
            } else {
                format!("{:#x}+{:#x}", s.altstack_sp, s.altstack_size)
            };
            l.push(format!(
                "signals: blocked {:#x}, altstack {alt}, handlers [{}]",
                s.blocked,
                handlers(s)
            ));
        }

        fn json(&self) -> Json {
            Json::member(
                "signals",
                SignalsJson {
                    blocked: self.blocked,
                    handlers: handlers(self),
                },
            )
        }
    }
}

/// [`PendingSig::flags`]: the signal is pending for the whole process
/// (`signal->shared_pending`), not for one thread.
pub const PENDING_SHARED: u32 = 1;
/// [`PendingSig::flags`]: the signal's bit is set with no queued siginfo
/// (the kernel ran out of queue space when it was sent): it is delivered
/// with `SI_USER`, pid and uid 0, as then.
pub const PENDING_NOINFO: u32 = 2;
/// Size of the [`PendingSig`] payload.
pub const PENDING_SIG_PAYLOAD: usize = super::codec::wire_size::<PendingSig>();
/// `SIGKILL`, never saved pending (a task about to die is not saved).
pub const SIGKILL: u32 = 9;

wire_struct! {
    /// One pending signal, as queued at checkpoint time: one record per
    /// queued siginfo (a real-time signal queued three times has three),
    /// in queue order, after the complete thread (regs, xstate) it is
    /// pending for, or, with [`PENDING_SHARED`], for the process, after
    /// any of its threads. Blocked signals included.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct PendingSig, wire PendingSigWire {
        /// The signal, 1 to [`NSIG`], not `SIGKILL`.
        pub signo: u32,
        /// [`PENDING_SHARED`], [`PENDING_NOINFO`].
        pub flags: u32,
        /// The thread it is pending for (0 with [`PENDING_SHARED`]).
        pub tid: i32,
        /// `si_errno`.
        pub errno: i32,
        /// `si_code`.
        pub code: i32,
        pad pad0,
        /// The siginfo's union (`_sifields`, 64-bit layout) as the kernel
        /// held it.
        pub fields: [u8; 32],
    }
}

impl PendingSig {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        super::codec::encode_whole(buf, RecordType::PendingSig, *self)
    }

    /// Whether it is pending for the process rather than a thread.
    pub fn shared(&self) -> bool {
        self.flags & PENDING_SHARED != 0
    }

    /// Decodes the payload.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        let s: PendingSig = super::codec::decode_whole(p)?;
        if s.signo == 0 || s.signo > NSIG || s.signo == SIGKILL {
            return Err(FormatError::BadField);
        }
        if s.flags & !(PENDING_SHARED | PENDING_NOINFO) != 0 {
            return Err(FormatError::BadField);
        }
        if s.shared() != (s.tid == 0) || s.tid < 0 {
            return Err(FormatError::BadField);
        }
        if s.flags & PENDING_NOINFO != 0 && (s.errno != 0 || s.code != 0 || s.fields != [0; 32]) {
            return Err(FormatError::BadField);
        }
        Ok(s)
    }

    /// `si_pid` and `si_uid` (the first two words of the union), for the
    /// codes that carry them (`SI_USER`, `SI_QUEUE`, `SI_TKILL`,
    /// `SI_MESGQ`, `SIGCHLD`'s; `SI_KERNEL`'s are 0).
    pub fn pid_uid(&self) -> (i32, u32) {
        let f = &self.fields;
        (
            i32::from_le_bytes([f[0], f[1], f[2], f[3]]),
            u32::from_le_bytes([f[4], f[5], f[6], f[7]]),
        )
    }

    /// The third word of the union: `si_value` (`SI_QUEUE`, `SI_TIMER`,
    /// `SI_MESGQ`) or, for `SIGCHLD`, `si_status` in its low half.
    pub fn word2(&self) -> u64 {
        let mut w = [0; 8];
        w.copy_from_slice(&self.fields[8..16]);
        u64::from_le_bytes(w)
    }
}

const _: () = assert!(PENDING_SIG_PAYLOAD == 56);

#[cfg(feature = "info")]
mod show_pending {
    use super::super::info::{Info, Json};
    use super::*;

    /// Name of a common `si_code`.
    fn code_name(signo: u32, code: i32) -> String {
        match code {
            0 => "SI_USER".into(),
            0x80 => "SI_KERNEL".into(),
            -1 => "SI_QUEUE".into(),
            -2 => "SI_TIMER".into(),
            -3 => "SI_MESGQ".into(),
            -4 => "SI_ASYNCIO".into(),
            -5 => "SI_SIGIO".into(),
            -6 => "SI_TKILL".into(),
            1..=6 if signo == 17 => [
                "CLD_EXITED",
                "CLD_KILLED",
                "CLD_DUMPED",
                "CLD_TRAPPED",
                "CLD_STOPPED",
                "CLD_CONTINUED",
            ][code as usize - 1]
                .into(),
            c => c.to_string(),
        }
    }

    /// An element of `pending_signals` in `info --json`.
    #[derive(serde::Serialize)]
    struct PendingJson {
        signo: u32,
        /// 0: the process's (shared).
        tid: i32,
        shared: bool,
        /// `false`: the bit alone, no siginfo.
        info: bool,
        code: i32,
        errno: i32,
        pid: i32,
        uid: u32,
        /// The union's third word: `si_value` or `SIGCHLD`'s status.
        value: u64,
    }

    impl Info for PendingSig {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            let (pid, uid) = self.pid_uid();
            let whose = if self.shared() {
                "process".to_string()
            } else {
                format!("tid {}", self.tid)
            };
            if self.flags & PENDING_NOINFO != 0 {
                l.push(format!(
                    "    pending signal {} ({whose}): no siginfo",
                    self.signo
                ));
                return;
            }
            l.push(format!(
                "    pending signal {} ({whose}): {} errno {} pid {pid} uid {uid} value {:#x}",
                self.signo,
                code_name(self.signo, self.code),
                self.errno,
                self.word2()
            ));
        }

        fn json(&self) -> Json {
            let (pid, uid) = self.pid_uid();
            Json::element(
                "pending_signals",
                PendingJson {
                    signo: self.signo,
                    tid: self.tid,
                    shared: self.shared(),
                    info: self.flags & PENDING_NOINFO == 0,
                    code: self.code,
                    errno: self.errno,
                    pid,
                    uid,
                    value: self.word2(),
                },
            )
        }
    }
}
