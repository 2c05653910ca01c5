// SPDX-License-Identifier: GPL-2.0

//! The cr image format, version 2.
//!
//! This file is compiled twice: into the kernel module (through a `#[path]`
//! module in `rust/cr_main.rs`) and into the `cr-image` crate that crctl, the
//! unit tests and the fuzzer use. It must stay `no_std`, allocation-free and
//! free of `unsafe`. `Documentation/cr/image-format.rst` is the prose spec.
//!
//! An image is the 8-byte [`MAGIC`] followed by records. Every record starts
//! with a [`RecordHeader`] (`u32` type, `u32` total length including the
//! header, a multiple of 8); all integers are little-endian. The order is
//! fixed: [`Header`], the metadata records, [`MetaEnd`] (whose checksum
//! covers everything before it), the [`PagesHeader`] records with page
//! contents, and [`Tail`] (checksum of everything before it). The
//! [`Validator`] enforces that order and every limit below, so that the
//! kernel, crctl and the fuzzer accept exactly the same images.

/// Version of the image format this code writes and reads.
pub const FORMAT_VERSION: u32 = 2;

/// First 8 bytes of every image.
pub const MAGIC: [u8; 8] = *b"\x7fCRIMG\r\n";

/// `AUDIT_ARCH_X86_64`: the only architecture of format version 1.
pub const ARCH_X86_64: u32 = 0xC000_003E;

/// Size of a record header.
pub const RECORD_HEADER_SIZE: usize = 8;

/// Longest path stored in an image (`PATH_MAX` minus its NUL).
pub const MAX_PATH: usize = 4095;
/// Most VMAs of one task (the kernel's default `vm.max_map_count` is 65530).
pub const MAX_VMAS: u32 = 65536;
/// Most file descriptors of one task.
pub const MAX_FILES: u32 = 65536;
/// Most supplementary groups (`NGROUPS_MAX`).
pub const MAX_GROUPS: u32 = 65536;
/// Most tasks (threads and zombies included) in one image.
pub const MAX_TASKS: u32 = 4096;
/// Most pages in one [`PagesHeader`] record.
pub const MAX_PAGES_PER_RECORD: u32 = 1024;
/// Largest xsave area (x86 `XSTATE` regset) an image may carry.
pub const MAX_XSTATE: u32 = 64 * 1024;
/// Most words of saved auxiliary vector.
pub const MAX_AUXV_WORDS: u32 = 128;
/// Number of signals (`_NSIG`).
pub const NSIG: u32 = 64;
/// Length of a task's `comm`.
pub const COMM_LEN: usize = 16;
/// Number of resource limits (`RLIM_NLIMITS`).
pub const RLIM_NLIMITS: u32 = 16;
/// Number of general purpose register words (`struct user_regs_struct`).
pub const NR_GREGS: usize = 27;
/// Longest kernel release string stored in the header.
pub const RELEASE_LEN: usize = 64;
/// Size of the [`Header`] payload.
pub const HEADER_PAYLOAD: usize = 136;

/// Record types. Numbers are never reused; ranges group subsystems.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u32)]
pub enum RecordType {
    /// [`Header`].
    Header = 1,
    /// [`Task`]: identity and credentials of the task.
    Task = 100,
    /// [`Groups`]: supplementary groups.
    Groups = 101,
    /// Current working directory: a path.
    Cwd = 102,
    /// [`Rlimits`].
    Rlimits = 103,
    /// [`Tree`]: every task of the image, in tree order.
    Tree = 104,
    /// [`Thread`]: one thread, followed by its regs and xstate records.
    Thread = 110,
    /// [`Regs`]: general purpose registers.
    Regs = 200,
    /// [`Xstate`]: FPU/SSE/AVX state in the x86 `XSTATE` regset layout.
    Xstate = 201,
    /// [`FileRec`]: one open file descriptor.
    File = 300,
    /// [`Mm`]: address space layout.
    Mm = 400,
    /// [`Vma`]: one mapping.
    Vma = 401,
    /// [`PagesHeader`] then page contents.
    Pages = 402,
    /// [`Signals`]: handlers, blocked mask, alternate stack.
    Signals = 600,
    /// [`MetaEnd`]: end of metadata, checksum so far.
    MetaEnd = 900,
    /// [`Tail`]: end of image, checksum of all before.
    Tail = 9001,
}

impl RecordType {
    /// Decodes a record type number.
    pub fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            1 => Self::Header,
            100 => Self::Task,
            101 => Self::Groups,
            102 => Self::Cwd,
            103 => Self::Rlimits,
            104 => Self::Tree,
            110 => Self::Thread,
            200 => Self::Regs,
            201 => Self::Xstate,
            300 => Self::File,
            400 => Self::Mm,
            401 => Self::Vma,
            402 => Self::Pages,
            600 => Self::Signals,
            900 => Self::MetaEnd,
            9001 => Self::Tail,
            _ => return None,
        })
    }

    /// Name used in messages and by `crctl info`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Task => "task",
            Self::Groups => "groups",
            Self::Cwd => "cwd",
            Self::Rlimits => "rlimits",
            Self::Tree => "tree",
            Self::Thread => "thread",
            Self::Regs => "regs",
            Self::Xstate => "xstate",
            Self::File => "file",
            Self::Mm => "mm",
            Self::Vma => "vma",
            Self::Pages => "pages",
            Self::Signals => "signals",
            Self::MetaEnd => "meta-end",
            Self::Tail => "tail",
        }
    }

    /// Largest record of this type, header included, before any content
    /// that is streamed (page data).
    pub fn max_len(self) -> usize {
        match self {
            Self::Header => RECORD_HEADER_SIZE + HEADER_PAYLOAD,
            Self::Task => RECORD_HEADER_SIZE + TASK_PAYLOAD,
            Self::Groups => RECORD_HEADER_SIZE + 8 + 4 * MAX_GROUPS as usize,
            Self::Cwd => RECORD_HEADER_SIZE + padded(4 + MAX_PATH),
            Self::Rlimits => RECORD_HEADER_SIZE + 8 + 16 * RLIM_NLIMITS as usize,
            Self::Tree => RECORD_HEADER_SIZE + 8 + TREE_ENTRY * MAX_TASKS as usize,
            Self::Thread => RECORD_HEADER_SIZE + THREAD_PAYLOAD,
            Self::Regs => RECORD_HEADER_SIZE + 8 * NR_GREGS + 8,
            Self::Xstate => RECORD_HEADER_SIZE + 8 + MAX_XSTATE as usize,
            Self::File => RECORD_HEADER_SIZE + padded(FILE_FIXED + 4 + MAX_PATH),
            Self::Mm => {
                RECORD_HEADER_SIZE + MM_FIXED + 8 * MAX_AUXV_WORDS as usize + 8 + padded(MAX_PATH)
            }
            Self::Vma => RECORD_HEADER_SIZE + padded(VMA_FIXED + 4 + MAX_PATH),
            Self::Pages => RECORD_HEADER_SIZE + PAGES_FIXED,
            Self::Signals => RECORD_HEADER_SIZE + SIGNALS_PAYLOAD,
            Self::MetaEnd => RECORD_HEADER_SIZE + 16,
            Self::Tail => RECORD_HEADER_SIZE + 24,
        }
    }
}

/// `x % page_size` for a power-of-two page size, without a division that
/// could panic.
pub fn page_offset(x: u64, page_size: u64) -> u64 {
    x & page_size.wrapping_sub(1)
}

/// `x / page_size` for a power-of-two page size, without a division that
/// could panic.
pub fn to_pages(x: u64, page_size: u64) -> u64 {
    x.checked_shr(page_size.trailing_zeros()).unwrap_or(0)
}

/// Rounds `n` up to a multiple of 8.
pub const fn padded(n: usize) -> usize {
    (n + 7) & !7
}

/// Why an image was refused. Each names what was wrong; together with the
/// byte offset that [`Validator`] reports it makes the log line.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FormatError {
    /// The image does not start with [`MAGIC`].
    BadMagic,
    /// The image's format version is not [`FORMAT_VERSION`].
    BadVersion,
    /// Made on another architecture.
    BadArch,
    /// Made with another page size.
    BadPageSize,
    /// A compile-time constant of the kernel differs.
    BadConstants,
    /// The image ends before its tail record.
    Truncated,
    /// A record header has a length that is not a multiple of 8, too small,
    /// or too big for its type.
    BadLength,
    /// A record type this version does not know.
    UnknownRecord,
    /// A record where the format does not allow one.
    BadOrder,
    /// A record appears more than once where only one is allowed.
    Duplicate,
    /// A record the format requires is missing.
    Missing,
    /// A field holds a value outside its range.
    BadField,
    /// Bytes that must be zero (padding, reserved) are not.
    NonZeroPadding,
    /// A path or string is empty, too long, or holds a NUL byte.
    BadPath,
    /// VMAs overlap, are unsorted, unaligned or outside the user address space.
    BadVma,
    /// Page records do not match the VMAs they belong to.
    BadPages,
    /// A checksum does not match: the image is corrupt.
    BadChecksum,
    /// Bytes after the tail record.
    TrailingData,
}

impl FormatError {
    /// A short description for log lines.
    pub fn describe(self) -> &'static str {
        match self {
            Self::BadMagic => "not a cr image (bad magic)",
            Self::BadVersion => "unsupported image format version",
            Self::BadArch => "image is for another architecture",
            Self::BadPageSize => "image has another page size",
            Self::BadConstants => "image was made by a kernel with different constants",
            Self::Truncated => "image is truncated",
            Self::BadLength => "bad record length",
            Self::UnknownRecord => "unknown record type",
            Self::BadOrder => "record out of order",
            Self::Duplicate => "duplicate record",
            Self::Missing => "required record missing",
            Self::BadField => "field out of range",
            Self::NonZeroPadding => "non-zero padding",
            Self::BadPath => "bad path",
            Self::BadVma => "bad vma",
            Self::BadPages => "page records do not match the vmas",
            Self::BadChecksum => "checksum mismatch: image is corrupt",
            Self::TrailingData => "data after the tail record",
        }
    }
}

