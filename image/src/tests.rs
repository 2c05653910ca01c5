// SPDX-License-Identifier: GPL-2.0

//! Unit tests of the format: round trips, and the validator against
//! truncation, corruption and reordering of a small but complete image.

use crate::format::*;

fn here() -> Header {
    let mut release = [0u8; RELEASE_LEN];
    release[..6].copy_from_slice(b"7.2.12");
    Header {
        version: FORMAT_VERSION,
        arch: ARCH_X86_64,
        page_size: 4096,
        flags: 0,
        nr_tasks: 1,
        module_version: 0x100,
        time_sec: 1_800_000_000,
        time_nsec: 5,
        nsig: NSIG,
        rlim_nlimits: RLIM_NLIMITS,
        comm_len: COMM_LEN as u32,
        xstate_size: 64 * 16,
        auxv_words: 4,
        xfeatures: 7,
        task_size: 0x7fff_ffff_f000,
        release,
    }
}

/// Builds a complete image: one anon VMA with two saved pages, a private
/// file mapping, the vdso, and two files. Returns the bytes and the
/// offsets at which each record starts.
pub(crate) fn sample_image() -> (Vec<u8>, Vec<usize>) {
    let mut img = MAGIC.to_vec();
    let mut starts = Vec::new();
    let mut ck = Checksum::new();
    ck.update(&MAGIC);
    let mut push = |img: &mut Vec<u8>, ck: &mut Checksum, bytes: &[u8]| {
        starts.push(img.len());
        img.extend_from_slice(bytes);
        ck.update(bytes);
    };
    let mut buf = vec![0u8; 1 << 16];
    let h = here();
    let n = h.encode(&mut buf).unwrap();
    push(&mut img, &mut ck, &buf[..n]);
    let entry = TreeEntry {
        pid: 42,
        tgid: 42,
        ppid: 1,
        pgid: 42,
        sid: 42,
        flags: 0,
        exit_code: 0,
    };
    let n = Tree::encode(&mut buf, 1, |_| entry).unwrap();
    push(&mut img, &mut ck, &buf[..n]);
    let mut comm = [0u8; COMM_LEN];
    comm[..4].copy_from_slice(b"test");
    let t = Task {
        pid: 42,
        tgid: 42,
        ppid: 1,
        pgid: 42,
        sid: 42,
        umask: 0o22,
        comm,
        ..Default::default()
    };
    let n = t.encode(&mut buf).unwrap();
    push(&mut img, &mut ck, &buf[..n]);
    let n = Groups::encode(&mut buf, &[10, 20]).unwrap();
    push(&mut img, &mut ck, &buf[..n]);
    let n = encode_record(&mut buf, RecordType::Cwd, |w| w.path(b"/tmp")).unwrap();
    push(&mut img, &mut ck, &buf[..n]);
    let r = Rlimits {
        lim: [(1, 2); RLIM_NLIMITS as usize],
    };
    let n = r.encode(&mut buf).unwrap();
    push(&mut img, &mut ck, &buf[..n]);
    let n = Signals::encode(&mut buf, 0, (0, 0, SS_DISABLE), |_| SigAction::default()).unwrap();
    push(&mut img, &mut ck, &buf[..n]);
    let layout = [
        0x400000, 0x401000, 0x600000, 0x601000, 0x602000, 0x603000, 0x7ff000, 1, 2, 3, 4,
    ];
    let n = Mm::encode(&mut buf, &layout, 3, 0, &[6, 4096, 0, 0], b"/bin/true").unwrap();
    push(&mut img, &mut ck, &buf[..n]);
    let vmas = [
        Vma {
            start: 0x400000,
            end: 0x402000,
            pgoff: 0,
            vm_flags: 0,
            nr_pages: 0,
            prot: PROT_READ | PROT_EXEC,
            kind: VmaKind::FilePrivate,
            flags: 0,
            shm_id: 0,
            path: b"/bin/true",
        },
        Vma {
            start: 0x600000,
            end: 0x604000,
            pgoff: 0,
            vm_flags: 0,
            nr_pages: 2,
            prot: PROT_READ | PROT_WRITE,
            kind: VmaKind::Anon,
            flags: 0,
            shm_id: 0,
            path: b"",
        },
        Vma {
            start: 0x7ffff000,
            end: 0x80000000,
            pgoff: 0,
            vm_flags: 0,
            nr_pages: 0,
            prot: PROT_READ | PROT_EXEC,
            kind: VmaKind::Vdso,
            flags: 0,
            shm_id: 0,
            path: b"",
        },
    ];
    for v in &vmas {
        let n = v.encode(&mut buf).unwrap();
        push(&mut img, &mut ck, &buf[..n]);
    }
    let f0 = FileRec {
        fd: 0,
        id: 1,
        kind: FileKind::Inherit,
        open_flags: 2,
        fd_flags: 0,
        pos: 0,
        obj: 0,
        path: b"",
    };
    let f3 = FileRec {
        fd: 3,
        id: 2,
        kind: FileKind::Regular,
        open_flags: 0o2001,
        fd_flags: FD_CLOEXEC,
        pos: 77,
        obj: 0,
        path: b"/tmp/log",
    };
    for f in [f0, f3] {
        let n = f.encode(&mut buf).unwrap();
        push(&mut img, &mut ck, &buf[..n]);
    }
    let owner = FileOwner {
        file: 2,
        owner_type: OWNER_PID,
        pid: 42,
        signum: 12,
        flags: OWNER_ASYNC,
    };
    let n = owner.encode(&mut buf).unwrap();
    push(&mut img, &mut ck, &buf[..n]);
    let lock = LockRec {
        file: 2,
        kind: LockKind::Posix as u32,
        ty: LOCK_WRITE,
        pid: 0,
        start: 100,
        end: LOCK_TO_EOF,
    };
    let n = lock.encode(&mut buf).unwrap();
    push(&mut img, &mut ck, &buf[..n]);
    let th = Thread {
        tid: 42,
        comm,
        altstack: (0, 0, SS_DISABLE),
        ..Default::default()
    };
    let n = th.encode(&mut buf).unwrap();
    push(&mut img, &mut ck, &buf[..n]);
    let regs = Regs {
        r: [3; NR_GREGS],
        flags: 0,
    };
    let n = regs.encode(&mut buf).unwrap();
    push(&mut img, &mut ck, &buf[..n]);
    let n = Xstate::encode(&mut buf, &[0u8; 64 * 16]).unwrap();
    push(&mut img, &mut ck, &buf[..n]);
    let n = MetaEnd {
        checksum: ck.value(),
        total_pages: 2,
    }
    .encode(&mut buf)
    .unwrap();
    push(&mut img, &mut ck, &buf[..n]);
    let ph = PagesHeader {
        addr: 0x601000,
        npages: 2,
        proc_idx: 0,
    };
    let n = ph.encode(&mut buf, 4096).unwrap();
    let mut rec = buf[..n].to_vec();
    rec.extend((0..8192u32).map(|i| (i * 7) as u8));
    push(&mut img, &mut ck, &rec);
    let total = img.len() as u64 + 32;
    // Records so far: header, tree, task, groups, cwd, rlimits, signals,
    // mm, 3 vmas, 2 files, a file owner, a lock, thread, regs, xstate,
    // meta-end, pages; then the tail.
    let nrec = 20;
    let n = Tail {
        checksum: ck.value(),
        total_len: total,
        nr_records: nrec + 1,
    }
    .encode(&mut buf)
    .unwrap();
    push(&mut img, &mut ck, &buf[..n]);
    (img, starts)
}

