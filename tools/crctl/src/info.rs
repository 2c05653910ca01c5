// SPDX-License-Identifier: GPL-2.0

//! `crctl info`: decode and validate an image in userspace, with the same
//! validator the kernel runs, as text or JSON.

use crate::image::{ImageError, Walker};
use cr_image::format::{self, reg, FileKind, Record, RecordType, VmaKind};
use std::fmt::Write as _;
use std::os::fd::IntoRawFd;

/// Minimal JSON string escaping.
fn js(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

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

/// Collects the decoded image as text lines and JSON members.
#[derive(Default)]
struct Out {
    lines: Vec<String>,
    json: Vec<String>,
    vmas: Vec<String>,
    files: Vec<String>,
    threads: Vec<String>,
    pages: u64,
    page_records: u64,
}

pub fn run(args: &[String]) -> Result<(), String> {
    let mut json = false;
    let mut path = None;
    for a in args {
        match a.as_str() {
            "--json" => json = true,
            p if path.is_none() => path = Some(p.to_string()),
            _ => return Err("usage: crctl info [--json] FILE|-".into()),
        }
    }
    let path = path.ok_or("usage: crctl info [--json] FILE|-")?;
    let fd = if path == "-" {
        0
    } else {
        std::fs::File::open(&path)
            .map(|f| f.into_raw_fd())
            .map_err(|e| format!("{path}: {e}"))?
    };
    let mut w = Walker::new(fd, false);
    let mut out = Out::default();
    let result = walk(&mut w, &mut out);
    let total = w.v.offset();
    if json {
        let mut j = String::from("{");
        let _ = write!(j, "\"file\":{},", js(&path));
        for m in &out.json {
            j.push_str(m);
            j.push(',');
        }
        let _ = write!(j, "\"vmas\":[{}],", out.vmas.join(","));
        let _ = write!(j, "\"files\":[{}],", out.files.join(","));
        let _ = write!(j, "\"threads\":[{}],", out.threads.join(","));
        let _ = write!(
            j,
            "\"pages\":{},\"page_records\":{},\"bytes\":{total},",
            out.pages, out.page_records
        );
        match &result {
            Ok(()) => j.push_str("\"valid\":true}"),
            Err(ImageError::Format(e, off)) => {
                let _ = write!(
                    j,
                    "\"valid\":false,\"error\":{{\"offset\":{off},\"reason\":{}}}}}",
                    js(e.describe())
                );
            }
            Err(ImageError::Io(e)) => {
                let _ = write!(
                    j,
                    "\"valid\":false,\"error\":{{\"reason\":{}}}}}",
                    js(&e.to_string())
                );
            }
        }
        println!("{j}");
    } else {
        println!("image: {path}");
        for l in &out.lines {
            println!("{l}");
        }
        if result.is_ok() {
            println!(
                "pages: {} in {} records, {} bytes",
                out.pages,
                out.page_records,
                out.pages * w.page_size()
            );
            println!("image is complete and valid: {total} bytes");
        }
    }
    result.map_err(|e| e.to_string())
}

fn walk(w: &mut Walker, out: &mut Out) -> Result<(), ImageError> {
    w.magic()?;
    while let Some((ty, rec, off)) = w.next()? {
        describe(ty, &rec, off, out);
    }
    Ok(())
}

fn describe(_ty: RecordType, rec: &Record<'_>, off: u64, out: &mut Out) {
    let l = &mut out.lines;
    let j = &mut out.json;
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
            j.push(format!(
                "\"header\":{{\"format\":{},\"arch\":\"x86_64\",\"page_size\":{},\"kernel\":{},\"module_version\":{},\"flags\":{},\"time\":{},\"time_nsec\":{},\"xstate_size\":{},\"xfeatures\":{}}}",
                h.version, h.page_size, js(&text(h.release())), h.module_version, h.flags, h.time_sec, h.time_nsec, h.xstate_size, h.xfeatures
            ));
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
            j.push(format!(
                "\"task\":{{\"pid\":{},\"tgid\":{},\"ppid\":{},\"pgid\":{},\"sid\":{},\"comm\":{},\"uids\":{:?},\"gids\":{:?},\"umask\":{},\"personality\":{},\"dumpable\":{}}}",
                t.pid, t.tgid, t.ppid, t.pgid, t.sid, js(&text(t.comm())), t.uids, t.gids, t.umask, t.personality, dumpable
            ));
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
                es.push(format!(
                    "{{\"pid\":{},\"tgid\":{},\"ppid\":{},\"pgid\":{},\"sid\":{},\"zombie\":{},\"exit_code\":{}}}",
                    e.pid, e.tgid, e.ppid, e.pgid, e.sid, e.is_zombie(), e.exit_code
                ));
            }
            j.push(format!("\"tree\":[{}]", es.join(",")));
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
            out.threads.push(format!(
                "{{\"tid\":{},\"comm\":{},\"blocked\":{},\"policy\":{},\"priority\":{},\"nice\":{},\"ioprio\":{},\"cpus\":{},\"rseq\":{}}}",
                t.tid,
                js(&text(comm)),
                t.blocked,
                s.policy,
                s.priority,
                s.nice,
                s.ioprio,
                js(&cpus),
                t.rseq.0
            ));
        }
        Record::Groups(g) => {
            let v: Vec<u32> = (0..g.len()).map(|i| g.get(i)).collect();
            l.push(format!("groups: {v:?}"));
            j.push(format!("\"groups\":{v:?}"));
        }
        Record::Cwd(p) => {
            l.push(format!("cwd: {}", text(p)));
            j.push(format!("\"cwd\":{}", js(&text(p))));
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
            j.push(format!(
                "\"rlimits\":[{}]",
                r.lim
                    .iter()
                    .map(|(c, m)| format!("[{c},{m}]"))
                    .collect::<Vec<_>>()
                    .join(",")
            ));
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
            let m: Vec<String> = reg::NAMES
                .iter()
                .zip(r.r.iter())
                .map(|(n, v)| format!("\"{n}\":{v}"))
                .collect();
            j.push(format!(
                "\"regs\":{{{},\"flags\":{}}}",
                m.join(","),
                r.flags
            ));
        }
        Record::Xstate(x) => {
            let bv = format::Xstate { area: x }.xstate_bv();
            l.push(format!("xstate: {} bytes, xstate_bv {bv:#x}", x.len()));
            j.push(format!(
                "\"xstate\":{{\"size\":{},\"xstate_bv\":{bv}}}",
                x.len()
            ));
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
            j.push(format!(
                "\"signals\":{{\"blocked\":{},\"handlers\":{}}}",
                s.blocked,
                js(&h.join(" "))
            ));
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
            let f: Vec<String> = format::MM_LAYOUT_NAMES
                .iter()
                .zip(ly.iter())
                .map(|(n, v)| format!("\"{n}\":{v}"))
                .collect();
            j.push(format!(
                "\"mm\":{{{},\"exe\":{},\"nr_vmas\":{}}}",
                f.join(","),
                js(&text(m.exe)),
                m.nr_vmas
            ));
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
            out.vmas.push(format!(
                "{{\"start\":{},\"end\":{},\"prot\":{},\"kind\":{},\"path\":{},\"pgoff\":{},\"pages\":{},\"flags\":{}}}",
                v.start, v.end, js(&prot_str(v.prot, shared)), js(v.kind.name()), js(&text(v.path)), v.pgoff, v.nr_pages, v.flags
            ));
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
            out.files.push(format!(
                "{{\"fd\":{},\"id\":{},\"kind\":{},\"path\":{},\"flags\":{},\"pos\":{},\"cloexec\":{}}}",
                f.fd,
                f.id,
                js(f.kind.name()),
                js(&text(f.path)),
                f.open_flags,
                f.pos,
                f.fd_flags & 1 != 0
            ));
        }
        Record::MetaEnd(m) => {
            l.push(format!(
                "meta-end at byte {off}: checksum {:#018x} ok, {} pages follow",
                m.checksum, m.total_pages
            ));
        }
        Record::Pages(p) => {
            out.pages += u64::from(p.npages);
            out.page_records += 1;
        }
        Record::Tail(t) => {
            l.push(format!(
                "tail: checksum {:#018x} ok, {} bytes, {} records",
                t.checksum, t.total_len, t.nr_records
            ));
            j.push(format!(
                "\"tail\":{{\"checksum\":{},\"bytes\":{},\"records\":{}}}",
                t.checksum, t.total_len, t.nr_records
            ));
        }
    }
}
