// SPDX-License-Identifier: GPL-2.0

//! Writes the seed corpus: `cargo run --example gen -- fuzz/corpus`
//! (fuzz/gen does that). Valid images made like `sample_image()` of the unit
//! tests and variants (one process; one process with several threads; trees
//! of processes with a zombie and shared anonymous memory), the kernel's
//! `image/testdata/counter.img`, a few truncations, and each record's
//! payload for the `records` target. Checks that each valid image passes
//! the harness and each truncation fails.

use cr_image::format::*;
use cr_image_fuzz::{drive, here};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, data: &[u8]) {
    std::fs::write(dir.join(name), data).unwrap_or_else(|e| panic!("{name}: {e}"));
}

/// One mapping of an [`ImageSpec`] process; pages are saved for its first
/// `nr_pages` pages.
#[derive(Clone)]
struct VmaSpec {
    start: u64,
    end: u64,
    kind: VmaKind,
    nr_pages: u64,
    path: &'static [u8],
    pgoff: u64,
    shm_id: u32,
}

/// A mapping with no file offset; shared anonymous memory gets object 1.
fn vma(start: u64, end: u64, kind: VmaKind, nr_pages: u64, path: &'static [u8]) -> VmaSpec {
    VmaSpec {
        start,
        end,
        kind,
        nr_pages,
        path,
        pgoff: 0,
        shm_id: u32::from(kind == VmaKind::AnonShared),
    }
}

