// SPDX-License-Identifier: GPL-2.0

//! Validation of a whole image, one record at a time ([`Validator`]).

use super::*;

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

/// Checks an image as it streams by: record order, lengths, every field,
/// the task tree, each process's VMA list (sorted, disjoint), that page runs
/// are sorted by process and address, inside the user address space and add
/// up to the VMAs' total, and both checksums. Being allocation-free it keeps
/// no tables: callers that do (the kernel restorer, `crctl info`, the
/// fuzzer) also check that each process and thread record matches its tree
/// entry and each page run its VMA, with the [`walk`] types, so that all
/// three accept exactly the same images.
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
    /// Highest id so far of each [`ObjClass`]: each object's record comes
    /// once, numbered in order, before the file records naming it.
    last_obj: [u32; ObjClass::COUNT],
    /// The pipe-data bytes the last pipe record announced that are still
    /// to come.
    pipe_data_left: u64,
    /// The unix sockets whose data records are still to come, in order:
    /// id and records left ([`UnixSock::data_records`]).
    unix_data_left: [(u32, u32); 2],
    /// Connecting unix sockets ([`UnixState::Connecting`]) no
    /// [`UnixQueued`] record named yet.
    unix_connecting: u32,
    /// The watch records the last inotify record announced.
    inotify_left: InotifyLeft,
    /// The watch records the last epoll record announced.
    epoll_left: EpollLeft,
    /// The contents still declared by the last memfd or deleted-file
    /// record: its [`FileData`] records, and only they, come next.
    data_left: DataLeft,
    /// [`FileRec::id`] of the current process's last file record (0: none
    /// yet), which lock and owner records belong to, and whether it had
    /// its owner record.
    cur_file: (u32, bool),
    /// Live processes and threads the tree announced, and seen so far.
    procs_expected: u32,
    procs_seen: u32,
    threads_expected: u32,
    threads_seen: u32,
    /// Threads seen in the current process.
    proc_threads: u32,
    /// Tid of the last thread record: a thread's pending signals follow it.
    last_tid: i32,
    pages_declared: u64,
    pages_seen: u64,
    last_page: (u32, u64),
    records: u64,
    page_bytes_left: u64,
    ck_at_record: u64,
    /// The id of the process's last posix-timer record (-1: none yet).
    last_posix_timer: i64,
}

