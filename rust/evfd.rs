// SPDX-License-Identifier: GPL-2.0

//! Event descriptors: eventfd, timerfd and signalfd. Records:
//! [`format::EventfdRec`], [`format::TimerfdRec`], [`format::SignalfdRec`].
//!
//! Each is an object one open file description opens (the description is
//! shared by `dup` and `fork` through its file record id, as any other).
//!
//! Checkpoint: the kind is known by the anonymous inode's name (`[eventfd]`,
//! `[timerfd]`, `[signalfd]`), and the state is what the file's own
//! `show_fdinfo` prints (`/proc/PID/fdinfo`), parsed by the format crate:
//! nothing is consumed or changed. A timerfd keeps its remaining time,
//! except an absolute `CLOCK_REALTIME` one, which keeps its expiration on
//! the wall clock. Alarm clocks are refused.
//!
//! Restart: a module cannot create these (`eventfd`, `timerfd_create` and
//! `signalfd` are system calls only), so the caller (crctl) makes each one
//! from its record and hands it over (`struct cr_restart_obj`); this module
//! checks it is of the right kind and in the recorded state (its fdinfo
//! again), before the point of no return, and installs it as the
//! description's file, with `O_NONBLOCK` as recorded.

use crate::{
    error::{eopnotsupp, refuse, Refusal},
    format::{self, EventfdInfo, FileKind, Record, TimerfdInfo},
    kapi::{self, current, evfd as kevfd, pipe as kpipe},
    log::{fail, Log},
    shared::{Kind, Object, SharedObjects},
    stream::ImageWriter,
    uapi::{RestartObj, CR_RESTART_OBJ_EVENTFD, CR_RESTART_OBJ_SIGNALFD, CR_RESTART_OBJ_TIMERFD},
};
use kernel::{fs::File, prelude::*, sync::aref::ARef};

const O_NONBLOCK: u32 = 0o4000;
/// Room for any of the three fdinfo texts.
const FDINFO_MAX: usize = 256;
const CLOCK_REALTIME_ALARM: u32 = 8;
const CLOCK_BOOTTIME_ALARM: u32 = 9;

/// The event descriptor kind of `f`, if it is one.
pub(crate) fn kind_of(f: &File) -> Option<FileKind> {
    let mut nb = [0u8; 16];
    match kapi::file_dname(f, &mut nb) {
        b"[eventfd]" => Some(FileKind::Eventfd),
        b"[timerfd]" => Some(FileKind::Timerfd),
        b"[signalfd]" => Some(FileKind::Signalfd),
        _ => None,
    }
}

fn shared_kind(k: FileKind) -> Option<Kind> {
    match k {
        FileKind::Eventfd => Some(Kind::Eventfd),
        FileKind::Timerfd => Some(Kind::Timerfd),
        FileKind::Signalfd => Some(Kind::Signalfd),
        _ => None,
    }
}

fn what(k: Kind) -> &'static str {
    match k {
        Kind::Eventfd => "eventfd",
        Kind::Timerfd => "timerfd",
        _ => "signalfd",
    }
}

/// What one of them is, as its fdinfo says.
enum State {
    Eventfd(EventfdInfo),
    Timerfd(TimerfdInfo),
    Signalfd(u64),
}

/// Reads the state of `f`, an event descriptor of kind `k`.
fn state(f: &File, k: FileKind) -> Result<State> {
    let mut buf = [0u8; FDINFO_MAX];
    let t = kevfd::show_fdinfo(f, &mut buf)?;
    match k {
        FileKind::Eventfd => EventfdInfo::parse(t).map(State::Eventfd),
        FileKind::Timerfd => TimerfdInfo::parse(t).map(State::Timerfd),
        _ => format::parse_signalfd_info(t).map(State::Signalfd),
    }
    .ok_or(EIO)
}

// ------------------------------------------------------------ checkpoint

/// An event descriptor of the tree: its identity and its record (id 0
/// until written).
pub(crate) struct EvfdSnap {
    key: u64,
    rec: Rec,
}

enum Rec {
    Eventfd(format::EventfdRec),
    Timerfd(format::TimerfdRec),
    Signalfd(format::SignalfdRec),
}

