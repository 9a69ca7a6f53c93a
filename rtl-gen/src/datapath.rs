//! The engine's datapath in RTL: one function per named rounding/saturation point of
//! `lpn_cycle::arith::Datapath`, with the same shifts and bounds. The engine's stages
//! call these; [`arith_module`] exposes each one on ports so co-simulation can check it
//! against the model on its own.

use lpn_cycle::arith::Datapath;
use lpn_cycle::HwConfig;

use crate::ir::Expr;
use crate::rtl::{Dir, Module, Sig, Ty};
use lpn_cycle::arith::SatPoint;
use lpn_cycle::points::{self, Const, Fixed, Name, Quantity};

/// Types of the datapath's values, derived once from the formats.
#[derive(Debug, Clone, Copy)]
pub struct Types {
    /// Exact signal accumulator.
    pub acc: Ty,
    /// Exact co-firing accumulator.
    pub co_acc: Ty,
    /// Exact error sum.
    pub err_sum: Ty,
    /// `1 / rows`.
    pub rows_recip: Ty,
    /// Row-mean signal (bounded to +-(2*clip + 1 LSB)).
    pub mean: Ty,
    /// Normalised co-firing.
    pub cofire: Ty,
    /// Signal and bias direction.
    pub signal: Ty,
    /// Effective trail (one LSB of rounding above the trail format is possible).
    pub effective: Ty,
    /// Trails.
    pub trail: Ty,
    /// Gate reciprocal.
    pub gate_recip: Ty,
    /// Gate.
    pub gate: Ty,
    /// Score.
    pub score: Ty,
    /// Plasticity.
    pub plasticity: Ty,
    /// Reinforcement base.
    pub base: Ty,
    /// Weights and biases.
    pub weight: Ty,
    /// Retention factors.
    pub factor: Ty,
    /// Maturity.
    pub maturity: Ty,
    /// Consolidation.
    pub consolidation: Ty,
    /// Activation.
    pub activation: Ty,
    /// Error.
    pub error: Ty,
}

fn ty(f: lpn_cycle::Format) -> Ty {
    Ty {
        width: f.bits,
        signed: f.signed,
    }
}

impl Types {
    /// The type of a value kind of the rounding points.
    pub fn of(&self, q: Quantity) -> Ty {
        match q {
            Quantity::Mean => self.mean,
            Quantity::Cofire => self.cofire,
            Quantity::Signal => self.signal,
            Quantity::Effective => self.effective,
            Quantity::Gate => self.gate,
            Quantity::Score => self.score,
            Quantity::Plasticity => self.plasticity,
            Quantity::Base => self.base,
            Quantity::Weight => self.weight,
            Quantity::Factor => self.factor,
            Quantity::Trail => self.trail,
            Quantity::Maturity => self.maturity,
            Quantity::Consolidation => self.consolidation,
        }
    }

    /// The types of a configuration.
    pub fn new(c: &HwConfig, dp: &Datapath) -> Types {
        let f = &c.formats;
        let rows_bits = lpn_cycle::format::bits_for(c.max_rows as u64);
        let bound = 2 * dp.k.signal_clip as i128 + 1;
        let eff_max = (f.trail.max_raw() as i128 * (dp.k.short_share + dp.k.long_share) as i128
            + (1i128 << (f.constant.frac - 1)))
            >> f.constant.frac;
        Types {
            acc: Ty::s(c.accumulator_bits()),
            co_acc: Ty::u(2 * (f.activation.bits - 1) + rows_bits),
            err_sum: Ty::s(f.error.bits + rows_bits),
            rows_recip: ty(f.rows_recip),
            mean: Ty::fitting(-bound, bound, true),
            cofire: ty(f.cofire),
            signal: ty(f.signal),
            effective: Ty::fitting(0, eff_max.max(f.trail.max_raw() as i128), false),
            trail: ty(f.trail),
            gate_recip: ty(f.gate_recip),
            gate: ty(f.gate),
            score: ty(f.score),
            plasticity: ty(f.plasticity),
            base: Ty::fitting(0, dp.k.reinforcement_cap as i128, false),
            weight: ty(f.weight),
            factor: ty(f.factor),
            maturity: ty(f.maturity),
            consolidation: ty(f.consolidation),
            activation: ty(f.activation),
            error: ty(f.error),
        }
    }
}

/// Limb width of a split multiplier operand: 17 bits, which an 18-bit signed DSP
/// operand holds as an unsigned value.
const LIMB: u32 = 17;

