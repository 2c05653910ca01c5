// SPDX-License-Identifier: GPL-2.0

//! Files with no name to reopen: memfds and deleted regular files.
//! Records: [`format::MemfdRec`], [`format::DeletedRec`] and their
//! [`format::FileData`].
//!
//! Each is an object of the shared-objects table: the inode, which
//! several open file descriptions can open (fds made by `dup()` share a
//! description; an open of `/proc/self/fd/N` makes another). Checkpoint
//! saves the inode once, with the parts of its contents that hold data
//! (`SEEK_DATA`, so holes stay holes), up to [`format::MAX_FILE_DATA`]
//! bytes, read through a description of its own so that the target's
//! offsets are left alone. Restart makes the inode again, writes the
//! contents, then opens each description from it with its status flags
//! and offset:
//!
//! - a memfd is made as `memfd_create()` makes one (a shmem file named
//!   `memfd:NAME`, so `/proc/PID/fd` shows `/memfd:NAME (deleted)` again),
//!   with its size and permission bits, and its seals once its contents are
//!   in;
//! - a deleted file is created as the caller at the path it had (or, if a
//!   file of that name exists, at that path with `.cr<N>` appended),
//!   with its permission bits, unlinked at once, then filled: the restored
//!   process sees an unlinked file with the same contents and size.

use crate::{
    error::{eopnotsupp, refuse, Refusal},
    format::{self, FileKind},
    kapi::{self, current, FileInfo},
    log::{fail, Log, Show},
    shared::{Kind, Object, SharedObjects},
    stream::ImageWriter,
    uapi::RestartObj,
};
use kernel::{alloc::KVec, fs::File, prelude::*, str::CStr, sync::aref::ARef};

const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const O_RDONLY: u32 = 0;
const O_RDWR: u32 = 2;
const O_LARGEFILE: u32 = 0o100000;
const O_NOATIME: u32 = 0o1000000;
const DELETED: &[u8] = b" (deleted)";
const MEMFD: &[u8] = b"/memfd:";

// ------------------------------------------------------------ checkpoint

impl AnonSnap {
    /// Checkpoint's own description of the file (it counts among the
    /// dentry's references).
    pub(crate) fn reader(&self) -> &File {
        &self.reader
    }
}

/// A memfd or deleted file, as checkpoint saves it.
pub(crate) struct AnonSnap {
    kind: FileKind,
    /// The inode's identity (never saved).
    inode: u64,
    /// A read-only description of the inode, of checkpoint's own.
    reader: ARef<File>,
    /// Memfd: its name; deleted file: the path it had.
    name: KVec<u8>,
    mode: u32,
    seals: u32,
    size: u64,
}

/// The parts of `f` (of `size` bytes) that hold data, and their total.
fn extents(f: &File, size: u64) -> Result<(KVec<(u64, u64)>, u64)> {
    let mut v = KVec::new();
    let (mut off, mut total) = (0u64, 0u64);
    while off < size {
        let Some(start) = kapi::file_seek_data(f, off as i64, false)? else {
            break;
        };
        let start = start as u64;
        if start >= size {
            break;
        }
        let end = match kapi::file_seek_data(f, start as i64, true)? {
            Some(e) => (e as u64).min(size),
            None => size,
        };
        if end <= start {
            break;
        }
        v.push((start, end - start), GFP_KERNEL_ACCOUNT)?;
        total += end - start;
        if total > format::MAX_FILE_DATA {
            break;
        }
        off = end;
    }
    Ok((v, total))
}

fn copy(b: &[u8]) -> Result<KVec<u8>> {
    let mut v = KVec::with_capacity(b.len(), GFP_KERNEL_ACCOUNT)?;
    v.extend_from_slice(b, GFP_KERNEL_ACCOUNT)?;
    Ok(v)
}