/// Runs the validator over a whole image, with the cross-record rules of
/// [`walk`] against the tables a reader keeps; returns the number of
/// records, or the error and its offset.
pub(crate) fn validate(img: &[u8]) -> Result<usize, (FormatError, u64)> {
    walk_image(img, |_, _, _| {})
}

/// [`validate`], handing each record, its bytes (the pages record's without
/// its data) and the header to `f`.
fn walk_image(
    img: &[u8],
    mut f: impl FnMut(&Record<'_>, &[u8], Option<&Header>),
) -> Result<usize, (FormatError, u64)> {
    let mut v = Validator::new();
    let mut pos = 0usize;
    let mut records = 0;
    let mut tree: Vec<TreeEntry> = Vec::new();
    let mut vmas: Vec<Vec<VmaSpan>> = Vec::new();
    let mut tree_walk = TreeWalk::new();
    let mut page_walk = PageWalk::new();
    let err = |v: &Validator, e| Err((e, v.offset()));
    let Some(m) = img.get(0..8) else {
        return err(&v, FormatError::Truncated);
    };
    if let Err(e) = v.magic(m.try_into().unwrap()) {
        return err(&v, e);
    }
    pos += 8;
    while !v.done() {
        let start = pos;
        let Some(h) = img.get(pos..pos + 8) else {
            return err(&v, FormatError::Truncated);
        };
        let (_ty, plen) = match v.record_header(h.try_into().unwrap()) {
            Ok(x) => x,
            Err(e) => return err(&v, e),
        };
        pos += 8;
        let Some(p) = img.get(pos..pos + plen) else {
            return err(&v, FormatError::Truncated);
        };
        pos += plen;
        let rec = match v.record(p) {
            Ok(r) => r,
            Err(e) => return err(&v, e),
        };
        let page_size = v.header().map_or(4096, |h| h.page_size);
        let cross = match &rec {
            Record::Tree(t) => {
                tree = (0..t.len()).map(|i| t.get(i)).collect();
                Ok(())
            }
            Record::Task(t) => {
                vmas.push(Vec::new());
                tree_walk.task(&tree, t)
            }
            Record::Thread(t) => tree_walk.thread(&tree, t),
            Record::Vma(m, _) => {
                vmas.last_mut().unwrap().push(VmaSpan::from(m));
                Ok(())
            }
            Record::MetaEnd(_) => tree_walk.meta_end(&tree),
            Record::Pages(ph) => page_walk.run(&vmas[..], ph, page_size).map(|_| ()),
            Record::Tail(_) => page_walk.finish(&vmas[..]),
            _ => Ok(()),
        };
        if let Err(e) = cross {
            return err(&v, e);
        }
        f(&rec, &img[start..pos], v.header());
        if let Record::Pages(_) = rec {
            let n = v.page_bytes_left() as usize;
            let Some(d) = img.get(pos..pos + n) else {
                return err(&v, FormatError::Truncated);
            };
            // Feed in uneven chunks: chunking must not matter.
            for c in d.chunks(1000) {
                v.page_data(c).unwrap();
            }
            pos += n;
        }
        records += 1;
    }
    if pos != img.len() {
        return err(&v, FormatError::TrailingData);
    }
    Ok(records)
}

/// A real image: a static counter checkpointed in the test VM with format
/// version 2, carried to version 3 (whose only change to its records is the
/// file record's `obj`, zero where version 2 had padding) by setting the
/// header's version and recomputing the two checksums, then to version 4
/// (whose only change to its records is the mm record's `flags` and
/// `pad0`, zero for it, after the auxv count) the same way, then to
/// version 5 (no change to its records) the same way (committed; the fuzz
/// corpus holds it too).
const COUNTER: &[u8] = include_bytes!("../testdata/counter.img");

/// Encodes a decoded record again.
fn reencode(rec: &Record<'_>, hdr: Option<&Header>) -> Vec<u8> {
    let mut buf = vec![0u8; 1 << 20];
    let n = match rec {
        Record::Header(h) => h.encode(&mut buf),
        Record::Tree(t) => Tree::encode(&mut buf, t.len(), |i| t.get(i)),
        Record::Task(t) => t.encode(&mut buf),
        Record::Groups(g) => {
            let gids: Vec<u32> = (0..g.len()).map(|i| g.get(i)).collect();
            Groups::encode(&mut buf, &gids)
        }
        Record::Cwd(p) => Cwd::encode(&mut buf, p),
        Record::Epoll(e) => e.encode(&mut buf),
        Record::EpollWatch(w) => w.encode(&mut buf),
        Record::Rlimits(r) => r.encode(&mut buf),
        Record::Thread(t) => t.encode(&mut buf),
        Record::Regs(r) => r.encode(&mut buf),
        Record::Xstate(x) => Xstate::encode(&mut buf, x),
        Record::Signals(s) => Signals::encode(
            &mut buf,
            s.blocked,
            (s.altstack_sp, s.altstack_size, s.altstack_flags),
            |i| s.action(i),
        ),
        Record::Mm(m) => {
            let auxv: Vec<u64> = (0..m.auxv.len() / 8).map(|i| m.auxv_word(i)).collect();
            Mm::encode(&mut buf, &m.layout, m.nr_vmas, m.flags, &auxv, m.exe)
        }
        Record::Vma(m, _) => m.encode(&mut buf),
        Record::File(f) => f.encode(&mut buf),
        Record::Pipe(p) => p.encode(&mut buf),
        Record::PipeData(d) => d.encode(&mut buf),
        Record::UnixSock(u) => u.encode(&mut buf),
        Record::UnixData(d) => d.encode(&mut buf),
        Record::UnixQueued(q) => q.encode(&mut buf),
        Record::Inet(s) => s.encode(&mut buf),
        Record::Eventfd(r) => r.encode(&mut buf),
        Record::Timerfd(r) => r.encode(&mut buf),
        Record::Signalfd(r) => r.encode(&mut buf),
        Record::Memfd(m) => m.encode(&mut buf),
        Record::Deleted(d) => d.encode(&mut buf),
        Record::FileData(d) => d.encode(&mut buf),
        Record::Lock(l) => l.encode(&mut buf),
        Record::FileOwner(o) => o.encode(&mut buf),
        Record::PendingSig(s) => s.encode(&mut buf),
        Record::Itimers(t) => t.encode(&mut buf),
        Record::PosixTimer(t) => t.encode(&mut buf),
        Record::Inotify(i) => i.encode(&mut buf),
        Record::InotifyWatch(w) => w.encode(&mut buf),
        Record::MetaEnd(m) => m.encode(&mut buf),
        Record::Pages(ph) => ph.encode(&mut buf, hdr.unwrap().page_size),
        Record::Inherited(r) => r.encode(&mut buf),
        Record::Tail(t) => t.encode(&mut buf),
    };
    buf.truncate(n.unwrap());
    buf
}

#[test]
fn committed_image_decodes_and_encodes_back_byte_for_byte() {
    let mut seen = std::collections::BTreeSet::new();
    let n = walk_image(COUNTER, |rec, bytes, hdr| {
        assert_eq!(reencode(rec, hdr), bytes, "{rec:?}");
        seen.insert(RecordHeader::decode(bytes[..8].try_into().unwrap()).ty);
    })
    .unwrap();
    assert!(n > 20, "{n} records");
    // Every kind of record a single process has is in it.
    for ty in [
        1, 100, 101, 102, 103, 104, 110, 200, 201, 300, 400, 401, 402, 600, 900, 9001,
    ] {
        assert!(seen.contains(&ty), "no record of type {ty}");
    }
}

#[test]
fn record_types_are_listed_once() {
    for (i, &ty) in RecordType::ALL.iter().enumerate() {
        assert_eq!(RecordType::from_u32(ty as u32), Some(ty));
        assert!(RecordType::ALL[..i].iter().all(|&t| t.name() != ty.name()));
        assert!(ty.max_len() >= RECORD_HEADER_SIZE && ty.max_len() % 8 == 0);
    }
    // In number order, each number once (the table is the one list).
    assert!(RecordType::ALL
        .windows(2)
        .all(|w| (w[0] as u32) < (w[1] as u32)));
}

#[test]
fn cross_record_rules_are_checked() {
    // A thread record whose tid is not the tree's.
    let (img, starts) = sample_image();
    let mut bad = img.clone();
    let th = starts
        .iter()
        .copied()
        .find(|&s| u32::from_le_bytes(img[s..s + 4].try_into().unwrap()) == 110)
        .unwrap();
    bad[th + 8] ^= 1;
    let mut fixed = bad.clone();
    fix_checksums(&mut fixed);
    assert_eq!(validate(&fixed).unwrap_err().0, FormatError::BadField);
}

#[test]
fn lock_and_owner_records_follow_their_file_record() {
    let (img, starts) = sample_image();
    let at = |ty: u32| {
        starts
            .iter()
            .copied()
            .find(|&s| u32::from_le_bytes(img[s..s + 4].try_into().unwrap()) == ty)
            .unwrap()
    };
    // A lock naming another description than the file record before it.
    for ty in [350, 351] {
        let mut bad = img.clone();
        let r = at(ty);
        bad[r + 8] = 1;
        fix_checksums(&mut bad);
        assert_eq!(validate(&bad).unwrap_err().0, FormatError::BadField);
    }
    // A second owner record for one description.
    let (o, l) = (at(351), at(350));
    let owner = img[o..l].to_vec();
    let mut bad = img[..l].to_vec();
    bad.extend_from_slice(&owner);
    bad.extend_from_slice(&img[l..]);
    fix_checksums(&mut bad);
    assert_eq!(validate(&bad).unwrap_err().0, FormatError::BadField);
}

/// Rewrites the two checksums of an image after a change.
fn fix_checksums(img: &mut [u8]) {
    let mut ck = Checksum::new();
    let mut done = 0;
    let mut pos = 8;
    while pos + 8 <= img.len() {
        let h = RecordHeader::decode(img[pos..pos + 8].try_into().unwrap());
        if h.ty == 900 || h.ty == 9001 {
            ck.update(&img[done..pos]);
            done = pos;
            img[pos + 8..pos + 16].copy_from_slice(&ck.value().to_le_bytes());
        }
        pos += h.len as usize;
    }
}

#[test]
fn sample_image_validates() {
    let (img, starts) = sample_image();
    assert_eq!(validate(&img), Ok(starts.len()));
}

#[test]
fn every_truncation_is_detected() {
    let (img, _) = sample_image();
    for len in 0..img.len() {
        assert!(
            validate(&img[..len]).is_err(),
            "truncated at {len} accepted"
        );
    }
}

#[test]
fn every_single_byte_flip_is_detected() {
    let (img, _) = sample_image();
    for i in 0..img.len() {
        let mut bad = img.clone();
        bad[i] ^= 0x10;
        assert!(validate(&bad).is_err(), "flip at {i} accepted");
    }
}

#[test]
fn bad_magic_version_and_trailing_data() {
    let (img, _) = sample_image();
    let mut bad = img.clone();
    bad[0] = b'X';
    assert_eq!(validate(&bad).unwrap_err(), (FormatError::BadMagic, 0));
    let mut bad = img.clone();
    bad[16] = 1; // header payload: version (format 1 is no longer read)
    assert_eq!(validate(&bad).unwrap_err().0, FormatError::BadVersion);
    let mut bad = img.clone();
    bad.extend_from_slice(&[0; 8]);
    assert_eq!(validate(&bad).unwrap_err().0, FormatError::TrailingData);
}

#[test]
fn reordered_or_duplicated_records_are_refused() {
    let (img, starts) = sample_image();
    // Swap the task and groups records.
    let (a, b, c) = (starts[2], starts[3], starts[4]);
    let mut bad = img[..a].to_vec();
    bad.extend_from_slice(&img[b..c]);
    bad.extend_from_slice(&img[a..b]);
    bad.extend_from_slice(&img[c..]);
    assert!(validate(&bad).is_err());
    // Duplicate the groups record.
    let mut bad = img[..c].to_vec();
    bad.extend_from_slice(&img[b..c]);
    bad.extend_from_slice(&img[c..]);
    assert_eq!(validate(&bad).unwrap_err().0, FormatError::Duplicate);
    // A second task record where a thread must come.
    let mut bad = img[..c].to_vec();
    bad.extend_from_slice(&img[a..b]);
    bad.extend_from_slice(&img[c..]);
    assert_eq!(validate(&bad).unwrap_err().0, FormatError::BadOrder);
}

#[test]
fn checksum_does_not_depend_on_chunking() {
    let data: Vec<u8> = (0..10_000u32).map(|i| (i * 31 + 7) as u8).collect();
    let mut one = Checksum::new();
    one.update(&data);
    for chunk in [1, 3, 7, 8, 31, 32, 33, 4096] {
        let mut c = Checksum::new();
        for p in data.chunks(chunk) {
            c.update(p);
        }
        assert_eq!(c.value(), one.value(), "chunk {chunk}");
    }
    let mut other = data.clone();
    other[5000] ^= 1;
    let mut c = Checksum::new();
    c.update(&other);
    assert_ne!(c.value(), one.value());
}

#[test]
fn header_constants_are_checked() {
    let h = here();
    assert_eq!(h.check_against(&h), Ok(()));
    let mut other = h;
    other.page_size = 8192;
    assert_eq!(h.check_against(&other), Err(FormatError::BadPageSize));
    let mut other = h;
    other.xfeatures = 3; // image needs a feature this kernel lacks
    assert_eq!(h.check_against(&other), Err(FormatError::BadConstants));
}

#[test]
fn vma_checks() {
    let ts = 0x7fff_ffff_f000;
    let mut buf = [0u8; 256];
    let v = Vma {
        start: 0x1000,
        end: 0x3000,
        pgoff: 0,
        vm_flags: 0,
        nr_pages: 3,
        prot: PROT_READ,
        kind: VmaKind::Anon,
        flags: 0,
        shm_id: 0,
        path: b"",
    };
    let n = v.encode(&mut buf).unwrap();
    assert_eq!(
        Vma::decode(&buf[8..n], 4096, ts),
        Err(FormatError::BadPages)
    );
    let v = Vma {
        start: 0x1001,
        nr_pages: 0,
        ..v
    };
    let n = v.encode(&mut buf).unwrap();
    assert_eq!(Vma::decode(&buf[8..n], 4096, ts), Err(FormatError::BadVma));
    let v = Vma {
        start: 0x1000,
        end: ts + 0x1000,
        ..v
    };
    let n = v.encode(&mut buf).unwrap();
    assert_eq!(Vma::decode(&buf[8..n], 4096, ts), Err(FormatError::BadVma));
    let v = Vma {
        start: 0x1000,
        end: 0x2000,
        kind: VmaKind::FilePrivate,
        ..v
    };
    let n = v.encode(&mut buf).unwrap();
    assert_eq!(Vma::decode(&buf[8..n], 4096, ts), Err(FormatError::BadPath));
    // Only private anonymous memory grows down (mmap would refuse it after
    // the point of no return).
    let v = Vma {
        flags: VMA_GROWSDOWN,
        path: b"/bin/true",
        ..v
    };
    let n = v.encode(&mut buf).unwrap();
    assert_eq!(
        Vma::decode(&buf[8..n], 4096, ts),
        Err(FormatError::BadField)
    );
    let v = Vma {
        kind: VmaKind::Anon,
        path: b"",
        ..v
    };
    let n = v.encode(&mut buf).unwrap();
    assert!(Vma::decode(&buf[8..n], 4096, ts).is_ok());
}

#[test]
fn file_ids_come_in_order_of_first_appearance() {
    let f = |fd, id| FileRec {
        fd,
        id,
        kind: FileKind::DevNull,
        open_flags: 2,
        fd_flags: 0,
        pos: 0,
        obj: 0,
        path: b"",
    };
    let mut buf = [0u8; 256];
    for (rec, ok) in [(f(3, 1), true), (f(3, 0), false)] {
        let n = rec.encode(&mut buf).unwrap();
        let r = FileRec::decode(&buf[RECORD_HEADER_SIZE..n]);
        assert_eq!(r.is_ok(), ok, "{rec:?}");
    }
}

#[test]
fn lock_and_owner_records_are_checked() {
    let l = |kind: LockKind, ty, start, end| LockRec {
        file: 1,
        kind: kind as u32,
        ty,
        pid: 0,
        start,
        end,
    };
    let mut buf = [0u8; 256];
    for (rec, ok) in [
        (l(LockKind::Flock, LOCK_WRITE, 0, LOCK_TO_EOF), true),
        (l(LockKind::Flock, LOCK_READ, 0, 99), false),
        (l(LockKind::Posix, LOCK_READ, 10, 19), true),
        (l(LockKind::Ofd, LOCK_WRITE, 50, 50), true),
        (l(LockKind::Posix, 2, 10, 19), false),
        (l(LockKind::Posix, LOCK_READ, 20, 19), false),
        (l(LockKind::Posix, LOCK_READ, 0, LOCK_TO_EOF + 1), false),
        (
            LockRec {
                file: 0,
                ..l(LockKind::Posix, LOCK_READ, 1, 2)
            },
            false,
        ),
        (
            LockRec {
                kind: 4,
                ..l(LockKind::Posix, LOCK_READ, 1, 2)
            },
            false,
        ),
        (
            LockRec {
                pid: 42,
                ..l(LockKind::Flock, LOCK_WRITE, 0, LOCK_TO_EOF)
            },
            true,
        ),
        (
            LockRec {
                pid: -1,
                ..l(LockKind::Flock, LOCK_WRITE, 0, LOCK_TO_EOF)
            },
            false,
        ),
        (
            LockRec {
                pid: 42,
                ..l(LockKind::Ofd, LOCK_WRITE, 0, 1)
            },
            false,
        ),
    ] {
        let n = rec.encode(&mut buf).unwrap();
        assert_eq!(
            LockRec::decode(&buf[RECORD_HEADER_SIZE..n]).is_ok(),
            ok,
            "{rec:?}"
        );
    }
    let o = |owner_type, pid, signum, flags| FileOwner {
        file: 1,
        owner_type,
        pid,
        signum,
        flags,
    };
    for (rec, ok) in [
        (o(OWNER_PID, 42, 0, 0), true),
        (o(OWNER_PGRP, 42, 10, OWNER_ASYNC), true),
        (o(OWNER_TID, 0, 64, 0), true),
        (o(3, 42, 0, 0), false),
        (o(OWNER_PID, -1, 0, 0), false),
        (o(OWNER_PID, 1, 65, 0), false),
        (o(OWNER_PID, 1, 0, 2), false),
    ] {
        let n = rec.encode(&mut buf).unwrap();
        assert_eq!(
            FileOwner::decode(&buf[RECORD_HEADER_SIZE..n]).is_ok(),
            ok,
            "{rec:?}"
        );
    }
}

/// Pending-signal records: the signal, flags, tid and an empty siginfo
/// without one are checked.
#[test]
fn pending_signal_fields_are_checked() {
    let mut buf = vec![0u8; 128];
    let p = |signo, flags, tid, code| PendingSig {
        signo,
        flags,
        tid,
        errno: 0,
        code,
        fields: [0; 32],
    };
    for (rec, ok) in [
        (p(10, 0, 5, -6), true),
        (p(34, PENDING_SHARED, 0, -1), true),
        (p(19, PENDING_SHARED | PENDING_NOINFO, 0, 0), true),
        (p(0, 0, 5, 0), false),
        (p(65, 0, 5, 0), false),
        (p(9, 0, 5, 0), false),
        (p(10, 4, 5, 0), false),
        (p(10, PENDING_SHARED, 5, 0), false),
        (p(10, 0, 0, 0), false),
        (p(10, 0, -1, 0), false),
        (p(10, PENDING_NOINFO, 5, -1), false),
    ] {
        let n = rec.encode(&mut buf).unwrap();
        assert_eq!(n, RECORD_HEADER_SIZE + PENDING_SIG_PAYLOAD);
        let d = PendingSig::decode(&buf[RECORD_HEADER_SIZE..n]);
        assert_eq!(d.is_ok(), ok, "{rec:?}");
        if ok {
            assert_eq!(d.unwrap(), rec);
        }
    }
}

/// The record type table of the spec is this crate's table.
#[test]
fn spec_lists_the_record_types_of_the_table() {
    let spec = include_str!("../../Documentation/cr/image-format.rst");
    let mut rows = 0;
    for line in spec.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        let (Some(n), Some(name), Some(max)) = (w.first(), w.get(1), w.get(2)) else {
            continue;
        };
        let Ok(n) = n.parse::<u32>() else { continue };
        let Some(ty) = RecordType::from_u32(n) else {
            continue;
        };
        if *name != ty.name() {
            continue;
        }
        rows += 1;
        if ty == RecordType::Pages {
            continue;
        }
        assert_eq!(max.parse::<usize>(), Ok(ty.max_len()), "{}", ty.name());
    }
    assert_eq!(rows, RecordType::ALL.len());
}

