// SPDX-License-Identifier: GPL-2.0

//! Reading images in userspace with the shared validator (the code the
//! kernel runs), from any `read(2)`-able fd, without reading a byte past what
//! is asked (so a pipe can be handed to the kernel right after the prefix).

use cr_image::format::{FormatError, PageWalk, Record, RecordType, Validator, VmaSpan};
use rustix::io::Errno;
use std::io;
use std::os::fd::BorrowedFd;

/// Why reading failed.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{0}")]
    Io(io::Error),
    #[error("bad image at byte {off}: {}", .0.describe(), off = .1)]
    Format(FormatError, u64),
}

/// Reads up to `buf.len()` bytes with read(2), stopping early only at the
/// end of file: returns how many it read.
pub(crate) fn read_exact_fd(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match rustix::io::read(fd, &mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(done)
}

/// A validating reader over an fd, keeping the bytes it read if asked.
pub struct Walker<'fd> {
    fd: BorrowedFd<'fd>,
    pub v: Validator,
    pub keep: Option<Vec<u8>>,
    payload: Vec<u8>,
    /// The VMAs of each process, to tie page runs to their VMA with
    /// [`PageWalk`], as the kernel does.
    procs: Vec<Vec<VmaSpan>>,
    pages: PageWalk,
}

impl<'fd> Walker<'fd> {
    pub fn new(fd: BorrowedFd<'fd>, keep: bool) -> Self {
        Walker {
            fd,
            v: Validator::new(),
            keep: keep.then(Vec::new),
            payload: Vec::new(),
            procs: Vec::new(),
            pages: PageWalk::new(),
        }
    }

    fn read(&mut self, n: usize) -> Result<(), ImageError> {
        self.payload.resize(n, 0);
        let got = read_exact_fd(self.fd, &mut self.payload).map_err(ImageError::Io)?;
        if got < n {
            return Err(ImageError::Format(
                FormatError::Truncated,
                self.v.offset() + got as u64,
            ));
        }
        if let Some(k) = &mut self.keep {
            k.extend_from_slice(&self.payload);
        }
        Ok(())
    }

    pub fn magic(&mut self) -> Result<(), ImageError> {
        self.read(8)?;
        let m: [u8; 8] = self.payload[..8].try_into().unwrap();
        self.v.magic(&m).map_err(|e| ImageError::Format(e, 0))
    }

    /// Reads the next record; `Ok(None)` after the tail. Page data of pages
    /// records is consumed (and checked) before returning.
    pub fn next(&mut self) -> Result<Option<(RecordType, Record<'_>, u64)>, ImageError> {
        if self.v.done() {
            return Ok(None);
        }
        let start = self.v.offset();
        self.read(8)?;
        let h: [u8; 8] = self.payload[..8].try_into().unwrap();
        let (ty, plen) = self
            .v
            .record_header(&h)
            .map_err(|e| ImageError::Format(e, start))?;
        self.read(plen)?;
        let payload = std::mem::take(&mut self.payload);
        let off = self.v.offset();
        // Decode once to learn whether page data follows, and tie page
        // runs to their VMA exactly as the kernel's restorer does.
        let ps = self.v.header().map(|h| h.page_size).unwrap_or(4096);
        // Scratch for the tree record's O(n log n) checks.
        let mut index = if ty == RecordType::Tree {
            vec![0u16; cr_image::format::MAX_TASKS as usize]
        } else {
            Vec::new()
        };
        let pages = match self.v.record_indexed(&payload, &mut index) {
            Ok(Record::Task(_)) => {
                self.procs.push(Vec::new());
                false
            }
            Ok(Record::Vma(v, _)) => {
                if let Some(p) = self.procs.last_mut() {
                    p.push(VmaSpan::from(&v));
                }
                false
            }
            Ok(Record::Pages(ph)) => {
                self.pages
                    .run(&self.procs[..], &ph, ps)
                    .map_err(|e| ImageError::Format(e, off))?;
                true
            }
            Ok(Record::Inherited(r)) => {
                self.pages
                    .inherited(&self.procs[..], &r, ps)
                    .map_err(|e| ImageError::Format(e, off))?;
                false
            }
            Ok(Record::Tail(_)) => {
                self.pages
                    .finish(&self.procs[..])
                    .map_err(|e| ImageError::Format(e, off))?;
                false
            }
            Ok(_) => false,
            Err(e) => return Err(ImageError::Format(e, off)),
        };
        if pages {
            let mut left = self.v.page_bytes_left() as usize;
            let mut chunk = vec![0u8; 1 << 16];
            while left > 0 {
                let n = left.min(chunk.len());
                let got = read_exact_fd(self.fd, &mut chunk[..n]).map_err(ImageError::Io)?;
                if got < n {
                    return Err(ImageError::Format(
                        FormatError::Truncated,
                        self.v.offset() + got as u64,
                    ));
                }
                if let Some(k) = &mut self.keep {
                    k.extend_from_slice(&chunk[..n]);
                }
                let o = self.v.offset();
                self.v
                    .page_data(&chunk[..n])
                    .map_err(|e| ImageError::Format(e, o))?;
                left -= n;
            }
        }
        self.payload = payload;
        let rec = decode_again(ty, &self.payload, &self.v);
        Ok(Some((ty, rec, start)))
    }
}

