// SPDX-License-Identifier: GPL-2.0

//! Open file descriptors. Record: [`format::FileRec`].
//!
//! Each open file description is saved once, by identity, with an id that
//! every descriptor referring to it carries, in whichever process of the
//! tree: restart opens it once and installs it at each, so descriptors made
//! by `dup()` or inherited across `fork()` share their offset and status
//! flags again.
//!
//! fds 0-2 that are a terminal, another character device such as a
//! console (but not `/dev/null` or `/dev/zero`), or a pipe are inherited
//! from the restarting process (its own 0-2), like a shell job, when the
//! other side is outside the tree: a pipe or FIFO with both ends inside the
//! tree is refused (pipes are not restored yet). Regular files and directories
//! are reopened by path, as the caller, with their status flags and offset
//! (a directory's is its readdir position); `O_PATH` descriptors of any
//! file type are reopened by path with `O_PATH`; `/dev/null` and
//! `/dev/zero` are reopened. Memfds and deleted files are objects of
//! [`crate::anonfile`], saved with their contents. Everything else is
//! refused at checkpoint by name. So is a description that a process
//! outside the tree shares (found by its reference count, see
//! `count_outside`), which restart could not share with it again.

use crate::{
    anonfile::{AnonPlan, AnonSnap},
    epoll,
    error::{eopnotsupp, refuse, Refusal},
    evfd::{self, EvfdSnap},
    format::{self, FileKind, Record},
    inet,
    kapi::{self, current},
    locks::{FileLocks, LocksPlan},
    log::{fail, Log, Show},
    pipe::{self, PipeSnap},
    shared::{Kind, Object, SharedIds, SharedObjects},
    stream::ImageWriter,
    unix::{self, UnixSnap},
};
use kernel::{alloc::KVVec, alloc::KVec, fs::File, prelude::*, str::CStr, sync::aref::ARef};

const S_IFMT: u32 = 0o170000;
const S_IFSOCK: u32 = 0o140000;
const S_IFREG: u32 = 0o100000;
const S_IFBLK: u32 = 0o060000;
const S_IFDIR: u32 = 0o040000;
const S_IFCHR: u32 = 0o020000;
const S_IFIFO: u32 = 0o010000;
const O_PATH: u32 = 0o10000000;
const AF_UNIX: i32 = 1;
const AF_INET: i32 = 2;
const AF_INET6: i32 = 10;
const AF_NETLINK: i32 = 16;
const SOCK_STREAM: i32 = 1;
const SOCK_DGRAM: i32 = 2;

/// Opens `path` from an image as the caller.
pub(crate) fn open_path(path: &[u8], flags: u32) -> Result<ARef<File>> {
    let mut c = KVec::with_capacity(path.len() + 1, GFP_KERNEL)?;
    c.extend_from_slice(path, GFP_KERNEL)?;
    c.push(0, GFP_KERNEL)?;
    let cs = CStr::from_bytes_with_nul(&c).map_err(|_| EINVAL)?;
    kapi::filp_open(cs, flags)
}

fn is_tty(major: u32) -> bool {
    major == 4 || major == 5 || (136..=143).contains(&major)
}

// ------------------------------------------------------------ checkpoint

/// The object behind an open file description of a kind that has one
/// ([`FileKind::has_object`]): a pipe, a socket, a memfd... Each variant is
/// its kind's snapshot, from the kind's own module, which writes the
/// object's records and, at restart, takes them and opens the object.
pub(crate) enum ObjSnap {
    /// An anonymous pipe.
    Pipe(PipeSnap),
    /// A unix socket.
    Unix(UnixSnap),
    /// A TCP or UDP socket.
    Inet(inet::InetSnap),
    /// A memfd or a deleted file ([`crate::anonfile`]).
    Anon(AnonSnap),
    /// An eventfd, timerfd or signalfd ([`crate::evfd`]).
    Evfd(EvfdSnap),
    /// An inotify instance ([`crate::epoll`]).
    Inotify(epoll::InotifySnap),
    /// An epoll set ([`crate::epoll`]).
    Epoll(epoll::EpollSnap),
}

impl ObjSnap {
    /// The kind of shared object it is, and its kernel identity (never
    /// saved): descriptions of one object share its records.
    fn key(&self) -> (Kind, u64) {
        match self {
            ObjSnap::Pipe(p) => (Kind::Pipe, p.key()),
            ObjSnap::Unix(u) => (Kind::Unix, u.key()),
            ObjSnap::Inet(s) => (Kind::Inet, s.key()),
            ObjSnap::Anon(a) => a.key(),
            ObjSnap::Evfd(e) => e.key(),
            ObjSnap::Inotify(i) => (Kind::Inotify, i.key()),
            ObjSnap::Epoll(e) => (Kind::Epoll, e.key()),
        }
    }

    /// Writes the object's records, with image id `id`, before the first
    /// file record that names it; `ids` numbers any other object they
    /// name (a socket's peer).
    fn write(&self, id: u32, w: &mut ImageWriter<'_>, ids: &mut SharedIds) -> Result {
        match self {
            ObjSnap::Pipe(p) => p.write(id, w),
            ObjSnap::Unix(u) => u.write(id, w, ids),
            ObjSnap::Inet(s) => s.write(id, w),
            ObjSnap::Anon(a) => a.write(id, w),
            ObjSnap::Evfd(e) => e.write(id, w),
            ObjSnap::Inotify(i) => i.write(id, w),
            ObjSnap::Epoll(e) => e.write(id, w),
        }
    }

    /// How many references to the open file description `key` the snapshot
    /// holds, besides its [`FileSnap`]'s (see [`count_outside`]).
    fn file_refs(&self, key: u64) -> u64 {
        match self {
            ObjSnap::Pipe(p) => u64::from(p.file_key() == key),
            ObjSnap::Unix(u) => u64::from(u.file_key() == key),
            ObjSnap::Inet(_)
            | ObjSnap::Anon(_)
            | ObjSnap::Evfd(_)
            | ObjSnap::Inotify(_)
            | ObjSnap::Epoll(_) => 0,
        }
    }
}

