//! Bit layouts of packed memory words, defined once for the generated RTL, the
//! co-simulation and the manifests.

use serde::Serialize;

use crate::config::HwConfig;
use crate::image::FixedState;

/// A field of a packed word: lowest bit and width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Field {
    /// Lowest bit.
    pub lo: u32,
    /// Width.
    pub bits: u32,
}

impl Field {
    fn mask(&self) -> u64 {
        if self.bits >= 64 {
            u64::MAX
        } else {
            (1u64 << self.bits) - 1
        }
    }

    /// `value` placed in the field (two's complement bits of a signed value).
    pub fn put(&self, value: i64) -> u64 {
        ((value as u64) & self.mask()) << self.lo
    }

    /// The field of `word`, sign-extended when `signed`.
    pub fn get(&self, word: u64, signed: bool) -> i64 {
        let raw = (word >> self.lo) & self.mask();
        if signed && self.bits < 64 && (raw >> (self.bits - 1)) & 1 == 1 {
            (raw | !self.mask()) as i64
        } else {
            raw as i64
        }
    }

    /// The Verilog part-select of this field of `name`.
    pub fn of(&self, name: &str) -> String {
        format!("{name}[{}:{}]", self.lo + self.bits - 1, self.lo)
    }
}

/// The bit layout of a `syn` word: weight lowest, then the long trail, then the short
/// trail and consolidation when the configuration stores them. The one definition that
/// the generator, the co-simulation and the manifest use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SynLayout {
    /// Weight (signed).
    pub weight: Field,
    /// Long trail.
    pub long: Field,
    /// Short trail, if stored.
    pub short: Option<Field>,
    /// Consolidation, if stored.
    pub consolidation: Option<Field>,
    /// Word width.
    pub bits: u32,
}

impl SynLayout {
    /// The layout of a configuration.
    pub fn new(c: &HwConfig) -> SynLayout {
        let f = &c.formats;
        let mut at = 0;
        let mut take = |bits: u32| {
            let field = Field { lo: at, bits };
            at += bits;
            field
        };
        let weight = take(f.weight.bits);
        let long = take(f.trail.bits);
        let short = c.stores_short().then(|| take(f.trail.bits));
        let consolidation = c.stores_consolidation().then(|| take(f.consolidation.bits));
        SynLayout {
            weight,
            long,
            short,
            consolidation,
            bits: at,
        }
    }

    /// The word of slot `i` of a state.
    pub fn pack(&self, s: &FixedState, i: usize) -> u64 {
        self.weight.put(s.weight[i])
            | self.long.put(s.long[i])
            | self.short.map_or(0, |f| f.put(s.short[i]))
            | self.consolidation.map_or(0, |f| f.put(s.consolidation[i]))
    }

    /// Writes a word into slot `i` of a state (fields not stored read as 0).
    pub fn unpack(&self, word: u64, s: &mut FixedState, i: usize) {
        s.weight[i] = self.weight.get(word, true);
        s.long[i] = self.long.get(word, false);
        s.short[i] = self.short.map_or(0, |f| f.get(word, false));
        s.consolidation[i] = self.consolidation.map_or(0, |f| f.get(word, false));
    }

    /// Human-readable layout, most significant field first.
    pub fn describe(&self, c: &HwConfig) -> String {
        let f = &c.formats;
        let mut parts = Vec::new();
        if self.consolidation.is_some() {
            parts.push(format!("consolidation u{}", f.consolidation.bits));
        }
        if self.short.is_some() {
            parts.push(format!("short u{}", f.trail.bits));
        }
        parts.push(format!("long u{}", f.trail.bits));
        parts.push(format!("weight s{}", f.weight.bits));
        parts.join(", ")
    }
}
