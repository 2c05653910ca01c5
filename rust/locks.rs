// SPDX-License-Identifier: GPL-2.0

//! File locks and the owner of a description's signals, parts of an open
//! file of any kind. Records: [`format::LockRec`], [`format::FileOwner`].
//!
//! Checkpoint reads the locks of each open file's inode: flock and OFD
//! locks whose description is that file belong to it, and are written
//! after its first file record in the image; classic POSIX locks whose
//! owner is the process's file table belong to the process, and are written
//! after its first file record for that inode. A POSIX lock owned by a file
//! table outside the tree is not the tree's and is left out; a lease or
//! delegation, or a lock of a type cr does not know, is refused by name.
//!
//! Restart takes the flock and OFD locks on the reopened description as
//! the coordinator, before the point of no return, without blocking: a
//! conflicting lock held by someone else fails the restart with a clear
//! reason, and the locks go with the description if the restart fails.
//! POSIX locks are owned by the restored process's own file table, so its
//! leader takes them after installing its files, past the point of no
//! return; before it, the coordinator checks that each could be taken
//! (`vfs_test_lock`): a lock taken by someone else in between fails the
//! restart then, and the tree is killed.
//!
//! The owner (`F_SETOWN`, `F_SETOWN_EX`) and `F_SETSIG` signal of a
//! description are set again by the leader that installs it first, once
//! every task of the tree exists; an owner outside the tree is refused at
//! checkpoint, and so is `O_ASYNC` (which only files with an `fasync`
//! method can have: pipes, sockets, terminals).

use crate::{
    error::{eopnotsupp, refuse, Refusal},
    format::{self, LockKind, LockRec},
    kapi::{self, lock as kl},
    log::{fail, Log},
    stream::ImageWriter,
};
use kernel::{alloc::KVec, fs::File, prelude::*};

/// Most locks and leases an inode may hold (any owner's) when cr reads them.
const MAX_INODE_LOCKS: usize = 256;

// ------------------------------------------------------------ checkpoint

/// The locks and signal owner an open file carries, as read in one process.
pub(crate) struct FileLocks {
    /// Flock and OFD locks of the description (written with its first
    /// record in the image).
    own: KVec<LockRec>,
    /// POSIX locks of the process on this inode (written with it).
    posix: KVec<LockRec>,
    owner: Option<format::FileOwner>,
}

fn lock_ty(pid: i32, fd: u32, ty: i32) -> Result<u32, Refusal> {
    match ty {
        kl::F_RDLCK => Ok(format::LOCK_READ),
        kl::F_WRLCK => Ok(format::LOCK_WRITE),
        t => Err(refuse!(
            eopnotsupp(),
            "pid {pid} fd {fd}: file lock of type {t} not supported"
        )),
    }
}

impl FileLocks {
    /// Whether the description holds a flock or OFD lock (as read from its
    /// first descriptor in the tree).
    pub(crate) fn holds_own(&self) -> bool {
        !self.own.is_empty()
    }

    /// No lock, no owner.
    pub(crate) fn none() -> Self {
        FileLocks {
            own: KVec::new(),
            posix: KVec::new(),
            owner: None,
        }
    }

    /// Reads what `f` (at `fd` of process `pid`, the current one) carries:
    /// its description's locks and owner unless the process showed the
    /// description before (`seen_file`), the process's POSIX locks on the
    /// inode unless it showed the inode before (`seen_inode`). A file
    /// inherited from the restarting process (`inherited`) must carry
    /// none: restart does not touch it.
    pub(crate) fn gather(
        pid: i32,
        fd: u32,
        f: &File,
        seen_file: bool,
        seen_inode: bool,
        inherited: bool,
    ) -> Result<Self, Refusal> {
        let s = Self::gather_any(pid, fd, f, seen_file, seen_inode)?;
        if inherited && (!s.own.is_empty() || !s.posix.is_empty() || s.owner.is_some()) {
            return Err(refuse!(
                eopnotsupp(),
                "pid {pid} fd {fd}: file lock or signal owner (F_SETOWN) on a file inherited as fd 0-2: not supported"
            ));
        }
        Ok(s)
    }

