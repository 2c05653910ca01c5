// SPDX-License-Identifier: GPL-2.0

//! Sequential image I/O on the caller's fd: never a seek, so pipes and
//! sockets work. The writer computes the checksums of [`format`]; the reader
//! feeds every byte through the shared [`format::Validator`].

use crate::{
    error::ReadError,
    format::{self, Checksum, FormatError, Record, RecordType, Validator},
    kapi, uapi,
};
use kernel::{
    alloc::KVVec,
    fs::File,
    prelude::*,
    uaccess::{UserPtr, UserSlice},
};

/// `S_IFMT` and `S_IFREG`.
const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;

/// Size of the write buffer.
const WBUF: usize = 1 << 20;
/// The writer flushes when less than this is free (largest metadata record
/// plus slack).
const WBUF_LOW: usize = 320 << 10;

/// Buffered image writer.
pub(crate) struct ImageWriter<'a> {
    file: &'a File,
    buf: KVVec<u8>,
    len: usize,
    ck: Checksum,
    offset: u64,
    /// Bytes the file has accepted: where a failed write failed.
    written: u64,
    records: u64,
}

impl<'a> ImageWriter<'a> {
    /// A writer at the start of an image; writes the magic.
    pub(crate) fn new(file: &'a File) -> Result<Self> {
        let mut buf = KVVec::with_capacity(WBUF, GFP_KERNEL_ACCOUNT)?;
        buf.resize(WBUF, 0, GFP_KERNEL_ACCOUNT)?;
        let mut w = Self {
            file,
            buf,
            len: 0,
            ck: Checksum::new(),
            offset: 0,
            written: 0,
            records: 0,
        };
        w.put(&format::MAGIC)?;
        Ok(w)
    }

    fn make_room(&mut self, n: usize) -> Result {
        if WBUF - self.len < n {
            self.flush()?;
        }
        Ok(())
    }

    fn put(&mut self, data: &[u8]) -> Result {
        self.make_room(data.len())?;
        self.buf[self.len..self.len + data.len()].copy_from_slice(data);
        self.commit(data.len());
        Ok(())
    }

    /// Accounts `n` bytes just placed at the end of the buffer.
    fn commit(&mut self, n: usize) {
        self.ck.update(&self.buf[self.len..self.len + n]);
        self.len += n;
        self.offset += n as u64;
    }

    /// Appends a record that `enc` encodes into the given space (returning
    /// its length, or `None` if it did not fit: a bug, reported as EINVAL).
    pub(crate) fn record(&mut self, enc: impl FnOnce(&mut [u8]) -> Option<usize>) -> Result {
        if WBUF - self.len < WBUF_LOW {
            self.flush()?;
        }
        let n = enc(&mut self.buf[self.len..]).ok_or(EINVAL)?;
        self.commit(n);
        self.records += 1;
        Ok(())
    }

    /// Appends a pages record header; the caller then appends exactly
    /// `npages` pages with [`ImageWriter::page`].
    pub(crate) fn pages_header(&mut self, addr: u64, npages: u32, proc_idx: u32) -> Result {
        let ps = kernel::page::PAGE_SIZE as u32;
        self.record(|b| {
            format::PagesHeader {
                addr,
                npages,
                proc_idx,
            }
            .encode(b, ps)
        })
    }

    /// Appends one page, which `fill` copies into the given page-sized space.
    pub(crate) fn page(&mut self, fill: impl FnOnce(&mut [u8])) -> Result {
        let ps = kernel::page::PAGE_SIZE;
        self.make_room(ps)?;
        fill(&mut self.buf[self.len..self.len + ps]);
        self.commit(ps);
        Ok(())
    }

    /// Appends whole pages straight from `pages`, without copying them
    /// into the buffer (which is flushed first): the destination's write
    /// is their one copy. Their contents must not change until this
    /// returns (the private pages of parked tasks).
    pub(crate) fn pages_direct(&mut self, pages: &[Option<kapi::PinnedPage>]) -> Result {
        if pages.iter().any(|p| p.is_none()) {
            return Err(EINVAL);
        }
        self.flush()?;
        for p in pages.iter().flatten() {
            p.with_data(|d| self.ck.update(d));
        }
        let mut done = 0;
        let r = kapi::write_pages(self.file, pages, &mut done);
        self.written += done as u64;
        self.offset += (pages.len() * kernel::page::PAGE_SIZE) as u64;
        match r {
            Err(e) if e == ERESTARTSYS || e == ERESTARTNOINTR || e == ERESTARTNOHAND => Err(EINTR),
            r => r,
        }
    }

    /// The checksum of everything written so far.
    pub(crate) fn checksum(&self) -> u64 {
        self.ck.value()
    }

    /// Bytes written so far.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes the destination has accepted so far (the rest is buffered).
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Records written so far.
    pub(crate) fn records(&self) -> u64 {
        self.records
    }

