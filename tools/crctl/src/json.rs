// SPDX-License-Identifier: GPL-2.0

//! The document `crctl info --json` prints: one JSON object per image,
//! schema version [`SCHEMA`], described in Documentation/cr/crctl.rst.
//!
//! The object's members come in image order: `schema`, `file`, then one
//! member per metadata record that has one (`header`, `tree`, and for each
//! process `task`, `groups`, `cwd`, `rlimits`, `signals`, `mm`, and for
//! each thread `regs` and `xstate`), then `tail`, and last the lists and
//! totals (`vmas`, `files`, `threads`, `pages`, `page_records`, `bytes`,
//! `valid`, and `error` for an invalid image). A member of a per-process
//! or per-thread record appears once for each process or thread, so an
//! image of several has repeated names, in the order of its records.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

/// The version of this schema. Adding members keeps it; renaming,
/// removing or changing the meaning of one bumps it.
pub const SCHEMA: u32 = 1;

/// `header`: the header record.
#[derive(Serialize)]
pub struct Header {
    pub format: u32,
    pub arch: &'static str,
    pub page_size: u32,
    pub kernel: String,
    pub module_version: u32,
    pub flags: u32,
    pub time: u64,
    pub time_nsec: u32,
    pub xstate_size: u32,
    pub xfeatures: u64,
}

/// `task`: a process's task record.
#[derive(Serialize)]
pub struct Task {
    pub pid: i32,
    pub tgid: i32,
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
    pub comm: String,
    pub uids: [u32; 4],
    pub gids: [u32; 4],
    pub umask: u32,
    pub personality: u32,
    pub dumpable: u32,
}

/// An element of `tree`.
#[derive(Serialize)]
pub struct TreeEntry {
    pub pid: i32,
    pub tgid: i32,
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
    pub zombie: bool,
    pub exit_code: i32,
}

/// An element of `threads`.
#[derive(Serialize)]
pub struct Thread {
    pub tid: i32,
    pub comm: String,
    pub blocked: u64,
    pub policy: u32,
    pub priority: u32,
    pub nice: i32,
    pub ioprio: u32,
    pub cpus: String,
    pub rseq: u64,
}

/// Numbers under fixed names, in the order of the names: `regs`, and the
/// layout part of `mm`.
pub struct Named {
    pub names: &'static [&'static str],
    pub values: Vec<u64>,
}

impl Named {
    fn entries<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        for (n, v) in self.names.iter().zip(&self.values) {
            m.serialize_entry(n, v)?;
        }
        Ok(())
    }
}

impl Serialize for Named {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.names.len()))?;
        self.entries(&mut m)?;
        m.end()
    }
}

/// `regs`: a thread's general-purpose registers (each of `reg::NAMES`),
/// then `flags` (the regs record's flags: in a system call, EINTR).
pub struct Regs {
    pub regs: Named,
    pub flags: u32,
}

impl Serialize for Regs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.regs.names.len() + 1))?;
        self.regs.entries(&mut m)?;
        m.serialize_entry("flags", &self.flags)?;
        m.end()
    }
}

/// `xstate`: a thread's extended register state.
#[derive(Serialize)]
pub struct Xstate {
    pub size: usize,
    pub xstate_bv: u64,
}

/// `signals`: a process's signal record.
#[derive(Serialize)]
pub struct Signals {
    pub blocked: u64,
    /// `SIG:ign` or `SIG:0xHANDLER` for each signal not at its default
    /// action, separated by spaces.
    pub handlers: String,
}

/// `mm`: a process's memory layout (each of `format::MM_LAYOUT_NAMES`),
/// then `exe` and `nr_vmas`.
pub struct Mm {
    pub layout: Named,
    pub exe: String,
    pub nr_vmas: u32,
}

impl Serialize for Mm {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.layout.names.len() + 2))?;
        self.layout.entries(&mut m)?;
        m.serialize_entry("exe", &self.exe)?;
        m.serialize_entry("nr_vmas", &self.nr_vmas)?;
        m.end()
    }
}