/// The sample image with `recs` inserted before record `at` (the tail's
/// count, length and both checksums made right again).
fn sample_with(at: usize, recs: &[Vec<u8>]) -> Vec<u8> {
    let (img, starts) = sample_image();
    let tail = *starts.last().unwrap();
    let mut out = img[..starts[at]].to_vec();
    for r in recs {
        out.extend_from_slice(r);
    }
    out.extend_from_slice(&img[starts[at]..tail]);
    let mut buf = [0u8; 64];
    let n = Tail {
        checksum: 0,
        total_len: (out.len() + (img.len() - tail)) as u64,
        nr_records: (starts.len() + recs.len()) as u64,
    }
    .encode(&mut buf)
    .unwrap();
    out.extend_from_slice(&buf[..n]);
    fix_checksums(&mut out);
    out
}

#[test]
fn unix_data_records_are_counted() {
    let mut buf = vec![0u8; 1 << 12];
    let mut rec = |f: &dyn Fn(&mut [u8]) -> Option<usize>| {
        let n = f(&mut buf).unwrap();
        buf[..n].to_vec()
    };
    let sock = |id, peer, data_records| UnixSock {
        id,
        ty: SOCK_DGRAM,
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
        data_records,
        addr: [0; UNIX_PATH_MAX],
        peer_pid: 0,
    };
    let data = |id, d: &'static [u8]| UnixData {
        id,
        flags: UNIX_DATA_EOR,
        data: d,
    };
    let file = |fd, id, obj| FileRec {
        fd,
        id,
        kind: FileKind::Unix,
        open_flags: 2,
        fd_flags: 0,
        pos: 0,
        obj,
        path: b"",
    };
    let s1 = rec(&|b| sock(1, 2, 2).encode(b));
    let s2 = rec(&|b| sock(2, 1, 1).encode(b));
    let (a, b, c) = (
        rec(&|b| data(1, b"a").encode(b)),
        rec(&|b| data(1, b"b").encode(b)),
        rec(&|b| data(2, b"c").encode(b)),
    );
    let f5 = rec(&|b| file(5, 3, 1).encode(b));
    let f6 = rec(&|b| file(6, 4, 2).encode(b));
    // Before the thread record, after the last file record's lock.
    let at = 15;
    let ok = [&s1, &s2, &a, &b, &c, &f5, &f6];
    let img =
        |rs: &[&Vec<u8>]| sample_with(at, &rs.iter().map(|r| (*r).clone()).collect::<Vec<_>>());
    assert!(validate(&img(&ok)).is_ok(), "{:?}", validate(&img(&ok)));
    // A message dropped, repeated, moved to the other socket or after the
    // file records: refused.
    for bad in [
        vec![&s1, &s2, &a, &c, &f5, &f6],
        vec![&s1, &s2, &a, &b, &f5, &f6],
        vec![&s1, &s2, &a, &b, &b, &c, &f5, &f6],
        vec![&s1, &s2, &a, &b, &c, &c, &f5, &f6],
        vec![&s1, &s2, &c, &a, &b, &f5, &f6],
        vec![&s1, &s2, &a, &b, &f5, &c, &f6],
    ] {
        assert!(validate(&img(&bad)).is_err(), "accepted");
    }
}