    /// Writes the buffer out to the file.
    pub(crate) fn flush(&mut self) -> Result {
        let mut done = 0;
        while done < self.len {
            match kapi::file_write(self.file, &self.buf[done..self.len]) {
                Ok(0) => return Err(EIO),
                Ok(n) => {
                    done += n;
                    self.written += n as u64;
                }
                Err(e) if e == ERESTARTSYS || e == ERESTARTNOINTR || e == ERESTARTNOHAND => {
                    return Err(EINTR)
                }
                Err(e) => return Err(e),
            }
        }
        self.len = 0;
        Ok(())
    }
}

/// Largest prefix a caller may hand in.
pub(crate) const MAX_PREFIX: u64 = 64 << 20;

/// Sequential, validating image reader: the caller's prefix first, then the
/// file.
pub(crate) struct ImageReader<'a> {
    file: &'a File,
    prefix: KVVec<u8>,
    ppos: usize,
    v: Validator,
    payload: KVVec<u8>,
    /// A regular file: where the image (after the prefix) starts in it.
    start: Option<i64>,
    /// A replay ([`ImageReader::replay`]): the position it reads at, the
    /// file's own position untouched.
    at: Option<i64>,
}

impl<'a> ImageReader<'a> {
    /// A reader of `file`, after `prefix_len` bytes at user address `prefix`.
    pub(crate) fn new(file: &'a File, prefix: u64, prefix_len: u64) -> Result<Self> {
        if prefix_len > MAX_PREFIX {
            return Err(E2BIG);
        }
        let mut p = KVVec::new();
        if prefix_len > 0 {
            UserSlice::new(
                kernel::uaccess::UserPtr::from_addr(prefix as usize),
                prefix_len as usize,
            )
            .read_all(&mut p, GFP_KERNEL_ACCOUNT)?;
        }
        let i = kapi::file_info(file);
        let regular = i.mode & S_IFMT == S_IFREG;
        Ok(Self {
            file,
            prefix: p,
            ppos: 0,
            v: Validator::new(),
            payload: KVVec::new(),
            start: if regular { Some(i.pos) } else { None },
            at: None,
        })
    }

    /// For an image on a regular file, a second reader of the same image
    /// from its first byte, which reads at its own position: restart reads
    /// such an image to its end, page data and checksums included, before
    /// the point of no return. `None` for a stream, which cannot be read
    /// twice.
    pub(crate) fn replay(&self) -> Result<Option<ImageReader<'a>>> {
        let Some(start) = self.start else {
            return Ok(None);
        };
        let mut prefix = KVVec::with_capacity(self.prefix.len(), GFP_KERNEL_ACCOUNT)?;
        prefix.extend_from_slice(&self.prefix, GFP_KERNEL_ACCOUNT)?;
        Ok(Some(ImageReader {
            file: self.file,
            prefix,
            ppos: 0,
            v: Validator::new(),
            payload: KVVec::new(),
            start: None,
            at: Some(start),
        }))
    }

    /// Offset of the next byte.
    pub(crate) fn offset(&self) -> u64 {
        self.v.offset()
    }

    fn read_exact(&mut self, out: &mut [u8]) -> Result<(), ReadError> {
        let mut done = 0;
        let from_prefix = (self.prefix.len() - self.ppos).min(out.len());
        out[..from_prefix].copy_from_slice(&self.prefix[self.ppos..self.ppos + from_prefix]);
        self.ppos += from_prefix;
        done += from_prefix;
        while done < out.len() {
            if kapi::current::fatal_signal_pending() {
                return Err(ReadError::Io(EINTR));
            }
            let got = match &mut self.at {
                Some(pos) => kapi::file_read_at(self.file, &mut out[done..], pos),
                None => kapi::file_read(self.file, &mut out[done..]),
            };
            match got {
                Ok(0) => {
                    return Err(ReadError::Format(
                        FormatError::Truncated,
                        self.v.offset() + done as u64,
                    ))
                }
                Ok(n) => done += n,
                Err(e) if e == ERESTARTSYS || e == ERESTARTNOINTR || e == ERESTARTNOHAND => {
                    return Err(ReadError::Io(EINTR))
                }
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
        Ok(())
    }

    fn fmt_err(&self, e: FormatError) -> ReadError {
        ReadError::Format(e, self.v.offset())
    }

    /// Reads and checks the magic.
    pub(crate) fn magic(&mut self) -> Result<(), ReadError> {
        let mut m = [0u8; 8];
        self.read_exact(&mut m)?;
        self.v.magic(&m).map_err(|e| self.fmt_err(e))
    }

    /// Reads the next record and decodes it. Page data of a pages record
    /// is then read with [`ImageReader::page_data`].
    pub(crate) fn next(&mut self) -> Result<Record<'_>, ReadError> {
        let mut h = [0u8; 8];
        self.read_exact(&mut h)?;
        let (ty, plen): (RecordType, usize) =
            self.v.record_header(&h).map_err(|e| self.fmt_err(e))?;
        // Bounded by the validator's per-type maximum before allocating.
        self.payload.clear();
        self.payload.resize(plen, 0, GFP_KERNEL_ACCOUNT)?;
        let mut payload = core::mem::take(&mut self.payload);
        let r = self.read_exact(&mut payload);
        self.payload = payload;
        r?;
        let off = self.v.offset();
        // Scratch for the tree record's O(n log n) checks (8 KiB, once).
        let mut index = KVVec::new();
        if ty == RecordType::Tree {
            index.resize(format::MAX_TASKS as usize, 0u16, GFP_KERNEL_ACCOUNT)?;
        }
        self.v
            .record_indexed(&self.payload, &mut index)
            .map_err(|e| ReadError::Format(e, off))
    }

    /// Reads the next `out.len()` bytes of page data.
    pub(crate) fn page_data(&mut self, out: &mut [u8]) -> Result<(), ReadError> {
        if (out.len() as u64) > self.v.page_bytes_left() {
            return Err(self.fmt_err(FormatError::BadLength));
        }
        self.read_exact(out)?;
        let off = self.v.offset();
        self.v.page_data(out).map_err(|e| ReadError::Format(e, off))
    }
}

