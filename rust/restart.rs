// SPDX-License-Identifier: GPL-2.0

//! `CR_IOC_RESTART`: the caller becomes the program saved in an image.
//!
//! Two phases. First every metadata record, up to the meta-end record and
//! its checksum, is read and validated into a [`Plan`]; files are opened and
//! the credentials, working directory, limits, registers and the vdso
//! position are checked, all as the caller and without changing anything.
//! Any problem is a clean error with a log line. Then the point of no
//! return: the caller's memory is replaced by the image's mappings, page
//! contents are streamed in (checksum verified at the tail), and the file
//! table, identity, signal state and registers are installed. A failure
//! there kills the caller (the log says why); on success the ioctl
//! "returns" into the restored program.

use crate::{
    checkpoint::here_header,
    files::FilesPlan,
    format::{self, Record},
    kapi::{self, current},
    log::{fail, Log},
    memory::MemPlan,
    regs::{self, RegsPlan},
    signals,
    stream::{ImageReader, ReadError},
    task::TaskPlan,
    uapi::Args,
};
use kernel::{alloc::KVec, bindings, fs::File, prelude::*};

/// Layout of `struct cr_restart_args`.
mod layout {
    pub(super) const SIZE_VER0: usize = 32;
    pub(super) const FLAGS: usize = 4;
    pub(super) const FD: usize = 8;
    pub(super) const LOGFD: usize = 12;
    pub(super) const PREFIX: usize = 16;
    pub(super) const PREFIX_LEN: usize = 24;
}

/// `CR_RESTART_STOPPED`.
pub(crate) const CR_RESTART_STOPPED: u32 = 1;
const KNOWN_FLAGS: u32 = CR_RESTART_STOPPED;

/// Everything restart needs before the point of no return.
struct Plan {
    task: TaskPlan,
    regs: RegsPlan,
    signals: signals::SigPlan,
    mem: MemPlan,
    files: FilesPlan,
}

/// Logs a read error and turns it into the errno.
fn read_fail(log: &Log, e: ReadError) -> Error {
    match e {
        ReadError::Io(e) => fail!(log, e, "reading the image failed"),
        ReadError::Format(f, off) => {
            fail!(log, EINVAL, "bad image at byte {off}: {}", f.describe())
        }
        ReadError::Logged(e) => e,
    }
}

fn copy_bytes(b: &[u8]) -> Result<KVec<u8>> {
    let mut v = KVec::with_capacity(b.len(), GFP_KERNEL_ACCOUNT)?;
    v.extend_from_slice(b, GFP_KERNEL_ACCOUNT)?;
    Ok(v)
}

