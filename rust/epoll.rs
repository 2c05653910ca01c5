// SPDX-License-Identifier: GPL-2.0

//! Event notification files: epoll sets and inotify instances (records
//! [`format::Inotify`], [`format::InotifyWatch`], the object of a file
//! record of kind [`format::FileKind::Inotify`]), and the named refusal of
//! fanotify groups.
//!
//! An inotify instance is read from what its `show_fdinfo` prints (its
//! marks are private to fs/notify/inotify): each watch's descriptor, mask
//! and inode, the inode named by a path that is looked up again and must
//! lead to it. An instance with events queued is refused (they would be
//! lost). At restart crctl makes the instance with its watches, at their
//! watch descriptors, and hands it over (`CR_RESTART_OBJ_INOTIFY`); this
//! module checks it against the image from its fdinfo and installs it.
//!
//! An epoll set (records [`format::Epoll`], [`format::EpollWatch`], the
//! object of a file record of kind [`format::FileKind::Epoll`]) is read
//! from its fdinfo too: each watch's fd, events and data, and the fd of
//! the process that holds the watched description. A module cannot add a
//! watch (`do_epoll_ctl` and `ep_insert` are not exported): at a tree
//! restart, once the coordinator opened every file, crctl's helper takes
//! the watches ([`serve`], `CR_IOC_EPOLL_WATCHES`), makes the sets with
//! `epoll_ctl()` on the restored descriptions at the watches' fd numbers,
//! and hands them back ([`hand_sets`], `CR_IOC_EPOLL_SETS`); the
//! coordinator checks them against the image ([`take_sets`]) before the
//! point of no return.

use crate::{
    error::{eopnotsupp, refuse, Refusal},
    format::{self, epoll_fdinfo, inotify_fdinfo, InotifyWatchHead, INOTIFY_WATCH_MASK},
    kapi::{self, current, epoll as k},
    log::{fail, Log},
    shared::{Kind, Object, SharedObjects},
    stream::ImageWriter,
    uapi::RestartObj,
};
use kernel::{alloc::KVec, fs::File, prelude::*, str::CStr, sync::aref::ARef};

/// `O_NONBLOCK` (`IN_NONBLOCK`).
const O_NONBLOCK: u32 = 0o4000;

/// Room for what `show_fdinfo` prints of one instance: a line per watch.
const FDINFO_BUF: usize = 256 * 1024;

/// What [`classify`] finds an anonymous inode to be.
pub(crate) enum Anon {
    /// An inotify instance, saved.
    Inotify(InotifySnap),
    /// An epoll set, saved.
    Epoll(EpollSnap),
}

/// The dentry names of anonymous inodes this module knows of.
fn kind_of(name: &[u8]) -> Option<&'static str> {
    Some(match name {
        b"inotify" => "inotify",
        b"[eventpoll]" => "epoll",
        b"[fanotify]" => "fanotify",
        _ => return None,
    })
}

/// Classifies an anonymous inode file of `pid`'s fd `fd`: `Ok(None)` if
/// this module does not know it (the caller refuses it by its name).
pub(crate) fn classify(pid: i32, fd: u32, f: &File) -> Result<Option<Anon>, Refusal> {
    let mut nb = [0u8; 32];
    let Some(kind) = kind_of(kapi::file_dname(f, &mut nb)) else {
        return Ok(None);
    };
    match kind {
        "inotify" => Ok(Some(Anon::Inotify(InotifySnap::gather(pid, fd, f)?))),
        "epoll" => Ok(Some(Anon::Epoll(EpollSnap::gather(pid, fd, f)?))),
        _ => Err(refuse!(
            eopnotsupp(),
            "pid {pid} fd {fd}: fanotify: not supported yet"
        )),
    }
}

