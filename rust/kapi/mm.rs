// SPDX-License-Identifier: GPL-2.0

//! Memory maps: references, the mmap read lock, VMAs and pinned pages.

use super::{errno_result, ffi, file_from_raw, path_in};
use core::ptr::{self, NonNull};
use kernel::{bindings, ffi::c_int, fs::File, prelude::*, sync::aref::ARef};

/// A reference on an mm (`mm_users`), keeping its mappings alive.
///
/// # Invariants
///
/// `0` is a valid mm with a user reference owned by this object.
pub(crate) struct MmRef(NonNull<bindings::mm_struct>);

// SAFETY: mm references may be used and dropped from any task.
unsafe impl Send for MmRef {}
// SAFETY: As above.
unsafe impl Sync for MmRef {}

impl MmRef {
    /// The mm of `t`, referenced (`get_task_mm()`), if it has one.
    pub(super) fn of(t: *mut bindings::task_struct) -> Option<Self> {
        // SAFETY: `t` is a valid task (callers); a reference or null comes
        // back.
        NonNull::new(unsafe { bindings::get_task_mm(t) }).map(MmRef)
    }

    fn raw(&self) -> *mut bindings::mm_struct {
        self.0.as_ptr()
    }

    /// Takes the mmap lock for reading.
    pub(crate) fn read_lock(&self) -> MmReadGuard<'_> {
        // SAFETY: The mm is valid (invariant).
        unsafe { bindings::mmap_read_lock(self.raw()) };
        // INVARIANT: Locked just above.
        MmReadGuard(self)
    }
}

/// The `prctl(PR_SET_THP_DISABLE)` state of an mm.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ThpDisabled {
    /// Not disabled.
    No,
    /// Disabled for every mapping.
    Completely,
    /// Disabled except where `MADV_HUGEPAGE` advises it
    /// (`PR_THP_DISABLE_EXCEPT_ADVISED`).
    ExceptAdvised,
}

impl MmRef {
    /// Sets the `prctl(PR_SET_THP_DISABLE)` state, as that prctl does.
    pub(crate) fn set_thp_disabled(&self, v: ThpDisabled) {
        let (on, off) = match v {
            ThpDisabled::No => (None, [MMF_COMPLETELY, MMF_EXCEPT_ADVISED]),
            ThpDisabled::Completely => (Some(MMF_COMPLETELY), [MMF_EXCEPT_ADVISED; 2]),
            ThpDisabled::ExceptAdvised => (Some(MMF_EXCEPT_ADVISED), [MMF_COMPLETELY; 2]),
        };
        // SAFETY: The mm is valid (invariant); the flags are atomic bits,
        // changed under the mmap write lock as prctl does.
        unsafe {
            ffi::cr_mmap_write_lock(self.raw());
            for f in off {
                ffi::cr_mm_flags_clear(self.raw(), f);
            }
            if let Some(f) = on {
                ffi::cr_mm_flags_set(self.raw(), f);
            }
            ffi::cr_mmap_write_unlock(self.raw());
        }
    }
}

const MMF_COMPLETELY: c_int = bindings::MMF_DISABLE_THP_COMPLETELY as c_int;
const MMF_EXCEPT_ADVISED: c_int = bindings::MMF_DISABLE_THP_EXCEPT_ADVISED as c_int;

impl Drop for MmRef {
    fn drop(&mut self) {
        // SAFETY: We own a user reference (invariant).
        unsafe { bindings::mmput(self.raw()) };
    }
}

/// Kinds of special mapping ([`VmaInfo::special`]).
pub(crate) mod special {
    pub(crate) const VDSO: u32 = 1;
    pub(crate) const VVAR: u32 = 2;
    pub(crate) const VVAR_VCLOCK: u32 = 3;
    pub(crate) const OTHER: u32 = 4;

    /// The kind of a special mapping, from the name its `vm_ops` give it.
    pub(super) fn of_name(name: &[u8]) -> u32 {
        match name {
            b"[vdso]" => VDSO,
            b"[vvar]" => VVAR,
            b"[vvar_vclock]" => VVAR_VCLOCK,
            _ => OTHER,
        }
    }
}

/// One VMA as read under the mmap lock.
pub(crate) struct VmaInfo {
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) pgoff: u64,
    pub(crate) vm_flags: u64,
    pub(crate) file: Option<ARef<File>>,
    pub(crate) special: u32,
    pub(crate) has_anon_vma: bool,
    /// Identity of the backing object (kernel-internal, never written).
    pub(crate) ino_key: u64,
}