struct FileSnap {
    fd: u32,
    /// The open file description: its identity, and the reference that
    /// keeps that identity unique until the image is written.
    file: ARef<File>,
    kind: FileKind,
    open_flags: u32,
    fd_flags: u32,
    pos: u64,
    path: KVec<u8>,
    /// The object it opens, for kinds that have one.
    obj: Option<ObjSnap>,
    /// Its locks and signal owner.
    locks: FileLocks,
    /// The references to the description that the tree does not hold
    /// (set by [`count_outside`]): a process outside the tree shares it.
    outside: u64,
}

impl FileSnap {
    /// The description's identity.
    fn key(&self) -> u64 {
        self.file.as_ptr() as usize as u64
    }
}

/// What [`classify`] finds a file to be.
struct Classified {
    kind: FileKind,
    /// Regular files: the path they are reopened by.
    path: KVec<u8>,
    /// Kinds with an object: the object.
    obj: Option<ObjSnap>,
}

impl Classified {
    fn plain(kind: FileKind) -> Self {
        Classified {
            kind,
            path: KVec::new(),
            obj: None,
        }
    }
}

/// The file table of a snapshot.
pub(crate) struct FilesSnap {
    files: KVec<FileSnap>,
}

fn describe_socket(family: i32, ty: i32) -> &'static str {
    match (family, ty) {
        (AF_UNIX, _) => "unix socket",
        (AF_INET | AF_INET6, SOCK_STREAM) => "TCP socket",
        (AF_INET | AF_INET6, SOCK_DGRAM) => "UDP socket",
        (AF_INET | AF_INET6, _) => "IP socket",
        (AF_NETLINK, _) => "netlink socket",
        _ => "socket",
    }
}

fn classify(pid: i32, fd: u32, f: &File, path_buf: &mut [u8]) -> Result<Classified, Refusal> {
    let i = kapi::file_info(f);
    let plain = |k| Ok(Classified::plain(k));
    let nope = |what: &dyn core::fmt::Display| {
        refuse!(eopnotsupp(), "pid {pid} fd {fd}: {what} not supported yet")
    };
    if i.f_flags & O_PATH != 0 {
        return classify_opath(pid, fd, f, path_buf);
    }
    match i.mode & S_IFMT {
        S_IFREG | S_IFDIR => {
            let p = kapi::file_path(f, path_buf)
                .map_err(|e| refuse!(e, "pid {pid} fd {fd}: cannot name the file"))?;
            if let Some(a) = AnonSnap::gather(pid, fd, f, &i, p)? {
                return Ok(Classified {
                    kind: a.file_kind(),
                    path: KVec::new(),
                    obj: Some(ObjSnap::Anon(a)),
                });
            }
            if p.first() != Some(&b'/') {
                return Err(refuse!(
                    eopnotsupp(),
                    "pid {pid} fd {fd}: {} not supported",
                    Show(p)
                ));
            }
            if p.starts_with(b"/proc/") || p.starts_with(b"/sys/") {
                return Err(refuse!(
                    eopnotsupp(),
                    "pid {pid} fd {fd}: procfs/sysfs file {} not supported",
                    Show(p)
                ));
            }
            let mut v = KVec::with_capacity(p.len(), GFP_KERNEL_ACCOUNT)?;
            v.extend_from_slice(p, GFP_KERNEL_ACCOUNT)?;
            Ok(Classified {
                kind: FileKind::Regular,
                path: v,
                obj: None,
            })
        }
        S_IFCHR => match (i.rdev_major, i.rdev_minor) {
            (1, 3) => plain(FileKind::DevNull),
            (1, 5) => plain(FileKind::DevZero),
            // Like a shell job, a terminal (or a console device) on 0-2 is
            // the restarting process's own.
            _ if fd <= 2 => plain(FileKind::Inherit),
            (m, _) if is_tty(m) => Err(nope(&"terminal (other than fd 0-2)")),
            (ma, mi) => Err(refuse!(
                eopnotsupp(),
                "pid {pid} fd {fd}: character device {ma}:{mi} not supported"
            )),
        },
        // Pipes and FIFOs are saved with their data; `check_pipes` then
        // makes those with a party outside the tree the caller's (fds 0-2)
        // or refuses them.
        S_IFIFO if pipe::is_anon_pipe(f) => Ok(Classified {
            kind: FileKind::Pipe,
            path: KVec::new(),
            obj: Some(ObjSnap::Pipe(pipe::classify(pid, fd, f, b"")?)),
        }),
        S_IFIFO => {
            let p = kapi::file_path(f, path_buf)
                .map_err(|e| refuse!(e, "pid {pid} fd {fd}: cannot name the FIFO"))?;
            Ok(Classified {
                kind: FileKind::Fifo,
                path: KVec::new(),
                obj: Some(ObjSnap::Pipe(pipe::classify(pid, fd, f, p)?)),
            })
        }
        S_IFSOCK if i.sock_family == AF_UNIX => Ok(Classified {
            kind: FileKind::Unix,
            path: KVec::new(),
            obj: Some(ObjSnap::Unix(unix::gather(pid, fd, f)?)),
        }),
        S_IFSOCK if matches!(i.sock_family, AF_INET | AF_INET6) => Ok(Classified {
            kind: FileKind::Inet,
            path: KVec::new(),
            obj: Some(ObjSnap::Inet(inet::snap(pid, fd, f)?)),
        }),
        S_IFSOCK => Err(nope(&describe_socket(i.sock_family, i.sock_type))),
        S_IFBLK => Err(nope(&"block device")),
        _ if evfd::kind_of(f).is_some() => {
            let kind = evfd::kind_of(f).ok_or(EINVAL)?;
            Ok(Classified {
                kind,
                path: KVec::new(),
                obj: Some(ObjSnap::Evfd(evfd::gather(pid, fd, f, kind)?)),
            })
        }
        _ => {
            // Anonymous inodes: inotify is saved; epoll and fanotify are
            // refused by name there.
            match epoll::classify(pid, fd, f)? {
                Some(epoll::Anon::Inotify(s)) => {
                    return Ok(Classified {
                        kind: FileKind::Inotify,
                        path: KVec::new(),
                        obj: Some(ObjSnap::Inotify(s)),
                    })
                }
                Some(epoll::Anon::Epoll(s)) => {
                    return Ok(Classified {
                        kind: FileKind::Epoll,
                        path: KVec::new(),
                        obj: Some(ObjSnap::Epoll(s)),
                    })
                }
                None => {}
            }
            // Other anonymous inodes: eventfd, signalfd, timerfd...
            let mut nb = [0u8; 32];
            let name = kapi::file_dname(f, &mut nb);
            let name = name
                .strip_prefix(b"[")
                .and_then(|n| n.strip_suffix(b"]"))
                .unwrap_or(name);
            Err(refuse!(
                eopnotsupp(),
                "pid {pid} fd {fd}: {} not supported yet",
                Show(name)
            ))
        }
    }
}

