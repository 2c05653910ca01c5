// SPDX-License-Identifier: GPL-2.0

//! Memory: the address space layout, every VMA, and the contents of the
//! pages that differ from their backing. Records: [`format::Mm`],
//! [`format::Vma`], [`format::PagesHeader`].
//!
//! Saved contents: present pages of private anonymous memory (heap, stack,
//! `mmap(MAP_ANONYMOUS)`), the copied-on-write pages of private file
//! mappings, and every non-zero page of shared anonymous memory. Never clean
//! file pages: those come back from the file. Pages are found the way a core
//! dump finds them (`FOLL_DUMP`): holes and the shared zero page are
//! skipped, swapped-out pages are read back.

use crate::{
    error::{eopnotsupp, refuse, ReadError, Refusal, WriteError},
    files::open_path,
    format::{self, Record, VmaKind},
    kapi::{self, current, special, vmf, MmRef, PinnedPage},
    log::{fail, Log, Show},
    shared::{Kind, Object, SharedIds, SharedObjects},
    stream::{ImageReader, ImageWriter},
};
use kernel::{
    alloc::{KVVec, KVec},
    fs::File,
    prelude::*,
    sync::aref::ARef,
    uaccess::{UserPtr, UserSlice},
};

const PS: u64 = kernel::page::PAGE_SIZE as u64;
/// Pages handled per GUP call and per copy.
const BATCH: usize = kapi::WRITE_PAGES_MAX;
/// Bytes copied at a time between two processes' memory (inherited runs).
pub(crate) const COPY_BYTES: usize = BATCH * PS as usize;
/// Batches of at least this many private pages are written straight from
/// the target's pages ([`ImageWriter::pages_direct`]); shorter ones are
/// gathered in the writer's buffer, fewer writes for scattered pages.
const DIRECT_MIN: usize = 16;

const MAP_SHARED: u32 = 0x01;
const MAP_PRIVATE: u32 = 0x02;
const MAP_FIXED: u32 = 0x10;
const MAP_FIXED_NOREPLACE: u32 = 0x100000;
const MAP_ANONYMOUS: u32 = 0x20;
const MAP_GROWSDOWN: u32 = 0x100;
const MAP_NORESERVE: u32 = 0x4000;
const O_RDONLY: u32 = 0;
const CAP_SYS_ADMIN: i32 = 21;
const CAP_CHECKPOINT_RESTORE: i32 = 40;
const O_RDWR: u32 = 2;

/// Which pages of a VMA are saved.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// None (file-backed, special, or never written).
    None,
    /// Anonymous pages only (private mappings).
    Anon,
    /// Every present page (shared anonymous memory).
    All,
}

fn copy_bytes(b: &[u8]) -> Result<KVec<u8>> {
    let mut v = KVec::with_capacity(b.len(), GFP_KERNEL_ACCOUNT)?;
    v.extend_from_slice(b, GFP_KERNEL_ACCOUNT)?;
    Ok(v)
}

/// The layout of an address space: where its code, data, heap, stack,
/// arguments and environment are (the fields of `struct mm_struct`).
#[derive(Clone, Copy, Default)]
struct MmLayout {
    start_code: u64,
    end_code: u64,
    start_data: u64,
    end_data: u64,
    start_brk: u64,
    brk: u64,
    start_stack: u64,
    arg_start: u64,
    arg_end: u64,
    env_start: u64,
    env_end: u64,
}

impl MmLayout {
    /// From its words, in the order the image and the kernel API use.
    fn from_words(w: [u64; 11]) -> Self {
        MmLayout {
            start_code: w[0],
            end_code: w[1],
            start_data: w[2],
            end_data: w[3],
            start_brk: w[4],
            brk: w[5],
            start_stack: w[6],
            arg_start: w[7],
            arg_end: w[8],
            env_start: w[9],
            env_end: w[10],
        }
    }

    /// Its words, in the order the image and the kernel API use.
    fn words(&self) -> [u64; 11] {
        [
            self.start_code,
            self.end_code,
            self.start_data,
            self.end_data,
            self.start_brk,
            self.brk,
            self.start_stack,
            self.arg_start,
            self.arg_end,
            self.env_start,
            self.env_end,
        ]
    }
}

// ------------------------------------------------------------ checkpoint

/// One VMA of a snapshot.
struct VmaSnap {
    start: u64,
    end: u64,
    pgoff: u64,
    vm_flags: u64,
    prot: u32,
    kind: VmaKind,
    flags: u32,
    path: KVec<u8>,
    scan: Scan,
    /// Shared anonymous memory: identity of the object (kernel-internal).
    shm_key: u64,
}

/// The memory part of a snapshot. Holds the target's mm, so its pages can
/// be read after the target resumed... or died.
pub(crate) struct MemSnap {
    mm: MmRef,
    layout: MmLayout,
    /// `format::MM_*` flags.
    flags: u32,
    auxv: KVec<u64>,
    exe: KVec<u8>,
    vmas: KVec<VmaSnap>,
    /// The identity of the open file description each file mapping holds a
    /// reference to (kernel-internal, never saved), one per VMA: see
    /// [`MemSnap::mapped_files`].
    mapped: KVec<u64>,
}

/// A run of saved pages, all in VMA `vma`.
struct Run {
    vma: usize,
    addr: u64,
    npages: u32,
    /// The pages are the very ones this process (the parent, by its index)
    /// has at the same addresses: saved there, not here.
    from: Option<u32>,
}

/// Which pages will be written: computed once, before the metadata, so that
/// each VMA record can say how many pages follow.
pub(crate) struct PagePlan {
    runs: KVVec<Run>,
    per_vma: KVec<u64>,
}

impl PagePlan {
    /// Total number of pages.
    pub(crate) fn total_pages(&self) -> u64 {
        self.per_vma.iter().sum()
    }
}

