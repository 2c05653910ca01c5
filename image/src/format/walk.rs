// SPDX-License-Identifier: GPL-2.0

//! The rules that tie records to one another, for readers that keep tables.
//!
//! The [`Validator`] keeps no tables (it allocates nothing), so it checks
//! each record on its own and their order. What ties a record to an earlier
//! one is checked here, against tables the reader keeps anyway (the kernel's
//! restart plan, crctl's, the fuzzer's), by every reader alike:
//!
//! * [`TreeWalk`]: the `i`-th process section (task record) is the `i`-th
//!   live process of the [`Tree`], and its thread records are that
//!   process's live threads, in tree order.
//! * [`PageWalk`]: each page run lies in a VMA of the process its
//!   `proc_idx` names, and every VMA gets exactly its `nr_pages` pages.
//!
//! A reader feeds both from the records the [`Validator`] returns:
//!
//! ```text
//! Record::Tree(t)   -> keep its entries (the tree slice)
//! Record::Task(t)   -> tree_walk.task(&tree, &t)?;   start a VMA table
//! Record::Thread(t) -> tree_walk.thread(&tree, &t)?
//! Record::Vma(v, _) -> push VmaSpan::from(&v) to the current VMA table
//! Record::MetaEnd   -> tree_walk.meta_end(&tree)?
//! Record::Pages(ph) -> page_walk.run(&vmas, &ph, page_size)?  (the VMA's index)
//! Record::Tail      -> page_walk.finish(&vmas)?
//! ```

use super::*;

/// Ties process sections and thread records to the tree. It moves
/// forward through the tree only, so a whole walk costs time linear in
/// the number of tasks.
#[derive(Clone, Debug, Default)]
pub struct TreeWalk {
    /// Process sections so far.
    procs: usize,
    /// Thread records so far in the current process section.
    threads: usize,
    /// The tree index of the current process's leader.
    leader: usize,
    /// The tree index after which the next live process is looked for.
    next: usize,
}

impl TreeWalk {
    /// A walk at the first process section.
    pub fn new() -> Self {
        Self::default()
    }

    /// A task record, which opens process section [`TreeWalk::processes`]:
    /// it must be the next live process of `tree` and its own leader.
    pub fn task(&mut self, tree: &[TreeEntry], t: &Task) -> FResult<()> {
        let at = tree
            .iter()
            .skip(self.next)
            .position(|e| e.is_leader() && !e.is_zombie())
            .map(|i| i + self.next);
        let Some(at) = at else {
            return Err(FormatError::BadField);
        };
        if tree[at].pid != t.tgid || t.pid != t.tgid {
            return Err(FormatError::BadField);
        }
        self.procs += 1;
        self.threads = 0;
        self.leader = at;
        self.next = at + 1;
        Ok(())
    }

    /// A thread record of the current process section: it must be the
    /// process's next live thread in `tree` (a process's threads follow
    /// its leader there, which [`Tree::decode`] checks).
    pub fn thread(&mut self, tree: &[TreeEntry], t: &Thread) -> FResult<()> {
        if self.procs == 0 {
            return Err(FormatError::BadOrder);
        }
        let tgid = tree[self.leader].tgid;
        let want = tree
            .get(self.leader + self.threads)
            .filter(|e| e.tgid == tgid && !e.is_zombie());
        if want.map(|e| e.pid) != Some(t.tid) {
            return Err(FormatError::BadField);
        }
        self.threads += 1;
        Ok(())
    }

    /// The metadata end: every live process of `tree` had its section
    /// (which the [`Validator`] also counts).
    pub fn meta_end(&self, tree: &[TreeEntry]) -> FResult<()> {
        let live = tree
            .iter()
            .filter(|e| e.is_leader() && !e.is_zombie())
            .count();
        if self.procs != live || (self.procs > 0 && self.threads == 0) {
            return Err(FormatError::Missing);
        }
        Ok(())
    }

    /// Process sections opened so far.
    pub fn processes(&self) -> usize {
        self.procs
    }

    /// Thread records so far in the current process section.
    pub fn threads(&self) -> usize {
        self.threads
    }
}

/// A VMA as [`PageWalk`] needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmaSpan {
    /// First address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
    /// Pages of it the image saves.
    pub nr_pages: u64,
}

impl From<&Vma<'_>> for VmaSpan {
    fn from(v: &Vma<'_>) -> Self {
        VmaSpan {
            start: v.start,
            end: v.end,
            nr_pages: v.nr_pages,
        }
    }
}