/// The fdinfo text of `f`, in a buffer of its own.
fn fdinfo_of(pid: i32, fd: u32, f: &File, what: &str) -> Result<KVec<u8>, Refusal> {
    let mut buf = KVec::from_elem(0u8, FDINFO_BUF, GFP_KERNEL_ACCOUNT)?;
    let n = k::fdinfo(f, &mut buf)
        .map_err(|e| refuse!(e, "pid {pid} fd {fd}: cannot read the {what}'s state"))?
        .len();
    buf.truncate(n);
    Ok(buf)
}

// ------------------------------------------------------------ checkpoint

struct WatchSnap {
    wd: u32,
    mask: u32,
    path: KVec<u8>,
}

/// An inotify instance: its watches, in watch descriptor order.
pub(crate) struct InotifySnap {
    /// Its identity (an instance has one open file description).
    key: u64,
    next_wd: u32,
    watches: KVec<WatchSnap>,
}

impl InotifySnap {
    fn gather(pid: i32, fd: u32, f: &File) -> Result<Self, Refusal> {
        let queued = k::inotify_queued(f);
        if queued != 0 {
            return Err(refuse!(
                eopnotsupp(),
                "pid {pid} fd {fd}: inotify with {queued} events queued (not yet read): not supported yet"
            ));
        }
        let next_wd = k::inotify_next_wd(f);
        let text = fdinfo_of(pid, fd, f, "inotify instance")?;
        let text = core::str::from_utf8(&text).map_err(|_| {
            refuse!(
                EINVAL,
                "pid {pid} fd {fd}: cannot read the inotify instance's state"
            )
        })?;
        let mut watches: KVec<WatchSnap> = KVec::new();
        let mut path_buf = KVec::from_elem(0u8, 4096, GFP_KERNEL_ACCOUNT)?;
        let mut mounts = None;
        for w in inotify_fdinfo(text) {
            let w = w.map_err(|line| {
                refuse!(
                    EINVAL,
                    "pid {pid} fd {fd}: inotify state: line {line} does not parse"
                )
            })?;
            let wd = w.wd as u32;
            if wd == 0 || wd >= next_wd {
                return Err(refuse!(
                    eopnotsupp(),
                    "pid {pid} fd {fd}: inotify watch descriptors wrapped around: not supported yet"
                ));
            }
            if w.mask & !INOTIFY_WATCH_MASK != 0 || w.mask & 0xfff == 0 {
                return Err(refuse!(
                    eopnotsupp(),
                    "pid {pid} fd {fd}: inotify watch {wd}: mask {:#x}: not supported yet",
                    w.mask
                ));
            }
            let v = name_watch(f, &mut mounts, &w, &mut path_buf).map_err(|e| {
                refuse!(
                    e,
                    "pid {pid} fd {fd}: inotify watch {wd}: cannot name the watched inode"
                )
            })?;
            let Some(v) = v else {
                return Err(refuse!(
                    eopnotsupp(),
                    "pid {pid} fd {fd}: inotify watch {wd}: the watched inode {:#x} has no path (deleted, or not reachable from the process's mounts): not supported yet",
                    w.ino
                ));
            };
            watches.push(
                WatchSnap {
                    wd,
                    mask: w.mask,
                    path: v,
                },
                GFP_KERNEL_ACCOUNT,
            )?;
        }
        // The kernel lists the marks newest first.
        watches.sort_unstable_by_key(|x| x.wd);
        if watches.len() > format::MAX_INOTIFY_WATCHES as usize {
            return Err(refuse!(
                eopnotsupp(),
                "pid {pid} fd {fd}: inotify with more than {} watches",
                format::MAX_INOTIFY_WATCHES
            ));
        }
        Ok(InotifySnap {
            key: f.as_ptr() as usize as u64,
            next_wd,
            watches,
        })
    }

    /// Its kernel identity, never saved.
    pub(crate) fn key(&self) -> u64 {
        self.key
    }

