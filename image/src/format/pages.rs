// SPDX-License-Identifier: GPL-2.0

//! Page contents: a run of pages of one process ([`PagesHeader`]).

use super::codec::{decode_whole, wire_size, Le};
use super::*;

wire_struct! {
    /// A run of pages: `npages` pages at `addr`, whose contents follow the
    /// header in the same record.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct PagesHeader, wire PagesWire {
        /// Address of the first page.
        pub addr: u64,
        /// Number of pages.
        pub npages: u32,
        /// Which process (index among the image's live processes, in tree
        /// order) the pages belong to.
        pub proc_idx: u32,
    }
}

/// Size of the fixed part of a pages record.
pub const PAGES_FIXED: usize = wire_size::<PagesHeader>();

impl PagesHeader {
    /// Encodes the record header and the fixed part (page data follows,
    /// written by the caller).
    pub fn encode(&self, buf: &mut [u8], page_size: u32) -> Option<usize> {
        let total = RECORD_HEADER_SIZE + PAGES_FIXED + self.npages as usize * page_size as usize;
        let mut w = Writer::new(buf);
        w.u32(RecordType::Pages as u32);
        w.u32(u32::try_from(total).ok()?);
        w.wire(&self.to_le());
        w.finish()
    }

    /// Decodes the fixed part.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        let ph: PagesHeader = decode_whole(p)?;
        if ph.npages == 0 || ph.npages > MAX_PAGES_PER_RECORD {
            return Err(FormatError::BadPages);
        }
        Ok(ph)
    }
}

wire_struct! {
    /// A run of pages a process shares copy-on-write with an earlier one
    /// (its parent, which forked it): `npages` pages at `addr` that are the
    /// very pages process `from_idx` has at the same addresses, in a VMA of
    /// the same span. No contents follow: they are the other process's.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Inherited, wire InheritedWire {
        /// Address of the first page.
        pub addr: u64,
        /// Number of pages.
        pub npages: u32,
        /// The process the pages belong to (as [`PagesHeader::proc_idx`]).
        pub proc_idx: u32,
        /// The process whose pages they are, before `proc_idx`.
        pub from_idx: u32,
        pad pad0,
    }
}

/// Size of an inherited-pages record's payload.
pub const INHERITED_PAYLOAD: usize = wire_size::<Inherited>();
const _: () = assert!(INHERITED_PAYLOAD == 24);

impl Inherited {
    /// Encodes the whole record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_record(buf, RecordType::Inherited, |w| w.wire(&self.to_le()))
    }

    /// Decodes and checks the payload on its own.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        let r: Inherited = decode_whole(p)?;
        if r.npages == 0 || r.npages > MAX_PAGES_PER_RECORD || r.from_idx >= r.proc_idx {
            return Err(FormatError::BadPages);
        }
        Ok(r)
    }

    /// The same run as a pages header (for [`PageWalk`]).
    pub fn run(&self) -> PagesHeader {
        PagesHeader {
            addr: self.addr,
            npages: self.npages,
            proc_idx: self.proc_idx,
        }
    }
}

#[cfg(feature = "info")]
impl super::info::Info for Inherited {
    /// Counted, not listed, as pages are.
    fn text(&self, _at: u64, _out: &mut Vec<String>) {}

    fn json(&self) -> super::info::Json {
        super::info::Json::Inherited(u64::from(self.npages))
    }
}

/// Checks that a run of `npages` pages at `addr` lies inside `vma` and that
/// the VMA may hold saved pages; `counted` is how many pages of this VMA were
/// seen before. Returns the new count. [`PageWalk`] ties each page run to
/// its VMA with it.
pub fn pages_in(
    vma_start: u64,
    vma_end: u64,
    vma_nr_pages: u64,
    counted: u64,
    addr: u64,
    npages: u32,
    page_size: u32,
) -> FResult<u64> {
    let len = u64::from(npages) * u64::from(page_size);
    let end = addr.checked_add(len).ok_or(FormatError::BadPages)?;
    if addr < vma_start || end > vma_end {
        return Err(FormatError::BadPages);
    }
    let n = counted + u64::from(npages);
    if n > vma_nr_pages {
        return Err(FormatError::BadPages);
    }
    Ok(n)
}
const _: () = assert!(PAGES_FIXED == 16);

#[cfg(feature = "info")]
impl super::info::Info for PagesHeader {
    /// Pages are counted, not listed: `crctl info` prints their total.
    fn text(&self, _at: u64, _out: &mut Vec<String>) {}

    fn json(&self) -> super::info::Json {
        super::info::Json::Pages(u64::from(self.npages))
    }
}
