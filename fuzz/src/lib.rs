// SPDX-License-Identifier: GPL-2.0

//! Harness of the image decoder fuzz targets, shared with the corpus
//! generator (`examples/gen.rs`).
//!
//! Everything here drives `cr_image::format`, the very source the kernel
//! module compiles, the way the kernel does (`rust/stream.rs` ImageReader,
//! `rust/restart.rs` read_plan, `rust/memory.rs` fill). The only
//! panics allowed are the `assert!`s below, which state invariants of the
//! format code; any other panic (index, overflow, unwrap) is a bug of
//! `image/src/format/` that would be a kernel BUG.

use cr_image::format::*;
use std::hint::black_box;

/// The header of the kernel that the images are restored on: the constants
/// of the test VM's kernel, as in `image/testdata/counter.img`.
pub fn here() -> Header {
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
        time_nsec: 0,
        nsig: NSIG,
        rlim_nlimits: RLIM_NLIMITS,
        comm_len: COMM_LEN as u32,
        xstate_size: 2696,
        auxv_words: 54,
        xfeatures: 0x21f,
        task_size: 0x00ff_ffff_ffff_f000,
        release,
    }
}

/// Page-data read sizes: a small deterministic generator, so that the
/// validator sees page data in uneven pieces as a reader with short reads
/// would feed it.
struct Chunks(u32);

impl Chunks {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        match self.0 >> 29 {
            0 => 1,
            1 => 7,
            2 => 4096,
            3 => 64 * 4096, // the kernel's batch
            _ => u64::from((self.0 >> 8) % 9000 + 1),
        }
    }
}

/// A process section as the kernel's restart plan keeps it: its VMA table
/// (the [`cr_image::format::walk`] types check the rest) and how many thread records
/// it had.
struct Proc {
    vmas: Vec<VmaSpan>,
    threads: usize,
}

impl AsRef<[VmaSpan]> for Proc {
    fn as_ref(&self) -> &[VmaSpan] {
        &self.vmas
    }
}

/// What one run of [`drive`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Records validated, or the error and the offset the validator gives.
    pub result: Result<u64, (FormatError, u64)>,
    /// `Header::check_against(here())` of the header, if one was decoded.
    pub fits_here: Option<FResult<()>>,
}

/// Runs `img` through the [`Validator`] as the kernel reads an image, and
/// keeps the tables the kernel keeps (`restart.rs` read_plan): the tree, to
/// match each process section and thread record to its entry
/// ([`TreeWalk`]), and each process's VMA table (a task record starts a new
/// one), to tie each page run, by its `proc_idx`, to its process's VMA
/// ([`PageWalk`]), as `memory::fill` does. Page data is fed in pieces whose sizes come from
/// `chunk_seed`.
///
/// Unlike the kernel, it goes on past a header that does not fit [`here`]
/// (crctl does too, and the validator must hold up for any header).
pub fn drive(img: &[u8], chunk_seed: u32) -> Outcome {
    let mut fits_here = None;
    let result = drive_inner(img, chunk_seed, &mut fits_here);
    Outcome { result, fits_here }
}

fn take<'a>(img: &'a [u8], pos: &mut usize, n: usize) -> Option<&'a [u8]> {
    let end = pos.checked_add(n)?;
    let s = img.get(*pos..end)?;
    *pos = end;
    Some(s)
}

fn arr8(s: &[u8]) -> [u8; 8] {
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    a
}

