// SPDX-License-Identifier: GPL-2.0

//! Byte cursors and the wire structs' common traits.
//!
//! The fixed part of every record is a `#[repr(C)]` struct of
//! little-endian fields, all of alignment 1, so that it can be read in place
//! from any payload ([`Cursor::wire`]) and written as its bytes
//! ([`Writer::wire`]). Variable parts (paths, lists) follow it and are read
//! with the other [`Cursor`] methods.

use super::{FResult, FormatError, RecordType, MAX_PATH};
use zerocopy::little_endian::{I32, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};
use zerocopy_derive::{
    FromBytes as DFromBytes, Immutable as DImmutable, IntoBytes as DIntoBytes,
    KnownLayout as DKnownLayout, Unaligned as DUnaligned,
};

/// What a wire struct is: plain bytes both ways, of alignment 1, with no
/// padding (the derives prove it at compile time).
pub trait Wire: FromBytes + IntoBytes + KnownLayout + Immutable + Unaligned {}

impl<T: FromBytes + IntoBytes + KnownLayout + Immutable + Unaligned> Wire for T {}

/// A value with a little-endian wire form: the field types of the records.
pub trait Le: Copy {
    /// The wire form.
    type Wire: Wire;
    /// The wire form of `self`.
    fn to_le(self) -> Self::Wire;
    /// The value of a wire form.
    fn from_le(w: &Self::Wire) -> Self;
    /// Whether the padding in a wire form is zero (there is none but in
    /// the records' own structs).
    fn padding_is_zero(_w: &Self::Wire) -> bool {
        true
    }
}

macro_rules! le_scalar {
    ($($t:ty => $w:ty),*) => {$(
        impl Le for $t {
            type Wire = $w;
            fn to_le(self) -> $w {
                <$w>::new(self)
            }
            fn from_le(w: &$w) -> Self {
                w.get()
            }
        }
    )*};
}
le_scalar!(u32 => U32, i32 => I32, u64 => U64);

impl Le for u8 {
    type Wire = u8;
    fn to_le(self) -> u8 {
        self
    }
    fn from_le(w: &u8) -> Self {
        *w
    }
}

impl<T: Le, const N: usize> Le for [T; N] {
    type Wire = [T::Wire; N];
    fn to_le(self) -> Self::Wire {
        self.map(Le::to_le)
    }
    fn from_le(w: &Self::Wire) -> Self {
        core::array::from_fn(|i| T::from_le(&w[i]))
    }
    fn padding_is_zero(w: &Self::Wire) -> bool {
        w.iter().all(T::padding_is_zero)
    }
}

/// `(u64, u64)` on the wire.
#[derive(DFromBytes, DIntoBytes, DKnownLayout, DImmutable, DUnaligned)]
#[repr(C)]
pub struct U64Pair(pub U64, pub U64);

impl Le for (u64, u64) {
    type Wire = U64Pair;
    fn to_le(self) -> U64Pair {
        U64Pair(self.0.into(), self.1.into())
    }
    fn from_le(w: &U64Pair) -> Self {
        (w.0.get(), w.1.get())
    }
}

/// `(u64, u64, u32)` on the wire (a `sigaltstack`).
#[derive(DFromBytes, DIntoBytes, DKnownLayout, DImmutable, DUnaligned)]
#[repr(C)]
pub struct U64U64U32(pub U64, pub U64, pub U32);

impl Le for (u64, u64, u32) {
    type Wire = U64U64U32;
    fn to_le(self) -> U64U64U32 {
        U64U64U32(self.0.into(), self.1.into(), self.2.into())
    }
    fn from_le(w: &U64U64U32) -> Self {
        (w.0.get(), w.1.get(), w.2.get())
    }
}

/// `(u64, u32, u32)` on the wire (an rseq registration).
#[derive(DFromBytes, DIntoBytes, DKnownLayout, DImmutable, DUnaligned)]
#[repr(C)]
pub struct U64U32U32(pub U64, pub U32, pub U32);

impl Le for (u64, u32, u32) {
    type Wire = U64U32U32;
    fn to_le(self) -> U64U32U32 {
        U64U32U32(self.0.into(), self.1.into(), self.2.into())
    }
    fn from_le(w: &U64U32U32) -> Self {
        (w.0.get(), w.1.get(), w.2.get())
    }
}

/// Declares a struct of the wire (a record's fixed part, or the fixed head
/// of a record with a variable tail): `#[repr(C)]`, little-endian fields,
/// read and written through zerocopy, with no padding of its own.
macro_rules! wire_head {
    ($(#[$a:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $(#[$a])*
        #[derive(
            zerocopy_derive::FromBytes,
            zerocopy_derive::IntoBytes,
            zerocopy_derive::KnownLayout,
            zerocopy_derive::Immutable,
            zerocopy_derive::Unaligned,
        )]
        #[repr(C)]
        pub struct $name { $($body)* }
    };
}

