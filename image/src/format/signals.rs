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
