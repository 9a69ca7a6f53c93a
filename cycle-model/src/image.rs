//! The host's view of a layer in fixed point: static wiring (neighbour index, valid mask,
//! neighbor-follow near-sets) and learned state, quantised from and converted back to the
//! f64 reference's types. The engine loads these; golden vectors store them.

use lpn_golden::{Layer, LayerState, Matrix, Mode};
use serde::{Deserialize, Serialize};

use crate::arith::{Datapath, SatPoint, Saturations};
use crate::config::{HwConfig, SynLayout};
use crate::{Error, Result};

/// Static wiring of a layer, output-major (`o * K + k`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wiring {
    /// Input units.
    pub inputs: usize,
    /// Output units.
    pub outputs: usize,
    /// Slots per output.
    pub k: usize,
    /// Input read by each slot (0 on invalid slots).
    pub neighbors: Vec<u32>,
    /// 1 on valid slots.
    pub mask: Vec<u8>,
    /// Per slot, bit `j` set when valid slot `j` of the same output reads an input within
    /// `neighbor_follow_distance` of this slot's input (the frontier test, precomputed
    /// from layer positions by the host).
    pub near: Vec<u64>,
}

impl Wiring {
    /// The wiring of a reference layer; `distance` is the neighbor-follow distance.
    pub fn from_layer(layer: &Layer, distance: f64) -> Wiring {
        let (outputs, k) = (layer.outputs(), layer.k());
        let pos = layer.input_positions();
        let nbr = layer.neighbors();
        let mask = layer.mask();
        let mut near = vec![0u64; outputs * k];
        for o in 0..outputs {
            for a in 0..k {
                let i = o * k + a;
                if mask[i] == 0 {
                    continue;
                }
                for b in 0..k {
                    let j = o * k + b;
                    if mask[j] != 0
                        && lpn_golden::topology::distance(
                            pos[nbr[i] as usize],
                            pos[nbr[j] as usize],
                        ) <= distance
                    {
                        near[i] |= 1 << b;
                    }
                }
            }
        }
        Wiring {
            inputs: layer.inputs(),
            outputs,
            k,
            neighbors: nbr.to_vec(),
            mask: mask.to_vec(),
            near,
        }
    }

    /// Checks lengths and ranges against a configuration.
    pub fn check(&self, c: &HwConfig) -> Result<()> {
        let l = c.layer;
        if (self.inputs, self.outputs, self.k) != (l.inputs, l.outputs, l.k) {
            return Err(Error::new(format!(
                "wiring is {} inputs, {} outputs, K {} but the config's layer is {} inputs, {} outputs, K {}",
                self.inputs, self.outputs, self.k, l.inputs, l.outputs, l.k
            )));
        }
        let n = self.outputs * self.k;
        for (name, len) in [
            ("neighbors", self.neighbors.len()),
            ("mask", self.mask.len()),
            ("near", self.near.len()),
        ] {
            if len != n {
                return Err(Error::new(format!(
                    "wiring.{name}: expected {n} slots, got {len}"
                )));
            }
        }
        if let Some(i) = self
            .neighbors
            .iter()
            .position(|&j| j as usize >= self.inputs)
        {
            return Err(Error::new(format!(
                "wiring.neighbors[{i}] = {} is not an input (there are {})",
                self.neighbors[i], self.inputs
            )));
        }
        if let Some(i) = self.mask.iter().position(|&m| m > 1) {
            return Err(Error::new(format!("wiring.mask[{i}] must be 0 or 1")));
        }
        if let Some(i) = self
            .near
            .iter()
            .position(|&m| self.k < 64 && m >> self.k != 0)
        {
            return Err(Error::new(format!(
                "wiring.near[{i}] has bits beyond K = {}",
                self.k
            )));
        }
        Ok(())
    }

    /// Valid slots of output `o`.
    pub fn valid_count(&self, o: usize) -> u32 {
        self.mask[o * self.k..(o + 1) * self.k]
            .iter()
            .map(|&m| m as u32)
            .sum()
    }