/// `VM_*` flags of the running kernel.
pub(crate) mod vmf {
    use super::ffi::{self, VmFlag};

    fn get(which: VmFlag) -> u64 {
        // SAFETY: Returns a constant.
        unsafe { ffi::cr_vm_flag(which) }
    }
    pub(crate) fn read() -> u64 {
        get(VmFlag::Read)
    }
    pub(crate) fn write() -> u64 {
        get(VmFlag::Write)
    }
    pub(crate) fn exec() -> u64 {
        get(VmFlag::Exec)
    }
    pub(crate) fn shared() -> u64 {
        get(VmFlag::Shared)
    }
    /// `VM_MAYSHARE`: a `MAP_SHARED` mapping, even of a read-only file
    /// (which has no `VM_SHARED`).
    pub(crate) fn mayshare() -> u64 {
        get(VmFlag::MayShare)
    }
    pub(crate) fn growsdown() -> u64 {
        get(VmFlag::GrowsDown)
    }
    /// Device memory, hugetlb, driver mappings, shadow stacks, and memory
    /// with a protection key other than 0.
    pub(crate) fn unsupported() -> u64 {
        [
            VmFlag::Io,
            VmFlag::PfnMap,
            VmFlag::MixedMap,
            VmFlag::HugeTlb,
            VmFlag::DontExpand,
            VmFlag::ShadowStack,
            VmFlag::Pkeys,
        ]
        .into_iter()
        .fold(0, |m, f| m | get(f))
    }
    /// `VM_LOCKED | VM_LOCKONFAULT`.
    pub(crate) fn locked() -> u64 {
        get(VmFlag::Locked) | get(VmFlag::LockOnFault)
    }
    pub(crate) fn noreserve() -> u64 {
        get(VmFlag::NoReserve)
    }
    /// `VM_DONTCOPY` (`MADV_DONTFORK`).
    pub(crate) fn dontcopy() -> u64 {
        get(VmFlag::DontCopy)
    }
    pub(crate) fn wipeonfork() -> u64 {
        get(VmFlag::WipeOnFork)
    }
    pub(crate) fn dontdump() -> u64 {
        get(VmFlag::DontDump)
    }
    /// `VM_HUGEPAGE` (0 without transparent huge pages).
    pub(crate) fn hugepage() -> u64 {
        get(VmFlag::HugePage)
    }
    /// `VM_NOHUGEPAGE` (0 without transparent huge pages).
    pub(crate) fn nohugepage() -> u64 {
        get(VmFlag::NoHugePage)
    }
    /// `VM_SOFTDIRTY` (0 without soft-dirty tracking).
    pub(crate) fn softdirty() -> u64 {
        get(VmFlag::SoftDirty)
    }
    /// `VM_ACCOUNT`.
    pub(crate) fn account() -> u64 {
        get(VmFlag::Account)
    }
    /// `VM_MERGEABLE` (`MADV_MERGEABLE`, KSM).
    pub(crate) fn mergeable() -> u64 {
        get(VmFlag::Mergeable)
    }
    /// `VM_SEALED` (`mseal`; 0 where it does not exist).
    pub(crate) fn sealed() -> u64 {
        get(VmFlag::Sealed)
    }
    /// The image's `VMA_*` bits and the kernel's `VM_*` flags they stand
    /// for (the `madvise` state and `VM_NORESERVE`).
    pub(crate) fn advice() -> [(u32, u64); 6] {
        use crate::format as f;
        [
            (f::VMA_NORESERVE, noreserve()),
            (f::VMA_DONTFORK, dontcopy()),
            (f::VMA_WIPEONFORK, wipeonfork()),
            (f::VMA_DONTDUMP, dontdump()),
            (f::VMA_HUGEPAGE, hugepage()),
            (f::VMA_NOHUGEPAGE, nohugepage()),
        ]
    }
}

/// The mmap lock of an [`MmRef`], held for reading.
///
/// # Invariants
///
/// The mmap lock of `0` is held for reading, and released in [`Drop`].
pub(crate) struct MmReadGuard<'a>(&'a MmRef);