/// `x` as limbs `(limb, shift)` each fitting an 18-bit signed (or, in an unsigned
/// product, 18-bit unsigned) multiplier operand: unsigned 17-bit low limbs and a top limb
/// of `x`'s signedness. One limb when `x` fits as it is.
fn limbs(m: &mut Module, name: &str, x: &Sig, signed: bool) -> Vec<(Sig, u32)> {
    let w = x.ty.width + u32::from(signed && !x.ty.signed);
    if w <= LIMB + 1 {
        return vec![(x.clone(), 0)];
    }
    // An unsigned top limb in a signed product gains a sign bit.
    let max_top = if x.ty.signed || !signed {
        LIMB + 1
    } else {
        LIMB
    };
    let mut out = Vec::new();
    let mut lo = 0;
    while x.ty.width - lo > max_top {
        let limb = m.wire(
            &format!("{name}_limb{}", out.len()),
            Ty::u(LIMB),
            Expr::slice(x, lo + LIMB - 1, lo),
        );
        out.push((limb, lo));
        lo += LIMB;
    }
    let top_w = x.ty.width - lo;
    let top = m.wire(
        &format!("{name}_limb{}", out.len()),
        Ty {
            width: top_w,
            signed: x.ty.signed,
        },
        if x.ty.signed {
            Expr::signed(Expr::slice(x, x.ty.width - 1, lo))
        } else if top_w == 1 {
            Expr::bit_of(x, lo)
        } else {
            Expr::slice(x, x.ty.width - 1, lo)
        },
    );
    out.push((top, lo));
    out
}

/// Learning constants as `localparam`s (names in capitals, as in the model's
/// `Constants`), declared once per module.
#[derive(Debug, Clone)]
pub struct Consts {
    learning_rate: Sig,
    synapse_decay: Sig,
    short_evaporation: Sig,
    long_evaporation: Sig,
    short_reinforcement: [Sig; 4],
    long_reinforcement: [Sig; 4],
    consolidation_growth: [Sig; 4],
    consolidation_strength: Sig,
    consolidation_retain: Sig,
    consolidation_threshold: Sig,
    maturity_scale: Sig,
    lr_floor: Sig,
    half_trail: Sig,
    short_share: Sig,
    long_share: Sig,
}

/// The datapath emitter for one configuration.
#[derive(Debug, Clone)]
pub struct Emit<'a> {
    /// Formats and constants.
    pub dp: &'a Datapath,
    /// Value types.
    pub t: Types,
    /// Constant parameters.
    pub k: Consts,
}