fn drive_inner(
    img: &[u8],
    chunk_seed: u32,
    fits_here: &mut Option<FResult<()>>,
) -> Result<u64, (FormatError, u64)> {
    let here = here();
    let mut v = Validator::default();
    let mut pos = 0usize;
    let mut chunks = Chunks(chunk_seed);
    let mut page_size = 0u32;
    let mut task_size = 0u64;
    // restart.rs read_plan's tables: the tree, and per process section its
    // VMAs (reset by each task record).
    let mut tree: Vec<TreeEntry> = Vec::new();
    let mut procs: Vec<Proc> = Vec::new();
    // Thread whose regs (1) or xstate (2) record comes next.
    let mut pending = 0u8;
    // The cross-record rules, as every reader checks them.
    let mut tree_walk = TreeWalk::new();
    let mut walk = PageWalk::new();
    let mut records = 0u64;

    macro_rules! fail {
        ($e:expr) => {{
            let e: FormatError = $e;
            black_box(e.describe());
            return Err((e, v.offset()));
        }};
    }
    macro_rules! check {
        ($r:expr) => {
            match $r {
                Ok(x) => x,
                Err(e) => fail!(e),
            }
        };
    }

    // No record before the magic.
    let header_rec = [
        1,
        0,
        0,
        0,
        (RECORD_HEADER_SIZE + HEADER_PAYLOAD) as u8,
        0,
        0,
        0,
    ];
    assert_eq!(v.record_header(&header_rec), Err(FormatError::BadOrder));
    let Some(m) = take(img, &mut pos, 8) else {
        fail!(FormatError::Truncated)
    };
    check!(v.magic(&arr8(m)));
    assert_eq!(v.offset(), 8);
    // Calls out of turn are refused and change nothing.
    assert_eq!(v.magic(&MAGIC), Err(FormatError::BadOrder));
    assert!(v.record(&[]).is_err());
    while !v.done() {
        let Some(h) = take(img, &mut pos, 8) else {
            fail!(FormatError::Truncated)
        };
        let (ty, plen) = check!(v.record_header(&arr8(h)));
        black_box((ty.name(), v.meta_done()));
        assert_eq!(v.record_header(&arr8(h)), Err(FormatError::BadOrder));
        // The kernel allocates `plen` bytes on the word of the validator:
        // it must be bounded by the type's maximum.
        assert!(
            plen + RECORD_HEADER_SIZE <= ty.max_len(),
            "{ty:?} payload of {plen} bytes passes record_header"
        );
        let Some(p) = take(img, &mut pos, plen) else {
            fail!(FormatError::Truncated)
        };
        let rec = check!(v.record(p));
        records += 1;
        assert_eq!(v.offset(), pos as u64, "offset out of step");
        // A thread's regs and xstate records come right after it.
        match (&rec, pending) {
            (Record::Regs(_), 1) => pending = 2,
            (Record::Xstate(_), 2) => pending = 0,
            (Record::Thread(_), 0) => pending = 1,
            (r, 0) => assert!(
                !matches!(r, Record::Regs(_) | Record::Xstate(_)),
                "regs or xstate record outside a thread"
            ),
            (r, n) => panic!("{r:?} accepted where the thread's record {n} belongs"),
        }
        match rec {
            Record::Header(h) => {
                *fits_here = Some(h.check_against(&here));
                assert_eq!(h.check_against(&h), Ok(()), "a header does not fit itself");
                black_box(here.check_against(&h).is_ok());
                black_box(h.release());
                page_size = h.page_size;
                task_size = h.task_size;
                assert!(page_size.is_power_of_two() && page_size >= 4096);
                assert!(h.nr_tasks >= 1 && h.nr_tasks <= MAX_TASKS);
            }
            Record::Tree(t) => {
                assert_eq!(Some(t.len() as u32), v.header().map(|h| h.nr_tasks));
                tree_invariants(&t);
                tree = (0..t.len()).map(|i| t.get(i)).collect();
            }
            Record::Task(t) => {
                black_box(t.comm());
                // The i-th process section is the i-th live process of the
                // tree, as restart.rs read_plan checks.
                check!(tree_walk.task(&tree, &t));
                assert_eq!(tree_walk.processes(), procs.len() + 1);
                // The validator let it in: the previous process had a thread.
                assert!(procs.last().is_none_or(|p| p.threads > 0));
                // A task record starts a process's records: its own VMAs.
                procs.push(Proc {
                    vmas: Vec::new(),
                    threads: 0,
                });
                assert_eq!(v.proc_index() as usize, procs.len() - 1);
            }
            Record::Thread(t) => {
                let Some(proc_) = procs.last_mut() else {
                    panic!("thread record before any task record")
                };
                // Threads of the process, in tree order.
                check!(tree_walk.thread(&tree, &t));
                proc_.threads += 1;
                assert_eq!(tree_walk.threads(), proc_.threads);
            }
            Record::Groups(g) => {
                for i in 0..g.len() {
                    black_box(g.get(i));
                }
                #[allow(clippy::len_zero)] // is_empty is what is tested
                let empty = g.len() == 0;
                assert_eq!(g.is_empty(), empty);
            }
            Record::Cwd(p) => assert!(p.first() == Some(&b'/')),
            Record::Rlimits(l) => {
                black_box(l);
            }
            Record::Itimers(t) => {
                assert!(t.any());
                assert!(t
                    .timers()
                    .iter()
                    .all(|&(v, i)| v <= ITIMER_MAX_NS && i <= ITIMER_MAX_NS));
            }
            Record::Regs(r) => {
                black_box(r);
            }
            Record::Xstate(x) => {
                assert_eq!(Some(x.len() as u32), v.header().map(|h| h.xstate_size));
                black_box(Xstate { area: x }.xstate_bv());
            }
            Record::Signals(s) => {
                for i in 0..NSIG as usize {
                    black_box(s.action(i));
                }
            }
            Record::Mm(m) => {
                for i in 0..m.auxv.len() / 8 {
                    black_box(m.auxv_word(i));
                }
                black_box(m.exe);
            }
            Record::Vma(vma, idx) => {
                let Some(proc_) = procs.last_mut() else {
                    panic!("vma record before any task record")
                };
                let vmas = &mut proc_.vmas;
                assert_eq!(idx as usize, vmas.len(), "vma index out of step");
                // Sorted and disjoint within the process, in the user
                // address space.
                assert!(vma.start < vma.end && vma.end <= task_size);
                assert!(vmas.last().is_none_or(|l| l.end <= vma.start));
                assert_eq!(vma.kind == VmaKind::AnonShared, vma.shm_id != 0);
                if vma.kind == VmaKind::AnonShared {
                    // memory.rs shm_extents: the object's size.
                    let ps = u64::from(page_size);
                    let size = vma
                        .pgoff
                        .checked_add(to_pages(vma.end - vma.start, ps))
                        .and_then(|n| n.checked_mul(ps));
                    assert!(size.is_some(), "shared anon extent overflows");
                }
                vmas.push(VmaSpan::from(&vma));
            }
            Record::File(f) => {
                black_box(f);
            }
            Record::Pipe(p) => {
                assert!(p.head.data_len <= u64::from(p.head.capacity));
                assert!(p.head.capacity % page_size == 0 && p.is_fifo() != p.path.is_empty());
            }
            Record::PipeData(d) => {
                assert!(!d.data.is_empty() && d.data.len() <= MAX_PIPE_DATA);
            }
            Record::UnixSock(u) => {
                assert!(u.addr().len() <= UNIX_PATH_MAX && u.peer != u.id);
                black_box(u.state());
            }
            Record::UnixData(d) => {
                assert!(d.data.len() <= MAX_UNIX_DATA && d.id != 0);
            }
            Record::Inet(s) => {
                black_box(s);
            }
            Record::Memfd(m) => {
                black_box(m);
            }
            Record::Deleted(d) => {
                black_box(d);
            }
            Record::FileData(d) => {
                black_box(d);
            }
            Record::Lock(l) => {
                black_box(l);
            }
            Record::FileOwner(o) => {
                black_box(o);
            }
            Record::PendingSig(s) => {
                assert!(s.signo >= 1 && s.signo <= NSIG && s.shared() == (s.tid == 0));
            }
            Record::Eventfd(e) => {
                assert!(e.id != 0 && e.count <= EVENTFD_MAX);
            }
            Record::Timerfd(t) => {
                assert!(t.id != 0 && (t.abs_ns == 0 || t.value_ns != 0));
            }
            Record::Signalfd(s) => {
                assert!(s.id != 0 && s.mask & ((1 << 8) | (1 << 18)) == 0);
            }
            Record::Inotify(i) => {
                assert!(i.id != 0 && i.next_wd != 0);
            }
            Record::InotifyWatch(w) => {
                assert!(
                    w.head.wd != 0 && w.head.wd < i32::MAX as u32 && w.path.first() == Some(&b'/')
                );
            }
            Record::PosixTimer(t) => {
                assert!(t.id >= 0);
            }
            Record::UnixQueued(q) => {
                assert!(q.listener != 0 && q.client != 0 && q.listener != q.client);
            }
            Record::Epoll(e) => {
                assert!(e.id != 0);
            }
            Record::EpollWatch(w) => {
                assert!(w.id != 0);
            }
            Record::MetaEnd(_) => {
                assert!(v.meta_done());
                // What the validator let through, the walk does too.
                assert_eq!(tree_walk.meta_end(&tree), Ok(()));
                // Every live process of the tree had its section, and each
                // at least one thread; all live threads were there.
                let live_procs = tree
                    .iter()
                    .filter(|e| e.is_leader() && !e.is_zombie())
                    .count();
                assert_eq!(procs.len(), live_procs, "process sections != tree");
                assert!(procs.iter().all(|p| p.threads > 0));
                let live_threads = tree.iter().filter(|e| !e.is_zombie()).count();
                assert_eq!(procs.iter().map(|p| p.threads).sum::<usize>(), live_threads);
            }
            Record::Pages(ph) => {
                let (addr, npages) = (ph.addr, ph.npages);
                assert!((ph.proc_idx as usize) < procs.len());
                let vma = check!(walk.run(&procs[..], &ph, page_size));
                let m = &procs[ph.proc_idx as usize].vmas[vma];
                assert!(
                    m.start <= addr && addr + u64::from(npages) * u64::from(page_size) <= m.end
                );
                let mut left = v.page_bytes_left();
                assert_eq!(left, u64::from(npages) * u64::from(page_size));
                assert_eq!(v.record_header(&[0; 8]), Err(FormatError::BadOrder));
                while left > 0 {
                    let n = chunks.next().min(left);
                    let Some(d) = take(img, &mut pos, n as usize) else {
                        fail!(FormatError::Truncated)
                    };
                    check!(v.page_data(d));
                    left -= n;
                    assert_eq!(v.page_bytes_left(), left);
                }
                // The reader refuses more than what is left.
                assert!(v.page_data(&[0]).is_err());
            }
            Record::Inherited(r) => {
                assert!(r.from_idx < r.proc_idx && (r.proc_idx as usize) < procs.len());
                let vma = check!(walk.inherited(&procs[..], &r, page_size));
                let (m, len) = (
                    &procs[r.proc_idx as usize].vmas[vma],
                    u64::from(r.npages) * u64::from(page_size),
                );
                assert!(m.start <= r.addr && r.addr + len <= m.end);
                assert!(procs[r.from_idx as usize]
                    .vmas
                    .iter()
                    .any(|w| w.start == m.start && w.end == m.end));
                // No contents follow.
                assert_eq!(v.page_bytes_left(), 0);
            }
            Record::Tail(t) => {
                check!(walk.finish(&procs[..]));
                assert!(v.done());
                assert_eq!(t.total_len, pos as u64);
                assert_eq!(t.nr_records, records);
            }
        }
    }
    assert!(v.header().is_some() && v.meta_done());
    // Anything after the tail is refused, whatever it is.
    if let Some(h) = img.get(pos..pos.saturating_add(8)) {
        assert_eq!(v.record_header(&arr8(h)), Err(FormatError::TrailingData));
    }
    if pos != img.len() {
        fail!(FormatError::TrailingData);
    }
    Ok(records)
}