impl AnonSnap {
    /// The memfd or deleted file `f` (a regular file or directory named
    /// `path`) is, or `None` if it is neither. Runs in the target.
    pub(crate) fn gather(
        pid: i32,
        fd: u32,
        f: &File,
        i: &FileInfo,
        path: &[u8],
    ) -> Result<Option<Self>, Refusal> {
        let deleted = path.ends_with(DELETED);
        if !deleted && i.nlink != 0 {
            return Ok(None);
        }
        let base = path.strip_suffix(DELETED).unwrap_or(path);
        let memfd = path.starts_with(MEMFD) && deleted;
        let what = if memfd { "memfd" } else { "deleted file" };
        let named = |why: &str| {
            refuse!(
                eopnotsupp(),
                "pid {pid} fd {fd}: {what} {}: {why}: not supported yet",
                Show(base)
            )
        };
        if memfd && !kapi::file_is_shmem(f) {
            return Err(named("hugetlb memfd"));
        }
        if i.mode & S_IFMT != S_IFREG {
            return Err(named("not a regular file"));
        }
        if i.nlink != 0 && !memfd {
            return Err(named("still linked under another name"));
        }
        let (kind, name, seals) = if memfd {
            let name = &base[MEMFD.len()..];
            if name.contains(&b'/') || name.len() > format::MAX_MEMFD_NAME {
                return Err(named("name with a '/'"));
            }
            let seals = kapi::shmem_seals(f)
                .map_err(|e| refuse!(e, "pid {pid} fd {fd}: memfd: cannot read its seals"))?;
            if seals & !format::MEMFD_SEALS != 0 {
                return Err(named("unknown seals"));
            }
            (FileKind::Memfd, name, seals)
        } else {
            if base.first() != Some(&b'/') || base.ends_with(b"/") {
                return Err(named("no absolute path"));
            }
            (FileKind::Deleted, base, 0)
        };
        let size = i.size.max(0) as u64;
        let reader = kapi::file_reopen(f, O_RDONLY | O_LARGEFILE | O_NOATIME, true)
            .or_else(|_| kapi::file_reopen(f, O_RDONLY | O_LARGEFILE, true))
            .map_err(|e| {
                refuse!(
                    e,
                    "pid {pid} fd {fd}: {what} {}: cannot read it",
                    Show(base)
                )
            })?;
        let (_, total) = extents(&reader, size).map_err(|e| {
            refuse!(
                e,
                "pid {pid} fd {fd}: {what} {}: cannot read it",
                Show(base)
            )
        })?;
        if total > format::MAX_FILE_DATA {
            return Err(refuse!(
                eopnotsupp(),
                "pid {pid} fd {fd}: {what} {} with more than {} MiB of data: not supported",
                Show(base),
                format::MAX_FILE_DATA >> 20
            ));
        }
        Ok(Some(AnonSnap {
            kind,
            inode: i.inode,
            reader,
            name: copy(name)?,
            mode: i.mode & 0o7777,
            seals,
            size,
        }))
    }

    /// The [`FileKind`] of the descriptions that open it.
    pub(crate) fn file_kind(&self) -> FileKind {
        self.kind
    }

    /// Its kind of shared object and its kernel identity.
    pub(crate) fn key(&self) -> (Kind, u64) {
        let k = if self.kind == FileKind::Memfd {
            Kind::Memfd
        } else {
            Kind::Deleted
        };
        (k, self.inode)
    }

    /// Writes its record, with id `id`, then its contents.
    pub(crate) fn write(&self, id: u32, w: &mut ImageWriter<'_>) -> Result {
        let (ext, data) = extents(&self.reader, self.size)?;
        if data > format::MAX_FILE_DATA {
            // It grew since it was gathered (another process wrote to it).
            return Err(EFBIG);
        }
        if self.kind == FileKind::Memfd {
            let r = format::MemfdRec {
                id,
                seals: self.seals,
                size: self.size,
                data,
                mode: self.mode,
                name: &self.name,
            };
            w.record(|b| r.encode(b))?;
        } else {
            let r = format::DeletedRec {
                id,
                mode: self.mode,
                size: self.size,
                data,
                path: &self.name,
            };
            w.record(|b| r.encode(b))?;
        }
        let mut buf = KVec::from_elem(0u8, format::FILE_DATA_CHUNK, GFP_KERNEL)?;
        for &(start, len) in ext.iter() {
            let mut off = start;
            while off < start + len {
                let n = (start + len - off).min(format::FILE_DATA_CHUNK as u64) as usize;
                let chunk = &mut buf[..n];
                let mut got = 0;
                let mut pos = off as i64;
                while got < n {
                    match kapi::file_read_at(&self.reader, &mut chunk[got..], &mut pos)? {
                        0 => break,
                        k => got += k,
                    }
                }
                // Shrunk meanwhile: what is gone reads as zeros.
                chunk[got..].fill(0);
                let d = format::FileData {
                    offset: off,
                    bytes: chunk,
                };
                w.record(|b| d.encode(b))?;
                off += n as u64;
            }
        }
        Ok(())
    }
}

// ------------------------------------------------------------ restart

/// The memfd or deleted file whose contents the next records are.
pub(crate) struct AnonPlan {
    cur: Option<(Kind, u32)>,
}

/// Seals a memfd handed over may have: `F_SEAL_SEAL` (made without
/// `MFD_ALLOW_SEALING`) and `F_SEAL_EXEC` (`vm.memfd_noexec`); the record's
/// replace them.
const HANDED_SEALS: u32 = 0x1 | 0x20;