/// Result of format operations.
pub type FResult<T> = core::result::Result<T, FormatError>;

// ---------------------------------------------------------------------------
// Byte cursors.

/// Reads little-endian fields from a payload, failing with
/// [`FormatError::BadLength`] past its end.
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Takes the next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> FResult<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(FormatError::BadLength)?;
        let s = self.buf.get(self.pos..end).ok_or(FormatError::BadLength)?;
        self.pos = end;
        Ok(s)
    }

    /// Takes a `u32`.
    pub fn u32(&mut self) -> FResult<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Takes an `i32`.
    pub fn i32(&mut self) -> FResult<i32> {
        Ok(self.u32()? as i32)
    }

    /// Takes a `u64`.
    pub fn u64(&mut self) -> FResult<u64> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// Takes a `u32` that must be zero (padding).
    pub fn pad32(&mut self) -> FResult<()> {
        if self.u32()? != 0 {
            return Err(FormatError::NonZeroPadding);
        }
        Ok(())
    }

    /// Takes a path: `u32` length, bytes, zero padding to 8 bytes (counted
    /// from the length field). Empty paths are allowed only if `allow_empty`.
    pub fn path(&mut self, allow_empty: bool) -> FResult<&'a [u8]> {
        let len = self.u32()? as usize;
        if len > MAX_PATH || (len == 0 && !allow_empty) {
            return Err(FormatError::BadPath);
        }
        let p = self.bytes(len)?;
        if p.contains(&0) {
            return Err(FormatError::BadPath);
        }
        // Padding up to the next multiple of 8 of the payload offset (payloads
        // start 8-byte aligned, so this is 8-byte alignment in the image).
        let pad = padded(self.pos) - self.pos;
        if self.bytes(pad)?.iter().any(|&b| b != 0) {
            return Err(FormatError::NonZeroPadding);
        }
        Ok(p)
    }

    /// Requires that the rest of the payload is zero padding.
    /// Requires that the rest of the payload is the zero padding to the
    /// record's 8-byte alignment, and nothing more: every record has one
    /// encoding.
    pub fn finish(&self) -> FResult<()> {
        let rest = &self.buf[self.pos..];
        if rest.len() >= 8 {
            return Err(FormatError::BadLength);
        }
        if rest.iter().any(|&b| b != 0) {
            return Err(FormatError::NonZeroPadding);
        }
        Ok(())
    }

    /// Bytes consumed so far.
    pub fn pos(&self) -> usize {
        self.pos
    }
}

/// Writes little-endian fields into a buffer. Writing past its end is a bug
/// of the encoder: it is recorded and reported by [`Writer::finish`].
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
    overflow: bool,
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            overflow: false,
        }
    }

    /// Appends bytes.
    pub fn bytes(&mut self, b: &[u8]) {
        match self.buf.get_mut(self.pos..self.pos + b.len()) {
            Some(d) => {
                d.copy_from_slice(b);
                self.pos += b.len();
            }
            None => self.overflow = true,
        }
    }

    /// Appends a `u32`.
    pub fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }

    /// Appends an `i32`.
    pub fn i32(&mut self, v: i32) {
        self.bytes(&v.to_le_bytes());
    }

    /// Appends a `u64`.
    pub fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }

    /// Appends zero bytes up to the next multiple of 8.
    pub fn align(&mut self) {
        while self.pos % 8 != 0 && !self.overflow {
            self.bytes(&[0]);
        }
    }

    /// Appends a path as [`Cursor::path`] reads it.
    pub fn path(&mut self, p: &[u8]) {
        self.u32(p.len() as u32);
        self.bytes(p);
        self.align();
    }

    /// Bytes written, or `None` if the buffer was too small.
    pub fn finish(self) -> Option<usize> {
        if self.overflow {
            None
        } else {
            Some(self.pos)
        }
    }
}

/// Encodes a whole record of type `ty` whose payload `f` writes, into `buf`.
/// Returns the record length, or `None` if `buf` is too small.
pub fn encode_record(
    buf: &mut [u8],
    ty: RecordType,
    f: impl FnOnce(&mut Writer<'_>),
) -> Option<usize> {
    let mut w = Writer::new(buf);
    w.u32(ty as u32);
    w.u32(0);
    f(&mut w);
    w.align();
    let len = w.finish()?;
    buf[4..8].copy_from_slice(&(len as u32).to_le_bytes());
    Some(len)
}

// ---------------------------------------------------------------------------
// Checksum.

/// The image checksum: four independent multiply-xor lanes over 8-byte
/// little-endian words, folded at the end. Fast enough to cover page data,
/// strong enough to catch corruption (it is not a cryptographic MAC).
#[derive(Clone)]
pub struct Checksum {
    lanes: [u64; 4],
    buf: [u8; 32],
    buffered: usize,
    total: u64,
}

const CK_MUL: u64 = 0x9E37_79B9_7F4A_7C15;
const CK_SEED: [u64; 4] = [
    0x243F_6A88_85A3_08D3,
    0x1319_8A2E_0370_7344,
    0xA409_3822_299F_31D0,
    0x082E_FA98_EC4E_6C89,
];

impl Default for Checksum {
    fn default() -> Self {
        Self::new()
    }
}

impl Checksum {
    /// A fresh checksum.
    pub const fn new() -> Self {
        Self {
            lanes: CK_SEED,
            buf: [0; 32],
            buffered: 0,
            total: 0,
        }
    }

    #[inline(always)]
    fn mix(lane: u64, w: u64) -> u64 {
        let x = (lane ^ w).wrapping_mul(CK_MUL);
        x ^ (x >> 29)
    }

    #[inline(always)]
    fn block(&mut self, b: &[u8]) {
        for i in 0..4 {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i * 8..i * 8 + 8]);
            self.lanes[i] = Self::mix(self.lanes[i], u64::from_le_bytes(a));
        }
    }

    /// Adds bytes.
    pub fn update(&mut self, mut data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u64);
        if self.buffered > 0 {
            let n = (32 - self.buffered).min(data.len());
            self.buf[self.buffered..self.buffered + n].copy_from_slice(&data[..n]);
            self.buffered += n;
            data = &data[n..];
            if self.buffered < 32 {
                return;
            }
            let b = self.buf;
            self.block(&b);
            self.buffered = 0;
        }
        let mut chunks = data.chunks_exact(32);
        for c in &mut chunks {
            self.block(c);
        }
        let rest = chunks.remainder();
        self.buf[..rest.len()].copy_from_slice(rest);
        self.buffered = rest.len();
    }

    /// The checksum of everything added so far (the state is not consumed).
    pub fn value(&self) -> u64 {
        let mut lanes = self.lanes;
        let mut tail = [0u8; 32];
        tail[..self.buffered].copy_from_slice(&self.buf[..self.buffered]);
        for (i, lane) in lanes.iter_mut().enumerate() {
            let mut a = [0u8; 8];
            a.copy_from_slice(&tail[i * 8..i * 8 + 8]);
            *lane = Self::mix(*lane, u64::from_le_bytes(a));
        }
        let mut h = self.total.wrapping_mul(CK_MUL);
        for l in lanes {
            h = Self::mix(h.rotate_left(17), l);
        }
        h
    }
}

// ---------------------------------------------------------------------------
// Records.

/// The record header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// Record type number.
    pub ty: u32,
    /// Total length, header included.
    pub len: u32,
}

impl RecordHeader {
    /// Decodes a record header.
    pub fn decode(b: &[u8; 8]) -> Self {
        Self {
            ty: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            len: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }
}

/// Image header: what the image is and what it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// [`ARCH_X86_64`].
    pub arch: u32,
    /// Page size of the checkpointed kernel.
    pub page_size: u32,
    /// Flags the image was made with (`CR_CHECKPOINT_*`).
    pub flags: u32,
    /// Number of tasks in the image: entries of the [`Tree`] record.
    pub nr_tasks: u32,
    /// `CR_VERSION()` of the module that wrote it.
    pub module_version: u32,
    /// Wall clock time of the checkpoint, seconds since the epoch.
    pub time_sec: u64,
    /// Nanoseconds part of the time.
    pub time_nsec: u32,
    /// `NSIG` of the kernel (must match).
    pub nsig: u32,
    /// `RLIM_NLIMITS` (must match).
    pub rlim_nlimits: u32,
    /// `TASK_COMM_LEN` (must match).
    pub comm_len: u32,
    /// Size of the xsave area in the `XSTATE` regset (must match).
    pub xstate_size: u32,
    /// Number of words of `mm->saved_auxv` (must match).
    pub auxv_words: u32,
    /// xfeatures the kernel exposed to user space (must be a subset on restart).
    pub xfeatures: u64,
    /// User address space size (`TASK_SIZE`).
    pub task_size: u64,
    /// `uname -r` of the kernel that wrote it, NUL padded.
    pub release: [u8; RELEASE_LEN],
}

impl Header {
    /// The kernel release as bytes, without NUL padding.
    pub fn release(&self) -> &[u8] {
        let n = self
            .release
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(RELEASE_LEN);
        &self.release[..n]
    }

