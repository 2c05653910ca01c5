// SPDX-License-Identifier: GPL-2.0

//! Registers: general purpose, fs base, and the xsave area (FPU, SSE, AVX).
//! Records: [`format::Regs`], [`format::Xstate`].
//!
//! A task is checkpointed at a return to user space. If it was in a system
//! call that a signal-like interruption would restart (`-ERESTARTSYS`,
//! `-ERESTARTNOINTR`, `-ERESTARTNOHAND`), the image holds the registers as
//! the kernel's no-handler restart leaves them: `ax` = the syscall number,
//! `ip` back on the `syscall` instruction, so the restored task re-issues the
//! call. A call that the kernel would continue through `restart_syscall`
//! (`-ERESTART_RESTARTBLOCK`: `nanosleep`, `clock_nanosleep`, `poll` or a
//! futex wait with a timeout) is re-issued the same way, from its original
//! arguments, which the registers still hold: an absolute timeout ends
//! when it would have, a relative one counts again from the restart (the
//! call waits longer, as after a scheduling delay, and never fails with
//! `EINTR`). Only a call that was itself a `restart_syscall` (its original
//! number is gone) returns `-EINTR` in the restored task.

use crate::{
    error::{eopnotsupp, refuse, Refusal},
    format::{self, reg, Record},
    kapi::current,
    log::{fail, Log},
    stream::ImageWriter,
};
use kernel::{alloc::KVec, fs::File, prelude::*};

/// `__NR_restart_syscall` (x86-64).
const NR_RESTART_SYSCALL: u64 = 219;

/// Offset in the xsave area of the xfeatures word user space may use
/// (`sw_reserved`, `USER_XSTATE_XCR0_WORD`).
const XCR0_OFFSET: usize = 464;
/// Offset of `MXCSR` and `MXCSR_MASK` in the legacy area.
const MXCSR_OFFSET: usize = 24;
const MXCSR_MASK_OFFSET: usize = 28;
/// xsave header: `xstate_bv`, `xcomp_bv`, reserved to 576.
const XSAVE_HDR: usize = 512;

fn word(buf: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&buf[off..off + 8]);
    u64::from_le_bytes(a)
}

fn word32(buf: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&buf[off..off + 4]);
    u32::from_le_bytes(a)
}

/// Reads the current task's xsave area.
fn own_xstate() -> Result<KVec<u8>> {
    let size = current::regset_size(current::NT_X86_XSTATE)?;
    let mut x = KVec::from_elem(0u8, size, GFP_KERNEL_ACCOUNT)?;
    current::regset_get(current::NT_X86_XSTATE, &mut x)?;
    Ok(x)
}

/// The running kernel's xsave size, user xfeatures and MXCSR mask.
pub(crate) fn here() -> Result<(u32, u64, u32)> {
    let x = own_xstate()?;
    let mask = match word32(&x, MXCSR_MASK_OFFSET) {
        0 => 0xffbf,
        m => m,
    };
    Ok((x.len() as u32, word(&x, XCR0_OFFSET), mask))
}

// ------------------------------------------------------------ checkpoint

/// Registers of a snapshot.
pub(crate) struct RegsSnap {
    r: [u64; format::NR_GREGS],
    flags: u32,
    pub(crate) xstate: KVec<u8>,
    pub(crate) xfeatures: u64,
}

impl RegsSnap {
    /// Reads the current task's registers (runs in the target).
    #[inline(never)]
    pub(crate) fn gather(pid: i32) -> Result<Self, Refusal> {
        let mut buf = [0u8; 8 * format::NR_GREGS];
        current::regset_get(current::NT_PRSTATUS, &mut buf)?;
        let mut r = [0u64; format::NR_GREGS];
        for (i, v) in r.iter_mut().enumerate() {
            *v = word(&buf, 8 * i);
        }
        let (cs, ds) = current::user_segments();
        if r[reg::CS] != cs || r[reg::SS] != ds {
            return Err(refuse!(
                eopnotsupp(),
                "pid {pid}: runs 32-bit code (cs {:#x}): not supported",
                r[reg::CS]
            ));
        }
        if r[reg::DS] | r[reg::ES] | r[reg::FS] | r[reg::GS] != 0 {
            return Err(refuse!(
                eopnotsupp(),
                "pid {pid}: non-zero data segment selectors: not supported"
            ));
        }
        if r[reg::GS_BASE] != 0 {
            return Err(refuse!(
                eopnotsupp(),
                "pid {pid}: user gs base set: not supported"
            ));
        }
        let mut flags = 0;
        if (r[reg::ORIG_AX] as i64) >= 0 {
            flags |= format::REGS_IN_SYSCALL;
            let ax = r[reg::AX] as i64;
            let restart = [ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND];
            if restart.iter().any(|e| i64::from(e.to_errno()) == ax) {
                r[reg::AX] = r[reg::ORIG_AX];
                r[reg::IP] = r[reg::IP].wrapping_sub(2);
            } else if i64::from(ERESTART_RESTARTBLOCK.to_errno()) == ax {
                if r[reg::ORIG_AX] == NR_RESTART_SYSCALL {
                    r[reg::AX] = i64::from(EINTR.to_errno()) as u64;
                    flags |= format::REGS_SYSCALL_EINTR;
                } else {
                    r[reg::AX] = r[reg::ORIG_AX];
                    r[reg::IP] = r[reg::IP].wrapping_sub(2);
                }
            }
        }
        r[reg::ORIG_AX] = u64::MAX;
        let xstate = own_xstate()?;
        let xfeatures = word(&xstate, XCR0_OFFSET);
        Ok(RegsSnap {
            r,
            flags,
            xstate,
            xfeatures,
        })
    }

