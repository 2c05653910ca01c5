// SPDX-License-Identifier: GPL-2.0

//! A process's identity and credentials ([`Task`]), supplementary groups
//! ([`Groups`]), working directory (cwd) and resource limits ([`Rlimits`]).

use super::codec::{decode_whole, encode_whole, whole, wire_size, Le};
use super::*;
use zerocopy::little_endian::U32;

/// Size of the [`Task`] payload.
pub const TASK_PAYLOAD: usize = wire_size::<Task>();

wire_struct! {
    /// Identity of a task.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct Task, wire TaskWire {
        /// Pid (thread id) in the checkpointer's pid namespace.
        pub pid: i32,
        /// Thread group id.
        pub tgid: i32,
        /// Parent's tgid.
        pub ppid: i32,
        /// Process group id.
        pub pgid: i32,
        /// Session id.
        pub sid: i32,
        /// `personality(2)`.
        pub personality: u32,
        /// File mode creation mask.
        pub umask: u32,
        /// Bit 0: the task had `no_new_privs`.
        pub flags: u32,
        /// Real, effective, saved and filesystem uid.
        pub uids: [u32; 4],
        /// Real, effective, saved and filesystem gid.
        pub gids: [u32; 4],
        /// Inheritable, permitted, effective, bounding and ambient capabilities.
        pub caps: [u64; 5],
        /// `securebits`.
        pub securebits: u32,
        pad pad0,
        /// Task name.
        pub comm: [u8; COMM_LEN],
        /// `set_tid_address(2)` pointer.
        pub clear_child_tid: u64,
        /// `set_robust_list(2)` head.
        pub robust_list: u64,
        /// `set_robust_list(2)` length.
        pub robust_list_len: u64,
        /// Registered rseq area (the leader's; restart registers the thread record's).
        pub rseq: u64,
        /// Registered rseq length.
        pub rseq_len: u32,
        /// Registered rseq signature.
        pub rseq_sig: u32,
    }
}

/// [`Task::flags`]: the task had `PR_SET_NO_NEW_PRIVS`.
pub const TASK_NO_NEW_PRIVS: u32 = 1;
/// [`Task::flags`]: the process's dumpability (`PR_GET_DUMPABLE`: 0, 1, or
/// 2 after a set-user-id `exec` with `fs.suid_dumpable` 2), in these bits.
pub const TASK_DUMPABLE_MASK: u32 = 3 << TASK_DUMPABLE_SHIFT;
/// Shift of [`TASK_DUMPABLE_MASK`].
pub const TASK_DUMPABLE_SHIFT: u32 = 1;

/// [`Task::flags`]: the process was in a job-control group stop (every
/// thread stopped), by the signal in [`TASK_STOP_SIG_MASK`].
pub const TASK_STOPPED: u32 = 1 << 3;
/// [`Task::flags`]: with [`TASK_STOPPED`], the stop was already reported to
/// the parent by `wait` (`WUNTRACED` returns it no more).
pub const TASK_STOP_REPORTED: u32 = 1 << 4;
/// [`Task::flags`]: with [`TASK_STOPPED`], the stop signal, in these bits.
pub const TASK_STOP_SIG_MASK: u32 = 0xff << TASK_STOP_SIG_SHIFT;
/// Shift of [`TASK_STOP_SIG_MASK`].
pub const TASK_STOP_SIG_SHIFT: u32 = 8;
/// The stop signals: `SIGSTOP`, `SIGTSTP`, `SIGTTIN`, `SIGTTOU` (19-22).
pub const TASK_STOP_SIG_MIN: u32 = 19;
/// See [`TASK_STOP_SIG_MIN`].
pub const TASK_STOP_SIG_MAX: u32 = 22;