/// Reads the metadata into a plan (phase one).
#[inline(never)]
fn read_plan(r: &mut ImageReader<'_>, log: &Log) -> Result<Plan> {
    let rf = |e| read_fail(log, e);
    r.magic().map_err(rf)?;
    let (xsize, xfeatures, _) = regs::here()?;
    let here = here_header(xsize, xfeatures, 0);

    // Records are boxed as they come, to keep this frame small.
    let mut task: Option<KBox<format::Task>> = None;
    let mut groups = KVec::new();
    let mut cwd = KVec::new();
    let mut rlimits = None;
    let mut gregs = None;
    let mut xstate = KVec::new();
    let mut sigs = None;
    let mut mem: Option<MemPlan> = None;
    let mut files = FilesPlan::new();
    loop {
        let rec = r.next().map_err(rf)?;
        match rec {
            Record::Header(h) => {
                if let Err(e) = h.check_against(&here) {
                    return Err(fail!(
                        log,
                        EINVAL,
                        "image does not fit this kernel: {} (image from {}, running {})",
                        e.describe(),
                        crate::log::Show(h.release()),
                        crate::log::Show(here.release())
                    ));
                }
            }
            Record::Task(t) => task = Some(KBox::new(t, GFP_KERNEL_ACCOUNT)?),
            Record::Groups(g) => {
                groups = KVec::with_capacity(g.len(), GFP_KERNEL_ACCOUNT)?;
                for i in 0..g.len() {
                    groups.push(g.get(i), GFP_KERNEL_ACCOUNT)?;
                }
            }
            Record::Cwd(p) => cwd = copy_bytes(p)?,
            Record::Rlimits(l) => rlimits = Some(KBox::new(l, GFP_KERNEL_ACCOUNT)?),
            Record::Regs(g) => gregs = Some(KBox::new(g, GFP_KERNEL_ACCOUNT)?),
            Record::Xstate(x) => xstate = copy_bytes(x)?,
            Record::Signals(s) => sigs = Some(signals::SigPlan::new(&s)?),
            Record::Mm(m) => mem = Some(MemPlan::new(&m, log)?),
            Record::Vma(v, _) => mem.as_mut().ok_or(EINVAL)?.add_vma(&v, log)?,
            Record::File(f) => files.add(&f, log)?,
            Record::MetaEnd(_) => break,
            Record::Pages(_) | Record::Tail(_) => {
                return Err(fail!(
                    log,
                    EINVAL,
                    "bad image: pages before the metadata end"
                ))
            }
        }
    }
    // The validator guarantees every required record was present.
    let missing = || fail!(log, EINVAL, "bad image: required record missing");
    let plan = Plan {
        task: TaskPlan {
            task: task.ok_or_else(missing)?,
            groups,
            cwd,
            rlimits: rlimits.ok_or_else(missing)?,
        },
        regs: RegsPlan {
            regs: gregs.ok_or_else(missing)?,
            xstate,
        },
        signals: sigs.ok_or_else(missing)?,
        mem: mem.ok_or_else(missing)?,
        files,
    };
    plan.task.check(log)?;
    plan.regs.check(log)?;
    plan.signals.check(log)?;
    plan.mem.check(log)?;
    Ok(plan)
}

/// Phase two: past the point of no return.
#[inline(never)]
fn commit(plan: &Plan, r: &mut ImageReader<'_>, log: &Log, flags: u32) -> Result<isize> {
    plan.mem.map(log)?;
    plan.mem.fill(r, log).map_err(|e| read_fail(log, e))?;
    plan.mem.set_layout(log)?;
    plan.task.restore();
    plan.files.restore(log)?;
    plan.signals.restore();
    let ax = plan
        .regs
        .restore()
        .map_err(|e| fail!(log, e, "the image's FPU state was refused"))?;
    if flags & CR_RESTART_STOPPED != 0 {
        current::send_sig(bindings::SIGSTOP as i32);
    }
    Ok(ax)
}

/// `CR_IOC_RESTART`.
#[inline(never)]
pub(crate) fn ioctl(_dev: &File, arg: usize) -> Result<isize> {
    use layout as l;
    let args = Args::<{ l::SIZE_VER0 }>::read(arg, l::SIZE_VER0)?;
    let flags = args.u32_at(l::FLAGS);
    if flags & !KNOWN_FLAGS != 0 {
        return Err(EINVAL);
    }
    let log = Log::open(args.i32_at(l::LOGFD), "restart")?;
    let fd = args.i32_at(l::FD);
    let file = kapi::fget(fd).map_err(|e| fail!(log, e, "fd {fd}: not an open file"))?;
    if !kapi::file_mode(&file).0 {
        return Err(fail!(log, EBADF, "fd {fd}: not open for reading"));
    }
    if current::nr_threads() != 1 {
        return Err(fail!(
            log,
            EBUSY,
            "the caller has several threads: restart needs a single-threaded caller"
        ));
    }
    let mut reader = ImageReader::new(&file, args.u64_at(l::PREFIX), args.u64_at(l::PREFIX_LEN))
        .map_err(|e| {
            fail!(
                log,
                e,
                "cannot read the prefix ({} bytes)",
                args.u64_at(l::PREFIX_LEN)
            )
        })?;
    let plan = read_plan(&mut reader, &log)?;
    match commit(&plan, &mut reader, &log, flags) {
        Ok(ax) => Ok(ax),
        Err(e) => {
            log.line(
                None,
                format_args!("restart failed after the point of no return: the task is killed"),
            );
            current::send_sig(bindings::SIGKILL as i32);
            Err(e)
        }
    }
}
