// SPDX-License-Identifier: GPL-2.0

//! `crctl info`: decode and validate an image in userspace, with the same
//! validator the kernel runs, as text or JSON. Each record prints itself
//! through its [`Info`], next to its definition in image/src/format/.

use crate::error::{Error, Result};
use crate::image::{ImageError, Walker};
use crate::json;
use cr_image::format::info::Info;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};

/// Collects the decoded image as text lines and the JSON document.
#[derive(Default)]
struct Out {
    lines: Vec<String>,
    json: json::Report,
}

/// An image decoded as far as it is valid.
struct Decoded {
    out: Out,
    /// Bytes read and validated.
    total: u64,
    page_size: u64,
    result: core::result::Result<(), ImageError>,
}

fn decode(fd: BorrowedFd<'_>) -> Decoded {
    let mut w = Walker::new(fd, false);
    let mut out = Out::default();
    let result = walk(&mut w, &mut out);
    Decoded {
        out,
        total: w.v.offset(),
        page_size: w.page_size(),
        result,
    }
}

impl Decoded {
    /// The `info --json` document of the image `path` (taken out of
    /// `self`).
    fn report(&mut self, path: &str) -> json::Report {
        let mut j = std::mem::take(&mut self.out.json);
        j.file = path.into();
        j.bytes = self.total;
        j.error = match &self.result {
            Ok(()) => None,
            Err(ImageError::Format(e, off)) => Some(json::ImageError {
                offset: Some(*off),
                reason: e.describe().into(),
            }),
            Err(ImageError::Io(e)) => Some(json::ImageError {
                offset: None,
                reason: e.to_string(),
            }),
        };
        j
    }
}

pub(crate) fn run(args: &crate::InfoArgs) -> Result<()> {
    let path = args.file.as_str();
    let file = if path == "-" {
        None
    } else {
        Some(File::open(path).map_err(|source| Error::Open {
            path: path.into(),
            source,
        })?)
    };
    let stdin = std::io::stdin();
    let mut d = decode(file.as_ref().map_or(stdin.as_fd(), |f| f.as_fd()));
    if args.json {
        println!("{}", serde_json::to_string(&d.report(path))?);
        return Ok(d.result?);
    }
    println!("image: {path}");
    for l in &d.out.lines {
        println!("{l}");
    }
    if d.result.is_ok() {
        let j = &d.out.json;
        println!(
            "pages: {} in {} records, {} bytes",
            j.pages,
            j.page_records,
            j.pages * d.page_size
        );
        if j.inherited_pages != 0 {
            println!(
                "inherited: {} pages shared copy-on-write with a parent process",
                j.inherited_pages
            );
        }
        println!("image is complete and valid: {} bytes", d.total);
    }
    Ok(d.result?)
}

fn walk(w: &mut Walker<'_>, out: &mut Out) -> Result<(), ImageError> {
    w.magic()?;
    while let Some((_ty, rec, off)) = w.next()? {
        rec.text(off, &mut out.lines);
        out.json.add(rec.json());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter() -> File {
        File::open(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../image/testdata/counter.img"
        ))
        .unwrap()
    }

    /// The members of the document, in order, as a consumer that reads it
    /// as a sequence sees them.
    fn members(doc: &str) -> Vec<(String, serde_json::Value)> {
        let v: serde_json::Value = serde_json::from_str(doc).unwrap();
        // serde_json's map is sorted: take the names in document order
        // from the text, whose top-level keys are those followed by ':'
        // at depth 1.
        let mut names = vec![];
        let (mut depth, mut in_str, mut esc, mut start) = (0, false, false, 0);
        for (i, c) in doc.char_indices() {
            if in_str {
                match c {
                    _ if esc => esc = false,
                    '\\' => esc = true,
                    '"' => {
                        in_str = false;
                        if depth == 1 && doc[i + 1..].starts_with(':') {
                            names.push(doc[start + 1..i].to_string());
                        }
                    }
                    _ => {}
                }
                continue;
            }
            match c {
                '"' => {
                    in_str = true;
                    start = i;
                }
                '{' | '[' => depth += 1,
                '}' | ']' => depth -= 1,
                _ => {}
            }
        }
        names
            .into_iter()
            .map(|n| {
                let val = v[&n].clone();
                (n, val)
            })
            .collect()
    }

    #[test]
    fn json_of_the_real_image() {
        let f = counter();
        let doc = serde_json::to_string(&decode(f.as_fd()).report("counter.img")).unwrap();
        let m = members(&doc);
        let names: Vec<&str> = m.iter().map(|(n, _)| n.as_str()).collect();
        // The record members, then every list of the format's info::LISTS
        // (each kind of state that has one), then the totals.
        let mut want = vec![
            "schema", "file", "header", "tree", "task", "groups", "cwd", "rlimits", "signals",
            "mm", "regs", "xstate", "tail",
        ];
        want.extend_from_slice(&cr_image::format::info::LISTS);
        want.extend_from_slice(&["pages", "page_records", "inherited_pages", "bytes", "valid"]);
        assert_eq!(names, want);
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(v["schema"], json::SCHEMA);
        assert_eq!(v["file"], "counter.img");
        assert_eq!(v["header"]["arch"], "x86_64");
        assert_eq!(v["header"]["page_size"], 4096);
        assert_eq!(v["tree"].as_array().unwrap().len(), 1);
        assert_eq!(v["tree"][0]["zombie"], false);
        assert_eq!(v["task"]["pid"], v["tree"][0]["pid"]);
        assert_eq!(v["task"]["uids"].as_array().unwrap().len(), 4);
        assert_eq!(v["rlimits"].as_array().unwrap().len(), 16);
        assert!(v["regs"]["rip"].is_u64());
        assert_eq!(v["vmas"].as_array().unwrap().len(), 11);
        assert_eq!(v["files"].as_array().unwrap().len(), 3);
        assert_eq!(v["threads"].as_array().unwrap().len(), 1);
        assert_eq!(v["page_records"], 6);
        assert_eq!(v["bytes"], v["tail"]["bytes"]);
        assert_eq!(v["valid"], true);
        assert!(v.get("error").is_none());
    }

    #[test]
    fn json_of_a_truncated_image() {
        let mut img = vec![];
        std::io::Read::read_to_end(&mut counter(), &mut img).unwrap();
        let (rd, wr) = rustix::pipe::pipe().unwrap();
        let t = std::thread::spawn(move || {
            let _ = std::io::Write::write_all(&mut File::from(wr), &img[..5000]);
        });
        let doc = serde_json::to_string(&decode(rd.as_fd()).report("-")).unwrap();
        t.join().unwrap();
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(v["valid"], false);
        assert_eq!(v["error"]["offset"], 5000);
        assert_eq!(v["error"]["reason"], "image is truncated");
        assert!(doc
            .ends_with(r#""valid":false,"error":{"offset":5000,"reason":"image is truncated"}}"#));
    }
}