    /// Encodes the header record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_record(buf, RecordType::Header, |w| {
            w.u32(self.version);
            w.u32(self.arch);
            w.u32(self.page_size);
            w.u32(self.flags);
            w.u32(self.nr_tasks);
            w.u32(self.module_version);
            w.u64(self.time_sec);
            w.u32(self.time_nsec);
            w.u32(self.nsig);
            w.u32(self.rlim_nlimits);
            w.u32(self.comm_len);
            w.u32(self.xstate_size);
            w.u32(self.auxv_words);
            w.u64(self.xfeatures);
            w.u64(self.task_size);
            w.bytes(&self.release);
        })
    }

    /// Decodes the header payload. Only the layout is checked here; what
    /// must match the running kernel is checked by [`Header::check_against`].
    pub fn decode(p: &[u8]) -> FResult<Self> {
        if p.len() != HEADER_PAYLOAD {
            return Err(FormatError::BadLength);
        }
        let mut c = Cursor::new(p);
        let version = c.u32()?;
        if version != FORMAT_VERSION {
            return Err(FormatError::BadVersion);
        }
        let mut h = Header {
            version,
            arch: c.u32()?,
            page_size: c.u32()?,
            flags: c.u32()?,
            nr_tasks: c.u32()?,
            module_version: c.u32()?,
            time_sec: c.u64()?,
            time_nsec: c.u32()?,
            nsig: c.u32()?,
            rlim_nlimits: c.u32()?,
            comm_len: c.u32()?,
            xstate_size: c.u32()?,
            auxv_words: c.u32()?,
            xfeatures: c.u64()?,
            task_size: c.u64()?,
            release: [0; RELEASE_LEN],
        };
        h.release.copy_from_slice(c.bytes(RELEASE_LEN)?);
        c.finish()?;
        if h.arch != ARCH_X86_64 {
            return Err(FormatError::BadArch);
        }
        if h.nr_tasks == 0 || h.nr_tasks > MAX_TASKS || h.time_nsec >= 1_000_000_000 {
            return Err(FormatError::BadField);
        }
        if h.xstate_size > MAX_XSTATE || h.auxv_words > MAX_AUXV_WORDS {
            return Err(FormatError::BadConstants);
        }
        if !(4096..=(1 << 16)).contains(&h.page_size) || !h.page_size.is_power_of_two() {
            return Err(FormatError::BadPageSize);
        }
        Ok(h)
    }

    /// Checks that an image with this header can be restored on a kernel
    /// described by `here` (a header the running kernel would write).
    pub fn check_against(&self, here: &Header) -> FResult<()> {
        if self.arch != here.arch {
            return Err(FormatError::BadArch);
        }
        if self.page_size != here.page_size {
            return Err(FormatError::BadPageSize);
        }
        if self.nsig != here.nsig
            || self.rlim_nlimits != here.rlim_nlimits
            || self.comm_len != here.comm_len
            || self.xstate_size != here.xstate_size
            || self.auxv_words != here.auxv_words
            || self.task_size != here.task_size
            || self.xfeatures & !here.xfeatures != 0
        {
            return Err(FormatError::BadConstants);
        }
        Ok(())
    }
}

/// Size of the [`Task`] payload.
pub const TASK_PAYLOAD: usize = 168;

/// Identity of a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Task {
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

/// [`Task::flags`]: the task had `PR_SET_NO_NEW_PRIVS`.
pub const TASK_NO_NEW_PRIVS: u32 = 1;
/// [`Task::flags`]: the process's dumpability (`PR_GET_DUMPABLE`: 0, 1, or
/// 2 after a set-user-id `exec` with `fs.suid_dumpable` 2), in these bits.
pub const TASK_DUMPABLE_MASK: u32 = 3 << TASK_DUMPABLE_SHIFT;
/// Shift of [`TASK_DUMPABLE_MASK`].
pub const TASK_DUMPABLE_SHIFT: u32 = 1;

impl Task {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_record(buf, RecordType::Task, |w| {
            for v in [self.pid, self.tgid, self.ppid, self.pgid, self.sid] {
                w.i32(v);
            }
            w.u32(self.personality);
            w.u32(self.umask);
            w.u32(self.flags);
            for v in self.uids.iter().chain(self.gids.iter()) {
                w.u32(*v);
            }
            for v in self.caps {
                w.u64(v);
            }
            w.u32(self.securebits);
            w.u32(0);
            w.bytes(&self.comm);
            w.u64(self.clear_child_tid);
            w.u64(self.robust_list);
            w.u64(self.robust_list_len);
            w.u64(self.rseq);
            w.u32(self.rseq_len);
            w.u32(self.rseq_sig);
        })
    }

    /// Decodes the payload.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        if p.len() != TASK_PAYLOAD {
            return Err(FormatError::BadLength);
        }
        let mut c = Cursor::new(p);
        let mut t = Task {
            pid: c.i32()?,
            tgid: c.i32()?,
            ppid: c.i32()?,
            pgid: c.i32()?,
            sid: c.i32()?,
            personality: c.u32()?,
            umask: c.u32()?,
            flags: c.u32()?,
            ..Default::default()
        };
        for i in 0..4 {
            t.uids[i] = c.u32()?;
        }
        for i in 0..4 {
            t.gids[i] = c.u32()?;
        }
        for i in 0..5 {
            t.caps[i] = c.u64()?;
        }
        t.securebits = c.u32()?;
        c.pad32()?;
        t.comm.copy_from_slice(c.bytes(COMM_LEN)?);
        t.clear_child_tid = c.u64()?;
        t.robust_list = c.u64()?;
        t.robust_list_len = c.u64()?;
        t.rseq = c.u64()?;
        t.rseq_len = c.u32()?;
        t.rseq_sig = c.u32()?;
        c.finish()?;
        if t.pid <= 0 || t.tgid <= 0 || t.ppid < 0 || t.pgid < 0 || t.sid < 0 {
            return Err(FormatError::BadField);
        }
        if t.umask & !0o777 != 0
            || t.flags & !(TASK_NO_NEW_PRIVS | TASK_DUMPABLE_MASK) != 0
            || t.flags & TASK_DUMPABLE_MASK == TASK_DUMPABLE_MASK
        {
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

/// Size of one [`Tree`] entry.
pub const TREE_ENTRY: usize = 32;

/// [`TreeEntry::flags`]: the task is a zombie (exited, not yet reaped).
pub const TREE_ZOMBIE: u32 = 1;

/// One task of the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TreeEntry {
    /// Thread id (the pid, for a thread group leader).
    pub pid: i32,
    /// Thread group id.
    pub tgid: i32,
    /// Parent's tgid (the root's parent is outside the image).
    pub ppid: i32,
    /// Process group.
    pub pgid: i32,
    /// Session.
    pub sid: i32,
    /// `TREE_*` bits.
    pub flags: u32,
    /// Exit status of a zombie, as `wait()` reports it.
    pub exit_code: i32,
}

impl TreeEntry {
    /// Whether this is a thread group leader (a process).
    pub fn is_leader(&self) -> bool {
        self.pid == self.tgid
    }

    /// Whether this is a zombie.
    pub fn is_zombie(&self) -> bool {
        self.flags & TREE_ZOMBIE != 0
    }
}

/// Every task of an image, in tree order: each process (thread group
/// leader) is followed by its other threads, and comes after its parent.
/// The first entry is the root process. Zombies are single entries.
#[derive(Clone, Copy, Debug)]
pub struct Tree<'a> {
    raw: &'a [u8],
}

impl<'a> Tree<'a> {
    /// Encodes the record from a list of entries.
    pub fn encode(buf: &mut [u8], n: usize, entry: impl Fn(usize) -> TreeEntry) -> Option<usize> {
        encode_record(buf, RecordType::Tree, |w| {
            w.u32(n as u32);
            w.u32(0);
            for i in 0..n {
                let e = entry(i);
                for v in [e.pid, e.tgid, e.ppid, e.pgid, e.sid] {
                    w.i32(v);
                }
                w.u32(e.flags);
                w.i32(e.exit_code);
                w.u32(0);
            }
        })
    }

    /// Decodes and checks the payload: ids positive and unique, processes
    /// after their parent, threads right after their leader, zombies alone.
    pub fn decode(p: &'a [u8]) -> FResult<Self> {
        let mut c = Cursor::new(p);
        let n = c.u32()?;
        c.pad32()?;
        if n == 0 || n > MAX_TASKS {
            return Err(FormatError::BadField);
        }
        let raw = c.bytes(n as usize * TREE_ENTRY)?;
        c.finish()?;
        let t = Tree { raw };
        for i in 0..t.len() {
            let e = t.get(i);
            let mut pc = Cursor::new(&raw[i * TREE_ENTRY + 20..i * TREE_ENTRY + TREE_ENTRY]);
            pc.u32()?;
            pc.u32()?;
            pc.pad32()?;
            if e.pid <= 0 || e.tgid <= 0 || e.ppid < 0 || e.pgid < 0 || e.sid < 0 {
                return Err(FormatError::BadField);
            }
            if e.flags & !TREE_ZOMBIE != 0 || (e.is_zombie() && !e.is_leader()) {
                return Err(FormatError::BadField);
            }
            if !e.is_zombie() && e.exit_code != 0 {
                return Err(FormatError::BadField);
            }
            if (0..i).any(|j| t.get(j).pid == e.pid) {
                return Err(FormatError::BadField);
            }
            if i == 0 {
                if !e.is_leader() || e.is_zombie() {
                    return Err(FormatError::BadField);
                }
            } else if e.is_leader() {
                // A process: its parent is an earlier, live process.
                if !(0..i).any(|j| {
                    let p = t.get(j);
                    p.is_leader() && !p.is_zombie() && p.pid == e.ppid
                }) {
                    return Err(FormatError::BadField);
                }
            } else {
                // A thread: right after its leader or a sibling thread.
                let prev = t.get(i - 1);
                if prev.tgid != e.tgid || prev.is_zombie() || e.ppid != prev.ppid {
                    return Err(FormatError::BadField);
                }
            }
        }
        Ok(t)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.raw.len() / TREE_ENTRY
    }

    /// Whether there are none (never, once decoded).
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Entry `i`.
    pub fn get(&self, i: usize) -> TreeEntry {
        let b = &self.raw[i * TREE_ENTRY..(i + 1) * TREE_ENTRY];
        let w = |k: usize| i32::from_le_bytes([b[k * 4], b[k * 4 + 1], b[k * 4 + 2], b[k * 4 + 3]]);
        TreeEntry {
            pid: w(0),
            tgid: w(1),
            ppid: w(2),
            pgid: w(3),
            sid: w(4),
            flags: w(5) as u32,
            exit_code: w(6),
        }
    }

    /// Number of live (not zombie) processes.
    pub fn live_processes(&self) -> u32 {
        (0..self.len())
            .filter(|&i| {
                let e = self.get(i);
                e.is_leader() && !e.is_zombie()
            })
            .count() as u32
    }