#[test]
fn itimers_record_is_optional_and_single() {
    let (img, starts) = sample_image();
    let at = |ty: u32| {
        starts
            .iter()
            .copied()
            .find(|&s| u32::from_le_bytes(img[s..s + 4].try_into().unwrap()) == ty)
            .unwrap()
    };
    let t = Itimers {
        real_value: 5_000_000_000,
        real_interval: 1_000_000_000,
        ..Default::default()
    };
    let mut buf = [0u8; 64];
    let n = t.encode(&mut buf).unwrap();
    let rec = &buf[..n];
    let with = |pos: usize, times: usize| {
        let mut v = img[..pos].to_vec();
        for _ in 0..times {
            v.extend_from_slice(rec);
        }
        v.extend_from_slice(&img[pos..]);
        // The tail's length and record count, then the checksums.
        let tail = v.len() - 8 - TAIL_PAYLOAD;
        let len = v.len() as u64;
        v[tail + 16..tail + 24].copy_from_slice(&len.to_le_bytes());
        let nr = u64::from_le_bytes(v[tail + 24..tail + 32].try_into().unwrap());
        v[tail + 24..tail + 32].copy_from_slice(&(nr + times as u64).to_le_bytes());
        fix_checksums(&mut v);
        v
    };
    // Among the metadata, once: valid.
    let mm = at(400);
    assert_eq!(validate(&with(mm, 1)), Ok(starts.len() + 1));
    // Twice, or after the VMAs: Duplicate.
    assert_eq!(
        validate(&with(mm, 2)).unwrap_err().0,
        FormatError::Duplicate
    );
    let file = at(300);
    assert_eq!(
        validate(&with(file, 1)).unwrap_err().0,
        FormatError::Duplicate
    );
}