/// Reads the event descriptor `f` of kind `k` (at `fd` of `pid`).
pub(crate) fn gather(pid: i32, fd: u32, f: &File, k: FileKind) -> Result<EvfdSnap, Refusal> {
    let st =
        state(f, k).map_err(|e| refuse!(e, "pid {pid} fd {fd}: cannot read the {}", k.name()))?;
    let rec = match st {
        State::Eventfd(e) => Rec::Eventfd(format::EventfdRec {
            id: 0,
            flags: if e.semaphore {
                format::EVENTFD_SEMAPHORE
            } else {
                0
            },
            count: e.count,
        }),
        State::Timerfd(t) => {
            let c = t.clockid;
            if c == CLOCK_REALTIME_ALARM || c == CLOCK_BOOTTIME_ALARM {
                return Err(refuse!(
                    eopnotsupp(),
                    "pid {pid} fd {fd}: timerfd on {}: not supported yet",
                    if c == CLOCK_REALTIME_ALARM {
                        "CLOCK_REALTIME_ALARM"
                    } else {
                        "CLOCK_BOOTTIME_ALARM"
                    }
                ));
            }
            let mut t = t;
            if t.value_ns == 0 && t.interval_ns != 0 {
                // A periodic timer that expired and waits for a read to
                // rearm it: a read would add the intervals since its
                // expiration; the record holds them, and the time to the
                // next one.
                let (exp, now) = kevfd::timerfd_expires(f, t.interval_ns).ok_or_else(|| {
                    refuse!(
                        eopnotsupp(),
                        "pid {pid} fd {fd}: expired periodic timerfd whose expiration cannot be read: not supported yet"
                    )
                })?;
                let i = t.interval_ns;
                let late = now.saturating_sub(exp).max(0) as u64;
                // A timer whose expiration is due but not yet run counts it.
                t.ticks = t.ticks.max(1).saturating_add(late / i);
                t.value_ns = i - late % i;
            }
            let flags = t.flags & (format::TIMERFD_ABSTIME | format::TIMERFD_CANCEL_ON_SET);
            let abs_ns = if c == format::CLOCK_REALTIME
                && flags & format::TIMERFD_ABSTIME != 0
                && t.value_ns != 0
            {
                (kevfd::realtime_ns().max(0) as u64).saturating_add(t.value_ns)
            } else {
                0
            };
            let r = format::TimerfdRec {
                id: 1,
                clockid: c,
                flags,
                ticks: t.ticks,
                value_ns: t.value_ns,
                interval_ns: t.interval_ns,
                abs_ns,
            };
            // What the image could not say is refused here, by name.
            let mut b = [0u8; format::RECORD_HEADER_SIZE + format::TIMERFD_PAYLOAD];
            let n = r.encode(&mut b).ok_or(EINVAL)?;
            if t.flags != flags || format::TimerfdRec::decode(&b[8..n]).is_err() {
                return Err(refuse!(
                    eopnotsupp(),
                    "pid {pid} fd {fd}: timerfd on clock {c} with settime flags {:#o}: not supported yet",
                    t.flags
                ));
            }
            Rec::Timerfd(format::TimerfdRec { id: 0, ..r })
        }
        State::Signalfd(mask) => Rec::Signalfd(format::SignalfdRec { id: 0, mask }),
    };
    Ok(EvfdSnap {
        key: f.as_ptr() as usize as u64,
        rec,
    })
}

impl EvfdSnap {
    /// The kind of shared object it is, and its identity: its file (never
    /// saved).
    pub(crate) fn key(&self) -> (Kind, u64) {
        let k = match self.rec {
            Rec::Eventfd(_) => Kind::Eventfd,
            Rec::Timerfd(_) => Kind::Timerfd,
            Rec::Signalfd(_) => Kind::Signalfd,
        };
        (k, self.key)
    }

    /// Writes its record, with image id `id`.
    pub(crate) fn write(&self, id: u32, w: &mut ImageWriter<'_>) -> Result {
        match self.rec {
            Rec::Eventfd(r) => w.record(|b| format::EventfdRec { id, ..r }.encode(b)),
            Rec::Timerfd(r) => w.record(|b| format::TimerfdRec { id, ..r }.encode(b)),
            Rec::Signalfd(r) => w.record(|b| format::SignalfdRec { id, ..r }.encode(b)),
        }
    }
}

// ------------------------------------------------------------ restart

