// SPDX-License-Identifier: GPL-2.0

//! What `crctl info` prints of each record, as text and as JSON: the
//! [`Info`] trait, which each record implements in the file of its object.
//!
//! Only with the `info` cargo feature (crctl): it needs `std` and serde,
//! and the kernel module, which compiles `format/` without cargo features,
//! never sees it. crctl's `info` walks the records and calls [`Info`] on
//! each; the document around the members (`schema`, `file`, the lists and
//! totals) is crctl's. Documentation/cr/crctl.rst describes both outputs.

pub use serde_json::{Map, Value};

use serde::Serialize;

/// The lists that close the `info --json` document, in document order;
/// [`Json::Element`] adds to one of them. Each is present, possibly
/// empty, in every document.
pub const LISTS: [&str; 14] = [
    "vmas",
    "files",
    "pipes",
    "unix_sockets",
    "inet",
    "file_objects",
    "locks",
    "owners",
    "eventfds",
    "timerfds",
    "signalfds",
    "threads",
    "pending_signals",
    "posix_timers",
];

/// A record's part of the `info --json` document.
pub enum Json {
    /// Nothing.
    None,
    /// A member, in image order, under this name.
    Member(&'static str, Value),
    /// An element of the list of this name, one of [`LISTS`].
    Element(&'static str, Value),
    /// A pages record of this many pages, counted into `pages` and
    /// `page_records`.
    Pages(u64),
    /// An inherited-pages record of this many pages, counted into
    /// `inherited_pages`.
    Inherited(u64),
}

impl Json {
    /// A member named `name` from a serializable value.
    pub fn member<T: Serialize>(name: &'static str, v: T) -> Self {
        Json::Member(name, to_value(v))
    }

    /// An element of the list `list` from a serializable value.
    pub fn element<T: Serialize>(list: &'static str, v: T) -> Self {
        debug_assert!(LISTS.contains(&list));
        Json::Element(list, to_value(v))
    }
}

fn to_value<T: Serialize>(v: T) -> Value {
    // The printers' values are structs, sequences and numbers with string
    // keys, which always convert.
    serde_json::to_value(v).expect("an info value converts to JSON")
}

/// A record as `crctl info` shows it.
pub trait Info {
    /// Appends the record's lines of the text output; `at` is the byte
    /// at which the record starts in the image.
    fn text(&self, at: u64, out: &mut Vec<String>);

    /// The record's part of the JSON document.
    fn json(&self) -> Json;
}

/// Image bytes (a path, a `comm`) as text, invalid UTF-8 replaced.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Numbers under fixed names, in the order of the names, as a JSON
/// object to which a record adds its other members: `regs`, `mm`.
pub fn named(names: &[&str], values: &[u64]) -> Map<String, Value> {
    names
        .iter()
        .zip(values)
        .map(|(n, v)| ((*n).into(), (*v).into()))
        .collect()
}