    /// Writes its records with image id `id`.
    pub(crate) fn write(&self, id: u32, w: &mut ImageWriter<'_>) -> Result {
        let r = format::Inotify {
            id,
            watches: self.watches.len() as u32,
            next_wd: self.next_wd,
        };
        w.record(|b| r.encode(b))?;
        for x in self.watches.iter() {
            let rec = format::InotifyWatch {
                head: InotifyWatchHead {
                    id,
                    wd: x.wd,
                    mask: x.mask,
                },
                path: &x.path,
            };
            w.record(|b| rec.encode(b))?;
        }
        Ok(())
    }
}

/// Most bytes of `/proc/self/mountinfo` read to name watched inodes.
const MOUNTINFO_MAX: usize = 1 << 20;

/// The current task's `/proc/self/mountinfo`, read once (`mounts`).
fn mountinfo(mounts: &mut Option<KVec<u8>>) -> Result<&[u8]> {
    if mounts.is_none() {
        let f = kapi::filp_open(kernel::c_str!("/proc/self/mountinfo"), 0)?;
        let mut v = KVec::new();
        let mut chunk = KVec::from_elem(0u8, 16384, GFP_KERNEL)?;
        loop {
            let n = kapi::file_read(&f, &mut chunk)?;
            if n == 0 {
                break;
            }
            if v.len() + n > MOUNTINFO_MAX {
                return Err(E2BIG);
            }
            v.extend_from_slice(&chunk[..n], GFP_KERNEL)?;
        }
        *mounts = Some(v);
    }
    Ok(mounts.as_deref().unwrap_or(&[]))
}

/// Whether `path` leads to inode `ino` of `sdev` itself.
fn leads_to(path: &[u8], sdev: u32, ino: u64) -> Result<bool> {
    if path.first() != Some(&b'/') || path.ends_with(b" (deleted)") {
        return Ok(false);
    }
    let mut c = KVec::with_capacity(path.len() + 1, GFP_KERNEL)?;
    c.extend_from_slice(path, GFP_KERNEL)?;
    c.push(0, GFP_KERNEL)?;
    Ok(CStr::from_bytes_with_nul(&c).is_ok_and(|c| k::path_is_inode(c, sdev, ino)))
}

/// An absolute path that leads to the inode watch `w` of the inotify file
/// `f` watches: a path of an alias of it in the mount of the working
/// directory or the root, else in a mount of its filesystem from
/// `/proc/self/mountinfo`; `None` if none does (a deleted inode, one
/// under no mount of the task's).
fn name_watch(
    f: &File,
    mounts: &mut Option<KVec<u8>>,
    w: &format::InotifyWatchInfo,
    buf: &mut [u8],
) -> Result<Option<KVec<u8>>> {
    let Some(inode) = k::inotify_wd_inode(f, w.wd) else {
        return Ok(None);
    };
    let (ino, sdev) = inode.ino_dev();
    if (ino, sdev) != (w.ino, w.sdev) {
        return Err(EAGAIN);
    }
    let own = |p: &[u8]| -> Result<KVec<u8>> {
        let mut v = KVec::with_capacity(p.len(), GFP_KERNEL_ACCOUNT)?;
        v.extend_from_slice(p, GFP_KERNEL_ACCOUNT)?;
        Ok(v)
    };
    if let Some(p) = k::name_inode(&inode, buf)? {
        if leads_to(p, sdev, ino)? {
            return Ok(Some(own(p)?));
        }
    }
    // The kernel's `dev_t`: 12 bits of major above 20 of minor.
    let (major, minor) = (sdev >> 20, sdev & 0xfffff);
    let text = core::str::from_utf8(mountinfo(mounts)?).map_err(|_| EINVAL)?;
    let mut point = KVec::from_elem(0u8, 4096, GFP_KERNEL)?;
    for m in format::mountinfo_points(text, major, minor) {
        let Some(n) = format::unescape_octal(m, &mut point[..4095]) else {
            continue;
        };
        point[n] = 0;
        const O_PATH: u32 = 0o10000000;
        let Ok(c) = CStr::from_bytes_with_nul(&point[..=n]) else {
            continue;
        };
        let Ok(mf) = kapi::filp_open(c, O_PATH) else {
            continue;
        };
        if let Some(p) = k::name_inode_in(&mf, &inode, buf)? {
            if leads_to(p, sdev, ino)? {
                return Ok(Some(own(p)?));
            }
        }
    }
    Ok(None)
}