/// Takes a handed-over object of one of the event descriptor kinds into
/// `shared`: its fd must be an event descriptor of that kind, each id once.
pub(crate) fn take_handed(o: &RestartObj, shared: &mut SharedObjects, log: &Log) -> Result {
    let (kind, fk) = match o.kind {
        CR_RESTART_OBJ_EVENTFD => (Kind::Eventfd, FileKind::Eventfd),
        CR_RESTART_OBJ_TIMERFD => (Kind::Timerfd, FileKind::Timerfd),
        CR_RESTART_OBJ_SIGNALFD => (Kind::Signalfd, FileKind::Signalfd),
        _ => return Err(EINVAL),
    };
    let (id, fd, w) = (o.id, o.fd, what(kind));
    if id == 0 || shared.get(kind, id).is_some() {
        return Err(fail!(
            log,
            EINVAL,
            "restart object {id}: bad or repeated {w} id"
        ));
    }
    let f = kapi::fget(fd).map_err(|e| fail!(log, e, "{w} {id}: fd {fd}: not an open file"))?;
    if kind_of(&f) != Some(fk) {
        return Err(fail!(log, EINVAL, "{w} {id}: fd {fd}: not a {w}"));
    }
    let _ = current::close_fd(fd as u32);
    shared.insert(
        id,
        Object::Evfd {
            kind,
            file: f,
            taken: false,
            opened: false,
        },
    )
}

/// Takes an event descriptor's record: the handed-over object of its id
/// must be in the state it records (`Ok(false)` for any other record).
pub(crate) fn add(rec: &Record<'_>, shared: &mut SharedObjects, log: &Log) -> Result<bool> {
    let (kind, fk, id) = match rec {
        Record::Eventfd(r) => (Kind::Eventfd, FileKind::Eventfd, r.id),
        Record::Timerfd(r) => (Kind::Timerfd, FileKind::Timerfd, r.id),
        Record::Signalfd(r) => (Kind::Signalfd, FileKind::Signalfd, r.id),
        _ => return Ok(false),
    };
    let w = what(kind);
    let Some(Object::Evfd { file, taken, .. }) = shared.get(kind, id) else {
        return Err(fail!(
            log,
            EINVAL,
            "{w} {id}: the caller handed over no {w} for it (restart images with event descriptors with crctl)"
        ));
    };
    if *taken {
        return Err(fail!(log, EINVAL, "bad image: {w} {id} twice"));
    }
    let st = state(file, fk).map_err(|e| fail!(log, e, "{w} {id}: cannot read its state"))?;
    let ok = match (rec, st) {
        (Record::Eventfd(r), State::Eventfd(e)) => {
            e.count == r.count && e.semaphore == (r.flags & format::EVENTFD_SEMAPHORE != 0)
        }
        (Record::Timerfd(r), State::Timerfd(t)) => {
            // The timer runs from when the caller set it: its ticks may
            // have grown by the one expiration a timer has before a read
            // rearms it, its remaining time shrunk.
            let value_ok = if !r.armed() {
                t.value_ns == 0
            } else {
                r.abs_ns != 0 || t.value_ns <= r.value_ns.max(r.interval_ns)
            };
            t.clockid == r.clockid
                && t.flags == r.flags
                && t.interval_ns == r.interval_ns
                && t.ticks >= r.ticks
                && t.ticks - r.ticks <= 1
                && value_ok
        }
        (Record::Signalfd(r), State::Signalfd(m)) => m == r.mask,
        _ => false,
    };
    if !ok {
        return Err(fail!(
            log,
            EINVAL,
            "{w} {id}: the {w} handed over is not in the state of the image"
        ));
    }
    *taken = true;
    Ok(true)
}

/// The file of the event descriptor `obj`, of file kind `k`, for the
/// description at `fd` (its only one), with `O_NONBLOCK` from `open_flags`.
pub(crate) fn open(
    fd: u32,
    k: FileKind,
    obj: u32,
    open_flags: u32,
    shared: &mut SharedObjects,
    log: &Log,
) -> Result<ARef<File>> {
    let kind = shared_kind(k).ok_or(EINVAL)?;
    let w = what(kind);
    let Some(Object::Evfd {
        file,
        taken: true,
        opened,
        ..
    }) = shared.get(kind, obj)
    else {
        return Err(fail!(log, EINVAL, "bad image: fd {fd}: no {w} {obj}"));
    };
    if *opened {
        return Err(fail!(
            log,
            EINVAL,
            "bad image: fd {fd}: {w} {obj} has one open file description only"
        ));
    }
    *opened = true;
    kpipe::set_flags(file, open_flags & O_NONBLOCK, !open_flags & O_NONBLOCK);
    Ok(file.clone())
}