/// A `u32` enumeration of the format: the enum, `#[repr(u32)]` with the
/// given numbers, and `from_u32`, which decodes exactly those numbers.
macro_rules! u32_enum {
    ($(#[$a:meta])* pub enum $name:ident { $($(#[$m:meta])* $v:ident = $n:literal,)* }) => {
        $(#[$a])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u32)]
        pub enum $name {
            $($(#[$m])* $v = $n,)*
        }

        impl $name {
            /// Decodes a number (`None` for any other).
            pub fn from_u32(v: u32) -> Option<Self> {
                match v {
                    $($n => Some(Self::$v),)*
                    _ => None,
                }
            }
        }
    };
}

/// Declares a record's fixed part once: from one field list, the value type
/// (`pub struct $name`, native fields) and its wire form (`pub struct
/// $wire`, `#[repr(C)]`, little-endian fields through zerocopy), with the
/// conversions both ways ([`Le`]). A `pad NAME,` entry is a `u32` that
/// exists on the wire only and must be zero ([`Le::padding_is_zero`]).
macro_rules! wire_struct {
    (
        $(#[$a:meta])*
        pub struct $name:ident, wire $wire:ident { $($body:tt)* }
    ) => {
        wire_struct!(@munch [$(#[$a])*] $name $wire [] [] [] [] $($body)*);
    };
    (@munch $attrs:tt $name:ident $wire:ident [$($nat:tt)*] [$($wf:tt)*] [$($fields:tt)*]
        [$($pads:tt)*] pad $p:ident, $($rest:tt)*) => {
        wire_struct!(@munch $attrs $name $wire [$($nat)*]
            [$($wf)* #[doc = "Padding: zero."] pub $p: zerocopy::little_endian::U32,]
            [$($fields)*] [$($pads)* $p,] $($rest)*);
    };
    (@munch $attrs:tt $name:ident $wire:ident [$($nat:tt)*] [$($wf:tt)*] [$($fields:tt)*]
        [$($pads:tt)*] $(#[$m:meta])* pub $f:ident : $t:ty, $($rest:tt)*) => {
        wire_struct!(@munch $attrs $name $wire [$($nat)* $(#[$m])* pub $f: $t,]
            [$($wf)* $(#[$m])* pub $f: <$t as super::codec::Le>::Wire,]
            [$($fields)* $f: $t,] [$($pads)*] $($rest)*);
    };
    (@munch [$($a:tt)*] $name:ident $wire:ident [$($nat:tt)*] [$($wf:tt)*]
        [$($f:ident : $t:ty,)*] [$($p:ident,)*]) => {
        $($a)*
        pub struct $name {
            $($nat)*
        }

        wire_head! {
            #[doc = concat!("[`", stringify!($name), "`] on the wire.")]
            pub struct $wire {
                $($wf)*
            }
        }

        impl super::codec::Le for $name {
            type Wire = $wire;
            fn to_le(self) -> $wire {
                $wire {
                    $($f: super::codec::Le::to_le(self.$f),)*
                    $($p: zerocopy::little_endian::U32::ZERO,)*
                }
            }
            fn from_le(w: &$wire) -> Self {
                $name {
                    $($f: super::codec::Le::from_le(&w.$f),)*
                }
            }
            fn padding_is_zero(w: &$wire) -> bool {
                true $(&& w.$p.get() == 0)*
                    $(&& <$t as super::codec::Le>::padding_is_zero(&w.$f))*
            }
        }
    };
}

/// `x % page_size` for a power-of-two page size, without a division that
/// could panic.
pub fn page_offset(x: u64, page_size: u64) -> u64 {
    x & page_size.wrapping_sub(1)
}

/// `x / page_size` for a power-of-two page size, without a division that
/// could panic.
pub fn to_pages(x: u64, page_size: u64) -> u64 {
    x.checked_shr(page_size.trailing_zeros()).unwrap_or(0)
}

/// Rounds `n` up to a multiple of 8.
pub const fn padded(n: usize) -> usize {
    (n + 7) & !7
}

/// Reads little-endian fields from a payload, failing with
/// [`FormatError::BadLength`] past its end.
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Takes the next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> FResult<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(FormatError::BadLength)?;
        let s = self.buf.get(self.pos..end).ok_or(FormatError::BadLength)?;
        self.pos = end;
        Ok(s)
    }

    /// Takes a wire struct, in place.
    pub fn wire<T: Wire>(&mut self) -> FResult<&'a T> {
        let b = self.bytes(core::mem::size_of::<T>())?;
        T::ref_from_bytes(b).map_err(|_| FormatError::BadLength)
    }

    /// Takes `n` wire structs, in place.
    pub fn wire_slice<T: Wire>(&mut self, n: usize) -> FResult<&'a [T]> {
        let len = n
            .checked_mul(core::mem::size_of::<T>())
            .ok_or(FormatError::BadLength)?;
        let b = self.bytes(len)?;
        <[T]>::ref_from_bytes(b).map_err(|_| FormatError::BadLength)
    }

    /// Takes a `u32`.
    pub fn u32(&mut self) -> FResult<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Takes an `i32`.
    pub fn i32(&mut self) -> FResult<i32> {
        Ok(self.u32()? as i32)
    }

    /// Takes a `u64`.
    pub fn u64(&mut self) -> FResult<u64> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// Takes a `u32` that must be zero (padding).
    pub fn pad32(&mut self) -> FResult<()> {
        if self.u32()? != 0 {
            return Err(FormatError::NonZeroPadding);
        }
        Ok(())
    }

    /// Takes a path: `u32` length, bytes, zero padding to 8 bytes (counted
    /// from the length field). Empty paths are allowed only if `allow_empty`.
    pub fn path(&mut self, allow_empty: bool) -> FResult<&'a [u8]> {
        let len = self.u32()? as usize;
        if len > MAX_PATH || (len == 0 && !allow_empty) {
            return Err(FormatError::BadPath);
        }
        let p = self.bytes(len)?;
        if p.contains(&0) {
            return Err(FormatError::BadPath);
        }
        // Padding up to the next multiple of 8 of the payload offset (payloads
        // start 8-byte aligned, so this is 8-byte alignment in the image).
        let pad = padded(self.pos) - self.pos;
        if self.bytes(pad)?.iter().any(|&b| b != 0) {
            return Err(FormatError::NonZeroPadding);
        }
        Ok(p)
    }

    /// Requires that the rest of the payload is the zero padding to the
    /// record's 8-byte alignment, and nothing more: every record has one
    /// encoding.
    pub fn finish(&self) -> FResult<()> {
        let rest = &self.buf[self.pos..];
        if rest.len() >= 8 {
            return Err(FormatError::BadLength);
        }
        if rest.iter().any(|&b| b != 0) {
            return Err(FormatError::NonZeroPadding);
        }
        Ok(())
    }

    /// Bytes consumed so far.
    pub fn pos(&self) -> usize {
        self.pos
    }
}

/// Decodes a payload that is exactly one wire struct.
pub(crate) fn whole<T: Wire>(p: &[u8]) -> FResult<&T> {
    T::ref_from_bytes(p).map_err(|_| FormatError::BadLength)
}

/// Writes little-endian fields into a buffer. Writing past its end is a bug
/// of the encoder: it is recorded and reported by [`Writer::finish`].
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
    overflow: bool,
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            overflow: false,
        }
    }

    /// Appends bytes.
    pub fn bytes(&mut self, b: &[u8]) {
        match self.buf.get_mut(self.pos..self.pos + b.len()) {
            Some(d) => {
                d.copy_from_slice(b);
                self.pos += b.len();
            }
            None => self.overflow = true,
        }
    }

    /// Appends a wire struct.
    pub fn wire<T: Wire>(&mut self, v: &T) {
        self.bytes(v.as_bytes());
    }

    /// Appends a `u32`.
    pub fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }

    /// Appends an `i32`.
    pub fn i32(&mut self, v: i32) {
        self.bytes(&v.to_le_bytes());
    }

    /// Appends a `u64`.
    pub fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }

    /// Appends zero bytes up to the next multiple of 8.
    pub fn align(&mut self) {
        while self.pos % 8 != 0 && !self.overflow {
            self.bytes(&[0]);
        }
    }

    /// Appends a path as [`Cursor::path`] reads it.
    pub fn path(&mut self, p: &[u8]) {
        self.u32(p.len() as u32);
        self.bytes(p);
        self.align();
    }

    /// Bytes written, or `None` if the buffer was too small.
    pub fn finish(self) -> Option<usize> {
        if self.overflow {
            None
        } else {
            Some(self.pos)
        }
    }
}

/// Encodes a whole record of type `ty` whose payload `f` writes, into `buf`.
/// Returns the record length, or `None` if `buf` is too small.
pub fn encode_record(
    buf: &mut [u8],
    ty: RecordType,
    f: impl FnOnce(&mut Writer<'_>),
) -> Option<usize> {
    let mut w = Writer::new(buf);
    w.u32(ty as u32);
    w.u32(0);
    f(&mut w);
    w.align();
    let len = w.finish()?;
    buf[4..8].copy_from_slice(&(len as u32).to_le_bytes());
    Some(len)
}

/// Decodes a payload that is exactly `T`'s wire form: the length, then the
/// padding ([`FormatError::NonZeroPadding`]), then the value.
pub(crate) fn decode_whole<T: Le>(p: &[u8]) -> FResult<T> {
    let w = whole::<T::Wire>(p)?;
    if !T::padding_is_zero(w) {
        return Err(FormatError::NonZeroPadding);
    }
    Ok(T::from_le(w))
}

/// Encodes a record of type `ty` whose payload is `v`'s wire form.
pub(crate) fn encode_whole<T: Le>(buf: &mut [u8], ty: RecordType, v: T) -> Option<usize> {
    encode_record(buf, ty, |w| w.wire(&v.to_le()))
}

/// Size of `T`'s wire form.
pub(crate) const fn wire_size<T: Le>() -> usize {
    core::mem::size_of::<T::Wire>()
}
