//! The datapath's rounding points, written once.
//!
//! Each point is a function generic over [`Fixed`], a small fixed-point backend: the
//! cycle model runs it on integers ([`Ints`], through [`crate::arith::Datapath`]), the
//! RTL generator on signals (`lpn_rtl::datapath`), so the model and the hardware take
//! the same products, shifts, clamps and selections by construction. Operations carry
//! a name: the generator names its wire after it, the model ignores it. A condition
//! (`valid`, `accepted`, ...) is a value too (0 or 1), and both arms of a selection are
//! computed, as the hardware does.

use crate::arith::{rescale, rescale_floor, Datapath, SatPoint, Saturations};

/// An operation's name: the generator names its wire after it (`base` alone, or
/// `base_suffix`), the model never looks at it (so no text is made on its hot path).
#[derive(Debug, Clone, Copy)]
pub struct Name<'a>(pub &'a str, pub &'static str);

impl Name<'_> {
    /// The name as text.
    pub fn text(&self) -> String {
        if self.1.is_empty() {
            self.0.to_string()
        } else {
            format!("{}_{}", self.0, self.1)
        }
    }
}

/// A name without a suffix.
fn n(base: &str) -> Name<'_> {
    Name(base, "")
}

/// The datapath's value kinds, each with its fixed-point format (the generator's type
/// for a clamp or a cast into it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// Row-mean signal (bounded to +-(2 * clip + 1 LSB)).
    Mean,
    /// Normalised co-firing.
    Cofire,
    /// Signal and bias direction.
    Signal,
    /// Effective trail.
    Effective,
    /// Gate.
    Gate,
    /// Score.
    Score,
    /// Plasticity.
    Plasticity,
    /// Reinforcement base.
    Base,
    /// Weights and biases.
    Weight,
    /// Retention factors.
    Factor,
    /// Trails.
    Trail,
    /// Maturity.
    Maturity,
    /// Consolidation state.
    Consolidation,
}

/// A learning constant (quantised once, [`crate::Constants`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Const {
    /// `learning_rate`.
    LearningRate,
    /// `consolidation_strength`.
    ConsolidationStrength,
    /// `1 - consolidation_decay`.
    ConsolidationRetain,
    /// `consolidation_threshold`.
    ConsolidationThreshold,
    /// `1 / (max_pheromone - threshold)`.
    MaturityScale,
    /// `consolidation_lr_floor`.
    LrFloor,
    /// 0.5 in the trail format.
    HalfTrail,
    /// The short trail's share of the effective trail.
    ShortShare,
    /// The long trail's share.
    LongShare,
}

