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
use crate::format::Format;

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

#[inline(always)]
fn clamp(x: i128, lo: i64, hi: i64) -> i64 {
    x.clamp(lo as i128, hi as i128) as i64
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

    /// `signal_mean`: the row mean of the signal sum, `round(acc / rows)` to the signal
    /// fraction, bounded to `+-2 * signal_clip` (lossless: the gate is at least 0.5, so
    /// anything beyond is clipped by [`Datapath::signal`] either way).
    pub fn signal_mean(&self, acc: i64, rows_recip: i64) -> i64 {
        let from = self.f.error.frac + self.f.activation.frac + self.f.rows_recip.frac;
        let v = rescale(acc as i128 * rows_recip as i128, from, self.f.signal.frac);
        let bound = 2 * self.k.signal_clip + 1;
        clamp(v, -bound, bound)
    }

    /// `cofire_mean`: `round(co / rows)` to the cofire format; saturates (counted).
    pub fn cofire_mean(&self, acc: i64, rows_recip: i64, sat: &mut Saturations) -> i64 {
        let from = 2 * self.f.activation.frac + self.f.rows_recip.frac;
        let v = rescale(acc as i128 * rows_recip as i128, from, self.f.cofire.frac);
        let max = self.f.cofire.max_raw();
        if v > max as i128 {
            sat.count(SatPoint::Cofire);
        }
        clamp(v, 0, max)
    }

    /// `bias_direction`: `clamp(round(sum err / rows), +-signal_clip)`, signal format.
    pub fn bias_direction(&self, err_sum: i64, rows_recip: i64) -> i64 {
        if !self.bias_on {
            return 0;
        }
        let from = self.f.error.frac + self.f.rows_recip.frac;
        let v = rescale(
            err_sum as i128 * rows_recip as i128,
            from,
            self.f.signal.frac,
        );
        clamp(v, -self.k.signal_clip, self.k.signal_clip)
    }

    /// `effective_trail`: `round(S * ws' + P * wl')` in the trail format (exactly `P`
    /// with the default weights 0 and 1).
    pub fn effective_trail(&self, short: i64, long: i64) -> i64 {
        let sum =
            short as i128 * self.k.short_share as i128 + long as i128 * self.k.long_share as i128;
        rescale(
            sum,
            self.f.trail.frac + self.f.constant.frac,
            self.f.trail.frac,
        ) as i64
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

    /// `gate`: `0.5 + 0.5 * min(E * recip, 2)` rounded to the gate format; 1.0 when the
    /// gate is off.
    pub fn gate(&self, effective: i64, recip: i64) -> i64 {
        let g = self.f.gate;
        if !self.gate_on {
            return g.one();
        }
        let frac = self.f.trail.frac + self.f.gate_recip.frac;
        let ratio = (effective as i128 * recip as i128).min(2i128 << frac);
        (1i64 << (g.frac - 1)) + rescale(ratio, frac + 1, g.frac) as i64
    }

    /// `signal`: `clamp(round(mean * g), +-signal_clip)`; 0 on an invalid slot.
    pub fn signal(&self, mean: i64, gate: i64, valid: bool) -> i64 {
        if !valid {
            return 0;
        }
        let v = rescale(
            mean as i128 * gate as i128,
            self.f.signal.frac + self.f.gate.frac,
            self.f.signal.frac,
        );
        clamp(v, -self.k.signal_clip, self.k.signal_clip)
    }

    /// `score`: `floor(|signal| * (0.5 + P))` in the score format (counted saturation).
    pub fn score(&self, signal: i64, long: i64, sat: &mut Saturations) -> i64 {
        let v = rescale_floor(
            signal.abs() as i128 * (self.k.half_trail + long) as i128,
            self.f.signal.frac + self.f.trail.frac,
            self.f.score.frac,
        );
        let max = self.f.score.max_raw();
        if v > max as i128 {
            sat.count(SatPoint::Score);
        }
        clamp(v, 0, max)
    }

    /// `bonus`: the neighbor-follow frontier bonus `max(max score, 1)`, score format.
    pub fn bonus(&self, max_score: i64) -> i64 {
        max_score.max(self.f.score.one())
    }

    /// `plasticity`: `max(1 - min(C * strength, 1), floor)`; 1 with consolidation off,
    /// 0 on an invalid slot.
    pub fn plasticity(&self, consolidation: i64, valid: bool) -> i64 {
        let q = self.f.plasticity;
        if !valid {
            return 0;
        }
        if self.k.consolidation_strength == 0 {
            return q.one();
        }
        let protection = rescale(
            consolidation as i128 * self.k.consolidation_strength as i128,
            self.f.consolidation.frac + self.f.constant.frac,
            q.frac,
        )
        .min(q.one() as i128) as i64;
        (q.one() - protection).max(self.k.lr_floor)
    }

    /// `reinforcement_base`: `min(co + |signal|, 4)` in signal-fraction units (exact).
    pub fn reinforcement_base(&self, cofire: i64, signal: i64) -> i64 {
        let co = rescale(cofire as i128, self.f.cofire.frac, self.f.signal.frac);
        clamp(co + signal.abs() as i128, 0, self.k.reinforcement_cap)
    }

    /// `weight_step`: `w + round(lr * signal * q)` when the slot steps, else `w`;
    /// saturates to the weight format (counted; validation makes it unreachable).
    pub fn weight_step(
        &self,
        w: i64,
        signal: i64,
        q: i64,
        step: bool,
        sat: &mut Saturations,
    ) -> i64 {
        if !step {
            return w;
        }
        let d = rescale(
            signal as i128 * q as i128 * self.k.learning_rate as i128,
            self.f.signal.frac + self.f.plasticity.frac + self.f.constant.frac,
            self.f.weight.frac,
        );
        let (v, s) = self.f.weight.saturate((w as i128 + d) as i64);
        if s {
            sat.count(SatPoint::WeightStep);
        }
        v
    }

    /// `retain`: the retention factor `1 - round(rate * q)`, factor format, at least 0.
    pub fn retain(&self, rate: i64, q: i64) -> i64 {
        let loss = rescale(
            rate as i128 * q as i128,
            self.f.constant.frac + self.f.plasticity.frac,
            self.f.factor.frac,
        ) as i64;
        (self.f.factor.one() - loss).max(0)
    }

    /// `weight_decay`: `clamp(round(stepped * retain) or stepped, +-weight_clip)`.
    pub fn weight_decay(&self, stepped: i64, retain: i64, decays: bool) -> i64 {
        let v = if decays {
            rescale(
                stepped as i128 * retain as i128,
                self.f.weight.frac + self.f.factor.frac,
                self.f.weight.frac,
            )
        } else {
            stepped as i128
        };
        clamp(v, -self.k.weight_clip, self.k.weight_clip)
    }

    /// `trail`: `clamp(round(T * retain) + [accepted] round(base * rate), min, max)`, 0 on
    /// an invalid slot. `rate` is the per-mode reinforcement constant.
    pub fn trail(
        &self,
        t: i64,
        retain: i64,
        base: i64,
        rate: i64,
        accepted: bool,
        valid: bool,
    ) -> i64 {
        if !valid {
            return 0;
        }
        let tf = self.f.trail.frac;
        let kept = rescale(t as i128 * retain as i128, tf + self.f.factor.frac, tf);
        let added = if accepted {
            rescale(
                base as i128 * rate as i128,
                self.f.signal.frac + self.f.constant.frac,
                tf,
            )
        } else {
            0
        };
        clamp(kept + added, self.k.min_pheromone, self.k.max_pheromone)
    }

    /// `maturity`: `clamp(round((P_new - threshold) * scale), 0, 1)`, maturity format.
    pub fn maturity(&self, long_new: i64) -> i64 {
        let v = rescale(
            (long_new - self.k.consolidation_threshold) as i128 * self.k.maturity_scale as i128,
            self.f.trail.frac + self.f.constant.frac,
            self.f.maturity.frac,
        );
        clamp(v, 0, self.f.maturity.one())
    }

    /// `consolidation`: `round(C * (1 - decay))`, plus on a consolidating step for an
    /// accepted slot `round(base * growth * maturity)`, clamped to [0, 1]; 0 when
    /// consolidation is off or the slot is invalid.
    #[allow(clippy::too_many_arguments)]
    pub fn consolidation(
        &self,
        c: i64,
        long_new: i64,
        base: i64,
        growth: i64,
        accepted: bool,
        consolidate: bool,
        valid: bool,
    ) -> i64 {
        if self.k.consolidation_strength == 0 || !valid {
            return 0;
        }
        let cf = self.f.consolidation.frac;
        let kept = rescale(
            c as i128 * self.k.consolidation_retain as i128,
            cf + self.f.factor.frac,
            cf,
        );
        if !consolidate {
            return kept as i64;
        }
        let grown = if accepted {
            rescale(
                base as i128 * growth as i128 * self.maturity(long_new) as i128,
                self.f.signal.frac + self.f.constant.frac + self.f.maturity.frac,
                cf,
            )
        } else {
            0
        };
        clamp(kept + grown, 0, self.f.consolidation.one())
    }

    /// `bias_step`: `clamp(b + round(lr * bd), +-weight_clip)` on a descent step.
    pub fn bias_step(&self, b: i64, bd: i64, descent: bool) -> i64 {
        if !descent || !self.bias_on {
            return b;
        }
        let d = rescale(
            bd as i128 * self.k.learning_rate as i128,
            self.f.signal.frac + self.f.constant.frac,
            self.f.weight.frac,
        );
        clamp(b as i128 + d, -self.k.weight_clip, self.k.weight_clip)
    }

    /// The format of a quantity by its field name, for reports.
    pub fn format_of(&self, field: &str) -> Format {
        match field {
            "weight" | "bias" => self.f.weight,
            "short" | "long" => self.f.trail,
            "consolidation" => self.f.consolidation,
            _ => self.f.signal,
        }
    }
}