/// Rewrites the checksums (and the tail's length and record count) of an
/// image to what the validator will compute, walking the record headers
/// leniently. Lets mutated images reach the page records and the tail.
pub fn fix_checksums(img: &mut [u8]) {
    let mut ck = Checksum::new();
    let mut done = 0usize; // bytes already added to `ck`
    let mut pos = 8usize;
    let mut nrec = 0u64;
    while let Some(h) = img.get(pos..pos.saturating_add(8)) {
        let h = RecordHeader::decode(&arr8(h));
        let len = h.len as usize;
        if len < RECORD_HEADER_SIZE || !len.is_multiple_of(8) {
            break;
        }
        let fix = match RecordType::from_u32(h.ty) {
            Some(RecordType::MetaEnd) => 8,
            Some(RecordType::Tail) => 24,
            _ => 0,
        };
        if fix != 0 && pos + 8 + fix <= img.len() {
            ck.update(&img[done..pos]);
            done = pos;
            let mut w = ck.value().to_le_bytes().to_vec();
            if fix == 24 {
                w.extend_from_slice(&((pos + len) as u64).to_le_bytes());
                w.extend_from_slice(&(nrec + 1).to_le_bytes());
            }
            img[pos + 8..pos + 8 + fix].copy_from_slice(&w);
        }
        nrec += 1;
        pos = match pos.checked_add(len) {
            Some(p) => p,
            None => break,
        };
    }
}