// ------------------------------------------------------------ restart

/// Takes an inotify instance the caller handed over
/// (`CR_RESTART_OBJ_INOTIFY`) into `shared`.
pub(crate) fn take_handed(o: &RestartObj, shared: &mut SharedObjects, log: &Log) -> Result {
    let (id, fd) = (o.id, o.fd);
    if id == 0 || shared.get(Kind::Inotify, id).is_some() {
        return Err(fail!(
            log,
            EINVAL,
            "restart object {id}: bad or repeated inotify id"
        ));
    }
    let f = kapi::fget(fd).map_err(|e| fail!(log, e, "inotify {id}: fd {fd}: not an open file"))?;
    let mut nb = [0u8; 32];
    if kapi::file_dname(&f, &mut nb) != b"inotify" {
        return Err(fail!(
            log,
            EINVAL,
            "inotify {id}: fd {fd}: not an inotify instance"
        ));
    }
    let _ = current::close_fd(fd as u32);
    shared.insert(
        id,
        Object::Inotify {
            file: f,
            watches: KVec::new(),
            next_wd: 0,
            recorded: false,
            opened: false,
        },
    )
}

/// Takes an inotify record: crctl must have handed its instance over.
pub(crate) fn add(r: &format::Inotify, shared: &mut SharedObjects, log: &Log) -> Result {
    let id = r.id;
    match shared.get(Kind::Inotify, id) {
        Some(Object::Inotify {
            recorded, next_wd, ..
        }) if !*recorded => {
            *recorded = true;
            *next_wd = r.next_wd;
            Ok(())
        }
        Some(_) => Err(fail!(log, EINVAL, "bad image: inotify {id} twice")),
        None => Err(fail!(
            log,
            EINVAL,
            "inotify {id}: the caller handed over no inotify instance for it (restart images with inotify with crctl)"
        )),
    }
}

/// Takes a watch record of the instance before it.
pub(crate) fn add_watch(
    w: &format::InotifyWatch<'_>,
    shared: &mut SharedObjects,
    log: &Log,
) -> Result {
    let id = w.head.id;
    let Some(Object::Inotify { watches, .. }) = shared.get(Kind::Inotify, id) else {
        return Err(fail!(log, EINVAL, "bad image: no inotify {id}"));
    };
    watches.push((w.head.wd, w.head.mask), GFP_KERNEL_ACCOUNT)?;
    Ok(())
}

/// The description of inotify instance `id` for the file record of fd
/// `fd`: the handed-over instance, once its watches are checked against
/// the image (watch descriptors and masks, the next watch descriptor, an
/// empty queue), with `O_NONBLOCK` as in `open_flags`.
pub(crate) fn open(
    fd: u32,
    id: u32,
    open_flags: u32,
    shared: &mut SharedObjects,
    log: &Log,
) -> Result<ARef<File>> {
    let Some(Object::Inotify {
        file,
        watches,
        next_wd,
        recorded,
        opened,
    }) = shared.get(Kind::Inotify, id)
    else {
        return Err(fail!(log, EINVAL, "bad image: fd {fd}: no inotify {id}"));
    };
    if !*recorded || *opened {
        return Err(fail!(
            log,
            EINVAL,
            "bad image: fd {fd}: inotify {id} opened by a second file description"
        ));
    }
    *opened = true;
    let mut buf = KVec::from_elem(0u8, FDINFO_BUF, GFP_KERNEL)?;
    let text = k::fdinfo(file, &mut buf).map_err(|e| {
        fail!(
            log,
            e,
            "fd {fd}: cannot read the inotify instance crctl made"
        )
    })?;
    let mut n = 0;
    let mut same = true;
    for w in inotify_fdinfo(text) {
        let Ok(w) = w else {
            same = false;
            break;
        };
        // The kernel lists the marks newest first: look each up.
        same &= watches
            .iter()
            .any(|&(wd, mask)| wd == w.wd as u32 && mask == w.mask);
        n += 1;
    }
    if !same || n != watches.len() {
        return Err(fail!(
            log,
            EINVAL,
            "fd {fd}: inotify {id}: the instance crctl made does not have the image's watches"
        ));
    }
    if k::inotify_next_wd(file) != *next_wd || k::inotify_queued(file) != 0 {
        return Err(fail!(
            log,
            EINVAL,
            "fd {fd}: inotify {id}: the instance crctl made has another next watch descriptor or queued events"
        ));
    }
    let i = kapi::file_info(file);
    if i.f_flags & O_NONBLOCK != open_flags & O_NONBLOCK {
        kapi::pipe::set_flags(file, open_flags & O_NONBLOCK, !open_flags & O_NONBLOCK);
    }
    Ok(file.clone())
}

