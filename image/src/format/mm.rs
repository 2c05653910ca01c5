// SPDX-License-Identifier: GPL-2.0

//! A process's address space: its layout ([`Mm`]) and its mappings
//! ([`Vma`]).

use super::*;
use zerocopy::little_endian::{U32, U64};

wire_head! {
    /// The fixed part of the [`Mm`] payload on the wire; the auxv words and the
    /// executable's path follow it.
    pub struct MmWire {
        /// [`Mm::layout`].
        pub layout: [U64; 11],
        /// [`Mm::nr_vmas`].
        pub nr_vmas: U32,
        /// Number of auxv words that follow.
        pub auxv_words: U32,
        /// [`Mm::flags`].
        pub flags: U32,
        /// Zero.
        pub pad0: U32,
    }
}

/// [`Mm::flags`]: transparent huge pages disabled for the whole address
/// space (`prctl(PR_SET_THP_DISABLE, 1, 0)`).
pub const MM_THP_DISABLED: u32 = 1;
/// [`Mm::flags`]: transparent huge pages only where advised
/// (`PR_SET_THP_DISABLE` with `PR_THP_DISABLE_EXCEPT_ADVISED`).
pub const MM_THP_EXCEPT_ADVISED: u32 = 2;
/// Every [`Mm::flags`] bit.
pub const MM_FLAGS: u32 = MM_THP_DISABLED | MM_THP_EXCEPT_ADVISED;

/// Size of the fixed part of the [`Mm`] payload.
pub const MM_FIXED: usize = core::mem::size_of::<MmWire>();