    /// Valid-slot bit mask of output `o`.
    pub fn mask_bits(&self, o: usize) -> u64 {
        (0..self.k).fold(0, |acc, j| {
            acc | (u64::from(self.mask[o * self.k + j]) << j)
        })
    }
}

/// The learned state in raw fixed point (formats from the config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedState {
    /// Weights (weight format).
    pub weight: Vec<i64>,
    /// Short trails (trail format).
    pub short: Vec<i64>,
    /// Long trails (trail format).
    pub long: Vec<i64>,
    /// Consolidation (consolidation format).
    pub consolidation: Vec<i64>,
    /// Per-output bias (weight format); zeros when the layer has none.
    pub bias: Vec<i64>,
    /// 1 where the previous update accepted the slot.
    pub last_accepted: Vec<u8>,
}

/// A field of the learned state, as reports, vector files and tolerances name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateField {
    /// Synapse weights (weight format).
    Weight,
    /// Short trails (trail format).
    Short,
    /// Long trails (trail format).
    Long,
    /// Consolidation (consolidation format).
    Consolidation,
    /// Per-output biases (weight format).
    Bias,
}

impl std::fmt::Display for StateField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl StateField {
    /// Every field, in report order.
    pub const ALL: [StateField; 5] = [
        StateField::Weight,
        StateField::Short,
        StateField::Long,
        StateField::Consolidation,
        StateField::Bias,
    ];
    /// The per-slot fields (every one but the bias).
    pub const SLOTS: [StateField; 4] = [
        StateField::Weight,
        StateField::Short,
        StateField::Long,
        StateField::Consolidation,
    ];

    /// Its name in reports and files.
    pub fn name(self) -> &'static str {
        match self {
            StateField::Weight => "weight",
            StateField::Short => "short",
            StateField::Long => "long",
            StateField::Consolidation => "consolidation",
            StateField::Bias => "bias",
        }
    }

    /// Its fixed-point format.
    pub fn format(self, f: &crate::config::Formats) -> crate::Format {
        match self {
            StateField::Weight | StateField::Bias => f.weight,
            StateField::Short | StateField::Long => f.trail,
            StateField::Consolidation => f.consolidation,
        }
    }

    /// The largest one-update difference from the f64 reference, in LSBs of its format,
    /// on slots whose acceptance agrees (`docs/architecture.md`, "Fixed versus float").
    pub fn bound_lsb(self) -> f64 {
        match self {
            StateField::Consolidation => 4.0,
            _ => 2.0,
        }
    }

    /// Whether a configuration keeps it (fields it does not keep cannot affect
    /// learning and are not compared).
    pub fn kept(self, c: &crate::HwConfig) -> bool {
        match self {
            StateField::Short => c.stores_short(),
            StateField::Consolidation => c.stores_consolidation(),
            StateField::Bias => c.bias,
            _ => true,
        }
    }
}

impl FixedState {
    /// An all-zero state of `outputs` outputs with `k` slots each.
    pub fn zeros(outputs: usize, k: usize) -> FixedState {
        let n = outputs * k;
        FixedState {
            weight: vec![0; n],
            short: vec![0; n],
            long: vec![0; n],
            consolidation: vec![0; n],
            bias: vec![0; outputs],
            last_accepted: vec![0; n],
        }
    }

    /// The `syn` word of slot `i` ([`SynLayout`]).
    pub fn syn_word(&self, lay: &SynLayout, i: usize) -> u64 {
        let s = self;
        lay.weight.put(s.weight[i])
            | lay.long.put(s.long[i])
            | lay.short.map_or(0, |f| f.put(s.short[i]))
            | lay.consolidation.map_or(0, |f| f.put(s.consolidation[i]))
    }

    /// Sets slot `i` from its `syn` word (fields not stored read as 0).
    pub fn set_syn_word(&mut self, lay: &SynLayout, word: u64, i: usize) {
        let s = self;
        s.weight[i] = lay.weight.get(word, true);
        s.long[i] = lay.long.get(word, false);
        s.short[i] = lay.short.map_or(0, |f| f.get(word, false));
        s.consolidation[i] = lay.consolidation.map_or(0, |f| f.get(word, false));
    }

