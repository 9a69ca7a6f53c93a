//! The engine's datapath as pure functions, one per named rounding or saturation point.
//! The cycle model's stages call these and nothing else for arithmetic; the RTL generator
//! emits the same operations with the same shifts. `docs/architecture.md` lists them.
//!
//! Conventions: products are exact (computed in `i128`); the only rounding is
//! [`rescale`] down to a narrower fraction (round half up); clamps named after a learning
//! constant (`weight_clip`, `signal_clip`, trail limits, `[0, 1]`) are the rule itself;
//! every other saturation is counted in [`Saturations`].

use serde::Serialize;

use crate::config::HwConfig;
use crate::constants::Constants;

/// Where a value can saturate to its format (never silently: each is counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SatPoint {
    /// Host input (pre, post, err) or state quantisation.
    Input,
    /// Normalised co-firing above the cofire format (harmless: the reinforcement caps at 4).
    Cofire,
    /// Gate reciprocal above its format (harmless when validated: E * recip >= 2 anyway).
    GateRecip,
    /// Score above the score format.
    Score,
    /// Weight after the learning step, before the clip.
    WeightStep,
}

/// Saturation counters of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Saturations {
    /// Host-side quantisation of inputs and state.
    pub input: u64,
    /// [`SatPoint::Cofire`].
    pub cofire: u64,
    /// [`SatPoint::GateRecip`].
    pub gate_recip: u64,
    /// [`SatPoint::Score`].
    pub score: u64,
    /// [`SatPoint::WeightStep`].
    pub weight_step: u64,
}

impl Saturations {
    /// Counts one event.
    pub fn count(&mut self, point: SatPoint) {
        match point {
            SatPoint::Input => self.input += 1,
            SatPoint::Cofire => self.cofire += 1,
            SatPoint::GateRecip => self.gate_recip += 1,
            SatPoint::Score => self.score += 1,
            SatPoint::WeightStep => self.weight_step += 1,
        }
    }

    /// Adds another run's counts.
    pub fn add(&mut self, o: &Saturations) {
        self.input += o.input;
        self.cofire += o.cofire;
        self.gate_recip += o.gate_recip;
        self.score += o.score;
        self.weight_step += o.weight_step;
    }

    /// Sum of all counters.
    pub fn total(&self) -> u64 {
        self.input + self.cofire + self.gate_recip + self.score + self.weight_step
    }
}

/// Moves a value from `from` fraction bits to `to`: exact when widening, round half up
/// ([`crate::format::round_shift`]) when narrowing.
#[inline(always)]
pub fn rescale(x: i128, from: u32, to: u32) -> i128 {
    if from >= to {
        let s = from - to;
        if s == 0 {
            x
        } else {
            (x + (1i128 << (s - 1))) >> s
        }
    } else {
        x << (to - from)
    }
}

/// Like [`rescale`] but truncating (floor) when narrowing.
#[inline(always)]
pub fn rescale_floor(x: i128, from: u32, to: u32) -> i128 {
    if from >= to {
        x >> (from - to)
    } else {
        x << (to - from)
    }
}

/// The datapath of one configuration: formats and quantised constants.
#[derive(Debug, Clone)]
pub struct Datapath {
    /// Formats.
    pub f: crate::config::Formats,
    /// Constants.
    pub k: Constants,
    /// Whether the gate is on.
    pub gate_on: bool,
    /// Whether outputs have a bias.
    pub bias_on: bool,
}

impl Datapath {
    /// The datapath of a (validated) configuration.
    pub fn new(c: &HwConfig) -> crate::Result<Datapath> {
        Ok(Datapath {
            f: c.formats,
            k: Constants::new(c)?,
            gate_on: c.gate,
            bias_on: c.bias,
        })
    }

    /// `rows_recip`: `1 / rows` quantised (ties to even) in the rows_recip format; a
    /// small ROM indexed by the row count in hardware.
    pub fn rows_recip(&self, rows: usize) -> i64 {
        self.f.rows_recip.q(1.0 / rows.max(1) as f64)
    }

    /// `signal_product`: `err * pre`, exact.
    #[inline(always)]
    pub fn signal_product(&self, err: i64, pre: i64) -> i64 {
        err * pre
    }

    /// `cofire_product`: `|pre| * |post|`, exact.
    #[inline(always)]
    pub fn cofire_product(&self, pre: i64, post: i64) -> i64 {
        pre.abs() * post.abs()
    }

    /// `gate_recip`: `floor(valid / max(mass, 1 LSB))` in the gate_recip format, 0 for an
    /// output without valid slots; saturates (counted). Computed by the per-lane
    /// restoring divider (units `div_unit0..`) one quotient bit per clock, and by the host
    /// for the initial state; both give exactly this value.
    pub fn gate_recip(&self, valid: u32, mass: i64, sat: &mut Saturations) -> i64 {
        if valid == 0 {
            return 0;
        }
        let (num, den) = self.divider_operands(valid, mass);
        let q = num / den;
        let max = self.f.gate_recip.max_raw();
        if q > max as i128 {
            sat.count(SatPoint::GateRecip);
            max
        } else {
            q as i64
        }
    }

    /// Dividend and divisor of the gate reciprocal: `valid << (trail.frac +
    /// gate_recip.frac)` and `max(mass, 1)`.
    pub fn divider_operands(&self, valid: u32, mass: i64) -> (i128, i128) {
        let num = (valid as i128) << (self.f.trail.frac + self.f.gate_recip.frac);
        (num, mass.max(1) as i128)
    }
}
