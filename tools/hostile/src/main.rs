// SPDX-License-Identifier: GPL-2.0

//! `cr-hostile-gen`: the hostile images of `selftests/cr_hostile.c`.
//!
//! The test checkpoints real programs in the VM and hands their images to
//! this program, which writes mutated copies of them, made and described
//! with the `cr-image` crate (the very format code the kernel runs), and a
//! manifest that tells the test, for each, how to deliver it and what may
//! come of it. The test feeds them to `CR_IOC_RESTART` and judges.
//!
//! ```text
//! cr-hostile-gen --out DIR [--seed S] [--first I] [--count N] IMAGE...
//! ```
//!
//! writes `DIR/manifest` and, for attempts `I..I+N`, `DIR/<attempt>.img`.
//! The manifest has one line per mutation class (`class C NAME`), per
//! image (`image K LEN RECORDS VMAS PAGES TASK_SIZE VDSO_LO VDSO_HI CWD`,
//! then `types K TYPE:NAMExCOUNT...` and one `setup K KIND ID N1..N6 PATH`
//! per object the restoring process must make, as crctl would: a restart
//! object, a POSIX timer or a CPU itimer) and per attempt (`attempt IDX IMAGE CLASS LEN FIRST_DIFF FIXED
//! EXPECT_REJECT MUST_RESTORE PREFIX USE_PIPE RAW_PREFIX PTR_ABS PTR_OFF
//! PREFIX_LEN DESCRIPTION`), numbers in decimal. The first attempts
//! truncate each image at each of its record boundaries in turn, the
//! others are random; attempt `IDX` depends only on the images, the seed
//! and `IDX`, so the test can ask for them in batches.

use cr_image::format::{
    self, Checksum, EventfdRec, FileRec, Header, Inotify, InotifyWatch, Itimers, MetaEnd, Mm,
    PagesHeader, Pipe, PosixTimer, RecordHeader, RecordType, SignalfdRec, Tail, Task, TimerfdRec,
    Tree, Vma, Xstate, MAGIC, PAGES_FIXED, RECORD_HEADER_SIZE as HDR, TASK_STOPPED,
    TASK_STOP_REPORTED, TASK_STOP_SIG_MASK, TASK_STOP_SIG_SHIFT,
};
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

/// Where the length is in a record header (after the type).
const LEN_AT: usize = 4;
/// TASK_SIZE without 5-level paging.
const USER_47BIT: u64 = 0x7fff_ffff_f000;

/// The record types, in the order of the byte and field classes.
const REC_TYPES: [RecordType; 32] = [
    RecordType::Header,
    RecordType::Tree,
    RecordType::Task,
    RecordType::Groups,
    RecordType::Cwd,
    RecordType::Rlimits,
    RecordType::Thread,
    RecordType::Regs,
    RecordType::Xstate,
    RecordType::File,
    RecordType::Mm,
    RecordType::Vma,
    RecordType::Pages,
    RecordType::Signals,
    RecordType::MetaEnd,
    RecordType::Tail,
    RecordType::Pipe,
    RecordType::PipeData,
    RecordType::UnixSock,
    RecordType::UnixData,
    RecordType::UnixQueued,
    RecordType::Inet,
    RecordType::Eventfd,
    RecordType::Timerfd,
    RecordType::Signalfd,
    RecordType::Epoll,
    RecordType::EpollWatch,
    RecordType::Inotify,
    RecordType::InotifyWatch,
    RecordType::PendingSig,
    RecordType::Itimers,
    RecordType::PosixTimer,
];
const NTYPES: usize = REC_TYPES.len();

// The mutation classes, numbered as the manifest gives them.
const C_BITFLIP: usize = 0;
const C_BYTE: usize = 1; // + index in REC_TYPES
const C_FIELD: usize = C_BYTE + NTYPES; // + index in REC_TYPES
const C_TRUNC_REC: usize = C_FIELD + NTYPES;
const C_TRUNC_RAND: usize = C_TRUNC_REC + 1;
const C_LEN_P1: usize = C_TRUNC_REC + 2;
const C_LEN_M1: usize = C_TRUNC_REC + 3;
const C_LEN_P8: usize = C_TRUNC_REC + 4;
const C_LEN_M8: usize = C_TRUNC_REC + 5;
const C_LEN_HUGE: usize = C_TRUNC_REC + 6;
const C_LEN_ZERO: usize = C_TRUNC_REC + 7;
const C_SWAP: usize = C_TRUNC_REC + 8;
const C_DUP: usize = C_TRUNC_REC + 9;
const C_DROP: usize = C_TRUNC_REC + 10;
const C_VMA_OVERLAP: usize = C_TRUNC_REC + 11;
const C_VMA_HIGH: usize = C_TRUNC_REC + 12;
const C_VMA_47: usize = C_TRUNC_REC + 13;
const C_VMA_KERNEL: usize = C_TRUNC_REC + 14;
const C_VMA_NR: usize = C_TRUNC_REC + 15;
const C_VMA_NR_TOTAL: usize = C_TRUNC_REC + 16;
const C_PAGES_NPAGES: usize = C_TRUNC_REC + 17;
const C_PAGES_RESIZE: usize = C_TRUNC_REC + 18;
const C_PAGES_ADDR: usize = C_TRUNC_REC + 19;
const C_META_TOTAL: usize = C_TRUNC_REC + 20;
const C_ABSURD: usize = C_TRUNC_REC + 21;
const C_IOCTL: usize = C_TRUNC_REC + 22;
const C_TASK_STOP: usize = C_TRUNC_REC + 23;
const NCLASSES: usize = C_TRUNC_REC + 24;

/// The names of the classes after the byte and field ones.
const FIXED_NAMES: [&str; NCLASSES - C_TRUNC_REC] = [
    "trunc:record-boundary",
    "trunc:random",
    "len:+1",
    "len:-1",
    "len:+8",
    "len:-8",
    "len:0xffffffff",
    "len:0",
    "reorder:swap-adjacent",
    "reorder:duplicate",
    "reorder:drop",
    "vma:overlap",
    "vma:beyond-task-size",
    "vma:47-bit-boundary",
    "vma:kernel-address",
    "pages:vma-nr_pages+-1",
    "pages:vma-nr+-1,total-fixed",
    "pages:npages+-1",
    "pages:npages+-1,len-fixed",
    "pages:addr-moved",
    "pages:meta-end-total+-1",
    "absurd-size",
    "ioctl-args",
    "task:stop-flags",
];

fn class_name(c: usize) -> String {
    match c {
        C_BITFLIP => "bitflip".into(),
        c if c < C_FIELD => format!("byte:{}", REC_TYPES[c - C_BYTE].name()),
        c if c < C_TRUNC_REC => format!("field:{}", REC_TYPES[c - C_FIELD].name()),
        c => FIXED_NAMES[c - C_TRUNC_REC].into(),
    }
}

/// Values that tend to sit on a boundary of some check.
const INTERESTING: [u64; 23] = [
    0,
    1,
    2,
    7,
    8,
    0xff,
    0x100,
    0xfff,
    0x1000,
    0xffff,
    0x10000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_f000,
    0x8000_0000_0000,
    0xffff_8000_0000_0000,
    0xffff_ffff_ff60_0000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    0xffff_ffff_ffff_f000,
    0xffff_ffff_ffff_ffff,
];

/// xorshift64*, one stream per attempt.
struct Rng(u64);

