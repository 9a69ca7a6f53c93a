//! Random configurations, layers and inputs for property tests and soak runs (the
//! engine against its functional twin here, the RTL against the engine in `lpn-rtl`).

use lpn_golden::rng::Mulberry32;
use lpn_golden::Mode;

use crate::image::{FixedState, StepInput, Wiring};
use crate::{preset, Format, HwConfig};

/// A seeded random source for test cases (mulberry32, as everywhere in the project).
#[derive(Debug, Clone)]
pub struct Rng(pub Mulberry32);

impl Rng {
    /// A generator with this seed.
    pub fn new(seed: u32) -> Rng {
        Rng(Mulberry32::new(seed))
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.0.next_f64() * n as f64) as usize).min(n - 1)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.0.next_f64() < p
    }
    /// A raw word of a format: mostly uniform, often a limit or zero.
    pub fn word(&mut self, f: Format) -> i64 {
        match self.below(10) {
            0 => f.max_raw(),
            1 => f.min_raw(),
            2 => 0,
            _ => f.min_raw() + (self.0.next_f64() * (f.max_raw() - f.min_raw()) as f64) as i64,
        }
    }
    /// A word in `[0, hi]` with the limits likely.
    pub fn word_to(&mut self, hi: i64) -> i64 {
        match self.below(8) {
            0 => hi,
            1 => 0,
            _ => (self.0.next_f64() * hi as f64) as i64,
        }
    }
}

/// A random valid configuration: 1-40 inputs, 1-12 outputs, K 1-10, 1-4 lanes (ragged
/// included), 1-6 rows (2 or 4 of them per ACCUMULATE clock in every third compact or
/// deep configuration whose row count allows), sometimes narrow formats, consolidation,
/// a short trail, no gate or no bias.
pub fn config(rng: &mut Rng, case: usize) -> HwConfig {
    let mut c = preset("tiny").unwrap();
    c.name = format!("random-{case}");
    let inputs = rng.range(1, 40);
    let outputs = rng.range(1, 12);
    let k = rng.range(1, inputs.min(10));
    c.layer.inputs = inputs;
    c.layer.outputs = outputs;
    c.layer.k = k;
    c.lanes = rng.range(1, outputs.min(4));
    c.max_rows = rng.range(1, 6);
    c.gate = rng.chance(0.8);
    c.bias = rng.chance(0.7);
    // Every other configuration takes the deep pipeline, every fourth the shared one
    // (chosen by the case number so that the random stream, and with it the other
    // choices, stay what they were).
    if case % 2 == 1 {
        c.pipeline = crate::config::Pipeline::Deep;
    } else if case % 4 == 2 {
        c.pipeline = crate::config::Pipeline::Shared;
    }
    if rng.chance(0.3) {
        c.formats.weight = Format::signed(12, 8);
        c.formats.trail = Format::unsigned(12, 8);
        c.formats.signal = Format::signed(12, 10);
        c.formats.gate_recip = Format::unsigned(16, 8);
    }
    let l = &mut c.learning;
    if rng.chance(0.5) {
        l.consolidation_strength = [0.5, 1.0, 3.0][rng.below(3)];
        l.consolidation_threshold = 1.0;
        l.max_pheromone = 4.0;
        l.consolidation_growth = 0.4;
    }
    if rng.chance(0.4) {
        l.short_weight = 0.5;
    }
    l.learning_rate = [0.05, 0.3, 1.0][rng.below(3)];
    // Row-parallel ACCUMULATE, by the case number (the random stream stays as it was):
    // the largest power of two up to 2 or 4 that divides max_rows and leaves every
    // lane a row group of its own (the lanes share `pre`); the batches still draw any
    // row count, so the last group is often partly empty, or whole groups are.
    if case % 3 == 0
        && c.pipeline != crate::config::Pipeline::Shared
        && c.max_rows.is_power_of_two()
    {
        let most = 2 << ((case / 3) % 2);
        let mut p = (1 << c.max_rows.trailing_zeros()).min(most);
        while p > 1 && c.lanes > c.max_rows / p {
            p /= 2;
        }
        c.row_parallel = p;
    }
    c.validate().expect("random configurations are valid");
    c
}

/// A random wiring (some invalid slots, random near sets) and a random state with words
/// anywhere in their formats.
pub fn layer(rng: &mut Rng, c: &HwConfig) -> (Wiring, FixedState) {
    let (inputs, outputs, k) = (c.layer.inputs, c.layer.outputs, c.layer.k);
    let n = outputs * k;
    let mask: Vec<u8> = (0..n).map(|_| u8::from(rng.chance(0.85))).collect();
    let mut near = vec![0u64; n];
    for o in 0..outputs {
        for a in 0..k {
            if mask[o * k + a] == 0 {
                continue;
            }
            for b in 0..k {
                if mask[o * k + b] != 0 && (a == b || rng.chance(0.3)) {
                    near[o * k + a] |= 1 << b;
                }
            }
        }
    }
    let wiring = Wiring {
        inputs,
        outputs,
        k,
        neighbors: (0..n).map(|_| rng.below(inputs) as u32).collect(),
        mask: mask.clone(),
        near,
    };
    let f = &c.formats;
    let state = FixedState {
        weight: (0..n).map(|_| rng.word(f.weight)).collect(),
        short: (0..n).map(|_| rng.word(f.trail)).collect(),
        long: (0..n).map(|_| rng.word(f.trail)).collect(),
        consolidation: (0..n).map(|_| rng.word_to(f.consolidation.one())).collect(),
        bias: (0..outputs)
            .map(|_| if c.bias { rng.word(f.weight) } else { 0 })
            .collect(),
        last_accepted: (0..n)
            .map(|i| mask[i] & u8::from(rng.chance(0.3)))
            .collect(),
    };
    (wiring, state)
}

/// Random step inputs: small values mostly, format limits sometimes, any mode, budget
/// and consolidate flag.
pub fn input(rng: &mut Rng, c: &HwConfig) -> StepInput {
    let rows = rng.range(1, c.max_rows);
    let f = &c.formats;
    let (inputs, outputs) = (c.layer.inputs, c.layer.outputs);
    let modes = [
        Mode::Warmup,
        Mode::Exploit,
        Mode::NeighborFollow,
        Mode::Steady,
    ];
    // Small values most of the time so that the clip does not flatten every signal.
    let small = |rng: &mut Rng, fmt: Format| {
        if rng.chance(0.15) {
            rng.word(fmt)
        } else {
            let v = (rng.0.next_f64() * 2.0 - 1.0) * 0.6;
            fmt.q(v)
        }
    };
    StepInput {
        rows,
        pre: (0..rows * inputs)
            .map(|_| small(rng, f.activation))
            .collect(),
        post: (0..rows * outputs)
            .map(|_| small(rng, f.activation))
            .collect(),
        err: (0..rows * outputs)
            .map(|_| {
                if rng.chance(0.1) {
                    0
                } else {
                    small(rng, f.error)
                }
            })
            .collect(),
        budget: rng.range(1, c.layer.k),
        mode: modes[rng.below(4)],
        consolidate: rng.chance(0.5),
    }
}