    /// Writes the regs and xstate records.
    pub(crate) fn write(&self, w: &mut ImageWriter<'_>) -> Result {
        let regs = format::Regs {
            r: self.r,
            flags: self.flags,
        };
        w.record(|b| regs.encode(b))?;
        w.record(|b| format::Xstate::encode(b, &self.xstate))
    }
}

// ------------------------------------------------------------ restart

/// Registers of a restart plan.
pub(crate) struct RegsPlan {
    regs: KBox<format::Regs>,
    xstate: KVec<u8>,
}

/// The registers of a thread being read: its regs record, then its xstate
/// record.
pub(crate) struct RegsReader {
    regs: Option<KBox<format::Regs>>,
}

impl RegsReader {
    /// Nothing read yet.
    pub(crate) fn new() -> Self {
        RegsReader { regs: None }
    }

    /// Takes the thread's regs or xstate record: the plan once both are in.
    pub(crate) fn add(&mut self, rec: &Record<'_>) -> Result<Option<RegsPlan>> {
        match rec {
            Record::Regs(g) => {
                self.regs = Some(KBox::new(*g, GFP_KERNEL_ACCOUNT)?);
                Ok(None)
            }
            Record::Xstate(x) => {
                let regs = self.regs.take().ok_or(EINVAL)?;
                let mut xstate = KVec::with_capacity(x.len(), GFP_KERNEL_ACCOUNT)?;
                xstate.extend_from_slice(x, GFP_KERNEL_ACCOUNT)?;
                Ok(Some(RegsPlan { regs, xstate }))
            }
            _ => Err(EINVAL),
        }
    }
}

impl RegsPlan {
    /// Checks that the registers are ones user space could have: 64-bit user
    /// segments, addresses below the user limit, and an xsave area in the
    /// standard format with only features and MXCSR bits this CPU allows.
    pub(crate) fn check(&self, log: &Log) -> Result {
        let r = &self.regs.r;
        let (cs, ds) = current::user_segments();
        let limit = current::task_size_max();
        if r[reg::CS] != cs || r[reg::SS] != ds {
            return Err(fail!(
                log,
                EINVAL,
                "registers: segments cs {:#x} ss {:#x} are not 64-bit user segments",
                r[reg::CS],
                r[reg::SS]
            ));
        }
        if r[reg::DS] | r[reg::ES] | r[reg::FS] | r[reg::GS] | r[reg::GS_BASE] != 0 {
            return Err(fail!(
                log,
                EINVAL,
                "registers: non-zero data selectors or gs base"
            ));
        }
        if r[reg::IP] >= limit || r[reg::FS_BASE] >= limit {
            return Err(fail!(
                log,
                EINVAL,
                "registers: ip {:#x} or fs base {:#x} outside user space",
                r[reg::IP],
                r[reg::FS_BASE]
            ));
        }
        let (size, xfeatures, mxcsr_mask) = here()?;
        let x = &self.xstate;
        if x.len() != size as usize {
            return Err(fail!(
                log,
                EINVAL,
                "xstate: size {} differs from this CPU's {size}",
                x.len()
            ));
        }
        if word(x, XSAVE_HDR) & !xfeatures != 0 {
            return Err(fail!(
                log,
                EINVAL,
                "xstate: uses features {:#x} this CPU does not enable ({xfeatures:#x})",
                word(x, XSAVE_HDR)
            ));
        }
        if x[XSAVE_HDR + 8..XSAVE_HDR + 64].iter().any(|&b| b != 0) {
            return Err(fail!(
                log,
                EINVAL,
                "xstate: compacted format or non-zero reserved header bytes"
            ));
        }
        if word32(x, MXCSR_OFFSET) & !mxcsr_mask != 0 {
            return Err(fail!(
                log,
                EINVAL,
                "xstate: MXCSR {:#x} has reserved bits set",
                word32(x, MXCSR_OFFSET)
            ));
        }
        Ok(())
    }

    /// Installs the registers. `ax` is set on the way back to user space,
    /// after the ioctl has returned (`dev` is the `/dev/cr` file).
    pub(crate) fn restore(&self, dev: &File) -> Result {
        current::set_xstate(&self.xstate)?;
        current::set_regs(&self.regs.r);
        current::set_ax_on_return(self.regs.r[reg::AX], dev)
    }
}