    /// Quantises a reference state; saturations are counted as input saturations.
    pub fn quantize(
        s: &LayerState,
        outputs: usize,
        dp: &Datapath,
        sat: &mut Saturations,
    ) -> FixedState {
        let mut q = |fmt: crate::Format, v: &[f64]| quantize_all(fmt, v, sat);
        FixedState {
            weight: q(dp.f.weight, &s.weight),
            short: q(dp.f.trail, &s.short),
            long: q(dp.f.trail, &s.long),
            consolidation: q(dp.f.consolidation, &s.consolidation),
            bias: match &s.bias {
                Some(b) => q(dp.f.weight, b),
                None => vec![0; outputs],
            },
            last_accepted: s.last_accepted.clone(),
        }
    }

    /// The state as reals, in the reference's type.
    pub fn to_float(&self, dp: &Datapath) -> LayerState {
        let f = |fmt: crate::Format, v: &[i64]| v.iter().map(|&x| fmt.to_f64(x)).collect();
        LayerState {
            weight: f(dp.f.weight, &self.weight),
            short: f(dp.f.trail, &self.short),
            long: f(dp.f.trail, &self.long),
            consolidation: f(dp.f.consolidation, &self.consolidation),
            bias: dp.bias_on.then(|| f(dp.f.weight, &self.bias)),
            last_accepted: self.last_accepted.clone(),
        }
    }

    /// A field's words.
    pub fn field(&self, f: StateField) -> &[i64] {
        match f {
            StateField::Weight => &self.weight,
            StateField::Short => &self.short,
            StateField::Long => &self.long,
            StateField::Consolidation => &self.consolidation,
            StateField::Bias => &self.bias,
        }
    }

    /// Checks lengths and that every word lies in its format.
    pub fn check(&self, w: &Wiring, dp: &Datapath) -> Result<()> {
        let n = w.outputs * w.k;
        for (name, v, fmt) in StateField::SLOTS.map(|f| (f.name(), self.field(f), f.format(&dp.f)))
        {
            if v.len() != n {
                return Err(Error::new(format!(
                    "state.{name}: expected {n} slots, got {}",
                    v.len()
                )));
            }
            if let Some(i) = v.iter().position(|&x| fmt.saturate(x).1) {
                return Err(Error::new(format!(
                    "state.{name}[{i}] = {} is outside {fmt}",
                    v[i]
                )));
            }
        }
        if self.bias.len() != w.outputs {
            return Err(Error::new(format!(
                "state.bias: expected {} outputs, got {}",
                w.outputs,
                self.bias.len()
            )));
        }
        if let Some(i) = self.bias.iter().position(|&x| dp.f.weight.saturate(x).1) {
            return Err(Error::new(format!(
                "state.bias[{i}] is outside {}",
                dp.f.weight
            )));
        }
        if self.last_accepted.len() != n || self.last_accepted.iter().any(|&a| a > 1) {
            return Err(Error::new(format!(
                "state.last_accepted: expected {n} flags of 0 or 1"
            )));
        }
        Ok(())
    }

    /// The gate reciprocal of every output for this state, as the engine's divider
    /// computes it after an update.
    pub fn gate_recips(&self, w: &Wiring, dp: &Datapath, sat: &mut Saturations) -> Vec<i64> {
        (0..w.outputs)
            .map(|o| {
                let mass: i64 = (0..w.k)
                    .map(|j| o * w.k + j)
                    .filter(|&i| w.mask[i] != 0)
                    .map(|i| dp.effective_trail(self.short[i], self.long[i]))
                    .sum();
                dp.gate_recip(w.valid_count(o), mass, sat)
            })
            .collect()
    }
}

