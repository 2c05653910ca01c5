// SPDX-License-Identifier: GPL-2.0

//! `crctl info`: decode and validate an image in userspace, with the same
//! validator the kernel runs, as text or JSON.

use crate::error::{Error, Result};
use crate::image::{ImageError, Walker};
use crate::json;
use cr_image::format::{self, reg, FileKind, Record, RecordType, VmaKind};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn prot_str(prot: u32, shared: bool) -> String {
    let mut s = String::new();
    s.push(if prot & format::PROT_READ != 0 {
        'r'
    } else {
        '-'
    });
    s.push(if prot & format::PROT_WRITE != 0 {
        'w'
    } else {
        '-'
    });
    s.push(if prot & format::PROT_EXEC != 0 {
        'x'
    } else {
        '-'
    });
    s.push(if shared { 's' } else { 'p' });
    s
}

fn policy_name(p: u32) -> &'static str {
    match p {
        format::SCHED_NORMAL => "normal",
        format::SCHED_FIFO => "fifo",
        format::SCHED_RR => "rr",
        format::SCHED_BATCH => "batch",
        format::SCHED_IDLE => "idle",
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

/// The names of a VMA's `VMA_*` flags, each after a space.
fn vma_flags_str(f: u32) -> String {
    [
        (format::VMA_GROWSDOWN, "growsdown"),
        (format::VMA_NORESERVE, "noreserve"),
        (format::VMA_DONTFORK, "dontfork"),
        (format::VMA_WIPEONFORK, "wipeonfork"),
        (format::VMA_DONTDUMP, "dontdump"),
        (format::VMA_HUGEPAGE, "hugepage"),
        (format::VMA_NOHUGEPAGE, "nohugepage"),
    ]
    .iter()
    .filter(|(b, _)| f & b != 0)
    .map(|(_, n)| format!(" {n}"))
    .collect()
}

fn open_flags_str(f: u32) -> String {
    let mut v = vec![match f & 3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    }];
    for (bit, name) in [
        (0o2000, "O_APPEND"),
        (0o4000, "O_NONBLOCK"),
        (0o40000, "O_DIRECT"),
        (0o200000, "O_DIRECTORY"),
        (0o400000, "O_NOFOLLOW"),
        (0o1000000, "O_NOATIME"),
    ] {
        if f & bit != 0 {
            v.push(name);
        }
    }
    if f & 0o4010000 == 0o4010000 {
        v.push("O_SYNC");
    } else if f & 0o10000 != 0 {
        v.push("O_DSYNC");
    }
    v.join("|")
}

/// Collects the decoded image as text lines and the JSON document.
#[derive(Default)]
struct Out {
    lines: Vec<String>,
    json: json::Report,
}

/// An image decoded as far as it is valid.
struct Decoded {
    out: Out,
    /// Bytes read and validated.
    total: u64,
    page_size: u64,
    result: core::result::Result<(), ImageError>,
}

fn decode(fd: BorrowedFd<'_>) -> Decoded {
    let mut w = Walker::new(fd, false);
    let mut out = Out::default();
    let result = walk(&mut w, &mut out);
    Decoded {
        out,
        total: w.v.offset(),
        page_size: w.page_size(),
        result,
    }
}

impl Decoded {
    /// The `info --json` document of the image `path` (taken out of
    /// `self`).
    fn report(&mut self, path: &str) -> json::Report {
        let mut j = std::mem::take(&mut self.out.json);
        j.file = path.into();
        j.bytes = self.total;
        j.error = match &self.result {
            Ok(()) => None,
            Err(ImageError::Format(e, off)) => Some(json::ImageError {
                offset: Some(*off),
                reason: e.describe().into(),
            }),
            Err(ImageError::Io(e)) => Some(json::ImageError {
                offset: None,
                reason: e.to_string(),
            }),
        };
        j
    }
}

pub(crate) fn run(args: &crate::InfoArgs) -> Result<()> {
    let path = args.file.as_str();
    let file = if path == "-" {
        None
    } else {
        Some(File::open(path).map_err(|source| Error::Open {
            path: path.into(),
            source,
        })?)
    };
    let stdin = std::io::stdin();
    let mut d = decode(file.as_ref().map_or(stdin.as_fd(), |f| f.as_fd()));
    if args.json {
        println!("{}", serde_json::to_string(&d.report(path))?);
        return Ok(d.result?);
    }
    println!("image: {path}");
    for l in &d.out.lines {
        println!("{l}");
    }
    if d.result.is_ok() {
        let j = &d.out.json;
        println!(
            "pages: {} in {} records, {} bytes",
            j.pages,
            j.page_records,
            j.pages * d.page_size
        );
        println!("image is complete and valid: {} bytes", d.total);
    }
    Ok(d.result?)
}