#[test]
fn uapi_header_names_this_format_version() {
    let h = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../include/uapi/linux/cr.h"
    ))
    .unwrap();
    let v: u32 = h
        .lines()
        .find_map(|l| l.strip_prefix("#define CR_FORMAT_VERSION "))
        .and_then(|v| v.trim().parse().ok())
        .expect("CR_FORMAT_VERSION in cr.h");
    assert_eq!(v, FORMAT_VERSION);
}

#[test]
fn task_stop_flags_are_checked() {
    let mut comm = [0u8; COMM_LEN];
    comm[..4].copy_from_slice(b"test");
    let t = |flags| Task {
        pid: 42,
        tgid: 42,
        ppid: 1,
        pgid: 42,
        sid: 42,
        flags,
        comm,
        ..Default::default()
    };
    let decodes = |flags| {
        let mut buf = vec![0u8; 4096];
        let n = t(flags).encode(&mut buf).unwrap();
        Task::decode(&buf[RECORD_HEADER_SIZE..n]).is_ok()
    };
    let sig = |s: u32| s << TASK_STOP_SIG_SHIFT;
    assert!(decodes(TASK_STOPPED | sig(19)));
    assert!(decodes(TASK_STOPPED | TASK_STOP_REPORTED | sig(22)));
    assert!(!decodes(TASK_STOPPED));
    assert!(!decodes(TASK_STOPPED | sig(9)));
    assert!(!decodes(TASK_STOPPED | sig(23)));
    assert!(!decodes(TASK_STOP_REPORTED));
    assert!(!decodes(sig(19)));
    assert!(!decodes(1 << 5));
}

