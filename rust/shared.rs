// SPDX-License-Identifier: GPL-2.0

//! Objects that several processes of an image can share: today open file
//! descriptions, shared anonymous memory and pipes (next sockets...).
//!
//! They live in one table with one id scheme: an object is known by its
//! [`Kind`] and its id, numbered from 1 in order of first appearance among
//! the objects of its kind, as the image numbers them. Checkpoint numbers
//! them with [`SharedIds`]; restart keeps what each is, once, in
//! [`SharedObjects`], which the resource modules fill and read.

use crate::{
    format::{self, FileKind},
    kapi::NewSocket,
};
use kernel::alloc::KVVec;
use kernel::{alloc::KVec, fs::File, prelude::*, rbtree::RBTree, sync::aref::ARef};

/// The kinds of shared objects.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// An open file description (`struct file`), which fds of several
    /// processes can name.
    File,
    /// A shared anonymous memory object, which several processes can map.
    Shm,
    /// An anonymous pipe, whose ends open file descriptions open.
    Pipe,
    /// A unix domain socket ([`format::UnixSock`]), which a file names.
    Unix,
    /// A TCP or UDP socket, which one open file description opens.
    Inet,
    /// A memfd's inode, which several open file descriptions can open.
    Memfd,
    /// A deleted regular file's inode, which several open file
    /// descriptions can open.
    Deleted,
    /// An eventfd ([`format::EventfdRec`]), which one open file
    /// description opens.
    Eventfd,
    /// A timerfd ([`format::TimerfdRec`]), as an eventfd.
    Timerfd,
    /// A signalfd ([`format::SignalfdRec`]), as an eventfd.
    Signalfd,
    /// An inotify instance, which one open file description opens.
    Inotify,
    /// An epoll set, which one open file description opens.
    Epoll,
}

// ------------------------------------------------------------ checkpoint

/// How many objects of each kind a table holds (a handful of kinds: a
/// short list).
struct Counts(KVec<(Kind, u32)>);

impl Counts {
    fn get(&self, kind: Kind) -> u32 {
        self.0
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |(_, n)| *n)
    }

    /// Counts one more object of `kind`: its number.
    fn bump(&mut self, kind: Kind) -> Result<u32> {
        if let Some((_, n)) = self.0.iter_mut().find(|(k, _)| *k == kind) {
            *n += 1;
            return Ok(*n);
        }
        self.0.push((kind, 1), GFP_KERNEL_ACCOUNT)?;
        Ok(1)
    }
}

/// The ids of the shared objects of an image being written, across its
/// processes. They replace kernel-internal identities, which never reach
/// the image.
pub(crate) struct SharedIds {
    /// Each object's id, by its kind and kernel identity.
    ids: RBTree<(Kind, u64), u32>,
    counts: Counts,
}

impl SharedIds {
    /// No object yet.
    pub(crate) fn new() -> Self {
        SharedIds {
            ids: RBTree::new(),
            counts: Counts(KVec::new()),
        }
    }

    /// The id of the object of `kind` whose kernel identity is `key`
    /// (numbered from 1 among the objects of its kind).
    pub(crate) fn id(&mut self, kind: Kind, key: u64) -> Result<u32> {
        Ok(self.id_first(kind, key)?.0)
    }

    /// [`SharedIds::id`], and whether this is the object's first
    /// appearance (its records are written then, once).
    pub(crate) fn id_first(&mut self, kind: Kind, key: u64) -> Result<(u32, bool)> {
        if let Some(&id) = self.ids.get(&(kind, key)) {
            return Ok((id, false));
        }
        let id = self.counts.get(kind) + 1;
        self.ids
            .try_create_and_insert((kind, key), id, GFP_KERNEL_ACCOUNT)?;
        self.counts.bump(kind)?;
        Ok((id, true))
    }
}

// ------------------------------------------------------------ restart

