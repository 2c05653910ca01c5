// SPDX-License-Identifier: GPL-2.0

//! The records that frame an image: [`Header`] first, [`MetaEnd`] after the
//! metadata, [`Tail`] last.

use super::codec::{decode_whole, encode_whole, wire_size};
use super::*;

wire_struct! {
    /// Image header: what the image is and what it needs.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Header, wire HeaderWire {
        /// [`FORMAT_VERSION`].
        pub version: u32,
        /// [`ARCH_X86_64`].
        pub arch: u32,
        /// Page size of the checkpointed kernel.
        pub page_size: u32,
        /// Flags the image was made with (`CR_CHECKPOINT_*`).
        pub flags: u32,
        /// Number of tasks in the image: entries of the [`Tree`] record.
        pub nr_tasks: u32,
        /// `CR_VERSION()` of the module that wrote it.
        pub module_version: u32,
        /// Wall clock time of the checkpoint, seconds since the epoch.
        pub time_sec: u64,
        /// Nanoseconds part of the time.
        pub time_nsec: u32,
        /// `NSIG` of the kernel (must match).
        pub nsig: u32,
        /// `RLIM_NLIMITS` (must match).
        pub rlim_nlimits: u32,
        /// `TASK_COMM_LEN` (must match).
        pub comm_len: u32,
        /// Size of the xsave area in the `XSTATE` regset (must match).
        pub xstate_size: u32,
        /// Number of words of `mm->saved_auxv` (must match).
        pub auxv_words: u32,
        /// xfeatures the kernel exposed to user space (must be a subset on restart).
        pub xfeatures: u64,
        /// User address space size (`TASK_SIZE`).
        pub task_size: u64,
        /// `uname -r` of the kernel that wrote it, NUL padded.
        pub release: [u8; RELEASE_LEN],
    }
}

/// Size of the [`Header`] payload.
pub const HEADER_PAYLOAD: usize = wire_size::<Header>();

impl Header {
    /// The kernel release as bytes, without NUL padding.
    pub fn release(&self) -> &[u8] {
        let n = self
            .release
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(RELEASE_LEN);
        &self.release[..n]
    }

    /// Encodes the header record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_whole(buf, RecordType::Header, *self)
    }

    /// Decodes the header payload. Only the layout is checked here; what
    /// must match the running kernel is checked by [`Header::check_against`].
    pub fn decode(p: &[u8]) -> FResult<Self> {
        let h: Header = decode_whole(p)?;
        if h.version != FORMAT_VERSION {
            return Err(FormatError::BadVersion);
        }
        if h.arch != ARCH_X86_64 {
            return Err(FormatError::BadArch);
        }
        if h.nr_tasks == 0 || h.nr_tasks > MAX_TASKS || h.time_nsec >= 1_000_000_000 {
            return Err(FormatError::BadField);
        }
        if h.xstate_size > MAX_XSTATE || h.auxv_words > MAX_AUXV_WORDS {
            return Err(FormatError::BadConstants);
        }
        if !(4096..=(1 << 16)).contains(&h.page_size) || !h.page_size.is_power_of_two() {
            return Err(FormatError::BadPageSize);
        }
        Ok(h)
    }

    /// Checks that an image with this header can be restored on a kernel
    /// described by `here` (a header the running kernel would write).
    pub fn check_against(&self, here: &Header) -> FResult<()> {
        if self.arch != here.arch {
            return Err(FormatError::BadArch);
        }
        if self.page_size != here.page_size {
            return Err(FormatError::BadPageSize);
        }
        if self.nsig != here.nsig
            || self.rlim_nlimits != here.rlim_nlimits
            || self.comm_len != here.comm_len
            || self.xstate_size != here.xstate_size
            || self.auxv_words != here.auxv_words
            || self.task_size != here.task_size
            || self.xfeatures & !here.xfeatures != 0
        {
            return Err(FormatError::BadConstants);
        }
        Ok(())
    }
}