    /// Number of live threads (leaders included).
    pub fn live_threads(&self) -> u32 {
        (0..self.len())
            .filter(|&i| !self.get(i).is_zombie())
            .count() as u32
    }
}

/// Size of the [`Thread`] payload.
pub const THREAD_PAYLOAD: usize = 96 + 24 + 8 * SCHED_CPU_WORDS;

/// Words of [`Sched::cpus`]: CPUs 0 to 1023.
pub const SCHED_CPU_WORDS: usize = 16;
/// `SCHED_NORMAL`.
pub const SCHED_NORMAL: u32 = 0;
/// `SCHED_FIFO`.
pub const SCHED_FIFO: u32 = 1;
/// `SCHED_RR`.
pub const SCHED_RR: u32 = 2;
/// `SCHED_BATCH`.
pub const SCHED_BATCH: u32 = 3;
/// `SCHED_IDLE`.
pub const SCHED_IDLE: u32 = 5;
/// [`Sched::flags`]: `SCHED_RESET_ON_FORK`.
pub const SCHED_RESET_ON_FORK: u32 = 1;

/// Scheduling state of a thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Sched {
    /// `SCHED_NORMAL`, `SCHED_FIFO`, `SCHED_RR`, `SCHED_BATCH` or
    /// `SCHED_IDLE`.
    pub policy: u32,
    /// Real-time priority: 1 to 99 for `SCHED_FIFO` and `SCHED_RR`, else 0.
    pub priority: u32,
    /// Nice value, -20 to 19.
    pub nice: i32,
    /// `SCHED_*` flag bits ([`SCHED_RESET_ON_FORK`]).
    pub flags: u32,
    /// I/O priority as `ioprio_get(2)` returns it for the thread, without
    /// the class derived from the nice value when none was set (class 0).
    pub ioprio: u32,
    /// CPU affinity, a bitmap of CPUs 0 to 1023; empty for every CPU there
    /// is (the default, which a restart on another machine keeps).
    pub cpus: [u64; SCHED_CPU_WORDS],
}

impl Sched {
    fn encode(&self, w: &mut Writer<'_>) {
        w.u32(self.policy);
        w.u32(self.priority);
        w.i32(self.nice);
        w.u32(self.flags);
        w.u32(self.ioprio);
        w.u32(0);
        for c in self.cpus {
            w.u64(c);
        }
    }

    fn decode(c: &mut Cursor<'_>) -> FResult<Self> {
        let mut s = Sched {
            policy: c.u32()?,
            priority: c.u32()?,
            nice: c.i32()?,
            flags: c.u32()?,
            ioprio: c.u32()?,
            ..Default::default()
        };
        c.pad32()?;
        for w in s.cpus.iter_mut() {
            *w = c.u64()?;
        }
        let rt = matches!(s.policy, SCHED_FIFO | SCHED_RR);
        if !matches!(
            s.policy,
            SCHED_NORMAL | SCHED_FIFO | SCHED_RR | SCHED_BATCH | SCHED_IDLE
        ) || (rt && !(1..=99).contains(&s.priority))
            || (!rt && s.priority != 0)
            || !(-20..=19).contains(&s.nice)
            || s.flags & !SCHED_RESET_ON_FORK != 0
            || s.ioprio >= 1 << 16
            || s.ioprio >> 13 > 3
        {
            return Err(FormatError::BadField);
        }
        Ok(s)
    }
}

/// Per-thread state (the rest is per process). Its [`Regs`] and [`Xstate`]
/// records follow it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Thread {
    /// Thread id.
    pub tid: i32,
    /// `PR_SET_PDEATHSIG` signal, 0 for none.
    pub pdeath_signal: u32,
    /// Blocked signal mask.
    pub blocked: u64,
    /// `sigaltstack`: `ss_sp`, `ss_size`, `ss_flags`.
    pub altstack: (u64, u64, u32),
    /// Thread name.
    pub comm: [u8; COMM_LEN],
    /// `set_tid_address(2)` pointer.
    pub clear_child_tid: u64,
    /// `set_robust_list(2)` head and length.
    pub robust_list: (u64, u64),
    /// Registered rseq area, length, signature (registered again by restart).
    pub rseq: (u64, u32, u32),
    /// Scheduling policy, priorities and CPU affinity.
    pub sched: Sched,
}

impl Thread {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_record(buf, RecordType::Thread, |w| {
            w.i32(self.tid);
            w.u32(self.pdeath_signal);
            w.u64(self.blocked);
            w.u64(self.altstack.0);
            w.u64(self.altstack.1);
            w.u32(self.altstack.2);
            w.u32(0);
            w.bytes(&self.comm);
            w.u64(self.clear_child_tid);
            w.u64(self.robust_list.0);
            w.u64(self.robust_list.1);
            w.u64(self.rseq.0);
            w.u32(self.rseq.1);
            w.u32(self.rseq.2);
            self.sched.encode(w);
        })
    }

    /// Decodes the payload.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        if p.len() != THREAD_PAYLOAD {
            return Err(FormatError::BadLength);
        }
        let mut c = Cursor::new(p);
        let tid = c.i32()?;
        let pdeath_signal = c.u32()?;
        let mut t = Thread {
            tid,
            pdeath_signal,
            blocked: c.u64()?,
            ..Default::default()
        };
        t.altstack = (c.u64()?, c.u64()?, c.u32()?);
        c.pad32()?;
        t.comm.copy_from_slice(c.bytes(COMM_LEN)?);
        t.clear_child_tid = c.u64()?;
        t.robust_list = (c.u64()?, c.u64()?);
        t.rseq = (c.u64()?, c.u32()?, c.u32()?);
        t.sched = Sched::decode(&mut c)?;
        c.finish()?;
        if tid <= 0 || t.comm[COMM_LEN - 1] != 0 || t.pdeath_signal > NSIG {
            return Err(FormatError::BadField);
        }
        if t.blocked & ((1u64 << 8) | (1u64 << 18)) != 0 {
            return Err(FormatError::BadField);
        }
        if t.altstack.2 & !(SS_DISABLE | SS_AUTODISARM) != 0 {
            return Err(FormatError::BadField);
        }
        Ok(t)
    }
}

/// Supplementary groups: a count and that many gids.
#[derive(Debug, Clone, Copy)]
pub struct Groups<'a> {
    raw: &'a [u8],
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
        let raw = c.bytes(4 * n as usize)?;
        c.finish()?;
        Ok(Self { raw })
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.raw.len() / 4
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The `i`th gid.
    pub fn get(&self, i: usize) -> u32 {
        let b = &self.raw[i * 4..i * 4 + 4];
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
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

/// Resource limits: `(cur, max)` for each of [`RLIM_NLIMITS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Rlimits {
    /// `(rlim_cur, rlim_max)`; `u64::MAX` is `RLIM_INFINITY`.
    pub lim: [(u64, u64); RLIM_NLIMITS as usize],
}

impl Rlimits {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_record(buf, RecordType::Rlimits, |w| {
            w.u32(RLIM_NLIMITS);
            w.u32(0);
            for (cur, max) in self.lim {
                w.u64(cur);
                w.u64(max);
            }
        })
    }

    /// Decodes the payload.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        let mut c = Cursor::new(p);
        if c.u32()? != RLIM_NLIMITS {
            return Err(FormatError::BadConstants);
        }
        c.pad32()?;
        let mut r = Rlimits::default();
        for l in r.lim.iter_mut() {
            *l = (c.u64()?, c.u64()?);
            if l.0 > l.1 {
                return Err(FormatError::BadField);
            }
        }
        c.finish()?;
        Ok(r)
    }
}

/// Indices into [`Regs::r`] (`struct user_regs_struct` order).
pub mod reg {
    #![allow(missing_docs)]
    pub const R15: usize = 0;
    pub const R14: usize = 1;
    pub const R13: usize = 2;
    pub const R12: usize = 3;
    pub const BP: usize = 4;
    pub const BX: usize = 5;
    pub const R11: usize = 6;
    pub const R10: usize = 7;
    pub const R9: usize = 8;
    pub const R8: usize = 9;
    pub const AX: usize = 10;
    pub const CX: usize = 11;
    pub const DX: usize = 12;
    pub const SI: usize = 13;
    pub const DI: usize = 14;
    pub const ORIG_AX: usize = 15;
    pub const IP: usize = 16;
    pub const CS: usize = 17;
    pub const FLAGS: usize = 18;
    pub const SP: usize = 19;
    pub const SS: usize = 20;
    pub const FS_BASE: usize = 21;
    pub const GS_BASE: usize = 22;
    pub const DS: usize = 23;
    pub const ES: usize = 24;
    pub const FS: usize = 25;
    pub const GS: usize = 26;
    /// Register names, for `crctl info`.
    pub const NAMES: [&str; super::NR_GREGS] = [
        "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx",
        "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds",
        "es", "fs", "gs",
    ];
}

/// General purpose registers, in `struct user_regs_struct` order, as the task
/// will see them when it next runs in user space (an interrupted restartable
/// system call is already rewound; see the spec).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Regs {
    /// Register words.
    pub r: [u64; NR_GREGS],
    /// Bit 0: the task was interrupted in a system call (informational).
    pub flags: u32,
}

/// [`Regs::flags`]: the task was in a system call when checkpointed.
pub const REGS_IN_SYSCALL: u32 = 1;
/// [`Regs::flags`]: that system call will return `-EINTR` on restart.
pub const REGS_SYSCALL_EINTR: u32 = 2;

impl Regs {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_record(buf, RecordType::Regs, |w| {
            for v in self.r {
                w.u64(v);
            }
            w.u32(self.flags);
            w.u32(0);
        })
    }

    /// Decodes the payload. Which values the running kernel accepts is the
    /// restorer's business (it knows the segment selectors).
    pub fn decode(p: &[u8]) -> FResult<Self> {
        if p.len() != 8 * NR_GREGS + 8 {
            return Err(FormatError::BadLength);
        }
        let mut c = Cursor::new(p);
        let mut r = [0u64; NR_GREGS];
        for v in r.iter_mut() {
            *v = c.u64()?;
        }
        let flags = c.u32()?;
        c.pad32()?;
        if flags & !(REGS_IN_SYSCALL | REGS_SYSCALL_EINTR) != 0 {
            return Err(FormatError::BadField);
        }
        Ok(Regs { r, flags })
    }
}