/// What a shared object of a restart is.
pub(crate) enum Object {
    /// An open file description: the fields of its first file record, and
    /// the file, opened once (`None`: inherited from the caller).
    File {
        kind: FileKind,
        open_flags: u32,
        pos: u64,
        obj: u32,
        path: KVec<u8>,
        file: Option<ARef<File>>,
    },
    /// Shared anonymous memory: the largest extent any of its mappings
    /// needs, and the object once created (by its first mapping).
    Shm { size: u64, file: Option<ARef<File>> },
    /// A pipe or FIFO the caller handed over (`struct cr_restart_obj`),
    /// `file` its end, until the image's first description of it replaces it. Once
    /// its record is `taken`, `data_left` bytes of it are still to be
    /// written back through `write`.
    Pipe {
        file: ARef<File>,
        /// A FIFO (else an anonymous pipe).
        fifo: bool,
        taken: bool,
        reopened: bool,
        data_left: u64,
        write: Option<ARef<File>>,
        /// Handed over for an external pipe (`CR_RESTART_OBJ_INHERIT`).
        inherited: bool,
    },
    /// A unix socket: its record, the socket (made and connected while
    /// the image is read), a datagram whose records are still coming,
    /// whether a file opens it yet, and for a client whose connection is
    /// queued on a listener the process that connection's `SO_PEERCRED`
    /// names ([`format::UnixQueued::peer_pid`]).
    Unix {
        rec: format::UnixSock,
        sock: NewSocket,
        partial: KVVec<u8>,
        paired: bool,
        opened: bool,
        queued_peer_pid: i32,
    },
    /// A TCP or UDP socket: its record, until the file record that names it
    /// makes it (`opened`).
    Inet {
        rec: KBox<format::Inet>,
        opened: bool,
    },
    /// A memfd: the file that made its inode (never installed), its seals,
    /// and whether they are set yet (once its contents are in).
    Memfd {
        file: ARef<File>,
        seals: u32,
        sealed: bool,
        /// Handed over by the caller (`CR_RESTART_OBJ_MEMFD`), its record
        /// not yet taken.
        handed: bool,
    },
    /// A deleted file: the file that recreated its inode (never installed).
    Deleted { file: ARef<File> },
    /// An eventfd, timerfd or signalfd (`kind`) the caller handed over
    /// (`struct cr_restart_obj`): `taken` once its record checked it,
    /// `opened` once its file record installs it.
    Evfd {
        kind: Kind,
        file: ARef<File>,
        taken: bool,
        opened: bool,
    },
    /// An inotify instance the caller handed over with its watches, the
    /// `(wd, mask)` of the image's watch records and its `next_wd`, once
    /// its record came (`recorded`); `opened` once a file record opens it.
    Inotify {
        file: ARef<File>,
        watches: KVec<(u32, u32)>,
        next_wd: u32,
        recorded: bool,
        opened: bool,
    },
    /// An epoll set: the image's watch records, then the set crctl's
    /// helper made (`file`, before the point of no return).
    Epoll {
        watches: KVec<crate::format::EpollWatch>,
        open_flags: u32,
        opened: bool,
        file: Option<ARef<File>>,
    },
}

impl Object {
    fn kind(&self) -> Kind {
        match self {
            Object::File { .. } => Kind::File,
            Object::Shm { .. } => Kind::Shm,
            Object::Pipe { .. } => Kind::Pipe,
            Object::Unix { .. } => Kind::Unix,
            Object::Inet { .. } => Kind::Inet,
            Object::Memfd { .. } => Kind::Memfd,
            Object::Deleted { .. } => Kind::Deleted,
            Object::Evfd { kind, .. } => *kind,
            Object::Inotify { .. } => Kind::Inotify,
            Object::Epoll { .. } => Kind::Epoll,
        }
    }
}

/// The shared objects of a restart, by kind and image id, shared by every
/// process of the image.
pub(crate) struct SharedObjects {
    objs: RBTree<(Kind, u32), Object>,
    counts: Counts,
}

impl SharedObjects {
    /// No object yet.
    pub(crate) fn new() -> Self {
        SharedObjects {
            objs: RBTree::new(),
            counts: Counts(KVec::new()),
        }
    }

    /// The object of `kind` with image id `id`.
    pub(crate) fn get(&mut self, kind: Kind, id: u32) -> Option<&mut Object> {
        self.objs.get_mut(&(kind, id))
    }

    /// How many objects of `kind` there are.
    pub(crate) fn count(&self, kind: Kind) -> usize {
        self.counts.get(kind) as usize
    }

    /// Adds `obj` with image id `id` (`EINVAL` if its kind has one with
    /// that id already).
    pub(crate) fn insert(&mut self, id: u32, obj: Object) -> Result {
        let kind = obj.kind();
        if self.objs.get(&(kind, id)).is_some() {
            return Err(EINVAL);
        }
        self.objs
            .try_create_and_insert((kind, id), obj, GFP_KERNEL_ACCOUNT)?;
        self.counts.bump(kind)?;
        Ok(())
    }
}