/// Takes a memfd the caller made for memfd record `o.id`
/// (`CR_RESTART_OBJ_MEMFD`): a shmem file named `memfd:...`, checked
/// against its record when that comes ([`AnonPlan::add_memfd`]).
pub(crate) fn take_handed(o: &RestartObj, shared: &mut SharedObjects, log: &Log) -> Result {
    let (id, fd) = (o.id, o.fd);
    if id == 0 || shared.get(Kind::Memfd, id).is_some() {
        return Err(fail!(
            log,
            EINVAL,
            "restart object {id}: bad or repeated memfd id"
        ));
    }
    let f = kapi::fget(fd).map_err(|e| fail!(log, e, "memfd {id}: fd {fd}: not an open file"))?;
    let mut buf = [0u8; 300];
    let memfd = kapi::file_dname(&f, &mut buf).starts_with(&MEMFD[1..]);
    if !memfd || !kapi::file_is_shmem(&f) || !kapi::file_mode(&f).1 {
        return Err(fail!(
            log,
            EINVAL,
            "memfd {id}: fd {fd}: not a memfd open for writing"
        ));
    }
    let _ = current::close_fd(fd as u32);
    shared.insert(
        id,
        Object::Memfd {
            file: f,
            seals: 0,
            sealed: false,
            handed: true,
        },
    )
}

/// The path a deleted file is recreated at: its own, or `.cr<n>` after it.
fn candidate(path: &[u8], n: u32) -> Result<KVec<u8>> {
    let mut v = KVec::with_capacity(path.len() + 16, GFP_KERNEL)?;
    v.extend_from_slice(path, GFP_KERNEL)?;
    if n > 0 {
        let mut digits = [0u8; 10];
        let mut k = digits.len();
        let mut x = n;
        while x > 0 {
            k -= 1;
            digits[k] = b'0' + (x % 10) as u8;
            x /= 10;
        }
        v.extend_from_slice(b".cr", GFP_KERNEL)?;
        v.extend_from_slice(&digits[k..], GFP_KERNEL)?;
    }
    v.push(0, GFP_KERNEL)?;
    Ok(v)
}

/// How many other names a deleted file is tried at.
const RENAME_TRIES: u32 = 100;

impl AnonPlan {
    /// No object yet.
    pub(crate) fn new() -> Self {
        AnonPlan { cur: None }
    }

    fn check_id(kind: Kind, id: u32, shared: &SharedObjects, log: &Log) -> Result {
        if id as usize != shared.count(kind) + 1 {
            return Err(fail!(
                log,
                EINVAL,
                "bad image: memfd or deleted file {id} out of order"
            ));
        }
        Ok(())
    }

    /// Makes the memfd of a memfd record, or fills the one the caller
    /// handed over for it (before the point of no return).
    pub(crate) fn add_memfd(
        &mut self,
        m: &format::MemfdRec<'_>,
        shared: &mut SharedObjects,
        log: &Log,
    ) -> Result {
        if let Some(Object::Memfd {
            file,
            seals,
            handed,
            ..
        }) = shared.get(Kind::Memfd, m.id)
        {
            let id = m.id;
            if !*handed {
                return Err(fail!(log, EINVAL, "bad image: memfd {id} repeated"));
            }
            // As crctl makes it: named as recorded, of its size, not
            // sealed (but F_SEAL_EXEC that vm.memfd_noexec may add).
            let mut buf = [0u8; 300];
            let dname = kapi::file_dname(file, &mut buf);
            let same = dname.strip_prefix(&MEMFD[1..]) == Some(m.name)
                && kapi::file_info(file).size == m.size as i64
                && kapi::shmem_seals(file).is_ok_and(|s| s & !HANDED_SEALS == 0);
            if !same {
                return Err(fail!(
                    log,
                    EINVAL,
                    "memfd {id}: the memfd handed over is not {} of {} bytes, empty, unsealed",
                    Show(m.name),
                    m.size
                ));
            }
            kapi::file_set_mode_bits(file, m.mode);
            *seals = m.seals;
            *handed = false;
            self.cur = Some((Kind::Memfd, id));
            return Ok(());
        }
        Self::check_id(Kind::Memfd, m.id, shared, log)?;
        let mut name = KVec::with_capacity(MEMFD.len() + m.name.len(), GFP_KERNEL)?;
        name.extend_from_slice(&MEMFD[1..], GFP_KERNEL)?;
        name.extend_from_slice(m.name, GFP_KERNEL)?;
        name.push(0, GFP_KERNEL)?;
        let cs = CStr::from_bytes_with_nul(&name).map_err(|_| EINVAL)?;
        let file = kapi::memfd_file(cs, m.size)
            .map_err(|e| fail!(log, e, "memfd {}: cannot create it", Show(m.name)))?;
        kapi::file_set_mode_bits(&file, m.mode);
        shared.insert(
            m.id,
            Object::Memfd {
                file,
                seals: m.seals,
                sealed: false,
                handed: false,
            },
        )?;
        self.cur = Some((Kind::Memfd, m.id));
        Ok(())
    }