/// The tree record's payload (after the record header) for `es`.
fn tree_payload(es: &[TreeEntry]) -> Vec<u8> {
    let mut buf = vec![0u8; 16 + TREE_ENTRY * es.len()];
    let n = Tree::encode(&mut buf, es.len(), |i| es[i]).unwrap();
    buf[RECORD_HEADER_SIZE..n].to_vec()
}

fn proc_entry(pid: i32, ppid: i32) -> TreeEntry {
    TreeEntry {
        pid,
        tgid: pid,
        ppid,
        pgid: 1,
        sid: 1,
        ..Default::default()
    }
}

#[test]
fn tree_checks_with_an_index_agree_with_the_quadratic_ones() {
    // Small trees, valid and broken in every way the checks look at, with
    // a deterministic generator: both ways give the same verdict.
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut rnd = |m: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % m
    };
    let mut index = vec![0u16; MAX_TASKS as usize];
    let (mut ok, mut bad) = (0, 0);
    for _ in 0..20_000 {
        let n = 1 + rnd(12) as usize;
        let mut es: Vec<TreeEntry> = Vec::new();
        for i in 0..n {
            let pid = 1 + rnd(16) as i32;
            let e = match rnd(4) {
                0 if i > 0 => {
                    // A thread of the previous entry's process.
                    let p = es[i - 1];
                    TreeEntry {
                        pid,
                        tgid: p.tgid,
                        ppid: p.ppid,
                        ..p
                    }
                }
                1 => TreeEntry {
                    flags: TREE_ZOMBIE,
                    exit_code: rnd(2) as i32,
                    ..proc_entry(pid, 1 + rnd(16) as i32)
                },
                _ => proc_entry(
                    pid,
                    if i == 0 {
                        0
                    } else {
                        es[rnd(i as u64) as usize].pid
                    },
                ),
            };
            es.push(e);
        }
        let p = tree_payload(&es);
        let slow = Tree::decode(&p).map(|t| t.len());
        let fast = Tree::decode_indexed(&p, &mut index).map(|t| t.len());
        assert_eq!(slow, fast, "{es:?}");
        if slow.is_ok() {
            ok += 1;
        } else {
            bad += 1;
        }
    }
    assert!(ok > 100 && bad > 100, "{ok} valid, {bad} refused");
}