impl MemSnap {
    /// Reads the current task's VMA list and layout (runs in the target).
    #[inline(never)]
    pub(crate) fn gather(pid: i32) -> Result<Self, Refusal> {
        let mm = current::mm().ok_or_else(|| refuse!(EINVAL, "pid {pid}: has no memory"))?;
        let (fr, fw, fx, fs, fg) = (
            vmf::read(),
            vmf::write(),
            vmf::exec(),
            // A MAP_SHARED mapping of a file opened read-only has no
            // VM_SHARED: VM_MAYSHARE says it is shared.
            vmf::shared() | vmf::mayshare(),
            vmf::growsdown(),
        );
        let (unsupported, locked) = (vmf::unsupported(), vmf::locked());
        let mut pathbuf = KVec::from_elem(0u8, 4096, GFP_KERNEL_ACCOUNT)?;
        let g = mm.read_lock();
        let mut auxv = KVec::from_elem(0u64, current::auxv_words() as usize, GFP_KERNEL_ACCOUNT)?;
        let layout = MmLayout::from_words(g.layout(&mut auxv));
        let flags = match g.thp_disabled() {
            kapi::ThpDisabled::No => 0,
            kapi::ThpDisabled::Completely => format::MM_THP_DISABLED,
            kapi::ThpDisabled::ExceptAdvised => format::MM_THP_EXCEPT_ADVISED,
        };
        // A deleted executable has no path to reopen: it is left out (the
        // restored link then stays the restarting process's).
        let exe = g.exe_path(&mut pathbuf).unwrap_or(b"");
        let exe = copy_bytes(if exe.ends_with(b" (deleted)") {
            b""
        } else {
            exe
        })?;
        let mut vmas = KVec::new();
        let mut mapped = KVec::new();
        let mut addr = 0;
        while let Some(v) = g.vma_at(addr) {
            addr = v.end;
            if let Some(f) = &v.file {
                mapped.push(f.as_ptr() as usize as u64, GFP_KERNEL_ACCOUNT)?;
            }
            let range = (v.start, v.end);
            if v.special == 0 && v.vm_flags & unsupported != 0 {
                return Err(refuse!(
                    eopnotsupp(),
                    "pid {pid}: vma {:#x}-{:#x}: device, hugetlb, driver, shadow-stack or protection-key mapping not supported",
                    range.0,
                    range.1
                ));
            }
            for (flag, what) in [
                (vmf::mergeable(), "KSM-mergeable (MADV_MERGEABLE)"),
                (vmf::sealed(), "sealed (mseal)"),
            ] {
                if v.special == 0 && flag != 0 && v.vm_flags & flag != 0 {
                    return Err(refuse!(
                        eopnotsupp(),
                        "pid {pid}: vma {:#x}-{:#x}: {what} memory not supported yet",
                        range.0,
                        range.1
                    ));
                }
            }
            if v.vm_flags & locked != 0 {
                return Err(refuse!(
                    eopnotsupp(),
                    "pid {pid}: vma {:#x}-{:#x}: mlock-ed memory not supported yet",
                    range.0,
                    range.1
                ));
            }
            let mut prot = 0;
            if v.vm_flags & fr != 0 {
                prot |= format::PROT_READ;
            }
            if v.vm_flags & fw != 0 {
                prot |= format::PROT_WRITE;
            }
            if v.vm_flags & fx != 0 {
                prot |= format::PROT_EXEC;
            }
            let shared = v.vm_flags & fs != 0;
            let mut path = KVec::new();
            let (kind, scan) = match (v.special, &v.file) {
                (special::VDSO, _) => (VmaKind::Vdso, Scan::None),
                (special::VVAR, _) => (VmaKind::Vvar, Scan::None),
                (special::VVAR_VCLOCK, _) => (VmaKind::VvarVclock, Scan::None),
                (special::OTHER, _) => {
                    return Err(refuse!(
                        eopnotsupp(),
                        "pid {pid}: vma {:#x}-{:#x}: special kernel mapping not supported",
                        range.0,
                        range.1
                    ));
                }
                (_, None) => (
                    VmaKind::Anon,
                    if v.has_anon_vma {
                        Scan::Anon
                    } else {
                        Scan::None
                    },
                ),
                (_, Some(f)) => {
                    let p = kapi::file_path(f, &mut pathbuf).map_err(|e| {
                        refuse!(
                            e,
                            "pid {pid}: vma {:#x}-{:#x}: cannot name its file",
                            range.0,
                            range.1
                        )
                    })?;
                    if shared && p == b"/dev/zero (deleted)" {
                        if prot & format::PROT_WRITE == 0 {
                            return Err(refuse!(eopnotsupp(), "pid {pid}: vma {:#x}-{:#x}: read-only shared anonymous memory not supported yet", range.0, range.1));
                        }
                        (VmaKind::AnonShared, Scan::All)
                    } else if p.ends_with(b" (deleted)") {
                        let what = if p.starts_with(b"/memfd:") {
                            "memfd mapping"
                        } else if p.starts_with(b"/SYSV") {
                            "SysV shared memory"
                        } else {
                            "mapping of a deleted file"
                        };
                        return Err(refuse!(
                            eopnotsupp(),
                            "pid {pid}: vma {:#x}-{:#x}: {what} ({}) not supported yet",
                            range.0,
                            range.1,
                            Show(p)
                        ));
                    } else if p.first() != Some(&b'/') {
                        return Err(refuse!(
                            eopnotsupp(),
                            "pid {pid}: vma {:#x}-{:#x}: mapping of {} not supported",
                            range.0,
                            range.1,
                            Show(p)
                        ));
                    } else {
                        crate::locks::check_mapped(pid, range.0, range.1, f, p)?;
                        path = copy_bytes(p)?;
                        if shared {
                            (VmaKind::FileShared, Scan::None)
                        } else {
                            (
                                VmaKind::FilePrivate,
                                if v.has_anon_vma {
                                    Scan::Anon
                                } else {
                                    Scan::None
                                },
                            )
                        }
                    }
                }
            };
            let vs = VmaSnap {
                start: v.start,
                end: v.end,
                pgoff: if kind.has_path() || kind == VmaKind::AnonShared {
                    v.pgoff
                } else {
                    0
                },
                vm_flags: v.vm_flags,
                prot,
                kind,
                flags: if kind.is_special() {
                    0
                } else {
                    let mut fl = if v.vm_flags & fg != 0 {
                        format::VMA_GROWSDOWN
                    } else {
                        0
                    };
                    for (bit, vm) in vmf::advice() {
                        if vm != 0 && v.vm_flags & vm != 0 {
                            fl |= bit;
                        }
                    }
                    if vmf::softdirty() != 0 && v.vm_flags & vmf::softdirty() != 0 {
                        fl |= format::VMA_SOFTDIRTY;
                    }
                    let private = matches!(kind, VmaKind::Anon | VmaKind::FilePrivate);
                    if private && v.vm_flags & vmf::account() != 0 {
                        fl |= format::VMA_ACCOUNT;
                    }
                    fl
                },
                path,
                scan,
                shm_key: if kind == VmaKind::AnonShared {
                    v.ino_key
                } else {
                    0
                },
            };
            vmas.push(vs, GFP_KERNEL_ACCOUNT)?;
            if vmas.len() > format::MAX_VMAS as usize {
                return Err(refuse!(
                    eopnotsupp(),
                    "pid {pid}: more than {} mappings",
                    format::MAX_VMAS
                ));
            }
        }
        drop(g);
        Ok(MemSnap {
            mm,
            layout,
            flags,
            auxv,
            exe,
            vmas,
            mapped,
        })
    }

