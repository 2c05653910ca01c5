// SPDX-License-Identifier: GPL-2.0

//! Runs inputs through a target without libFuzzer, in a plain build (for a
//! debugger, or to see what the validator makes of an input):
//! `cargo run --example replay -- TARGET FILE...`. For `validator` it also
//! prints the verdict: records validated, or the error and its offset.

fn main() {
    let mut args = std::env::args().skip(1);
    let target = args
        .next()
        .expect("usage: replay validator|records FILE...");
    for f in args {
        let data = std::fs::read(&f).unwrap_or_else(|e| panic!("{f}: {e}"));
        match target.as_str() {
            "validator" => {
                let o = cr_image_fuzz::drive(&data, data.len() as u32);
                let mut fixed = data.clone();
                cr_image_fuzz::fix_checksums(&mut fixed);
                let f2 = cr_image_fuzz::drive(&fixed, data.len() as u32);
                println!(
                    "{f}: {} bytes: {:?}, fits here(): {:?}; with checksums fixed up: {:?}",
                    data.len(),
                    o.result,
                    o.fits_here,
                    f2.result
                );
                cr_image_fuzz::validator(&data);
            }
            "records" => {
                cr_image_fuzz::records(&data);
                println!("{f}: {} bytes: ok", data.len());
            }
            t => panic!("no target {t}"),
        }
    }
}