impl ImageReader<'_> {
    /// Reads the next `len` bytes of page data straight into the caller's
    /// memory at user address `addr` (writable), the read being their one
    /// copy; the checksum then reads them where they landed, through a
    /// kernel mapping of the caller's own pages, not a copy. Bytes still
    /// in the prefix go through `scratch`.
    pub(crate) fn page_data_to_user(
        &mut self,
        addr: u64,
        len: usize,
        scratch: &mut [u8],
    ) -> Result<(), ReadError> {
        if (len as u64) > self.v.page_bytes_left() {
            return Err(self.fmt_err(FormatError::BadLength));
        }
        let mut done = 0;
        // The prefix, if it reaches this far (crctl's ends at the
        // meta-end record): through the scratch buffer.
        while done < len && self.ppos < self.prefix.len() {
            let n = (len - done).min(scratch.len());
            self.page_data(&mut scratch[..n])?;
            UserSlice::new(UserPtr::from_addr((addr as usize) + done), n)
                .writer()
                .write_slice(&scratch[..n])
                .map_err(ReadError::Io)?;
            done += n;
        }
        let from = done;
        while done < len {
            if kapi::current::fatal_signal_pending() {
                return Err(ReadError::Io(EINTR));
            }
            let a = addr + done as u64;
            match kapi::read_to_user(self.file, a, len - done, self.at.as_mut()) {
                Ok(0) => {
                    return Err(ReadError::Format(
                        FormatError::Truncated,
                        self.v.offset() + (done - from) as u64,
                    ))
                }
                Ok(n) => done += n,
                Err(e) if e == ERESTARTSYS || e == ERESTARTNOINTR || e == ERESTARTNOHAND => {
                    return Err(ReadError::Io(EINTR))
                }
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
        // The checksum, over the bytes in the caller's pages.
        let ps = kernel::page::PAGE_SIZE;
        let mut a = addr + from as u64;
        let end = addr + len as u64;
        while a < end {
            let off = (a as usize) & (ps - 1);
            let npages = ((end - a) as usize + off)
                .div_ceil(ps)
                .min(kapi::WRITE_PAGES_MAX);
            let mut pages: [Option<kapi::PinnedPage>; kapi::WRITE_PAGES_MAX] =
                [const { None }; kapi::WRITE_PAGES_MAX];
            let base = a - off as u64;
            let got = kapi::user_pages(base, &mut pages[..npages]).map_err(ReadError::Io)?;
            if got == 0 {
                return Err(ReadError::Io(EFAULT));
            }
            for (i, p) in pages.iter().take(got).flatten().enumerate() {
                let pstart = base + (i * ps) as u64;
                let s = a.max(pstart) - pstart;
                let e = end.min(pstart + ps as u64) - pstart;
                let r = p.with_data(|d| self.v.page_data(&d[s as usize..e as usize]));
                let at = self.v.offset();
                r.map_err(|e| ReadError::Format(e, at))?;
                a = pstart + e;
            }
        }
        Ok(())
    }
}

/// The header this kernel writes, also what restart compares images with.
pub(crate) fn here_header(xstate_size: u32, xfeatures: u64, flags: u32) -> format::Header {
    let mut release = [0u8; format::RELEASE_LEN];
    let r = kapi::uts_release().to_bytes();
    let n = r.len().min(format::RELEASE_LEN - 1);
    release[..n].copy_from_slice(&r[..n]);
    let now = kapi::real_time_ns();
    format::Header {
        version: format::FORMAT_VERSION,
        arch: format::ARCH_X86_64,
        page_size: kernel::page::PAGE_SIZE as u32,
        flags,
        nr_tasks: 1,
        module_version: uapi::MODULE_VERSION,
        time_sec: now / 1_000_000_000,
        time_nsec: (now % 1_000_000_000) as u32,
        nsig: format::NSIG,
        rlim_nlimits: format::RLIM_NLIMITS,
        comm_len: format::COMM_LEN as u32,
        xstate_size,
        auxv_words: kapi::current::auxv_words(),
        xfeatures,
        task_size: kapi::current::task_size_max(),
        release,
    }
}
