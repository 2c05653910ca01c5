// SPDX-License-Identifier: GPL-2.0

//! The document `crctl info --json` prints: one JSON object per image,
//! schema version [`SCHEMA`], described in Documentation/cr/crctl.rst.
//!
//! The object's members come in image order: `schema`, `file`, then one
//! member per metadata record that has one (`header`, `tree`, and for each
//! process `task`, `groups`, `cwd`, `rlimits`, `signals`, `mm`, and for
//! each thread `regs` and `xstate`), then `tail`, and last the lists and
//! totals (`vmas`, `files`, `threads`, `pages`, `page_records`, `bytes`,
//! `valid`, and `error` for an invalid image). A member of a per-process
//! or per-thread record appears once for each process or thread, so an
//! image of several has repeated names, in the order of its records.

//!
//! Each member and list element comes from its record's printer, which
//! lives next to the record's definition (`cr_image::format::info::Info`,
//! implemented in image/src/format/<object>.rs); this file has only the
//! document around them.

use cr_image::format::info::{Json, Value, LISTS};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

/// The version of this schema. Adding members keeps it; renaming,
/// removing or changing the meaning of one bumps it.
pub const SCHEMA: u32 = 1;

/// `error`: why the image is invalid.
#[derive(Serialize)]
pub struct ImageError {
    /// The byte at which it is bad; absent for a read error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    pub reason: String,
}

/// The whole document.
pub struct Report {
    pub file: String,
    /// The records' members, in image order, under their names.
    pub members: Vec<(&'static str, Value)>,
    /// The lists of [`LISTS`], in that order, with their elements.
    pub lists: Vec<(&'static str, Vec<Value>)>,
    pub pages: u64,
    pub page_records: u64,
    /// Pages shared with an earlier process ([`Json::Inherited`]).
    pub inherited_pages: u64,
    pub bytes: u64,
    pub error: Option<ImageError>,
}

impl Default for Report {
    fn default() -> Self {
        Self {
            file: String::new(),
            members: vec![],
            lists: LISTS.iter().map(|&l| (l, vec![])).collect(),
            pages: 0,
            page_records: 0,
            inherited_pages: 0,
            bytes: 0,
            error: None,
        }
    }
}

impl Report {
    /// Adds a record's part of the document.
    pub fn add(&mut self, j: Json) {
        match j {
            Json::None => {}
            Json::Member(name, v) => self.members.push((name, v)),
            Json::Element(list, v) => {
                if let Some((_, l)) = self.lists.iter_mut().find(|(n, _)| *n == list) {
                    l.push(v);
                }
            }
            Json::Pages(n) => {
                self.pages += n;
                self.page_records += 1;
            }
            Json::Inherited(n) => self.inherited_pages += n,
        }
    }
}

impl Serialize for Report {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("schema", &SCHEMA)?;
        m.serialize_entry("file", &self.file)?;
        for (name, v) in &self.members {
            m.serialize_entry(name, v)?;
        }
        for (name, l) in &self.lists {
            m.serialize_entry(name, l)?;
        }
        m.serialize_entry("pages", &self.pages)?;
        m.serialize_entry("page_records", &self.page_records)?;
        m.serialize_entry("inherited_pages", &self.inherited_pages)?;
        m.serialize_entry("bytes", &self.bytes)?;
        m.serialize_entry("valid", &self.error.is_none())?;
        if let Some(e) = &self.error {
            m.serialize_entry("error", e)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn layout_of_an_invalid_report() {
        let r = Report {
            file: "a\"b\n".into(),
            members: vec![
                ("groups", json!([4, 24])),
                ("rlimits", json!([(1, u64::MAX)])),
                ("regs", json!({"r15": 1, "r14": 2, "flags": 3})),
            ],
            error: Some(ImageError {
                offset: Some(8),
                reason: "bad".into(),
            }),
            ..Default::default()
        };
        // Every list of LISTS, empty, in its order.
        let lists: String = LISTS.iter().map(|l| format!(r#""{l}":[],"#)).collect();
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            format!(
                concat!(
                    r#"{{"schema":1,"file":"a\"b\n","groups":[4,24],"rlimits":[[1,18446744073709551615]],"#,
                    r#""regs":{{"r15":1,"r14":2,"flags":3}},{}"pages":0,"#,
                    r#""page_records":0,"inherited_pages":0,"bytes":0,"valid":false,"error":{{"offset":8,"reason":"bad"}}}}"#
                ),
                lists
            )
        );
    }
}