/// The `validator` target: the image as given (checksums and all), then,
/// if that differs, the same image with its checksums fixed up, so that
/// mutations get past them. A well-formed image is validated a second time
/// with other page-data pieces: the result must not change.
pub fn validator(data: &[u8]) {
    let seed = data.len() as u32;
    let first = drive(data, seed);
    let mut fixed = data.to_vec();
    fix_checksums(&mut fixed);
    if fixed != data {
        drive(&fixed, seed ^ 0x5bd1_e995);
    } else if data.len() <= 1 << 20 {
        let again = drive(data, !seed);
        // Same verdict; a truncation's offset depends on the pieces.
        match (&first.result, &again.result) {
            (Err((FormatError::Truncated, _)), Err((FormatError::Truncated, _))) => {}
            (a, b) => assert_eq!(a, b, "page-data chunking changed the verdict"),
        }
        assert_eq!(first.fits_here, again.fits_here);
    }
}

// ---------------------------------------------------------------------------
// The `records` target.

/// A byte source for the parameters the target takes before the payload.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }
    /// A page size a decoded header can hold.
    fn page_size(&mut self) -> u32 {
        4096 << (self.u8() % 5)
    }
}

/// Encodes with `enc` into a fresh buffer; checks that the record fits the
/// buffer and its type's maximum (else the kernel's own checkpoint of that
/// state would be unreadable) and returns the payload.
fn reencode(ty: RecordType, enc: impl Fn(&mut [u8]) -> Option<usize>) -> Vec<u8> {
    let mut buf = vec![0u8; ty.max_len() + 64];
    let n = enc(&mut buf).unwrap_or_else(|| panic!("{ty:?}: decoded value does not encode"));
    // Too small a buffer is reported, not a panic (the kernel encodes into
    // its own buffers).
    let mut short = vec![0u8; n - 1];
    assert_eq!(
        enc(&mut short),
        None,
        "{ty:?}: encoded into too small a buffer"
    );
    assert!(n <= ty.max_len(), "{ty:?}: re-encoded to {n} bytes");
    assert_eq!(n % 8, 0);
    let h = RecordHeader::decode(&arr8(&buf[..8]));
    assert_eq!((h.ty, h.len as usize), (ty as u32, n));
    buf.truncate(n);
    buf.drain(..RECORD_HEADER_SIZE);
    buf
}