impl<'a> Emit<'a> {
    /// Declares the constants in `m` and returns the emitter.
    pub fn new(m: &mut Module, c: &HwConfig, dp: &'a Datapath) -> Emit<'a> {
        let kt = ty(dp.f.constant);
        let q = &dp.k;
        let f = &dp.f;
        let mut p = |name: &str, t: Ty, v: i64| m.param(name, t, v as i128);
        let k = Consts {
            learning_rate: p("LEARNING_RATE", kt, q.learning_rate),
            synapse_decay: p("SYNAPSE_DECAY", kt, q.synapse_decay),
            short_evaporation: p("SHORT_EVAPORATION", kt, q.short_evaporation),
            long_evaporation: p("LONG_EVAPORATION", kt, q.long_evaporation),
            short_reinforcement: std::array::from_fn(|i| {
                p(
                    &format!("SHORT_REINFORCEMENT_M{i}"),
                    kt,
                    q.short_reinforcement[i],
                )
            }),
            long_reinforcement: std::array::from_fn(|i| {
                p(
                    &format!("LONG_REINFORCEMENT_M{i}"),
                    kt,
                    q.long_reinforcement[i],
                )
            }),
            consolidation_growth: std::array::from_fn(|i| {
                p(
                    &format!("CONSOLIDATION_GROWTH_M{i}"),
                    kt,
                    q.consolidation_growth[i],
                )
            }),
            consolidation_strength: p("CONSOLIDATION_STRENGTH", kt, q.consolidation_strength),
            consolidation_retain: p("CONSOLIDATION_RETAIN", ty(f.factor), q.consolidation_retain),
            consolidation_threshold: p(
                "CONSOLIDATION_THRESHOLD",
                ty(f.trail),
                q.consolidation_threshold,
            ),
            maturity_scale: p("MATURITY_SCALE", kt, q.maturity_scale),
            lr_floor: p("LR_FLOOR", ty(f.plasticity), q.lr_floor),
            half_trail: p("HALF_TRAIL", ty(f.trail), q.half_trail),
            short_share: p("SHORT_SHARE", kt, q.short_share),
            long_share: p("LONG_SHARE", kt, q.long_share),
        };
        Emit {
            dp,
            t: Types::new(c, dp),
            k,
        }
    }

    /// `a * b`, exact. In the shared pipeline a register that a shared multiplier
    /// unit fills during the step ([`crate::shared`]). In the deep pipeline the product is registered, an operand that
    /// comes out of logic is registered first, and an operand wider than a DSP
    /// multiplier takes (18 bits signed) is split into 17-bit limbs whose partial
    /// products are registered and summed in the next clock: one multiplier per clock.
    pub fn product(&self, m: &mut Module, name: &str, a: &Sig, b: &Sig) -> Sig {
        if m.is_shared() {
            return crate::shared::mul(m, name, a, b);
        }
        if !m.pipelined() {
            return m.mul(name, a, b);
        }
        let a = m.cut_logic(a);
        let b = m.cut_logic(b);
        let signed = a.ty.signed || b.ty.signed;
        let la = limbs(m, &format!("{name}_a"), &a, signed);
        let lb = limbs(m, &format!("{name}_b"), &b, signed);
        if la.len() == 1 && lb.len() == 1 {
            let p = m.mul(name, &a, &b);
            return m.cut(&p);
        }
        let exact = Ty {
            width: a.ty.width + b.ty.width + u32::from(signed && !(a.ty.signed && b.ty.signed)),
            signed,
        };
        let mut sum: Option<Sig> = None;
        for (i, (x, sx)) in la.iter().enumerate() {
            for (j, (y, sy)) in lb.iter().enumerate() {
                let p = m.mul(&format!("{name}_pp{i}{j}"), x, y);
                let p = m.cut(&p);
                let p = m.shift_left(&format!("{name}_pp{i}{j}_at"), &p, sx + sy);
                let p = m.cast(&p, exact);
                sum = Some(match sum {
                    None => p,
                    Some(acc) => {
                        let t = m.add(&format!("{name}_sum{i}{j}"), &acc, &p);
                        m.cast(&t, exact)
                    }
                });
            }
        }
        let total = sum.expect("at least one limb");
        let out = m.wire(name, exact, &total);
        m.cut(&out)
    }

    /// One of four per-mode constants by the 2-bit mode code (held in a register in the
    /// deep pipeline: only APPLY reads these, long after the mode is latched).
    pub fn by_mode(&self, m: &mut Module, name: &str, mode: &Sig, c: &[Sig; 4]) -> Sig {
        let b0 = m.wire(&format!("{name}_m0"), Ty::BIT, Expr::bit_of(mode, 0));
        let b1 = m.wire(&format!("{name}_m1"), Ty::BIT, Expr::bit_of(mode, 1));
        let lo = m.mux(&format!("{name}_lo"), &b0, &c[1], &c[0]);
        let hi = m.mux(&format!("{name}_hi"), &b0, &c[3], &c[2]);
        let v = m.mux(name, &b1, &hi, &lo);
        let largest = c.iter().map(|x| m.bound_of(x)).max().flatten();
        if let (Some(big), true) = (largest, c.iter().all(|x| m.bound_of(x).is_some())) {
            m.bound(&v, big);
        }
        m.hold(&v)
    }

    /// The signal backend of the rounding points on `m`.
    fn on<'m>(&'m self, m: &'m mut Module) -> Signals<'m, 'a> {
        Signals { m, e: self }
    }

    /// [`points::signal_mean`].
    pub fn signal_mean(&self, m: &mut Module, acc: &Sig, rr: &Sig) -> Sig {
        points::signal_mean(&mut self.on(m), self.dp, acc, rr)
    }

    /// [`points::cofire_mean`].
    pub fn cofire_mean(&self, m: &mut Module, acc: &Sig, rr: &Sig) -> Sig {
        points::cofire_mean(&mut self.on(m), self.dp, acc, rr)
    }

    /// [`points::bias_direction`].
    pub fn bias_direction(&self, m: &mut Module, err_sum: &Sig, rr: &Sig) -> Sig {
        points::bias_direction(&mut self.on(m), self.dp, err_sum, rr)
    }

    /// [`points::effective_trail`].
    pub fn effective_trail(&self, m: &mut Module, short: &Sig, long: &Sig) -> Sig {
        points::effective_trail(&mut self.on(m), self.dp, short, long)
    }