// ------------------------------------------------------------ epoll sets

/// `CAP_BLOCK_SUSPEND`, which `epoll_ctl()` needs to keep `EPOLLWAKEUP`.
const CAP_BLOCK_SUSPEND: i32 = 36;

/// An epoll set: its watches, each with the fd of the checkpointed
/// process that holds the watched description.
pub(crate) struct EpollSnap {
    key: u64,
    watches: KVec<format::EpollWatch>,
}

/// The fd of the current task that holds the description watch `w`
/// watches: `w.tfd` itself if it holds a watched file of that inode, else
/// the one other fd that does (the watch's fd was closed, its file lives
/// on there); `None` if none or several candidates.
fn target_fd(w: &format::EpollWatchInfo) -> Option<u32> {
    let matches = |f: &File| k::file_ino_dev(f) == (w.ino, w.sdev) && k::file_watched(f);
    if let Ok(tfd) = u32::try_from(w.tfd) {
        if let Some((f, _)) = current::fget(tfd) {
            if matches(&f) {
                return Some(tfd);
            }
        }
    }
    let mut found: Option<(u32, usize)> = None;
    for fd in 0..current::max_fds() {
        let Some((f, _)) = current::fget(fd) else {
            continue;
        };
        if !matches(&f) {
            continue;
        }
        let a = f.as_ptr() as usize;
        match found {
            Some((_, b)) if b == a => {}
            Some(_) => return None,
            None => found = Some((fd, a)),
        }
    }
    found.map(|(fd, _)| fd)
}

impl EpollSnap {
    fn gather(pid: i32, fd: u32, f: &File) -> Result<Self, Refusal> {
        let text = fdinfo_of(pid, fd, f, "epoll set")?;
        let text = core::str::from_utf8(&text).map_err(|_| {
            refuse!(
                EINVAL,
                "pid {pid} fd {fd}: cannot read the epoll set's state"
            )
        })?;
        let mut watches = KVec::new();
        for w in epoll_fdinfo(text) {
            let w = w.map_err(|line| {
                refuse!(
                    EINVAL,
                    "pid {pid} fd {fd}: epoll state: line {line} does not parse"
                )
            })?;
            let tfd = w.tfd;
            if w.events & !format::EPOLL_PRIVATE == 0 {
                return Err(refuse!(
                    eopnotsupp(),
                    "pid {pid} fd {fd}: epoll watch on fd {tfd}: an EPOLLONESHOT watch that already fired (epoll_ctl cannot make one): not supported"
                ));
            }
            let Some(target) = target_fd(&w) else {
                return Err(refuse!(
                    eopnotsupp(),
                    "pid {pid} fd {fd}: epoll watch on fd {tfd}: the watched file (inode {:#x}) is not open in the process, or not at one description: not supported",
                    w.ino
                ));
            };
            watches.push(
                format::EpollWatch {
                    id: 0,
                    tfd: tfd as u32,
                    events: w.events,
                    target_fd: target,
                    data: w.data,
                },
                GFP_KERNEL_ACCOUNT,
            )?;
        }
        if watches.len() > format::MAX_EPOLL_WATCHES as usize {
            return Err(refuse!(
                eopnotsupp(),
                "pid {pid} fd {fd}: epoll set with more than {} watches",
                format::MAX_EPOLL_WATCHES
            ));
        }
        Ok(EpollSnap {
            key: f.as_ptr() as usize as u64,
            watches,
        })
    }