/// An `O_PATH` descriptor, of a file of any type: reopened by its path
/// with `O_PATH` (and `O_NOFOLLOW` if it had it, for a symbolic link).
fn classify_opath(pid: i32, fd: u32, f: &File, path_buf: &mut [u8]) -> Result<Classified, Refusal> {
    let p = kapi::file_path(f, path_buf)
        .map_err(|e| refuse!(e, "pid {pid} fd {fd}: cannot name the O_PATH file"))?;
    let i = kapi::file_info(f);
    let why = if p.first() != Some(&b'/') {
        Some("a file with no path")
    } else if i.nlink == 0 || p.ends_with(b" (deleted)") {
        Some("a deleted file")
    } else if p.starts_with(b"/proc/") || p.starts_with(b"/sys/") {
        Some("a procfs/sysfs file")
    } else {
        None
    };
    if let Some(why) = why {
        return Err(refuse!(
            eopnotsupp(),
            "pid {pid} fd {fd}: O_PATH descriptor of {why} ({}): not supported",
            Show(p)
        ));
    }
    let mut v = KVec::with_capacity(p.len(), GFP_KERNEL_ACCOUNT)?;
    v.extend_from_slice(p, GFP_KERNEL_ACCOUNT)?;
    Ok(Classified {
        kind: FileKind::Regular,
        path: v,
        obj: None,
    })
}

impl FilesSnap {
    /// Reads the current task's file table (runs in the target).
    #[inline(never)]
    pub(crate) fn gather(pid: i32) -> Result<Self, Refusal> {
        let mut files = KVec::new();
        let mut path_buf = KVec::from_elem(0u8, 4096, GFP_KERNEL_ACCOUNT)?;
        for fd in 0..current::max_fds() {
            let Some((f, cloexec)) = current::fget(fd) else {
                continue;
            };
            let Classified { kind, path, obj } = classify(pid, fd, &f, &mut path_buf)?;
            let i = kapi::file_info(&f);
            let seen = |g: &FileSnap| g.file.as_ptr() == f.as_ptr();
            let same = |g: &FileSnap| kapi::file_info(&g.file).inode == i.inode;
            let (seen, same) = (files.iter().any(seen), files.iter().any(same));
            let inherited = kind == FileKind::Inherit;
            let locks = FileLocks::gather(pid, fd, &f, seen, same, inherited)?;
            let snap = FileSnap {
                locks,
                outside: 0,
                fd,
                file: f,
                obj,
                kind,
                open_flags: i.f_flags & format::FILE_OPEN_FLAGS,
                fd_flags: if cloexec { format::FD_CLOEXEC } else { 0 },
                pos: if matches!(
                    kind,
                    FileKind::Regular | FileKind::Memfd | FileKind::Deleted
                ) && i.f_flags & O_PATH == 0
                {
                    i.pos.max(0) as u64
                } else {
                    0
                },
                path,
            };
            files.push(snap, GFP_KERNEL_ACCOUNT)?;
            if files.len() > format::MAX_FILES as usize {
                return Err(refuse!(
                    eopnotsupp(),
                    "pid {pid}: more than {} open files",
                    format::MAX_FILES
                ));
            }
        }
        Ok(FilesSnap { files })
    }

    /// Writes the file records, numbering open file descriptions and the
    /// objects they open in `ids` (shared by every process of the image):
    /// an object's records come before the first file record naming it.
    pub(crate) fn write(&self, w: &mut ImageWriter<'_>, ids: &mut SharedIds) -> Result {
        for f in self.files.iter() {
            // Every snapshot holds a reference to its files (and they to
            // their objects) until the image is written: an address names
            // its object for the whole write.
            let obj = match &f.obj {
                Some(o) => {
                    let (kind, key) = o.key();
                    let (id, first) = ids.id_first(kind, key)?;
                    if first {
                        o.write(id, w, ids)?;
                    }
                    id
                }
                None => 0,
            };
            let (id, first) = ids.id_first(Kind::File, f.file.as_ptr() as usize as u64)?;
            let rec = format::FileRec {
                fd: f.fd,
                id,
                kind: f.kind,
                open_flags: f.open_flags,
                fd_flags: f.fd_flags,
                pos: f.pos,
                obj,
                path: &f.path,
            };
            w.record(|b| rec.encode(b))?;
            f.locks.write(id, first, w)?;
        }
        Ok(())
    }