/// The `records` target: the first byte picks a decoder, parameters from
/// the header (page size, task size, ...) come next, the rest is the
/// payload. What decodes must encode back to what decodes the same.
pub fn records(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    // Decodes with `$t::decode`, re-encodes, decodes to the same value.
    macro_rules! round_trip {
        ($t:ident, $ty:expr) => {
            round_trip!($t, $ty, rest)
        };
        ($t:ident, $ty:expr, $p:expr $(, $arg:expr)*) => {
            if let Ok(r) = $t::decode($p $(, $arg)*) {
                let p = reencode($ty, |b| r.encode(b));
                assert_eq!($t::decode(&p $(, $arg)*), Ok(r));
            }
        };
    }
    match sel % 40 {
        0 => {
            if let Ok(h) = Header::decode(rest) {
                let p = reencode(RecordType::Header, |b| h.encode(b));
                assert_eq!(Header::decode(&p), Ok(h));
                let here = here();
                black_box((
                    h.check_against(&here).is_ok(),
                    here.check_against(&h).is_ok(),
                    h.release(),
                ));
                assert_eq!(h.check_against(&h), Ok(()));
            }
        }
        1 => {
            if let Ok(t) = Task::decode(rest) {
                black_box(t.comm());
                let p = reencode(RecordType::Task, |b| t.encode(b));
                assert_eq!(Task::decode(&p), Ok(t));
            }
        }
        2 => {
            if let Ok(g) = Groups::decode(rest) {
                let gids: Vec<u32> = (0..g.len()).map(|i| g.get(i)).collect();
                let p = reencode(RecordType::Groups, |b| Groups::encode(b, &gids));
                let g2 = Groups::decode(&p).expect("groups round trip");
                assert_eq!(g2.len(), gids.len());
                assert!((0..g2.len()).all(|i| g2.get(i) == gids[i]));
            }
        }
        3 => {
            // The cwd record, decoded as the validator does.
            let mut c = Cursor::new(rest);
            if let Ok(path) = c.path(false) {
                assert!(!path.is_empty() && path.len() <= MAX_PATH);
                if c.finish().is_ok() {
                    let p = reencode(RecordType::Cwd, |b| {
                        encode_record(b, RecordType::Cwd, |w| w.path(path))
                    });
                    let mut c2 = Cursor::new(&p);
                    assert_eq!(c2.path(false), Ok(path));
                    assert_eq!(c2.finish(), Ok(()));
                }
            }
        }
        4 => {
            if let Ok(r) = Rlimits::decode(rest) {
                let p = reencode(RecordType::Rlimits, |b| r.encode(b));
                assert_eq!(Rlimits::decode(&p), Ok(r));
            }
        }
        5 => {
            if let Ok(r) = Regs::decode(rest) {
                let p = reencode(RecordType::Regs, |b| r.encode(b));
                assert_eq!(Regs::decode(&p), Ok(r));
            }
        }
        6 => {
            let mut b = Bytes(rest);
            let size = b.u32() % (MAX_XSTATE + 1);
            if let Ok(x) = Xstate::decode(b.0, size) {
                assert_eq!(x.area.len(), size as usize);
                black_box(x.xstate_bv());
                let area = x.area;
                let p = reencode(RecordType::Xstate, |b| Xstate::encode(b, area));
                assert_eq!(Xstate::decode(&p, size).map(|x| x.area), Ok(area));
            }
        }
        7 => {
            if let Ok(s) = Signals::decode(rest) {
                let p = reencode(RecordType::Signals, |b| {
                    Signals::encode(
                        b,
                        s.blocked,
                        (s.altstack_sp, s.altstack_size, s.altstack_flags),
                        |i| s.action(i),
                    )
                });
                assert_eq!(Signals::decode(&p), Ok(s));
            }
        }
        8 => {
            let mut b = Bytes(rest);
            let auxv_words = b.u32() % (MAX_AUXV_WORDS + 1);
            let task_size = b.u64();
            if let Ok(m) = Mm::decode(b.0, auxv_words, task_size) {
                assert_eq!(m.auxv.len(), 8 * auxv_words as usize);
                let auxv: Vec<u64> = (0..m.auxv.len() / 8).map(|i| m.auxv_word(i)).collect();
                let p = reencode(RecordType::Mm, |b| {
                    Mm::encode(b, &m.layout, m.nr_vmas, m.flags, &auxv, m.exe)
                });
                assert_eq!(Mm::decode(&p, auxv_words, task_size), Ok(m));
            }
        }
        9 => {
            let mut b = Bytes(rest);
            let page_size = b.page_size();
            let task_size = b.u64();
            if let Ok(v) = Vma::decode(b.0, page_size, task_size) {
                assert!(v.start < v.end && v.end <= task_size);
                assert_eq!(v.kind == VmaKind::AnonShared, v.shm_id != 0);
                // memory.rs shm_extents: `(pgoff + pages) * page_size`.
                let ps = u64::from(page_size);
                let size = v
                    .pgoff
                    .checked_add(to_pages(v.end - v.start, ps))
                    .and_then(|n| n.checked_mul(ps));
                assert!(size.is_some(), "vma extent overflows");
                black_box((v.kind.name(), v.kind.is_special()));
                let p = reencode(RecordType::Vma, |b| v.encode(b));
                assert_eq!(Vma::decode(&p, page_size, task_size), Ok(v));
            }
        }
        10 => {
            if let Ok(f) = FileRec::decode(rest) {
                black_box(f.kind.name());
                let p = reencode(RecordType::File, |b| f.encode(b));
                assert_eq!(FileRec::decode(&p), Ok(f));
            }
        }
        11 => {
            if let Ok(m) = MetaEnd::decode(rest) {
                let p = reencode(RecordType::MetaEnd, |b| m.encode(b));
                assert_eq!(MetaEnd::decode(&p), Ok(m));
            }
        }
        12 => {
            let mut b = Bytes(rest);
            let page_size = b.page_size();
            if let Ok(ph) = PagesHeader::decode(b.0) {
                let mut buf = [0u8; RECORD_HEADER_SIZE + PAGES_FIXED];
                let n = ph
                    .encode(&mut buf, page_size)
                    .expect("pages header encodes");
                assert_eq!(n, buf.len());
                assert_eq!(ph.encode(&mut [0u8; 23], page_size), None);
                let h = RecordHeader::decode(&arr8(&buf[..8]));
                assert_eq!(h.len as usize, n + ph.npages as usize * page_size as usize);
                assert_eq!(PagesHeader::decode(&buf[8..]), Ok(ph));
            }
        }
        13 => {
            if let Ok(t) = Tail::decode(rest) {
                let p = reencode(RecordType::Tail, |b| t.encode(b));
                assert_eq!(Tail::decode(&p), Ok(t));
            }
        }
        14 => checksum_chunking(rest),
        15 => {
            // Record headers and the small tables.
            let mut b = Bytes(rest);
            let raw = [
                b.u8(),
                b.u8(),
                b.u8(),
                b.u8(),
                b.u8(),
                b.u8(),
                b.u8(),
                b.u8(),
            ];
            let h = RecordHeader::decode(&raw);
            if let Some(ty) = RecordType::from_u32(h.ty) {
                assert_eq!(ty as u32, h.ty);
                black_box((ty.name(), ty.max_len()));
            }
            let k = b.u32();
            if let Some(kind) = VmaKind::from_u32(k) {
                assert_eq!(kind as u32, k);
                black_box((kind.name(), kind.has_path(), kind.is_special()));
            }
            if let Some(kind) = FileKind::from_u32(k) {
                assert_eq!(kind as u32, k);
                black_box(kind.name());
            }
            let ps = u64::from(b.page_size());
            let x = b.u64();
            assert_eq!(page_offset(x, ps), x % ps);
            assert_eq!(to_pages(x, ps), x / ps);
            let n = (b.u32() as usize) & 0x0fff_ffff;
            assert!(padded(n) >= n && padded(n).is_multiple_of(8) && padded(n) - n < 8);
            cursor_ops(b.0);
        }
        17 => {
            if let Ok(t) = Tree::decode(rest) {
                tree_invariants(&t);
                let p = reencode(RecordType::Tree, |b| Tree::encode(b, t.len(), |i| t.get(i)));
                let t2 = Tree::decode(&p).expect("tree round trip");
                assert_eq!(t2.len(), t.len());
                assert!((0..t.len()).all(|i| t2.get(i) == t.get(i)));
            }
        }
        19 => {
            if let Ok(s) = Inet::decode(rest) {
                assert!(s.id != 0 && s.local_port <= 0xffff);
                let p = reencode(RecordType::Inet, |b| s.encode(b));
                assert_eq!(Inet::decode(&p), Ok(s));
            }
        }
        18 => {
            if let Ok(t) = Thread::decode(rest) {
                assert!(t.tid > 0 && t.comm[COMM_LEN - 1] == 0);
                let p = reencode(RecordType::Thread, |b| t.encode(b));
                assert_eq!(Thread::decode(&p), Ok(t));
            }
        }
        20 => {
            if let Ok(m) = MemfdRec::decode(rest) {
                assert!(m.data <= m.size && m.data <= MAX_FILE_DATA);
                let p = reencode(RecordType::Memfd, |b| m.encode(b));
                assert_eq!(MemfdRec::decode(&p), Ok(m));
            }
        }
        21 => {
            if let Ok(d) = DeletedRec::decode(rest) {
                assert!(d.data <= d.size && d.path[0] == b'/');
                let p = reencode(RecordType::Deleted, |b| d.encode(b));
                assert_eq!(DeletedRec::decode(&p), Ok(d));
            }
        }
        22 => {
            if let Ok(d) = FileData::decode(rest) {
                assert!(!d.bytes.is_empty() && d.bytes.len() <= FILE_DATA_CHUNK);
                let p = reencode(RecordType::FileData, |b| d.encode(b));
                assert_eq!(FileData::decode(&p), Ok(d));
            }
        }
        23 => {
            let mut b = Bytes(rest);
            let ps = b.page_size();
            round_trip!(Pipe, RecordType::Pipe, b.0, ps);
        }
        24 => round_trip!(PipeData, RecordType::PipeData),
        25 => round_trip!(UnixSock, RecordType::UnixSock),
        26 => round_trip!(UnixData, RecordType::UnixData),
        27 => round_trip!(UnixQueued, RecordType::UnixQueued),
        28 => round_trip!(EventfdRec, RecordType::Eventfd),
        29 => round_trip!(TimerfdRec, RecordType::Timerfd),
        30 => round_trip!(SignalfdRec, RecordType::Signalfd),
        31 => round_trip!(Epoll, RecordType::Epoll),
        32 => round_trip!(EpollWatch, RecordType::EpollWatch),
        33 => round_trip!(Inotify, RecordType::Inotify),
        34 => round_trip!(InotifyWatch, RecordType::InotifyWatch),
        35 => round_trip!(PendingSig, RecordType::PendingSig),
        36 => round_trip!(Itimers, RecordType::Itimers),
        37 => round_trip!(PosixTimer, RecordType::PosixTimer),
        38 => round_trip!(LockRec, RecordType::Lock),
        39 => round_trip!(FileOwner, RecordType::FileOwner),
        40 => round_trip!(Inherited, RecordType::Inherited),
        _ => {
            // pages_in as the kernel calls it: a VMA from a decoded record
            // (page aligned, nr_pages within its span) and a count so far
            // that does not exceed nr_pages.
            let mut b = Bytes(rest);
            let ps = b.page_size();
            let psz = u64::from(ps);
            let start = b.u64() & !(psz - 1);
            let end = b.u64() & !(psz - 1);
            if start >= end {
                return;
            }
            let span = to_pages(end - start, psz);
            let nr_pages = b.u64() % (span + 1);
            let counted = b.u64() % (nr_pages + 1);
            let addr = b.u64();
            let npages = b.u32() % (MAX_PAGES_PER_RECORD + 1);
            if let Ok(n) = pages_in(start, end, nr_pages, counted, addr, npages, ps) {
                assert!(n <= nr_pages && n == counted + u64::from(npages));
                assert!(addr >= start && addr + u64::from(npages) * psz <= end);
            }
        }
    }
}