/// One live process of an [`ImageSpec`].
#[derive(Clone)]
struct ProcSpec {
    /// Pid (= tgid) and parent's pid.
    pid: i32,
    ppid: i32,
    /// Threads other than the leader.
    threads: Vec<i32>,
    /// Supplementary groups.
    groups: Vec<u32>,
    /// VMAs, sorted.
    vmas: Vec<VmaSpec>,
    /// Open files: fd, kind, path.
    files: Vec<(u32, FileKind, &'static [u8])>,
}

/// What [`build_image`] puts in an image.
struct ImageSpec {
    /// The header (`nr_tasks` is filled in).
    header: Header,
    /// Live processes, in tree order (parents first).
    procs: Vec<ProcSpec>,
    /// Zombies: `(index of the parent in procs, pid, exit code)`; each is
    /// put in the tree right after its parent's threads.
    zombies: Vec<(usize, i32, i32)>,
    /// Most pages per pages record.
    run: u32,
}

/// The process of the unit tests' sample image: a private file mapping, an
/// anon VMA with two saved pages, the vdso, and two files.
fn sample_proc() -> ProcSpec {
    ProcSpec {
        pid: 42,
        ppid: 1,
        threads: vec![],
        groups: vec![10, 20],
        vmas: vec![
            vma(0x400000, 0x402000, VmaKind::FilePrivate, 0, b"/bin/true"),
            vma(0x600000, 0x604000, VmaKind::Anon, 2, b""),
            vma(0x7fff_f000, 0x8000_0000, VmaKind::Vdso, 0, b""),
        ],
        files: vec![
            (0, FileKind::Inherit, b""),
            (3, FileKind::Regular, b"/tmp/log"),
        ],
    }
}

fn sample() -> ImageSpec {
    ImageSpec {
        header: test_header(),
        procs: vec![sample_proc()],
        zombies: vec![],
        run: 1024,
    }
}

/// A tree: root 100 (threads 101, 102) with children 110 and zombie 111;
/// 120 (thread 121) is a child of 110. 100 and 110 share anonymous memory
/// object 1 (110 maps it from its second page on); 120 has its own object 2.
/// The kernel's constants (fits `here()`).
fn tree() -> ImageSpec {
    let shared = |start: u64, pages: u64, pgoff: u64, nr_pages: u64, shm_id: u32| VmaSpec {
        pgoff,
        shm_id,
        ..vma(
            start,
            start + pages * 0x1000,
            VmaKind::AnonShared,
            nr_pages,
            b"",
        )
    };
    let root = ProcSpec {
        pid: 100,
        ppid: 1,
        threads: vec![101, 102],
        groups: vec![],
        vmas: vec![
            vma(0x400000, 0x402000, VmaKind::FilePrivate, 1, b"/bin/tree"),
            vma(0x600000, 0x604000, VmaKind::Anon, 2, b""),
            vma(0x7fff_f000, 0x8000_0000, VmaKind::Vdso, 0, b""),
            shared(0x7f00_0000_0000, 4, 0, 3, 1),
        ],
        files: vec![
            (0, FileKind::Inherit, b""),
            (1, FileKind::Inherit, b""),
            (2, FileKind::Inherit, b""),
        ],
    };
    let child = ProcSpec {
        pid: 110,
        ppid: 100,
        threads: vec![],
        groups: vec![7],
        vmas: vec![
            // Its page is the root's (an inherited run).
            vma(0x400000, 0x402000, VmaKind::FilePrivate, 1, b"/bin/tree"),
            vma(0x600000, 0x603000, VmaKind::Anon, 1, b""),
            vma(0x7fff_f000, 0x8000_0000, VmaKind::Vdso, 0, b""),
            shared(0x7f00_0001_0000, 3, 1, 2, 1),
        ],
        files: vec![
            (0, FileKind::DevNull, b""),
            (4, FileKind::Regular, b"/tmp/x"),
        ],
    };
    let grandchild = ProcSpec {
        pid: 120,
        ppid: 110,
        threads: vec![121],
        groups: vec![],
        vmas: vec![
            vma(0x400000, 0x401000, VmaKind::FilePrivate, 0, b"/bin/tree"),
            vma(0x7fff_f000, 0x8000_0000, VmaKind::Vdso, 0, b""),
            shared(0x7e00_0000_0000, 2, 0, 2, 2),
        ],
        files: vec![],
    };
    ImageSpec {
        header: here(),
        procs: vec![root, child, grandchild],
        zombies: vec![(0, 111, 0x100)],
        run: 2,
    }
}

fn main() {
    let top = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "corpus".into()));
    let vdir = top.join("validator");
    let rdir = top.join("records");
    for d in [&vdir, &rdir] {
        std::fs::create_dir_all(d).unwrap();
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let counter = std::fs::read(manifest.join("../image/testdata/counter.img"))
        .expect("image/testdata/counter.img");

    let mut valid: Vec<(&str, Vec<u8>)> = Vec::new();
    valid.push(("counter.img", counter.clone()));
    valid.push(("sample.img", build_image(&sample())));
    let with_proc = |f: &dyn Fn(&mut ProcSpec)| {
        let mut s = sample();
        f(&mut s.procs[0]);
        s
    };
    valid.push((
        "no-pages.img",
        build_image(&with_proc(&|p| {
            p.vmas = vec![
                vma(0x400000, 0x402000, VmaKind::FilePrivate, 0, b"/bin/true"),
                vma(0x7fff_e000, 0x7fff_f000, VmaKind::Vvar, 0, b""),
                vma(0x7fff_f000, 0x8000_0000, VmaKind::Vdso, 0, b""),
            ];
            p.groups = vec![];
        })),
    ));
    // 200 VMAs, every tenth with one saved page, of all kinds; each shared
    // anonymous one its own object, every other one at an offset.
    valid.push((
        "many-vmas.img",
        build_image(&with_proc(&|p| {
            let kinds = [
                VmaKind::Anon,
                VmaKind::FilePrivate,
                VmaKind::FileShared,
                VmaKind::AnonShared,
            ];
            p.vmas = (0..200u64)
                .map(|i| {
                    let kind = kinds[(i % 4) as usize];
                    let path: &'static [u8] = if kind.has_path() { b"/lib/x.so" } else { b"" };
                    let pages = u64::from(i % 10 == 0 && kind != VmaKind::FileShared);
                    let start = 0x1000_0000 + i * 0x3000;
                    let mut v = vma(start, start + 0x2000, kind, pages, path);
                    if kind == VmaKind::AnonShared {
                        v.shm_id = (i / 4 + 1) as u32;
                        v.pgoff = i % 8 / 4 * 3;
                    } else if kind.has_path() {
                        v.pgoff = i;
                    }
                    v
                })
                .collect();
        })),
    ));
    valid.push((
        "several-files.img",
        build_image(&with_proc(&|p| {
            p.files = vec![
                (0, FileKind::DevNull, b""),
                (1, FileKind::Inherit, b""),
                (2, FileKind::Inherit, b""),
                (3, FileKind::Regular, b"/tmp/log"),
                (5, FileKind::DevZero, b""),
                (7, FileKind::Inet, b""),
                (
                    9,
                    FileKind::Regular,
                    b"/var/lib/some/rather/long/path/to/a/data-file.db",
                ),
                (1000, FileKind::Regular, b"/x"),
            ];
        })),
    ));
    // Memfds and deleted files, each with its contents.
    valid.push((
        "memfd-files.img",
        build_image(&with_proc(&|p| {
            p.files = vec![
                (0, FileKind::Inherit, b""),
                (3, FileKind::Memfd, b""),
                (4, FileKind::Deleted, b""),
                (5, FileKind::Memfd, b""),
            ];
        })),
    ));
    // The kernel's constants (fits `here()`), one page per pages record.
    valid.push((
        "kernel-runs.img",
        build_image(&ImageSpec {
            header: here(),
            run: 1,
            ..with_proc(&|p| {
                p.vmas = vec![
                    vma(0x400000, 0x402000, VmaKind::FilePrivate, 1, b"/bin/true"),
                    vma(0x600000, 0x604000, VmaKind::Anon, 3, b""),
                    vma(0x7fff_f000, 0x8000_0000, VmaKind::Vdso, 0, b""),
                    vma(
                        0x7fff_0000_0000,
                        0x7fff_0000_2000,
                        VmaKind::AnonShared,
                        1,
                        b"",
                    ),
                ];
            })
        }),
    ));
    valid.push((
        "pagesize-16k.img",
        build_image(&ImageSpec {
            header: Header {
                page_size: 16384,
                ..test_header()
            },
            ..with_proc(&|p| {
                p.vmas = vec![vma(0x600000, 0x608000, VmaKind::Anon, 1, b"")];
                p.files = vec![];
            })
        }),
    ));
    // One process, four threads (each with its regs and xstate).
    valid.push((
        "threads.img",
        build_image(&with_proc(&|p| p.threads = vec![43, 44, 47])),
    ));
    let tree_img = build_image(&tree());
    valid.push(("tree.img", tree_img.clone()));
    // A smaller tree: the root (no pages at all) and its child 9 (two
    // threads), whose own child 8 exited (a zombie, last in the tree); only
    // 9 has pages, some in the memory it shares with the root.
    valid.push((
        "tree-zombie-last.img",
        build_image(&ImageSpec {
            header: test_header(),
            procs: vec![
                ProcSpec {
                    pid: 7,
                    ppid: 0,
                    vmas: vec![vma(0x10000, 0x12000, VmaKind::AnonShared, 0, b"")],
                    ..sample_proc()
                },
                ProcSpec {
                    pid: 9,
                    ppid: 7,
                    threads: vec![10],
                    vmas: vec![
                        vma(0x10000, 0x12000, VmaKind::AnonShared, 2, b""),
                        vma(0x600000, 0x604000, VmaKind::Anon, 1, b""),
                    ],
                    files: vec![],
                    ..sample_proc()
                },
            ],
            zombies: vec![(1, 8, 9)],
            run: 1024,
        }),
    ));

    for (name, img) in &valid {
        let o = drive(img, 1);
        assert!(o.result.is_ok(), "{name}: {:?}", o.result);
        write(&vdir, name, img);
    }
    for name in ["counter.img", "tree.img"] {
        let img = &valid.iter().find(|v| v.0 == name).unwrap().1;
        assert_eq!(
            drive(img, 1).fits_here,
            Some(Ok(())),
            "{name} must fit here()"
        );
    }

    // Truncations: inside the magic, the header, the tree, just before
    // meta-end, inside the page data, and without the tail's last word.
    let sample_img = &valid[1].1;
    let start_of = |img: &[u8], ty: RecordType| {
        record_starts(img)
            .into_iter()
            .find(|&(t, _)| t == ty as u32)
            .unwrap()
            .1
    };
    let meta_end = start_of(sample_img, RecordType::MetaEnd);
    let tree_rec = start_of(&tree_img, RecordType::Tree);
    let tree_pages = start_of(&tree_img, RecordType::Pages);
    let counter_pages = start_of(&counter, RecordType::Pages);
    let cuts = [
        ("trunc-magic", &sample_img[..5]),
        ("trunc-header", &sample_img[..40]),
        ("trunc-before-meta-end", &sample_img[..meta_end]),
        ("trunc-in-pages", &sample_img[..meta_end + 32 + 24 + 5000]),
        ("trunc-tail", &sample_img[..sample_img.len() - 8]),
        ("tree-trunc-in-tree", &tree_img[..tree_rec + 8 + 8 + 40]),
        ("tree-meta-only", &tree_img[..tree_pages]),
        ("counter-meta-only", &counter[..counter_pages]),
    ];
    for (name, img) in cuts {
        assert!(drive(img, 1).result.is_err(), "{name} accepted");
        write(&vdir, name, img);
    }

    // Record payloads for the `records` target: selector, parameters,
    // payload; each of the sample image, and from the tree image the tree,
    // two of each task, thread and pages (of a process other than the
    // first) records, and the shared anonymous VMAs.
    let h = test_header();
    let mut seen = HashSet::new();
    let files_img = &valid.iter().find(|v| v.0 == "several-files.img").unwrap().1;
    for (prefix, img, h) in [
        ("", sample_img, h),
        ("tree-", &tree_img, here()),
        ("files-", files_img, h),
    ] {
        let mut per_type = std::collections::HashMap::new();
        for (i, (ty, start)) in record_starts(img).into_iter().enumerate() {
            let len = u32::from_le_bytes(img[start + 4..start + 8].try_into().unwrap()) as usize;
            let mut p = &img[start + 8..start + len];
            let mut seed = Vec::new();
            let ty = RecordType::from_u32(ty).unwrap();
            if !prefix.is_empty() {
                let n = per_type.entry(ty as u32).or_insert(0);
                let word = |k: usize| u32::from_le_bytes(p[k..k + 4].try_into().unwrap());
                let wanted = match ty {
                    // From the tree and files images: one of each
                    // record of the file table's objects (and signals,
                    // timers) the sample image lacks.
                    _ if !matches!(
                        ty,
                        RecordType::Header
                            | RecordType::Tree
                            | RecordType::Task
                            | RecordType::Groups
                            | RecordType::Cwd
                            | RecordType::Rlimits
                            | RecordType::Thread
                            | RecordType::Regs
                            | RecordType::Xstate
                            | RecordType::Signals
                            | RecordType::Mm
                            | RecordType::Vma
                            | RecordType::Pages
                            | RecordType::MetaEnd
                            | RecordType::Tail
                    ) =>
                    {
                        *n < 1
                    }
                    _ if prefix == "files-" => false,
                    RecordType::Tree => true,
                    RecordType::Task | RecordType::Thread => *n < 2,
                    RecordType::Pages => *n < 2 && word(12) != 0,
                    RecordType::Vma => word(44) == VmaKind::AnonShared as u32,
                    _ => false,
                };
                if !wanted {
                    continue;
                }
                *n += 1;
            }
            let sel: u8 = match ty {
                RecordType::Header => 0,
                RecordType::Task => 1,
                RecordType::Groups => 2,
                RecordType::Cwd => 3,
                RecordType::Rlimits => 4,
                RecordType::Regs => 5,
                RecordType::Xstate => {
                    seed.extend_from_slice(&h.xstate_size.to_le_bytes());
                    6
                }
                RecordType::Signals => 7,
                RecordType::Mm => {
                    seed.extend_from_slice(&h.auxv_words.to_le_bytes());
                    seed.extend_from_slice(&h.task_size.to_le_bytes());
                    8
                }
                RecordType::Vma => {
                    seed.push(0);
                    seed.extend_from_slice(&h.task_size.to_le_bytes());
                    9
                }
                RecordType::File => 10,
                RecordType::Lock => 38,
                RecordType::FileOwner => 39,
                RecordType::PendingSig => 35,
                RecordType::Itimers => 36,
                RecordType::Inotify => 33,
                RecordType::InotifyWatch => 34,
                RecordType::Epoll => 31,
                RecordType::EpollWatch => 32,
                RecordType::PosixTimer => 37,
                RecordType::MetaEnd => 11,
                RecordType::Pages => {
                    seed.push(0);
                    p = &p[..PAGES_FIXED];
                    12
                }
                RecordType::Tail => 13,
                RecordType::Tree => 17,
                RecordType::Thread => 18,
                RecordType::Pipe => {
                    // Bytes::page_size: 4096 << (byte % 5).
                    seed.push((h.page_size / 4096).trailing_zeros() as u8);
                    23
                }
                RecordType::PipeData => 24,
                RecordType::UnixSock => 25,
                RecordType::UnixData => 26,
                RecordType::UnixQueued => 27,
                RecordType::Eventfd => 28,
                RecordType::Timerfd => 29,
                RecordType::Signalfd => 30,
                RecordType::Inet => 19,
                RecordType::Memfd => 20,
                RecordType::Deleted => 21,
                RecordType::FileData => 22,
                RecordType::Inherited => 40,
            };
            seed.insert(0, sel);
            seed.extend_from_slice(p);
            if seen.insert(seed.clone()) {
                write(&rdir, &format!("{prefix}{i:02}-{}", ty.name()), &seed);
            }
        }
    }
    let mut ck = vec![14u8, 0x5a];
    ck.extend((0..300u32).map(|i| (i * 13) as u8));
    write(&rdir, "checksum", &ck);
    let mut tables = vec![15u8];
    tables.extend_from_slice(&[0x92, 0x01, 0, 0, 0x10, 0, 0, 0]); // pages record header
    tables.extend_from_slice(&2u32.to_le_bytes());
    tables.push(2);
    tables.extend_from_slice(&0x12345u64.to_le_bytes());
    tables.extend_from_slice(&13u32.to_le_bytes());
    tables.extend_from_slice(&[6, 0, 1, 2, 3, 4, 5, 4, 0, 0, 0, b'/', b'a', 0, 0, 0, 0]);
    write(&rdir, "tables", &tables);
    let mut pin = vec![16u8, 0];
    for v in [0x600000u64, 0x604000, 2, 0, 0x601000] {
        pin.extend_from_slice(&v.to_le_bytes());
    }
    pin.extend_from_slice(&2u32.to_le_bytes());
    write(&rdir, "pages-in", &pin);
    for (name, _) in &valid {
        let n = std::fs::metadata(vdir.join(name)).unwrap().len();
        eprintln!("gen: {name} {n} bytes");
    }
}