/// Declares [`ObjClass`] and its number of variants from one list.
macro_rules! obj_classes {
    ($($(#[$m:meta])* $v:ident,)*) => {
        /// The objects of file tables that are numbered in order of their
        /// own records, each kind on its own ([`FileRec::obj`] names one).
        #[derive(Clone, Copy)]
        enum ObjClass {
            $($(#[$m])* $v,)*
        }

        impl ObjClass {
            /// How many classes there are.
            const COUNT: usize = [$(Self::$v),*].len();
        }
    };
}

obj_classes! {
    /// [`Pipe`]: pipes and FIFOs.
    Pipe,
    /// [`UnixSock`].
    Unix,
    /// [`Inet`].
    Inet,
    /// [`EventfdRec`].
    Eventfd,
    /// [`TimerfdRec`].
    Timerfd,
    /// [`SignalfdRec`].
    Signalfd,
    /// [`Inotify`].
    Inotify,
    /// [`Epoll`].
    Epoll,
}

impl ObjClass {
    /// The class of the objects file records of `kind` open, if their
    /// ids are checked here.
    fn of(kind: FileKind) -> Option<Self> {
        match kind {
            FileKind::Pipe | FileKind::Fifo => Some(Self::Pipe),
            FileKind::Unix => Some(Self::Unix),
            FileKind::Inet => Some(Self::Inet),
            FileKind::Eventfd => Some(Self::Eventfd),
            FileKind::Timerfd => Some(Self::Timerfd),
            FileKind::Signalfd => Some(Self::Signalfd),
            FileKind::Inotify => Some(Self::Inotify),
            FileKind::Epoll => Some(Self::Epoll),
            _ => None,
        }
    }
}

/// The records of a process's file table: its file records and the
/// records of the objects they open, which come after its mappings and
/// before its threads, each object before the first file record naming it.
fn is_file_table(ty: RecordType) -> bool {
    matches!(
        ty,
        RecordType::File
            | RecordType::Pipe
            | RecordType::PipeData
            | RecordType::UnixSock
            | RecordType::UnixData
            | RecordType::UnixQueued
            | RecordType::Inet
            | RecordType::Memfd
            | RecordType::Deleted
            | RecordType::FileData
            | RecordType::Lock
            | RecordType::FileOwner
            | RecordType::Eventfd
            | RecordType::Timerfd
            | RecordType::Signalfd
            | RecordType::Inotify
            | RecordType::InotifyWatch
            | RecordType::Epoll
            | RecordType::EpollWatch
    )
}

/// Bit of [`Validator`]'s `seen` set per singleton record type of a process.
fn seen_bit(ty: RecordType) -> u32 {
    match ty {
        RecordType::Groups => 1,
        RecordType::Cwd => 2,
        RecordType::Rlimits => 4,
        RecordType::Signals => 8,
        RecordType::Mm => 16,
        RecordType::Itimers => 1 << 20,
        _ => 0,
    }
}

/// Singleton records every process must have before its VMAs.
const REQUIRED_META: u32 = 1 | 2 | 4 | 8 | 16;

impl Validator {
    /// The highest id of class `c` so far.
    fn last(&self, c: ObjClass) -> u32 {
        self.last_obj[c as usize]
    }

    /// Takes the record of a new object of class `c`, which must be the
    /// next id of its class.
    fn new_object(&mut self, c: ObjClass, id: u32) -> Result<(), FormatError> {
        let last = &mut self.last_obj[c as usize];
        if id != *last + 1 {
            return Err(FormatError::BadField);
        }
        *last = id;
        Ok(())
    }
}

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
            last_obj: [0; ObjClass::COUNT],
            pipe_data_left: 0,
            unix_data_left: [(0, 0); 2],
            unix_connecting: 0,
            inotify_left: InotifyLeft::default(),
            epoll_left: EpollLeft::default(),
            data_left: DataLeft::default(),
            cur_file: (0, false),
            procs_expected: 0,
            procs_seen: 0,
            threads_expected: 0,
            threads_seen: 0,
            proc_threads: 0,
            last_tid: 0,
            pages_declared: 0,
            pages_seen: 0,
            last_page: (0, 0),
            records: 0,
            page_bytes_left: 0,
            ck_at_record: 0,
            last_posix_timer: -1,
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
        // A pipe's data records follow it, and nothing else until all came.
        match (self.pipe_data_left, ty) {
            (0, T::PipeData) => return Err(FormatError::BadOrder),
            (0, _) => {}
            (_, T::PipeData) => return Ok(()),
            _ => return Err(FormatError::Missing),
        }
        // A unix socket's data records follow it (and its peer's record):
        // as many as it announced, and nothing else until all came.
        let unix_left = self.unix_data_left.iter().any(|&(_, n)| n != 0);
        match (unix_left, ty) {
            (false, T::UnixData) => return Err(FormatError::BadOrder),
            (true, T::UnixData) => return Ok(()),
            (true, T::UnixSock) if self.unix_data_left[1].1 == 0 => {}
            (true, _) => return Err(FormatError::Missing),
            _ => {}
        }
        // An inotify instance's watch records follow it, and nothing else.
        if (self.inotify_left.left() != 0) != (ty == T::InotifyWatch) {
            return Err(if ty == T::InotifyWatch {
                FormatError::BadOrder
            } else {
                FormatError::Missing
            });
        }
        if ty == T::InotifyWatch {
            return Ok(());
        }
        // So do an epoll set's.
        if (self.epoll_left.left() != 0) != (ty == T::EpollWatch) {
            return Err(if ty == T::EpollWatch {
                FormatError::BadOrder
            } else {
                FormatError::Missing
            });
        }
        if ty == T::EpollWatch {
            return Ok(());
        }
        if (self.data_left.left != 0) != (ty == T::FileData) {
            return Err(if ty == T::FileData {
                FormatError::BadOrder
            } else {
                FormatError::Missing
            });
        }
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
            (Phase::Meta, T::PosixTimer) => true,
            (Phase::Meta, T::Vma) => {
                if self.seen & REQUIRED_META != REQUIRED_META {
                    return Err(FormatError::Missing);
                }
                true
            }
            (Phase::Vmas, T::Vma) => self.vmas_seen < self.nr_vmas,
            (Phase::Vmas, t) if t == T::Thread || is_file_table(t) => {
                if self.vmas_seen != self.nr_vmas {
                    return Err(FormatError::Missing);
                }
                true
            }
            (Phase::Files, t) if t == T::Thread || is_file_table(t) => true,
            (Phase::ThreadRegs, T::Regs) => true,
            (Phase::ThreadRegs, _) => return Err(FormatError::Missing),
            (Phase::ThreadXstate, T::Xstate) => true,
            (Phase::ThreadXstate, _) => return Err(FormatError::Missing),
            (Phase::Threads, T::Thread) => self.threads_seen < self.threads_expected,
            (Phase::Threads, T::PendingSig) => true,
            (Phase::Threads, T::Task) => procs_left,
            (Phase::Threads, T::MetaEnd) => {
                if procs_left || !all_threads {
                    return Err(FormatError::Missing);
                }
                true
            }
            (Phase::Pages, T::Pages | T::Inherited | T::Tail) => true,
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
        self.record_indexed(p, &mut [])
    }

    /// [`Validator::record`], with scratch memory for the tree record's
    /// checks: with [`MAX_TASKS`] slots they take O(n log n) instead of
    /// O(n²) ([`Tree::decode_indexed`]). Same verdict.
    pub fn record_indexed<'a>(&mut self, p: &'a [u8], index: &mut [u16]) -> FResult<Record<'a>> {
        let ty = self.cur_ty.ok_or(FormatError::BadOrder)?;
        // MetaEnd and Tail carry checksums of what came before them.
        let ck_before = self.ck_at_record;
        let offset_before = self.offset - RECORD_HEADER_SIZE as u64;
        let rec = self.decode(ty, p, ck_before, offset_before, index)?;
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
        index: &mut [u16],
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
                let t = Tree::decode_indexed(p, index)?;
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
                self.last_posix_timer = -1;
                self.cur_file = (0, false);
                self.phase = Phase::Meta;
                Record::Task(t)
            }
            RecordType::Groups => Record::Groups(Groups::decode(p)?),
            RecordType::Cwd => Record::Cwd(Cwd::decode(p)?),
            RecordType::Rlimits => Record::Rlimits(Rlimits::decode(p)?),
            RecordType::Thread => {
                let t = Thread::decode(p)?;
                self.threads_seen += 1;
                self.proc_threads += 1;
                self.last_tid = t.tid;
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
            RecordType::Itimers => Record::Itimers(Itimers::decode(p)?),
            RecordType::PosixTimer => {
                let t = PosixTimer::decode(p)?;
                if i64::from(t.id) <= self.last_posix_timer {
                    return Err(FormatError::BadOrder);
                }
                self.last_posix_timer = t.id.into();
                Record::PosixTimer(t)
            }
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
                if ObjClass::of(f.kind).is_some_and(|c| f.obj > self.last(c)) {
                    return Err(FormatError::BadField);
                }
                self.last_fd = i64::from(f.fd);
                self.last_file_id = self.last_file_id.max(f.id);
                self.cur_file = (f.id, false);
                self.phase = Phase::Files;
                Record::File(f)
            }
            RecordType::Pipe => {
                let r = Pipe::decode(p, page_size)?;
                self.new_object(ObjClass::Pipe, r.head.id)?;
                self.pipe_data_left = r.head.data_len;
                self.phase = Phase::Files;
                Record::Pipe(r)
            }
            RecordType::PipeData => {
                let d = PipeData::decode(p)?;
                if d.id != self.last(ObjClass::Pipe) || d.data.len() as u64 > self.pipe_data_left {
                    return Err(FormatError::BadField);
                }
                self.pipe_data_left -= d.data.len() as u64;
                Record::PipeData(d)
            }
            RecordType::UnixSock => {
                let u = UnixSock::decode(p)?;
                self.new_object(ObjClass::Unix, u.id)?;
                if u.state() == UnixState::Connecting {
                    self.unix_connecting += 1;
                }
                if u.data_records != 0 {
                    // check_order keeps a free slot for it.
                    let slot = usize::from(self.unix_data_left[0].1 != 0);
                    self.unix_data_left[slot] = (u.id, u.data_records);
                }
                self.phase = Phase::Files;
                Record::UnixSock(u)
            }
            RecordType::UnixQueued => {
                let q = UnixQueued::decode(p)?;
                // Both sockets came before it (check_order: no data left).
                let last = self.last(ObjClass::Unix);
                if q.listener > last || q.client > last || self.unix_connecting == 0 {
                    return Err(FormatError::BadField);
                }
                self.unix_connecting -= 1;
                self.unix_data_left[0] = (q.client, q.data_records);
                self.phase = Phase::Files;
                Record::UnixQueued(q)
            }
            RecordType::UnixData => {
                let d = UnixData::decode(p)?;
                // The first socket with records left: its records, in order.
                match self.unix_data_left {
                    [(id, n), _] if n != 0 && id == d.id => self.unix_data_left[0].1 -= 1,
                    [_, (id, n)] if self.unix_data_left[0].1 == 0 && n != 0 && id == d.id => {
                        self.unix_data_left[1].1 -= 1
                    }
                    _ => return Err(FormatError::BadField),
                }
                if self.unix_data_left[0].1 == 0 {
                    self.unix_data_left = [self.unix_data_left[1], (0, 0)];
                }
                self.phase = Phase::Files;
                Record::UnixData(d)
            }
            RecordType::Inotify => {
                let r = Inotify::decode(p)?;
                self.new_object(ObjClass::Inotify, r.id)?;
                self.inotify_left = InotifyLeft::new(&r);
                self.phase = Phase::Files;
                Record::Inotify(r)
            }
            RecordType::Epoll => {
                let r = Epoll::decode(p)?;
                self.new_object(ObjClass::Epoll, r.id)?;
                self.epoll_left = EpollLeft::new(&r);
                self.phase = Phase::Files;
                Record::Epoll(r)
            }
            RecordType::EpollWatch => {
                let w = EpollWatch::decode(p)?;
                self.epoll_left.take(&w)?;
                Record::EpollWatch(w)
            }
            RecordType::InotifyWatch => {
                let w = InotifyWatch::decode(p)?;
                self.inotify_left.take(&w)?;
                Record::InotifyWatch(w)
            }
            RecordType::Inet => {
                let s = Inet::decode(p)?;
                self.new_object(ObjClass::Inet, s.id)?;
                self.phase = Phase::Files;
                Record::Inet(s)
            }
            RecordType::Memfd => {
                let m = MemfdRec::decode(p)?;
                self.data_left = DataLeft {
                    size: m.size,
                    left: m.data,
                    end: 0,
                };
                self.phase = Phase::Files;
                Record::Memfd(m)
            }
            RecordType::Deleted => {
                let d = DeletedRec::decode(p)?;
                self.data_left = DataLeft {
                    size: d.size,
                    left: d.data,
                    end: 0,
                };
                self.phase = Phase::Files;
                Record::Deleted(d)
            }
            RecordType::FileData => {
                let d = FileData::decode(p)?;
                self.data_left.take(&d)?;
                self.phase = Phase::Files;
                Record::FileData(d)
            }
            RecordType::Lock => {
                let l = LockRec::decode(p)?;
                if l.file != self.cur_file.0 {
                    return Err(FormatError::BadField);
                }
                self.phase = Phase::Files;
                Record::Lock(l)
            }
            RecordType::FileOwner => {
                let o = FileOwner::decode(p)?;
                if o.file != self.cur_file.0 || self.cur_file.1 {
                    return Err(FormatError::BadField);
                }
                self.cur_file.1 = true;
                self.phase = Phase::Files;
                Record::FileOwner(o)
            }
            RecordType::PendingSig => {
                let s = PendingSig::decode(p)?;
                if !s.shared() && s.tid != self.last_tid {
                    return Err(FormatError::BadField);
                }
                Record::PendingSig(s)
            }
            RecordType::Eventfd => {
                let r = EventfdRec::decode(p)?;
                self.new_object(ObjClass::Eventfd, r.id)?;
                self.phase = Phase::Files;
                Record::Eventfd(r)
            }
            RecordType::Timerfd => {
                let r = TimerfdRec::decode(p)?;
                self.new_object(ObjClass::Timerfd, r.id)?;
                self.phase = Phase::Files;
                Record::Timerfd(r)
            }
            RecordType::Signalfd => {
                let r = SignalfdRec::decode(p)?;
                self.new_object(ObjClass::Signalfd, r.id)?;
                self.phase = Phase::Files;
                Record::Signalfd(r)
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
            RecordType::Inherited => {
                let r = Inherited::decode(p)?;
                let len = u64::from(r.npages) * u64::from(page_size);
                if page_offset(r.addr, u64::from(page_size)) != 0 {
                    return Err(FormatError::BadPages);
                }
                if r.proc_idx >= self.procs_expected || (r.proc_idx, r.addr) < self.last_page {
                    return Err(FormatError::BadPages);
                }
                let end = r.addr.checked_add(len).ok_or(FormatError::BadPages)?;
                if end > task_size {
                    return Err(FormatError::BadPages);
                }
                self.last_page = (r.proc_idx, end);
                self.pages_seen += u64::from(r.npages);
                if self.pages_seen > self.pages_declared {
                    return Err(FormatError::BadPages);
                }
                Record::Inherited(r)
            }
            RecordType::Tail => {
                let t = Tail::decode(p)?;
                if self.pages_seen != self.pages_declared {
                    return Err(FormatError::BadPages);
                }
                // Every connecting unix socket is connected again.
                if self.unix_connecting != 0 {
                    return Err(FormatError::Missing);
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