impl Task {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_whole(buf, RecordType::Task, *self)
    }

    /// Decodes the payload.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        let t: Task = decode_whole(p)?;
        if t.pid <= 0 || t.tgid <= 0 || t.ppid < 0 || t.pgid < 0 || t.sid < 0 {
            return Err(FormatError::BadField);
        }
        if t.umask & !0o777 != 0
            || t.flags
                & !(TASK_NO_NEW_PRIVS
                    | TASK_DUMPABLE_MASK
                    | TASK_STOPPED
                    | TASK_STOP_REPORTED
                    | TASK_STOP_SIG_MASK)
                != 0
            || t.flags & TASK_DUMPABLE_MASK == TASK_DUMPABLE_MASK
        {
            return Err(FormatError::BadField);
        }
        let sig = (t.flags & TASK_STOP_SIG_MASK) >> TASK_STOP_SIG_SHIFT;
        let stop_ok = if t.flags & TASK_STOPPED != 0 {
            (TASK_STOP_SIG_MIN..=TASK_STOP_SIG_MAX).contains(&sig)
        } else {
            t.flags & (TASK_STOP_REPORTED | TASK_STOP_SIG_MASK) == 0
        };
        if !stop_ok {
            return Err(FormatError::BadField);
        }
        if t.comm[COMM_LEN - 1] != 0 {
            return Err(FormatError::BadField);
        }
        Ok(t)
    }

    /// `comm` without its NUL padding.
    pub fn comm(&self) -> &[u8] {
        let n = self.comm.iter().position(|&b| b == 0).unwrap_or(COMM_LEN);
        &self.comm[..n]
    }
}

/// Supplementary groups: a count and that many gids.
#[derive(Debug, Clone, Copy)]
pub struct Groups<'a> {
    raw: &'a [U32],
}

impl<'a> Groups<'a> {
    /// Decodes the payload.
    pub fn decode(p: &'a [u8]) -> FResult<Self> {
        let mut c = Cursor::new(p);
        let n = c.u32()?;
        c.pad32()?;
        if n > MAX_GROUPS {
            return Err(FormatError::BadField);
        }
        let raw = c.wire_slice::<U32>(n as usize)?;
        c.finish()?;
        Ok(Self { raw })
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The `i`th gid.
    pub fn get(&self, i: usize) -> u32 {
        self.raw[i].get()
    }

    /// Encodes the record from a gid list.
    pub fn encode(buf: &mut [u8], gids: &[u32]) -> Option<usize> {
        encode_record(buf, RecordType::Groups, |w| {
            w.u32(gids.len() as u32);
            w.u32(0);
            for g in gids {
                w.u32(*g);
            }
        })
    }
}

/// The working directory record: an absolute path.
pub struct Cwd;

impl Cwd {
    /// Encodes the record.
    pub fn encode(buf: &mut [u8], path: &[u8]) -> Option<usize> {
        encode_record(buf, RecordType::Cwd, |w| w.path(path))
    }

    /// Decodes the payload: a non-empty absolute path.
    pub fn decode(p: &[u8]) -> FResult<&[u8]> {
        let mut c = Cursor::new(p);
        let path = c.path(false)?;
        c.finish()?;
        if path[0] != b'/' {
            return Err(FormatError::BadPath);
        }
        Ok(path)
    }
}

/// Resource limits: `(cur, max)` for each of [`RLIM_NLIMITS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Rlimits {
    /// `(rlim_cur, rlim_max)`; `u64::MAX` is `RLIM_INFINITY`.
    pub lim: [(u64, u64); RLIM_NLIMITS as usize],
}

wire_head! {
    /// The [`Rlimits`] payload on the wire.
    pub struct RlimitsWire {
        /// [`RLIM_NLIMITS`].
        pub count: U32,
        /// Padding: zero.
        pub pad0: U32,
        /// `(rlim_cur, rlim_max)` pairs.
        pub lim: <[(u64, u64); RLIM_NLIMITS as usize] as Le>::Wire,
    }
}

/// Size of the [`Rlimits`] payload.
pub const RLIMITS_PAYLOAD: usize = core::mem::size_of::<RlimitsWire>();

impl Rlimits {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        let w = RlimitsWire {
            count: RLIM_NLIMITS.into(),
            pad0: U32::ZERO,
            lim: self.lim.to_le(),
        };
        encode_record(buf, RecordType::Rlimits, |b| b.wire(&w))
    }

    /// Decodes the payload.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        let mut c = Cursor::new(p);
        if c.u32()? != RLIM_NLIMITS {
            return Err(FormatError::BadConstants);
        }
        c.pad32()?;
        let w = whole::<RlimitsWire>(p)?;
        let r = Rlimits {
            lim: Le::from_le(&w.lim),
        };
        if r.lim.iter().any(|l| l.0 > l.1) {
            return Err(FormatError::BadField);
        }
        Ok(r)
    }
}

