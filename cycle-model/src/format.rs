//! Fixed-point formats and the three primitive operations every datapath step is built
//! from: quantising a real number, shifting a wide product back down with rounding, and
//! saturating to a format. The RTL generator uses the same definitions.
//!
//! Raw values are two's-complement integers held in `i64`; a value `v` of a format with
//! `frac` fraction bits stands for `v / 2^frac`. Formats are chosen at run time (they come
//! from [`crate::HwConfig`]), so the compile-time types of the `fixed` crate cannot hold
//! them; the tests check these operations against `fixed` for the default formats.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A fixed-point format: `bits` total bits of which `frac` are fraction bits, signed
/// (two's complement) or unsigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Format {
    /// Total width in bits, sign bit included.
    pub bits: u32,
    /// Fraction bits (`frac <= bits`, `frac < bits` when signed).
    pub frac: u32,
    /// Two's complement when true.
    pub signed: bool,
}

/// Widest format the model supports: products of three operands must fit in `i64`.
pub const MAX_FORMAT_BITS: u32 = 24;

impl Format {
    /// A signed format.
    pub const fn signed(bits: u32, frac: u32) -> Self {
        Format {
            bits,
            frac,
            signed: true,
        }
    }

    /// An unsigned format.
    pub const fn unsigned(bits: u32, frac: u32) -> Self {
        Format {
            bits,
            frac,
            signed: false,
        }
    }

    /// Checks the widths; `name` is the config key used in the message.
    pub fn check(&self, name: &str) -> Result<(), String> {
        if self.bits < 2 || self.bits > MAX_FORMAT_BITS {
            return Err(format!(
                "formats.{name}: bits must be in 2..={MAX_FORMAT_BITS}, got {}",
                self.bits
            ));
        }
        if self.frac > self.bits || (self.signed && self.frac >= self.bits) {
            return Err(format!(
                "formats.{name}: {} fraction bits do not fit in {} {} bits",
                self.frac,
                self.bits,
                if self.signed { "signed" } else { "unsigned" }
            ));
        }
        Ok(())
    }

    /// Largest raw value.
    pub const fn max_raw(&self) -> i64 {
        if self.signed {
            (1i64 << (self.bits - 1)) - 1
        } else {
            (1i64 << self.bits) - 1
        }
    }

    /// Smallest raw value.
    pub const fn min_raw(&self) -> i64 {
        if self.signed {
            -(1i64 << (self.bits - 1))
        } else {
            0
        }
    }

    /// The raw value of 1.0 (`2^frac`; may exceed `max_raw` for formats without integer bits).
    pub const fn one(&self) -> i64 {
        1i64 << self.frac
    }

    /// Value of one LSB.
    pub fn lsb(&self) -> f64 {
        (-(self.frac as f64)).exp2()
    }

    /// Largest representable value.
    pub fn max_value(&self) -> f64 {
        self.to_f64(self.max_raw())
    }

    /// The real value of a raw word.
    pub fn to_f64(&self, raw: i64) -> f64 {
        raw as f64 * self.lsb()
    }

    /// Saturates a raw value to the format's range; the flag says whether it had to.
    #[inline(always)]
    pub fn saturate(&self, raw: i64) -> (i64, bool) {
        if raw > self.max_raw() {
            (self.max_raw(), true)
        } else if raw < self.min_raw() {
            (self.min_raw(), true)
        } else {
            (raw, false)
        }
    }

    /// Quantises a real number: round to nearest, ties to even, then saturate. This is
    /// the rounding of every value entering the engine from the host (inputs, state,
    /// constants); NaN maps to 0 and counts as saturated so callers can reject it.
    pub fn quantize(&self, x: f64) -> (i64, bool) {
        if x.is_nan() {
            return (0, true);
        }
        let scaled = (x * self.one() as f64).round_ties_even();
        if scaled >= self.max_raw() as f64 {
            (self.max_raw(), scaled > self.max_raw() as f64)
        } else if scaled <= self.min_raw() as f64 {
            (self.min_raw(), scaled < self.min_raw() as f64)
        } else {
            (scaled as i64, false)
        }
    }