    fn gather_any(
        pid: i32,
        fd: u32,
        f: &File,
        seen_file: bool,
        seen_inode: bool,
    ) -> Result<Self, Refusal> {
        let mut s = Self::none();
        if seen_file && seen_inode {
            return Ok(s);
        }
        let held = kl::inode_locks(f, MAX_INODE_LOCKS).map_err(|e| {
            refuse!(
                if e == E2BIG { eopnotsupp() } else { e },
                "pid {pid} fd {fd}: more than {MAX_INODE_LOCKS} locks on the file: not supported"
            )
        })?;
        let me = f.as_ptr() as usize;
        let files = kl::current_files();
        for l in held.iter() {
            let flags = l.flags & !kl::FL_SLEEP;
            let kind = match l.list {
                kl::LockList::Lease if l.file == me && !seen_file => {
                    return Err(refuse!(
                        eopnotsupp(),
                        "pid {pid} fd {fd}: lease or delegation (F_SETLEASE) not supported yet"
                    ))
                }
                kl::LockList::Lease => continue,
                kl::LockList::Flock if l.file == me && !seen_file => LockKind::Flock,
                kl::LockList::Flock => continue,
                kl::LockList::Posix if flags & kl::FL_OFDLCK != 0 => {
                    if l.owner != me || seen_file {
                        continue;
                    }
                    LockKind::Ofd
                }
                kl::LockList::Posix if l.owner == files && !seen_inode => LockKind::Posix,
                kl::LockList::Posix => continue,
            };
            let want = match kind {
                LockKind::Flock => kl::FL_FLOCK,
                LockKind::Posix => kl::FL_POSIX,
                LockKind::Ofd => kl::FL_POSIX | kl::FL_OFDLCK,
            };
            if flags != want {
                return Err(refuse!(
                    eopnotsupp(),
                    "pid {pid} fd {fd}: {} lock with flags {:#x} not supported",
                    kind.name(),
                    l.flags
                ));
            }
            if l.start < 0 || l.end < l.start {
                return Err(refuse!(
                    eopnotsupp(),
                    "pid {pid} fd {fd}: lock range {}-{} not supported",
                    l.start,
                    l.end
                ));
            }
            let rec = LockRec {
                file: 0,
                kind: kind as u32,
                ty: lock_ty(pid, fd, l.ty)?,
                pid: if kind == LockKind::Flock {
                    l.pid.max(0)
                } else {
                    0
                },
                start: l.start as u64,
                end: l.end as u64,
            };
            if kind == LockKind::Posix {
                s.posix.push(rec, GFP_KERNEL_ACCOUNT)?;
            } else {
                s.own.push(rec, GFP_KERNEL_ACCOUNT)?;
            }
        }
        if !seen_file {
            s.owner = Self::owner(pid, fd, f)?;
        }
        Ok(s)
    }

    fn owner(pid: i32, fd: u32, f: &File) -> Result<Option<format::FileOwner>, Refusal> {
        let o = kl::file_owner(f);
        if o.who == 0 && o.signum == 0 && !o.fasync {
            return Ok(None);
        }
        // Only a file with an `fasync` method can have `O_ASYNC`: it is on
        // that method's list, which restart does not rebuild yet.
        if o.fasync {
            return Err(refuse!(
                eopnotsupp(),
                "pid {pid} fd {fd}: O_ASYNC (signal-driven I/O) not supported yet"
            ));
        }
        let owner_type = if o.who < 0 {
            format::OWNER_PGRP
        } else if o.tid {
            format::OWNER_TID
        } else {
            format::OWNER_PID
        };
        Ok(Some(format::FileOwner {
            file: 0,
            owner_type,
            pid: o.who.checked_abs().unwrap_or(0),
            signum: o.signum.max(0) as u32,
            flags: if o.fasync { format::OWNER_ASYNC } else { 0 },
        }))
    }

    /// The signal owner, if any: `(kind, number)`.
    pub(crate) fn owner_of(&self) -> Option<(u32, i32)> {
        self.owner.map(|o| (o.owner_type, o.pid))
    }

    /// Writes the records after the file record of description `id`;
    /// `first`: its first record in the image.
    pub(crate) fn write(&self, id: u32, first: bool, w: &mut ImageWriter<'_>) -> Result {
        if first {
            if let Some(mut o) = self.owner {
                o.file = id;
                w.record(|b| o.encode(b))?;
            }
            for l in self.own.iter() {
                let l = LockRec { file: id, ..*l };
                w.record(|b| l.encode(b))?;
            }
        }
        for l in self.posix.iter() {
            let l = LockRec { file: id, ..*l };
            w.record(|b| l.encode(b))?;
        }
        Ok(())
    }
}