/// FPU/SSE/AVX state: the x86 `XSTATE` regset (standard, non-compacted xsave
/// layout with the software-reserved bytes), `size` bytes.
pub struct Xstate<'a> {
    /// The xsave area.
    pub area: &'a [u8],
}

impl<'a> Xstate<'a> {
    /// Encodes the record.
    pub fn encode(buf: &mut [u8], area: &[u8]) -> Option<usize> {
        encode_record(buf, RecordType::Xstate, |w| {
            w.u32(area.len() as u32);
            w.u32(0);
            w.bytes(area);
        })
    }

    /// Decodes the payload; `size` is the header's `xstate_size`.
    pub fn decode(p: &'a [u8], size: u32) -> FResult<Self> {
        let mut c = Cursor::new(p);
        if c.u32()? != size {
            return Err(FormatError::BadField);
        }
        c.pad32()?;
        let area = c.bytes(size as usize)?;
        c.finish()?;
        Ok(Self { area })
    }

    /// `xstate_bv` from the xsave header (bytes 512..520), 0 if absent.
    pub fn xstate_bv(&self) -> u64 {
        match self.area.get(512..520) {
            Some(b) => {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                u64::from_le_bytes(a)
            }
            None => 0,
        }
    }
}

/// Size of the [`Signals`] payload.
pub const SIGNALS_PAYLOAD: usize = 32 + 32 * NSIG as usize;

/// One signal's disposition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SigAction {
    /// Handler address, or 0 (`SIG_DFL`), 1 (`SIG_IGN`).
    pub handler: u64,
    /// `SA_*` flags.
    pub flags: u64,
    /// `sa_restorer`.
    pub restorer: u64,
    /// `sa_mask`.
    pub mask: u64,
}

/// Signal state of a task, as a view of a record payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signals<'a> {
    /// Blocked mask (bit `n - 1` for signal `n`).
    pub blocked: u64,
    /// `sigaltstack`: `ss_sp`.
    pub altstack_sp: u64,
    /// `sigaltstack`: `ss_size`.
    pub altstack_size: u64,
    /// `sigaltstack`: `ss_flags` (`SS_AUTODISARM` or 0; `SS_DISABLE` if none).
    pub altstack_flags: u32,
    /// The [`NSIG`] dispositions, 32 bytes each.
    raw: &'a [u8],
}

/// `SS_DISABLE`.
pub const SS_DISABLE: u32 = 2;
/// `SS_AUTODISARM`.
pub const SS_AUTODISARM: u32 = 1 << 31;

impl<'a> Signals<'a> {
    /// Encodes the record; `action(i)` gives the disposition of signal
    /// `i + 1`. (A view plus a callback keeps the 2 KiB table off the
    /// kernel stack.)
    pub fn encode(
        buf: &mut [u8],
        blocked: u64,
        altstack: (u64, u64, u32),
        action: impl Fn(usize) -> SigAction,
    ) -> Option<usize> {
        encode_record(buf, RecordType::Signals, |w| {
            w.u64(blocked);
            w.u64(altstack.0);
            w.u64(altstack.1);
            w.u32(altstack.2);
            w.u32(0);
            for i in 0..NSIG as usize {
                let a = action(i);
                w.u64(a.handler);
                w.u64(a.flags);
                w.u64(a.restorer);
                w.u64(a.mask);
            }
        })
    }

    /// Decodes the payload.
    pub fn decode(p: &'a [u8]) -> FResult<Self> {
        if p.len() != SIGNALS_PAYLOAD {
            return Err(FormatError::BadLength);
        }
        let mut c = Cursor::new(p);
        let s = Signals {
            blocked: c.u64()?,
            altstack_sp: c.u64()?,
            altstack_size: c.u64()?,
            altstack_flags: c.u32()?,
            raw: &p[32..],
        };
        c.pad32()?;
        // SIGKILL (9) and SIGSTOP (19) can be neither blocked nor caught.
        let unblockable = (1u64 << 8) | (1u64 << 18);
        if s.blocked & unblockable != 0 {
            return Err(FormatError::BadField);
        }
        if s.action(8) != SigAction::default() || s.action(18) != SigAction::default() {
            return Err(FormatError::BadField);
        }
        if s.altstack_flags & !(SS_DISABLE | SS_AUTODISARM) != 0 {
            return Err(FormatError::BadField);
        }
        Ok(s)
    }

    /// Disposition of signal `i + 1` (`i < NSIG`).
    pub fn action(&self, i: usize) -> SigAction {
        let w = |k: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&self.raw[i * 32 + k * 8..i * 32 + k * 8 + 8]);
            u64::from_le_bytes(a)
        };
        SigAction {
            handler: w(0),
            flags: w(1),
            restorer: w(2),
            mask: w(3),
        }
    }
}

/// Size of the fixed part of the [`Mm`] payload.
pub const MM_FIXED: usize = 11 * 8 + 8;

/// Address space layout of a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mm<'a> {
    /// `start_code, end_code, start_data, end_data, start_brk, brk,
    /// start_stack, arg_start, arg_end, env_start, env_end`.
    pub layout: [u64; 11],
    /// Number of [`Vma`] records that follow.
    pub nr_vmas: u32,
    /// Saved auxiliary vector, raw little-endian words.
    pub auxv: &'a [u8],
    /// Path of the executable (may be empty if it had none).
    pub exe: &'a [u8],
}

/// Names of [`Mm::layout`] words.
pub const MM_LAYOUT_NAMES: [&str; 11] = [
    "start_code",
    "end_code",
    "start_data",
    "end_data",
    "start_brk",
    "brk",
    "start_stack",
    "arg_start",
    "arg_end",
    "env_start",
    "env_end",
];

impl<'a> Mm<'a> {
    /// Encodes the record; `auxv` is given as words.
    pub fn encode(
        buf: &mut [u8],
        layout: &[u64; 11],
        nr_vmas: u32,
        auxv: &[u64],
        exe: &[u8],
    ) -> Option<usize> {
        encode_record(buf, RecordType::Mm, |w| {
            for v in layout {
                w.u64(*v);
            }
            w.u32(nr_vmas);
            w.u32(auxv.len() as u32);
            for v in auxv {
                w.u64(*v);
            }
            w.path(exe);
        })
    }

    /// Decodes the payload; `auxv_words` and `task_size` come from the header.
    pub fn decode(p: &'a [u8], auxv_words: u32, task_size: u64) -> FResult<Self> {
        let mut c = Cursor::new(p);
        let mut layout = [0u64; 11];
        for v in layout.iter_mut() {
            *v = c.u64()?;
            if *v > task_size {
                return Err(FormatError::BadField);
            }
        }
        let nr_vmas = c.u32()?;
        let n = c.u32()?;
        if nr_vmas == 0 || nr_vmas > MAX_VMAS || n != auxv_words {
            return Err(FormatError::BadField);
        }
        let auxv = c.bytes(8 * n as usize)?;
        let exe = c.path(true)?;
        c.finish()?;
        if !exe.is_empty() && exe[0] != b'/' {
            return Err(FormatError::BadPath);
        }
        let [sc, ec, sd, ed, sb, b, _ss, as_, ae, es, ee] = layout;
        if sc > ec || sd > ed || sb > b || as_ > ae || es > ee {
            return Err(FormatError::BadField);
        }
        Ok(Mm {
            layout,
            nr_vmas,
            auxv,
            exe,
        })
    }

    /// The `i`th auxv word.
    pub fn auxv_word(&self, i: usize) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&self.auxv[i * 8..i * 8 + 8]);
        u64::from_le_bytes(a)
    }
}

/// What backs a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum VmaKind {
    /// Private anonymous memory (including heap and stack).
    Anon = 1,
    /// Private mapping of a file: the file by path, plus pages that were
    /// written (copy-on-write).
    FilePrivate = 2,
    /// Shared mapping of a file: the file by path, no pages (they are in the file).
    FileShared = 3,
    /// Shared anonymous memory: pages saved.
    AnonShared = 4,
    /// `[vdso]`: provided by the kernel, must be at the same address.
    Vdso = 5,
    /// `[vvar]`: provided by the kernel.
    Vvar = 6,
    /// `[vvar_vclock]`: provided by the kernel.
    VvarVclock = 7,
}

impl VmaKind {
    /// Decodes a kind.
    pub fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            1 => Self::Anon,
            2 => Self::FilePrivate,
            3 => Self::FileShared,
            4 => Self::AnonShared,
            5 => Self::Vdso,
            6 => Self::Vvar,
            7 => Self::VvarVclock,
            _ => return None,
        })
    }

    /// Name used by `crctl info`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Anon => "anon",
            Self::FilePrivate => "file-private",
            Self::FileShared => "file-shared",
            Self::AnonShared => "anon-shared",
            Self::Vdso => "vdso",
            Self::Vvar => "vvar",
            Self::VvarVclock => "vvar_vclock",
        }
    }

    /// Whether the mapping is backed by a file named in the record.
    pub fn has_path(self) -> bool {
        matches!(self, Self::FilePrivate | Self::FileShared)
    }

    /// Whether the kernel provides it (no pages, same address required).
    pub fn is_special(self) -> bool {
        matches!(self, Self::Vdso | Self::Vvar | Self::VvarVclock)
    }
}