/// The operations the rounding points are written in.
pub trait Fixed {
    /// A value (an integer, or a signal).
    type V: Clone;
    /// `a * b`, exact.
    fn product(&mut self, name: Name<'_>, a: &Self::V, b: &Self::V) -> Self::V;
    /// `a + b`, exact.
    fn add(&mut self, name: Name<'_>, a: &Self::V, b: &Self::V) -> Self::V;
    /// `a - b`, exact.
    fn sub(&mut self, name: Name<'_>, a: &Self::V, b: &Self::V) -> Self::V;
    /// `|a|`.
    fn abs(&mut self, name: Name<'_>, a: &Self::V) -> Self::V;
    /// `min(a, b)`.
    fn min(&mut self, name: Name<'_>, a: &Self::V, b: &Self::V) -> Self::V;
    /// `max(a, b)`.
    fn max(&mut self, name: Name<'_>, a: &Self::V, b: &Self::V) -> Self::V;
    /// From `from` fraction bits to `to`: exact when widening, round half up when
    /// narrowing.
    fn rescale(&mut self, name: Name<'_>, x: &Self::V, from: u32, to: u32) -> Self::V;
    /// The same, rounding down.
    fn rescale_floor(&mut self, name: Name<'_>, x: &Self::V, from: u32, to: u32) -> Self::V;
    /// `clamp(x, lo, hi)` as a `into` value.
    fn clamp(&mut self, name: Name<'_>, x: &Self::V, lo: i128, hi: i128, into: Quantity)
        -> Self::V;
    /// `x` as a `into` value (it fits).
    fn cast(&mut self, x: &Self::V, into: Quantity) -> Self::V;
    /// `c ? a : b`.
    fn select(&mut self, name: Name<'_>, c: &Self::V, a: &Self::V, b: &Self::V) -> Self::V;
    /// A constant of its own smallest type.
    fn konst(&mut self, name: Name<'_>, v: i128) -> Self::V;
    /// A constant `into` value.
    fn literal(&mut self, name: Name<'_>, v: i128, into: Quantity) -> Self::V;
    /// A learning constant.
    fn constant(&mut self, k: Const) -> Self::V;
    /// A pipeline register's place (the deep pipeline registers there).
    fn cut(&mut self, x: &Self::V) -> Self::V;
    /// Counts a saturation at `point` when `x` is outside `[lo, hi]` (and `when`, if
    /// given, holds: the value is used).
    fn saturation(
        &mut self,
        point: SatPoint,
        x: &Self::V,
        lo: i128,
        hi: i128,
        when: Option<&Self::V>,
    );
}

/// `signal_mean`: the row mean of the signal sum, `round(acc / rows)` to the signal
/// fraction, bounded to `+-2 * signal_clip` (lossless: the gate is at least 0.5, so
/// anything beyond is clipped by [`signal`] either way).
pub fn signal_mean<F: Fixed>(x: &mut F, dp: &Datapath, acc: &F::V, rr: &F::V) -> F::V {
    let f = &dp.f;
    let p = x.product(n("mean_prod"), acc, rr);
    let from = f.error.frac + f.activation.frac + f.rows_recip.frac;
    let v = x.rescale(n("mean_round"), &p, from, f.signal.frac);
    let b = 2 * dp.k.signal_clip as i128 + 1;
    x.clamp(n("signal_mean"), &v, -b, b, Quantity::Mean)
}

/// `cofire_mean`: `round(co / rows)` to the cofire format; saturates (counted).
pub fn cofire_mean<F: Fixed>(x: &mut F, dp: &Datapath, acc: &F::V, rr: &F::V) -> F::V {
    let f = &dp.f;
    let p = x.product(n("cofire_prod"), acc, rr);
    let from = 2 * f.activation.frac + f.rows_recip.frac;
    let v = x.rescale(n("cofire_round"), &p, from, f.cofire.frac);
    let max = f.cofire.max_raw() as i128;
    x.saturation(SatPoint::Cofire, &v, 0, max, None);
    x.clamp(n("cofire_mean"), &v, 0, max, Quantity::Cofire)
}

/// `bias_direction`: `clamp(round(sum err / rows), +-signal_clip)`, signal format.
pub fn bias_direction<F: Fixed>(x: &mut F, dp: &Datapath, err_sum: &F::V, rr: &F::V) -> F::V {
    if !dp.bias_on {
        return x.literal(n("bias_direction"), 0, Quantity::Signal);
    }
    let f = &dp.f;
    let p = x.product(n("bias_dir_prod"), err_sum, rr);
    let v = x.rescale(
        n("bias_dir_round"),
        &p,
        f.error.frac + f.rows_recip.frac,
        f.signal.frac,
    );
    let c = dp.k.signal_clip as i128;
    x.clamp(n("bias_direction"), &v, -c, c, Quantity::Signal)
}

/// `effective_trail`: `round(S * ws' + P * wl')` in the trail format (exactly `P` with
/// the default weights 0 and 1).
pub fn effective_trail<F: Fixed>(x: &mut F, dp: &Datapath, short: &F::V, long: &F::V) -> F::V {
    let f = &dp.f;
    let (ws, wl) = (x.constant(Const::ShortShare), x.constant(Const::LongShare));
    let a = x.product(n("eff_short"), short, &ws);
    let b = x.product(n("eff_long"), long, &wl);
    let s = x.add(n("eff_sum"), &a, &b);
    let v = x.rescale(
        n("eff_round"),
        &s,
        f.trail.frac + f.constant.frac,
        f.trail.frac,
    );
    x.cast(&v, Quantity::Effective)
}

/// `gate`: `0.5 + 0.5 * min(E * recip, 2)` rounded to the gate format; 1.0 when the gate
/// is off.
pub fn gate<F: Fixed>(x: &mut F, dp: &Datapath, effective: &F::V, recip: &F::V) -> F::V {
    let f = &dp.f;
    if !dp.gate_on {
        return x.literal(n("gate"), f.gate.one() as i128, Quantity::Gate);
    }
    let frac = f.trail.frac + f.gate_recip.frac;
    let p = x.product(n("gate_prod"), effective, recip);
    let two = x.konst(n("gate_two"), 2i128 << frac);
    let ratio = x.min(n("gate_ratio"), &p, &two);
    let r = x.rescale(n("gate_half"), &ratio, frac + 1, f.gate.frac);
    let half = x.konst(n("gate_base"), 1i128 << (f.gate.frac - 1));
    let g = x.add(n("gate_sum"), &half, &r);
    x.cast(&g, Quantity::Gate)
}

/// `signal`: `clamp(round(mean * g), +-signal_clip)`; 0 on an invalid slot.
pub fn signal<F: Fixed>(x: &mut F, dp: &Datapath, mean: &F::V, gate: &F::V, valid: &F::V) -> F::V {
    let f = &dp.f;
    let p = x.product(n("signal_prod"), mean, gate);
    let v = x.rescale(
        n("signal_round"),
        &p,
        f.signal.frac + f.gate.frac,
        f.signal.frac,
    );
    let c = dp.k.signal_clip as i128;
    let s = x.clamp(n("signal_clip"), &v, -c, c, Quantity::Signal);
    let z = x.literal(n("signal_zero"), 0, Quantity::Signal);
    x.select(n("signal"), valid, &s, &z)
}

/// `score`: `floor(|signal| * (0.5 + P))` in the score format (counted saturation).
pub fn score<F: Fixed>(x: &mut F, dp: &Datapath, signal: &F::V, long: &F::V) -> F::V {
    let f = &dp.f;
    let a = x.abs(n("score_abs"), signal);
    let half = x.constant(Const::HalfTrail);
    let h = x.add(n("score_offset"), &half, long);
    let p = x.product(n("score_prod"), &a, &h);
    let v = x.rescale_floor(
        n("score_floor"),
        &p,
        f.signal.frac + f.trail.frac,
        f.score.frac,
    );
    let max = f.score.max_raw() as i128;
    x.saturation(SatPoint::Score, &v, 0, max, None);
    x.clamp(n("score"), &v, 0, max, Quantity::Score)
}

/// `bonus`: the neighbor-follow frontier bonus `max(max score, 1)`, score format.
pub fn bonus<F: Fixed>(x: &mut F, dp: &Datapath, max_score: &F::V) -> F::V {
    let one = x.konst(n("bonus_one"), dp.f.score.one() as i128);
    let b = x.max(n("bonus_max"), max_score, &one);
    x.cast(&b, Quantity::Score)
}

/// `plasticity`: `max(1 - min(C * strength, 1), floor)`; 1 with consolidation off, 0 on
/// an invalid slot.
pub fn plasticity<F: Fixed>(x: &mut F, dp: &Datapath, c: &F::V, valid: &F::V) -> F::V {
    let f = &dp.f;
    let one = x.konst(n("q_one"), f.plasticity.one() as i128);
    let z = x.literal(n("q_zero"), 0, Quantity::Plasticity);
    if dp.k.consolidation_strength == 0 {
        let one = x.cast(&one, Quantity::Plasticity);
        return x.select(n("plasticity"), valid, &one, &z);
    }
    let strength = x.constant(Const::ConsolidationStrength);
    let p = x.product(n("q_prod"), c, &strength);
    let from = f.consolidation.frac + f.constant.frac;
    let prot = x.rescale(n("q_protect"), &p, from, f.plasticity.frac);
    let prot = x.min(n("q_protect_min"), &prot, &one);
    let left = x.sub(n("q_left"), &one, &prot);
    let floor = x.constant(Const::LrFloor);
    let q = x.max(n("q_floor"), &left, &floor);
    let q = x.cast(&q, Quantity::Plasticity);
    x.select(n("plasticity"), valid, &q, &z)
}

/// `reinforcement_base`: `min(co + |signal|, 4)` in signal-fraction units (exact).
pub fn reinforcement_base<F: Fixed>(
    x: &mut F,
    dp: &Datapath,
    cofire: &F::V,
    signal: &F::V,
) -> F::V {
    let f = &dp.f;
    let co = x.rescale(n("base_cofire"), cofire, f.cofire.frac, f.signal.frac);
    let a = x.abs(n("base_abs"), signal);
    let s = x.add(n("base_sum"), &co, &a);
    let s = x.cut(&s);
    x.clamp(
        n("reinforcement_base"),
        &s,
        0,
        dp.k.reinforcement_cap as i128,
        Quantity::Base,
    )
}

/// `weight_step`: `w + round(lr * signal * q)` when the slot steps, else `w`; saturates
/// to the weight format (counted; validation makes it unreachable).
pub fn weight_step<F: Fixed>(
    x: &mut F,
    dp: &Datapath,
    w: &F::V,
    signal: &F::V,
    q: &F::V,
    step: &F::V,
) -> F::V {
    let f = &dp.f;
    let sq = x.product(n("step_sq"), signal, q);
    let lr = x.constant(Const::LearningRate);
    let p = x.product(n("step_prod"), &sq, &lr);
    let from = f.signal.frac + f.plasticity.frac + f.constant.frac;
    let d = x.rescale(n("step_delta"), &p, from, f.weight.frac);
    let s = x.add(n("step_sum"), w, &d);
    let s = x.cut(&s);
    let (lo, hi) = (f.weight.min_raw() as i128, f.weight.max_raw() as i128);
    x.saturation(SatPoint::WeightStep, &s, lo, hi, Some(step));
    let sat = x.clamp(n("step_sat"), &s, lo, hi, Quantity::Weight);
    x.select(n("weight_step"), step, &sat, w)
}

/// `retain`: the retention factor `1 - round(rate * q)`, factor format, at least 0.
pub fn retain<F: Fixed>(x: &mut F, dp: &Datapath, name: &str, rate: &F::V, q: &F::V) -> F::V {
    let f = &dp.f;
    let p = x.product(Name(name, "prod"), rate, q);
    let from = f.constant.frac + f.plasticity.frac;
    let loss = x.rescale(Name(name, "loss"), &p, from, f.factor.frac);
    let one = x.konst(Name(name, "one"), f.factor.one() as i128);
    let r = x.sub(Name(name, "diff"), &one, &loss);
    let r = x.cut(&r);
    x.clamp(n(name), &r, 0, f.factor.max_raw() as i128, Quantity::Factor)
}

/// `weight_decay`: `clamp(round(stepped * retain) or stepped, +-weight_clip)`.
pub fn weight_decay<F: Fixed>(
    x: &mut F,
    dp: &Datapath,
    stepped: &F::V,
    retain: &F::V,
    decays: &F::V,
) -> F::V {
    let f = &dp.f;
    let p = x.product(n("decay_prod"), stepped, retain);
    let v = x.rescale(
        n("decay_round"),
        &p,
        f.weight.frac + f.factor.frac,
        f.weight.frac,
    );
    let pick = x.select(n("decay_pick"), decays, &v, stepped);
    let c = dp.k.weight_clip as i128;
    x.clamp(n("weight_decay"), &pick, -c, c, Quantity::Weight)
}

/// A trail's update: `clamp(round(T * retain) + [accepted] round(base * rate), min,
/// max)`, 0 on an invalid slot. `rate` is the mode's reinforcement constant.
pub struct TrailInputs<'v, V> {
    /// The trail.
    pub t: &'v V,
    /// Its retention factor.
    pub retain: &'v V,
    /// The reinforcement base.
    pub base: &'v V,
    /// The mode's reinforcement rate.
    pub rate: &'v V,
    /// The slot was accepted.
    pub accepted: &'v V,
    /// The slot is valid.
    pub valid: &'v V,
}

/// `trail` (named `name`: `trail_short`, `trail_long`).
pub fn trail<F: Fixed>(x: &mut F, dp: &Datapath, name: &str, i: TrailInputs<'_, F::V>) -> F::V {
    let f = &dp.f;
    let tf = f.trail.frac;
    let kept = x.product(Name(name, "keep"), i.t, i.retain);
    let kept = x.rescale(Name(name, "kept"), &kept, tf + f.factor.frac, tf);
    let add = x.product(Name(name, "reinf"), i.base, i.rate);
    let add = x.rescale(
        Name(name, "added"),
        &add,
        f.signal.frac + f.constant.frac,
        tf,
    );
    let z = x.konst(Name(name, "none"), 0);
    let add = x.select(Name(name, "acc"), i.accepted, &add, &z);
    let s = x.add(Name(name, "sum"), &kept, &add);
    let s = x.cut(&s);
    let (lo, hi) = (dp.k.min_pheromone as i128, dp.k.max_pheromone as i128);
    let c = x.clamp(Name(name, "clip"), &s, lo, hi, Quantity::Trail);
    let z = x.literal(Name(name, "invalid"), 0, Quantity::Trail);
    x.select(n(name), i.valid, &c, &z)
}

/// `maturity`: `clamp(round((P_new - threshold) * scale), 0, 1)`, maturity format.
pub fn maturity<F: Fixed>(x: &mut F, dp: &Datapath, long_new: &F::V) -> F::V {
    let f = &dp.f;
    let threshold = x.constant(Const::ConsolidationThreshold);
    let d = x.sub(n("maturity_over"), long_new, &threshold);
    let scale = x.constant(Const::MaturityScale);
    let p = x.product(n("maturity_prod"), &d, &scale);
    let v = x.rescale(
        n("maturity_round"),
        &p,
        f.trail.frac + f.constant.frac,
        f.maturity.frac,
    );
    x.clamp(
        n("maturity"),
        &v,
        0,
        f.maturity.one() as i128,
        Quantity::Maturity,
    )
}

/// `consolidation`'s inputs.
pub struct ConsolidationInputs<'v, V> {
    /// The consolidation state.
    pub c: &'v V,
    /// The new long trail.
    pub long_new: &'v V,
    /// The reinforcement base.
    pub base: &'v V,
    /// The slot was accepted.
    pub accepted: &'v V,
    /// The step consolidates.
    pub consolidate: &'v V,
    /// The slot is valid.
    pub valid: &'v V,
}

/// `consolidation`: `round(C * (1 - decay))`, plus on a consolidating step for an
/// accepted slot `round(base * growth * maturity)`, clamped to [0, 1]; 0 when
/// consolidation is off or the slot is invalid. `growth` gives the mode's growth
/// constant (the generator selects it by mode at this point).
pub fn consolidation<F: Fixed>(
    x: &mut F,
    dp: &Datapath,
    i: ConsolidationInputs<'_, F::V>,
    growth: impl FnOnce(&mut F) -> F::V,
) -> F::V {
    let f = &dp.f;
    if dp.k.consolidation_strength == 0 {
        return x.literal(n("consolidation"), 0, Quantity::Consolidation);
    }
    let cf = f.consolidation.frac;
    let retain = x.constant(Const::ConsolidationRetain);
    let kept = x.product(n("consol_keep"), i.c, &retain);
    let kept = x.rescale(n("consol_kept"), &kept, cf + f.factor.frac, cf);
    let growth = growth(x);
    let mat = maturity(x, dp, i.long_new);
    let bg = x.product(n("consol_bg"), i.base, &growth);
    let g = x.product(n("consol_prod"), &bg, &mat);
    let from = f.signal.frac + f.constant.frac + f.maturity.frac;
    let g = x.rescale(n("consol_grown"), &g, from, cf);
    let z = x.konst(n("consol_none"), 0);
    let g = x.select(n("consol_acc"), i.accepted, &g, &z);
    let s = x.add(n("consol_sum"), &kept, &g);
    let s = x.cut(&s);
    let grown = x.clamp(
        n("consol_clip"),
        &s,
        0,
        f.consolidation.one() as i128,
        Quantity::Consolidation,
    );
    let kept = x.cast(&kept, Quantity::Consolidation);
    let v = x.select(n("consol_pick"), i.consolidate, &grown, &kept);
    let z = x.literal(n("consol_invalid"), 0, Quantity::Consolidation);
    x.select(n("consolidation"), i.valid, &v, &z)
}

/// `bias_step`: `clamp(b + round(lr * bd), +-weight_clip)` on a descent step.
pub fn bias_step<F: Fixed>(x: &mut F, dp: &Datapath, b: &F::V, bd: &F::V, descent: &F::V) -> F::V {
    if !dp.bias_on {
        return b.clone();
    }
    let f = &dp.f;
    let lr = x.constant(Const::LearningRate);
    let p = x.product(n("bias_prod"), bd, &lr);
    let d = x.rescale(
        n("bias_delta"),
        &p,
        f.signal.frac + f.constant.frac,
        f.weight.frac,
    );
    let s = x.add(n("bias_sum"), b, &d);
    let s = x.cut(&s);
    let c = dp.k.weight_clip as i128;
    let v = x.clamp(n("bias_clip"), &s, -c, c, Quantity::Weight);
    x.select(n("bias_step"), descent, &v, b)
}

/// The integer backend: the model's values, saturations counted.
pub struct Ints<'a> {
    dp: &'a Datapath,
    sat: Option<&'a mut Saturations>,
}

impl<'a> Ints<'a> {
    /// On `dp`, counting saturations in `sat` when given.
    pub fn new(dp: &'a Datapath, sat: Option<&'a mut Saturations>) -> Ints<'a> {
        Ints { dp, sat }
    }
}

impl Fixed for Ints<'_> {
    type V = i128;
    #[inline(always)]
    fn product(&mut self, _: Name<'_>, a: &i128, b: &i128) -> i128 {
        a * b
    }
    #[inline(always)]
    fn add(&mut self, _: Name<'_>, a: &i128, b: &i128) -> i128 {
        a + b
    }
    #[inline(always)]
    fn sub(&mut self, _: Name<'_>, a: &i128, b: &i128) -> i128 {
        a - b
    }
    #[inline(always)]
    fn abs(&mut self, _: Name<'_>, a: &i128) -> i128 {
        a.abs()
    }
    #[inline(always)]
    fn min(&mut self, _: Name<'_>, a: &i128, b: &i128) -> i128 {
        *a.min(b)
    }
    #[inline(always)]
    fn max(&mut self, _: Name<'_>, a: &i128, b: &i128) -> i128 {
        *a.max(b)
    }
    #[inline(always)]
    fn rescale(&mut self, _: Name<'_>, x: &i128, from: u32, to: u32) -> i128 {
        rescale(*x, from, to)
    }
    #[inline(always)]
    fn rescale_floor(&mut self, _: Name<'_>, x: &i128, from: u32, to: u32) -> i128 {
        rescale_floor(*x, from, to)
    }
    #[inline(always)]
    fn clamp(&mut self, _: Name<'_>, x: &i128, lo: i128, hi: i128, _: Quantity) -> i128 {
        (*x).clamp(lo, hi)
    }
    #[inline(always)]
    fn cast(&mut self, x: &i128, _: Quantity) -> i128 {
        *x
    }
    #[inline(always)]
    fn select(&mut self, _: Name<'_>, c: &i128, a: &i128, b: &i128) -> i128 {
        if *c != 0 {
            *a
        } else {
            *b
        }
    }
    #[inline(always)]
    fn konst(&mut self, _: Name<'_>, v: i128) -> i128 {
        v
    }
    #[inline(always)]
    fn literal(&mut self, _: Name<'_>, v: i128, _: Quantity) -> i128 {
        v
    }
    #[inline(always)]
    fn constant(&mut self, k: Const) -> i128 {
        let q = &self.dp.k;
        i128::from(match k {
            Const::LearningRate => q.learning_rate,
            Const::ConsolidationStrength => q.consolidation_strength,
            Const::ConsolidationRetain => q.consolidation_retain,
            Const::ConsolidationThreshold => q.consolidation_threshold,
            Const::MaturityScale => q.maturity_scale,
            Const::LrFloor => q.lr_floor,
            Const::HalfTrail => q.half_trail,
            Const::ShortShare => q.short_share,
            Const::LongShare => q.long_share,
        })
    }
    #[inline(always)]
    fn cut(&mut self, x: &i128) -> i128 {
        *x
    }
    #[inline(always)]
    fn saturation(&mut self, point: SatPoint, x: &i128, lo: i128, hi: i128, when: Option<&i128>) {
        if let Some(sat) = self.sat.as_deref_mut() {
            if when.is_none_or(|w| *w != 0) && (*x < lo || *x > hi) {
                sat.count(point);
            }
        }
    }
}

/// The model's datapath: each rounding point on integers ([`Ints`]).
impl Datapath {
    /// [`signal_mean`] on integers.
    pub fn signal_mean(&self, acc: i64, rows_recip: i64) -> i64 {
        signal_mean(
            &mut Ints::new(self, None),
            self,
            &acc.into(),
            &rows_recip.into(),
        ) as i64
    }

    /// [`cofire_mean`] on integers (saturation counted in `sat`).
    pub fn cofire_mean(&self, acc: i64, rows_recip: i64, sat: &mut Saturations) -> i64 {
        cofire_mean(
            &mut Ints::new(self, Some(sat)),
            self,
            &acc.into(),
            &rows_recip.into(),
        ) as i64
    }

    /// [`bias_direction`] on integers.
    pub fn bias_direction(&self, err_sum: i64, rows_recip: i64) -> i64 {
        bias_direction(
            &mut Ints::new(self, None),
            self,
            &err_sum.into(),
            &rows_recip.into(),
        ) as i64
    }

    /// [`effective_trail`] on integers.
    pub fn effective_trail(&self, short: i64, long: i64) -> i64 {
        effective_trail(
            &mut Ints::new(self, None),
            self,
            &short.into(),
            &long.into(),
        ) as i64
    }

    /// [`gate`] on integers.
    pub fn gate(&self, effective: i64, recip: i64) -> i64 {
        gate(
            &mut Ints::new(self, None),
            self,
            &effective.into(),
            &recip.into(),
        ) as i64
    }

    /// [`signal`] on integers.
    pub fn signal(&self, mean: i64, gate: i64, valid: bool) -> i64 {
        let v = i128::from(valid);
        signal(
            &mut Ints::new(self, None),
            self,
            &mean.into(),
            &gate.into(),
            &v,
        ) as i64
    }

    /// [`score`] on integers (saturation counted in `sat`).
    pub fn score(&self, signal: i64, long: i64, sat: &mut Saturations) -> i64 {
        score(
            &mut Ints::new(self, Some(sat)),
            self,
            &signal.into(),
            &long.into(),
        ) as i64
    }

    /// [`bonus`] on integers.
    pub fn bonus(&self, max_score: i64) -> i64 {
        bonus(&mut Ints::new(self, None), self, &max_score.into()) as i64
    }

    /// [`plasticity`] on integers.
    pub fn plasticity(&self, consolidation: i64, valid: bool) -> i64 {
        let v = i128::from(valid);
        plasticity(&mut Ints::new(self, None), self, &consolidation.into(), &v) as i64
    }

    /// [`reinforcement_base`] on integers.
    pub fn reinforcement_base(&self, cofire: i64, signal: i64) -> i64 {
        reinforcement_base(
            &mut Ints::new(self, None),
            self,
            &cofire.into(),
            &signal.into(),
        ) as i64
    }

    /// [`weight_step`] on integers (saturation counted in `sat`).
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
        weight_step(x, self, &w.into(), &signal.into(), &q.into(), &s) as i64
    }

    /// [`retain`] on integers, with a rate constant.
    pub fn retain(&self, rate: i64, q: i64) -> i64 {
        retain(
            &mut Ints::new(self, None),
            self,
            "retain",
            &rate.into(),
            &q.into(),
        ) as i64
    }

    /// [`weight_decay`] on integers.
    pub fn weight_decay(&self, stepped: i64, retain: i64, decays: bool) -> i64 {
        let d = i128::from(decays);
        weight_decay(
            &mut Ints::new(self, None),
            self,
            &stepped.into(),
            &retain.into(),
            &d,
        ) as i64
    }

    /// [`trail`] on integers; `rate` is the mode's reinforcement constant.
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
        let i = TrailInputs {
            t: &t,
            retain: &retain,
            base: &base,
            rate: &rate,
            accepted: &accepted,
            valid: &valid,
        };
        trail(&mut Ints::new(self, None), self, "trail", i) as i64
    }

    /// [`maturity`] on integers.
    pub fn maturity(&self, long_new: i64) -> i64 {
        maturity(&mut Ints::new(self, None), self, &long_new.into()) as i64
    }

    /// [`consolidation`] on integers; `growth` is the mode's growth constant.
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
        let i = ConsolidationInputs {
            c: &c,
            long_new: &long_new,
            base: &base,
            accepted: &accepted,
            consolidate: &consolidate,
            valid: &valid,
        };
        consolidation(&mut Ints::new(self, None), self, i, |_| i128::from(growth)) as i64
    }

    /// [`bias_step`] on integers.
    pub fn bias_step(&self, b: i64, bd: i64, descent: bool) -> i64 {
        let d = i128::from(descent);
        bias_step(&mut Ints::new(self, None), self, &b.into(), &bd.into(), &d) as i64
    }
}