    /// The open file descriptions the mappings hold, by identity, one entry
    /// per VMA (a description mapped twice is there twice): each is a
    /// reference the tree holds besides its descriptors, which
    /// `files::check_tree` counts.
    pub(crate) fn mapped_files(&self) -> &[u64] {
        &self.mapped
    }

    /// Whether this snapshot has a VMA of exactly the span, kind and offset
    /// of `v`: the one a child's VMA came from when it was forked.
    fn has_same_vma(&self, v: &VmaSnap) -> bool {
        self.vmas
            .binary_search_by_key(&v.start, |w| w.start)
            .is_ok_and(|i| {
                let w = &self.vmas[i];
                w.end == v.end && w.kind == v.kind && w.pgoff == v.pgoff
            })
    }

    /// Finds the pages to save (in the caller, while the target is parked).
    ///
    /// Shared anonymous memory is saved once: a mapping of the same object
    /// at the same offset and length as one already in `shared_seen` (an
    /// earlier process's, typically its parent's before `fork()`) saves no
    /// pages; restart maps the same object, filled through the first.
    ///
    /// Private pages a process still shares copy-on-write with `parent`
    /// (its index and snapshot, planned before it), the very pages at the
    /// same addresses in a VMA of the same span, are saved once too, in the
    /// parent: they become inherited runs.
    pub(crate) fn plan_pages(
        &self,
        shared_seen: &mut KVec<(u64, u64, u64)>,
        parent: Option<(u32, &MemSnap)>,
    ) -> Result<PagePlan, Refusal> {
        let mut plan = PagePlan {
            runs: KVVec::new(),
            per_vma: KVec::new(),
        };
        for (i, v) in self.vmas.iter().enumerate() {
            let mut count = 0u64;
            let mut addr = v.start;
            let mut scan = v.scan;
            if v.kind == VmaKind::AnonShared {
                let key = (v.shm_key, v.pgoff, v.end - v.start);
                if shared_seen.contains(&key) {
                    scan = Scan::None;
                } else {
                    shared_seen.push(key, GFP_KERNEL)?;
                }
            }
            let from = match parent {
                Some((idx, p)) if scan == Scan::Anon && p.has_same_vma(v) => Some((idx, p)),
                _ => None,
            };
            while scan != Scan::None && addr < v.end {
                if current::fatal_signal_pending() {
                    return Err(refuse!(EINTR, "interrupted"));
                }
                let want = (((v.end - addr) / PS) as usize).min(BATCH);
                let mut pages: [Option<PinnedPage>; BATCH] = [const { None }; BATCH];
                // One mmap lock at a time: the parent's is taken below, and
                // never inside the child's.
                let g = self.mm.read_lock();
                let n = g.dump_pages(addr, &mut pages[..want])?;
                if n == 0 {
                    addr += PS;
                    // Anonymous pages need a page table: a sparse mapping
                    // is crossed table by table, not page by page.
                    if scan == Scan::Anon {
                        addr = g.next_mapped(addr, v.end);
                    }
                    continue;
                }
                drop(g);
                let mut theirs: [Option<PinnedPage>; BATCH] = [const { None }; BATCH];
                if let Some((_, p)) = from {
                    let pg = p.mm.read_lock();
                    let mut off = 0;
                    while off < n {
                        let k = pg.dump_pages(addr + off as u64 * PS, &mut theirs[off..n])?;
                        off += k.max(1);
                    }
                }
                for (p, q) in pages.iter().zip(theirs.iter()).take(n) {
                    let keep = p
                        .as_ref()
                        .is_some_and(|p| v.scan == Scan::All || p.is_anon());
                    if keep {
                        count += 1;
                        let shared = match (p, q) {
                            (Some(p), Some(q)) => p.same(q),
                            _ => false,
                        };
                        let run_from = from.filter(|_| shared).map(|(idx, _)| idx);
                        match plan.runs.last_mut() {
                            Some(r)
                                if r.vma == i
                                    && r.from == run_from
                                    && r.addr + u64::from(r.npages) * PS == addr
                                    && r.npages < format::MAX_PAGES_PER_RECORD =>
                            {
                                r.npages += 1
                            }
                            _ => plan.runs.push(
                                Run {
                                    vma: i,
                                    addr,
                                    npages: 1,
                                    from: run_from,
                                },
                                GFP_KERNEL_ACCOUNT,
                            )?,
                        }
                    }
                    addr += PS;
                }
            }
            plan.per_vma.push(count, GFP_KERNEL_ACCOUNT)?;
        }
        Ok(plan)
    }