wire_struct! {
    /// End of metadata: a checksum of every byte before this record.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct MetaEnd, wire MetaEndWire {
        /// [`Checksum`] of the image up to this record.
        pub checksum: u64,
        /// Total number of pages in the [`PagesHeader`] records that follow.
        pub total_pages: u64,
    }
}

/// Size of the [`MetaEnd`] payload.
pub const META_END_PAYLOAD: usize = wire_size::<MetaEnd>();

impl MetaEnd {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_whole(buf, RecordType::MetaEnd, *self)
    }

    /// Decodes the payload.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        decode_whole(p)
    }
}

wire_struct! {
    /// End of image.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Tail, wire TailWire {
        /// [`Checksum`] of every byte before this record.
        pub checksum: u64,
        /// Total image length including this record.
        pub total_len: u64,
        /// Number of records including header and tail.
        pub nr_records: u64,
    }
}

/// Size of the [`Tail`] payload.
pub const TAIL_PAYLOAD: usize = wire_size::<Tail>();

impl Tail {
    /// Encodes the record.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        encode_whole(buf, RecordType::Tail, *self)
    }

    /// Decodes the payload.
    pub fn decode(p: &[u8]) -> FResult<Self> {
        decode_whole(p)
    }
}

// Format version 2: these sizes are part of the format.
const _: () = assert!(HEADER_PAYLOAD == 136 && META_END_PAYLOAD == 16 && TAIL_PAYLOAD == 24);

#[cfg(feature = "info")]
mod show {
    use super::super::info::{text, Info, Json};
    use super::*;

    /// `header` in `info --json`.
    #[derive(serde::Serialize)]
    struct HeaderJson {
        format: u32,
        arch: &'static str,
        page_size: u32,
        kernel: String,
        module_version: u32,
        flags: u32,
        time: u64,
        time_nsec: u32,
        xstate_size: u32,
        xfeatures: u64,
    }

    impl Info for Header {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            let h = self;
            let flags = if h.flags & 1 != 0 { " (kill)" } else { "" };
            l.push(format!(
                "header: format {}, arch x86_64, page size {}, kernel {}, module {}.{}.{}, flags {:#x}{flags}",
                h.version,
                h.page_size,
                text(h.release()),
                h.module_version >> 16,
                (h.module_version >> 8) & 0xff,
                h.module_version & 0xff,
                h.flags
            ));
            l.push(format!(
                "  time {}.{:09} (seconds since the epoch); xstate {} bytes, xfeatures {:#x}; task size {:#x}",
                h.time_sec, h.time_nsec, h.xstate_size, h.xfeatures, h.task_size
            ));
        }

        fn json(&self) -> Json {
            let h = self;
            Json::member(
                "header",
                HeaderJson {
                    format: h.version,
                    arch: "x86_64",
                    page_size: h.page_size,
                    kernel: text(h.release()),
                    module_version: h.module_version,
                    flags: h.flags,
                    time: h.time_sec,
                    time_nsec: h.time_nsec,
                    xstate_size: h.xstate_size,
                    xfeatures: h.xfeatures,
                },
            )
        }
    }

    impl Info for MetaEnd {
        fn text(&self, at: u64, l: &mut Vec<String>) {
            l.push(format!(
                "meta-end at byte {at}: checksum {:#018x} ok, {} pages follow",
                self.checksum, self.total_pages
            ));
        }

        fn json(&self) -> Json {
            Json::None
        }
    }

    /// `tail` in `info --json`.
    #[derive(serde::Serialize)]
    struct TailJson {
        checksum: u64,
        bytes: u64,
        records: u64,
    }

    impl Info for Tail {
        fn text(&self, _at: u64, l: &mut Vec<String>) {
            l.push(format!(
                "tail: checksum {:#018x} ok, {} bytes, {} records",
                self.checksum, self.total_len, self.nr_records
            ));
        }

        fn json(&self) -> Json {
            Json::member(
                "tail",
                TailJson {
                    checksum: self.checksum,
                    bytes: self.total_len,
                    records: self.nr_records,
                },
            )
        }
    }
}
