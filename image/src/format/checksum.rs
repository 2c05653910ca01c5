// SPDX-License-Identifier: GPL-2.0

//! The image checksum.

/// The image checksum: four independent multiply-xor lanes over 8-byte
/// little-endian words, folded at the end. Fast enough to cover page data,
/// strong enough to catch corruption (it is not a cryptographic MAC).
#[derive(Clone)]
pub struct Checksum {
    lanes: [u64; 4],
    buf: [u8; 32],
    buffered: usize,
    total: u64,
}

const CK_MUL: u64 = 0x9E37_79B9_7F4A_7C15;
const CK_SEED: [u64; 4] = [
    0x243F_6A88_85A3_08D3,
    0x1319_8A2E_0370_7344,
    0xA409_3822_299F_31D0,
    0x082E_FA98_EC4E_6C89,
];

impl Default for Checksum {
    fn default() -> Self {
        Self::new()
    }
}

impl Checksum {
    /// A fresh checksum.
    pub const fn new() -> Self {
        Self {
            lanes: CK_SEED,
            buf: [0; 32],
            buffered: 0,
            total: 0,
        }
    }

    #[inline(always)]
    fn mix(lane: u64, w: u64) -> u64 {
        let x = (lane ^ w).wrapping_mul(CK_MUL);
        x ^ (x >> 29)
    }

    #[inline(always)]
    fn block(&mut self, b: &[u8]) {
        for i in 0..4 {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i * 8..i * 8 + 8]);
            self.lanes[i] = Self::mix(self.lanes[i], u64::from_le_bytes(a));
        }
    }

    /// Adds bytes.
    pub fn update(&mut self, mut data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u64);
        if self.buffered > 0 {
            let n = (32 - self.buffered).min(data.len());
            self.buf[self.buffered..self.buffered + n].copy_from_slice(&data[..n]);
            self.buffered += n;
            data = &data[n..];
            if self.buffered < 32 {
                return;
            }
            let b = self.buf;
            self.block(&b);
            self.buffered = 0;
        }
        let mut chunks = data.chunks_exact(32);
        for c in &mut chunks {
            self.block(c);
        }
        let rest = chunks.remainder();
        self.buf[..rest.len()].copy_from_slice(rest);
        self.buffered = rest.len();
    }

    /// The checksum of everything added so far (the state is not consumed).
    pub fn value(&self) -> u64 {
        let mut lanes = self.lanes;
        let mut tail = [0u8; 32];
        tail[..self.buffered].copy_from_slice(&self.buf[..self.buffered]);
        for (i, lane) in lanes.iter_mut().enumerate() {
            let mut a = [0u8; 8];
            a.copy_from_slice(&tail[i * 8..i * 8 + 8]);
            *lane = Self::mix(*lane, u64::from_le_bytes(a));
        }
        let mut h = self.total.wrapping_mul(CK_MUL);
        for l in lanes {
            h = Self::mix(h.rotate_left(17), l);
        }
        h
    }
}