/// What [`Tree::decode`] promises: ids positive and unique, the root a
/// live process, each process after its live parent, threads right after
/// their leader or a sibling, zombies alone; and the counts agree.
fn tree_invariants(t: &Tree<'_>) {
    assert!(!t.is_empty() && t.len() <= MAX_TASKS as usize);
    let e: Vec<TreeEntry> = (0..t.len()).map(|i| t.get(i)).collect();
    assert!(e[0].is_leader() && !e[0].is_zombie());
    for (i, x) in e.iter().enumerate() {
        assert!(x.pid > 0 && x.tgid > 0 && x.ppid >= 0 && x.pgid >= 0 && x.sid >= 0);
        assert!(e[..i].iter().all(|y| y.pid != x.pid), "duplicate pid");
        assert!(!x.is_zombie() || x.is_leader());
        assert!(x.is_zombie() || x.exit_code == 0);
        if i == 0 {
            continue;
        }
        if x.is_leader() {
            assert!(
                e[..i]
                    .iter()
                    .any(|p| p.is_leader() && !p.is_zombie() && p.pid == x.ppid),
                "process before its parent"
            );
        } else {
            let prev = e[i - 1];
            assert!(prev.tgid == x.tgid && !prev.is_zombie() && prev.ppid == x.ppid);
        }
    }
    let procs = e.iter().filter(|x| x.is_leader() && !x.is_zombie()).count();
    let threads = e.iter().filter(|x| !x.is_zombie()).count();
    assert_eq!(t.live_processes() as usize, procs);
    assert_eq!(t.live_threads() as usize, threads);
    assert!(procs >= 1 && procs <= threads);
}