fn walk(w: &mut Walker<'_>, out: &mut Out) -> Result<(), ImageError> {
    w.magic()?;
    while let Some((ty, rec, off)) = w.next()? {
        describe(ty, &rec, off, out);
    }
    Ok(())
}

fn describe(_ty: RecordType, rec: &Record<'_>, off: u64, out: &mut Out) {
    let l = &mut out.lines;
    let j = &mut out.json.members;
    match rec {
        Record::Header(h) => {
            let flags = if h.flags & 1 != 0 { " (kill)" } else { "" };
            l.push(format!(
                "header: format {}, arch x86_64, page size {}, kernel {}, module {}.{}.{}, flags {:#x}{flags}",
                h.version,
                h.page_size,
                text(h.release()),
                h.module_version >> 16,
                (h.module_version >> 8) & 0xff,
                h.module_version & 0xff,
                h.flags
            ));
            l.push(format!(
                "  time {}.{:09} (seconds since the epoch); xstate {} bytes, xfeatures {:#x}; task size {:#x}",
                h.time_sec, h.time_nsec, h.xstate_size, h.xfeatures, h.task_size
            ));
            j.push(json::Member::Header(json::Header {
                format: h.version,
                arch: "x86_64",
                page_size: h.page_size,
                kernel: text(h.release()),
                module_version: h.module_version,
                flags: h.flags,
                time: h.time_sec,
                time_nsec: h.time_nsec,
                xstate_size: h.xstate_size,
                xfeatures: h.xfeatures,
            }));
        }
        Record::Task(t) => {
            let dumpable = (t.flags & format::TASK_DUMPABLE_MASK) >> format::TASK_DUMPABLE_SHIFT;
            l.push(format!(
                "task: pid {} tgid {} ppid {} pgid {} sid {} comm {:?} umask {:03o} personality {:#x}",
                t.pid, t.tgid, t.ppid, t.pgid, t.sid, text(t.comm()), t.umask, t.personality
            ));
            l.push(
                format!(
                    "  uid {}/{}/{}/{} gid {}/{}/{}/{} caps eff {:#x} prm {:#x}{}",
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
                    if t.flags & format::TASK_NO_NEW_PRIVS != 0 {
                        " no_new_privs"
                    } else {
                        ""
                    },
                ) + &format!(" dumpable {}", dumpable),
            );
            j.push(json::Member::Task(json::Task {
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
                dumpable,
            }));
        }
        Record::Tree(t) => {
            l.push(format!("tree: {} tasks", t.len()));
            let mut es = vec![];
            for i in 0..t.len() {
                let e = t.get(i);
                let what = if e.is_zombie() {
                    format!("zombie, exit status {:#x}", e.exit_code)
                } else if e.is_leader() {
                    "process".to_string()
                } else {
                    "thread".to_string()
                };
                l.push(format!(
                    "  pid {} tgid {} ppid {} pgid {} sid {}: {what}",
                    e.pid, e.tgid, e.ppid, e.pgid, e.sid
                ));
                es.push(json::TreeEntry {
                    pid: e.pid,
                    tgid: e.tgid,
                    ppid: e.ppid,
                    pgid: e.pgid,
                    sid: e.sid,
                    zombie: e.is_zombie(),
                    exit_code: e.exit_code,
                });
            }
            j.push(json::Member::Tree(es));
        }
        Record::Thread(t) => {
            let comm = t
                .comm
                .iter()
                .position(|&b| b == 0)
                .map_or(&t.comm[..], |n| &t.comm[..n]);
            l.push(format!(
                "thread {}: comm {:?} blocked {:#x} altstack {}",
                t.tid,
                text(comm),
                t.blocked,
                if t.altstack.2 & format::SS_DISABLE != 0 {
                    "none".to_string()
                } else {
                    format!("{:#x}+{:#x}", t.altstack.0, t.altstack.1)
                }
            ));
            let s = &t.sched;
            let cpus = cpus_str(&s.cpus);
            l.push(format!(
                "  sched: policy {} priority {} nice {} ioprio {:#x}{} cpus {cpus}; rseq {}",
                policy_name(s.policy),
                s.priority,
                s.nice,
                s.ioprio,
                if s.flags & format::SCHED_RESET_ON_FORK != 0 {
                    " reset-on-fork"
                } else {
                    ""
                },
                if t.rseq.0 == 0 {
                    "none".to_string()
                } else {
                    format!("{:#x}+{} sig {:#x}", t.rseq.0, t.rseq.1, t.rseq.2)
                }
            ));
            out.json.threads.push(json::Thread {
                tid: t.tid,
                comm: text(comm),
                blocked: t.blocked,
                policy: s.policy,
                priority: s.priority,
                nice: s.nice,
                ioprio: s.ioprio,
                cpus,
                rseq: t.rseq.0,
            });
        }
        Record::Groups(g) => {
            let v: Vec<u32> = (0..g.len()).map(|i| g.get(i)).collect();
            l.push(format!("groups: {v:?}"));
            j.push(json::Member::Groups(v));
        }
        Record::Cwd(p) => {
            l.push(format!("cwd: {}", text(p)));
            j.push(json::Member::Cwd(text(p)));
        }
        Record::Rlimits(r) => {
            let show = |v: u64| {
                if v == u64::MAX {
                    "inf".to_string()
                } else {
                    v.to_string()
                }
            };
            let s: Vec<String> = r
                .lim
                .iter()
                .map(|(c, m)| format!("{}/{}", show(*c), show(*m)))
                .collect();
            l.push(format!("rlimits: {}", s.join(" ")));
            j.push(json::Member::Rlimits(r.lim.to_vec()));
        }
        Record::Regs(r) => {
            let state = if r.flags & format::REGS_SYSCALL_EINTR != 0 {
                " (in a system call: it returns EINTR on restart)"
            } else if r.flags & format::REGS_IN_SYSCALL != 0 {
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
            j.push(json::Member::Regs(json::Regs {
                regs: json::Named {
                    names: &reg::NAMES,
                    values: r.r.to_vec(),
                },
                flags: r.flags,
            }));
        }
        Record::Xstate(x) => {
            let bv = format::Xstate { area: x }.xstate_bv();
            l.push(format!("xstate: {} bytes, xstate_bv {bv:#x}", x.len()));
            j.push(json::Member::Xstate(json::Xstate {
                size: x.len(),
                xstate_bv: bv,
            }));
        }
        Record::Signals(s) => {
            let mut h = vec![];
            for i in 0..format::NSIG as usize {
                match s.action(i).handler {
                    0 => {}
                    1 => h.push(format!("{}:ign", i + 1)),
                    p => h.push(format!("{}:{p:#x}", i + 1)),
                }
            }
            let alt = if s.altstack_flags & format::SS_DISABLE != 0 {
                "none".to_string()
            } else {
                format!("{:#x}+{:#x}", s.altstack_sp, s.altstack_size)
            };
            l.push(format!(
                "signals: blocked {:#x}, altstack {alt}, handlers [{}]",
                s.blocked,
                h.join(" ")
            ));
            j.push(json::Member::Signals(json::Signals {
                blocked: s.blocked,
                handlers: h.join(" "),
            }));
        }
        Record::Mm(m) => {
            let ly = &m.layout;
            l.push(format!(
                "mm: code {:#x}-{:#x} data {:#x}-{:#x} brk {:#x}-{:#x} stack {:#x} args {:#x}-{:#x} env {:#x}-{:#x}",
                ly[0], ly[1], ly[2], ly[3], ly[4], ly[5], ly[6], ly[7], ly[8], ly[9], ly[10]
            ));
            l.push(format!(
                "  exe {}, {} vmas, auxv {} words",
                text(m.exe),
                m.nr_vmas,
                m.auxv.len() / 8
            ));
            j.push(json::Member::Mm(json::Mm {
                layout: json::Named {
                    names: &format::MM_LAYOUT_NAMES,
                    values: ly.to_vec(),
                },
                exe: text(m.exe),
                nr_vmas: m.nr_vmas,
            }));
        }
        Record::Vma(v, _) => {
            let shared = matches!(v.kind, VmaKind::FileShared | VmaKind::AnonShared);
            let backing = if v.kind.has_path() {
                format!("{} @{:#x}", text(v.path), v.pgoff * 4096)
            } else {
                format!("[{}]", v.kind.name())
            };
            l.push(format!(
                "  vma {:#014x}-{:#014x} {} {:<12} {backing} pages {}{}",
                v.start,
                v.end,
                prot_str(v.prot, shared),
                v.kind.name(),
                v.nr_pages,
                vma_flags_str(v.flags)
            ));
            out.json.vmas.push(json::Vma {
                start: v.start,
                end: v.end,
                prot: prot_str(v.prot, shared),
                kind: v.kind.name(),
                path: text(v.path),
                pgoff: v.pgoff,
                pages: v.nr_pages,
                flags: v.flags,
            });
        }
        Record::File(f) => {
            let what = match f.kind {
                FileKind::Regular => text(f.path),
                k => format!("[{}]", k.name()),
            };
            let pos = if f.kind == FileKind::Regular {
                format!(" pos {}", f.pos)
            } else {
                String::new()
            };
            l.push(format!(
                "  fd {}: file {} {} {what}{pos} {}{}",
                f.fd,
                f.id,
                f.kind.name(),
                open_flags_str(f.open_flags),
                if f.fd_flags & format::FD_CLOEXEC != 0 {
                    " cloexec"
                } else {
                    ""
                }
            ));
            out.json.files.push(json::File {
                fd: f.fd,
                id: f.id,
                kind: f.kind.name(),
                path: text(f.path),
                flags: f.open_flags,
                pos: f.pos,
                cloexec: f.fd_flags & 1 != 0,
            });
        }
        Record::MetaEnd(m) => {
            l.push(format!(
                "meta-end at byte {off}: checksum {:#018x} ok, {} pages follow",
                m.checksum, m.total_pages
            ));
        }
        Record::Pages(p) => {
            out.json.pages += u64::from(p.npages);
            out.json.page_records += 1;
        }
        Record::Tail(t) => {
            l.push(format!(
                "tail: checksum {:#018x} ok, {} bytes, {} records",
                t.checksum, t.total_len, t.nr_records
            ));
            j.push(json::Member::Tail(json::Tail {
                checksum: t.checksum,
                bytes: t.total_len,
                records: t.nr_records,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter() -> File {
        File::open(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../image/testdata/counter.img"
        ))
        .unwrap()
    }

    /// The members of the document, in order, as a consumer that reads it
    /// as a sequence sees them.
    fn members(doc: &str) -> Vec<(String, serde_json::Value)> {
        let v: serde_json::Value = serde_json::from_str(doc).unwrap();
        // serde_json's map is sorted: take the names in document order
        // from the text, whose top-level keys are those followed by ':'
        // at depth 1.
        let mut names = vec![];
        let (mut depth, mut in_str, mut esc, mut start) = (0, false, false, 0);
        for (i, c) in doc.char_indices() {
            if in_str {
                match c {
                    _ if esc => esc = false,
                    '\\' => esc = true,
                    '"' => {
                        in_str = false;
                        if depth == 1 && doc[i + 1..].starts_with(':') {
                            names.push(doc[start + 1..i].to_string());
                        }
                    }
                    _ => {}
                }
                continue;
            }
            match c {
                '"' => {
                    in_str = true;
                    start = i;
                }
                '{' | '[' => depth += 1,
                '}' | ']' => depth -= 1,
                _ => {}
            }
        }
        names
            .into_iter()
            .map(|n| {
                let val = v[&n].clone();
                (n, val)
            })
            .collect()
    }

    #[test]
    fn json_of_the_real_image() {
        let f = counter();
        let doc = serde_json::to_string(&decode(f.as_fd()).report("counter.img")).unwrap();
        let m = members(&doc);
        let names: Vec<&str> = m.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "schema",
                "file",
                "header",
                "tree",
                "task",
                "groups",
                "cwd",
                "rlimits",
                "signals",
                "mm",
                "regs",
                "xstate",
                "tail",
                "vmas",
                "files",
                "threads",
                "pages",
                "page_records",
                "bytes",
                "valid"
            ]
        );
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(v["schema"], json::SCHEMA);
        assert_eq!(v["file"], "counter.img");
        assert_eq!(v["header"]["arch"], "x86_64");
        assert_eq!(v["header"]["page_size"], 4096);
        assert_eq!(v["tree"].as_array().unwrap().len(), 1);
        assert_eq!(v["tree"][0]["zombie"], false);
        assert_eq!(v["task"]["pid"], v["tree"][0]["pid"]);
        assert_eq!(v["task"]["uids"].as_array().unwrap().len(), 4);
        assert_eq!(v["rlimits"].as_array().unwrap().len(), 16);
        assert!(v["regs"]["rip"].is_u64());
        assert_eq!(v["vmas"].as_array().unwrap().len(), 11);
        assert_eq!(v["files"].as_array().unwrap().len(), 3);
        assert_eq!(v["threads"].as_array().unwrap().len(), 1);
        assert_eq!(v["page_records"], 6);
        assert_eq!(v["bytes"], v["tail"]["bytes"]);
        assert_eq!(v["valid"], true);
        assert!(v.get("error").is_none());
    }

    #[test]
    fn json_of_a_truncated_image() {
        let mut img = vec![];
        std::io::Read::read_to_end(&mut counter(), &mut img).unwrap();
        let (rd, wr) = rustix::pipe::pipe().unwrap();
        let t = std::thread::spawn(move || {
            let _ = std::io::Write::write_all(&mut File::from(wr), &img[..5000]);
        });
        let doc = serde_json::to_string(&decode(rd.as_fd()).report("-")).unwrap();
        t.join().unwrap();
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(v["valid"], false);
        assert_eq!(v["error"]["offset"], 5000);
        assert_eq!(v["error"]["reason"], "image is truncated");
        assert!(doc
            .ends_with(r#""valid":false,"error":{"offset":5000,"reason":"image is truncated"}}"#));
    }
}