/// `PROT_READ`.
pub const PROT_READ: u32 = 1;
/// `PROT_WRITE`.
pub const PROT_WRITE: u32 = 2;
/// `PROT_EXEC`.
pub const PROT_EXEC: u32 = 4;
/// [`Vma::flags`]: the mapping grows down (a stack, `MAP_GROWSDOWN`).
pub const VMA_GROWSDOWN: u32 = 1;
/// [`Vma::flags`]: no swap space reserved (`MAP_NORESERVE`, `VM_NORESERVE`).
pub const VMA_NORESERVE: u32 = 2;
/// [`Vma::flags`]: not inherited by a child (`MADV_DONTFORK`).
pub const VMA_DONTFORK: u32 = 4;
/// [`Vma::flags`]: a child gets zeroes (`MADV_WIPEONFORK`; private anonymous
/// memory only).
pub const VMA_WIPEONFORK: u32 = 8;
/// [`Vma::flags`]: left out of core dumps (`MADV_DONTDUMP`).
pub const VMA_DONTDUMP: u32 = 16;
/// [`Vma::flags`]: `MADV_HUGEPAGE`.
pub const VMA_HUGEPAGE: u32 = 32;
/// [`Vma::flags`]: `MADV_NOHUGEPAGE`.
pub const VMA_NOHUGEPAGE: u32 = 64;
/// [`Vma::flags`]: soft-dirty tracking sees the whole mapping as written
/// (`VM_SOFTDIRTY`, what a new mapping has until `clear_refs` clears it).
pub const VMA_SOFTDIRTY: u32 = 128;
/// [`Vma::flags`]: a private mapping charged to the commit limit
/// (`VM_ACCOUNT`), which it keeps after `mprotect` takes its write
/// permission away (a RELRO segment).
pub const VMA_ACCOUNT: u32 = 256;
/// Every [`Vma::flags`] bit.
pub const VMA_FLAGS: u32 = VMA_GROWSDOWN
    | VMA_SOFTDIRTY
    | VMA_ACCOUNT
    | VMA_NORESERVE
    | VMA_DONTFORK
    | VMA_WIPEONFORK
    | VMA_DONTDUMP
    | VMA_HUGEPAGE
    | VMA_NOHUGEPAGE;
/// The [`Vma::flags`] that restart applies after mapping (`madvise` state).
pub const VMA_ADVICE: u32 =
    VMA_DONTFORK | VMA_WIPEONFORK | VMA_DONTDUMP | VMA_HUGEPAGE | VMA_NOHUGEPAGE;

/// Size of the fixed part of the [`Vma`] payload.
pub const VMA_FIXED: usize = 56;

/// One mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vma<'a> {
    /// First address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
    /// File offset in pages (file mappings), else 0.
    pub pgoff: u64,
    /// The kernel's `vm_flags` at checkpoint (informational).
    pub vm_flags: u64,
    /// Number of pages whose contents follow in [`PagesHeader`] records.
    pub nr_pages: u64,
    /// `PROT_*` bits.
    pub prot: u32,
    /// [`VmaKind`].
    pub kind: VmaKind,
    /// `VMA_*` bits.
    pub flags: u32,
    /// Shared anonymous memory: which object (the same id in several VMAs,
    /// possibly of several processes, is the same memory), from 1; else 0.
    pub shm_id: u32,
    /// Backing file path (file kinds), else empty.
    pub path: &'a [u8],
}

impl<'a> Vma<'a> {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_record(buf, RecordType::Vma, |w| {
            w.u64(self.start);
            w.u64(self.end);
            w.u64(self.pgoff);
            w.u64(self.vm_flags);
            w.u64(self.nr_pages);
            w.u32(self.prot);
            w.u32(self.kind as u32);
            w.u32(self.flags);
            w.u32(self.shm_id);
            w.path(self.path);
        })
    }

    /// Decodes the payload, checking it on its own: page alignment, the user
    /// address space, known bits, a path exactly for file kinds, and at most
    /// as many pages as it spans (none for kinds without saved pages).
    pub fn decode(p: &'a [u8], page_size: u32, task_size: u64) -> FResult<Self> {
        let mut c = Cursor::new(p);
        let start = c.u64()?;
        let end = c.u64()?;
        let pgoff = c.u64()?;
        let vm_flags = c.u64()?;
        let nr_pages = c.u64()?;
        let prot = c.u32()?;
        let kind = VmaKind::from_u32(c.u32()?).ok_or(FormatError::BadField)?;
        let flags = c.u32()?;
        let shm_id = c.u32()?;
        let path = c.path(true)?;
        c.finish()?;
        let ps = u64::from(page_size);
        if page_offset(start, ps) != 0
            || page_offset(end, ps) != 0
            || start >= end
            || end > task_size
        {
            return Err(FormatError::BadVma);
        }
        if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC) != 0 || flags & !VMA_FLAGS != 0 {
            return Err(FormatError::BadField);
        }
        let private = matches!(kind, VmaKind::Anon | VmaKind::FilePrivate);
        if (flags & VMA_WIPEONFORK != 0 && kind != VmaKind::Anon)
            || (flags & VMA_ACCOUNT != 0 && !private)
            || flags & (VMA_HUGEPAGE | VMA_NOHUGEPAGE) == VMA_HUGEPAGE | VMA_NOHUGEPAGE
            || (kind.is_special() && flags != 0)
        {
            return Err(FormatError::BadField);
        }
        if kind.has_path() == path.is_empty() || (!path.is_empty() && path[0] != b'/') {
            return Err(FormatError::BadPath);
        }
        let shared_anon = kind == VmaKind::AnonShared;
        if (!kind.has_path() && !shared_anon && pgoff != 0) || shared_anon == (shm_id == 0) {
            return Err(FormatError::BadField);
        }
        if pgoff > to_pages(u64::MAX, ps) - to_pages(end - start, ps) {
            return Err(FormatError::BadField);
        }
        let span = to_pages(end - start, ps);
        let may_have_pages = matches!(
            kind,
            VmaKind::Anon | VmaKind::FilePrivate | VmaKind::AnonShared
        );
        if nr_pages > span || (!may_have_pages && nr_pages != 0) {
            return Err(FormatError::BadPages);
        }
        Ok(Vma {
            start,
            end,
            pgoff,
            vm_flags,
            nr_pages,
            prot,
            kind,
            flags,
            shm_id,
            path,
        })
    }
}

/// Size of the fixed part of the [`FileRec`] payload.
pub const FILE_FIXED: usize = 32;

/// How a file descriptor comes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum FileKind {
    /// Inherited from the restarting process (a terminal or pipe on fd 0-2).
    Inherit = 1,
    /// A regular file, reopened by path.
    Regular = 2,
    /// `/dev/null`.
    DevNull = 3,
    /// `/dev/zero`.
    DevZero = 4,
}

impl FileKind {
    /// Decodes a kind.
    pub fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            1 => Self::Inherit,
            2 => Self::Regular,
            3 => Self::DevNull,
            4 => Self::DevZero,
            _ => return None,
        })
    }

    /// Name used by `crctl info`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Inherit => "inherit",
            Self::Regular => "regular",
            Self::DevNull => "devnull",
            Self::DevZero => "devzero",
        }
    }
}

/// [`FileRec::fd_flags`]: close-on-exec.
pub const FD_CLOEXEC: u32 = 1;

/// Status flags a file is reopened with: `O_ACCMODE | O_APPEND | O_NONBLOCK
/// | O_DSYNC | O_DIRECT | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_NOATIME
/// | O_SYNC`. Never `O_CREAT`, `O_TRUNC` or `O_EXCL`.
pub const FILE_OPEN_FLAGS: u32 = 0o3
    | 0o2000
    | 0o4000
    | 0o10000
    | 0o40000
    | 0o100000
    | 0o200000
    | 0o400000
    | 0o1000000
    | 0o4010000;

/// One open file descriptor and the open file description it refers to.
///
/// Descriptors that share one open file description (made by `dup()`, or
/// inherited across `fork()`), in one process or several, carry the same
/// [`FileRec::id`] and identical description fields (`kind`, `open_flags`,
/// `pos`, `path`): restart opens the file once and installs it at each of
/// them, so they share an offset and status flags again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileRec<'a> {
    /// Descriptor number.
    pub fd: u32,
    /// Open file description, numbered from 1 across the image in order of
    /// first appearance.
    pub id: u32,
    /// [`FileKind`].
    pub kind: FileKind,
    /// `O_*` status flags (within [`FILE_OPEN_FLAGS`]).
    pub open_flags: u32,
    /// `FD_*` descriptor flags.
    pub fd_flags: u32,
    /// File position.
    pub pos: u64,
    /// Path (regular files), else empty.
    pub path: &'a [u8],
}

impl<'a> FileRec<'a> {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_record(buf, RecordType::File, |w| {
            w.u32(self.fd);
            w.u32(self.kind as u32);
            w.u32(self.open_flags);
            w.u32(self.fd_flags);
            w.u64(self.pos);
            w.u32(self.id);
            w.u32(0);
            w.path(self.path);
        })
    }

    /// Decodes the payload.
    pub fn decode(p: &'a [u8]) -> FResult<Self> {
        let mut c = Cursor::new(p);
        let fd = c.u32()?;
        let kind = FileKind::from_u32(c.u32()?).ok_or(FormatError::BadField)?;
        let open_flags = c.u32()?;
        let fd_flags = c.u32()?;
        let pos = c.u64()?;
        let id = c.u32()?;
        let pad = c.u32()?;
        let path = c.path(true)?;
        c.finish()?;
        if id == 0 || pad != 0 {
            return Err(FormatError::BadField);
        }
        if fd >= (1 << 20) || open_flags & !FILE_OPEN_FLAGS != 0 || fd_flags & !FD_CLOEXEC != 0 {
            return Err(FormatError::BadField);
        }
        if pos > i64::MAX as u64 {
            return Err(FormatError::BadField);
        }
        if (kind == FileKind::Regular) == path.is_empty() || (!path.is_empty() && path[0] != b'/') {
            return Err(FormatError::BadPath);
        }
        if kind == FileKind::Inherit && fd > 2 {
            return Err(FormatError::BadField);
        }
        Ok(FileRec {
            fd,
            id,
            kind,
            open_flags,
            fd_flags,
            pos,
            path,
        })
    }
}

/// End of metadata: a checksum of every byte before this record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetaEnd {
    /// [`Checksum`] of the image up to this record.
    pub checksum: u64,
    /// Total number of pages in the [`PagesHeader`] records that follow.
    pub total_pages: u64,
}