impl Rng {
    /// The stream of attempt `idx` under `seed` (splitmix64 of both).
    fn new(seed: u64, idx: u64) -> Self {
        let mut z = seed ^ idx.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Self(if z == 0 { 1 } else { z })
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, n)`; 0 if `n` is 0.
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    fn below_usize(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn get32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn get64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn checksum(b: &[u8]) -> u64 {
    let mut c = Checksum::new();
    c.update(b);
    c.value()
}

/// A record encoded by `f` into a buffer big enough for any record of `ty`.
fn encoded(ty: RecordType, f: impl FnOnce(&mut [u8]) -> Option<usize>) -> Vec<u8> {
    let mut b = vec![0u8; ty.max_len() + 64];
    let n = f(&mut b).expect("record fits its maximum length");
    b.truncate(n);
    b
}

/// The first payload byte where two encodings of a record differ: where
/// the encoder puts the field that makes the difference.
fn field_at(a: &[u8], b: &[u8]) -> usize {
    (HDR..a.len().min(b.len()))
        .find(|&i| a[i] != b[i])
        .expect("the encodings differ")
        - HDR
}

/// One record of an image.
struct Rec {
    off: usize,
    ty: u32,
    len: usize,
}

impl Rec {
    fn is(&self, t: RecordType) -> bool {
        self.ty == t as u32
    }
}

/// A valid image, cut into its records.
struct Image {
    buf: Vec<u8>,
    recs: Vec<Rec>,
    /// The first meta-end record and the tail record.
    me: usize,
    tail: usize,
    hdr: Header,
    nvmas: usize,
    vdso: (u64, u64),
    cwd: Vec<u8>,
    /// What the restoring process must make for the image, as crctl
    /// would: one `setup` line of the manifest each (`setup_line`).
    setups: Vec<Setup>,
}

/// An object the restoring process makes before the ioctl: a restart
/// object (`kind` a `CR_RESTART_OBJ_*`), a POSIX timer or an armed CPU
/// itimer.
struct Setup {
    kind: u32,
    id: u32,
    n: [u64; 6],
    path: Vec<u8>,
}

const SETUP_PIPE: u32 = 1;
const SETUP_EVENTFD: u32 = 4;
const SETUP_TIMERFD: u32 = 5;
const SETUP_SIGNALFD: u32 = 6;
const SETUP_INOTIFY: u32 = 8;
const SETUP_INOTIFY_WATCH: u32 = 108;
const SETUP_PTIMER: u32 = 100;
const SETUP_ITIMER: u32 = 101;

impl Setup {
    fn new(kind: u32, id: u32, n: &[u64]) -> Self {
        let mut s = Setup {
            kind,
            id,
            n: [0; 6],
            path: vec![],
        };
        s.n[..n.len()].copy_from_slice(n);
        s
    }
}

/// The setups record `p` of type `ty` asks for, or an error for an object
/// the test cannot make.
fn setups_of(ty: RecordType, p: &[u8], page_size: u32) -> Result<Vec<Setup>, String> {
    let e = |e: format::FormatError| e.describe().to_string();
    Ok(match ty {
        RecordType::Pipe => {
            let r = Pipe::decode(p, page_size).map_err(e)?;
            if r.head.flags != 0 {
                return Err(format!("pipe {}: a FIFO or external pipe", r.head.id));
            }
            vec![Setup::new(
                SETUP_PIPE,
                r.head.id,
                &[u64::from(r.head.capacity)],
            )]
        }
        RecordType::Eventfd => {
            let r = EventfdRec::decode(p).map_err(e)?;
            vec![Setup::new(
                SETUP_EVENTFD,
                r.id,
                &[r.count, u64::from(r.flags)],
            )]
        }
        RecordType::Timerfd => {
            let r = TimerfdRec::decode(p).map_err(e)?;
            vec![Setup::new(
                SETUP_TIMERFD,
                r.id,
                &[
                    u64::from(r.clockid),
                    u64::from(r.flags),
                    r.ticks,
                    r.value_ns,
                    r.interval_ns,
                    r.abs_ns,
                ],
            )]
        }
        RecordType::Signalfd => {
            let r = SignalfdRec::decode(p).map_err(e)?;
            vec![Setup::new(SETUP_SIGNALFD, r.id, &[r.mask])]
        }
        RecordType::Inotify => {
            let r = Inotify::decode(p).map_err(e)?;
            vec![Setup::new(
                SETUP_INOTIFY,
                r.id,
                &[u64::from(r.next_wd), u64::from(r.watches)],
            )]
        }
        RecordType::InotifyWatch => {
            let r = InotifyWatch::decode(p).map_err(e)?;
            if r.path.iter().any(|c| c.is_ascii_whitespace()) {
                return Err("an inotify watch path with a space".into());
            }
            let mut s = Setup::new(
                SETUP_INOTIFY_WATCH,
                r.head.id,
                &[u64::from(r.head.wd), u64::from(r.head.mask)],
            );
            s.path = r.path.to_vec();
            vec![s]
        }
        RecordType::PosixTimer => {
            let r = PosixTimer::decode(p).map_err(e)?;
            vec![Setup::new(
                SETUP_PTIMER,
                r.id as u32,
                &[
                    r.clock as u32 as u64,
                    r.notify as u32 as u64,
                    r.signo as u32 as u64,
                    r.sigval,
                ],
            )]
        }
        RecordType::Itimers => {
            let r = Itimers::decode(p).map_err(e)?;
            let mut v = vec![];
            if r.virt_value != 0 {
                v.push(Setup::new(
                    SETUP_ITIMER,
                    1,
                    &[r.virt_value, r.virt_interval],
                ));
            }
            if r.prof_value != 0 {
                v.push(Setup::new(
                    SETUP_ITIMER,
                    2,
                    &[r.prof_value, r.prof_interval],
                ));
            }
            v
        }
        // A memfd or deleted file the kernel makes itself when none is
        // handed over; an epoll set needs crctl's helper (a tree restart).
        RecordType::Epoll => {
            return Err(format!(
                "a {} record: cr_hostile cannot make its object",
                ty.name()
            ))
        }
        _ => vec![],
    })
}

impl Image {
    fn payload(&self, i: usize) -> &[u8] {
        let r = &self.recs[i];
        &self.buf[r.off + HDR..r.off + r.len]
    }

    fn record(&self, i: usize) -> &[u8] {
        let r = &self.recs[i];
        &self.buf[r.off..r.off + r.len]
    }

    fn records_of(&self, t: RecordType) -> Vec<usize> {
        (0..self.recs.len())
            .filter(|&i| self.recs[i].is(t))
            .collect()
    }

    fn pick(&self, rng: &mut Rng, t: RecordType) -> Option<usize> {
        let idx = self.records_of(t);
        if idx.is_empty() {
            None
        } else {
            Some(idx[rng.below_usize(idx.len())])
        }
    }

    fn type_name(&self, i: usize) -> &'static str {
        RecordType::from_u32(self.recs[i].ty).map_or("?", |t| t.name())
    }

    fn page(&self) -> u64 {
        u64::from(self.hdr.page_size)
    }

    fn vma(&self, i: usize) -> Vma<'_> {
        Vma::decode(self.payload(i), self.hdr.page_size, self.hdr.task_size).unwrap()
    }

    fn pages(&self, i: usize) -> PagesHeader {
        PagesHeader::decode(&self.payload(i)[..PAGES_FIXED]).unwrap()
    }

    fn meta_end(&self) -> MetaEnd {
        MetaEnd::decode(self.payload(self.me)).unwrap()
    }

    /// Reads and checks an image: well formed, its own checksums right,
    /// and the encoders give back each record this program re-encodes.
    fn parse(buf: Vec<u8>) -> Result<Self, String> {
        if buf.len() < MAGIC.len() || buf[..MAGIC.len()] != MAGIC {
            return Err("no magic".into());
        }
        let mut off = MAGIC.len();
        let mut recs = vec![];
        let (mut me, mut tail, mut hdr) = (None, None, None);
        while off + HDR <= buf.len() {
            let h = RecordHeader::decode(buf[off..off + HDR].try_into().unwrap());
            let len = h.len as usize;
            if len < HDR || !len.is_multiple_of(8) || len > buf.len() - off {
                return Err(format!("record {} at {off}: length {len}", h.ty));
            }
            if h.ty == RecordType::Header as u32 && hdr.is_none() {
                hdr = Some(
                    Header::decode(&buf[off + HDR..off + len])
                        .map_err(|e| format!("header: {}", e.describe()))?,
                );
            }
            if h.ty == RecordType::MetaEnd as u32 && me.is_none() {
                me = Some(recs.len());
            }
            if h.ty == RecordType::Tail as u32 {
                tail = Some(recs.len());
            }
            recs.push(Rec { off, ty: h.ty, len });
            off += len;
        }
        let (Some(me), Some(tail), Some(hdr)) = (me, tail, hdr) else {
            return Err(format!("no header, meta-end or tail (ends at {off})"));
        };
        if off != buf.len() || tail != recs.len() - 1 {
            return Err(format!("ends at {off} of {}, tail {tail}", buf.len()));
        }
        let mut im = Image {
            buf,
            recs,
            me,
            tail,
            hdr,
            nvmas: 0,
            vdso: (0, 0),
            cwd: vec![],
            setups: vec![],
        };
        let fail = |i: usize, what: &str| format!("{} record {i}: {what}", im.type_name(i));
        let (mut nvmas, mut vdso, mut cwd) = (0, (0, 0), vec![]);
        let mut setups = vec![];
        for i in 0..im.recs.len() {
            let p = im.payload(i);
            if let Some(t) = RecordType::from_u32(im.recs[i].ty) {
                setups.extend(setups_of(t, p, hdr.page_size).map_err(|e| fail(i, &e))?);
            }
            let same = |enc: Vec<u8>| enc == im.record(i);
            match RecordType::from_u32(im.recs[i].ty) {
                Some(RecordType::Header)
                    if !same(encoded(RecordType::Header, |b| hdr.encode(b))) =>
                {
                    return Err(fail(i, "does not encode back"));
                }
                Some(RecordType::Vma) => {
                    let v = Vma::decode(p, hdr.page_size, hdr.task_size)
                        .map_err(|e| fail(i, e.describe()))?;
                    if !same(encoded(RecordType::Vma, |b| v.encode(b))) {
                        return Err(fail(i, "does not encode back"));
                    }
                    nvmas += 1;
                    if v.kind.is_special() {
                        if vdso.0 == 0 || v.start < vdso.0 {
                            vdso.0 = v.start;
                        }
                        vdso.1 = u64::max(vdso.1, v.end);
                    }
                }
                Some(RecordType::Mm) => {
                    let m = Mm::decode(p, hdr.auxv_words, hdr.task_size)
                        .map_err(|e| fail(i, e.describe()))?;
                    if !same(encoded(RecordType::Mm, |b| mm_encode(&m, b))) {
                        return Err(fail(i, "does not encode back"));
                    }
                }
                Some(RecordType::File) => {
                    let f = FileRec::decode(p).map_err(|e| fail(i, e.describe()))?;
                    if !same(encoded(RecordType::File, |b| f.encode(b))) {
                        return Err(fail(i, "does not encode back"));
                    }
                }
                Some(RecordType::Pages) => {
                    let ph = PagesHeader::decode(&p[..PAGES_FIXED.min(p.len())])
                        .map_err(|e| fail(i, e.describe()))?;
                    let mut b = [0u8; HDR + PAGES_FIXED];
                    ph.encode(&mut b, hdr.page_size);
                    if b[..] != im.record(i)[..HDR + PAGES_FIXED] {
                        return Err(fail(i, "does not encode back"));
                    }
                }
                Some(RecordType::Cwd) if cwd.is_empty() => {
                    cwd = format::Cursor::new(p)
                        .path(false)
                        .map_err(|e| fail(i, e.describe()))?
                        .to_vec();
                }
                _ => {}
            }
        }
        let me_rec = MetaEnd::decode(im.payload(me)).map_err(|e| fail(me, e.describe()))?;
        let tail_rec = Tail::decode(im.payload(tail)).map_err(|e| fail(tail, e.describe()))?;
        if me_rec.checksum != checksum(&im.buf[..im.recs[me].off]) {
            return Err("meta-end checksum: Checksum disagrees".into());
        }
        if tail_rec.checksum != checksum(&im.buf[..im.recs[tail].off]) {
            return Err("tail checksum: Checksum disagrees".into());
        }
        (im.nvmas, im.vdso, im.cwd, im.setups) = (nvmas, vdso, cwd, setups);
        if im.vdso.0 == 0 || im.cwd.is_empty() || im.hdr.task_size < USER_47BIT {
            return Err(format!(
                "vdso {:#x}, cwd '{}', task size {:#x}",
                im.vdso.0,
                String::from_utf8_lossy(&im.cwd),
                im.hdr.task_size
            ));
        }
        Ok(im)
    }
}

fn mm_encode(m: &Mm<'_>, b: &mut [u8]) -> Option<usize> {
    let words: Vec<u64> = (0..m.auxv.len() / 8).map(|i| m.auxv_word(i)).collect();
    Mm::encode(b, &m.layout, m.nr_vmas, m.flags, &words, m.exe)
}

/// One hostile image and how to deliver it.
#[derive(Default)]
struct Mutation {
    img: usize,
    cls: usize,
    desc: String,
    buf: Vec<u8>,
    /// Where the first meta-end and the tail are in `buf`.
    me_off: Option<usize>,
    tail_off: Option<usize>,
    /// Records of the mutated image.
    nrecs: usize,
    /// Recompute the checksums; and the tail's length and count.
    fix: bool,
    fix_counts: bool,
    fixed: bool,
    /// Invalid whatever the checksums.
    expect_reject: bool,
    /// Valid and unchanged: must restore.
    must_restore: bool,
    first_diff: usize,
    /// Bytes passed as the ioctl prefix, and whether through a pipe.
    prefix: usize,
    use_pipe: bool,
    /// Ioctl arguments set as they are: the prefix at `ptr_off` into the
    /// image, or at the absolute address `ptr_off`, `prefix_len` bytes.
    raw_prefix: bool,
    ptr_abs: bool,
    ptr_off: u64,
    prefix_len: u64,
}

impl Mutation {
    fn say(&mut self, s: &str) {
        self.desc.push_str(s);
    }

    /// Sets `width` bytes at `off` to `v`, noting it in the description.
    fn set_bytes(&mut self, off: usize, v: u64, width: usize) {
        if off + width > self.buf.len() {
            return;
        }
        let old = match width {
            8 => get64(&self.buf, off),
            4 => u64::from(get32(&self.buf, off)),
            _ => u64::from(self.buf[off]),
        };
        let v = if width < 8 {
            v & ((1u64 << (8 * width)) - 1)
        } else {
            v
        };
        self.buf[off..off + width].copy_from_slice(&v.to_le_bytes()[..width]);
        let _ = write!(self.desc, " @{off}[{width}]: {old:#x}->{v:#x}");
    }

    /// Writes into the record at `off` the payload bytes in which its
    /// re-encoding `new` differs from the encoding `old` of the original:
    /// exactly the fields that were changed.
    fn patch(&mut self, off: usize, old: &[u8], new: &[u8], what: &str) {
        for i in HDR..old.len().min(new.len()) {
            if old[i] != new[i] && off + i < self.buf.len() {
                self.buf[off + i] = new[i];
            }
        }
        let _ = write!(self.desc, " {what}");
    }

    fn touches_checksums(&self, a: usize, n: usize) -> bool {
        if let Some(me) = self.me_off {
            if a < me + HDR + 8 && a + n > me + HDR {
                return true;
            }
        }
        if let Some(tl) = self.tail_off {
            if a < tl + HDR + 24 && a + n > tl + HDR {
                return true;
            }
        }
        false
    }

    /// Recomputes the meta-end and tail checksums, where they are.
    fn fixup(&mut self) {
        let len = self.buf.len();
        if let Some(me) = self.me_off.filter(|me| me + HDR + 16 <= len) {
            let p = &self.buf[me + HDR..me + HDR + 16];
            let old = MetaEnd::decode(p).unwrap();
            let new = MetaEnd {
                checksum: checksum(&self.buf[..me]),
                ..old
            };
            self.put_record(
                me,
                RecordType::MetaEnd,
                |b| old.encode(b),
                |b| new.encode(b),
            );
        }
        if let Some(tl) = self.tail_off.filter(|tl| tl + HDR + 24 <= len) {
            let p = &self.buf[tl + HDR..tl + HDR + 24];
            let old = Tail::decode(p).unwrap();
            let mut new = old;
            if self.fix_counts {
                new.total_len = (tl + HDR + 24) as u64;
                new.nr_records = self.nrecs as u64;
            }
            new.checksum = checksum(&self.buf[..tl]);
            self.put_record(tl, RecordType::Tail, |b| old.encode(b), |b| new.encode(b));
        }
        self.fixed = true;
    }

    /// `patch` without a description.
    fn put_record(
        &mut self,
        off: usize,
        ty: RecordType,
        old: impl FnOnce(&mut [u8]) -> Option<usize>,
        new: impl FnOnce(&mut [u8]) -> Option<usize>,
    ) {
        let (old, new) = (encoded(ty, old), encoded(ty, new));
        for i in HDR..old.len().min(new.len()) {
            if old[i] != new[i] {
                self.buf[off + i] = new[i];
            }
        }
    }
}

/// The records of `im` in the order `order`.
fn assemble(im: &Image, order: &[usize]) -> Mutation {
    let mut m = Mutation {
        buf: im.buf[..MAGIC.len()].to_vec(),
        nrecs: order.len(),
        expect_reject: true,
        ..Default::default()
    };
    for &i in order {
        let r = &im.recs[i];
        if r.is(RecordType::MetaEnd) && m.me_off.is_none() {
            m.me_off = Some(m.buf.len());
        }
        if r.is(RecordType::Tail) && m.tail_off.is_none() {
            m.tail_off = Some(m.buf.len());
        }
        m.buf.extend_from_slice(im.record(i));
    }
    m
}

fn assemble_same(im: &Image) -> Mutation {
    let order: Vec<usize> = (0..im.recs.len()).collect();
    assemble(im, &order)
}

/// Singleton metadata records: the format allows them in any order.
fn meta_singleton(t: u32, tree_format: bool) -> bool {
    match RecordType::from_u32(t) {
        Some(RecordType::Groups | RecordType::Cwd | RecordType::Rlimits)
        | Some(RecordType::Signals | RecordType::Mm | RecordType::Itimers) => true,
        Some(RecordType::Task | RecordType::Regs | RecordType::Xstate) => !tree_format,
        _ => false,
    }
}

/// A random byte offset in record `i`: header (25%) or payload.
fn byte_in_record(im: &Image, rng: &mut Rng, i: usize) -> usize {
    let r = &im.recs[i];
    if r.len == HDR || rng.chance(25) {
        return r.off + rng.below_usize(HDR);
    }
    if r.is(RecordType::Pages) && rng.chance(50) {
        return r.off + HDR + rng.below_usize(PAGES_FIXED);
    }
    r.off + HDR + rng.below_usize(r.len - HDR)
}

/// A random record of any type present, weighted by type.
fn pick_any_type(im: &Image, rng: &mut Rng) -> usize {
    for _ in 0..100 {
        let t = REC_TYPES[rng.below_usize(NTYPES)];
        if let Some(i) = im.pick(rng, t) {
            return i;
        }
    }
    0
}

/// The first of `REC_TYPES` that are the newer records: the file table's
/// objects, pending signals and timers.
const NEWER_TYPES: usize = 16;
const _: () = assert!(REC_TYPES[NEWER_TYPES] as u32 == RecordType::Pipe as u32);

/// A record type of `im` (its index in `REC_TYPES`) for a byte or field
/// class: half of the time one of the newer records, if it has any.
fn pick_type(im: &Image, rng: &mut Rng) -> usize {
    let has: Vec<usize> = (0..NTYPES)
        .filter(|&k| !im.records_of(REC_TYPES[k]).is_empty())
        .collect();
    let newer: Vec<usize> = has.iter().copied().filter(|&k| k >= NEWER_TYPES).collect();
    if !newer.is_empty() && rng.chance(50) {
        newer[rng.below_usize(newer.len())]
    } else if has.is_empty() {
        0
    } else {
        has[rng.below_usize(has.len())]
    }
}

/// A weighted random class for image `im`.
fn random_class(im: &Image, rng: &mut Rng) -> usize {
    const W: [(usize, u64); 26] = [
        (C_BITFLIP, 14),
        (C_BYTE, 18),
        (C_FIELD, 16),
        (C_TRUNC_RAND, 4),
        (C_LEN_P1, 1),
        (C_LEN_M1, 1),
        (C_LEN_P8, 2),
        (C_LEN_M8, 2),
        (C_LEN_HUGE, 1),
        (C_LEN_ZERO, 1),
        (C_SWAP, 4),
        (C_DUP, 3),
        (C_DROP, 3),
        (C_VMA_OVERLAP, 3),
        (C_VMA_HIGH, 2),
        (C_VMA_47, 1),
        (C_VMA_KERNEL, 2),
        (C_VMA_NR, 2),
        (C_VMA_NR_TOTAL, 2),
        (C_PAGES_NPAGES, 2),
        (C_PAGES_RESIZE, 2),
        (C_PAGES_ADDR, 2),
        (C_META_TOTAL, 1),
        (C_ABSURD, 6),
        (C_IOCTL, 2),
        (C_TASK_STOP, 3),
    ];
    let total: u64 = W.iter().map(|w| w.1).sum();
    let mut r = rng.below(total);
    let mut k = 0;
    while r >= W[k].1 {
        r -= W[k].1;
        k += 1;
    }
    match W[k].0 {
        c @ (C_BYTE | C_FIELD) => c + pick_type(im, rng),
        c => c,
    }
}

/// Patches VMA record `i` of `m` (an identity copy of `im`) with `f`.
fn patch_vma(m: &mut Mutation, im: &Image, i: usize, what: &str, f: impl FnOnce(&mut Vma<'_>)) {
    let old = im.vma(i);
    let mut new = old;
    f(&mut new);
    let (a, b) = (
        encoded(RecordType::Vma, |x| old.encode(x)),
        encoded(RecordType::Vma, |x| new.encode(x)),
    );
    let what = format!(
        "{what}{}({:#x}-{:#x} pages {} -> {:#x}-{:#x} pages {})",
        if what.is_empty() { "" } else { " " },
        old.start,
        old.end,
        old.nr_pages,
        new.start,
        new.end,
        new.nr_pages
    );
    m.patch(im.recs[i].off, &a, &b, &what);
}

/// Patches the fixed part of pages record `i` with `f`.
fn patch_pages(m: &mut Mutation, im: &Image, i: usize, f: impl FnOnce(&mut PagesHeader)) {
    let old = im.pages(i);
    let mut new = old;
    f(&mut new);
    let mut a = [0u8; HDR + PAGES_FIXED];
    let mut b = [0u8; HDR + PAGES_FIXED];
    old.encode(&mut a, im.hdr.page_size);
    new.encode(&mut b, im.hdr.page_size);
    let what = format!(
        "(addr {:#x} npages {} -> addr {:#x} npages {})",
        old.addr, old.npages, new.addr, new.npages
    );
    m.patch(im.recs[i].off, &a, &b, &what);
}

/// Patches the first meta-end record's page total to `total`.
fn patch_total(m: &mut Mutation, im: &Image, total: u64) {
    let old = im.meta_end();
    let new = MetaEnd {
        total_pages: total,
        ..old
    };
    let a = encoded(RecordType::MetaEnd, |b| old.encode(b));
    let b = encoded(RecordType::MetaEnd, |b| new.encode(b));
    let what = format!("(total_pages {} -> {total})", old.total_pages);
    m.patch(m.me_off.unwrap(), &a, &b, &what);
}

/// Patches the header with `f`.
fn patch_header(m: &mut Mutation, im: &Image, what: &str, f: impl FnOnce(&mut Header)) {
    let mut new = im.hdr;
    f(&mut new);
    let a = encoded(RecordType::Header, |b| im.hdr.encode(b));
    let b = encoded(RecordType::Header, |b| new.encode(b));
    m.patch(im.recs[0].off, &a, &b, what);
}

/// Where in the payload of record `i` its count or path length is: the
/// field an encoding with one element (or byte) more changes first.
fn length_field(im: &Image, i: usize) -> Option<usize> {
    let p = im.payload(i);
    let h = &im.hdr;
    let ty = RecordType::from_u32(im.recs[i].ty)?;
    let pair = match ty {
        RecordType::Groups => (
            encoded(ty, |b| format::Groups::encode(b, &[])),
            encoded(ty, |b| format::Groups::encode(b, &[0])),
        ),
        RecordType::Cwd => (
            encoded(ty, |b| format::encode_record(b, ty, |w| w.path(b"/"))),
            encoded(ty, |b| format::encode_record(b, ty, |w| w.path(b"/a"))),
        ),
        RecordType::Xstate => (
            encoded(ty, |b| Xstate::encode(b, &[])),
            encoded(ty, |b| Xstate::encode(b, &[0; 8])),
        ),
        RecordType::Tree => {
            let t = Tree::decode(p).ok()?;
            (
                encoded(ty, |b| Tree::encode(b, 0, |k| t.get(k))),
                encoded(ty, |b| Tree::encode(b, 1, |k| t.get(k))),
            )
        }
        RecordType::Vma => {
            let v = im.vma(i);
            let mut path = v.path.to_vec();
            path.push(b'x');
            let w = Vma { path: &path, ..v };
            (encoded(ty, |b| v.encode(b)), encoded(ty, |b| w.encode(b)))
        }
        RecordType::File => {
            let f = FileRec::decode(p).ok()?;
            let mut path = f.path.to_vec();
            path.push(b'x');
            let g = FileRec { path: &path, ..f };
            (encoded(ty, |b| f.encode(b)), encoded(ty, |b| g.encode(b)))
        }
        RecordType::Mm => {
            // The exe path's length (the auxv count: mm_auxv_count()).
            let m = Mm::decode(p, h.auxv_words, h.task_size).ok()?;
            let mut exe = m.exe.to_vec();
            exe.push(b'x');
            let n = Mm { exe: &exe, ..m };
            (
                encoded(ty, |b| mm_encode(&m, b)),
                encoded(ty, |b| mm_encode(&n, b)),
            )
        }
        _ => return None,
    };
    Some(im.recs[i].off + HDR + field_at(&pair.0, &pair.1))
}

/// Where the auxv count of mm record `i` is.
fn mm_auxv_count(im: &Image, i: usize) -> Option<usize> {
    let m = Mm::decode(im.payload(i), im.hdr.auxv_words, im.hdr.task_size).ok()?;
    let words: Vec<u64> = (0..m.auxv.len() / 8).map(|k| m.auxv_word(k)).collect();
    let mut more = words.clone();
    more.push(0);
    let a = encoded(RecordType::Mm, |b| {
        Mm::encode(b, &m.layout, m.nr_vmas, m.flags, &words, m.exe)
    });
    let b = encoded(RecordType::Mm, |b| {
        Mm::encode(b, &m.layout, m.nr_vmas, m.flags, &more, m.exe)
    });
    Some(im.recs[i].off + HDR + field_at(&a, &b))
}

/// Mutation of class `cls` of `im` (`arg` for the record-boundary
/// truncation), or `None` if the class does not apply.
fn make_mutation(
    im: &Image,
    rng: &mut Rng,
    cls: usize,
    arg: usize,
    tree_format: bool,
) -> Option<Mutation> {
    let nrecs = im.recs.len();
    let page = im.page();
    let mut m;
    match cls {
        C_BITFLIP => {
            m = assemble_same(im);
            // Half of them in the metadata, where the parsing is.
            let off = if rng.chance(50) {
                rng.below_usize(m.me_off.unwrap() + HDR + 16)
            } else {
                rng.below_usize(m.buf.len())
            };
            m.fix = rng.chance(50) && !m.touches_checksums(off, 1);
            m.expect_reject = false;
            let bit = rng.below(8);
            m.say(&format!("flip bit {bit}"));
            m.set_bytes(off, u64::from(m.buf[off] ^ (1 << bit)), 1);
        }
        C_TRUNC_REC => {
            if arg > nrecs {
                return None;
            }
            m = assemble_same(im);
            let mut len = if arg < nrecs {
                im.recs[arg].off
            } else {
                MAGIC.len()
            };
            if arg == nrecs && rng.below(2) == 0 {
                // Also: nothing at all.
                len = 0;
            }
            m.buf.truncate(len);
            let what = if arg < nrecs { im.type_name(arg) } else { "-" };
            m.say(&format!(
                "truncated to {len} bytes (before record {arg}, {what})"
            ));
        }
        C_TRUNC_RAND => {
            m = assemble_same(im);
            // Half of them near a record boundary (inside a header).
            let mut len = if rng.chance(50) {
                let i = rng.below_usize(nrecs);
                im.recs[i].off + rng.below_usize(HDR + 8)
            } else {
                rng.below_usize(m.buf.len())
            };
            if len >= im.buf.len() {
                len = im.buf.len() - 1;
            }
            m.buf.truncate(len);
            m.say(&format!("truncated to {len} of {} bytes", im.buf.len()));
        }
        C_LEN_P1 | C_LEN_M1 | C_LEN_P8 | C_LEN_M8 | C_LEN_HUGE | C_LEN_ZERO => {
            m = assemble_same(im);
            let i = pick_any_type(im, rng);
            let v = im.recs[i].len as u64;
            let v = match cls {
                C_LEN_P1 => v + 1,
                C_LEN_M1 => v.wrapping_sub(1),
                C_LEN_P8 => v + 8,
                C_LEN_M8 => v.wrapping_sub(8),
                C_LEN_HUGE => 0xffff_ffff,
                _ => 0,
            };
            let t = im.recs[i].ty;
            m.fix =
                rng.chance(50) && t != RecordType::MetaEnd as u32 && t != RecordType::Tail as u32;
            m.say(&format!("{} record {i} length", im.type_name(i)));
            m.set_bytes(im.recs[i].off + LEN_AT, v, 4);
        }
        C_SWAP => {
            if nrecs < 2 {
                return None;
            }
            let i = rng.below_usize(nrecs - 1);
            let mut order: Vec<usize> = (0..nrecs).collect();
            order.swap(i, i + 1);
            m = assemble(im, &order);
            m.fix = rng.chance(50);
            // Singleton metadata records may come in any order, and POSIX
            // timers among them (but not two of them: they come in id
            // order); so may a lock or signal owner and an object record
            // of the file table (a lock belongs to the last file record
            // before it, which the swap keeps), and a file record and the
            // object record after it (an object comes before the first
            // file record that names it, which is not the one before it),
            // and two pipe or unix data records (the bytes queued change
            // order, which no count tells; file data has offsets).
            let (a, b) = (&im.recs[i], &im.recs[i + 1]);
            let owned = |r: &Rec| r.is(RecordType::Lock) || r.is(RecordType::FileOwner);
            let object = |r: &Rec| {
                [
                    RecordType::Pipe,
                    RecordType::PipeData,
                    RecordType::UnixSock,
                    RecordType::UnixData,
                    RecordType::Inet,
                    RecordType::Memfd,
                    RecordType::Deleted,
                    RecordType::FileData,
                    RecordType::UnixQueued,
                    RecordType::Eventfd,
                    RecordType::Timerfd,
                    RecordType::Signalfd,
                    RecordType::Epoll,
                    RecordType::EpollWatch,
                    RecordType::Inotify,
                    RecordType::InotifyWatch,
                ]
                .iter()
                .any(|&t| r.is(t))
            };
            let meta = |r: &Rec| meta_singleton(r.ty, tree_format) || r.is(RecordType::PosixTimer);
            let timers = a.is(RecordType::PosixTimer) && b.is(RecordType::PosixTimer);
            m.expect_reject = !((meta(a) && meta(b) && !timers)
                || (owned(a) && (object(b) || owned(b)))
                || (object(a) && owned(b))
                || (a.is(RecordType::File) && object(b))
                || (a.ty == b.ty
                    && [
                        RecordType::PipeData,
                        RecordType::UnixData,
                        RecordType::FileData,
                    ]
                    .iter()
                    .any(|&t| a.is(t))));
            m.say(&format!(
                "swap records {i} ({}) and {} ({})",
                im.type_name(i),
                i + 1,
                im.type_name(i + 1)
            ));
        }
        C_DUP => {
            let i = rng.below_usize(nrecs);
            let mut order: Vec<usize> = (0..nrecs).collect();
            order.insert(i, i);
            m = assemble(im, &order);
            m.fix = rng.chance(50);
            // A second tail after the tail is never read. A lock or a
            // pending signal twice is a state an image may hold (no count
            // names them); a unix socket's queued message twice is not (its
            // socket record counts them).
            m.expect_reject = ![RecordType::Tail, RecordType::Lock, RecordType::PendingSig]
                .iter()
                .any(|&t| im.recs[i].is(t));
            m.fix_counts = m.expect_reject;
            m.say(&format!("duplicate record {i} ({})", im.type_name(i)));
        }
        C_DROP => {
            let i = rng.below_usize(nrecs);
            let order: Vec<usize> = (0..nrecs).filter(|&j| j != i).collect();
            m = assemble(im, &order);
            m.fix = rng.chance(50);
            m.fix_counts = true;
            // Without an fd record, a lock, a signal owner, a pending
            // signal, the itimers or a POSIX timer, the image is still valid
            // (no count names them; the restoring process then has a timer
            // the image lacks, which the kernel may refuse); without a
            // queued unix message it is not (its socket record counts
            // them).
            m.expect_reject = ![
                RecordType::File,
                RecordType::Lock,
                RecordType::FileOwner,
                RecordType::PendingSig,
                RecordType::Itimers,
                RecordType::PosixTimer,
            ]
            .iter()
            .any(|&t| im.recs[i].is(t));
            m.say(&format!("drop record {i} ({})", im.type_name(i)));
        }
        C_VMA_OVERLAP => {
            let idx = im.records_of(RecordType::Vma);
            if idx.len() < 2 {
                return None;
            }
            m = assemble_same(im);
            let j = 1 + rng.below_usize(idx.len() - 1);
            let (i, prev) = (idx[j], idx[j - 1]);
            m.fix = rng.chance(50);
            m.say(&format!("vma record {i}"));
            let (pv, v) = (im.vma(prev), im.vma(i));
            match rng.below(3) {
                // Starts inside its predecessor.
                0 => patch_vma(&mut m, im, i, "start", |x| {
                    x.start = pv.end.wrapping_sub(page)
                }),
                // Same start as its predecessor.
                1 => patch_vma(&mut m, im, i, "start", |x| x.start = pv.start),
                // The predecessor ends inside it.
                _ => patch_vma(&mut m, im, prev, "predecessor end", |x| {
                    x.end = v.start.wrapping_add(page)
                }),
            }
        }
        C_VMA_HIGH | C_VMA_47 | C_VMA_KERNEL => {
            // The image's TASK_SIZE: 47 bits, or 56 with 5-level paging.
            let ts = im.hdr.task_size;
            let high = [
                (ts, ts + page),
                (ts - page, ts + page),
                (ts + page, ts + 2 * page),
                (0, ts + page),
                (ts - 16 * page, ts + 16 * page),
            ];
            // Past a 47-bit address space: user space only with LA57.
            let b47 = [
                (USER_47BIT, USER_47BIT + page),
                (USER_47BIT - page, USER_47BIT + page),
                (0x7fff_ffff_f000, 0x8000_0000_0000),
                (0x8000_0000_0000, 0x8000_0000_1000),
                (0x7fff_ffff_0000, 0x8000_0001_0000),
            ];
            let kern = [
                (0xffff_8000_0000_0000, 0xffff_8000_0000_1000),
                (0xffff_8880_0000_0000, 0xffff_8880_0001_0000),
                (0xffff_ffff_8100_0000, 0xffff_ffff_8100_1000),
                (0xffff_ffff_ffff_f000, 0),
                (0xffff_ffff_ff60_0000, 0xffff_ffff_ff60_1000),
            ];
            let tab = match cls {
                C_VMA_HIGH => high,
                C_VMA_47 => b47,
                _ => kern,
            };
            let i = im.pick(rng, RecordType::Vma)?;
            m = assemble_same(im);
            let j = rng.below_usize(5);
            m.fix = rng.chance(50);
            m.say(&format!("vma record {i}"));
            let mut start = im.vma(i).start;
            let end;
            if rng.chance(50) {
                // Start and end.
                (start, end) = tab[j];
                patch_vma(&mut m, im, i, "start and end", |x| {
                    x.start = start;
                    x.end = end;
                });
            } else {
                // The end only.
                end = if tab[j].1 != 0 { tab[j].1 } else { tab[j].0 };
                patch_vma(&mut m, im, i, "end", |x| x.end = end);
            }
            // Beyond TASK_SIZE or empty: invalid. Else (47-bit boundary
            // with LA57) it might be a valid move of a page-less vma.
            m.expect_reject = end > ts || start >= end;
        }
        C_VMA_NR | C_VMA_NR_TOTAL => {
            let i = im.pick(rng, RecordType::Vma)?;
            m = assemble_same(im);
            let v = im.vma(i).nr_pages;
            let up = v == 0 || rng.chance(50);
            m.fix = cls == C_VMA_NR_TOTAL || rng.chance(50);
            m.say(&format!("vma record {i} nr_pages"));
            let step = |x: u64| {
                if up {
                    x.wrapping_add(1)
                } else {
                    x.wrapping_sub(1)
                }
            };
            patch_vma(&mut m, im, i, "", |x| x.nr_pages = step(v));
            if cls == C_VMA_NR_TOTAL {
                m.say(", meta-end total");
                patch_total(&mut m, im, step(im.meta_end().total_pages));
            }
        }
        C_PAGES_NPAGES => {
            let i = im.pick(rng, RecordType::Pages)?;
            m = assemble_same(im);
            let v = im.pages(i).npages;
            m.fix = rng.chance(50);
            m.say(&format!("pages record {i} npages"));
            let n = if rng.chance(50) {
                v.wrapping_add(1)
            } else {
                v.wrapping_sub(1)
            };
            patch_pages(&mut m, im, i, |p| p.npages = n);
        }
        C_PAGES_RESIZE => {
            // npages and the record length agree, but not with the vmas.
            let i = im.pick(rng, RecordType::Pages)?;
            let r = &im.recs[i];
            let mut grow = rng.chance(50);
            let v = im.pages(i).npages;
            if !grow && v < 2 {
                grow = true;
            }
            m = assemble_same(im);
            let end = r.off + r.len;
            let page = page as usize;
            let mut buf = im.buf[..end].to_vec();
            if grow {
                buf.extend(std::iter::repeat_n(0xa5u8, page));
            } else {
                buf.truncate(end - page);
            }
            buf.extend_from_slice(&im.buf[end..]);
            m.tail_off = Some(buf.len() - im.recs[im.tail].len);
            m.buf = buf;
            m.fix = rng.chance(70);
            m.fix_counts = true;
            m.say(&format!(
                "pages record {i} {} by a page (len and npages)",
                if grow { "grown" } else { "shrunk" }
            ));
            let len = if grow { r.len + page } else { r.len - page };
            m.set_bytes(r.off + LEN_AT, len as u64, 4);
            let n = if grow { v + 1 } else { v - 1 };
            patch_pages(&mut m, im, i, |p| p.npages = n);
        }
        C_PAGES_ADDR => {
            let delta: [i64; 6] = [
                page as i64,
                -(page as i64),
                16 * page as i64,
                -16 * page as i64,
                1 << 30,
                8,
            ];
            let i = im.pick(rng, RecordType::Pages)?;
            m = assemble_same(im);
            let v = im.pages(i).addr;
            m.fix = rng.chance(50);
            m.say(&format!("pages record {i} addr"));
            let addr = if rng.chance(20) {
                INTERESTING[rng.below_usize(INTERESTING.len())]
            } else {
                v.wrapping_add_signed(delta[rng.below_usize(delta.len())])
            };
            patch_pages(&mut m, im, i, |p| p.addr = addr);
            // Moving a page within its vma may well be valid.
            m.expect_reject = false;
        }
        C_META_TOTAL => {
            m = assemble_same(im);
            let v = im.meta_end().total_pages;
            m.fix = rng.chance(50);
            m.say("meta-end total_pages");
            let t = if rng.chance(50) {
                v.wrapping_add(1)
            } else {
                v.wrapping_sub(1)
            };
            patch_total(&mut m, im, t);
        }
        C_ABSURD => {
            m = assemble_same(im);
            m.fix = rng.chance(70);
            let pick = |rng: &mut Rng, t| im.pick(rng, t);
            let either = |rng: &mut Rng, a: u64, b: u64| if rng.chance(50) { a } else { b };
            match rng.below(16) {
                14 => {
                    let i = pick(rng, RecordType::Tree)?;
                    m.say("tree count");
                    let v = either(rng, 0xffff_ffff, 4097);
                    m.set_bytes(length_field(im, i)?, v, 4);
                }
                15 => {
                    m.say("header nr_tasks");
                    let v = either(rng, 0xffff_ffff, 4097) as u32;
                    patch_header(&mut m, im, &format!("{v:#x}"), |h| h.nr_tasks = v);
                }
                0 => {
                    let i = pick(rng, RecordType::Groups)?;
                    m.say("groups count");
                    let v = either(rng, 0xffff_ffff, 65537);
                    m.set_bytes(length_field(im, i)?, v, 4);
                }
                1 => {
                    let i = pick(rng, RecordType::Cwd)?;
                    m.say("cwd path length");
                    let v = either(rng, 0xffff_ffff, 4096);
                    m.set_bytes(length_field(im, i)?, v, 4);
                }
                2 => {
                    let i = pick(rng, RecordType::Vma)?;
                    m.say(&format!("vma record {i} path length"));
                    let v = either(rng, 0xffff_ffff, 4095);
                    m.set_bytes(length_field(im, i)?, v, 4);
                }
                3 => {
                    let i = pick(rng, RecordType::File)?;
                    m.say(&format!("file record {i} path length"));
                    let v = either(rng, 0xffff_ffff, 4095);
                    m.set_bytes(length_field(im, i)?, v, 4);
                }
                4 => {
                    let i = pick(rng, RecordType::Mm)?;
                    m.say("mm exe path length");
                    let v = either(rng, 0xffff_ffff, 4095);
                    m.set_bytes(length_field(im, i)?, v, 4);
                }
                5 => {
                    let i = pick(rng, RecordType::Xstate)?;
                    m.say("xstate size");
                    let v = either(rng, 0xffff_ffff, 0x10008);
                    m.set_bytes(length_field(im, i)?, v, 4);
                }
                6 => {
                    m.say("header xstate_size");
                    let v = either(rng, 0xffff_ffff, 0x10000) as u32;
                    patch_header(&mut m, im, &format!("{v:#x}"), |h| h.xstate_size = v);
                }
                7 => {
                    let i = pick(rng, RecordType::Mm)?;
                    m.say("mm nr_vmas");
                    let v = either(rng, 0xffff_ffff, 65537) as u32;
                    let old =
                        Mm::decode(im.payload(i), im.hdr.auxv_words, im.hdr.task_size).ok()?;
                    let new = Mm { nr_vmas: v, ..old };
                    let a = encoded(RecordType::Mm, |b| mm_encode(&old, b));
                    let b = encoded(RecordType::Mm, |b| mm_encode(&new, b));
                    m.patch(
                        im.recs[i].off,
                        &a,
                        &b,
                        &format!("{} -> {v:#x}", old.nr_vmas),
                    );
                }
                8 => {
                    let i = pick(rng, RecordType::Mm)?;
                    m.say("mm auxv count");
                    m.set_bytes(mm_auxv_count(im, i)?, 0xffff_ffff, 4);
                }
                9 => {
                    m.say("header auxv_words");
                    let v = either(rng, 0xffff_ffff, 129) as u32;
                    patch_header(&mut m, im, &format!("{v:#x}"), |h| h.auxv_words = v);
                }
                10 => {
                    let i = pick(rng, RecordType::Pages)?;
                    m.say(&format!("pages record {i} npages"));
                    let v = either(rng, 0xffff_ffff, 1025) as u32;
                    patch_pages(&mut m, im, i, |p| p.npages = v);
                }
                11 => {
                    m.say("header page_size");
                    let v = either(rng, 0x8000_0000, 1 << 17) as u32;
                    patch_header(&mut m, im, &format!("{v:#x}"), |h| h.page_size = v);
                }
                12 => {
                    m.say("header nsig");
                    patch_header(&mut m, im, "0xffffffff", |h| h.nsig = 0xffff_ffff);
                }
                _ => {
                    let i = pick(rng, RecordType::Vma)?;
                    m.say(&format!("vma record {i} nr_pages"));
                    let v = either(rng, !0, 1 << 40);
                    patch_vma(&mut m, im, i, "nr_pages", |x| x.nr_pages = v);
                }
            }
        }
        C_IOCTL => {
            m = assemble_same(im);
            m.raw_prefix = true;
            m.expect_reject = true;
            let len = m.buf.len() as u64;
            match rng.below(7) {
                0 => {
                    m.prefix_len = !0;
                    m.say("prefix_len 0xffffffffffffffff");
                }
                1 => {
                    m.prefix_len = (64 << 20) + 1;
                    m.say("prefix_len 64 MiB + 1");
                }
                2 => {
                    m.prefix_len = 64 << 20;
                    m.say(&format!("prefix_len 64 MiB over a {len}-byte buffer"));
                }
                3 => {
                    m.ptr_abs = true;
                    m.ptr_off = 0xffff_ffff_8100_0000;
                    m.prefix_len = 4096;
                    m.say("prefix at a kernel address");
                }
                4 => {
                    m.ptr_abs = true;
                    m.prefix_len = 8;
                    m.say("prefix NULL, length 8");
                }
                5 => {
                    m.ptr_off = 1;
                    m.prefix_len = len - 1;
                    m.say("prefix one byte off");
                }
                _ => {
                    // The whole image in the prefix, nothing in the fd: valid.
                    m.prefix_len = len;
                    m.expect_reject = false;
                    m.must_restore = true;
                    m.say("whole image as prefix, empty fd");
                }
            }
        }
        C_TASK_STOP => {
            // The job-control stop of a process: its flag, whether the
            // stop was reported, and the stop signal (bits 3, 4, 8-15).
            let i = im.pick(rng, RecordType::Task)?;
            let old = Task::decode(im.payload(i)).ok()?;
            let keep = old.flags & !(TASK_STOPPED | TASK_STOP_REPORTED | TASK_STOP_SIG_MASK);
            const SIGS: [u32; 10] = [0, 1, 17, 18, 19, 20, 21, 22, 23, 0xff];
            let sig = SIGS[rng.below_usize(SIGS.len())];
            let mut stop = 0;
            if rng.chance(70) {
                stop |= TASK_STOPPED;
            }
            if rng.chance(40) {
                stop |= TASK_STOP_REPORTED;
            }
            let flags = keep | stop | (sig << TASK_STOP_SIG_SHIFT);
            if flags == old.flags {
                return None;
            }
            m = assemble_same(im);
            m.fix = rng.chance(85);
            // The format's rule, written out here rather than taken
            // from the decoder: a stop needs a stop signal, and without
            // one neither the reported bit nor a signal may be set.
            let valid = if flags & TASK_STOPPED != 0 {
                (19..=22).contains(&sig)
            } else {
                flags & (TASK_STOP_REPORTED | TASK_STOP_SIG_MASK) == 0
            };
            m.expect_reject = !valid;
            let new = Task { flags, ..old };
            let a = encoded(RecordType::Task, |b| old.encode(b));
            let b = encoded(RecordType::Task, |b| new.encode(b));
            m.patch(
                im.recs[i].off,
                &a,
                &b,
                &format!("task record {i} flags {:#x} -> {flags:#x}", old.flags),
            );
        }
        c if (C_BYTE..C_FIELD).contains(&c) => {
            let t = REC_TYPES[c - C_BYTE];
            let i = im.pick(rng, t)?;
            m = assemble_same(im);
            let off = byte_in_record(im, rng, i);
            let v = 1 + rng.below(255);
            m.fix = rng.chance(50) && !m.touches_checksums(off, 1);
            m.expect_reject = false;
            m.say(&format!(
                "{} record {i} byte {} xor {v:#x}",
                t.name(),
                off - im.recs[i].off
            ));
            m.set_bytes(off, u64::from(m.buf[off]) ^ v, 1);
        }
        c if (C_FIELD..C_TRUNC_REC).contains(&c) => {
            let t = REC_TYPES[c - C_FIELD];
            let i = im.pick(rng, t)?;
            let r = &im.recs[i];
            if r.len == HDR {
                return None;
            }
            m = assemble_same(im);
            let mut w = if rng.chance(50) { 8 } else { 4 };
            let n = if t == RecordType::Pages {
                PAGES_FIXED
            } else {
                r.len - HDR
            };
            if n < w {
                w = 4;
            }
            let mut off = r.off + HDR + rng.below_usize((n - w) / 4 + 1) * 4;
            if w == 8 && !off.is_multiple_of(8) {
                off -= 4;
            }
            let cur = if w == 8 {
                get64(&im.buf, off)
            } else {
                u64::from(get32(&im.buf, off))
            };
            let mut v = if rng.chance(75) {
                INTERESTING[rng.below_usize(INTERESTING.len())]
            } else if rng.chance(50) {
                cur.wrapping_add(1)
            } else {
                cur.wrapping_sub(1)
            };
            if w == 4 {
                v &= 0xffff_ffff;
            }
            // A change, always.
            if v == cur {
                v ^= 1 << rng.below(8 * w as u64);
            }
            m.fix = rng.chance(60) && !m.touches_checksums(off, w);
            m.expect_reject = false;
            m.say(&format!(
                "{} record {i} field +{}",
                t.name(),
                off - r.off - HDR
            ));
            m.set_bytes(off, v, w);
        }
        _ => return None,
    }
    m.cls = cls;
    Some(m)
}

/// Finishes `m`: checksums, delivery (prefix, pipe), what differs.
fn finish(im: &Image, rng: &mut Rng, m: &mut Mutation) {
    if m.fix {
        m.fixup();
    }
    let n = m.buf.len().min(im.buf.len());
    m.first_diff = (0..n).find(|&i| m.buf[i] != im.buf[i]).unwrap_or(n);
    if !m.raw_prefix {
        m.prefix = if rng.chance(25) {
            rng.below_usize(m.buf.len() + 1)
        } else {
            0
        };
        m.use_pipe = rng.chance(30);
    }
}

/// Attempt `idx`: the record-boundary truncations of each image in turn
/// first, then random classes of random images.
fn attempt(images: &[Image], seed: u64, idx: usize, tree_format: bool) -> Result<Mutation, String> {
    let mut rng = Rng::new(seed, idx as u64);
    let mut k = idx;
    for (img, im) in images.iter().enumerate() {
        if k <= im.recs.len() {
            let mut m = make_mutation(im, &mut rng, C_TRUNC_REC, k, tree_format)
                .ok_or("record-boundary truncation")?;
            m.img = img;
            finish(im, &mut rng, &mut m);
            return Ok(m);
        }
        k -= im.recs.len() + 1;
    }
    for _ in 0..1000 {
        let img = rng.below_usize(images.len());
        let cls = random_class(&images[img], &mut rng);
        if let Some(mut m) = make_mutation(&images[img], &mut rng, cls, 0, tree_format) {
            m.img = img;
            finish(&images[img], &mut rng, &mut m);
            return Ok(m);
        }
    }
    Err(format!("attempt {idx}: no class applies in 1000 tries"))
}

struct Args {
    out: String,
    seed: u64,
    first: usize,
    count: usize,
    images: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let usage = "usage: cr-hostile-gen --out DIR [--seed S] [--first I] [--count N] IMAGE...";
    let mut a = Args {
        out: String::new(),
        seed: 1,
        first: 0,
        count: 0,
        images: vec![],
    };
    let mut it = std::env::args().skip(1);
    while let Some(s) = it.next() {
        let mut val = || {
            it.next()
                .ok_or_else(|| format!("{s}: a value is needed\n{usage}"))
        };
        let num = |v: String| -> Result<u64, String> {
            match v.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16),
                None => v.parse(),
            }
            .map_err(|e| format!("{v}: {e}"))
        };
        match s.as_str() {
            "--out" => a.out = val()?,
            "--seed" => a.seed = num(val()?)?,
            "--first" => a.first = num(val()?)? as usize,
            "--count" => a.count = num(val()?)? as usize,
            "-h" | "--help" => return Err(usage.into()),
            _ if s.starts_with('-') => return Err(format!("{s}: unknown option\n{usage}")),
            _ => a.images.push(s),
        }
    }
    if a.out.is_empty() || a.images.is_empty() {
        return Err(usage.into());
    }
    Ok(a)
}

fn run() -> Result<(), String> {
    let a = parse_args()?;
    let mut images = vec![];
    for p in &a.images {
        let buf = std::fs::read(p).map_err(|e| format!("{p}: {e}"))?;
        images.push(Image::parse(buf).map_err(|e| format!("{p}: {e}"))?);
    }
    // Images with a tree record open each process with its task record
    // and give every thread its own regs and xstate records.
    let tree_format = images
        .iter()
        .any(|im| !im.records_of(RecordType::Tree).is_empty());
    let mut man = String::new();
    for c in 0..NCLASSES {
        let _ = writeln!(man, "class {c} {}", class_name(c));
    }
    for (k, im) in images.iter().enumerate() {
        let _ = writeln!(
            man,
            "image {k} {} {} {} {} {} {} {} {}",
            im.buf.len(),
            im.recs.len(),
            im.nvmas,
            im.meta_end().total_pages,
            im.hdr.task_size,
            im.vdso.0,
            im.vdso.1,
            String::from_utf8_lossy(&im.cwd)
        );
        // Its record types, with their counts, in the order they come.
        let mut types: Vec<(u32, usize)> = vec![];
        for r in &im.recs {
            match types.iter_mut().find(|t| t.0 == r.ty) {
                Some(t) => t.1 += 1,
                None => types.push((r.ty, 1)),
            }
        }
        let _ = write!(man, "types {k}");
        for (t, n) in types {
            let name = RecordType::from_u32(t).map_or("?", |t| t.name());
            let _ = write!(man, " {t}:{name}x{n}");
        }
        let _ = writeln!(man);
        for u in &im.setups {
            let _ = writeln!(
                man,
                "setup {k} {} {} {} {} {} {} {} {} {}",
                u.kind,
                u.id,
                u.n[0],
                u.n[1],
                u.n[2],
                u.n[3],
                u.n[4],
                u.n[5],
                if u.path.is_empty() {
                    "-".into()
                } else {
                    String::from_utf8_lossy(&u.path)
                }
            );
        }
    }
    for idx in a.first..a.first + a.count {
        let m = attempt(&images, a.seed, idx, tree_format)?;
        let file = format!("{}/{idx}.img", a.out);
        std::fs::write(&file, &m.buf).map_err(|e| format!("{file}: {e}"))?;
        let _ = writeln!(
            man,
            "attempt {idx} {} {} {} {} {} {} {} {} {} {} {} {} {} {}",
            m.img,
            m.cls,
            m.buf.len(),
            m.first_diff,
            u8::from(m.fixed),
            u8::from(m.expect_reject),
            u8::from(m.must_restore),
            m.prefix,
            u8::from(m.use_pipe),
            u8::from(m.raw_prefix),
            u8::from(m.ptr_abs),
            m.ptr_off,
            m.prefix_len,
            m.desc.trim_start()
        );
    }
    let path = format!("{}/manifest", a.out);
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(man.as_bytes()))
        .map_err(|e| format!("{path}: {e}"))
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cr-hostile-gen: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter() -> Image {
        let buf = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../image/testdata/counter.img"
        ))
        .unwrap();
        Image::parse(buf).unwrap()
    }

    #[test]
    fn identity_and_fixup_change_nothing() {
        let im = counter();
        let mut m = assemble_same(&im);
        assert!(m.buf == im.buf);
        m.fix_counts = true;
        m.fixup();
        assert!(m.buf == im.buf);
    }

    #[test]
    fn length_fields_are_where_the_format_has_them() {
        let im = counter();
        let at = |t| {
            let i = im.records_of(t)[0];
            length_field(&im, i).unwrap() - im.recs[i].off - HDR
        };
        assert_eq!(at(RecordType::Vma), format::VMA_FIXED);
        assert_eq!(at(RecordType::File), format::FILE_FIXED);
        assert_eq!(at(RecordType::Cwd), 0);
        assert_eq!(at(RecordType::Groups), 0);
        assert_eq!(at(RecordType::Xstate), 0);
        assert_eq!(at(RecordType::Tree), 0);
        let mm = im.records_of(RecordType::Mm)[0];
        let auxv = u32::from_le_bytes(im.payload(mm)[92..96].try_into().unwrap()) as usize;
        assert_eq!(at(RecordType::Mm), format::MM_FIXED + 8 * auxv);
        assert_eq!(mm_auxv_count(&im, mm).unwrap() - im.recs[mm].off - HDR, 92);
    }

    #[test]
    fn attempts_depend_on_seed_and_index_only() {
        let images = [counter()];
        for idx in [0, 5, 40, 100, 777] {
            let a = attempt(&images, 42, idx, true).unwrap();
            let b = attempt(&images, 42, idx, true).unwrap();
            assert!(a.buf == b.buf && a.desc == b.desc && a.cls == b.cls);
        }
        // The record-boundary truncations come first, in order.
        let n = images[0].recs.len();
        for k in 0..=n {
            assert_eq!(attempt(&images, 1, k, true).unwrap().cls, C_TRUNC_REC);
        }
    }

    #[test]
    fn every_class_is_made() {
        let images = [counter()];
        let mut seen = [false; NCLASSES];
        for idx in 0..20000 {
            seen[attempt(&images, 7, idx, true).unwrap().cls] = true;
        }
        for (c, s) in seen.iter().enumerate() {
            // A byte or field class of a record type the image lacks
            // never applies to it.
            let t = match c {
                c if (C_BYTE..C_FIELD).contains(&c) => Some(REC_TYPES[c - C_BYTE]),
                c if (C_FIELD..C_TRUNC_REC).contains(&c) => Some(REC_TYPES[c - C_FIELD]),
                _ => None,
            };
            if t.is_some_and(|t| images[0].records_of(t).is_empty()) {
                assert!(!*s, "class {} made without its record", class_name(c));
                continue;
            }
            assert!(*s, "class {} never made", class_name(c));
        }
    }

    #[test]
    fn stop_flag_attempts_follow_the_decoder() {
        // The generator's own rule for the stop bits and the decoder's
        // agree on every attempt of the class.
        let im = counter();
        let ti = im.records_of(RecordType::Task)[0];
        let mut n = 0;
        for idx in 0..400 {
            let mut rng = Rng::new(3, idx);
            let Some(m) = make_mutation(&im, &mut rng, C_TASK_STOP, 0, true) else {
                continue;
            };
            let r = &im.recs[ti];
            let ok = Task::decode(&m.buf[r.off + HDR..r.off + r.len]).is_ok();
            assert_eq!(ok, !m.expect_reject, "{}", m.desc);
            n += 1;
        }
        assert!(n > 300);
    }

    #[test]
    fn setups_name_what_the_restoring_process_makes() {
        let ev = EventfdRec {
            id: 3,
            flags: format::EVENTFD_SEMAPHORE,
            count: 7,
        };
        let b = encoded(RecordType::Eventfd, |b| ev.encode(b));
        let s = setups_of(RecordType::Eventfd, &b[HDR..], 4096).unwrap();
        assert_eq!(
            (s[0].kind, s[0].id, s[0].n[0], s[0].n[1]),
            (SETUP_EVENTFD, 3, 7, 1)
        );
        let sf = SignalfdRec {
            id: 2,
            mask: 1 << 11,
        };
        let b = encoded(RecordType::Signalfd, |b| sf.encode(b));
        let s = setups_of(RecordType::Signalfd, &b[HDR..], 4096).unwrap();
        assert_eq!(
            (s[0].kind, s[0].id, s[0].n[0]),
            (SETUP_SIGNALFD, 2, 1 << 11)
        );
        let it = Itimers {
            virt_value: 5,
            prof_interval: 9,
            ..Default::default()
        };
        let b = encoded(RecordType::Itimers, |b| it.encode(b));
        let s = setups_of(RecordType::Itimers, &b[HDR..], 4096).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].kind, s[0].id, s[0].n[0]), (SETUP_ITIMER, 1, 5));
        assert!(setups_of(RecordType::Epoll, &[0; 8], 4096).is_err());
    }
}