/// Refuses a flock or OFD lock whose open file description `f` is mapped
/// (vma `start`-`end` of process `pid`, the current one, file `path`) but
/// open at no fd of the process: restart reopens a mapping's file as a
/// description of its own, so the lock, which goes with the description,
/// would be lost. (A description that is also open at an fd has its lock
/// restored on that fd's description.)
pub(crate) fn check_mapped(
    pid: i32,
    start: u64,
    end: u64,
    f: &File,
    path: &[u8],
) -> Result<(), Refusal> {
    let held = kl::inode_locks(f, MAX_INODE_LOCKS).map_err(|e| {
        refuse!(
            if e == E2BIG { eopnotsupp() } else { e },
            "pid {pid}: vma {start:#x}-{end:#x}: more than {MAX_INODE_LOCKS} locks on the file: not supported"
        )
    })?;
    let me = f.as_ptr() as usize;
    let Some(kind) = held.iter().find_map(|l| match l.list {
        kl::LockList::Flock if l.file == me => Some(LockKind::Flock),
        kl::LockList::Posix if l.flags & kl::FL_OFDLCK != 0 && l.owner == me => Some(LockKind::Ofd),
        _ => None,
    }) else {
        return Ok(());
    };
    let at_fd = (0..kapi::current::max_fds())
        .any(|fd| matches!(kapi::current::fget(fd), Some((g, _)) if g.as_ptr() == f.as_ptr()));
    if at_fd {
        return Ok(());
    }
    Err(refuse!(
        eopnotsupp(),
        "pid {pid}: {} lock on {} held only through a mapping (vma {start:#x}-{end:#x}): not supported yet",
        kind.name(),
        crate::log::Show(path)
    ))
}

/// Refuses the signal owner `n` of kind `kind` ([`format::FileOwner`]) of
/// `fd` of process `pid` unless it is a live task (`F_OWNER_TID`), process
/// or process group leader of `tree`, which restart recreates with the same
/// number. 0 (none) is fine.
pub(crate) fn check_owner(
    pid: i32,
    fd: u32,
    kind: u32,
    n: i32,
    mut tree: impl Iterator<Item = format::TreeEntry>,
) -> Result<(), Refusal> {
    if n == 0 {
        return Ok(());
    }
    let live = |e: &format::TreeEntry| e.flags & format::TREE_ZOMBIE == 0;
    let ok = tree.any(|e| match kind {
        format::OWNER_TID => live(&e) && e.pid == n,
        format::OWNER_PGRP => e.pid == n && e.pgid == n,
        _ => live(&e) && e.tgid == n,
    });
    if ok {
        return Ok(());
    }
    let what = match kind {
        format::OWNER_TID => "thread",
        format::OWNER_PGRP => "process group",
        _ => "process",
    };
    Err(refuse!(
        eopnotsupp(),
        "pid {pid} fd {fd}: signal owner (F_SETOWN) {what} {n} outside the tree: not supported"
    ))
}

// ------------------------------------------------------------ restart

/// What a description carries at restart, from the records after its file
/// record, in one process's file table.
pub(crate) struct LocksPlan {
    /// The POSIX locks the process takes: (file, type, start, end).
    posix: KVec<(ARefFile, i32, i64, i64)>,
    /// Owners the process sets on descriptions it installs first.
    owners: KVec<(ARefFile, format::FileOwner)>,
    /// The flock locks taken, with the process `/proc/locks` names as their
    /// holder (its pid in the image).
    flock_holders: KVec<(ARefFile, i32)>,
}

type ARefFile = kernel::sync::aref::ARef<File>;

fn kernel_ty(ty: u32) -> i32 {
    if ty == format::LOCK_WRITE {
        kl::F_WRLCK
    } else {
        kl::F_RDLCK
    }
}

fn ty_name(l: &LockRec) -> &'static str {
    match (l.lock_kind(), l.ty) {
        (LockKind::Flock, format::LOCK_READ) => "LOCK_SH",
        (LockKind::Flock, _) => "LOCK_EX",
        (_, format::LOCK_READ) => "F_RDLCK",
        _ => "F_WRLCK",
    }
}

impl LocksPlan {
    /// Nothing yet.
    pub(crate) fn new() -> Self {
        LocksPlan {
            posix: KVec::new(),
            owners: KVec::new(),
            flock_holders: KVec::new(),
        }
    }

