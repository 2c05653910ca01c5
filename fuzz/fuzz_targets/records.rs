// SPDX-License-Identifier: GPL-2.0

//! Single record payloads through each decoder, plus the checksum's
//! chunking invariance (see `cr_image_fuzz::records`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cr_image_fuzz::records(data));