impl MmReadGuard<'_> {
    fn mm(&self) -> *mut bindings::mm_struct {
        self.0.raw()
    }

    /// The first VMA that ends above `addr`.
    pub(crate) fn vma_at(&self, addr: u64) -> Option<VmaInfo> {
        // SAFETY: The lock is held (invariant), which keeps the VMA valid
        // while it is read; the file is referenced before the lock goes.
        unsafe {
            let vma = bindings::find_vma(self.mm(), addr as usize);
            if vma.is_null() {
                return None;
            }
            let v = &*vma;
            let range = &v.__bindgen_anon_1.__bindgen_anon_1;
            let file = NonNull::new(v.vm_file).map(|f| {
                bindings::get_file(f.as_ptr());
                file_from_raw(f)
            });
            let name = match v.vm_ops.as_ref().and_then(|ops| ops.name) {
                Some(name) => name(vma),
                None => ptr::null(),
            };
            Some(VmaInfo {
                start: range.vm_start as u64,
                end: range.vm_end as u64,
                pgoff: v.vm_pgoff as u64,
                vm_flags: v.__bindgen_anon_2.vm_flags as u64,
                ino_key: file.as_ref().map_or(0, |f| (*f.as_ptr()).f_inode as u64),
                file,
                special: if name.is_null() {
                    0
                } else {
                    special::of_name(CStr::from_char_ptr(name).to_bytes())
                },
                has_anon_vma: !v.anon_vma.is_null(),
            })
        }
    }

    /// Whether `prctl(PR_SET_THP_DISABLE)` disabled transparent huge pages.
    pub(crate) fn thp_disabled(&self) -> ThpDisabled {
        let test = |f: u32| {
            // SAFETY: The mm is valid (invariant); its flags are atomic bits.
            unsafe { ffi::cr_mm_flags_test(self.mm(), f as c_int) }
        };
        if test(bindings::MMF_DISABLE_THP_COMPLETELY) {
            ThpDisabled::Completely
        } else if test(bindings::MMF_DISABLE_THP_EXCEPT_ADVISED) {
            ThpDisabled::ExceptAdvised
        } else {
            ThpDisabled::No
        }
    }

    /// Layout words and saved auxv of the mm.
    pub(crate) fn layout(&self, auxv: &mut [u64]) -> [u64; 11] {
        // SAFETY: The mm is valid; the lock is held (invariant).
        let m = unsafe { &(*self.mm()).__bindgen_anon_1 };
        for (d, s) in auxv.iter_mut().zip(m.saved_auxv.iter()) {
            *d = *s as u64;
        }
        [
            m.start_code,
            m.end_code,
            m.start_data,
            m.end_data,
            m.start_brk,
            m.brk,
            m.start_stack,
            m.arg_start,
            m.arg_end,
            m.env_start,
            m.env_end,
        ]
        .map(|w| w as u64)
    }

    /// Path of the executable, into `buf`.
    pub(crate) fn exe_path<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8]> {
        // SAFETY: The lock is held (invariant), which keeps `exe_file`
        // stable; `buf` is valid for writes of its length.
        let p = unsafe {
            let exe = ptr::read_volatile(&raw const (*self.mm()).__bindgen_anon_1.exe_file);
            if exe.is_null() {
                return Err(ENOENT);
            }
            bindings::d_path(
                ffi::cr_file_user_path(exe),
                buf.as_mut_ptr().cast(),
                buf.len() as i32,
            )
        };
        path_in(buf, p.cast())
    }

    /// The first address in `addr..end` that a page table could map
    /// (`end` if none): past the 2 MiB and 1 GiB ranges that have no page
    /// table at all, which therefore hold no anonymous page, present or
    /// swapped out. A huge entry counts as mapped.
    pub(crate) fn next_mapped(&self, mut addr: u64, end: u64) -> u64 {
        const PMD: u64 = 1 << bindings::PMD_SHIFT;
        const PUD: u64 = 1 << bindings::PUD_SHIFT;
        let next = |a: u64, size: u64| (a | (size - 1)).saturating_add(1);
        while addr < end {
            let a = addr as kernel::ffi::c_ulong;
            // SAFETY: The mmap lock is held (invariant), so no page table
            // above the PTE level is freed while it is read: that takes
            // the write lock, or unmapping a VMA, which the caller's parked
            // target does not do. Each level is entered only when its
            // entry is neither empty nor a huge leaf; the PMD entry is only
            // read, never followed.
            let empty = unsafe {
                let pgd = ffi::cr_pgd_offset(self.mm(), a);
                if ffi::cr_pgd_none(pgd) {
                    Some(PUD)
                } else {
                    let p4d = ffi::cr_p4d_offset(pgd, a);
                    if ffi::cr_p4d_none(p4d) {
                        Some(PUD)
                    } else {
                        let pud = ffi::cr_pud_offset(p4d, a);
                        if ffi::cr_pud_none(pud) {
                            Some(PUD)
                        } else if ffi::cr_pud_leaf(pud) {
                            None
                        } else if ffi::cr_pmd_none(ffi::cr_pmd_offset(pud, a)) {
                            Some(PMD)
                        } else {
                            None
                        }
                    }
                }
            };
            match empty {
                Some(size) => addr = next(addr, size),
                None => return addr,
            }
        }
        end
    }

    /// Drops the pages of `start..end`, which must lie inside one VMA, as
    /// `MADV_DONTNEED` does: the range reads as zeros again (anonymous) or
    /// as the file (private file mappings).
    pub(crate) fn zap(&self, start: u64, end: u64) -> Result {
        // SAFETY: The lock is held (invariant), which keeps the VMA valid;
        // the range is checked to lie inside it, as `zap_vma_range()`
        // requires (it takes the lock held for reading, as madvise does).
        unsafe {
            let vma = bindings::find_vma(self.mm(), start as usize);
            if vma.is_null() {
                return Err(EFAULT);
            }
            let range = &(*vma).__bindgen_anon_1.__bindgen_anon_1;
            if (range.vm_start as u64) > start || end > range.vm_end as u64 || start >= end {
                return Err(EFAULT);
            }
            bindings::zap_vma_range(vma, start as usize, (end - start) as usize);
        }
        Ok(())
    }

    /// Pins the pages from `addr` that a core dump would save (no holes, no
    /// zero page: `FOLL_DUMP`), up to `out.len()`; returns how many (0 at a
    /// hole).
    pub(crate) fn dump_pages(&self, addr: u64, out: &mut [Option<PinnedPage>]) -> Result<usize> {
        let mut raw = [ptr::null_mut::<bindings::page>(); 64];
        let n = out.len().min(raw.len());
        let flags = bindings::FOLL_DUMP | bindings::FOLL_FORCE;
        // SAFETY: The lock is held (invariant); `raw` has room for `n`
        // pointers.
        let r = unsafe {
            bindings::get_user_pages_remote(
                self.mm(),
                addr as usize,
                n,
                flags,
                raw.as_mut_ptr(),
                ptr::null_mut(),
            )
        };
        if r == -(bindings::EFAULT as isize) || r == 0 {
            return Ok(0);
        }
        let got = errno_result(r as i64)? as usize;
        // INVARIANT: GUP returned `got` referenced pages, each now owned by
        // one `PinnedPage`.
        for (slot, p) in out.iter_mut().zip(raw.iter()).take(got) {
            *slot = NonNull::new(*p).map(PinnedPage);
        }
        Ok(got)
    }
}