    /// A lock record on `file` (the description of the file record before
    /// it, `None` if inherited), `first`: whether that record was the
    /// description's first. Flock and OFD locks are taken now (before the
    /// point of no return); POSIX ones are checked now and kept for
    /// [`LocksPlan::restore`].
    pub(crate) fn add_lock(
        &mut self,
        l: &LockRec,
        fd: u32,
        file: Option<&ARefFile>,
        first: bool,
        log: &Log,
    ) -> Result {
        let Some(f) = file else {
            return Err(fail!(
                log,
                EINVAL,
                "bad image: fd {fd}: a lock on an inherited file"
            ));
        };
        let kind = l.lock_kind();
        if kind != LockKind::Posix && !first {
            return Err(fail!(
                log,
                EINVAL,
                "bad image: fd {fd}: {} lock after the description's first record",
                kind.name()
            ));
        }
        // An OFD lock needs its description open for its type, as
        // `F_OFD_SETLK` checks. A POSIX lock is the process's on the inode:
        // it may come back through any description of it the process has.
        let (r, w) = kapi::file_mode(f);
        if kind == LockKind::Ofd && !(if l.ty == format::LOCK_WRITE { w } else { r }) {
            return Err(fail!(
                log,
                EBADF,
                "bad image: fd {fd}: {} lock on a file not open for it",
                ty_name(l)
            ));
        }
        let ty = kernel_ty(l.ty);
        let (start, end) = (l.start as i64, l.end as i64);
        let busy = |e: Error| {
            if e == EAGAIN {
                fail!(
                    log,
                    EAGAIN,
                    "fd {fd}: cannot take the {} {} lock on bytes {}-{}: someone else holds a conflicting lock",
                    kind.name(),
                    ty_name(l),
                    l.start,
                    l.end
                )
            } else {
                fail!(log, e, "fd {fd}: cannot take the {} lock", kind.name())
            }
        };
        match kind {
            LockKind::Flock => {
                kl::flock(f, ty).map_err(busy)?;
                if l.pid != 0 {
                    self.flock_holders
                        .push((f.clone(), l.pid), GFP_KERNEL_ACCOUNT)?;
                }
                Ok(())
            }
            LockKind::Ofd => kl::posix_lock(f, true, ty, start, end).map_err(busy),
            LockKind::Posix => {
                if !kl::posix_lock_free(f, ty, start, end).map_err(busy)? {
                    return Err(busy(EAGAIN));
                }
                self.posix
                    .push((f.clone(), ty, start, end), GFP_KERNEL_ACCOUNT)?;
                Ok(())
            }
        }
    }

    /// An owner record on `file`, the first record of its description.
    pub(crate) fn add_owner(
        &mut self,
        o: &format::FileOwner,
        fd: u32,
        file: Option<&ARefFile>,
        first: bool,
        log: &Log,
    ) -> Result {
        let Some(f) = file.filter(|_| first) else {
            return Err(fail!(
                log,
                EINVAL,
                "bad image: fd {fd}: a signal owner on an inherited or already seen file"
            ));
        };
        if o.flags & format::OWNER_ASYNC != 0 {
            return Err(fail!(
                log,
                eopnotsupp(),
                "fd {fd}: O_ASYNC (signal-driven I/O) not supported yet"
            ));
        }
        self.owners.push((f.clone(), *o), GFP_KERNEL_ACCOUNT)?;
        Ok(())
    }

    /// Names the holder of each flock lock taken, as `/proc/locks` shows
    /// it: `find(pid)` is the restored process of the image's `pid`, once
    /// every process of the tree exists (by the coordinator, which took the
    /// locks). A holder that is not a process of the tree stays the
    /// coordinator.
    pub(crate) fn name_flock_holders<'t>(&self, find: impl Fn(i32) -> Option<&'t kapi::TaskRef>) {
        for (f, pid) in self.flock_holders.iter() {
            if let Some(t) = find(*pid) {
                kl::set_flock_holder(f, t);
            }
        }
    }

    /// Takes the process's POSIX locks and sets its descriptions' owners,
    /// once its file table is installed (past the point of no return, in
    /// its leader). `tgid`, `me`: the process's pid in the image and now.
    pub(crate) fn restore(&self, tgid: i32, me: i32, log: &Log) -> Result {
        for (f, ty, start, end) in self.posix.iter() {
            kl::posix_lock(f, false, *ty, *start, *end).map_err(|e| {
                fail!(
                    log,
                    e,
                    "a POSIX lock on bytes {start}-{end} was taken by someone else during the restart"
                )
            })?;
        }
        for (f, o) in self.owners.iter() {
            // A single-task restart keeps the caller's pid: an owner that
            // was the process itself is the caller.
            let n = if o.pid == tgid && o.owner_type != format::OWNER_PGRP {
                me
            } else {
                o.pid
            };
            let who = if o.owner_type == format::OWNER_PGRP {
                -n
            } else {
                n
            };
            kl::set_file_owner(f, who, o.owner_type == format::OWNER_TID, o.signum as i32)
                .map_err(|e| fail!(log, e, "cannot set the owner {who} of a file's signals"))?;
        }
        Ok(())
    }
}
