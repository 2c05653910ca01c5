// SPDX-License-Identifier: GPL-2.0

//! Record types, listed once, and the record header.

use super::*;
use zerocopy::little_endian::U32;
use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Size of a record header.
pub const RECORD_HEADER_SIZE: usize = core::mem::size_of::<RecordHeaderWire>();

/// Declares [`RecordType`] from one table: variant, number, name and the
/// largest record of that type (header included, page data excluded).
macro_rules! record_types {
    ($($(#[$doc:meta])* $v:ident = $n:literal, $name:literal, $max:expr;)*) => {
        /// Record types. Numbers are never reused; ranges group subsystems.
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        #[repr(u32)]
        pub enum RecordType {
            $($(#[$doc])* $v = $n,)*
        }

        impl RecordType {
            /// Every record type, in number order.
            pub const ALL: &'static [RecordType] = &[$(Self::$v),*];

            /// Decodes a record type number.
            pub fn from_u32(v: u32) -> Option<Self> {
                match v {
                    $($n => Some(Self::$v),)*
                    _ => None,
                }
            }

            /// Name used in messages and by `crctl info`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$v => $name,)*
                }
            }

            /// Largest record of this type, header included, before any
            /// content that is streamed (page data).
            pub fn max_len(self) -> usize {
                RECORD_HEADER_SIZE + match self {
                    $(Self::$v => $max,)*
                }
            }
        }
    };
}

record_types! {
    /// [`Header`].
    Header = 1, "header", HEADER_PAYLOAD;
    /// [`Task`]: identity and credentials of the task.
    Task = 100, "task", TASK_PAYLOAD;
    /// [`Groups`]: supplementary groups.
    Groups = 101, "groups", 8 + 4 * MAX_GROUPS as usize;
    /// Current working directory: a path.
    Cwd = 102, "cwd", padded(4 + MAX_PATH);
    /// [`Rlimits`].
    Rlimits = 103, "rlimits", RLIMITS_PAYLOAD;
    /// [`Tree`]: every task of the image, in tree order.
    Tree = 104, "tree", 8 + TREE_ENTRY * MAX_TASKS as usize;
    /// [`Thread`]: one thread, followed by its regs and xstate records.
    Thread = 110, "thread", THREAD_PAYLOAD;
    /// [`Regs`]: general purpose registers.
    Regs = 200, "regs", REGS_PAYLOAD;
    /// [`Xstate`]: FPU/SSE/AVX state in the x86 `XSTATE` regset layout.
    Xstate = 201, "xstate", 8 + MAX_XSTATE as usize;
    /// [`FileRec`]: one open file descriptor.
    File = 300, "file", padded(FILE_FIXED + 4 + MAX_PATH);
    /// [`Pipe`]: a pipe, before the first file record naming it.
    Pipe = 310, "pipe", padded(PIPE_FIXED + 4 + MAX_PATH);
    /// [`PipeData`]: bytes buffered in the pipe before it.
    PipeData = 311, "pipe-data", PIPE_DATA_FIXED + MAX_PIPE_DATA;
    /// [`UnixSock`]: a unix domain socket.
    UnixSock = 320, "unix-socket", UNIX_SOCK_PAYLOAD;
    /// [`UnixData`]: bytes queued in a unix socket.
    UnixData = 321, "unix-data", padded(UNIX_DATA_FIXED + MAX_UNIX_DATA);
    /// [`UnixQueued`]: a connection queued on a listening unix socket.
    UnixQueued = 322, "unix-queued", UNIX_QUEUED_PAYLOAD;
    /// [`Inet`]: a TCP or UDP socket, before the file record opening it.
    Inet = 330, "inet", INET_PAYLOAD;
    /// [`MemfdRec`]: a memfd, which file records of kind memfd open.
    Memfd = 340, "memfd", padded(ANON_FILE_FIXED + 4 + MAX_MEMFD_NAME);
    /// [`DeletedRec`]: a deleted regular file, which file records of kind
    /// deleted open.
    Deleted = 341, "deleted", padded(ANON_FILE_FIXED + 4 + MAX_PATH);
    /// [`FileData`]: contents of the memfd or deleted file before it.
    FileData = 342, "file-data", padded(FILE_DATA_FIXED + FILE_DATA_CHUNK);
    /// [`LockRec`]: a file lock held on the file record before it.
    Lock = 350, "lock", LOCK_PAYLOAD;
    /// [`FileOwner`]: `F_SETOWN`/`F_SETSIG`/`O_ASYNC` of the file record before it.
    FileOwner = 351, "file-owner", FILE_OWNER_PAYLOAD;
    /// [`EventfdRec`]: an eventfd, before the file record opening it.
    Eventfd = 360, "eventfd", EVENTFD_PAYLOAD;
    /// [`TimerfdRec`]: a timerfd, before the file record opening it.
    Timerfd = 361, "timerfd", TIMERFD_PAYLOAD;
    /// [`SignalfdRec`]: a signalfd, before the file record opening it.
    Signalfd = 362, "signalfd", SIGNALFD_PAYLOAD;
    /// [`Epoll`]: an epoll set, before the file record opening it.
    Epoll = 370, "epoll", EPOLL_PAYLOAD;
    /// [`EpollWatch`]: one watch of the epoll set before it.
    EpollWatch = 371, "epoll-watch", EPOLL_WATCH_PAYLOAD;
    /// [`Inotify`]: an inotify instance, before the file record opening it.
    Inotify = 372, "inotify", INOTIFY_PAYLOAD;
    /// [`InotifyWatch`]: one watch of the inotify instance before it.
    InotifyWatch = 373, "inotify-wd", padded(INOTIFY_WATCH_FIXED + 4 + MAX_PATH);
    /// [`Mm`]: address space layout.
    Mm = 400, "mm", MM_FIXED + 8 * MAX_AUXV_WORDS as usize + 8 + padded(MAX_PATH);
    /// [`Vma`]: one mapping.
    Vma = 401, "vma", padded(VMA_FIXED + 4 + MAX_PATH);
    /// [`PagesHeader`] then page contents.
    Pages = 402, "pages", PAGES_FIXED;
    /// [`Inherited`]: pages shared with an earlier process; no contents.
    Inherited = 403, "inherited", INHERITED_PAYLOAD;
    /// [`Signals`]: handlers, blocked mask, alternate stack.
    Signals = 600, "signals", SIGNALS_PAYLOAD;
    /// [`PendingSig`]: a pending signal of the thread before it or of the process.
    PendingSig = 610, "pending-signal", PENDING_SIG_PAYLOAD;
    /// [`Itimers`]: `alarm`/`setitimer` timers.
    Itimers = 620, "itimers", ITIMERS_PAYLOAD;
    /// [`PosixTimer`]: one `timer_create` timer.
    PosixTimer = 621, "posix-timer", POSIX_TIMER_PAYLOAD;
    /// [`MetaEnd`]: end of metadata, checksum so far.
    MetaEnd = 900, "meta-end", META_END_PAYLOAD;
    /// [`Tail`]: end of image, checksum of all before.
    Tail = 9001, "tail", TAIL_PAYLOAD;
}

/// The record header on the wire.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RecordHeaderWire {
    /// Record type number.
    pub ty: U32,
    /// Total length, header included.
    pub len: U32,
}

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
        let w = RecordHeaderWire::ref_from_bytes_array(b);
        Self {
            ty: w.ty.get(),
            len: w.len.get(),
        }
    }
}