    /// The signal owners (`F_SETOWN`) of the table's descriptions, by fd:
    /// `(fd, kind, number)` ([`format::FileOwner`]).
    pub(crate) fn owners(&self) -> impl Iterator<Item = (u32, u32, i32)> + '_ {
        self.files
            .iter()
            .filter_map(|f| f.locks.owner_of().map(|(k, n)| (f.fd, k, n)))
    }
}

/// The checks of the tree's file tables that need every process's table
/// at once (`files`: each process's pid, table and the open file
/// descriptions its mappings hold, one per VMA, as
/// `memory::MemSnap::mapped_files` gives them; `tree`: the
/// tree's tasks; `external`: the inode numbers of the pipes the caller lets
/// be external). Each kind of file that relates descriptions across
/// processes adds its check here.
pub(crate) fn check_tree<'a>(
    files: impl Iterator<Item = (i32, &'a mut FilesSnap, &'a [u64])>,
    tree: impl Iterator<Item = format::TreeEntry> + Clone,
    external: &[u64],
) -> Result<(), Refusal> {
    let mut tabs: KVec<(i32, &'a mut FilesSnap)> = KVec::new();
    let mut mapped: KVVec<u64> = KVVec::new();
    for (pid, t, mem) in files {
        tabs.push((pid, t), GFP_KERNEL)?;
        mapped.extend_from_slice(mem, GFP_KERNEL)?;
    }
    mapped.sort_unstable();
    count_outside(&mut tabs, &mapped)?;
    check_pipes(&mut tabs, external)?;
    check_unix(&tabs, tree.clone())?;
    check_owners(&tabs, tree)?;
    check_epoll_targets(&tabs)?;
    check_shared(&tabs)?;
    check_anon_writers(&tabs)
}

/// Refuses a memfd or deleted file that a description outside the tree
/// has open for writing (one opened through `/proc/PID/fd/N`, say):
/// restart makes the tree a new inode, and the outside writer's changes
/// would no longer reach it, nor the tree's reach the writer. Found by the
/// inode's count of writing descriptions (`i_writecount`) against the
/// tree's own that it counts (`FMODE_WRITER`: each counted once, however
/// many fds share it). A memfd that an outside description has open for
/// reading, or maps, is refused too: found by its dentry's references
/// (one per description) against the tree's descriptions and checkpoint's
/// own reader.
fn check_anon_writers(tabs: &[(i32, &mut FilesSnap)]) -> Result<(), Refusal> {
    let anon = |f: &FileSnap| matches!(f.obj, Some(ObjSnap::Anon(_)));
    let mut name = KVec::from_elem(0u8, 512, GFP_KERNEL)?;
    let mut done: KVec<u64> = KVec::new();
    for (pid, t) in tabs.iter() {
        for f in t.files.iter().filter(|f| anon(f)) {
            let inode = kapi::file_info(&f.file).inode;
            if done.contains(&inode) {
                continue;
            }
            done.push(inode, GFP_KERNEL)?;
            let mut seen: KVec<usize> = KVec::new();
            for (_, u) in tabs.iter() {
                for g in u.files.iter().filter(|g| anon(g)) {
                    let i = kapi::file_info(&g.file);
                    let a = g.file.as_ptr() as usize;
                    if i.inode == inode && i.fmode & kapi::FMODE_WRITER != 0 && !seen.contains(&a) {
                        seen.push(a, GFP_KERNEL)?;
                    }
                }
            }
            // `how` opens it `outside` descriptions outside the tree.
            let mut refuse_outside = |outside: i64, how: &str| {
                let n = kapi::file_path(&f.file, &mut name).unwrap_or(b"?");
                refuse!(
                    eopnotsupp(),
                    "pid {pid} fd {}: {} {}: open{how} by {outside} open file description{} outside the tree{}: not supported",
                    f.fd,
                    f.kind.name(),
                    Show(n),
                    if outside == 1 { "" } else { "s" },
                    if how.is_empty() { " (another process has it open or mapped)" } else { "" }
                )
            };
            let outside = i64::from(kapi::inode_writers(&f.file)) - seen.len() as i64;
            if outside > 0 {
                return Err(refuse_outside(outside, " for writing"));
            }
            // Readers of a memfd too: each description holds its dentry,
            // and nothing else does (a pseudo file's, never in the dcache;
            // a deleted file's dentry may have other references, an
            // overlay's say).
            if f.kind != FileKind::Memfd {
                continue;
            }
            let (dentry, refs) = kapi::dentry_refs(&f.file);
            // The tree's descriptions, and checkpoint's own readers.
            let mut ours: KVec<usize> = KVec::new();
            for (_, u) in tabs.iter() {
                for g in u.files.iter() {
                    let Some(ObjSnap::Anon(snap)) = &g.obj else {
                        continue;
                    };
                    for h in [&*g.file, snap.reader()] {
                        let a = h.as_ptr() as usize;
                        if kapi::dentry_refs(h).0 == dentry && !ours.contains(&a) {
                            ours.push(a, GFP_KERNEL)?;
                        }
                    }
                }
            }
            let outside = i64::from(refs) - ours.len() as i64;
            if outside > 0 {
                return Err(refuse_outside(outside, ""));
            }
        }
    }
    Ok(())
}

/// Refuses an epoll watch whose watched description is not certain. A
/// watch is read from its set's fdinfo as the fd it was added with and
/// the watched inode (the set's own items are private to the kernel), and
/// taken to watch the description at that fd, or at the one other fd of
/// that inode ([`epoll::EpollSnap::targets`]). If that fd was closed and
/// reused by another description of the inode (another open of the file,
/// the other end of a pipe), the watch would come back on the wrong one;
/// so every description's count of watches (`f_ep`) must be the number of
/// the tree's watches taken to be on it. A count above it is a watch the
/// tree does not account for: misidentified, or an epoll set outside the
/// tree watching the description.
fn check_epoll_targets(tabs: &[(i32, &mut FilesSnap)]) -> Result<(), Refusal> {
    // (watched description, pid, epoll fd, tfd): each set once, from the
    // first process that holds it, as the image writes it.
    let mut sets: KVec<u64> = KVec::new();
    let mut taken: KVVec<(u64, i32, u32, u32)> = KVVec::new();
    for (pid, t) in tabs.iter() {
        for f in t.files.iter() {
            let Some(ObjSnap::Epoll(e)) = &f.obj else {
                continue;
            };
            if sets.contains(&e.key()) {
                continue;
            }
            sets.push(e.key(), GFP_KERNEL)?;
            for (tfd, target) in e.targets() {
                let g = t.files.iter().find(|g| g.fd == target).ok_or(EINVAL)?;
                taken.push((g.key(), *pid, f.fd, tfd), GFP_KERNEL)?;
            }
        }
    }
    taken.sort_unstable();
    for (pid, t) in tabs.iter() {
        for f in t.files.iter() {
            if !kapi::epoll::file_watched(&f.file) {
                continue;
            }
            let key = f.key();
            let lo = taken.partition_point(|w| w.0 < key);
            let n = taken.partition_point(|w| w.0 <= key) - lo;
            let count = kapi::epoll::epoll_watch_count(&f.file) as usize;
            if count == n {
                continue;
            }
            if let Some(&(_, wpid, efd, tfd)) = taken.get(lo).filter(|_| n > count) {
                return Err(refuse!(
                    eopnotsupp(),
                    "pid {wpid} fd {efd}: epoll watch on fd {tfd}: cannot tell which open file description it watches (fd {tfd} was closed and reused for the same file?): not supported"
                ));
            }
            return Err(refuse!(
                eopnotsupp(),
                "pid {pid} fd {}: {} watched by {} epoll watch(es) the tree does not account for (an epoll set outside the tree, or a watch whose fd was closed and reused): not supported",
                f.fd,
                f.kind.name(),
                count - n
            ));
        }
    }
    Ok(())
}

/// Finds, for each open file description of the tree, the references to
/// it that the tree does not account for ([`FileSnap::outside`]): its
/// `file_count()` less one per descriptor of it in the tree's tables, one
/// per mapping of it in the tree's memory (`mapped`: sorted identities,
/// one per VMA) and those the snapshots hold (one per descriptor, and
/// [`ObjSnap::file_refs`]). Every task of the tree is parked on its way
/// back to user space, so none is in a system call holding a reference
/// for a while; what is left is held outside the tree: by another
/// process's descriptor or mapping, a message in flight in a socket
/// outside the tree, or anyone reading `/proc/PID/fdinfo` just now.
fn count_outside(tabs: &mut [(i32, &mut FilesSnap)], mapped: &[u64]) -> Result {
    let mut all: KVVec<(u64, usize, usize)> = KVVec::new();
    for (t, (_, tab)) in tabs.iter().enumerate() {
        for (i, f) in tab.files.iter().enumerate() {
            all.push((f.key(), t, i), GFP_KERNEL)?;
        }
    }
    all.sort_unstable();
    for group in all.chunk_by(|a, b| a.0 == b.0) {
        let (key, t0, i0) = group[0];
        let mut held = 0u64;
        for &(_, t, i) in group {
            let f = &tabs[t].1.files[i];
            // The descriptor, and the snapshot's reference.
            held += 2 + f.obj.as_ref().map_or(0, |o| o.file_refs(key));
        }
        let maps = mapped.partition_point(|&m| m <= key) - mapped.partition_point(|&m| m < key);
        held += maps as u64;
        let outside = kapi::file_count(&tabs[t0].1.files[i0].file).saturating_sub(held);
        for &(_, t, i) in group {
            tabs[t].1.files[i].outside = outside;
        }
    }
    Ok(())
}

/// Decides how each anonymous pipe of the tree is saved, now that every
/// process's table is known: a
/// pipe whose every reading and writing open file description is in the
/// tree is saved as a pipe; one with a party outside the tree is the
/// caller's on fds 0-2 ([`FileKind::Inherit`]) and refused on any other fd,
/// unless it is an anonymous pipe whose inode number is in `external`: it
/// is then saved as an external pipe ([`pipe::PipeSnap::set_external`]);
/// a name in `external` that no such pipe has is refused (`EINVAL`).
/// A pipe or FIFO inherited on fds 0-2 with both a reading and a writing
/// description in the tree is refused: restoring it as the caller's stdio
/// would connect those processes to crctl instead of to each other.
fn check_pipes(tabs: &mut [(i32, &mut FilesSnap)], external: &[u64]) -> Result<(), Refusal> {
    let pipe_key = |f: &FileSnap| match &f.obj {
        Some(ObjSnap::Pipe(p)) => Some(p.key()),
        _ => None,
    };
    // The pipes with a party outside the tree.
    let mut outside: KVec<u64> = KVec::new();
    for (_, t) in tabs.iter() {
        for f in t.files.iter() {
            let (Some(key), Some(ObjSnap::Pipe(p))) = (pipe_key(f), &f.obj) else {
                continue;
            };
            if outside.contains(&key) {
                continue;
            }
            // The tree's open file descriptions of it, each once.
            let mut seen: KVec<usize> = KVec::new();
            let (mut r, mut w) = (0u32, 0u32);
            let mut shared = false;
            for (_, u) in tabs.iter() {
                for g in u.files.iter().filter(|g| pipe_key(g) == Some(key)) {
                    let a = g.file.as_ptr() as usize;
                    // A description of it that a process outside the tree
                    // holds too is a party outside the tree.
                    shared |= g.outside != 0;
                    if seen.contains(&a) {
                        continue;
                    }
                    seen.push(a, GFP_KERNEL)?;
                    let m = kapi::file_info(&g.file).fmode;
                    r += u32::from(m & kapi::FMODE_READ != 0);
                    w += u32::from(m & kapi::FMODE_WRITE != 0);
                }
            }
            if shared || p.ends() != (r, w) {
                outside.push(key, GFP_KERNEL)?;
            }
        }
    }
    let mut name = [0u8; 256];
    // The names of `external` that were used: a name used by no pipe (a
    // typo, or a pipe since closed) is the caller's mistake, said now.
    let mut used: KVec<u64> = KVec::new();
    for (pid, t) in tabs.iter_mut() {
        for f in t.files.iter_mut() {
            let Some(key) = pipe_key(f) else { continue };
            if !outside.contains(&key) {
                continue;
            }
            if f.fd > 2 && f.kind == FileKind::Pipe {
                if let Some(ObjSnap::Pipe(p)) = &mut f.obj {
                    if let Some(ino) = pipe::pipe_ino(&f.file) {
                        if external.contains(&u64::from(ino)) {
                            p.set_external(ino);
                            if !used.contains(&u64::from(ino)) {
                                used.push(u64::from(ino), GFP_KERNEL)?;
                            }
                            continue;
                        }
                    }
                }
            }
            if f.fd > 2 {
                let n = kapi::file_path(&f.file, &mut name).unwrap_or(b"pipe");
                return Err(refuse!(
                    eopnotsupp(),
                    "pid {pid} fd {}: {}{} whose other end is outside the tree: not supported yet",
                    f.fd,
                    if f.kind == FileKind::Fifo {
                        "FIFO "
                    } else {
                        ""
                    },
                    Show(n)
                ));
            }
            f.kind = FileKind::Inherit;
            f.obj = None;
        }
    }
    if let Some(ino) = external.iter().find(|i| !used.contains(i)) {
        return Err(refuse!(
            EINVAL,
            "--external pipe:[{ino}]: no process of the tree has that pipe open beyond fd 2 with its other end outside the tree"
        ));
    }
    // A FIFO whose every end is in the tree is reopened by its path; one
    // whose path was unlinked is made again there and unlinked again.
    for (pid, t) in tabs.iter_mut() {
        for f in t.files.iter_mut().filter(|f| f.kind == FileKind::Fifo) {
            let i = kapi::file_info(&f.file);
            let Some(ObjSnap::Pipe(p)) = &mut f.obj else {
                continue;
            };
            if i.nlink == 0 && p.set_deleted(i.mode & 0o7777) {
                continue;
            }
            let path = p.fifo_path();
            if i.nlink == 0 || path.ends_with(b" (deleted)") || path.first() != Some(&b'/') {
                return Err(refuse!(
                    eopnotsupp(),
                    "pid {pid} fd {}: deleted FIFO {} not supported yet",
                    f.fd,
                    Show(path)
                ));
            }
        }
    }
    for (pid, t) in tabs.iter() {
        for f in t.files.iter().filter(|f| f.kind == FileKind::Inherit) {
            let i = kapi::file_info(&f.file);
            if i.mode & S_IFMT != S_IFIFO {
                continue;
            }
            let mut modes = 0;
            for (_, u) in tabs.iter() {
                for g in u.files.iter() {
                    let j = kapi::file_info(&g.file);
                    if j.inode == i.inode {
                        modes |= j.fmode & (kapi::FMODE_READ | kapi::FMODE_WRITE);
                    }
                }
            }
            if modes == kapi::FMODE_READ | kapi::FMODE_WRITE {
                return Err(refuse!(
                    eopnotsupp(),
                    "pid {pid} fd {}: pipe or FIFO whose other end is both inside and outside the tree: not supported yet",
                    f.fd
                ));
            }
        }
    }
    Ok(())
}

/// Refuses an open file description that a process outside the tree
/// shares ([`count_outside`]): restart would make a new one for the tree,
/// whose offset, status flags, locks and object would no longer be the
/// outside process's. Exempt: the descriptions restart takes from its
/// caller (inherited on fds 0-2, external pipes), `/dev/null` and
/// `/dev/zero` (which have no state), `O_PATH` descriptors (no offset, no
/// I/O), and regular files on fds 0-2 (a job's output redirected to a file
/// its launcher holds too: the support matrix lists the difference).
fn check_shared(tabs: &[(i32, &mut FilesSnap)]) -> Result<(), Refusal> {
    let mut name = KVec::from_elem(0u8, 512, GFP_KERNEL)?;
    for (pid, t) in tabs.iter() {
        for f in t.files.iter().filter(|f| f.outside != 0) {
            let exempt = match (f.kind, &f.obj) {
                (FileKind::Inherit | FileKind::DevNull | FileKind::DevZero, _) => true,
                (FileKind::Regular, _) => {
                    f.fd <= 2 || kapi::file_info(&f.file).f_flags & O_PATH != 0
                }
                (FileKind::Pipe, Some(ObjSnap::Pipe(p))) => p.is_external(),
                _ => false,
            };
            if exempt {
                continue;
            }
            let n = kapi::file_path(&f.file, &mut name).unwrap_or(b"?");
            return Err(refuse!(
                eopnotsupp(),
                "pid {pid} fd {}: {} {}{}: open file description shared with a process outside the tree ({} reference{} outside it): not supported",
                f.fd,
                f.kind.name(),
                Show(n),
                if f.locks.holds_own() { ", with a lock," } else { "" },
                f.outside,
                if f.outside == 1 { "" } else { "s" }
            ));
        }
    }
    Ok(())
}

/// Refuses a unix socket whose peer is outside the tree
/// ([`unix::check_peers`]) or whose `SO_PEERCRED` names a process that is
/// not a live one of the tree ([`unix::check_peer_pids`]).
fn check_unix(
    tabs: &[(i32, &mut FilesSnap)],
    tree: impl Iterator<Item = format::TreeEntry> + Clone,
) -> Result<(), Refusal> {
    let socks = || {
        tabs.iter().flat_map(|(pid, t)| {
            t.files.iter().filter_map(move |f| match &f.obj {
                Some(ObjSnap::Unix(u)) => Some((*pid, f.fd, u)),
                _ => None,
            })
        })
    };
    unix::check_peers(socks)?;
    unix::check_peer_pids(socks(), tree)
}

/// Refuses a signal owner (`F_SETOWN`) that is not a task, a process or
/// a process group of the tree, whose tasks are `tree`.
fn check_owners(
    tabs: &[(i32, &mut FilesSnap)],
    tree: impl Iterator<Item = format::TreeEntry> + Clone,
) -> Result<(), Refusal> {
    for (pid, t) in tabs.iter() {
        for (fd, kind, n) in t.owners() {
            crate::locks::check_owner(*pid, fd, kind, n, tree.clone())?;
        }
    }
    Ok(())
}

// ------------------------------------------------------------ restart

struct FilePlan {
    fd: u32,
    cloexec: bool,
    /// `None`: inherited from the caller (or an epoll set not made yet).
    file: Option<ARef<File>>,
    /// An epoll set's id (its file comes from crctl's helper), else 0.
    epoll: u32,
    /// Whether this is the first file record of its description.
    first: bool,
}

/// The file table of a restart plan.
pub(crate) struct FilesPlan {
    files: KVec<FilePlan>,
    /// The memfd or deleted file being read.
    anon: AnonPlan,
    /// Locks and signal owners of its descriptions.
    locks: LocksPlan,
    /// Whether the last file record was its description's first.
    last_first: bool,
}

impl FilesPlan {
    /// An empty table.
    pub(crate) fn new() -> Self {
        FilesPlan {
            files: KVec::new(),
            anon: AnonPlan::new(),
            locks: LocksPlan::new(),
            last_first: false,
        }
    }

    /// Takes a record of the file table (`Ok(false)` for any other).
    pub(crate) fn add(
        &mut self,
        rec: &Record<'_>,
        shared: &mut SharedObjects,
        log: &Log,
    ) -> Result<bool> {
        match rec {
            Record::File(f) => self.add_file(f, shared, log)?,
            Record::Pipe(p) => pipe::add_pipe(p, shared, log)?,
            Record::PipeData(d) => pipe::add_data(d, shared, log)?,
            Record::UnixSock(_) | Record::UnixData(_) | Record::UnixQueued(_) => {
                return unix::add(rec, shared, log)
            }
            Record::Inet(s) => inet::add(s, shared, log)?,
            Record::Memfd(m) => self.anon.add_memfd(m, shared, log)?,
            Record::Deleted(d) => self.anon.add_deleted(d, shared, log)?,
            Record::FileData(d) => self.anon.add_data(d, shared, log)?,
            Record::Eventfd(_) | Record::Timerfd(_) | Record::Signalfd(_) => {
                return evfd::add(rec, shared, log)
            }
            Record::Inotify(r) => epoll::add(r, shared, log)?,
            Record::InotifyWatch(w) => epoll::add_watch(w, shared, log)?,
            Record::Epoll(r) => epoll::add_epoll(r, shared, log)?,
            Record::EpollWatch(w) => epoll::add_epoll_watch(w, shared, log)?,
            // The validator ties them to the file record just before.
            Record::Lock(l) => {
                let f = self.files.last().ok_or(EINVAL)?;
                self.locks
                    .add_lock(l, f.fd, f.file.as_ref(), self.last_first, log)?
            }
            Record::FileOwner(o) => {
                let f = self.files.last().ok_or(EINVAL)?;
                self.locks
                    .add_owner(o, f.fd, f.file.as_ref(), self.last_first, log)?
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Adds a file record, opening the file as the caller (before the point
    /// of no return, so a missing file is a clean error), once per open
    /// file description of the image.
    fn add_file(
        &mut self,
        r: &format::FileRec<'_>,
        shared: &mut SharedObjects,
        log: &Log,
    ) -> Result {
        let fd = r.fd;
        if let Some(Object::File {
            kind,
            open_flags,
            pos,
            obj,
            path,
            file,
        }) = shared.get(Kind::File, r.id)
        {
            if *kind != r.kind
                || *open_flags != r.open_flags
                || *pos != r.pos
                || *obj != r.obj
                || path[..] != *r.path
            {
                return Err(fail!(
                    log,
                    EINVAL,
                    "bad image: fd {fd}: file {} differs from its first record",
                    r.id
                ));
            }
            if *kind == FileKind::Inherit {
                Self::check_inherit(fd, log)?;
            }
            let file = file.clone();
            self.last_first = false;
            self.push(fd, r.fd_flags, file)?;
            return self.mark_epoll(r);
        }
        if r.id as usize != shared.count(Kind::File) + 1 {
            return Err(fail!(
                log,
                EINVAL,
                "bad image: fd {fd}: file id {} out of order",
                r.id
            ));
        }
        let file = match r.kind {
            FileKind::Inherit => {
                Self::check_inherit(fd, log)?;
                None
            }
            FileKind::Regular => {
                let f = open_path(r.path, r.open_flags)
                    .map_err(|e| fail!(log, e, "fd {fd}: cannot reopen {}", Show(r.path)))?;
                // An O_PATH description has no position (nor any seek).
                if r.open_flags & O_PATH == 0 {
                    kapi::file_seek(&f, r.pos as i64).map_err(|e| {
                        fail!(log, e, "fd {fd}: cannot seek {} to {}", Show(r.path), r.pos)
                    })?;
                }
                Some(f)
            }
            FileKind::Pipe | FileKind::Fifo => Some(pipe::open(
                fd,
                r.obj,
                r.kind == FileKind::Fifo,
                r.open_flags,
                shared,
                log,
            )?),
            FileKind::Unix => Some(unix::open(fd, r.obj, r.open_flags, shared, log)?),
            FileKind::Memfd | FileKind::Deleted => Some(self.anon.open(r, shared, log)?),
            FileKind::DevNull | FileKind::DevZero => {
                let p: &[u8] = if r.kind == FileKind::DevNull {
                    b"/dev/null"
                } else {
                    b"/dev/zero"
                };
                Some(
                    open_path(p, r.open_flags)
                        .map_err(|e| fail!(log, e, "fd {fd}: cannot open {}", Show(p)))?,
                )
            }
            FileKind::Inet => Some(inet::open(fd, r.obj, r.open_flags, shared, log)?),
            FileKind::Eventfd | FileKind::Timerfd | FileKind::Signalfd => {
                Some(evfd::open(fd, r.kind, r.obj, r.open_flags, shared, log)?)
            }
            FileKind::Inotify => Some(epoll::open(fd, r.obj, r.open_flags, shared, log)?),
            FileKind::Epoll => {
                epoll::open_epoll(fd, r.obj, r.open_flags, shared, log)?;
                None
            }
        };
        shared.insert(
            r.id,
            Object::File {
                kind: r.kind,
                open_flags: r.open_flags,
                pos: r.pos,
                obj: r.obj,
                path: {
                    let mut v = KVec::with_capacity(r.path.len(), GFP_KERNEL_ACCOUNT)?;
                    v.extend_from_slice(r.path, GFP_KERNEL_ACCOUNT)?;
                    v
                },
                file: file.clone(),
            },
        )?;
        self.last_first = true;
        self.push(fd, r.fd_flags, file)?;
        if let Some(f) = self.files.last_mut() {
            f.first = true;
        }
        self.mark_epoll(r)
    }

    /// Marks the file just pushed as epoll set `r.obj`'s, for kind epoll.
    fn mark_epoll(&mut self, r: &format::FileRec<'_>) -> Result {
        if r.kind == FileKind::Epoll {
            self.files.last_mut().ok_or(EINVAL)?.epoll = r.obj;
        }
        Ok(())
    }

    /// The epoll sets whose first file record is in this table.
    pub(crate) fn epoll_firsts(&self) -> impl Iterator<Item = u32> + '_ {
        self.files
            .iter()
            .filter(|f| f.first && f.epoll != 0)
            .map(|f| f.epoll)
    }

    /// What fd `fd` of this table holds: its file (`None` if inherited:
    /// the caller's own fd, or an epoll set) and its epoll set id (or 0);
    /// `None` if no fd `fd`.
    pub(crate) fn at_fd(&self, fd: u32) -> Option<(Option<ARef<File>>, u32)> {
        self.files
            .iter()
            .find(|f| f.fd == fd)
            .map(|f| (f.file.clone(), f.epoll))
    }

    /// Puts the epoll sets crctl's helper made in place (`shared` has
    /// them by now).
    pub(crate) fn fill_epolls(&mut self, shared: &mut SharedObjects) -> Result {
        for f in self.files.iter_mut().filter(|f| f.epoll != 0) {
            let Some(Object::Epoll {
                file: Some(file), ..
            }) = shared.get(Kind::Epoll, f.epoll)
            else {
                return Err(EINVAL);
            };
            f.file = Some(file.clone());
        }
        Ok(())
    }

    /// Checks that every fd fits under the process's `RLIMIT_NOFILE` soft
    /// limit `nofile`, which it has when its files are installed.
    pub(crate) fn check_nofile(&self, nofile: u64, log: &Log) -> Result {
        match self.files.iter().map(|f| f.fd).max() {
            Some(fd) if u64::from(fd) >= nofile => Err(fail!(
                log,
                EINVAL,
                "bad image: fd {fd} is not below the image's RLIMIT_NOFILE {nofile}"
            )),
            _ => Ok(()),
        }
    }

    fn check_inherit(fd: u32, log: &Log) -> Result {
        kapi::fget(fd as i32).map_err(|e| {
            fail!(
                log,
                e,
                "fd {fd}: the image inherits it, but the caller has no fd {fd}"
            )
        })?;
        Ok(())
    }

    fn push(&mut self, fd: u32, fd_flags: u32, file: Option<ARef<File>>) -> Result {
        self.files.push(
            FilePlan {
                fd,
                cloexec: fd_flags & format::FD_CLOEXEC != 0,
                file,
                epoll: 0,
                first: false,
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        Ok(())
    }

    /// Replaces the caller's file table (past the point of no return).
    pub(crate) fn restore(&self, log: &Log) -> Result {
        for fd in 0..current::max_fds() {
            let keep = self
                .files
                .iter()
                .any(|f| f.fd == fd && f.file.is_none() && f.epoll == 0);
            if !keep {
                let _ = current::close_fd(fd);
            }
        }
        let mut reserved = KVec::new();
        for f in self.files.iter() {
            let Some(file) = &f.file else { continue };
            loop {
                let k = current::fd_reserve()
                    .map_err(|e| fail!(log, e, "fd {}: cannot allocate", f.fd))?;
                if k == f.fd {
                    current::fd_install(k, file.clone(), f.cloexec);
                    break;
                }
                if k > f.fd {
                    current::fd_unreserve(k);
                    return Err(fail!(log, EBUSY, "fd {}: already in use", f.fd));
                }
                reserved.push(k, GFP_KERNEL)?;
            }
        }
        for k in reserved {
            current::fd_unreserve(k);
        }
        Ok(())
    }

    /// See [`LocksPlan::name_flock_holders`].
    pub(crate) fn name_flock_holders<'t>(&self, find: impl Fn(i32) -> Option<&'t kapi::TaskRef>) {
        self.locks.name_flock_holders(find)
    }

    /// Takes the process's POSIX locks and sets its descriptions' signal
    /// owners, once its file table is installed (see [`LocksPlan::restore`]).
    pub(crate) fn restore_locks(&self, tgid: i32, log: &Log) -> Result {
        self.locks.restore(tgid, kapi::current_tid(), log)
    }
}