impl Drop for MmReadGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: Held (invariant).
        unsafe { bindings::mmap_read_unlock(self.mm()) };
    }
}

/// A page with a reference from GUP.
///
/// # Invariants
///
/// `0` is a valid page whose reference this object owns.
pub(crate) struct PinnedPage(NonNull<bindings::page>);

impl PinnedPage {
    /// Whether it is an anonymous page (for private file mappings: copied on
    /// write).
    pub(crate) fn is_anon(&self) -> bool {
        // SAFETY: Valid page (invariant).
        unsafe { ffi::cr_page_is_anon(self.0.as_ptr()) }
    }

    /// Whether both are the same page (a page shared copy-on-write between
    /// two processes since a `fork()`).
    pub(crate) fn same(&self, other: &PinnedPage) -> bool {
        self.0 == other.0
    }

    /// Copies the page into `dst`, which must be one page long.
    pub(crate) fn copy_to(&self, dst: &mut [u8]) {
        assert_eq!(dst.len(), kernel::page::PAGE_SIZE);
        // SAFETY: The page is valid (invariant) and mapped for the copy;
        // `dst` has room for a page.
        unsafe {
            let src = bindings::kmap_local_page(self.0.as_ptr());
            ptr::copy_nonoverlapping(src.cast::<u8>(), dst.as_mut_ptr(), dst.len());
            bindings::kunmap_local(src);
        }
    }
}

impl Drop for PinnedPage {
    fn drop(&mut self) {
        // SAFETY: We own the reference (invariant).
        unsafe { ffi::cr_page_put(self.0.as_ptr()) };
    }
}

/// Most pages [`write_pages`] takes at a time.
pub(crate) const WRITE_PAGES_MAX: usize = 64;