/// The VMA tables a reader keeps: for each process section, in order, its
/// VMAs, in record order.
pub trait VmaTable {
    /// Number of process sections.
    fn processes(&self) -> usize;
    /// Number of VMAs of process `p` (`p < processes()`).
    fn vmas(&self, p: usize) -> usize;
    /// VMA `i` of process `p` (`i < vmas(p)`).
    fn vma(&self, p: usize, i: usize) -> VmaSpan;
}

impl<T: AsRef<[VmaSpan]>> VmaTable for [T] {
    fn processes(&self) -> usize {
        self.len()
    }

    fn vmas(&self, p: usize) -> usize {
        self[p].as_ref().len()
    }

    fn vma(&self, p: usize, i: usize) -> VmaSpan {
        self[p].as_ref()[i]
    }
}

/// Ties page runs to the VMAs of their process: where the walk is (process,
/// VMA in it, pages counted in that VMA).
#[derive(Clone, Debug, Default)]
pub struct PageWalk {
    p: usize,
    cur: usize,
    counted: u64,
}

impl PageWalk {
    /// A walk before the first page run.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the current process got all its pages (false past the last).
    fn proc_complete<T: VmaTable + ?Sized>(&self, t: &T) -> bool {
        if self.p >= t.processes() {
            return false;
        }
        let n = t.vmas(self.p);
        (self.cur + 1..n).all(|i| t.vma(self.p, i).nr_pages == 0)
            && (self.cur >= n || t.vma(self.p, self.cur).nr_pages == self.counted)
    }

    fn next_proc(&mut self) {
        self.p += 1;
        self.cur = 0;
        self.counted = 0;
    }

    /// A page run: the processes before its own must be complete, the VMAs
    /// of its process before its VMA too, and it must lie in that VMA
    /// within its page count ([`pages_in`]). Returns the VMA's index in its
    /// process (the process is `ph.proc_idx`).
    pub fn run<T: VmaTable + ?Sized>(
        &mut self,
        t: &T,
        ph: &PagesHeader,
        page_size: u32,
    ) -> FResult<usize> {
        while self.p < ph.proc_idx as usize {
            if !self.proc_complete(t) {
                return Err(FormatError::BadPages);
            }
            self.next_proc();
        }
        if self.p >= t.processes() {
            return Err(FormatError::BadPages);
        }
        let n = t.vmas(self.p);
        while self.cur < n && t.vma(self.p, self.cur).end <= ph.addr {
            if self.counted != t.vma(self.p, self.cur).nr_pages {
                return Err(FormatError::BadPages);
            }
            self.cur += 1;
            self.counted = 0;
        }
        if self.cur >= n {
            return Err(FormatError::BadPages);
        }
        let v = t.vma(self.p, self.cur);
        self.counted = pages_in(
            v.start,
            v.end,
            v.nr_pages,
            self.counted,
            ph.addr,
            ph.npages,
            page_size,
        )?;
        Ok(self.cur)
    }

    /// An inherited run ([`Inherited`]): a page run as [`PageWalk::run`]
    /// checks it, whose VMA process `from_idx` (an earlier one) has too,
    /// with the same span. Returns the VMA's index in its process.
    pub fn inherited<T: VmaTable + ?Sized>(
        &mut self,
        t: &T,
        r: &Inherited,
        page_size: u32,
    ) -> FResult<usize> {
        let i = self.run(t, &r.run(), page_size)?;
        let v = t.vma(r.proc_idx as usize, i);
        let from = r.from_idx as usize;
        if from >= r.proc_idx as usize {
            return Err(FormatError::BadPages);
        }
        // VMAs come in address order: a binary search finds the span.
        let (mut lo, mut hi) = (0, t.vmas(from));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if t.vma(from, mid).start < v.start {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        match (lo < t.vmas(from)).then(|| t.vma(from, lo)) {
            Some(w) if w.start == v.start && w.end == v.end => Ok(i),
            _ => Err(FormatError::BadPages),
        }
    }

    /// The tail: every process got all its pages.
    pub fn finish<T: VmaTable + ?Sized>(&mut self, t: &T) -> FResult<()> {
        while self.p < t.processes() {
            if !self.proc_complete(t) {
                return Err(FormatError::BadPages);
            }
            self.next_proc();
        }
        Ok(())
    }
}