/// Address space layout of a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mm<'a> {
    /// `start_code, end_code, start_data, end_data, start_brk, brk,
    /// start_stack, arg_start, arg_end, env_start, env_end`.
    pub layout: [u64; 11],
    /// Number of [`Vma`] records that follow.
    pub nr_vmas: u32,
    /// `MM_*` flags of the address space.
    pub flags: u32,
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
        flags: u32,
        auxv: &[u64],
        exe: &[u8],
    ) -> Option<usize> {
        let head = MmWire {
            layout: layout.map(U64::new),
            nr_vmas: nr_vmas.into(),
            auxv_words: (auxv.len() as u32).into(),
            flags: flags.into(),
            pad0: U32::ZERO,
        };
        encode_record(buf, RecordType::Mm, |w| {
            w.wire(&head);
            for v in auxv {
                w.u64(*v);
            }
            w.path(exe);
        })
    }

    /// Decodes the payload; `auxv_words` and `task_size` come from the header.
    pub fn decode(p: &'a [u8], auxv_words: u32, task_size: u64) -> FResult<Self> {
        let mut c = Cursor::new(p);
        let head = c.wire::<MmWire>()?;
        let layout = head.layout.map(|v| v.get());
        if layout.iter().any(|&v| v > task_size) {
            return Err(FormatError::BadField);
        }
        let nr_vmas = head.nr_vmas.get();
        let n = head.auxv_words.get();
        let flags = head.flags.get();
        if nr_vmas == 0
            || nr_vmas > MAX_VMAS
            || n != auxv_words
            || flags & !MM_FLAGS != 0
            || flags == MM_FLAGS
            || head.pad0.get() != 0
        {
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
            flags,
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

u32_enum! {
    /// What backs a mapping.
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
}

impl VmaKind {
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

wire_head! {
    /// The fixed part of the [`Vma`] payload on the wire; the path follows it.
    pub struct VmaWire {
        /// [`Vma::start`].
        pub start: U64,
        /// [`Vma::end`].
        pub end: U64,
        /// [`Vma::pgoff`].
        pub pgoff: U64,
        /// [`Vma::vm_flags`].
        pub vm_flags: U64,
        /// [`Vma::nr_pages`].
        pub nr_pages: U64,
        /// [`Vma::prot`].
        pub prot: U32,
        /// [`Vma::kind`].
        pub kind: U32,
        /// [`Vma::flags`].
        pub flags: U32,
        /// [`Vma::shm_id`].
        pub shm_id: U32,
    }
}

/// Size of the fixed part of the [`Vma`] payload.
pub const VMA_FIXED: usize = core::mem::size_of::<VmaWire>();
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
        let head = VmaWire {
            start: self.start.into(),
            end: self.end.into(),
            pgoff: self.pgoff.into(),
            vm_flags: self.vm_flags.into(),
            nr_pages: self.nr_pages.into(),
            prot: self.prot.into(),
            kind: (self.kind as u32).into(),
            flags: self.flags.into(),
            shm_id: self.shm_id.into(),
        };
        encode_record(buf, RecordType::Vma, |w| {
            w.wire(&head);
            w.path(self.path);
        })
    }

    /// Decodes the payload, checking it on its own: page alignment, the user
    /// address space, known bits, a path exactly for file kinds, and at most
    /// as many pages as it spans (none for kinds without saved pages).
    pub fn decode(p: &'a [u8], page_size: u32, task_size: u64) -> FResult<Self> {
        let mut c = Cursor::new(p);
        let head = c.wire::<VmaWire>()?;
        let start = head.start.get();
        let end = head.end.get();
        let pgoff = head.pgoff.get();
        let vm_flags = head.vm_flags.get();
        let nr_pages = head.nr_pages.get();
        let prot = head.prot.get();
        let kind = VmaKind::from_u32(head.kind.get()).ok_or(FormatError::BadField)?;
        let flags = head.flags.get();
        let shm_id = head.shm_id.get();
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
        // Only private anonymous memory grows down or wipes on fork
        // (mmap refuses MAP_GROWSDOWN for files and shared memory).
        if (flags & (VMA_GROWSDOWN | VMA_WIPEONFORK) != 0 && kind != VmaKind::Anon)
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

const _: () = assert!(MM_FIXED == 104 && VMA_FIXED == 56);

#[cfg(feature = "info")]
mod show {
    use super::super::info::{named, text, Info, Json, Value};
    use super::*;

    impl Info for Mm<'_> {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            let ly = &self.layout;
            l.push(format!(
                "mm: code {:#x}-{:#x} data {:#x}-{:#x} brk {:#x}-{:#x} stack {:#x} args {:#x}-{:#x} env {:#x}-{:#x}",
                ly[0], ly[1], ly[2], ly[3], ly[4], ly[5], ly[6], ly[7], ly[8], ly[9], ly[10]
            ));
            l.push(format!(
                "  exe {}, {} vmas, auxv {} words{}",
                text(self.exe),
                self.nr_vmas,
                self.auxv.len() / 8,
                match self.flags {
                    MM_THP_DISABLED => ", THP disabled",
                    MM_THP_EXCEPT_ADVISED => ", THP only where advised",
                    _ => "",
                }
            ));
        }

        /// Each word of the layout (`MM_LAYOUT_NAMES`), then `exe` and
        /// `nr_vmas`, `flags`.
        fn json(&self) -> Json {
            let mut m = named(&MM_LAYOUT_NAMES, &self.layout);
            m.insert("exe".into(), text(self.exe).into());
            m.insert("nr_vmas".into(), self.nr_vmas.into());
            m.insert("flags".into(), self.flags.into());
            Json::Member("mm", Value::Object(m))
        }
    }

    /// `rwxp` / `rwxs`, as /proc/PID/maps has it.
    fn prot_str(prot: u32, shared: bool) -> String {
        let mut s = String::new();
        s.push(if prot & PROT_READ != 0 { 'r' } else { '-' });
        s.push(if prot & PROT_WRITE != 0 { 'w' } else { '-' });
        s.push(if prot & PROT_EXEC != 0 { 'x' } else { '-' });
        s.push(if shared { 's' } else { 'p' });
        s
    }

    /// The names of a VMA's `VMA_*` flags, each after a space.
    fn vma_flags_str(f: u32) -> String {
        [
            (VMA_GROWSDOWN, "growsdown"),
            (VMA_NORESERVE, "noreserve"),
            (VMA_DONTFORK, "dontfork"),
            (VMA_WIPEONFORK, "wipeonfork"),
            (VMA_DONTDUMP, "dontdump"),
            (VMA_HUGEPAGE, "hugepage"),
            (VMA_NOHUGEPAGE, "nohugepage"),
        ]
        .iter()
        .filter(|(b, _)| f & b != 0)
        .map(|(_, n)| format!(" {n}"))
        .collect()
    }

    fn prot(v: &Vma<'_>) -> String {
        let shared = matches!(v.kind, VmaKind::FileShared | VmaKind::AnonShared);
        prot_str(v.prot, shared)
    }

    /// An element of `vmas` in `info --json`.
    #[derive(serde::Serialize)]
    struct VmaJson {
        start: u64,
        end: u64,
        prot: String,
        kind: &'static str,
        path: String,
        pgoff: u64,
        pages: u64,
        flags: u32,
    }

    impl Info for Vma<'_> {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            let v = self;
            let backing = if v.kind.has_path() {
                format!("{} @{:#x}", text(v.path), v.pgoff * 4096)
            } else {
                format!("[{}]", v.kind.name())
            };
            l.push(format!(
                "  vma {:#014x}-{:#014x} {} {:<12} {backing} pages {}{}",
                v.start,
                v.end,
                prot(v),
                v.kind.name(),
                v.nr_pages,
                vma_flags_str(v.flags)
            ));
        }

        fn json(&self) -> Json {
            let v = self;
            Json::element(
                "vmas",
                VmaJson {
                    start: v.start,
                    end: v.end,
                    prot: prot(v),
                    kind: v.kind.name(),
                    path: text(v.path),
                    pgoff: v.pgoff,
                    pages: v.nr_pages,
                    flags: v.flags,
                },
            )
        }
    }
}