    /// [`points::gate`].
    pub fn gate(&self, m: &mut Module, effective: &Sig, recip: &Sig) -> Sig {
        points::gate(&mut self.on(m), self.dp, effective, recip)
    }

    /// [`points::signal`].
    pub fn signal(&self, m: &mut Module, mean: &Sig, gate: &Sig, valid: &Sig) -> Sig {
        points::signal(&mut self.on(m), self.dp, mean, gate, valid)
    }

    /// [`points::score`].
    pub fn score(&self, m: &mut Module, signal: &Sig, long: &Sig) -> Sig {
        points::score(&mut self.on(m), self.dp, signal, long)
    }

    /// [`points::bonus`].
    pub fn bonus(&self, m: &mut Module, max_score: &Sig) -> Sig {
        points::bonus(&mut self.on(m), self.dp, max_score)
    }

    /// [`points::plasticity`].
    pub fn plasticity(&self, m: &mut Module, c: &Sig, valid: &Sig) -> Sig {
        points::plasticity(&mut self.on(m), self.dp, c, valid)
    }

    /// [`points::reinforcement_base`].
    pub fn reinforcement_base(&self, m: &mut Module, cofire: &Sig, signal: &Sig) -> Sig {
        points::reinforcement_base(&mut self.on(m), self.dp, cofire, signal)
    }

    /// [`points::weight_step`].
    pub fn weight_step(&self, m: &mut Module, w: &Sig, signal: &Sig, q: &Sig, step: &Sig) -> Sig {
        points::weight_step(&mut self.on(m), self.dp, w, signal, q, step)
    }

    /// The three retention factors (weight, short trail, long trail), [`points::retain`].
    pub fn retains(&self, m: &mut Module, q: &Sig) -> (Sig, Sig, Sig) {
        let k = &self.k;
        let mut x = self.on(m);
        (
            points::retain(&mut x, self.dp, "retain_w", &k.synapse_decay, q),
            points::retain(&mut x, self.dp, "retain_s", &k.short_evaporation, q),
            points::retain(&mut x, self.dp, "retain_l", &k.long_evaporation, q),
        )
    }

    /// [`points::weight_decay`].
    pub fn weight_decay(&self, m: &mut Module, stepped: &Sig, retain: &Sig, decays: &Sig) -> Sig {
        points::weight_decay(&mut self.on(m), self.dp, stepped, retain, decays)
    }

    /// [`points::trail`], with the per-mode reinforcement constant chosen by `mode`.
    #[allow(clippy::too_many_arguments)]
    pub fn trail(
        &self,
        m: &mut Module,
        name: &str,
        t: &Sig,
        retain: &Sig,
        base: &Sig,
        long: bool,
        mode: &Sig,
        accepted: &Sig,
        valid: &Sig,
    ) -> Sig {
        let rates = if long {
            &self.k.long_reinforcement
        } else {
            &self.k.short_reinforcement
        };
        let rate = self.by_mode(m, &format!("{name}_rate"), mode, rates);
        let i = points::TrailInputs {
            t,
            retain,
            base,
            rate: &rate,
            accepted,
            valid,
        };
        points::trail(&mut self.on(m), self.dp, name, i)
    }

    /// [`points::maturity`].
    pub fn maturity(&self, m: &mut Module, long_new: &Sig) -> Sig {
        points::maturity(&mut self.on(m), self.dp, long_new)
    }

    /// [`points::consolidation`], with the per-mode growth constant chosen by `mode`.
    #[allow(clippy::too_many_arguments)]
    pub fn consolidation(
        &self,
        m: &mut Module,
        c: &Sig,
        long_new: &Sig,
        base: &Sig,
        mode: &Sig,
        accepted: &Sig,
        consolidate: &Sig,
        valid: &Sig,
    ) -> Sig {
        let i = points::ConsolidationInputs {
            c,
            long_new,
            base,
            accepted,
            consolidate,
            valid,
        };
        let growth = &self.k.consolidation_growth;
        points::consolidation(&mut self.on(m), self.dp, i, |x| {
            self.by_mode(x.m, "consol_growth", mode, growth)
        })
    }

    /// [`points::bias_step`].
    pub fn bias_step(&self, m: &mut Module, b: &Sig, bd: &Sig, descent: &Sig) -> Sig {
        points::bias_step(&mut self.on(m), self.dp, b, bd, descent)
    }
}

/// The rounding points' backend on signals: each operation a wire of `m` (products on
/// DSP blocks, limbs or shared units, [`Emit::product`]; pipeline registers at the
/// points' cuts).
pub struct Signals<'m, 'a> {
    m: &'m mut Module,
    e: &'m Emit<'a>,
}