#[test]
fn tree_of_max_tasks_checks_in_n_log_n() {
    // A chain (each process the child of the one before), a star, and
    // each with its last pid repeated: accepted and refused as before.
    let n = MAX_TASKS as usize;
    let chain: Vec<TreeEntry> = (0..n)
        .map(|i| proc_entry(100 + i as i32, 99 + i as i32))
        .collect();
    let star: Vec<TreeEntry> = (0..n)
        .map(|i| proc_entry(100 + i as i32, if i == 0 { 1 } else { 100 }))
        .collect();
    let mut index = vec![0u16; n];
    for es in [chain, star] {
        let p = tree_payload(&es);
        assert_eq!(Tree::decode_indexed(&p, &mut index).map(|t| t.len()), Ok(n));
        assert_eq!(Tree::decode(&p).map(|t| t.len()), Ok(n));
        let mut dup = es.clone();
        dup[n - 1].pid = dup[n - 2].pid;
        dup[n - 1].tgid = dup[n - 1].pid;
        let p = tree_payload(&dup);
        assert!(Tree::decode_indexed(&p, &mut index).is_err());
        // A parent that comes later.
        let mut late = es.clone();
        late[1].ppid = late[n - 1].pid;
        let p = tree_payload(&late);
        assert!(Tree::decode_indexed(&p, &mut index).is_err());
        assert!(Tree::decode(&p).is_err());
    }
}