impl MetaEnd {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_record(buf, RecordType::MetaEnd, |w| {
            w.u64(self.checksum);
            w.u64(self.total_pages);
        })
    }

    /// Decodes the payload.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        if p.len() != 16 {
            return Err(FormatError::BadLength);
        }
        let mut c = Cursor::new(p);
        Ok(MetaEnd {
            checksum: c.u64()?,
            total_pages: c.u64()?,
        })
    }
}

/// Size of the fixed part of a pages record.
pub const PAGES_FIXED: usize = 16;

/// A run of pages: `npages` pages at `addr`, whose contents follow the
/// header in the same record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PagesHeader {
    /// Address of the first page.
    pub addr: u64,
    /// Number of pages.
    pub npages: u32,
    /// Which process (index among the image's live processes, in tree
    /// order) the pages belong to.
    pub proc_idx: u32,
}

impl PagesHeader {
    /// Encodes the record header and the fixed part (page data follows,
    /// written by the caller).
    pub fn encode(&self, buf: &mut [u8], page_size: u32) -> Option<usize> {
        let total = RECORD_HEADER_SIZE + PAGES_FIXED + self.npages as usize * page_size as usize;
        let mut w = Writer::new(buf);
        w.u32(RecordType::Pages as u32);
        w.u32(u32::try_from(total).ok()?);
        w.u64(self.addr);
        w.u32(self.npages);
        w.u32(self.proc_idx);
        w.finish()
    }

    /// Decodes the fixed part.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        let mut c = Cursor::new(p);
        let addr = c.u64()?;
        let npages = c.u32()?;
        let proc_idx = c.u32()?;
        if npages == 0 || npages > MAX_PAGES_PER_RECORD {
            return Err(FormatError::BadPages);
        }
        Ok(PagesHeader {
            addr,
            npages,
            proc_idx,
        })
    }
}

/// End of image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tail {
    /// [`Checksum`] of every byte before this record.
    pub checksum: u64,
    /// Total image length including this record.
    pub total_len: u64,
    /// Number of records including header and tail.
    pub nr_records: u64,
}

impl Tail {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_record(buf, RecordType::Tail, |w| {
            w.u64(self.checksum);
            w.u64(self.total_len);
            w.u64(self.nr_records);
        })
    }

    /// Decodes the payload.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        if p.len() != 24 {
            return Err(FormatError::BadLength);
        }
        let mut c = Cursor::new(p);
        Ok(Tail {
            checksum: c.u64()?,
            total_len: c.u64()?,
            nr_records: c.u64()?,
        })
    }
}

// ---------------------------------------------------------------------------
// Validation of a whole image, one record at a time.

/// Where the image is in its fixed record order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Magic,
    Header,
    Tree,
    /// Expecting the task record that opens a process section.
    Process,
    /// A process's singleton records.
    Meta,
    Vmas,
    Files,
    /// After a thread record: its regs record.
    ThreadRegs,
    /// After a thread's regs: its xstate record.
    ThreadXstate,
    /// After a complete thread: another thread, the next process, or the
    /// metadata end.
    Threads,
    Pages,
    Done,
}