    /// Its kernel identity, never saved.
    pub(crate) fn key(&self) -> u64 {
        self.key
    }

    /// Its watches, as `(tfd, target_fd)`: the fd the watch was added
    /// with, and the fd of the process it was read in that holds the
    /// description it is taken to watch (see `target_fd`).
    pub(crate) fn targets(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.watches.iter().map(|w| (w.tfd, w.target_fd))
    }

    /// Writes its records with image id `id`.
    pub(crate) fn write(&self, id: u32, w: &mut ImageWriter<'_>) -> Result {
        let r = format::Epoll {
            id,
            watches: self.watches.len() as u32,
        };
        w.record(|b| r.encode(b))?;
        for x in self.watches.iter() {
            let rec = format::EpollWatch { id, ..*x };
            w.record(|b| rec.encode(b))?;
        }
        Ok(())
    }
}

/// Takes an epoll record.
pub(crate) fn add_epoll(r: &format::Epoll, shared: &mut SharedObjects, log: &Log) -> Result {
    shared
        .insert(
            r.id,
            Object::Epoll {
                watches: KVec::new(),
                open_flags: 0,
                opened: false,
                file: None,
            },
        )
        .map_err(|e| fail!(log, e, "bad image: epoll {} twice", r.id))
}

/// Takes a watch record of the epoll set before it.
pub(crate) fn add_epoll_watch(
    w: &format::EpollWatch,
    shared: &mut SharedObjects,
    log: &Log,
) -> Result {
    let id = w.id;
    let Some(Object::Epoll { watches, .. }) = shared.get(Kind::Epoll, id) else {
        return Err(fail!(log, EINVAL, "bad image: no epoll {id}"));
    };
    if w.events & format::EPOLLWAKEUP != 0 && !kapi::capable(CAP_BLOCK_SUSPEND) {
        return Err(fail!(
            log,
            EPERM,
            "epoll {id}: the watch on fd {} has EPOLLWAKEUP, which needs CAP_BLOCK_SUSPEND",
            w.tfd
        ));
    }
    watches.push(*w, GFP_KERNEL_ACCOUNT)?;
    Ok(())
}

/// The first file record of epoll set `id`: its file comes later, from
/// crctl's helper ([`Handover`]).
pub(crate) fn open_epoll(
    fd: u32,
    id: u32,
    open_flags: u32,
    shared: &mut SharedObjects,
    log: &Log,
) -> Result {
    match shared.get(Kind::Epoll, id) {
        Some(Object::Epoll {
            opened,
            open_flags: of,
            ..
        }) if !*opened => {
            *opened = true;
            *of = open_flags;
            Ok(())
        }
        _ => Err(fail!(
            log,
            EINVAL,
            "bad image: fd {fd}: no epoll {id}, or opened twice"
        )),
    }
}

/// What a watch to add is on.
pub(crate) enum Target {
    /// An open file description of the image.
    File(ARef<File>),
    /// Another epoll set of the image (by id).
    Set(u32),
}

/// One watch crctl's helper adds.
pub(crate) struct HelperWatch {
    set: u32,
    tfd: u32,
    events: u32,
    data: u64,
    target: Target,
}

/// The exchange with crctl's epoll helper during a tree restart: the
/// coordinator publishes the watches (`req`), the helper takes them
/// (`CR_IOC_EPOLL_WATCHES`) and hands the sets back (`CR_IOC_EPOLL_SETS`).
#[derive(Default)]
pub(crate) struct Handover {
    /// Every set's id.
    pub(crate) ids: KVec<u32>,
    pub(crate) req: Option<KVec<HelperWatch>>,
    pub(crate) sets: Option<KVec<(u32, ARef<File>)>>,
    served: bool,
}