impl Fixed for Signals<'_, '_> {
    type V = Sig;
    fn product(&mut self, name: Name<'_>, a: &Sig, b: &Sig) -> Sig {
        self.e.product(self.m, &name.text(), a, b)
    }
    fn add(&mut self, name: Name<'_>, a: &Sig, b: &Sig) -> Sig {
        self.m.add(&name.text(), a, b)
    }
    fn sub(&mut self, name: Name<'_>, a: &Sig, b: &Sig) -> Sig {
        self.m.sub(&name.text(), a, b)
    }
    fn abs(&mut self, name: Name<'_>, a: &Sig) -> Sig {
        self.m.abs(&name.text(), a)
    }
    fn min(&mut self, name: Name<'_>, a: &Sig, b: &Sig) -> Sig {
        self.m.min(&name.text(), a, b)
    }
    fn max(&mut self, name: Name<'_>, a: &Sig, b: &Sig) -> Sig {
        self.m.max(&name.text(), a, b)
    }
    fn rescale(&mut self, name: Name<'_>, x: &Sig, from: u32, to: u32) -> Sig {
        if from > to {
            // Rounding reads bit `from - to - 1` and above: a shared product need not
            // keep the bits below.
            crate::shared::product_low_unused(self.m, x, from - to - 1);
            let r = self.m.round_shift(&name.text(), x, from - to);
            self.m.cut(&r)
        } else if from == to {
            x.clone()
        } else {
            self.m.shift_left(&name.text(), x, to - from)
        }
    }
    fn rescale_floor(&mut self, name: Name<'_>, x: &Sig, from: u32, to: u32) -> Sig {
        if from >= to {
            crate::shared::product_low_unused(self.m, x, from - to);
            self.m.shift_right(&name.text(), x, from - to)
        } else {
            self.m.shift_left(&name.text(), x, to - from)
        }
    }
    fn clamp(&mut self, name: Name<'_>, x: &Sig, lo: i128, hi: i128, into: Quantity) -> Sig {
        self.m.clamp(&name.text(), x, lo, hi, self.e.t.of(into))
    }
    fn cast(&mut self, x: &Sig, into: Quantity) -> Sig {
        self.m.cast(x, self.e.t.of(into))
    }
    fn select(&mut self, name: Name<'_>, c: &Sig, a: &Sig, b: &Sig) -> Sig {
        self.m.mux(&name.text(), c, a, b)
    }
    fn konst(&mut self, name: Name<'_>, v: i128) -> Sig {
        self.m.konst(&name.text(), v, false)
    }
    fn literal(&mut self, name: Name<'_>, v: i128, into: Quantity) -> Sig {
        let t = self.e.t.of(into);
        self.m.wire(&name.text(), t, Expr::lit(t, v))
    }
    fn constant(&mut self, k: Const) -> Sig {
        let c = &self.e.k;
        match k {
            Const::LearningRate => &c.learning_rate,
            Const::ConsolidationStrength => &c.consolidation_strength,
            Const::ConsolidationRetain => &c.consolidation_retain,
            Const::ConsolidationThreshold => &c.consolidation_threshold,
            Const::MaturityScale => &c.maturity_scale,
            Const::LrFloor => &c.lr_floor,
            Const::HalfTrail => &c.half_trail,
            Const::ShortShare => &c.short_share,
            Const::LongShare => &c.long_share,
        }
        .clone()
    }
    fn cut(&mut self, x: &Sig) -> Sig {
        self.m.cut(x)
    }
    fn saturation(&mut self, _: SatPoint, _: &Sig, _: i128, _: i128, _: Option<&Sig>) {}
}

/// Operand names of [`arith_module`], in port order.
pub const ARITH_INPUTS: [&str; 27] = [
    "acc",
    "co_acc",
    "err_sum",
    "rows_recip",
    "trail_s",
    "trail_p",
    "recip",
    "effective",
    "mean",
    "gate",
    "valid",
    "signal",
    "max_score",
    "consol",
    "cofire",
    "q",
    "w",
    "step",
    "retain",
    "decays",
    "base",
    "mode",
    "accepted",
    "long_new",
    "consolidate",
    "b",
    "bd",
];

