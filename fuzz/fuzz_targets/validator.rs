// SPDX-License-Identifier: GPL-2.0

//! Arbitrary bytes through the whole `format::Validator` drive loop, as the
//! kernel reads an image (see `cr_image_fuzz::validator`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cr_image_fuzz::validator(data));