impl Walker<'_> {
    /// Page size of the image (4096 before the header).
    pub fn page_size(&self) -> u64 {
        self.v
            .header()
            .map(|h| u64::from(h.page_size))
            .unwrap_or(4096)
    }
}

/// Decodes a payload that the validator already accepted, for display.
fn decode_again<'a>(ty: RecordType, p: &'a [u8], v: &Validator) -> Record<'a> {
    Record::decode(ty, p, v.header()).expect("the validator accepted it")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::{AsFd, AsRawFd};

    /// A real image: a static counter checkpointed in the test VM.
    const COUNTER: &[u8] = include_bytes!("../../../image/testdata/counter.img");

    fn walk_bytes(img: &[u8]) -> Result<usize, ImageError> {
        let mut f = tempfile();
        f.write_all(img).unwrap();
        let fd = std::fs::File::open(path_of(&f)).unwrap();
        let mut w = Walker::new(fd.as_fd(), false);
        w.magic()?;
        let mut n = 0;
        while w.next()?.is_some() {
            n += 1;
        }
        Ok(n)
    }

    fn tempfile() -> std::fs::File {
        let p = std::env::temp_dir().join(format!(
            "crctl-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::File::create(&p).unwrap()
    }

    fn path_of(f: &std::fs::File) -> std::path::PathBuf {
        std::fs::read_link(format!("/proc/self/fd/{}", f.as_raw_fd())).unwrap()
    }

    #[test]
    fn real_image_decodes() {
        let n = walk_bytes(COUNTER).unwrap();
        assert!(n > 20, "{n} records");
    }

    #[test]
    fn truncated_real_image_names_the_offset() {
        for cut in [0, 7, 8, 100, COUNTER.len() / 2, COUNTER.len() - 1] {
            match walk_bytes(&COUNTER[..cut]) {
                Err(ImageError::Format(FormatError::Truncated, off)) => assert!(off <= cut as u64),
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
    }

    #[test]
    fn corrupt_real_image_is_refused() {
        for at in [0, 16, 200, 5000, COUNTER.len() - 40] {
            let mut bad = COUNTER.to_vec();
            bad[at] ^= 0x40;
            assert!(walk_bytes(&bad).is_err(), "flip at {at} accepted");
        }
    }

    #[test]
    fn pipe_is_read_exactly_to_the_record_end() {
        // The walker must not read past what it is asked for: restart hands
        // the rest of the stream to the kernel.
        let (rd, wr) = rustix::pipe::pipe().unwrap();
        let data = COUNTER.to_vec();
        let t = std::thread::spawn(move || {
            let mut f = std::fs::File::from(wr);
            let _ = f.write_all(&data);
        });
        let mut w = Walker::new(rd.as_fd(), true);
        w.magic().unwrap();
        loop {
            match w.next().unwrap() {
                Some((_, Record::MetaEnd(_), _)) => break,
                Some(_) => {}
                None => panic!("no meta-end"),
            }
        }
        let kept = w.keep.take().unwrap();
        assert_eq!(&kept[..], &COUNTER[..kept.len()]);
        let mut rest = vec![];
        std::io::Read::read_to_end(&mut std::fs::File::from(rd), &mut rest).unwrap();
        t.join().unwrap();
        assert_eq!(kept.len() + rest.len(), COUNTER.len());
    }
}