    /// Quantises and keeps the raw value only.
    pub fn q(&self, x: f64) -> i64 {
        self.quantize(x).0
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let int = self.bits - self.frac - u32::from(self.signed);
        write!(
            f,
            "{}Q{}.{} ({} bits)",
            if self.signed { "s" } else { "u" },
            int,
            self.frac,
            self.bits
        )
    }
}

/// `x / 2^shift` rounded to nearest with ties toward +infinity: add half an LSB, then
/// shift arithmetically. This is the only rounding inside the engine (one adder and a
/// wire shift in hardware); `shift == 0` is exact.
#[inline(always)]
pub const fn round_shift(x: i64, shift: u32) -> i64 {
    if shift == 0 {
        x
    } else {
        (x + (1i64 << (shift - 1))) >> shift
    }
}

/// `floor(x / 2^shift)`: truncation of the fraction bits that a shift drops.
#[inline(always)]
pub const fn floor_shift(x: i64, shift: u32) -> i64 {
    x >> shift
}

/// Bits needed to hold the unsigned integer `n` (at least 1).
pub const fn bits_for(n: u64) -> u32 {
    if n <= 1 {
        1
    } else {
        64 - (n - 1).leading_zeros()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fixed::types::{I4F12, I8F24, U4F12};

    #[test]
    fn quantize_matches_fixed_crate_for_signed_q3_12() {
        let f = Format::signed(16, 12);
        let mut x = -9.0;
        while x < 9.0 {
            let expected = I4F12::saturating_from_num(x).to_bits() as i64;
            assert_eq!(f.q(x), expected, "x = {x}");
            x += 0.000_123_7;
        }
        // Exact ties go to even, as in `fixed`.
        for k in -40..40 {
            let x = (k as f64 + 0.5) / 4096.0;
            assert_eq!(f.q(x), I4F12::from_num(x).to_bits() as i64, "tie {x}");
        }
    }

    #[test]
    fn quantize_matches_fixed_crate_for_unsigned_q4_12() {
        let f = Format::unsigned(16, 12);
        let mut x = -1.0;
        while x < 17.0 {
            let expected = U4F12::saturating_from_num(x).to_bits() as i64;
            assert_eq!(f.q(x), expected, "x = {x}");
            x += 0.000_731;
        }
    }

    #[test]
    fn round_shift_is_half_up_like_fixed_floor_of_plus_half() {
        // A Q8.24 value shifted down to Q.12: floor(v + 2^-13) in `fixed` terms.
        let half = I8F24::from_num(1.0 / 8192.0);
        for raw in (-3_000_000i64..3_000_000).step_by(997) {
            let v = I8F24::from_bits(raw as i32);
            let expected = ((v + half).to_bits() as i64) >> 12;
            assert_eq!(round_shift(raw, 12), expected, "raw = {raw}");
        }
        assert_eq!(round_shift(-3, 1), -1); // -1.5 -> -1 (toward +inf)
        assert_eq!(round_shift(3, 1), 2); // 1.5 -> 2
        assert_eq!(round_shift(7, 0), 7);
        assert_eq!(floor_shift(-3, 1), -2);
    }

    #[test]
    fn saturation_and_ranges() {
        let s = Format::signed(8, 4);
        assert_eq!((s.min_raw(), s.max_raw()), (-128, 127));
        assert_eq!(s.saturate(200), (127, true));
        assert_eq!(s.saturate(-129), (-128, true));
        assert_eq!(s.saturate(5), (5, false));
        assert_eq!(s.quantize(100.0), (127, true));
        assert_eq!(s.quantize(f64::NAN), (0, true));
        let u = Format::unsigned(8, 4);
        assert_eq!(u.quantize(-0.01), (0, false)); // rounds to 0 exactly
        assert_eq!(u.quantize(-1.0), (0, true));
        assert!(Format::signed(8, 8).check("x").is_err());
        assert!(Format::unsigned(30, 4).check("x").is_err());
        assert!(Format::unsigned(8, 8).check("x").is_ok());
        assert_eq!(bits_for(8), 3);
        assert_eq!(bits_for(9), 4);
        assert_eq!(bits_for(1), 1);
        assert_eq!(Format::signed(16, 12).to_string(), "sQ3.12 (16 bits)");
    }
}