    /// Writes the mm and VMA records.
    pub(crate) fn write_meta(
        &self,
        w: &mut ImageWriter<'_>,
        plan: &PagePlan,
        ids: &mut SharedIds,
    ) -> Result {
        let n = self.vmas.len() as u32;
        w.record(|b| {
            format::Mm::encode(
                b,
                &self.layout.words(),
                n,
                self.flags,
                &self.auxv,
                &self.exe,
            )
        })?;
        for (v, &nr_pages) in self.vmas.iter().zip(plan.per_vma.iter()) {
            let rec = format::Vma {
                start: v.start,
                end: v.end,
                pgoff: v.pgoff,
                vm_flags: v.vm_flags,
                nr_pages,
                prot: v.prot,
                kind: v.kind,
                flags: v.flags,
                shm_id: if v.kind == VmaKind::AnonShared {
                    ids.id(Kind::Shm, v.shm_key)?
                } else {
                    0
                },
                path: &v.path,
            };
            w.record(|b| rec.encode(b))?;
        }
        Ok(())
    }

    /// Writes the page records of `plan`.
    pub(crate) fn write_pages(
        &self,
        w: &mut ImageWriter<'_>,
        plan: &PagePlan,
        proc_idx: u32,
    ) -> Result<(), WriteError> {
        for run in plan.runs.iter() {
            if let Some(from_idx) = run.from {
                let r = format::Inherited {
                    addr: run.addr,
                    npages: run.npages,
                    proc_idx,
                    from_idx,
                };
                w.record(|b| r.encode(b))
                    .map_err(|e| WriteError::Io(e, w.written()))?;
                continue;
            }
            w.pages_header(run.addr, run.npages, proc_idx)
                .map_err(|e| WriteError::Io(e, w.written()))?;
            let scan = self.vmas[run.vma].scan;
            let mut addr = run.addr;
            let end = run.addr + u64::from(run.npages) * PS;
            while addr < end {
                if current::fatal_signal_pending() {
                    return Err(WriteError::Io(EINTR, w.written()));
                }
                let want = (((end - addr) / PS) as usize).min(BATCH);
                let mut pages: [Option<PinnedPage>; BATCH] = [const { None }; BATCH];
                // The pages are pinned under the target's mmap lock and
                // copied out without it: writing the image may block on
                // the destination (a full pipe), and pipe writers take the
                // pipe lock before faulting on their own mmap lock.
                let n = self
                    .mm
                    .read_lock()
                    .dump_pages(addr, &mut pages[..want])
                    .map_err(Refusal::from)?;
                if n != want {
                    return Err(refuse!(
                        EAGAIN,
                        "memory at {addr:#x} changed during the checkpoint"
                    )
                    .into());
                }
                for p in pages.iter().take(n) {
                    if !p.as_ref().is_some_and(|p| scan == Scan::All || p.is_anon()) {
                        return Err(refuse!(
                            EAGAIN,
                            "memory at {addr:#x} changed during the checkpoint"
                        )
                        .into());
                    }
                }
                if scan == Scan::Anon && n >= DIRECT_MIN {
                    // Private pages of parked tasks: stable until written,
                    // so they go to the destination straight from the
                    // target's memory.
                    w.pages_direct(&pages[..n])
                        .map_err(|e| WriteError::Io(e, w.written()))?;
                } else {
                    // Shared memory, which a task outside the tree may
                    // write, and short runs: through the buffer, the
                    // checksum taken from the very bytes written.
                    for p in pages.iter().take(n).flatten() {
                        w.page(|dst| p.copy_to(dst))
                            .map_err(|e| WriteError::Io(e, w.written()))?;
                    }
                }
                addr += n as u64 * PS;
            }
        }
        Ok(())
    }
}

// ------------------------------------------------------------ restart

/// One VMA to create.
pub(crate) struct VmaPlan {
    start: u64,
    end: u64,
    pgoff: u64,
    prot: u32,
    kind: VmaKind,
    flags: u32,
    nr_pages: u64,
    shm_id: u32,
    file: Option<ARef<File>>,
}

impl VmaPlan {
    /// The `VM_*` flags that `mmap()` gives this mapping and the image's
    /// does not have: write for a read-only accounted one (see
    /// [`MemPlan::map`]), soft-dirty for one whose tracking was cleared.
    fn adjusted(&self) -> u64 {
        let mut f = 0;
        if self.flags & format::VMA_ACCOUNT != 0 && self.prot & format::PROT_WRITE == 0 {
            f |= vmf::write();
        }
        if self.flags & format::VMA_SOFTDIRTY == 0 && !self.kind.is_special() {
            f |= vmf::softdirty();
        }
        f
    }
}

/// The memory part of a restart plan.
pub(crate) struct MemPlan {
    layout: MmLayout,
    /// `format::MM_*` flags.
    flags: u32,
    auxv: KVec<u64>,
    vmas: KVec<VmaPlan>,
    /// The executable, when the caller may set it (see [`MemPlan::add_mm`]).
    exe: Option<ARef<File>>,
    /// The mm record was read.
    has_mm: bool,
}

impl MemPlan {
    /// An empty plan, waiting for its mm record.
    pub(crate) fn new() -> Self {
        MemPlan {
            layout: MmLayout::default(),
            flags: 0,
            auxv: KVec::new(),
            vmas: KVec::new(),
            exe: None,
            has_mm: false,
        }
    }

    /// Whether every record the plan needs was read.
    pub(crate) fn complete(&self) -> bool {
        self.has_mm
    }