const _: () = assert!(TASK_PAYLOAD == 168 && RLIMITS_PAYLOAD == 8 + 16 * RLIM_NLIMITS as usize);

/// A decoded working directory record, as `crctl info` shows it.
#[cfg(feature = "info")]
pub struct CwdPath<'a>(pub &'a [u8]);

#[cfg(feature = "info")]
mod show {
    use super::super::info::{text, Info, Json};
    use super::*;

    /// `task` in `info --json`.
    #[derive(serde::Serialize)]
    struct TaskJson {
        pid: i32,
        tgid: i32,
        ppid: i32,
        pgid: i32,
        sid: i32,
        comm: String,
        uids: [u32; 4],
        gids: [u32; 4],
        umask: u32,
        personality: u32,
        dumpable: u32,
    }

    fn dumpable(t: &Task) -> u32 {
        (t.flags & TASK_DUMPABLE_MASK) >> TASK_DUMPABLE_SHIFT
    }

    impl Info for Task {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            let t = self;
            l.push(format!(
                "task: pid {} tgid {} ppid {} pgid {} sid {} comm {:?} umask {:03o} personality {:#x}",
                t.pid, t.tgid, t.ppid, t.pgid, t.sid, text(t.comm()), t.umask, t.personality
            ));
            l.push(format!(
                "  uid {}/{}/{}/{} gid {}/{}/{}/{} caps eff {:#x} prm {:#x}{} dumpable {}",
                t.uids[0],
                t.uids[1],
                t.uids[2],
                t.uids[3],
                t.gids[0],
                t.gids[1],
                t.gids[2],
                t.gids[3],
                t.caps[2],
                t.caps[1],
                if t.flags & TASK_NO_NEW_PRIVS != 0 {
                    " no_new_privs"
                } else {
                    ""
                },
                dumpable(t),
            ));
            if t.flags & TASK_STOPPED != 0 {
                l.push(format!(
                    "  stopped by signal {}{}",
                    (t.flags & TASK_STOP_SIG_MASK) >> TASK_STOP_SIG_SHIFT,
                    if t.flags & TASK_STOP_REPORTED != 0 {
                        ", reported to the parent"
                    } else {
                        ", not yet reported to the parent"
                    }
                ));
            }
        }

        fn json(&self) -> Json {
            let t = self;
            Json::member(
                "task",
                TaskJson {
                    pid: t.pid,
                    tgid: t.tgid,
                    ppid: t.ppid,
                    pgid: t.pgid,
                    sid: t.sid,
                    comm: text(t.comm()),
                    uids: t.uids,
                    gids: t.gids,
                    umask: t.umask,
                    personality: t.personality,
                    dumpable: dumpable(t),
                },
            )
        }
    }

    impl Groups<'_> {
        fn all(&self) -> Vec<u32> {
            (0..self.len()).map(|i| self.get(i)).collect()
        }
    }

    impl Info for Groups<'_> {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            l.push(format!("groups: {:?}", self.all()));
        }

        fn json(&self) -> Json {
            Json::member("groups", self.all())
        }
    }

    impl Info for CwdPath<'_> {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            l.push(format!("cwd: {}", text(self.0)));
        }

        fn json(&self) -> Json {
            Json::member("cwd", text(self.0))
        }
    }

    impl Info for Rlimits {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            let show = |v: u64| {
                if v == u64::MAX {
                    "inf".to_string()
                } else {
                    v.to_string()
                }
            };
            let s: Vec<String> = self
                .lim
                .iter()
                .map(|(c, m)| format!("{}/{}", show(*c), show(*m)))
                .collect();
            l.push(format!("rlimits: {}", s.join(" ")));
        }

        /// `[soft, hard]` for each resource, `RLIMIT_*` order.
        fn json(&self) -> Json {
            Json::member("rlimits", self.lim)
        }
    }
}
