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
use crate::points::{self, Ints};

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

    /// [`points::signal_mean`] on integers.
    pub fn signal_mean(&self, acc: i64, rows_recip: i64) -> i64 {
        points::signal_mean(
            &mut Ints::new(self, None),
            self,
            &acc.into(),
            &rows_recip.into(),
        ) as i64
    }

    /// [`points::cofire_mean`] on integers (saturation counted in `sat`).
    pub fn cofire_mean(&self, acc: i64, rows_recip: i64, sat: &mut Saturations) -> i64 {
        points::cofire_mean(
            &mut Ints::new(self, Some(sat)),
            self,
            &acc.into(),
            &rows_recip.into(),
        ) as i64
    }

    /// [`points::bias_direction`] on integers.
    pub fn bias_direction(&self, err_sum: i64, rows_recip: i64) -> i64 {
        points::bias_direction(
            &mut Ints::new(self, None),
            self,
            &err_sum.into(),
            &rows_recip.into(),
        ) as i64
    }

    /// [`points::effective_trail`] on integers.
    pub fn effective_trail(&self, short: i64, long: i64) -> i64 {
        points::effective_trail(
            &mut Ints::new(self, None),
            self,
            &short.into(),
            &long.into(),
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

    /// [`points::gate`] on integers.
    pub fn gate(&self, effective: i64, recip: i64) -> i64 {
        points::gate(
            &mut Ints::new(self, None),
            self,
            &effective.into(),
            &recip.into(),
        ) as i64
    }

    /// [`points::signal`] on integers.
    pub fn signal(&self, mean: i64, gate: i64, valid: bool) -> i64 {
        let v = i128::from(valid);
        points::signal(
            &mut Ints::new(self, None),
            self,
            &mean.into(),
            &gate.into(),
            &v,
        ) as i64
    }

    /// [`points::score`] on integers (saturation counted in `sat`).
    pub fn score(&self, signal: i64, long: i64, sat: &mut Saturations) -> i64 {
        points::score(
            &mut Ints::new(self, Some(sat)),
            self,
            &signal.into(),
            &long.into(),
        ) as i64
    }

    /// [`points::bonus`] on integers.
    pub fn bonus(&self, max_score: i64) -> i64 {
        points::bonus(&mut Ints::new(self, None), self, &max_score.into()) as i64
    }

    /// [`points::plasticity`] on integers.
    pub fn plasticity(&self, consolidation: i64, valid: bool) -> i64 {
        let v = i128::from(valid);
        points::plasticity(&mut Ints::new(self, None), self, &consolidation.into(), &v) as i64
    }

    /// [`points::reinforcement_base`] on integers.
    pub fn reinforcement_base(&self, cofire: i64, signal: i64) -> i64 {
        points::reinforcement_base(
            &mut Ints::new(self, None),
            self,
            &cofire.into(),
            &signal.into(),
        ) as i64
    }

    /// [`points::weight_step`] on integers (saturation counted in `sat`).
    pub fn weight_step(
        &self,
        w: i64,
        signal: i64,
        q: i64,
        step: bool,
        sat: &mut Saturations,
    ) -> i64 {
        let s = i128::from(step);
        let x = &mut Ints::new(self, Some(sat));
        points::weight_step(x, self, &w.into(), &signal.into(), &q.into(), &s) as i64
    }

    /// [`points::retain`] on integers, with a rate constant.
    pub fn retain(&self, rate: i64, q: i64) -> i64 {
        points::retain(
            &mut Ints::new(self, None),
            self,
            "retain",
            &rate.into(),
            &q.into(),
        ) as i64
    }

    /// [`points::weight_decay`] on integers.
    pub fn weight_decay(&self, stepped: i64, retain: i64, decays: bool) -> i64 {
        let d = i128::from(decays);
        points::weight_decay(
            &mut Ints::new(self, None),
            self,
            &stepped.into(),
            &retain.into(),
            &d,
        ) as i64
    }

    /// [`points::trail`] on integers; `rate` is the mode's reinforcement constant.
    pub fn trail(
        &self,
        t: i64,
        retain: i64,
        base: i64,
        rate: i64,
        accepted: bool,
        valid: bool,
    ) -> i64 {
        let [t, retain, base, rate] = [t, retain, base, rate].map(i128::from);
        let (accepted, valid) = (i128::from(accepted), i128::from(valid));
        let i = points::TrailInputs {
            t: &t,
            retain: &retain,
            base: &base,
            rate: &rate,
            accepted: &accepted,
            valid: &valid,
        };
        points::trail(&mut Ints::new(self, None), self, "trail", i) as i64
    }

    /// [`points::maturity`] on integers.
    pub fn maturity(&self, long_new: i64) -> i64 {
        points::maturity(&mut Ints::new(self, None), self, &long_new.into()) as i64
    }

    /// [`points::consolidation`] on integers; `growth` is the mode's growth constant.
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
        let [c, long_new, base] = [c, long_new, base].map(i128::from);
        let [accepted, consolidate, valid] = [accepted, consolidate, valid].map(i128::from);
        let i = points::ConsolidationInputs {
            c: &c,
            long_new: &long_new,
            base: &base,
            accepted: &accepted,
            consolidate: &consolidate,
            valid: &valid,
        };
        points::consolidation(&mut Ints::new(self, None), self, i, |_| i128::from(growth)) as i64
    }

    /// [`points::bias_step`] on integers.
    pub fn bias_step(&self, b: i64, bd: i64, descent: bool) -> i64 {
        let d = i128::from(descent);
        points::bias_step(&mut Ints::new(self, None), self, &b.into(), &bd.into(), &d) as i64
    }
}