impl RecordHeaderWire {
    fn ref_from_bytes_array(b: &[u8; RECORD_HEADER_SIZE]) -> &Self {
        zerocopy::transmute_ref!(b)
    }
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
    /// [`Itimers`].
    Itimers(Itimers),
    /// [`PosixTimer`].
    PosixTimer(PosixTimer),
    /// [`Mm`].
    Mm(Mm<'a>),
    /// [`Vma`] and its index in its process.
    Vma(Vma<'a>, u32),
    /// [`FileRec`].
    File(FileRec<'a>),
    /// [`Pipe`].
    Pipe(Pipe<'a>),
    /// [`PipeData`].
    PipeData(PipeData<'a>),
    /// [`UnixSock`].
    UnixSock(UnixSock),
    /// [`UnixData`].
    UnixData(UnixData<'a>),
    /// [`UnixQueued`].
    UnixQueued(UnixQueued),
    /// [`Inet`].
    Inet(Inet),
    /// [`MemfdRec`].
    Memfd(MemfdRec<'a>),
    /// [`DeletedRec`].
    Deleted(DeletedRec<'a>),
    /// [`FileData`].
    FileData(FileData<'a>),
    /// [`LockRec`].
    Lock(LockRec),
    /// [`FileOwner`].
    FileOwner(FileOwner),
    /// [`PendingSig`].
    PendingSig(PendingSig),
    /// [`EventfdRec`].
    Eventfd(EventfdRec),
    /// [`TimerfdRec`].
    Timerfd(TimerfdRec),
    /// [`SignalfdRec`].
    Signalfd(SignalfdRec),
    /// [`Epoll`].
    Epoll(Epoll),
    /// [`EpollWatch`].
    EpollWatch(EpollWatch),
    /// [`Inotify`].
    Inotify(Inotify),
    /// [`InotifyWatch`].
    InotifyWatch(InotifyWatch<'a>),
    /// [`MetaEnd`].
    MetaEnd(MetaEnd),
    /// [`PagesHeader`]: its page data (`npages * page_size` bytes) follows
    /// and must be fed to [`Validator::page_data`].
    Pages(PagesHeader),
    /// [`Inherited`].
    Inherited(Inherited),
    /// [`Tail`].
    Tail(Tail),
}

impl<'a> Record<'a> {
    /// Decodes one payload of type `ty` on its own, without the rules
    /// across records that the [`Validator`] checks as it reads (so a
    /// [`Record::Vma`]'s index is 0): for a reader that already has the
    /// validator's verdict, such as `crctl info`. `hdr` is the image's
    /// header, whose constants some records need (else
    /// [`FormatError::BadOrder`]).
    pub fn decode(ty: RecordType, p: &'a [u8], hdr: Option<&Header>) -> FResult<Self> {
        let ps = hdr.map_or(4096, |h| h.page_size);
        let ts = hdr.map_or(u64::MAX, |h| h.task_size);
        let hdr = || hdr.ok_or(FormatError::BadOrder);
        Ok(match ty {
            RecordType::Header => Record::Header(Header::decode(p)?),
            RecordType::Task => Record::Task(Task::decode(p)?),
            RecordType::Groups => Record::Groups(Groups::decode(p)?),
            RecordType::Cwd => Record::Cwd(Cursor::new(p).path(false)?),
            RecordType::Rlimits => Record::Rlimits(Rlimits::decode(p)?),
            RecordType::Tree => Record::Tree(Tree::decode(p)?),
            RecordType::Thread => Record::Thread(Thread::decode(p)?),
            RecordType::Regs => Record::Regs(Regs::decode(p)?),
            RecordType::Xstate => Record::Xstate(Xstate::decode(p, hdr()?.xstate_size)?.area),
            RecordType::Signals => Record::Signals(Signals::decode(p)?),
            RecordType::Itimers => Record::Itimers(Itimers::decode(p)?),
            RecordType::PosixTimer => Record::PosixTimer(PosixTimer::decode(p)?),
            RecordType::Mm => {
                let h = hdr()?;
                Record::Mm(Mm::decode(p, h.auxv_words, h.task_size)?)
            }
            RecordType::Vma => Record::Vma(Vma::decode(p, ps, ts)?, 0),
            RecordType::File => Record::File(FileRec::decode(p)?),
            RecordType::Pipe => Record::Pipe(Pipe::decode(p, ps)?),
            RecordType::PipeData => Record::PipeData(PipeData::decode(p)?),
            RecordType::UnixSock => Record::UnixSock(UnixSock::decode(p)?),
            RecordType::UnixData => Record::UnixData(UnixData::decode(p)?),
            RecordType::UnixQueued => Record::UnixQueued(UnixQueued::decode(p)?),
            RecordType::Inet => Record::Inet(Inet::decode(p)?),
            RecordType::Memfd => Record::Memfd(MemfdRec::decode(p)?),
            RecordType::Deleted => Record::Deleted(DeletedRec::decode(p)?),
            RecordType::FileData => Record::FileData(FileData::decode(p)?),
            RecordType::Lock => Record::Lock(LockRec::decode(p)?),
            RecordType::FileOwner => Record::FileOwner(FileOwner::decode(p)?),
            RecordType::PendingSig => Record::PendingSig(PendingSig::decode(p)?),
            RecordType::Eventfd => Record::Eventfd(EventfdRec::decode(p)?),
            RecordType::Timerfd => Record::Timerfd(TimerfdRec::decode(p)?),
            RecordType::Signalfd => Record::Signalfd(SignalfdRec::decode(p)?),
            RecordType::Epoll => Record::Epoll(Epoll::decode(p)?),
            RecordType::EpollWatch => Record::EpollWatch(EpollWatch::decode(p)?),
            RecordType::Inotify => Record::Inotify(Inotify::decode(p)?),
            RecordType::InotifyWatch => Record::InotifyWatch(InotifyWatch::decode(p)?),
            RecordType::MetaEnd => Record::MetaEnd(MetaEnd::decode(p)?),
            RecordType::Pages => Record::Pages(PagesHeader::decode(p)?),
            RecordType::Inherited => Record::Inherited(Inherited::decode(p)?),
            RecordType::Tail => Record::Tail(Tail::decode(p)?),
        })
    }
}

/// Each record shows itself: the dispatch to the [`info::Info`] of its type.
#[cfg(feature = "info")]
impl info::Info for Record<'_> {
    fn text(&self, at: u64, out: &mut Vec<String>) {
        self.with(|r| r.text(at, out))
    }

    fn json(&self) -> info::Json {
        self.with(|r| r.json())
    }
}

#[cfg(feature = "info")]
impl Record<'_> {
    /// Calls `f` with the record as its type's [`info::Info`].
    fn with<T>(&self, f: impl FnOnce(&dyn info::Info) -> T) -> T {
        match self {
            Record::Header(h) => f(h),
            Record::Tree(t) => f(t),
            Record::Task(t) => f(t),
            Record::Groups(g) => f(g),
            Record::Cwd(p) => f(&CwdPath(p)),
            Record::Rlimits(r) => f(r),
            Record::Thread(t) => f(t),
            Record::Regs(r) => f(r),
            Record::Xstate(x) => f(&Xstate { area: x }),
            Record::Signals(s) => f(s),
            Record::Itimers(t) => f(t),
            Record::PosixTimer(t) => f(t),
            Record::Mm(m) => f(m),
            Record::Vma(v, _) => f(v),
            Record::File(fr) => f(fr),
            Record::Pipe(p) => f(p),
            Record::PipeData(d) => f(d),
            Record::UnixSock(u) => f(u),
            Record::UnixData(d) => f(d),
            Record::UnixQueued(q) => f(q),
            Record::Inet(s) => f(s),
            Record::Memfd(m) => f(m),
            Record::Deleted(d) => f(d),
            Record::FileData(d) => f(d),
            Record::Lock(l) => f(l),
            Record::FileOwner(o) => f(o),
            Record::PendingSig(s) => f(s),
            Record::Eventfd(e) => f(e),
            Record::Timerfd(t) => f(t),
            Record::Signalfd(s) => f(s),
            Record::Epoll(e) => f(e),
            Record::EpollWatch(w) => f(w),
            Record::Inotify(i) => f(i),
            Record::InotifyWatch(w) => f(w),
            Record::MetaEnd(m) => f(m),
            Record::Pages(p) => f(p),
            Record::Inherited(i) => f(i),
            Record::Tail(t) => f(t),
        }
    }
}