/// Whether the image has epoll sets.
pub(crate) fn any(shared: &SharedObjects) -> bool {
    shared.count(Kind::Epoll) != 0
}

/// The watches to add, with their targets resolved in the file table of
/// the process holding each set's first file record (`tables`).
/// `firsts`: each set with the table of its first file record; `at_fd`:
/// what fd `fd` of table `t` holds (`FilesPlan::at_fd`).
pub(crate) fn requests(
    firsts: &[(u32, usize)],
    at_fd: impl Fn(usize, u32) -> Option<(Option<ARef<File>>, u32)>,
    shared: &mut SharedObjects,
    log: &Log,
) -> Result<(KVec<u32>, KVec<HelperWatch>)> {
    let mut v = KVec::new();
    let mut ids = KVec::new();
    for &(id, t) in firsts.iter() {
        {
            ids.push(id, GFP_KERNEL)?;
            let Some(Object::Epoll { watches, .. }) = shared.get(Kind::Epoll, id) else {
                return Err(EINVAL);
            };
            for w in watches.iter() {
                let tfd = w.target_fd;
                let target = match at_fd(t, tfd) {
                    Some((_, e)) if e != 0 => Target::Set(e),
                    Some((Some(f), _)) => Target::File(f),
                    Some((None, _)) => Target::File(
                        kapi::fget(tfd as i32)
                            .map_err(|e| fail!(log, e, "epoll {id}: no fd {tfd} to watch"))?,
                    ),
                    None => {
                        return Err(fail!(
                            log,
                            EINVAL,
                            "bad image: epoll {id}: watch on fd {}: no fd {tfd} in its process",
                            w.tfd
                        ))
                    }
                };
                v.push(
                    HelperWatch {
                        set: id,
                        tfd: w.tfd,
                        events: w.events,
                        data: w.data,
                        target,
                    },
                    GFP_KERNEL,
                )?;
            }
        }
    }
    Ok((ids, v))
}

/// `CR_IOC_EPOLL_WATCHES` (in the helper, once `h.req` is there): installs
/// each watched file in the caller and writes the watch list to `out`.
pub(crate) fn serve(h: &mut Handover, out: &mut KVec<crate::uapi::EpollWatchOut>) -> Result {
    if h.served {
        return Err(EBUSY);
    }
    h.served = true;
    let req = h.req.as_ref().ok_or(EINVAL)?;
    // First each set, then each watch.
    for id in h.ids.iter() {
        out.push(
            crate::uapi::EpollWatchOut::new(*id, u32::MAX, 0, -1, 0, 0),
            GFP_KERNEL,
        )?;
    }
    for w in req.iter() {
        let (fd, set) = match &w.target {
            Target::File(f) => {
                let fd = current::fd_reserve()?;
                current::fd_install(fd, f.clone(), true);
                (fd as i32, 0)
            }
            Target::Set(s) => (-1, *s),
        };
        out.push(
            crate::uapi::EpollWatchOut::new(w.set, w.tfd, w.events, fd, set, w.data),
            GFP_KERNEL,
        )?;
    }
    Ok(())
}