/// A decoded record, as [`Validator::record`] returns it. Borrowed parts
/// point into the payload passed in.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // Short-lived, on the stack, never stored.
pub enum Record<'a> {
    /// [`Header`].
    Header(Header),
    /// [`Tree`].
    Tree(Tree<'a>),
    /// [`Task`]: starts a process section.
    Task(Task),
    /// [`Groups`].
    Groups(Groups<'a>),
    /// Working directory path.
    Cwd(&'a [u8]),
    /// [`Rlimits`].
    Rlimits(Rlimits),
    /// [`Thread`].
    Thread(Thread),
    /// [`Regs`] of the last thread.
    Regs(Regs),
    /// xsave area of the last thread.
    Xstate(&'a [u8]),
    /// [`Signals`].
    Signals(Signals<'a>),
    /// [`Mm`].
    Mm(Mm<'a>),
    /// [`Vma`] and its index in its process.
    Vma(Vma<'a>, u32),
    /// [`FileRec`].
    File(FileRec<'a>),
    /// [`MetaEnd`].
    MetaEnd(MetaEnd),
    /// [`PagesHeader`]: its page data (`npages * page_size` bytes) follows
    /// and must be fed to [`Validator::page_data`].
    Pages(PagesHeader),
    /// [`Tail`].
    Tail(Tail),
}

/// Checks an image as it streams by: record order, lengths, every field,
/// the task tree, each process's VMA list (sorted, disjoint), that page runs
/// are sorted by process and address, inside the user address space and add
/// up to the VMAs' total, and both checksums. Being allocation-free it keeps
/// no tables: callers that do (the kernel restorer, `crctl info`, the
/// fuzzer) also check that each process and thread record matches its tree
/// entry and each page run its VMA (with [`pages_in`]), so all three accept
/// exactly the same images.
///
/// Usage: feed the 8 magic bytes to [`Validator::magic`], then for each
/// record its 8-byte header to [`Validator::record_header`] (which says how
/// many payload bytes to read), then the payload to [`Validator::record`]
/// (and page data, for pages records, to [`Validator::page_data`]), until
/// [`Validator::done`].
pub struct Validator {
    phase: Phase,
    offset: u64,
    ck: Checksum,
    hdr: Option<Header>,
    cur_ty: Option<RecordType>,
    cur_len: u32,
    /// Singleton records seen in the current process section.
    seen: u32,
    nr_vmas: u32,
    vmas_seen: u32,
    last_vma_end: u64,
    last_fd: i64,
    /// Highest [`FileRec::id`] so far: a new one is the next number.
    last_file_id: u32,
    /// Live processes and threads the tree announced, and seen so far.
    procs_expected: u32,
    procs_seen: u32,
    threads_expected: u32,
    threads_seen: u32,
    /// Threads seen in the current process.
    proc_threads: u32,
    pages_declared: u64,
    pages_seen: u64,
    last_page: (u32, u64),
    records: u64,
    page_bytes_left: u64,
    ck_at_record: u64,
}

/// Bit of [`Validator`]'s `seen` set per singleton record type of a process.
fn seen_bit(ty: RecordType) -> u32 {
    match ty {
        RecordType::Groups => 1,
        RecordType::Cwd => 2,
        RecordType::Rlimits => 4,
        RecordType::Signals => 8,
        RecordType::Mm => 16,
        _ => 0,
    }
}

/// Singleton records every process must have before its VMAs.
const REQUIRED_META: u32 = 1 | 2 | 4 | 8 | 16;

impl Default for Validator {
    fn default() -> Self {
        Self::new()
    }
}

impl Validator {
    /// A validator at the start of an image.
    pub fn new() -> Self {
        Self {
            phase: Phase::Magic,
            offset: 0,
            ck: Checksum::new(),
            hdr: None,
            cur_ty: None,
            cur_len: 0,
            seen: 0,
            nr_vmas: 0,
            vmas_seen: 0,
            last_vma_end: 0,
            last_fd: -1,
            last_file_id: 0,
            procs_expected: 0,
            procs_seen: 0,
            threads_expected: 0,
            threads_seen: 0,
            proc_threads: 0,
            pages_declared: 0,
            pages_seen: 0,
            last_page: (0, 0),
            records: 0,
            page_bytes_left: 0,
            ck_at_record: 0,
        }
    }

    /// Byte offset of the next byte expected: where an error was found.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The image header, once seen.
    pub fn header(&self) -> Option<&Header> {
        self.hdr.as_ref()
    }

    /// Whether the tail has been validated.
    pub fn done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Whether metadata is complete ([`MetaEnd`] validated).
    pub fn meta_done(&self) -> bool {
        matches!(self.phase, Phase::Pages | Phase::Done)
    }

    /// Index of the current process section (valid while in one).
    pub fn proc_index(&self) -> u32 {
        self.procs_seen.saturating_sub(1)
    }

    fn consume(&mut self, b: &[u8]) {
        self.ck.update(b);
        self.offset += b.len() as u64;
    }

    /// Validates the magic.
    pub fn magic(&mut self, b: &[u8; 8]) -> FResult<()> {
        if self.phase != Phase::Magic {
            return Err(FormatError::BadOrder);
        }
        if *b != MAGIC {
            return Err(FormatError::BadMagic);
        }
        self.consume(b);
        self.phase = Phase::Header;
        Ok(())
    }

    /// Validates a record header; returns the record type and how many
    /// payload bytes to read and pass to [`Validator::record`] (for pages
    /// records, only the fixed part; the data goes to `page_data`).
    pub fn record_header(&mut self, b: &[u8; 8]) -> FResult<(RecordType, usize)> {
        if self.page_bytes_left != 0 || self.cur_ty.is_some() {
            return Err(FormatError::BadOrder);
        }
        if self.phase == Phase::Done {
            return Err(FormatError::TrailingData);
        }
        let h = RecordHeader::decode(b);
        let ty = RecordType::from_u32(h.ty).ok_or(FormatError::UnknownRecord)?;
        let len = h.len as usize;
        if len % 8 != 0 || len < RECORD_HEADER_SIZE {
            return Err(FormatError::BadLength);
        }
        let payload = if ty == RecordType::Pages {
            let ps = self
                .hdr
                .map(|h| h.page_size as usize)
                .ok_or(FormatError::BadOrder)?;
            let data = len
                .checked_sub(RECORD_HEADER_SIZE + PAGES_FIXED)
                .ok_or(FormatError::BadLength)?;
            if data == 0
                || page_offset(data as u64, ps as u64) != 0
                || to_pages(data as u64, ps as u64) > u64::from(MAX_PAGES_PER_RECORD)
            {
                return Err(FormatError::BadLength);
            }
            PAGES_FIXED
        } else {
            if len > ty.max_len() {
                return Err(FormatError::BadLength);
            }
            len - RECORD_HEADER_SIZE
        };
        self.check_order(ty)?;
        if matches!(ty, RecordType::MetaEnd | RecordType::Tail) {
            self.ck_at_record = self.ck.value();
        }
        self.consume(b);
        self.cur_ty = Some(ty);
        self.cur_len = h.len;
        Ok((ty, payload))
    }

    fn check_order(&self, ty: RecordType) -> FResult<()> {
        use RecordType as T;
        let procs_left = self.procs_seen < self.procs_expected;
        let all_threads = self.threads_seen == self.threads_expected;
        let ok = match (self.phase, ty) {
            (Phase::Magic, _) => false,
            (Phase::Header, T::Header) => true,
            (Phase::Header, _) => false,
            (_, T::Header) => return Err(FormatError::Duplicate),
            (Phase::Tree, T::Tree) => true,
            (Phase::Tree, _) => return Err(FormatError::Missing),
            (_, T::Tree) => return Err(FormatError::Duplicate),
            (Phase::Process, T::Task) => true,
            (Phase::Meta, t) if seen_bit(t) != 0 => {
                if self.seen & seen_bit(t) != 0 {
                    return Err(FormatError::Duplicate);
                }
                true
            }
            (Phase::Meta, T::Vma) => {
                if self.seen & REQUIRED_META != REQUIRED_META {
                    return Err(FormatError::Missing);
                }
                true
            }
            (Phase::Vmas, T::Vma) => self.vmas_seen < self.nr_vmas,
            (Phase::Vmas, T::File | T::Thread) => {
                if self.vmas_seen != self.nr_vmas {
                    return Err(FormatError::Missing);
                }
                true
            }
            (Phase::Files, T::File | T::Thread) => true,
            (Phase::ThreadRegs, T::Regs) => true,
            (Phase::ThreadRegs, _) => return Err(FormatError::Missing),
            (Phase::ThreadXstate, T::Xstate) => true,
            (Phase::ThreadXstate, _) => return Err(FormatError::Missing),
            (Phase::Threads, T::Thread) => self.threads_seen < self.threads_expected,
            (Phase::Threads, T::Task) => procs_left,
            (Phase::Threads, T::MetaEnd) => {
                if procs_left || !all_threads {
                    return Err(FormatError::Missing);
                }
                true
            }
            (Phase::Pages, T::Pages | T::Tail) => true,
            (Phase::Meta | Phase::Vmas | Phase::Files | Phase::Process, T::MetaEnd) => {
                return Err(FormatError::Missing)
            }
            (_, t) if seen_bit(t) != 0 => return Err(FormatError::Duplicate),
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(FormatError::BadOrder)
        }
    }

    /// Validates a record payload (exactly the length
    /// [`Validator::record_header`] returned) and decodes it.
    pub fn record<'a>(&mut self, p: &'a [u8]) -> FResult<Record<'a>> {
        let ty = self.cur_ty.ok_or(FormatError::BadOrder)?;
        // MetaEnd and Tail carry checksums of what came before them.
        let ck_before = self.ck_at_record;
        let offset_before = self.offset - RECORD_HEADER_SIZE as u64;
        let rec = self.decode(ty, p, ck_before, offset_before)?;
        self.consume(p);
        self.records += 1;
        self.cur_ty = None;
        if let Record::Pages(ph) = rec {
            let ps = self.hdr.map(|h| u64::from(h.page_size)).unwrap_or(4096);
            self.page_bytes_left = u64::from(ph.npages) * ps;
        }
        Ok(rec)
    }

    fn decode<'a>(
        &mut self,
        ty: RecordType,
        p: &'a [u8],
        ck_before: u64,
        offset_before: u64,
    ) -> FResult<Record<'a>> {
        let hdr = self.hdr;
        let page_size = hdr.map(|h| h.page_size).unwrap_or(4096);
        let task_size = hdr.map(|h| h.task_size).unwrap_or(0);
        let rec = match ty {
            RecordType::Header => {
                let h = Header::decode(p)?;
                self.hdr = Some(h);
                self.phase = Phase::Tree;
                Record::Header(h)
            }
            RecordType::Tree => {
                let t = Tree::decode(p)?;
                if Some(t.len() as u32) != hdr.map(|h| h.nr_tasks) {
                    return Err(FormatError::BadField);
                }
                self.procs_expected = t.live_processes();
                self.threads_expected = t.live_threads();
                self.phase = Phase::Process;
                Record::Tree(t)
            }
            RecordType::Task => {
                let t = Task::decode(p)?;
                if self.procs_seen > 0 && self.proc_threads == 0 {
                    return Err(FormatError::Missing);
                }
                self.procs_seen += 1;
                self.proc_threads = 0;
                self.seen = 0;
                self.nr_vmas = 0;
                self.vmas_seen = 0;
                self.last_vma_end = 0;
                self.last_fd = -1;
                self.phase = Phase::Meta;
                Record::Task(t)
            }
            RecordType::Groups => Record::Groups(Groups::decode(p)?),
            RecordType::Cwd => {
                let mut c = Cursor::new(p);
                let path = c.path(false)?;
                c.finish()?;
                if path[0] != b'/' {
                    return Err(FormatError::BadPath);
                }
                Record::Cwd(path)
            }
            RecordType::Rlimits => Record::Rlimits(Rlimits::decode(p)?),
            RecordType::Thread => {
                let t = Thread::decode(p)?;
                self.threads_seen += 1;
                self.proc_threads += 1;
                self.phase = Phase::ThreadRegs;
                Record::Thread(t)
            }
            RecordType::Regs => {
                self.phase = Phase::ThreadXstate;
                Record::Regs(Regs::decode(p)?)
            }
            RecordType::Xstate => {
                let size = hdr.map(|h| h.xstate_size).ok_or(FormatError::BadOrder)?;
                self.phase = Phase::Threads;
                Record::Xstate(Xstate::decode(p, size)?.area)
            }
            RecordType::Signals => Record::Signals(Signals::decode(p)?),
            RecordType::Mm => {
                let h = hdr.ok_or(FormatError::BadOrder)?;
                let mm = Mm::decode(p, h.auxv_words, h.task_size)?;
                self.nr_vmas = mm.nr_vmas;
                Record::Mm(mm)
            }
            RecordType::Vma => {
                let v = Vma::decode(p, page_size, task_size)?;
                if v.start < self.last_vma_end {
                    return Err(FormatError::BadVma);
                }
                self.last_vma_end = v.end;
                self.pages_declared += v.nr_pages;
                let idx = self.vmas_seen;
                self.vmas_seen += 1;
                self.phase = Phase::Vmas;
                Record::Vma(v, idx)
            }
            RecordType::File => {
                let f = FileRec::decode(p)?;
                if i64::from(f.fd) <= self.last_fd || f.id > self.last_file_id + 1 {
                    return Err(FormatError::BadField);
                }
                self.last_fd = i64::from(f.fd);
                self.last_file_id = self.last_file_id.max(f.id);
                self.phase = Phase::Files;
                Record::File(f)
            }
            RecordType::MetaEnd => {
                let m = MetaEnd::decode(p)?;
                if m.checksum != ck_before {
                    return Err(FormatError::BadChecksum);
                }
                if m.total_pages != self.pages_declared {
                    return Err(FormatError::BadPages);
                }
                self.phase = Phase::Pages;
                Record::MetaEnd(m)
            }
            RecordType::Pages => {
                let ph = PagesHeader::decode(p)?;
                let ps = u64::from(page_size);
                let data = u64::from(self.cur_len) - (RECORD_HEADER_SIZE + PAGES_FIXED) as u64;
                if data != u64::from(ph.npages) * ps || page_offset(ph.addr, ps) != 0 {
                    return Err(FormatError::BadPages);
                }
                if ph.proc_idx >= self.procs_expected || (ph.proc_idx, ph.addr) < self.last_page {
                    return Err(FormatError::BadPages);
                }
                let end = ph.addr.checked_add(data).ok_or(FormatError::BadPages)?;
                if end > task_size {
                    return Err(FormatError::BadPages);
                }
                self.last_page = (ph.proc_idx, end);
                self.pages_seen += u64::from(ph.npages);
                if self.pages_seen > self.pages_declared {
                    return Err(FormatError::BadPages);
                }
                Record::Pages(ph)
            }
            RecordType::Tail => {
                let t = Tail::decode(p)?;
                if self.pages_seen != self.pages_declared {
                    return Err(FormatError::BadPages);
                }
                if t.checksum != ck_before {
                    return Err(FormatError::BadChecksum);
                }
                let total = offset_before + (RECORD_HEADER_SIZE + p.len()) as u64;
                if t.total_len != total || t.nr_records != self.records + 1 {
                    return Err(FormatError::BadField);
                }
                self.phase = Phase::Done;
                Record::Tail(t)
            }
        };
        let bit = seen_bit(ty);
        if bit != 0 {
            self.seen |= bit;
        }
        Ok(rec)
    }

    /// Feeds page data of the current pages record (in any chunking).
    pub fn page_data(&mut self, b: &[u8]) -> FResult<()> {
        if b.len() as u64 > self.page_bytes_left {
            return Err(FormatError::BadLength);
        }
        self.page_bytes_left -= b.len() as u64;
        self.consume(b);
        Ok(())
    }

    /// Page data still expected for the current pages record.
    pub fn page_bytes_left(&self) -> u64 {
        self.page_bytes_left
    }
}

/// Checks that a run of `npages` pages at `addr` lies inside `vma` and that
/// the VMA may hold saved pages; `counted` is how many pages of this VMA were
/// seen before. Returns the new count. Callers that keep the VMA table (the
/// kernel, crctl) use this to tie page runs to their VMA.
pub fn pages_in(
    vma_start: u64,
    vma_end: u64,
    vma_nr_pages: u64,
    counted: u64,
    addr: u64,
    npages: u32,
    page_size: u32,
) -> FResult<u64> {
    let len = u64::from(npages) * u64::from(page_size);
    let end = addr.checked_add(len).ok_or(FormatError::BadPages)?;
    if addr < vma_start || end > vma_end {
        return Err(FormatError::BadPages);
    }
    let n = counted + u64::from(npages);
    if n > vma_nr_pages {
        return Err(FormatError::BadPages);
    }
    Ok(n)
}
