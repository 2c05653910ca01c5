// SPDX-License-Identifier: GPL-2.0

//! A thread's registers: general purpose ([`Regs`]) and extended
//! ([`Xstate`]).

use super::codec::{decode_whole, encode_whole, wire_size};
use super::*;

/// Indices into [`Regs::r`] (`struct user_regs_struct` order).
pub mod reg {
    #![allow(missing_docs)]
    pub const R15: usize = 0;
    pub const R14: usize = 1;
    pub const R13: usize = 2;
    pub const R12: usize = 3;
    pub const BP: usize = 4;
    pub const BX: usize = 5;
    pub const R11: usize = 6;
    pub const R10: usize = 7;
    pub const R9: usize = 8;
    pub const R8: usize = 9;
    pub const AX: usize = 10;
    pub const CX: usize = 11;
    pub const DX: usize = 12;
    pub const SI: usize = 13;
    pub const DI: usize = 14;
    pub const ORIG_AX: usize = 15;
    pub const IP: usize = 16;
    pub const CS: usize = 17;
    pub const FLAGS: usize = 18;
    pub const SP: usize = 19;
    pub const SS: usize = 20;
    pub const FS_BASE: usize = 21;
    pub const GS_BASE: usize = 22;
    pub const DS: usize = 23;
    pub const ES: usize = 24;
    pub const FS: usize = 25;
    pub const GS: usize = 26;
    /// Register names, for `crctl info`.
    pub const NAMES: [&str; super::NR_GREGS] = [
        "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx",
        "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds",
        "es", "fs", "gs",
    ];
}

wire_struct! {
    /// General purpose registers, in `struct user_regs_struct` order, as the task
    /// will see them when it next runs in user space (an interrupted restartable
    /// system call is already rewound; see the spec).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Regs, wire RegsWire {
        /// Register words.
        pub r: [u64; NR_GREGS],
        /// Bit 0: the task was interrupted in a system call (informational).
        pub flags: u32,
        pad pad0,
    }
}

/// Size of the [`Regs`] payload.
pub const REGS_PAYLOAD: usize = wire_size::<Regs>();

/// [`Regs::flags`]: the task was in a system call when checkpointed.
pub const REGS_IN_SYSCALL: u32 = 1;
/// [`Regs::flags`]: that system call will return `-EINTR` on restart.
pub const REGS_SYSCALL_EINTR: u32 = 2;

impl Regs {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_whole(buf, RecordType::Regs, *self)
    }

    /// Decodes the payload. Which values the running kernel accepts is the
    /// restorer's business (it knows the segment selectors).
    pub fn decode(p: &[u8]) -> FResult<Self> {
        let r: Regs = decode_whole(p)?;
        if r.flags & !(REGS_IN_SYSCALL | REGS_SYSCALL_EINTR) != 0 {
            return Err(FormatError::BadField);
        }
        Ok(r)
    }
}

/// FPU/SSE/AVX state: the x86 `XSTATE` regset (standard, non-compacted xsave
/// layout with the software-reserved bytes), `size` bytes.
pub struct Xstate<'a> {
    /// The xsave area.
    pub area: &'a [u8],
}

impl<'a> Xstate<'a> {
    /// Encodes the record.
    pub fn encode(buf: &mut [u8], area: &[u8]) -> Option<usize> {
        encode_record(buf, RecordType::Xstate, |w| {
            w.u32(area.len() as u32);
            w.u32(0);
            w.bytes(area);
        })
    }

    /// Decodes the payload; `size` is the header's `xstate_size`.
    pub fn decode(p: &'a [u8], size: u32) -> FResult<Self> {
        let mut c = Cursor::new(p);
        if c.u32()? != size {
            return Err(FormatError::BadField);
        }
        c.pad32()?;
        let area = c.bytes(size as usize)?;
        c.finish()?;
        Ok(Self { area })
    }

    /// `xstate_bv` from the xsave header (bytes 512..520), 0 if absent.
    pub fn xstate_bv(&self) -> u64 {
        match self.area.get(512..520) {
            Some(b) => {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                u64::from_le_bytes(a)
            }
            None => 0,
        }
    }
}

const _: () = assert!(REGS_PAYLOAD == 8 * NR_GREGS + 8);

#[cfg(feature = "info")]
mod show {
    use super::super::info::{named, Info, Json, Value};
    use super::*;

    impl Info for Regs {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            let r = self;
            let state = if r.flags & REGS_SYSCALL_EINTR != 0 {
                " (in a system call: it returns EINTR on restart)"
            } else if r.flags & REGS_IN_SYSCALL != 0 {
                " (in a system call)"
            } else {
                ""
            };
            l.push(format!(
                "regs: rip {:#x} rsp {:#x} rax {:#x} rbp {:#x} eflags {:#x} fs_base {:#x}{state}",
                r.r[reg::IP],
                r.r[reg::SP],
                r.r[reg::AX],
                r.r[reg::BP],
                r.r[reg::FLAGS],
                r.r[reg::FS_BASE]
            ));
        }

        /// Each register of `reg::NAMES`, then `flags` (in a system call,
        /// EINTR).
        fn json(&self) -> Json {
            let mut m = named(&reg::NAMES, &self.r);
            m.insert("flags".into(), self.flags.into());
            Json::Member("regs", Value::Object(m))
        }
    }

    /// `xstate` in `info --json`.
    #[derive(serde::Serialize)]
    struct XstateJson {
        size: usize,
        xstate_bv: u64,
    }

    impl Info for Xstate<'_> {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            l.push(format!(
                "xstate: {} bytes, xstate_bv {:#x}",
                self.area.len(),
                self.xstate_bv()
            ));
        }

        fn json(&self) -> Json {
            Json::member(
                "xstate",
                XstateJson {
                    size: self.area.len(),
                    xstate_bv: self.xstate_bv(),
                },
            )
        }
    }
}