/// A combinational module exposing every datapath point on ports (inputs
/// [`ARITH_INPUTS`], then `descent`; outputs named `o_<point>`), for co-simulation of the
/// datapath alone.
#[allow(clippy::vec_init_then_push)] // each output is built in order on the same module
pub fn arith_module(c: &HwConfig, dp: &Datapath, header: &[String]) -> Module {
    let mut m = Module::new("lpn_arith", header);
    let e0 = Types::new(c, dp);
    let t = e0;
    let i = |m: &mut Module, n: &str, ty: Ty| m.port(Dir::Input, n, ty);
    let acc = i(&mut m, "acc", t.acc);
    let co_acc = i(&mut m, "co_acc", t.co_acc);
    let err_sum = i(&mut m, "err_sum", t.err_sum);
    let rr = i(&mut m, "rows_recip", t.rows_recip);
    let short = i(&mut m, "trail_s", t.trail);
    let long = i(&mut m, "trail_p", t.trail);
    let recip = i(&mut m, "recip", t.gate_recip);
    let effective = i(&mut m, "effective", t.effective);
    let mean = i(&mut m, "mean", t.mean);
    let gate = i(&mut m, "gate", t.gate);
    let valid = i(&mut m, "valid", Ty::BIT);
    let signal = i(&mut m, "signal", t.signal);
    let max_score = i(&mut m, "max_score", t.score);
    let consol = i(&mut m, "consol", t.consolidation);
    let cofire = i(&mut m, "cofire", t.cofire);
    let q = i(&mut m, "q", t.plasticity);
    let w = i(&mut m, "w", t.weight);
    let step = i(&mut m, "step", Ty::BIT);
    let retain = i(&mut m, "retain", t.factor);
    let decays = i(&mut m, "decays", Ty::BIT);
    let base = i(&mut m, "base", t.base);
    let mode = i(&mut m, "mode", Ty::u(2));
    let accepted = i(&mut m, "accepted", Ty::BIT);
    let long_new = i(&mut m, "long_new", t.trail);
    let consolidate = i(&mut m, "consolidate", Ty::BIT);
    let b = i(&mut m, "b", t.weight);
    let bd = i(&mut m, "bd", t.signal);
    let descent = i(&mut m, "descent", Ty::BIT);
    let e = Emit::new(&mut m, c, dp);
    let mut outs: Vec<(&str, Sig)> = Vec::new();
    outs.push(("o_signal_mean", e.signal_mean(&mut m, &acc, &rr)));
    outs.push(("o_cofire_mean", e.cofire_mean(&mut m, &co_acc, &rr)));
    outs.push(("o_bias_direction", e.bias_direction(&mut m, &err_sum, &rr)));
    outs.push((
        "o_effective_trail",
        e.effective_trail(&mut m, &short, &long),
    ));
    outs.push(("o_gate", e.gate(&mut m, &effective, &recip)));
    outs.push(("o_signal", e.signal(&mut m, &mean, &gate, &valid)));
    outs.push(("o_score", e.score(&mut m, &signal, &long)));
    outs.push(("o_bonus", e.bonus(&mut m, &max_score)));
    outs.push(("o_plasticity", e.plasticity(&mut m, &consol, &valid)));
    outs.push((
        "o_reinforcement_base",
        e.reinforcement_base(&mut m, &cofire, &signal),
    ));
    outs.push((
        "o_weight_step",
        e.weight_step(&mut m, &w, &signal, &q, &step),
    ));
    let (rw, rs, rl) = e.retains(&mut m, &q);
    outs.push(("o_retain_w", rw));
    outs.push(("o_retain_s", rs));
    outs.push(("o_retain_l", rl));
    outs.push((
        "o_weight_decay",
        e.weight_decay(&mut m, &w, &retain, &decays),
    ));
    outs.push((
        "o_trail_short",
        e.trail(
            &mut m,
            "trail_short",
            &short,
            &retain,
            &base,
            false,
            &mode,
            &accepted,
            &valid,
        ),
    ));
    outs.push((
        "o_trail_long",
        e.trail(
            &mut m,
            "trail_long",
            &long,
            &retain,
            &base,
            true,
            &mode,
            &accepted,
            &valid,
        ),
    ));
    outs.push(("o_maturity", e.maturity(&mut m, &long_new)));
    outs.push((
        "o_consolidation",
        e.consolidation(
            &mut m,
            &consol,
            &long_new,
            &base,
            &mode,
            &accepted,
            &consolidate,
            &valid,
        ),
    ));
    outs.push(("o_bias_step", e.bias_step(&mut m, &b, &bd, &descent)));
    for (name, s) in outs {
        let port = m.port(Dir::Output, name, s.ty);
        m.assign(&port, &s);
    }
    m
}