/// `tail`: the tail record.
#[derive(Serialize)]
pub struct Tail {
    pub checksum: u64,
    pub bytes: u64,
    pub records: u64,
}

/// An element of `vmas`.
#[derive(Serialize)]
pub struct Vma {
    pub start: u64,
    pub end: u64,
    /// `rwxp` / `rwxs`, as /proc/PID/maps has it.
    pub prot: String,
    pub kind: &'static str,
    pub path: String,
    pub pgoff: u64,
    pub pages: u64,
    pub flags: u32,
}

/// An element of `files`.
#[derive(Serialize)]
pub struct File {
    pub fd: u32,
    pub id: u32,
    pub kind: &'static str,
    pub path: String,
    pub flags: u32,
    pub pos: u64,
    pub cloexec: bool,
}

/// A member for one metadata record.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Member {
    Header(Header),
    Task(Task),
    Tree(Vec<TreeEntry>),
    Groups(Vec<u32>),
    Cwd(String),
    /// `[soft, hard]` for each resource, `RLIMIT_*` order.
    Rlimits(Vec<(u64, u64)>),
    Regs(Regs),
    Xstate(Xstate),
    Signals(Signals),
    Mm(Mm),
    Tail(Tail),
}

impl Member {
    /// The member's name in the document.
    pub fn name(&self) -> &'static str {
        match self {
            Member::Header(_) => "header",
            Member::Task(_) => "task",
            Member::Tree(_) => "tree",
            Member::Groups(_) => "groups",
            Member::Cwd(_) => "cwd",
            Member::Rlimits(_) => "rlimits",
            Member::Regs(_) => "regs",
            Member::Xstate(_) => "xstate",
            Member::Signals(_) => "signals",
            Member::Mm(_) => "mm",
            Member::Tail(_) => "tail",
        }
    }
}

/// `error`: why the image is invalid.
#[derive(Serialize)]
pub struct ImageError {
    /// The byte at which it is bad; absent for a read error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    pub reason: String,
}

/// The whole document.
#[derive(Default)]
pub struct Report {
    pub file: String,
    pub members: Vec<Member>,
    pub vmas: Vec<Vma>,
    pub files: Vec<File>,
    pub threads: Vec<Thread>,
    pub pages: u64,
    pub page_records: u64,
    pub bytes: u64,
    pub error: Option<ImageError>,
}

impl Serialize for Report {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("schema", &SCHEMA)?;
        m.serialize_entry("file", &self.file)?;
        for member in &self.members {
            m.serialize_entry(member.name(), member)?;
        }
        m.serialize_entry("vmas", &self.vmas)?;
        m.serialize_entry("files", &self.files)?;
        m.serialize_entry("threads", &self.threads)?;
        m.serialize_entry("pages", &self.pages)?;
        m.serialize_entry("page_records", &self.page_records)?;
        m.serialize_entry("bytes", &self.bytes)?;
        m.serialize_entry("valid", &self.error.is_none())?;
        if let Some(e) = &self.error {
            m.serialize_entry("error", e)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_of_an_invalid_report() {
        let r = Report {
            file: "a\"b\n".into(),
            members: vec![
                Member::Groups(vec![4, 24]),
                Member::Rlimits(vec![(1, u64::MAX)]),
                Member::Regs(Regs {
                    regs: Named {
                        names: &["r15", "r14"],
                        values: vec![1, 2],
                    },
                    flags: 3,
                }),
            ],
            error: Some(ImageError {
                offset: Some(8),
                reason: "bad".into(),
            }),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            concat!(
                r#"{"schema":1,"file":"a\"b\n","groups":[4,24],"rlimits":[[1,18446744073709551615]],"#,
                r#""regs":{"r15":1,"r14":2,"flags":3},"vmas":[],"files":[],"threads":[],"pages":0,"#,
                r#""page_records":0,"bytes":0,"valid":false,"error":{"offset":8,"reason":"bad"}}"#
            )
        );
    }
}