/// `(type, offset)` of each record of a valid image.
fn record_starts(img: &[u8]) -> Vec<(u32, usize)> {
    let mut out = Vec::new();
    let mut pos = 8;
    while pos + 8 <= img.len() {
        let ty = u32::from_le_bytes(img[pos..pos + 4].try_into().unwrap());
        let len = u32::from_le_bytes(img[pos + 4..pos + 8].try_into().unwrap()) as usize;
        out.push((ty, pos));
        if ty == RecordType::Tail as u32 || len < RECORD_HEADER_SIZE {
            break;
        }
        pos += len;
    }
    out
}

/// Builds a complete, valid image the way the kernel writes one (see
/// `sample_image()` in `image/src/tests.rs`): header, tree, then per live
/// process its task, groups, cwd, rlimits, signals, mm, VMAs, files, and
/// per thread its thread, regs and xstate records; meta-end, the page
/// records sorted by (process, address), and the tail.
fn build_image(s: &ImageSpec) -> Vec<u8> {
    struct Out {
        img: Vec<u8>,
        buf: Vec<u8>,
        nrec: u64,
    }
    impl Out {
        fn push(&mut self, enc: impl FnOnce(&mut [u8]) -> Option<usize>) {
            let n = enc(&mut self.buf).expect("record encodes");
            self.img.extend_from_slice(&self.buf[..n]);
            self.nrec += 1;
        }
        fn checksum(&self) -> u64 {
            let mut c = Checksum::new();
            c.update(&self.img);
            c.value()
        }
    }
    // The tree: each process, its threads, then its zombie children.
    let root = s.procs[0].pid;
    let entry = |pid: i32, tgid: i32, ppid: i32| TreeEntry {
        pid,
        tgid,
        ppid,
        pgid: root,
        sid: root,
        flags: 0,
        exit_code: 0,
    };
    let mut entries = Vec::new();
    for (i, p) in s.procs.iter().enumerate() {
        entries.push(entry(p.pid, p.pid, p.ppid));
        for &t in &p.threads {
            entries.push(entry(t, p.pid, p.ppid));
        }
        for &(_, pid, code) in s.zombies.iter().filter(|z| z.0 == i) {
            entries.push(TreeEntry {
                flags: TREE_ZOMBIE,
                exit_code: code,
                ..entry(pid, pid, p.pid)
            });
        }
    }
    let h = Header {
        nr_tasks: entries.len() as u32,
        ..s.header
    };
    let ps = u64::from(h.page_size);
    let mut o = Out {
        img: MAGIC.to_vec(),
        buf: vec![0u8; 1 << 20],
        nrec: 0,
    };
    o.push(|b| h.encode(b));
    o.push(|b| Tree::encode(b, entries.len(), |i| entries[i]));
    let comm_of = |name: &[u8]| {
        let mut comm = [0u8; COMM_LEN];
        comm[..name.len()].copy_from_slice(name);
        comm
    };
    let mut total_pages = 0;
    let mut file_id = 0;
    let mut inet_id = 0;
    // Objects of memfd and deleted files (memfd.rs), numbered per kind.
    let (mut memfds, mut deleted) = (0, 0);
    for p in &s.procs {
        let t = Task {
            pid: p.pid,
            tgid: p.pid,
            ppid: p.ppid,
            pgid: root,
            sid: root,
            umask: 0o22,
            comm: comm_of(b"test"),
            ..Default::default()
        };
        o.push(|b| t.encode(b));
        o.push(|b| Groups::encode(b, &p.groups));
        o.push(|b| encode_record(b, RecordType::Cwd, |w| w.path(b"/tmp")));
        let r = Rlimits {
            lim: [(1, 2); RLIM_NLIMITS as usize],
        };
        o.push(|b| r.encode(b));
        o.push(|b| {
            Signals::encode(b, 1 << 1, (0x7000_0000, 8192, SS_AUTODISARM), |i| {
                if i == 1 {
                    SigAction {
                        handler: 0x401000,
                        flags: 0x0400_0000,
                        restorer: 0x401100,
                        mask: 0,
                    }
                } else {
                    SigAction::default()
                }
            })
        });
        // Interval timers: ITIMER_REAL 5 s left, every second.
        let it = Itimers {
            real_value: 5_000_000_000,
            real_interval: 1_000_000_000,
            ..Default::default()
        };
        o.push(|b| it.encode(b));
        let layout = [
            0x400000, 0x401000, 0x600000, 0x601000, 0x602000, 0x603000, 0x7ff000, 1, 2, 3, 4,
        ];
        let auxv: Vec<u64> = (0..u64::from(h.auxv_words)).collect();
        let nr_vmas = p.vmas.len() as u32;
        o.push(|b| Mm::encode(b, &layout, nr_vmas, 0, &auxv, b"/bin/true"));
        for s in &p.vmas {
            let v = Vma {
                start: s.start,
                end: s.end,
                pgoff: s.pgoff,
                vm_flags: 0x73,
                nr_pages: s.nr_pages,
                prot: PROT_READ | PROT_WRITE,
                kind: s.kind,
                flags: 0,
                shm_id: s.shm_id,
                path: s.path,
            };
            total_pages += s.nr_pages;
            o.push(|b| v.encode(b));
        }
        for &(fd, kind, path) in &p.files {
            file_id += 1;
            // A TCP socket listening on 127.0.0.1, port 8000 + fd.
            // A memfd or deleted file: its record, then 100 bytes of
            // contents at 4096 (a hole before them) in two chunks.
            let obj = match kind {
                FileKind::Memfd | FileKind::Deleted => {
                    let bytes = [0x5au8; 50];
                    let id = if kind == FileKind::Memfd {
                        memfds += 1;
                        let m = MemfdRec {
                            id: memfds,
                            seals: 1 | 8,
                            size: 12288,
                            data: 100,
                            mode: 0o777,
                            name: b"buf",
                        };
                        o.push(|b| m.encode(b));
                        memfds
                    } else {
                        deleted += 1;
                        let d = DeletedRec {
                            id: deleted,
                            mode: 0o600,
                            size: 12288,
                            data: 100,
                            path: b"/tmp/gone",
                        };
                        o.push(|b| d.encode(b));
                        deleted
                    };
                    for off in [4096, 4146] {
                        let d = FileData {
                            offset: off,
                            bytes: &bytes,
                        };
                        o.push(|b| d.encode(b));
                    }
                    id
                }
                FileKind::Inet => {
                    inet_id += 1;
                    let s = Inet {
                        id: inet_id,
                        family: AF_INET,
                        ty: SOCK_STREAM,
                        protocol: IPPROTO_TCP,
                        state: InetState::Listen as u32,
                        flags: INET_REUSEADDR | INET_BOUND_ADDR,
                        backlog: 5,
                        ttl: -1,
                        hops: -1,
                        local_port: 8000 + fd,
                        local_addr: [127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                        ..Default::default()
                    };
                    o.push(|b| s.encode(b));
                    inet_id
                }
                _ => 0,
            };
            let f = FileRec {
                fd,
                id: file_id,
                kind,
                open_flags: 2,
                fd_flags: u32::from(fd > 2),
                pos: if kind == FileKind::Inet {
                    0
                } else {
                    u64::from(fd) * 10
                },
                obj,
                path,
            };
            o.push(|b| f.encode(b));
            // File locks: each regular file, a POSIX read lock on 10-19.
            if kind == FileKind::Regular {
                let l = LockRec {
                    file: file_id,
                    kind: LockKind::Posix as u32,
                    ty: LOCK_READ,
                    pid: 0,
                    start: 10,
                    end: 19,
                };
                o.push(|b| l.encode(b));
            }
        }
        // The tree's root holds a unix socketpair (fds 20 and 21), bytes
        // queued in the first end.
        if p.pid == 100 {
            for (id, peer) in [(1, 2), (2, 1)] {
                let u = UnixSock {
                    id,
                    ty: SOCK_STREAM,
                    state: UnixState::Connected as u32,
                    peer,
                    shutdown: 0,
                    flags: UNIX_PASSRIGHTS,
                    rcvbuf: 0,
                    sndbuf: 0,
                    peek_off: -1,
                    backlog: 0,
                    rcvtimeo_us: 0,
                    sndtimeo_us: 0,
                    addr_len: 0,
                    data_records: u32::from(id == 1),
                    addr: [0; UNIX_PATH_MAX],
                    peer_pid: 100,
                };
                o.push(|b| u.encode(b));
            }
            let d = UnixData {
                id: 1,
                flags: UNIX_DATA_EOR,
                data: b"queued",
            };
            o.push(|b| d.encode(b));
            for (fd, obj) in [(20, 1), (21, 2)] {
                file_id += 1;
                let f = FileRec {
                    fd,
                    id: file_id,
                    kind: FileKind::Unix,
                    open_flags: 2,
                    fd_flags: 0,
                    pos: 0,
                    obj,
                    path: b"",
                };
                o.push(|b| f.encode(b));
            }
            // And a pipe (fds 22 and 23), two packets buffered in it.
            let pipe = Pipe {
                head: PipeHead {
                    id: 1,
                    capacity: 65536,
                    data_len: 9,
                    flags: 0,
                    ino: 0,
                    mode: 0,
                },
                path: b"",
            };
            o.push(|b| pipe.encode(b));
            for data in [&b"pipe"[..], b"bytes"] {
                let d = PipeData {
                    id: 1,
                    flags: PIPE_DATA_PACKET,
                    data,
                };
                o.push(|b| d.encode(b));
            }
            for (fd, flags) in [(22, 0o40000), (23, 0o40001)] {
                file_id += 1;
                let f = FileRec {
                    fd,
                    id: file_id,
                    kind: FileKind::Pipe,
                    open_flags: flags,
                    fd_flags: 0,
                    pos: 0,
                    obj: 1,
                    path: b"",
                };
                o.push(|b| f.encode(b));
            }
            // An external pipe (fd 24, --inherit-fd) and a deleted FIFO
            // (fd 25, two bytes buffered).
            let ext = Pipe {
                head: PipeHead {
                    id: 2,
                    capacity: 65536,
                    data_len: 0,
                    flags: PIPE_EXTERNAL,
                    ino: 4321,
                    mode: 0,
                },
                path: b"",
            };
            o.push(|b| ext.encode(b));
            file_id += 1;
            let f = FileRec {
                fd: 24,
                id: file_id,
                kind: FileKind::Pipe,
                open_flags: 0,
                fd_flags: 0,
                pos: 0,
                obj: 2,
                path: b"",
            };
            o.push(|b| f.encode(b));
            let gone = Pipe {
                head: PipeHead {
                    id: 3,
                    capacity: 65536,
                    data_len: 2,
                    flags: PIPE_FIFO | PIPE_DELETED,
                    ino: 0,
                    mode: 0o600,
                },
                path: b"/tmp/fifo",
            };
            o.push(|b| gone.encode(b));
            let d = PipeData {
                id: 3,
                flags: 0,
                data: b"hi",
            };
            o.push(|b| d.encode(b));
            file_id += 1;
            let f = FileRec {
                fd: 25,
                id: file_id,
                kind: FileKind::Fifo,
                open_flags: 2,
                fd_flags: 0,
                pos: 0,
                obj: 3,
                path: b"",
            };
            o.push(|b| f.encode(b));
            // And an eventfd, a timerfd and a signalfd (fds 26-28).
            let ev = EventfdRec {
                id: 1,
                flags: EVENTFD_SEMAPHORE,
                count: 3,
            };
            let tf = TimerfdRec {
                id: 1,
                clockid: CLOCK_MONOTONIC,
                flags: 0,
                ticks: 2,
                value_ns: 250_000_000,
                interval_ns: 500_000_000,
                abs_ns: 0,
            };
            let sf = SignalfdRec {
                id: 1,
                mask: 1 << 11,
            };
            for (fd, kind) in [
                (26, FileKind::Eventfd),
                (27, FileKind::Timerfd),
                (28, FileKind::Signalfd),
            ] {
                match kind {
                    FileKind::Eventfd => o.push(|b| ev.encode(b)),
                    FileKind::Timerfd => o.push(|b| tf.encode(b)),
                    _ => o.push(|b| sf.encode(b)),
                }
                file_id += 1;
                let f = FileRec {
                    fd,
                    id: file_id,
                    kind,
                    open_flags: 0o4002,
                    fd_flags: 1,
                    pos: 0,
                    obj: 1,
                    path: b"",
                };
                o.push(|b| f.encode(b));
            }
            // And an inotify instance (fd 29) watching two directories,
            // wd 1 and 3.
            let ino = Inotify {
                id: 1,
                watches: 2,
                next_wd: 4,
            };
            o.push(|b| ino.encode(b));
            for (wd, path) in [(1, &b"/tmp"[..]), (3, b"/etc")] {
                let w = InotifyWatch {
                    head: InotifyWatchHead {
                        id: 1,
                        wd,
                        mask: 0x100,
                    },
                    path,
                };
                o.push(|b| w.encode(b));
            }
            file_id += 1;
            let f = FileRec {
                fd: 29,
                id: file_id,
                kind: FileKind::Inotify,
                open_flags: 0,
                fd_flags: 0,
                pos: 0,
                obj: 1,
                path: b"",
            };
            o.push(|b| f.encode(b));
        }
        for (k, &tid) in std::iter::once(&p.pid).chain(&p.threads).enumerate() {
            let th = Thread {
                tid,
                pdeath_signal: if k == 0 { 9 } else { 0 },
                blocked: (k as u64) << 1,
                altstack: if k == 0 {
                    (0x7000_0000, 8192, SS_AUTODISARM)
                } else {
                    (0, 0, SS_DISABLE)
                },
                comm: comm_of(if k == 0 { b"test" } else { b"worker" }),
                clear_child_tid: 0x7f00_0000_1000 + k as u64 * 0x100,
                robust_list: (0x7f00_0000_2000 + k as u64 * 0x100, 24),
                rseq: (0x7f00_0000_3000 + k as u64 * 0x100, 32, 0x5305_3053),
                sched: Sched {
                    policy: if k == 0 { SCHED_NORMAL } else { SCHED_BATCH },
                    nice: k as i32,
                    cpus: if k == 0 {
                        [0; SCHED_CPU_WORDS]
                    } else {
                        [1; SCHED_CPU_WORDS]
                    },
                    ..Default::default()
                },
            };
            o.push(|b| th.encode(b));
            let regs = Regs {
                r: [3 + tid as u64; NR_GREGS],
                flags: if k == 0 { REGS_IN_SYSCALL } else { 0 },
            };
            o.push(|b| regs.encode(b));
            let area: Vec<u8> = (0..h.xstate_size)
                .map(|i| (i as u64 % 251 + k as u64) as u8)
                .collect();
            o.push(|b| Xstate::encode(b, &area));
            // A pending real-time signal of the thread, with a siginfo.
            let mut fields = [0u8; 32];
            fields[..4].copy_from_slice(&tid.to_le_bytes());
            fields[8] = 7;
            let ps = PendingSig {
                signo: 35,
                flags: 0,
                tid,
                errno: 0,
                code: -1,
                fields,
            };
            o.push(|b| ps.encode(b));
        }
        // The process's pending signals: one with a siginfo, one without.
        for (signo, flags) in [(10, PENDING_SHARED), (12, PENDING_SHARED | PENDING_NOINFO)] {
            let ps = PendingSig {
                signo,
                flags,
                code: 0,
                ..Default::default()
            };
            o.push(|b| ps.encode(b));
        }
    }
    let me = MetaEnd {
        checksum: o.checksum(),
        total_pages,
    };
    o.push(|b| me.encode(b));
    for (idx, p) in s.procs.iter().enumerate() {
        // The pages of a private file mapping whose span the parent maps
        // too are inherited from it.
        let parent = s.procs[..idx].iter().position(|q| q.pid == p.ppid);
        for v in &p.vmas {
            let mut left = v.nr_pages;
            let mut addr = v.start;
            let from = parent.filter(|&j| {
                v.kind == VmaKind::FilePrivate
                    && s.procs[j]
                        .vmas
                        .iter()
                        .any(|w| w.start == v.start && w.end == v.end)
            });
            while left > 0 {
                let n = left.min(u64::from(s.run)) as u32;
                if let Some(j) = from {
                    let r = Inherited {
                        addr,
                        npages: n,
                        proc_idx: idx as u32,
                        from_idx: j as u32,
                    };
                    o.push(|b| r.encode(b));
                    addr += u64::from(n) * ps;
                    left -= u64::from(n);
                    continue;
                }
                let ph = PagesHeader {
                    addr,
                    npages: n,
                    proc_idx: idx as u32,
                };
                o.push(|b| ph.encode(b, h.page_size));
                let fill = (0..u64::from(n) * ps)
                    .map(|i| (i.wrapping_mul(7) ^ (addr >> 12) ^ idx as u64) as u8);
                o.img.extend(fill);
                addr += u64::from(n) * ps;
                left -= u64::from(n);
            }
        }
    }
    let tail = Tail {
        checksum: o.checksum(),
        total_len: o.img.len() as u64 + 32,
        nr_records: o.nrec + 1,
    };
    o.push(|b| tail.encode(b));
    o.img
}

/// The header `sample_image()` of the unit tests uses.
fn test_header() -> Header {
    Header {
        time_nsec: 5,
        xstate_size: 64 * 16,
        auxv_words: 4,
        xfeatures: 7,
        task_size: 0x7fff_ffff_f000,
        ..here()
    }
}