/// The checksum must not depend on how the data is cut into updates, and
/// `value` must not disturb the state.
fn checksum_chunking(data: &[u8]) {
    let Some((&cuts, data)) = data.split_first() else {
        return;
    };
    let mut one = Checksum::new();
    one.update(data);
    let want = one.value();
    assert_eq!(one.value(), want);
    let mut c = Checksum::default();
    let mut rest = data;
    let mut s = u32::from(cuts) | 1;
    while !rest.is_empty() {
        s = s.wrapping_mul(0x0101_0101).wrapping_add(0x9e37_79b9);
        let n = ((s >> 24) as usize % 70).min(rest.len());
        let (a, b) = rest.split_at(n);
        c.update(a);
        if s & 0x100 != 0 {
            black_box(c.value());
        }
        rest = b;
    }
    assert_eq!(c.value(), want, "checksum depends on the chunking");
    let cl = c.clone();
    c.update(&[]);
    assert_eq!(c.value(), cl.value());
}

/// Random calls on a [`Cursor`] over the bytes after the op list.
fn cursor_ops(data: &[u8]) {
    let n = data.first().map_or(0, |&n| usize::from(n % 16));
    let (ops, buf) = data
        .get(1..)
        .unwrap_or(&[])
        .split_at(n.min(data.len().saturating_sub(1)));
    let mut c = Cursor::new(buf);
    for &op in ops {
        let before = c.pos();
        let ok = match op % 8 {
            0 => c.u32().is_ok(),
            1 => c.i32().is_ok(),
            2 => c.u64().is_ok(),
            3 => c.pad32().is_ok(),
            4 => c.path(op & 8 != 0).is_ok(),
            5 => c.bytes(usize::from(op >> 3)).is_ok(),
            6 => c.bytes(usize::MAX - usize::from(op)).is_ok(),
            _ => c.finish().is_ok(),
        };
        assert!(c.pos() <= buf.len());
        if !ok {
            assert!(c.pos() >= before);
        }
    }
}