/// Checks each set the helper made against the image (through its
/// fdinfo: each watch's fd, events, data and watched inode) and takes it
/// into `shared`.
pub(crate) fn take_sets(h: &mut Handover, shared: &mut SharedObjects, log: &Log) -> Result {
    let sets = h.sets.take().ok_or(EINVAL)?;
    let req = h.req.as_ref().ok_or(EINVAL)?;
    for (id, f) in sets.iter() {
        let mut nb = [0u8; 32];
        if kapi::file_dname(f, &mut nb) != b"[eventpoll]" {
            return Err(fail!(
                log,
                EINVAL,
                "epoll {id}: crctl handed over no epoll set"
            ));
        }
        match shared.get(Kind::Epoll, *id) {
            Some(Object::Epoll {
                file: file @ None, ..
            }) => *file = Some(f.clone()),
            _ => {
                return Err(fail!(
                    log,
                    EINVAL,
                    "epoll {id}: unknown or handed over twice"
                ))
            }
        }
    }
    for (id, f) in sets.iter() {
        let ino_of = |t: &Target, shared: &mut SharedObjects| -> Option<(u64, u32)> {
            match t {
                Target::File(f) => Some(k::file_ino_dev(f)),
                Target::Set(s) => match shared.get(Kind::Epoll, *s) {
                    Some(Object::Epoll { file: Some(f), .. }) => Some(k::file_ino_dev(f)),
                    _ => None,
                },
            }
        };
        let mut buf = KVec::from_elem(0u8, FDINFO_BUF, GFP_KERNEL)?;
        let text = k::fdinfo(f, &mut buf)
            .map_err(|e| fail!(log, e, "epoll {id}: cannot read the set crctl made"))?;
        let mut n = 0;
        for got in epoll_fdinfo(text) {
            let got =
                got.map_err(|_| fail!(log, EINVAL, "epoll {id}: cannot read the set crctl made"))?;
            let want = req.iter().find(|w| w.set == *id && w.tfd as i32 == got.tfd);
            let Some(want) = want else {
                return Err(fail!(
                    log,
                    EINVAL,
                    "epoll {id}: crctl made a watch on fd {} the image does not have",
                    got.tfd
                ));
            };
            if want.events & format::EPOLLWAKEUP != got.events & format::EPOLLWAKEUP {
                return Err(fail!(
                    log,
                    EPERM,
                    "epoll {id}: the watch on fd {} lost EPOLLWAKEUP (it needs CAP_BLOCK_SUSPEND)",
                    got.tfd
                ));
            }
            if want.events != got.events
                || want.data != got.data
                || ino_of(&want.target, shared) != Some((got.ino, got.sdev))
            {
                return Err(fail!(
                    log,
                    EINVAL,
                    "epoll {id}: the watch on fd {} crctl made differs from the image's (events {:#x}, data {:#x})",
                    got.tfd,
                    want.events,
                    want.data
                ));
            }
            n += 1;
        }
        let want_n = req.iter().filter(|w| w.set == *id).count();
        if n != want_n {
            return Err(fail!(
                log,
                EINVAL,
                "epoll {id}: crctl made {n} watches, the image has {want_n}"
            ));
        }
        if let Some(Object::Epoll { open_flags, .. }) = shared.get(Kind::Epoll, *id) {
            let i = kapi::file_info(f);
            if i.f_flags & O_NONBLOCK != *open_flags & O_NONBLOCK {
                kapi::pipe::set_flags(f, *open_flags & O_NONBLOCK, !*open_flags & O_NONBLOCK);
            }
        }
    }
    let made = sets.len();
    let want = shared.count(Kind::Epoll);
    if made != want {
        return Err(fail!(
            log,
            EINVAL,
            "crctl's helper made {made} epoll sets, the image has {want}"
        ));
    }
    Ok(())
}

/// `CR_IOC_EPOLL_SETS`: takes the sets the helper made (restart objects
/// of kind `CR_RESTART_OBJ_EPOLL`); they are checked by the coordinator.
pub(crate) fn hand_sets(h: &mut Handover, objs: &[RestartObj]) -> Result {
    if h.sets.is_some() || !h.served {
        return Err(EBUSY);
    }
    let mut v = KVec::with_capacity(objs.len(), GFP_KERNEL)?;
    for o in objs {
        if o.kind != crate::uapi::CR_RESTART_OBJ_EPOLL {
            return Err(EINVAL);
        }
        v.push((o.id, kapi::fget(o.fd)?), GFP_KERNEL)?;
    }
    h.sets = Some(v);
    Ok(())
}