/// Writes `pages` whole to `f` at its position (or as a stream), straight
/// from the pages: the one copy is the destination's own (into its page
/// cache, pipe buffer or socket buffer). `done` counts the bytes `f`
/// accepted, also when an error cuts the write short. A slot without a
/// page is refused (EINVAL) before anything is written.
pub(crate) fn write_pages(f: &File, pages: &[Option<PinnedPage>], done: &mut usize) -> Result {
    let ps = kernel::page::PAGE_SIZE;
    if pages.len() > WRITE_PAGES_MAX {
        return Err(EINVAL);
    }
    let mut bv = [bindings::bio_vec {
        bv_page: ptr::null_mut(),
        bv_len: 0,
        bv_offset: 0,
    }; WRITE_PAGES_MAX];
    for (b, p) in bv.iter_mut().zip(pages) {
        b.bv_page = p.as_ref().ok_or(EINVAL)?.0.as_ptr();
        b.bv_len = ps as u32;
    }
    let total = pages.len() * ps;
    // SAFETY: An all-zero `iov_iter` is a valid value for
    // `iov_iter_bvec()` to initialise.
    let mut it: bindings::iov_iter = unsafe { core::mem::zeroed() };
    // SAFETY: `bv` holds `pages.len()` segments of referenced pages
    // (`PinnedPage` invariant), which outlive the iterator.
    unsafe {
        bindings::iov_iter_bvec(
            &mut it,
            bindings::ITER_SOURCE,
            bv.as_ptr(),
            pages.len() as kernel::ffi::c_ulong,
            total,
        )
    };
    let start = *done;
    while *done - start < total {
        // SAFETY: `f` is a valid file and `it` a valid iterator over the
        // pages, which the write advances.
        let r = unsafe { ffi::cr_file_write_iter(f.as_ptr(), &mut it) };
        match errno_result(r as i64)? {
            0 => return Err(EIO),
            n => *done += n as usize,
        }
    }
    Ok(())
}

impl PinnedPage {
    /// Calls `f` with the page's contents, mapped for reading.
    pub(crate) fn with_data<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        // SAFETY: The page is valid (invariant) and mapped until
        // `kunmap_local()`; nothing writes it through this mapping.
        unsafe {
            let src = bindings::kmap_local_page(self.0.as_ptr());
            let r = f(core::slice::from_raw_parts(
                src.cast::<u8>(),
                kernel::page::PAGE_SIZE,
            ));
            bindings::kunmap_local(src);
            r
        }
    }
}

/// Reads up to `len` bytes of `f` straight into the caller's memory at
/// user address `addr`: at `*pos` (advanced; the file's own position left
/// alone) or, with `None`, at the file's position (streams: none). The
/// file's read is the one copy; the destination faults in as on a write
/// by the caller.
pub(crate) fn read_to_user(
    f: &File,
    addr: u64,
    len: usize,
    pos: Option<&mut i64>,
) -> Result<usize> {
    // SAFETY: An all-zero `iov_iter` is a valid value for `import_ubuf()`
    // to initialise.
    let mut it: bindings::iov_iter = unsafe { core::mem::zeroed() };
    // SAFETY: `it` is valid for writes; the range is user memory of the
    // caller, checked by the copy itself.
    errno_result(i64::from(unsafe {
        bindings::import_ubuf(bindings::ITER_DEST as c_int, addr as *mut _, len, &mut it)
    }))?;
    // SAFETY: `f` is valid, `it` a valid iterator, `pos` valid for reads
    // and writes.
    let r = unsafe {
        match pos {
            Some(p) => bindings::vfs_iter_read(f.as_ptr(), &mut it, p, 0),
            None => ffi::cr_file_read_iter(f.as_ptr(), &mut it),
        }
    };
    Ok(errno_result(r as i64)? as usize)
}

/// References the caller's pages from user address `addr` (up to
/// `out.len()`, present or faulted in for reading); returns how many.
pub(crate) fn user_pages(addr: u64, out: &mut [Option<PinnedPage>]) -> Result<usize> {
    let mut raw = [ptr::null_mut::<bindings::page>(); WRITE_PAGES_MAX];
    let n = out.len().min(raw.len());
    // SAFETY: `raw` has room for `n` pointers; the range is the caller's.
    let r =
        unsafe { bindings::get_user_pages_fast(addr as usize, n as c_int, 0, raw.as_mut_ptr()) };
    let got = errno_result(i64::from(r))? as usize;
    // INVARIANT: GUP returned `got` referenced pages, each now owned by
    // one `PinnedPage`.
    for (slot, p) in out.iter_mut().zip(raw.iter()).take(got) {
        *slot = NonNull::new(*p).map(PinnedPage);
    }
    Ok(got)
}
