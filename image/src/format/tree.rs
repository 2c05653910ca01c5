// SPDX-License-Identifier: GPL-2.0

//! The task tree: every task of the image, in tree order.

use super::codec::{wire_size, Le};
use super::*;

wire_struct! {
    /// One task of the image.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct TreeEntry, wire TreeEntryWire {
        /// Thread id (the pid, for a thread group leader).
        pub pid: i32,
        /// Thread group id.
        pub tgid: i32,
        /// Parent's tgid (the root's parent is outside the image).
        pub ppid: i32,
        /// Process group.
        pub pgid: i32,
        /// Session.
        pub sid: i32,
        /// `TREE_*` bits.
        pub flags: u32,
        /// Exit status of a zombie, as `wait()` reports it.
        pub exit_code: i32,
        pad pad0,
    }
}

/// Size of one [`Tree`] entry.
pub const TREE_ENTRY: usize = wire_size::<TreeEntry>();

/// [`TreeEntry::flags`]: the task is a zombie (exited, not yet reaped).
pub const TREE_ZOMBIE: u32 = 1;

impl TreeEntry {
    /// Whether this is a thread group leader (a process).
    pub fn is_leader(&self) -> bool {
        self.pid == self.tgid
    }

    /// Whether this is a zombie.
    pub fn is_zombie(&self) -> bool {
        self.flags & TREE_ZOMBIE != 0
    }
}

/// Every task of an image, in tree order: each process (thread group
/// leader) is followed by its other threads, and comes after its parent.
/// The first entry is the root process. Zombies are single entries.
#[derive(Clone, Copy, Debug)]
pub struct Tree<'a> {
    raw: &'a [TreeEntryWire],
}

impl core::fmt::Debug for TreeEntryWire {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        TreeEntry::from_le(self).fmt(f)
    }
}

impl<'a> Tree<'a> {
    /// Encodes the record from a list of entries.
    pub fn encode(buf: &mut [u8], n: usize, entry: impl Fn(usize) -> TreeEntry) -> Option<usize> {
        encode_record(buf, RecordType::Tree, |w| {
            w.u32(n as u32);
            w.u32(0);
            for i in 0..n {
                w.wire(&entry(i).to_le());
            }
        })
    }

    /// Decodes and checks the payload: ids positive and unique, processes
    /// after their parent, threads right after their leader, zombies alone.
    /// Takes O(n²) for n entries; [`Tree::decode_indexed`] O(n log n).
    pub fn decode(p: &'a [u8]) -> FResult<Self> {
        Self::decode_indexed(p, &mut [])
    }

    /// [`Tree::decode`], in O(n log n) when `index` has room for one slot
    /// per entry ([`MAX_TASKS`] always do): the caller's scratch memory, as
    /// this crate allocates nothing. With less room it checks as
    /// [`Tree::decode`] does. The verdict is the same either way.
    pub fn decode_indexed(p: &'a [u8], index: &mut [u16]) -> FResult<Self> {
        let mut c = Cursor::new(p);
        let n = c.u32()?;
        c.pad32()?;
        if n == 0 || n > MAX_TASKS {
            return Err(FormatError::BadField);
        }
        let raw = c.wire_slice::<TreeEntryWire>(n as usize)?;
        c.finish()?;
        let t = Tree { raw };
        let n = n as usize;
        // The checks of one entry alone (and of it with the entry before
        // it): the first entry failing one, and how.
        let mut local = None;
        for (i, w) in raw.iter().enumerate() {
            if let Err(e) = t.check_entry(i, w) {
                local = Some((i, e));
                break;
            }
        }
        // The checks against every earlier entry (pid unique, parent an
        // earlier live process): the first entry failing one. An entry's
        // own checks come first, as they are listed in [`Tree::decode`].
        let global = match index.get_mut(..n) {
            Some(ix) => t.first_global_failure_sorted(ix),
            None => t.first_global_failure_quadratic(local.map_or(n, |(i, _)| i + 1)),
        };
        match (local, global) {
            (Some((i, e)), g) if g.is_none_or(|g| i <= g) => Err(e),
            (_, Some(_)) => Err(FormatError::BadField),
            _ => Ok(t),
        }
    }

    /// The checks of entry `i` that need no other entry than the one
    /// before it.
    fn check_entry(&self, i: usize, w: &TreeEntryWire) -> FResult<()> {
        if !TreeEntry::padding_is_zero(w) {
            return Err(FormatError::NonZeroPadding);
        }
        let e = self.get(i);
        if e.pid <= 0 || e.tgid <= 0 || e.ppid < 0 || e.pgid < 0 || e.sid < 0 {
            return Err(FormatError::BadField);
        }
        if e.flags & !TREE_ZOMBIE != 0 || (e.is_zombie() && !e.is_leader()) {
            return Err(FormatError::BadField);
        }
        if !e.is_zombie() && e.exit_code != 0 {
            return Err(FormatError::BadField);
        }
        if i == 0 {
            if !e.is_leader() || e.is_zombie() {
                return Err(FormatError::BadField);
            }
        } else if !e.is_leader() {
            // A thread: right after its leader or a sibling thread.
            let prev = self.get(i - 1);
            if prev.tgid != e.tgid || prev.is_zombie() || e.ppid != prev.ppid {
                return Err(FormatError::BadField);
            }
        }
        Ok(())
    }