/// The inputs of one update, quantised. Matrices are row-major.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepInput {
    /// Batch rows `R`.
    pub rows: usize,
    /// Pre-synaptic activity, `rows x inputs` (activation format).
    pub pre: Vec<i64>,
    /// Post-synaptic activity, `rows x outputs` (activation format).
    pub post: Vec<i64>,
    /// Local error, `rows x outputs` (error format).
    pub err: Vec<i64>,
    /// Per-output budget: `floor(B)` clamped to `1..=K`.
    pub budget: usize,
    /// Mode of the step.
    pub mode: Mode,
    /// Whether consolidation may grow.
    pub consolidate: bool,
}

impl StepInput {
    /// Quantises reference inputs (row-major matrices); saturations are counted.
    #[allow(clippy::too_many_arguments)]
    pub fn quantize(
        pre: &Matrix,
        post: &Matrix,
        err: &Matrix,
        budget: f64,
        mode: Mode,
        consolidate: bool,
        k: usize,
        dp: &Datapath,
        sat: &mut Saturations,
    ) -> StepInput {
        let mut q = |fmt: crate::Format, m: &Matrix| quantize_all(fmt, m.as_slice(), sat);
        StepInput {
            rows: pre.rows(),
            pre: q(dp.f.activation, pre),
            post: q(dp.f.activation, post),
            err: q(dp.f.error, err),
            budget: hardware_budget(budget, k),
            mode,
            consolidate,
        }
    }

    /// Checks the shape against a configuration and every word against its format.
    pub fn check(&self, c: &HwConfig, dp: &Datapath) -> Result<()> {
        let l = c.layer;
        if self.rows == 0 || self.rows > c.max_rows {
            return Err(Error::new(format!(
                "rows = {} must be in 1..={} (max_rows of the config)",
                self.rows, c.max_rows
            )));
        }
        if self.budget == 0 || self.budget > l.k {
            return Err(Error::new(format!(
                "budget = {} must be in 1..={} (K)",
                self.budget, l.k
            )));
        }
        for (name, v, n, fmt) in [
            ("pre", &self.pre, self.rows * l.inputs, dp.f.activation),
            ("post", &self.post, self.rows * l.outputs, dp.f.activation),
            ("err", &self.err, self.rows * l.outputs, dp.f.error),
        ] {
            if v.len() != n {
                return Err(Error::new(format!(
                    "{name}: expected {n} values ({} rows), got {}",
                    self.rows,
                    v.len()
                )));
            }
            if let Some(i) = v.iter().position(|&x| fmt.saturate(x).1) {
                return Err(Error::new(format!(
                    "{name}[{i}] = {} is outside {fmt}",
                    v[i]
                )));
            }
        }
        Ok(())
    }

    /// The inputs as reference matrices (pre, post, err; row-major).
    pub fn to_float(&self, c: &HwConfig, dp: &Datapath) -> (Matrix, Matrix, Matrix) {
        let m = |v: &[i64], cols: usize, fmt: crate::Format| {
            let mut out = Matrix::zeros(self.rows, cols);
            for (o, &x) in out.as_mut_slice().iter_mut().zip(v) {
                *o = fmt.to_f64(x);
            }
            out
        };
        (
            m(&self.pre, c.layer.inputs, dp.f.activation),
            m(&self.post, c.layer.outputs, dp.f.activation),
            m(&self.err, c.layer.outputs, dp.f.error),
        )
    }
}

/// The budget register: `floor(B)`, at least 1, at most K (the per-output `min(., valid)`
/// happens in the engine).
pub fn hardware_budget(budget: f64, k: usize) -> usize {
    let b = budget.floor().max(1.0);
    if b >= k as f64 {
        k
    } else {
        b as usize
    }
}

/// Quantises host values into `fmt`, counting each saturation as an input saturation.
fn quantize_all(fmt: crate::Format, values: &[f64], sat: &mut Saturations) -> Vec<i64> {
    values
        .iter()
        .map(|&x| {
            let (raw, saturated) = fmt.quantize(x);
            if saturated {
                sat.count(SatPoint::Input);
            }
            raw
        })
        .collect()
}