    /// Takes a record of the memory map (`Ok(false)` for any other).
    /// Shared anonymous memory goes in `shared`, with the extent each
    /// mapping of it needs.
    pub(crate) fn add(
        &mut self,
        rec: &Record<'_>,
        shared: &mut SharedObjects,
        log: &Log,
    ) -> Result<bool> {
        match rec {
            Record::Mm(m) => self.add_mm(m, log)?,
            Record::Vma(v, _) if self.has_mm => {
                self.add_vma(v, log)?;
                if v.kind == VmaKind::AnonShared {
                    let end = (v.pgoff + (v.end - v.start) / PS) * PS;
                    match shared.get(Kind::Shm, v.shm_id) {
                        Some(Object::Shm { size, .. }) => *size = (*size).max(end),
                        _ => shared.insert(
                            v.shm_id,
                            Object::Shm {
                                size: end,
                                file: None,
                            },
                        )?,
                    }
                }
            }
            Record::Vma(..) => return Err(EINVAL),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Takes the mm record. The executable link (`/proc/PID/exe`) is
    /// restored only for a caller with `CAP_CHECKPOINT_RESTORE` or
    /// `CAP_SYS_ADMIN`, the privilege `prctl(PR_SET_MM_EXE_FILE)` asks for;
    /// for others it stays crctl's.
    fn add_mm(&mut self, mm: &format::Mm<'_>, log: &Log) -> Result {
        let exe = if !mm.exe.is_empty()
            && (kapi::capable(CAP_CHECKPOINT_RESTORE) || kapi::capable(CAP_SYS_ADMIN))
        {
            Some(
                open_path(mm.exe, O_RDONLY)
                    .map_err(|e| fail!(log, e, "cannot open the executable {}", Show(mm.exe)))?,
            )
        } else {
            None
        };
        let mut auxv = KVec::with_capacity(mm.auxv.len() / 8, GFP_KERNEL_ACCOUNT)?;
        for i in 0..mm.auxv.len() / 8 {
            auxv.push(mm.auxv_word(i), GFP_KERNEL_ACCOUNT)?;
        }
        *self = MemPlan {
            layout: MmLayout::from_words(mm.layout),
            flags: mm.flags,
            auxv,
            vmas: KVec::new(),
            exe,
            has_mm: true,
        };
        Ok(())
    }

    /// Adds a VMA record, opening its file as the caller.
    fn add_vma(&mut self, v: &format::Vma<'_>, log: &Log) -> Result {
        if vmf::advice()
            .iter()
            .any(|&(bit, vm)| v.flags & bit != 0 && vm == 0)
        {
            return Err(fail!(
                log,
                eopnotsupp(),
                "vma {:#x}-{:#x}: huge page advice, but this kernel has no transparent huge pages",
                v.start,
                v.end
            ));
        }
        let file = if v.kind.has_path() {
            let flags = if v.kind == VmaKind::FileShared && v.prot & format::PROT_WRITE != 0 {
                O_RDWR
            } else {
                O_RDONLY
            };
            Some(open_path(v.path, flags).map_err(|e| {
                fail!(
                    log,
                    e,
                    "vma {:#x}-{:#x}: cannot open {}",
                    v.start,
                    v.end,
                    Show(v.path)
                )
            })?)
        } else {
            None
        };
        self.vmas.push(
            VmaPlan {
                start: v.start,
                end: v.end,
                pgoff: v.pgoff,
                prot: v.prot,
                kind: v.kind,
                flags: v.flags,
                nr_pages: v.nr_pages,
                shm_id: v.shm_id,
                file,
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        Ok(())
    }

    /// Checks that the kernel-provided mappings ([vvar], [vdso]) of the
    /// caller are exactly where the image has them: programs keep pointers
    /// into the vdso. crctl moves them before calling RESTART.
    ///
    /// With `commit`, also that this machine can commit the memory
    /// ([`MemPlan::check_commit`]; not once it is mapped).
    pub(crate) fn check(&self, log: &Log, commit: bool) -> Result {
        if commit {
            self.check_commit(log)?;
        }
        // Collected under the mmap lock, compared (and logged) without it:
        // a log line is a write to a file.
        let mut own = KVec::new();
        {
            let mm = current::mm().ok_or(EINVAL)?;
            let g = mm.read_lock();
            let mut addr = 0;
            while let Some(v) = g.vma_at(addr) {
                addr = v.end;
                if v.special != 0 {
                    own.push((v.special, v.start, v.end), GFP_KERNEL)?;
                }
            }
        }
        let mut img = self.vmas.iter().filter(|v| v.kind.is_special());
        for (special, start, end) in own {
            let kind = match special {
                special::VDSO => VmaKind::Vdso,
                special::VVAR => VmaKind::Vvar,
                special::VVAR_VCLOCK => VmaKind::VvarVclock,
                _ => {
                    return Err(fail!(
                        log,
                        EBUSY,
                        "the caller has a special mapping at {:#x} that restart cannot replace",
                        start
                    ))
                }
            };
            match img.next() {
                Some(i) if i.kind == kind && i.start == start && i.end == end => {}
                Some(i) => {
                    return Err(fail!(
                        log,
                        EINVAL,
                        "[{}] is at {:#x}-{:#x}, the image has [{}] at {:#x}-{:#x} (the caller must move it first: arch_prctl(ARCH_MAP_VDSO_64))",
                        kind.name(), start, end, i.kind.name(), i.start, i.end
                    ))
                }
                None => return Err(fail!(log, EINVAL, "the image lacks the caller's [{}] mapping", kind.name())),
            }
        }
        if let Some(i) = img.next() {
            return Err(fail!(
                log,
                EINVAL,
                "the image's [{}] at {:#x} has no counterpart in the caller",
                i.kind.name(),
                i.start
            ));
        }
        Ok(())
    }

    /// Checks that this machine can commit memory for every private
    /// writable mapping that reserves it (not `MAP_NORESERVE`): each is
    /// mapped once for a trial, anywhere, all at the same time, and
    /// unmapped, so the kernel's own overcommit policy answers before the
    /// point of no return.
    fn check_commit(&self, log: &Log) -> Result {
        let mut trial = KVec::new();
        let mut failed = None;
        for v in self.vmas.iter().filter(|v| {
            matches!(v.kind, VmaKind::Anon | VmaKind::FilePrivate)
                && (v.prot & format::PROT_WRITE != 0 || v.flags & format::VMA_ACCOUNT != 0)
                && v.flags & format::VMA_NORESERVE == 0
        }) {
            let len = v.end - v.start;
            let prot = format::PROT_READ | format::PROT_WRITE;
            match current::vm_mmap(None, 0, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, 0) {
                Ok(a) => trial.push((a, len), GFP_KERNEL)?,
                Err(e) => {
                    failed = Some((e, v.start, v.end));
                    break;
                }
            }
        }
        for (a, len) in trial {
            let _ = current::vm_munmap(a, len);
        }
        match failed {
            Some((e, s, end)) => Err(fail!(
                log,
                e,
                "vma {s:#x}-{end:#x}: this machine cannot commit memory for it and the mappings before it (it does not have MAP_NORESERVE)"
            )),
            None => Ok(()),
        }
    }

    /// Number of VMAs.
    pub(crate) fn nr_vmas(&self) -> usize {
        self.vmas.len()
    }

    /// Start and end of VMA `i`.
    pub(crate) fn vma_span(&self, i: usize) -> (u64, u64) {
        (self.vmas[i].start, self.vmas[i].end)
    }

    /// The caller's mappings but the kernel-provided ones.
    fn own_ranges() -> Result<KVec<(u64, u64)>> {
        let mm = current::mm().ok_or(EINVAL)?;
        let mut ranges = KVec::new();
        let g = mm.read_lock();
        let mut addr = 0;
        while let Some(v) = g.vma_at(addr) {
            addr = v.end;
            if v.special == 0 {
                ranges.push((v.start, v.end), GFP_KERNEL)?;
            }
        }
        Ok(ranges)
    }

    /// Sets the image's THP state: before any page is faulted in, so that
    /// none becomes huge where the original had none.
    fn set_thp(&self) -> Result {
        current::mm()
            .ok_or(EINVAL)?
            .set_thp_disabled(match self.flags {
                format::MM_THP_DISABLED => kapi::ThpDisabled::Completely,
                format::MM_THP_EXCEPT_ADVISED => kapi::ThpDisabled::ExceptAdvised,
                _ => kapi::ThpDisabled::No,
            });
        Ok(())
    }

    /// Replaces the caller's memory by the image's mappings (past the point
    /// of no return). Page contents follow with [`MemPlan::fill`].
    pub(crate) fn map(&self, log: &Log, shared: &mut SharedObjects) -> Result {
        let ranges = Self::own_ranges()?;
        self.set_thp()?;
        for (s, e) in ranges {
            current::vm_munmap(s, e - s)
                .map_err(|err| fail!(log, err, "unmapping {s:#x}-{e:#x} failed"))?;
        }
        self.map_vmas(log, shared, &[], MAP_FIXED)
    }

    /// Whether VMA `i` of this process is one its parent (`parent`) has
    /// too, as `fork()` copies it: same span, kind, offset, protection and
    /// flags, private. Such a VMA, already in the caller's memory (its
    /// parent's copy-on-write since the caller was forked), is kept.
    fn forked_from(&self, i: usize, parent: &MemPlan) -> bool {
        let v = &self.vmas[i];
        if !matches!(v.kind, VmaKind::Anon | VmaKind::FilePrivate)
            || v.flags & (format::VMA_DONTFORK | format::VMA_WIPEONFORK) != 0
        {
            return false;
        }
        parent.vmas.iter().any(|w| {
            w.start == v.start
                && w.end == v.end
                && w.kind == v.kind
                && w.pgoff == v.pgoff
                && w.prot == v.prot
                && w.flags == v.flags
        })
    }

    /// Maps the image's mappings beside crctl's own, before the point of
    /// no return, so that the caller's children, forked next, share their
    /// private pages copy-on-write. A mapping of `parent` (the process
    /// this one was forked from, whose mappings it holds) that this
    /// process has too is kept; its other mappings are removed. Any other
    /// mapping in the way is crctl's own: refused. Returns which VMAs were
    /// kept.
    pub(crate) fn premap(
        &self,
        parent: Option<&MemPlan>,
        log: &Log,
        shared: &mut SharedObjects,
    ) -> Result<KVec<bool>> {
        let ranges = Self::own_ranges()?;
        self.set_thp()?;
        let mut kept = KVec::from_elem(false, self.vmas.len(), GFP_KERNEL)?;
        if let Some(pp) = parent {
            for (i, v) in self.vmas.iter().enumerate() {
                kept[i] = self.forked_from(i, pp) && ranges.contains(&(v.start, v.end));
            }
            // The parent's other mappings, which its fork left here (it
            // mapped them where crctl had nothing).
            for w in pp.vmas.iter().filter(|w| !w.kind.is_special()) {
                let keep = self
                    .vmas
                    .iter()
                    .zip(kept.iter())
                    .any(|(v, &k)| k && v.start == w.start && v.end == w.end);
                if !keep {
                    let (s, e) = (w.start, w.end);
                    current::vm_munmap(s, e - s)
                        .map_err(|err| fail!(log, err, "unmapping {s:#x}-{e:#x} failed"))?;
                }
            }
        }
        self.map_vmas(log, shared, &kept, MAP_FIXED_NOREPLACE)?;
        Ok(kept)
    }

    /// At the point of no return, after [`MemPlan::premap`]: removes every
    /// mapping but the image's (crctl's own), also the part of a VMA the
    /// kernel merged from one of crctl's and one of the image's.
    pub(crate) fn drop_others(&self, log: &Log) -> Result {
        let unmap = |s: u64, e: u64| {
            current::vm_munmap(s, e - s)
                .map_err(|err| fail!(log, err, "unmapping {s:#x}-{e:#x} failed"))
        };
        for (s, e) in Self::own_ranges()? {
            // The image's VMAs are in address order.
            let mut at = s;
            for v in self
                .vmas
                .iter()
                .filter(|v| !v.kind.is_special() && v.end > s && v.start < e)
            {
                if v.start > at {
                    unmap(at, v.start)?;
                }
                at = at.max(v.end);
            }
            if at < e {
                unmap(at, e)?;
            }
        }
        Ok(())
    }

    /// Maps the image's VMAs but those `skip` marks, with `fixed`
    /// (`MAP_FIXED`, or `MAP_FIXED_NOREPLACE` where other mappings stay).
    fn map_vmas(&self, log: &Log, shared: &mut SharedObjects, skip: &[bool], fixed: u32) -> Result {
        // Mappings with madvise state first, each given its flags before
        // the next is mapped, so that no plain neighbour merges with one
        // and shares its flags.
        let advised = |i: &usize| {
            let v = &self.vmas[*i];
            v.flags & format::VMA_ADVICE != 0 || v.adjusted() != 0
        };
        let n = self.vmas.len();
        let first = (0..n).filter(advised);
        let then = (0..n).filter(|i| !advised(i));
        for i in Iterator::chain(first, then) {
            let v = &self.vmas[i];
            if v.kind.is_special() || skip.get(i).copied().unwrap_or(false) {
                continue;
            }
            let mut flags = fixed;
            if v.flags & format::VMA_NORESERVE != 0 {
                flags |= MAP_NORESERVE;
            }
            flags |= match v.kind {
                VmaKind::FileShared | VmaKind::AnonShared => MAP_SHARED,
                _ => MAP_PRIVATE,
            };
            if v.kind == VmaKind::Anon {
                flags |= MAP_ANONYMOUS;
            }
            if v.flags & format::VMA_GROWSDOWN != 0 {
                flags |= MAP_GROWSDOWN;
            }
            // Shared anonymous memory is one object wherever it is mapped.
            let shared_file;
            let file = if v.kind == VmaKind::AnonShared {
                shared_file = shm_file(shared, v.shm_id).map_err(|e| {
                    fail!(log, e, "creating shared memory object {} failed", v.shm_id)
                })?;
                Some(&*shared_file)
            } else {
                v.file.as_deref()
            };
            // Accounted but read-only (a RELRO segment): mapped writable,
            // which charges it, then without write permission, as the
            // mprotect() that made it did.
            let relro = v.flags & format::VMA_ACCOUNT != 0 && v.prot & format::PROT_WRITE == 0;
            let prot = if relro {
                v.prot | format::PROT_WRITE
            } else {
                v.prot
            };
            let got = current::vm_mmap(file, v.start, v.end - v.start, prot, flags, v.pgoff * PS)
                .map_err(|e| {
                if e == EEXIST {
                    fail!(
                        log,
                        e,
                        "mapping {:#x}-{:#x} ({}) overlaps crctl's own memory",
                        v.start,
                        v.end,
                        v.kind.name()
                    )
                } else {
                    fail!(
                        log,
                        e,
                        "mapping {:#x}-{:#x} ({}) failed",
                        v.start,
                        v.end,
                        v.kind.name()
                    )
                }
            })?;
            if got != v.start {
                return Err(fail!(
                    log,
                    EINVAL,
                    "mapping {:#x}-{:#x} landed at {got:#x}",
                    v.start,
                    v.end
                ));
            }
            let mut vm = 0;
            for (bit, f) in vmf::advice() {
                if v.flags & bit & format::VMA_ADVICE != 0 {
                    vm |= f;
                }
            }
            let clear = v.adjusted();
            if vm | clear != 0 {
                current::vma_change_flags(v.start, v.end, vm, clear).map_err(|e| {
                    fail!(
                        log,
                        e,
                        "setting the flags of {:#x}-{:#x} failed",
                        v.start,
                        v.end
                    )
                })?;
            }
        }
        Ok(())
    }

    /// Sets the mm layout, saved auxv and executable link.
    pub(crate) fn set_layout(&self, log: &Log) -> Result {
        current::set_mm_layout(&self.layout.words(), &self.auxv);
        if let Some(exe) = &self.exe {
            current::set_exe_file(exe)
                .map_err(|e| fail!(log, e, "cannot set the executable link"))?;
        }
        Ok(())
    }
}

/// The shared anonymous memory object `id`, created now if this is its
/// first mapping, with the largest extent any of its mappings needs.
fn shm_file(shared: &mut SharedObjects, id: u32) -> Result<ARef<File>> {
    let Some(Object::Shm { size, file }) = shared.get(Kind::Shm, id) else {
        return Err(EINVAL);
    };
    if file.is_none() {
        *file = Some(kapi::shmem_file(*size)?);
    }
    file.clone().ok_or(EINVAL)
}

/// Where page contents go: `(process index, VMA index, VMA writable,
/// address, data)`.
pub(crate) type PageSink<'a> =
    dyn FnMut(u32, usize, bool, u64, &[u8]) -> Result<(), ReadError> + 'a;

/// Where inherited runs go: `(from process, to process, VMA index, VMA
/// writable, address, length)`: the pages process `to` shares with process
/// `from`, at the same addresses, whose contents the image saved in `from`.
pub(crate) type InheritSink<'a> =
    dyn FnMut(u32, u32, usize, bool, u64, u64) -> Result<(), ReadError> + 'a;

/// Reads the page records up to the tail and hands each run's contents to
/// `sink`, and each inherited run to `inherit`, checking each run against
/// its process's VMAs ([`format::PageWalk`]), as every reader of the format
/// does.
pub(crate) fn fill(
    procs: &[&MemPlan],
    r: &mut ImageReader<'_>,
    sink: &mut PageSink<'_>,
    inherit: &mut InheritSink<'_>,
) -> Result<(), ReadError> {
    fill_into(procs, r, sink, inherit, false)
}

/// [`fill`], for a process restoring itself (`procs` is the caller alone):
/// the contents of writable mappings are read from the image straight into
/// them ([`ImageReader::page_data_to_user`]), one copy each; read-only ones
/// go to `sink`.
pub(crate) fn fill_local(
    procs: &[&MemPlan],
    r: &mut ImageReader<'_>,
    sink: &mut PageSink<'_>,
) -> Result<(), ReadError> {
    // One process has no earlier one to inherit from: the walk refuses
    // an inherited run before this is called.
    let mut none = |_, _, _, _, _, _| Err(ReadError::Io(EINVAL));
    fill_into(procs, r, sink, &mut none, true)
}

fn fill_into(
    procs: &[&MemPlan],
    r: &mut ImageReader<'_>,
    sink: &mut PageSink<'_>,
    inherit: &mut InheritSink<'_>,
    direct: bool,
) -> Result<(), ReadError> {
    let mut buf = KVVec::from_elem(0u8, BATCH * PS as usize, GFP_KERNEL_ACCOUNT)?;
    let mut walk = format::PageWalk::new();
    loop {
        let ph = match r.next()? {
            format::Record::Pages(ph) => ph,
            format::Record::Inherited(ir) => {
                let vma = walk
                    .inherited(procs, &ir, PS as u32)
                    .map_err(|e| ReadError::Format(e, r.offset()))?;
                let writable = procs[ir.proc_idx as usize].vmas[vma].prot & format::PROT_WRITE != 0;
                let len = u64::from(ir.npages) * PS;
                inherit(ir.from_idx, ir.proc_idx, vma, writable, ir.addr, len)?;
                continue;
            }
            format::Record::Tail(_) => break,
            _ => return Err(ReadError::Format(format::FormatError::BadOrder, r.offset())),
        };
        let vma = walk
            .run(procs, &ph, PS as u32)
            .map_err(|e| ReadError::Format(e, r.offset()))?;
        let p = ph.proc_idx as usize;
        let writable = procs[p].vmas[vma].prot & format::PROT_WRITE != 0;
        let mut a = ph.addr;
        let mut left = u64::from(ph.npages) * PS;
        while left > 0 {
            let n = (left as usize).min(buf.len());
            if direct && writable {
                r.page_data_to_user(a, n, &mut buf)?;
            } else {
                r.page_data(&mut buf[..n])?;
                sink(p as u32, vma, writable, a, &buf[..n])?;
            }
            a += n as u64;
            left -= n as u64;
        }
    }
    walk.finish(procs)
        .map_err(|e| ReadError::Format(e, r.offset()))?;
    Ok(())
}

/// The VMA tables [`format::PageWalk`] ties page runs to.
impl format::VmaTable for [&MemPlan] {
    fn processes(&self) -> usize {
        self.len()
    }

    fn vmas(&self, p: usize) -> usize {
        self[p].vmas.len()
    }

    fn vma(&self, p: usize, i: usize) -> format::VmaSpan {
        let v = &self[p].vmas[i];
        format::VmaSpan {
            start: v.start,
            end: v.end,
            nr_pages: v.nr_pages,
        }
    }
}

/// Reads a replay of an image on a regular file ([`ImageReader::replay`])
/// to its end, before the point of no return: the metadata again, every
/// pages record against the processes' mappings exactly as [`fill`] will
/// check them, the checksums, and that no saved page of a private file
/// mapping lies beyond the end of its file (writing it there would fault).
/// Writes nothing.
pub(crate) fn verify(
    procs: &[&MemPlan],
    r: &mut ImageReader<'_>,
    log: &Log,
) -> Result<(), ReadError> {
    r.magic()?;
    while !matches!(r.next()?, format::Record::MetaEnd(_)) {}
    let in_file = |p: u32, a: u64, len: u64| {
        let Some(v) = procs
            .get(p as usize)
            .and_then(|m| m.vmas.iter().find(|v| v.start <= a && a < v.end))
        else {
            return Ok(());
        };
        if let (VmaKind::FilePrivate, Some(f)) = (v.kind, &v.file) {
            let size = (kapi::file_info(f).size.max(0) as u64).next_multiple_of(PS);
            let end = v.pgoff * PS + (a - v.start) + len;
            if end > size {
                return Err(ReadError::Logged(fail!(
                    log,
                    EINVAL,
                    "bad image: process {p}: page data at {a:#x} lies beyond the end of the file it maps"
                )));
            }
        }
        Ok(())
    };
    let mut sink = |p: u32, _v, _w, a: u64, data: &[u8]| in_file(p, a, data.len() as u64);
    let mut inherit = |_from, p: u32, _v, _w, a: u64, len: u64| in_file(p, a, len);
    fill(procs, r, &mut sink, &mut inherit)
}

/// The sink for a process restoring itself: writes into the current mm.
pub(crate) fn local_sink(
    log: &Log,
) -> impl FnMut(u32, usize, bool, u64, &[u8]) -> Result<(), ReadError> + '_ {
    move |_, _, writable, a, data| {
        if writable {
            UserSlice::new(UserPtr::from_addr(a as usize), data.len())
                .writer()
                .write_slice(data)
                .map_err(|e| ReadError::Logged(fail!(log, e, "writing memory at {a:#x} failed")))
        } else {
            current::poke(a, data).map_err(|e| {
                ReadError::Logged(fail!(log, e, "writing read-only memory at {a:#x} failed"))
            })
        }
    }
}