/// An inherited run lies in a VMA of its process whose span the earlier
/// process has too, and counts toward that VMA's pages.
#[test]
fn inherited_runs_need_the_same_span_in_an_earlier_process() {
    let span = |start, end, nr_pages| VmaSpan {
        start,
        end,
        nr_pages,
    };
    let run = |addr, npages, proc_idx, from_idx| Inherited {
        addr,
        npages,
        proc_idx,
        from_idx,
    };
    let parent = vec![span(0x1000, 0x5000, 2)];
    let ok = [parent.clone(), vec![span(0x1000, 0x5000, 3)]];
    let mut w = PageWalk::new();
    let pages = PagesHeader {
        addr: 0x1000,
        npages: 2,
        proc_idx: 0,
    };
    w.run(&ok[..], &pages, 4096).unwrap();
    assert_eq!(w.inherited(&ok[..], &run(0x1000, 2, 1, 0), 4096), Ok(0));
    let own = PagesHeader {
        addr: 0x3000,
        npages: 1,
        proc_idx: 1,
    };
    w.run(&ok[..], &own, 4096).unwrap();
    w.finish(&ok[..]).unwrap();
    // The parent's VMA is shorter.
    let bad = [vec![span(0x1000, 0x4000, 0)], vec![span(0x1000, 0x5000, 1)]];
    let mut w = PageWalk::new();
    assert_eq!(
        w.inherited(&bad[..], &run(0x1000, 1, 1, 0), 4096),
        Err(FormatError::BadPages)
    );
    // Not from an earlier process.
    let mut b = vec![0u8; 64];
    let n = run(0x1000, 1, 1, 1).encode(&mut b).unwrap();
    assert_eq!(
        Inherited::decode(&b[RECORD_HEADER_SIZE..n]),
        Err(FormatError::BadPages)
    );
}
