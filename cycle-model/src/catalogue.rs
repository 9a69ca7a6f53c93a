//! The rounding points and the state tolerances as tables, for `docs/architecture.md`
//! and `lpn hw points`.
//!
//! The rounding, clamp, saturation and multiply columns are not written here: each point
//! of [`crate::points`] is run on [`Trace`], a backend that records what the point does
//! instead of computing it, so the table says what the model and the generated RTL do for
//! the configuration at hand. Only the formula column is prose.

use crate::arith::{Datapath, SatPoint};
use crate::config::Formats;
use crate::engine::Phase;
use crate::image::StateField;
use crate::points::{self, ConsolidationInputs, Const, Fixed, Name, Quantity, TrailInputs};
use serde::Serialize;

/// A backend that records a point's structure: its multiplies, roundings, clamps and
/// counted saturations (values are `()`: nothing is computed).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Trace {
    /// Products taken.
    pub products: usize,
    /// Narrowing rescales rounding half up.
    pub half_up: usize,
    /// Narrowing rescales rounding down.
    pub floors: usize,
    /// Clamps: bounds in LSBs and the value kind clamped into.
    pub clamps: Vec<(i128, i128, Quantity)>,
    /// Saturations counted.
    pub saturations: Vec<SatPoint>,
}

impl Fixed for Trace {
    type V = ();
    fn product(&mut self, _: Name<'_>, _: &(), _: &()) {
        self.products += 1;
    }
    fn add(&mut self, _: Name<'_>, _: &(), _: &()) {}
    fn sub(&mut self, _: Name<'_>, _: &(), _: &()) {}
    fn abs(&mut self, _: Name<'_>, _: &()) {}
    fn min(&mut self, _: Name<'_>, _: &(), _: &()) {}
    fn max(&mut self, _: Name<'_>, _: &(), _: &()) {}
    fn rescale(&mut self, _: Name<'_>, _: &(), from: u32, to: u32) {
        self.half_up += usize::from(to < from);
    }
    fn rescale_floor(&mut self, _: Name<'_>, _: &(), from: u32, to: u32) {
        self.floors += usize::from(to < from);
    }
    fn clamp(&mut self, _: Name<'_>, _: &(), lo: i128, hi: i128, into: Quantity) {
        self.clamps.push((lo, hi, into));
    }
    fn cast(&mut self, _: &(), _: Quantity) {}
    fn select(&mut self, _: Name<'_>, _: &(), _: &(), _: &()) {}
    fn konst(&mut self, _: Name<'_>, _: i128) {}
    fn literal(&mut self, _: Name<'_>, _: i128, _: Quantity) {}
    fn constant(&mut self, _: Const) {}
    fn cut(&mut self, _: &()) {}
    fn saturation(&mut self, point: SatPoint, _: &(), _: i128, _: i128, _: Option<&()>) {
        self.saturations.push(point);
    }
}

impl Quantity {
    /// The fraction bits of its values.
    pub fn frac(self, f: &Formats) -> u32 {
        match self {
            Quantity::Mean | Quantity::Signal | Quantity::Base => f.signal.frac,
            Quantity::Cofire => f.cofire.frac,
            Quantity::Effective | Quantity::Trail => f.trail.frac,
            Quantity::Gate => f.gate.frac,
            Quantity::Score => f.score.frac,
            Quantity::Plasticity => f.plasticity.frac,
            Quantity::Weight => f.weight.frac,
            Quantity::Factor => f.factor.frac,
            Quantity::Maturity => f.maturity.frac,
            Quantity::Consolidation => f.consolidation.frac,
        }
    }
}

/// How a point is computed: traced from [`crate::points`], or (the two reciprocals,
/// which are a ROM and a divider rather than datapath arithmetic) described.
enum How {
    Traced(fn(&mut Trace, &Datapath)),
    Described(&'static str),
}

/// One row of the rounding-point table.
struct Point {
    name: &'static str,
    formula: &'static str,
    how: How,
}

/// Every rounding point, in datapath order.
const POINTS: &[Point] = &[
    Point {
        name: "rows_recip",
        formula: "`1/R`",
        how: How::Described("nearest, ties even (ROM; the host for the model)"),
    },
    Point {
        name: "signal_mean",
        formula: "`acc * rows_recip` to the signal fraction, bounded to +-(2*clip + 1 LSB) (lossless: g >= 0.5)",
        how: How::Traced(|x, dp| {
            points::signal_mean(x, dp, &(), &());
        }),
    },
    Point {
        name: "cofire_mean",
        formula: "`acc * rows_recip` to cofire",
        how: How::Traced(|x, dp| {
            points::cofire_mean(x, dp, &(), &());
        }),
    },
    Point {
        name: "bias_direction",
        formula: "`sum err * rows_recip`; 0 without a bias",
        how: How::Traced(|x, dp| {
            points::bias_direction(x, dp, &(), &());
        }),
    },
    Point {
        name: "effective_trail",
        formula: "`S*ws' + P*wl'` (exactly P with the default weights)",
        how: How::Traced(|x, dp| {
            points::effective_trail(x, dp, &(), &());
        }),
    },
    Point {
        name: "gate_recip",
        formula: "`floor((valid << (trail.frac+recip.frac)) / max(mass, 1))`; 0 without valid slots",
        how: How::Described("floor; saturates (counted); the per-lane divider"),
    },
    Point {
        name: "gate",
        formula: "`0.5 + min(E*recip, 2)/2`; 1.0 with the gate off",
        how: How::Traced(|x, dp| {
            points::gate(x, dp, &(), &());
        }),
    },
    Point {
        name: "signal",
        formula: "`mean * g`; 0 on invalid slots",
        how: How::Traced(|x, dp| {
            points::signal(x, dp, &(), &(), &());
        }),
    },
    Point {
        name: "score",
        formula: "`abs(signal) * (0.5 + P)`",
        how: How::Traced(|x, dp| {
            points::score(x, dp, &(), &());
        }),
    },
    Point {
        name: "bonus",
        formula: "`max(max_score, 1)`",
        how: How::Traced(|x, dp| {
            points::bonus(x, dp, &());
        }),
    },
    Point {
        name: "plasticity",
        formula: "`max(1 - min(C*strength, 1), floor)`; 1 with consolidation off",
        how: How::Traced(|x, dp| {
            points::plasticity(x, dp, &(), &());
        }),
    },
    Point {
        name: "reinforcement_base",
        formula: "`min(cofire + abs(signal), 4)`",
        how: How::Traced(|x, dp| {
            points::reinforcement_base(x, dp, &(), &());
        }),
    },
    Point {
        name: "weight_step",
        formula: "`w + signal*q*lr` (validation makes its saturation unreachable)",
        how: How::Traced(|x, dp| {
            points::weight_step(x, dp, &(), &(), &(), &());
        }),
    },
    Point {
        name: "retain",
        formula: "`1 - rate*q`",
        how: How::Traced(|x, dp| {
            points::retain(x, dp, "retain", &(), &());
        }),
    },
    Point {
        name: "weight_decay",
        formula: "`stepped * retain`",
        how: How::Traced(|x, dp| {
            points::weight_decay(x, dp, &(), &(), &());
        }),
    },
    Point {
        name: "trail",
        formula: "`T*retain + [accepted] base*rate_m`; 0 on invalid slots",
        how: How::Traced(|x, dp| {
            let u = ();
            let i = TrailInputs {
                t: &u,
                retain: &u,
                base: &u,
                rate: &u,
                accepted: &u,
                valid: &u,
            };
            points::trail(x, dp, "trail", i);
        }),
    },
    Point {
        name: "maturity",
        formula: "`(P_new - threshold) * scale`",
        how: How::Traced(|x, dp| {
            points::maturity(x, dp, &());
        }),
    },
    Point {
        name: "consolidation",
        formula: "`C*(1-decay) + [consolidate, accepted] base*growth_m*maturity` (maturity's point included)",
        how: How::Traced(|x, dp| {
            let u = ();
            let i = ConsolidationInputs {
                c: &u,
                long_new: &u,
                base: &u,
                accepted: &u,
                consolidate: &u,
                valid: &u,
            };
            points::consolidation(x, dp, i, |_| ());
        }),
    },
    Point {
        name: "bias_step",
        formula: "`b + bd*lr` on a descent step",
        how: How::Traced(|x, dp| {
            points::bias_step(x, dp, &(), &(), &());
        }),
    },
];

/// The trace of the point named `name` on `dp` (`None` for an unknown or described
/// point).
pub fn trace(dp: &Datapath, name: &str) -> Option<Trace> {
    match POINTS.iter().find(|p| p.name == name)?.how {
        How::Traced(run) => Some(traced(run, dp)),
        How::Described(_) => None,
    }
}

/// What `run` (a point on [`Trace`]) does on `dp`.
fn traced(run: fn(&mut Trace, &Datapath), dp: &Datapath) -> Trace {
    let mut t = Trace::default();
    run(&mut t, dp);
    t
}

/// How often each traced point runs per slot in one update, and in which phase: the
/// normaliser in ACCUMULATE (its gate's effective trail and the score included), the
/// SELECT key's score, and APPLY's step, three retention factors, two trails, the
/// consolidation and the gate mass's effective trail; then per output. ACCUMULATE adds
/// two products per slot and row (`err * pre`, `|pre| * |post|`).
const PER_SLOT: &[(&str, Phase, u64)] = &[
    ("signal_mean", Phase::Accumulate, 1),
    ("cofire_mean", Phase::Accumulate, 1),
    ("effective_trail", Phase::Accumulate, 1),
    ("gate", Phase::Accumulate, 1),
    ("signal", Phase::Accumulate, 1),
    ("score", Phase::Accumulate, 1),
    ("score", Phase::Select, 1),
    ("plasticity", Phase::Apply, 1),
    ("reinforcement_base", Phase::Apply, 1),
    ("weight_step", Phase::Apply, 1),
    ("retain", Phase::Apply, 3),
    ("weight_decay", Phase::Apply, 1),
    ("trail", Phase::Apply, 2),
    ("consolidation", Phase::Apply, 1),
    ("effective_trail", Phase::Apply, 1),
];
const PER_OUTPUT: &[(&str, Phase, u64)] = &[
    ("bias_direction", Phase::Accumulate, 1),
    ("bias_step", Phase::Apply, 1),
];

/// Multiplies of one update by phase (see [`multiplies_by_phase`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PhaseMultiplies {
    /// ACCUMULATE: the row products and the normaliser.
    pub accumulate: u64,
    /// SELECT: the key's score.
    pub select: u64,
    /// APPLY: the learning step, trails, consolidation and bias.
    pub apply: u64,
}

impl PhaseMultiplies {
    /// All three phases.
    pub fn total(&self) -> u64 {
        self.accumulate + self.select + self.apply
    }

    /// One phase's (0 for idle and done).
    pub fn of(&self, phase: Phase) -> u64 {
        match phase {
            Phase::Accumulate => self.accumulate,
            Phase::Select => self.select,
            Phase::Apply => self.apply,
            Phase::Idle | Phase::Done => 0,
        }
    }
}

/// The multiplies one update of `rows` rows takes on a layer of `outputs` outputs and
/// `synapses` slots, by phase: two per slot and row in ACCUMULATE, plus each point's
/// products ([`Trace`]) as often as it runs. A lower bound of multiplier work: a product
/// wider than a device's multiplier takes several.
pub fn multiplies_by_phase(
    dp: &Datapath,
    outputs: usize,
    synapses: usize,
    rows: usize,
) -> PhaseMultiplies {
    let (outputs, synapses, rows) = (outputs as u64, synapses as u64, rows as u64);
    let mut m = PhaseMultiplies {
        accumulate: 2 * rows * synapses,
        ..PhaseMultiplies::default()
    };
    let lists = [(PER_SLOT, synapses), (PER_OUTPUT, outputs)];
    for (list, times) in lists {
        for &(name, phase, n) in list {
            let products = n * trace(dp, name).map_or(0, |t| t.products as u64) * times;
            match phase {
                Phase::Accumulate => m.accumulate += products,
                Phase::Select => m.select += products,
                _ => m.apply += products,
            }
        }
    }
    m
}

/// The multiplies of one update, all phases ([`multiplies_by_phase`]).
pub fn multiplies_per_update(dp: &Datapath, outputs: usize, synapses: usize, rows: usize) -> u64 {
    multiplies_by_phase(dp, outputs, synapses, rows).total()
}

/// A real value of `frac` fraction bits, as short as it is exact to 6 digits.
fn real(raw: i128, frac: u32) -> String {
    let v = raw as f64 / (1u64 << frac) as f64;
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

impl Trace {
    /// What the point rounds, clamps and counts, in words (real bounds in `f`'s formats).
    pub fn describe(&self, f: &Formats) -> String {
        let mut parts = Vec::new();
        match (self.half_up, self.floors) {
            (0, 0) => parts.push("exact".to_string()),
            (h, fl) => {
                if h == 1 {
                    parts.push("half up".into());
                } else if h > 1 {
                    parts.push(format!("half up ({h} roundings)"));
                }
                if fl > 0 {
                    parts.push("floor".into());
                }
            }
        }
        for &(lo, hi, q) in &self.clamps {
            let frac = q.frac(f);
            let clamp = if lo == -hi {
                format!("clamp +-{}", real(hi, frac))
            } else {
                format!("clamp [{}, {}]", real(lo, frac), real(hi, frac))
            };
            // A point made of others (consolidation reads maturity) may clamp alike twice.
            if !parts.contains(&clamp) {
                parts.push(clamp);
            }
        }
        if !self.saturations.is_empty() {
            parts.push("saturates (counted)".into());
        }
        parts.join("; ")
    }
}

/// The rounding-point table for `dp` (Markdown): each point's formula, what it rounds,
/// clamps and counts, and its multiplies.
pub fn points_table(dp: &Datapath) -> String {
    let mut s =
        String::from("| point | operation | rounding / bound | multiplies |\n|---|---|---|---|\n");
    for p in POINTS {
        let (rounding, products) = match p.how {
            How::Traced(run) => {
                let t = traced(run, dp);
                (t.describe(&dp.f), t.products.to_string())
            }
            How::Described(text) => (text.to_string(), "-".into()),
        };
        s += &format!(
            "| `{}` | {} | {rounding} | {products} |\n",
            p.name, p.formula
        );
    }
    s
}

/// The tolerance table (Markdown): each state field's format and its bound against the
/// f64 reference, the values `vectors` and the tests check.
pub fn tolerance_table(f: &Formats) -> String {
    let mut s = String::from("| field | format | bound (LSB of its format) |\n|---|---|---|\n");
    for field in StateField::ALL {
        s += &format!(
            "| {field} | {} | {} |\n",
            field.format(f),
            field.bound_lsb()
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dp(consolidation: f64) -> Datapath {
        let mut c = crate::preset("tiny").unwrap();
        c.learning.consolidation_strength = consolidation;
        Datapath::new(&c).unwrap()
    }

    #[test]
    fn a_trace_records_what_the_point_does() {
        let on = dp(1.0);
        let step = trace(&on, "weight_step").unwrap();
        assert_eq!(step.products, 2);
        assert_eq!((step.half_up, step.floors), (1, 0));
        assert_eq!(step.saturations, vec![SatPoint::WeightStep]);
        let score = trace(&on, "score").unwrap();
        assert_eq!((score.half_up, score.floors), (0, 1));
        // Consolidation reads maturity: its trace holds both points' roundings.
        let c = trace(&on, "consolidation").unwrap();
        let m = trace(&on, "maturity").unwrap();
        assert_eq!(c.products, 3 + m.products);
        assert_eq!(c.half_up, 2 + m.half_up);
        // Switched off, the point is a constant: nothing to round or multiply.
        let off = trace(&dp(0.0), "consolidation").unwrap();
        assert_eq!(off, Trace::default());
        assert!(trace(&on, "rows_recip").is_none());
        assert!(trace(&on, "no_such_point").is_none());
    }

    #[test]
    fn multiplies_count_accumulate_and_every_point() {
        let on = dp(1.0);
        let one_row = multiplies_per_update(&on, 1, 1, 1);
        let two_rows = multiplies_per_update(&on, 1, 1, 2);
        assert_eq!(two_rows - one_row, 2);
        // Per slot: 2 (accumulate) + the points' products; the consolidation point alone
        // has 4 with consolidation on and none with it off.
        let off = multiplies_per_update(&dp(0.0), 1, 1, 1);
        assert_eq!(one_row - off, 4 + 1);
        assert!(one_row > 20, "{one_row}");
        // Rows add to ACCUMULATE only; consolidation is APPLY's.
        let (a, b) = (
            multiplies_by_phase(&on, 1, 1, 1),
            multiplies_by_phase(&on, 1, 1, 2),
        );
        assert_eq!(
            (b.accumulate - a.accumulate, b.select, b.apply),
            (2, a.select, a.apply)
        );
        assert_eq!(
            a.apply - multiplies_by_phase(&dp(0.0), 1, 1, 1).apply,
            4 + 1
        );
        assert!(a.select > 0 && a.total() == one_row);
    }

    #[test]
    fn bounds_are_printed_in_real_units() {
        let on = dp(1.0);
        let d = trace(&on, "weight_decay").unwrap().describe(&on.f);
        let clip = on.k.weight_clip as f64 / f64::from(1u32 << on.f.weight.frac);
        assert_eq!(d, format!("half up; clamp +-{clip}"));
    }
}
