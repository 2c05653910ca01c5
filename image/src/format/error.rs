// SPDX-License-Identifier: GPL-2.0

//! Why an image was refused.

/// Why an image was refused. Each names what was wrong; together with the
/// byte offset that [`Validator`](super::Validator) reports it makes the log line.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FormatError {
    /// The image does not start with [`MAGIC`](super::MAGIC).
    BadMagic,
    /// The image's format version is not [`FORMAT_VERSION`](super::FORMAT_VERSION).
    BadVersion,
    /// Made on another architecture.
    BadArch,
    /// Made with another page size.
    BadPageSize,
    /// A compile-time constant of the kernel differs.
    BadConstants,
    /// The image ends before its tail record.
    Truncated,
    /// A record header has a length that is not a multiple of 8, too small,
    /// or too big for its type.
    BadLength,
    /// A record type this version does not know.
    UnknownRecord,
    /// A record where the format does not allow one.
    BadOrder,
    /// A record appears more than once where only one is allowed.
    Duplicate,
    /// A record the format requires is missing.
    Missing,
    /// A field holds a value outside its range.
    BadField,
    /// Bytes that must be zero (padding, reserved) are not.
    NonZeroPadding,
    /// A path or string is empty, too long, or holds a NUL byte.
    BadPath,
    /// VMAs overlap, are unsorted, unaligned or outside the user address space.
    BadVma,
    /// Page records do not match the VMAs they belong to.
    BadPages,
    /// A checksum does not match: the image is corrupt.
    BadChecksum,
    /// Bytes after the tail record.
    TrailingData,
}

impl FormatError {
    /// A short description for log lines.
    pub fn describe(self) -> &'static str {
        match self {
            Self::BadMagic => "not a cr image (bad magic)",
            Self::BadVersion => "unsupported image format version",
            Self::BadArch => "image is for another architecture",
            Self::BadPageSize => "image has another page size",
            Self::BadConstants => "image was made by a kernel with different constants",
            Self::Truncated => "image is truncated",
            Self::BadLength => "bad record length",
            Self::UnknownRecord => "unknown record type",
            Self::BadOrder => "record out of order",
            Self::Duplicate => "duplicate record",
            Self::Missing => "required record missing",
            Self::BadField => "field out of range",
            Self::NonZeroPadding => "non-zero padding",
            Self::BadPath => "bad path",
            Self::BadVma => "bad vma",
            Self::BadPages => "page records do not match the vmas",
            Self::BadChecksum => "checksum mismatch: image is corrupt",
            Self::TrailingData => "data after the tail record",
        }
    }
}

/// Result of format operations.
pub type FResult<T> = core::result::Result<T, FormatError>;
