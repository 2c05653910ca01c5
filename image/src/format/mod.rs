// SPDX-License-Identifier: GPL-2.0

//! The cr image format, version 2.
//!
//! This directory is compiled twice: into the kernel module (through a
//! `#[path]` module in `rust/cr_main.rs`) and into the `cr-image` crate that
//! crctl, the unit tests and the fuzzer use. It must stay `no_std`,
//! allocation-free and free of `unsafe`. `Documentation/cr/image-format.rst`
//! is the prose spec.
//!
//! An image is the 8-byte [`MAGIC`] followed by records. Every record starts
//! with a [`RecordHeader`] (`u32` type, `u32` total length including the
//! header, a multiple of 8); all integers are little-endian. The order is
//! fixed: [`Header`], the metadata records, [`MetaEnd`] (whose checksum
//! covers everything before it), the [`PagesHeader`] records with page
//! contents, and [`Tail`] (checksum of everything before it). The
//! [`Validator`] enforces that order and every limit below, and the
//! [`walk`] types the rules that tie records to one another through the
//! tables a reader keeps, so that the kernel, crctl and the fuzzer accept
//! exactly the same images.
//!
//! One file per object, as in `rust/`: the fixed part of each record is a
//! `#[repr(C)]` struct of little-endian fields (through zerocopy) in the
//! file of its object, from which its size, encoding and decoding follow;
//! [`record`] lists every record type once. Next to each record, behind
//! the `info` cargo feature that only crctl turns on (the module compiles
//! this directory without cargo features, so none of it reaches the
//! kernel), is its `crctl info` printer: an [`info::Info`] implementation.
//!
//! | file | records |
//! | --- | --- |
//! | `header.rs` | [`Header`], [`MetaEnd`], [`Tail`] |
//! | `tree.rs` | [`Tree`] |
//! | `task.rs` | [`Task`], [`Groups`], cwd, [`Rlimits`] |
//! | `thread.rs` | [`Thread`] |
//! | `regs.rs` | [`Regs`], [`Xstate`] |
//! | `signals.rs` | [`Signals`] |
//! | `mm.rs` | [`Mm`], [`Vma`] |
//! | `files.rs` | [`FileRec`] |
//! | `pipe.rs` | [`Pipe`], [`PipeData`] |
//! | `unix.rs` | [`UnixSock`], [`UnixData`] |
//! | `evfd.rs` | [`EventfdRec`], [`TimerfdRec`], [`SignalfdRec`] |
//! | `inet.rs` | [`Inet`] |
//! | `memfd.rs` | [`MemfdRec`], [`DeletedRec`], [`FileData`] |
//! | `locks.rs` | [`LockRec`], [`FileOwner`] |
//! | `epoll.rs` | [`Inotify`], [`InotifyWatch`], fdinfo parsers |
//! | `pages.rs` | [`PagesHeader`], [`pages_in`] |
//! | `validate.rs` | [`Validator`] |
//! | `walk.rs` | [`TreeWalk`], [`PageWalk`] |
//! | `info.rs` | [`info::Info`], the printers' trait (`info` feature) |

#[macro_use]
mod codec;
mod checksum;
mod epoll;
mod error;
mod evfd;
mod files;
mod header;
mod inet;
#[cfg(feature = "info")]
pub mod info;
mod locks;
mod memfd;
mod mm;
mod pages;
mod pipe;
pub mod record;
mod regs;
mod signals;
mod task;
mod thread;
mod timers;
mod tree;
mod unix;
mod validate;
pub mod walk;

pub use checksum::Checksum;
pub use codec::{encode_record, padded, page_offset, to_pages, Cursor, Le, Wire, Writer};
pub use epoll::*;
pub use error::{FResult, FormatError};
pub use evfd::*;
pub use files::*;
pub use header::*;
pub use inet::*;
pub use locks::*;
pub use memfd::*;
pub use mm::*;
pub use pages::*;
pub use pipe::*;
pub use record::{Record, RecordHeader, RecordType, RECORD_HEADER_SIZE};
pub use regs::*;
pub use signals::*;
pub use task::*;
pub use thread::*;
pub use timers::*;
pub use tree::*;
pub use unix::*;
pub use validate::Validator;
pub use walk::{PageWalk, TreeWalk, VmaSpan, VmaTable};

/// Version of the image format this code writes and reads.
pub const FORMAT_VERSION: u32 = 8;

/// First 8 bytes of every image.
pub const MAGIC: [u8; 8] = *b"\x7fCRIMG\r\n";

/// `AUDIT_ARCH_X86_64`: the only architecture of format version 1.
pub const ARCH_X86_64: u32 = 0xC000_003E;

/// Longest path stored in an image (`PATH_MAX` minus its NUL).
pub const MAX_PATH: usize = 4095;
/// Most VMAs of one task (the kernel's default `vm.max_map_count` is 65530).
pub const MAX_VMAS: u32 = 65536;
/// Most file descriptors of one task.
pub const MAX_FILES: u32 = 65536;
/// Most supplementary groups (`NGROUPS_MAX`).
pub const MAX_GROUPS: u32 = 65536;
/// Most tasks (threads and zombies included) in one image.
pub const MAX_TASKS: u32 = 4096;
/// Most pages in one [`PagesHeader`] record.
pub const MAX_PAGES_PER_RECORD: u32 = 1024;
/// Largest xsave area (x86 `XSTATE` regset) an image may carry.
pub const MAX_XSTATE: u32 = 64 * 1024;
/// Most words of saved auxiliary vector.
pub const MAX_AUXV_WORDS: u32 = 128;
/// Number of signals (`_NSIG`).
pub const NSIG: u32 = 64;
/// Length of a task's `comm`.
pub const COMM_LEN: usize = 16;
/// Number of resource limits (`RLIM_NLIMITS`).
pub const RLIM_NLIMITS: u32 = 16;
/// Number of general purpose register words (`struct user_regs_struct`).
pub const NR_GREGS: usize = 27;
/// Longest kernel release string stored in the header.
pub const RELEASE_LEN: usize = 64;