    /// Whether entry `j` may be the parent of entry `i`.
    fn parent_ok(&self, i: usize, j: usize) -> bool {
        let p = self.get(j);
        j < i && p.is_leader() && !p.is_zombie()
    }

    /// The first entry below `upto` whose pid an earlier entry has, or
    /// (a process other than the root) whose parent is not an earlier live
    /// process: O(n²).
    fn first_global_failure_quadratic(&self, upto: usize) -> Option<usize> {
        (0..upto.min(self.len())).find(|&i| {
            let e = self.get(i);
            (0..i).any(|j| self.get(j).pid == e.pid)
                || (i > 0
                    && e.is_leader()
                    && !(0..i).any(|j| self.get(j).pid == e.ppid && self.parent_ok(i, j)))
        })
    }

    /// [`Tree::first_global_failure_quadratic`] over every entry, with
    /// `ix` (one slot per entry) sorted by pid: O(n log n).
    fn first_global_failure_sorted(&self, ix: &mut [u16]) -> Option<usize> {
        for (i, s) in ix.iter_mut().enumerate() {
            *s = i as u16;
        }
        let key = |i: u16| (self.get(i as usize).pid, i);
        ix.sort_unstable_by_key(|&i| key(i));
        // The first repeated pid: the lowest second index of a run of
        // equal pids (each run is in index order).
        let dup = ix
            .windows(2)
            .filter(|w| self.get(w[0] as usize).pid == self.get(w[1] as usize).pid)
            .map(|w| w[1] as usize)
            .min();
        let upto = dup.unwrap_or(self.len());
        // Below `upto`, pids are unique among the entries before each
        // entry, and the first of a run is the only one there.
        let parent = (1..upto).find(|&i| {
            let e = self.get(i);
            if !e.is_leader() {
                return false;
            }
            let at = ix.partition_point(|&j| key(j) < (e.ppid, 0));
            !ix.get(at).is_some_and(|&j| {
                self.get(j as usize).pid == e.ppid && self.parent_ok(i, j as usize)
            })
        });
        match (dup, parent) {
            (Some(d), Some(p)) => Some(d.min(p)),
            (d, p) => d.or(p),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether there are none (never, once decoded).
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Entry `i`.
    pub fn get(&self, i: usize) -> TreeEntry {
        TreeEntry::from_le(&self.raw[i])
    }

    /// Number of live (not zombie) processes.
    pub fn live_processes(&self) -> u32 {
        (0..self.len())
            .filter(|&i| {
                let e = self.get(i);
                e.is_leader() && !e.is_zombie()
            })
            .count() as u32
    }

    /// Number of live threads (leaders included).
    pub fn live_threads(&self) -> u32 {
        (0..self.len())
            .filter(|&i| !self.get(i).is_zombie())
            .count() as u32
    }
}

const _: () = assert!(TREE_ENTRY == 32);

#[cfg(feature = "info")]
mod show {
    use super::super::info::{Info, Json};
    use super::*;

    /// An element of `tree` in `info --json`.
    #[derive(serde::Serialize)]
    struct TreeEntryJson {
        pid: i32,
        tgid: i32,
        ppid: i32,
        pgid: i32,
        sid: i32,
        zombie: bool,
        exit_code: i32,
    }

    impl Info for Tree<'_> {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            l.push(format!("tree: {} tasks", self.len()));
            for i in 0..self.len() {
                let e = self.get(i);
                let what = if e.is_zombie() {
                    format!("zombie, exit status {:#x}", e.exit_code)
                } else if e.is_leader() {
                    "process".to_string()
                } else {
                    "thread".to_string()
                };
                l.push(format!(
                    "  pid {} tgid {} ppid {} pgid {} sid {}: {what}",
                    e.pid, e.tgid, e.ppid, e.pgid, e.sid
                ));
            }
        }

        fn json(&self) -> Json {
            let es: Vec<TreeEntryJson> = (0..self.len())
                .map(|i| {
                    let e = self.get(i);
                    TreeEntryJson {
                        pid: e.pid,
                        tgid: e.tgid,
                        ppid: e.ppid,
                        pgid: e.pgid,
                        sid: e.sid,
                        zombie: e.is_zombie(),
                        exit_code: e.exit_code,
                    }
                })
                .collect();
            Json::member("tree", es)
        }
    }
}
