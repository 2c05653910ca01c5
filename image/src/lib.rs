// SPDX-License-Identifier: GPL-2.0

//! The cr image format as a userspace crate.
//!
//! The kernel module compiles the very same `format/` through a `#[path]`
//! module; this crate only wraps it so that crctl, the unit tests and the
//! fuzzer exercise exactly the code the kernel runs.
//!
//! With the `info` feature (crctl) it also carries each record's `crctl
//! info` printer, which needs `std` and serde.

#![cfg_attr(not(any(test, feature = "info")), no_std)]

pub mod format;

#[cfg(test)]
mod tests;