    /// Recreates the file of a deleted-file record, as the caller, and
    /// unlinks it (before the point of no return).
    pub(crate) fn add_deleted(
        &mut self,
        d: &format::DeletedRec<'_>,
        shared: &mut SharedObjects,
        log: &Log,
    ) -> Result {
        Self::check_id(Kind::Deleted, d.id, shared, log)?;
        let mut n = 0;
        let file = loop {
            let p = candidate(d.path, n)?;
            let cs = CStr::from_bytes_with_nul(&p).map_err(|_| EINVAL)?;
            match kapi::file_create(cs, O_RDWR, d.mode) {
                Ok(f) => break f,
                Err(e) if e == EEXIST && n < RENAME_TRIES => n += 1,
                Err(e) => {
                    return Err(fail!(
                        log,
                        e,
                        "deleted file {}: cannot recreate it",
                        Show(d.path)
                    ))
                }
            }
        };
        kapi::file_unlink(&file)
            .map_err(|e| fail!(log, e, "deleted file {}: cannot unlink it", Show(d.path)))?;
        if d.size > 0 {
            // Its size: a trailing hole ends with one written zero byte.
            let mut pos = d.size as i64 - 1;
            kapi::file_write_at(&file, &[0], &mut pos)
                .map_err(|e| fail!(log, e, "deleted file {}: cannot size it", Show(d.path)))?;
        }
        shared.insert(d.id, Object::Deleted { file })?;
        self.cur = Some((Kind::Deleted, d.id));
        Ok(())
    }

    /// Writes contents into the object of the last memfd or deleted-file
    /// record (the validator keeps them inside its size, in order).
    pub(crate) fn add_data(
        &mut self,
        d: &format::FileData<'_>,
        shared: &mut SharedObjects,
        log: &Log,
    ) -> Result {
        let file = match self.cur.and_then(|(k, id)| shared.get(k, id)) {
            Some(Object::Memfd { file, .. }) | Some(Object::Deleted { file }) => file.clone(),
            _ => return Err(fail!(log, EINVAL, "bad image: file data without its file")),
        };
        let mut pos = d.offset as i64;
        let mut done = 0;
        while done < d.bytes.len() {
            match kapi::file_write_at(&file, &d.bytes[done..], &mut pos) {
                Ok(0) => return Err(fail!(log, EIO, "memfd or deleted file: short write")),
                Ok(k) => done += k,
                Err(e) => {
                    return Err(fail!(
                        log,
                        e,
                        "memfd or deleted file: cannot write its contents"
                    ))
                }
            }
        }
        Ok(())
    }

    /// The new description of a memfd or deleted file that file record `r`
    /// opens, with its status flags and offset; the memfd gets its seals
    /// now that its contents are in.
    pub(crate) fn open(
        &mut self,
        r: &format::FileRec<'_>,
        shared: &mut SharedObjects,
        log: &Log,
    ) -> Result<ARef<File>> {
        let (kind, obj, flags, pos, fd) = (r.kind, r.obj, r.open_flags, r.pos, r.fd);
        self.cur = None;
        let k = if kind == FileKind::Memfd {
            Kind::Memfd
        } else {
            Kind::Deleted
        };
        let file = match shared.get(k, obj) {
            Some(Object::Memfd {
                file,
                seals,
                sealed,
                handed: false,
            }) => {
                if !*sealed {
                    kapi::shmem_set_seals(file, *seals)
                        .map_err(|e| fail!(log, e, "fd {fd}: memfd {obj}: cannot seal it"))?;
                    *sealed = true;
                }
                file.clone()
            }
            Some(Object::Deleted { file }) => file.clone(),
            _ => {
                return Err(fail!(
                    log,
                    EINVAL,
                    "bad image: fd {fd}: {} {obj} is not in the image",
                    kind.name()
                ))
            }
        };
        let f = kapi::file_reopen(&file, flags, false)
            .map_err(|e| fail!(log, e, "fd {fd}: cannot open {} {obj}", kind.name()))?;
        kapi::file_seek(&f, pos as i64).map_err(|e| {
            fail!(
                log,
                e,
                "fd {fd}: cannot seek {} {obj} to {pos}",
                kind.name()
            )
        })?;
        Ok(f)
    }
}
