//! One sparse local layer: wiring, state, gate, forward, feedback and the local update
//! (spec sections 2-4).
//!
//! Arithmetic follows the public port of the paper's code operation for operation
//! (including where it multiplies by a reciprocal instead of dividing, and the order of
//! every sum), so trajectories agree with it to the last bit wherever the platform's
//! `exp`/`ln`/`sin`/`cos` agree.

use serde::{Deserialize, Serialize};

/// Largest number of units in one layer. Wiring compares every output with every input,
/// so far larger layers would not finish anyway; the limit turns an allocation failure
/// into a clear error.
pub const MAX_UNITS: usize = 1 << 22;

/// Largest number of slots (outputs x K) in one layer: a few GB of state and scratch.
pub const MAX_SLOTS: usize = 1 << 26;

use crate::config::LearningConfig;
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::rng::Gaussian;
use crate::structural::StructuralConfig;
use crate::topology::{self, Shape, WiringSpec};

/// The regime a training step runs in, chosen by budget adaptation (spec section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// First step of a network: no previous loss to compare with.
    Warmup,
    /// The loss fell: budget shrinks, trails are reinforced harder, consolidation may grow.
    Exploit,
    /// The loss rose: budget grows and selection favours slots near last step's updates.
    NeighborFollow,
    /// The loss stayed within tolerance.
    Steady,
}

impl Mode {
    /// The name used in scenario results (`warmup`, `exploit`, `neighbor-follow`, `steady`).
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Warmup => "warmup",
            Mode::Exploit => "exploit",
            Mode::NeighborFollow => "neighbor-follow",
            Mode::Steady => "steady",
        }
    }

    /// Reinforcement multiplier of the mode (spec section 4, step 7).
    pub fn reinforcement_factor(self) -> f64 {
        match self {
            Mode::Exploit => 1.2,
            Mode::NeighborFollow => 0.9,
            Mode::Warmup | Mode::Steady => 1.0,
        }
    }
}

/// `min(max(x, lo), hi)` with the original's NaN behaviour: a NaN stays NaN (Rust's
/// `f64::max` would silently replace it by the bound): both comparisons are false.
#[inline(always)]
pub(crate) fn clamp(x: f64, lo: f64, hi: f64) -> f64 {
    if x < lo {
        lo
    } else if x > hi {
        hi
    } else {
        x
    }
}

/// Everything needed to build one layer.
#[derive(Debug, Clone)]
pub struct LayerSpec<'a> {
    /// Number of input units.
    pub inputs: usize,
    /// Number of output units.
    pub outputs: usize,
    /// Upper bound on slots per output (`K = min(max_neighbors, inputs)`).
    pub max_neighbors: usize,
    /// Optional Euclidean connection radius.
    pub connection_radius: Option<f64>,
    /// Number of default tag groups.
    pub tag_count: usize,
    /// Largest allowed tag difference between an output and its inputs.
    pub tag_distance: u64,
    /// Layout of the inputs.
    pub input_shape: Shape,
    /// Layout of the outputs.
    pub output_shape: Shape,
    /// Explicit input tags (else defaults from the layout).
    pub input_tags: Option<&'a [i64]>,
    /// Explicit output tags (else defaults from the layout).
    pub output_tags: Option<&'a [i64]>,
    /// Whether the pheromone gate scales effective weights.
    pub gate: bool,
    /// Short-trail weight in the effective trail.
    pub short_weight: f64,
    /// Long-trail weight in the effective trail.
    pub long_weight: f64,
    /// Whether outputs have a bias.
    pub bias: bool,
    /// Seed of the weight initialisation.
    pub seed: u32,
}

impl LayerSpec<'_> {
    /// A spec with the spec's defaults (K = 8, 4 tag groups, gate and bias on, seed 0).
    pub fn new(inputs: usize, outputs: usize) -> Self {
        LayerSpec {
            inputs,
            outputs,
            max_neighbors: 8,
            connection_radius: None,
            tag_count: 4,
            tag_distance: 0,
            input_shape: Shape::Line,
            output_shape: Shape::Line,
            input_tags: None,
            output_tags: None,
            gate: true,
            short_weight: 0.0,
            long_weight: 1.0,
            bias: true,
            seed: 0,
        }
    }
}

/// The learned state of a layer. Per-slot vectors are output-major (`o*K + k`).
#[derive(Debug, Clone, PartialEq)]
pub struct LayerState {
    /// Weights `w`.
    pub weight: Vec<f64>,
    /// Short pheromone trail `S`.
    pub short: Vec<f64>,
    /// Long pheromone trail `P`.
    pub long: Vec<f64>,
    /// Consolidation `C` in `[0, 1]`.
    pub consolidation: Vec<f64>,
    /// Per-output bias `b`, if the layer has one.
    pub bias: Option<Vec<f64>>,
    /// 1 where the previous update accepted the slot (drives the neighbor-follow frontier).
    pub last_accepted: Vec<u8>,
}

/// Parameters of one local update that come from the network step.
#[derive(Debug, Clone, Copy)]
pub struct UpdateParams<'a> {
    /// Per-output budget (floored, at least 1).
    pub budget: f64,
    /// Mode of this step.
    pub mode: Mode,
    /// Whether consolidation may grow this step.
    pub consolidate: bool,
    /// The learning configuration.
    pub config: &'a LearningConfig,
}

/// Working buffers of the update, kept between steps so the hot loop does not allocate.
#[derive(Debug, Clone, Default)]
struct Scratch {
    signal: Vec<f64>,
    cofire: Vec<f64>,
    selected: Vec<f64>,
    plasticity: Vec<f64>,
    candidate: Vec<f64>,
    reinforcement: Vec<f64>,
    bias_direction: Vec<f64>,
    scores: Vec<(usize, f64)>,
    frontier: Vec<u8>,
    recent: Vec<[f64; 2]>,
}

/// One sparse local layer.
#[derive(Debug, Clone)]
pub struct Layer {
    inputs: usize,
    outputs: usize,
    k: usize,
    neighbors: Vec<u32>,
    mask: Vec<u8>,
    // The mask as 0.0/1.0, and the valid slots of each output: derived once from `mask`,
    // which never changes after wiring.
    mask_f: Vec<f64>,
    valid_count: Vec<u32>,
    input_positions: Vec<[f64; 2]>,
    output_positions: Vec<[f64; 2]>,
    input_tags: Vec<i64>,
    output_tags: Vec<i64>,
    tag_distance: u64,
    in_degree: Vec<f64>,
    sqrt_in_degree: Vec<f64>,
    gate_enabled: bool,
    short_weight: f64,
    long_weight: f64,
    state: LayerState,
    // Derived from `state`; refreshed after every change so forward and feedback are pure.
    gate: Vec<f64>,
    effective: Vec<f64>,
    scratch: Scratch,
}

impl Layer {
    /// Wire and initialise a layer (spec section 2).
    pub fn new(spec: &LayerSpec<'_>, layer_index: usize) -> Result<Self> {
        if spec.inputs == 0 {
            return Err(Error::invalid("inputs", "a layer needs at least one input"));
        }
        if spec.outputs == 0 {
            return Err(Error::invalid(
                "outputs",
                "a layer needs at least one output",
            ));
        }
        if spec.max_neighbors == 0 {
            return Err(Error::invalid("max_neighbors", "must be at least 1"));
        }
        let slots = spec
            .outputs
            .saturating_mul(spec.max_neighbors.min(spec.inputs));
        if spec.inputs.max(spec.outputs) > MAX_UNITS || slots > MAX_SLOTS {
            return Err(Error::invalid(
                "outputs",
                format!(
                    "{} inputs and {} outputs ({slots} slots) exceed the limits of {} units and {} slots",
                    spec.inputs,
                    spec.outputs,
                    MAX_UNITS,
                    MAX_SLOTS
                ),
            ));
        }
        if spec.tag_count > topology::MAX_TAG_COUNT {
            return Err(Error::invalid(
                "tag_count",
                format!(
                    "{} is above the limit of {}",
                    spec.tag_count,
                    topology::MAX_TAG_COUNT
                ),
            ));
        }
        if let Some(r) = spec.connection_radius {
            if !r.is_finite() {
                return Err(Error::invalid("connection_radius", "not a finite number"));
            }
        }
        for (name, w) in [
            ("short_weight", spec.short_weight),
            ("long_weight", spec.long_weight),
        ] {
            if !w.is_finite() {
                return Err(Error::invalid(name, "not a finite number"));
            }
        }
        let input_positions = spec.input_shape.positions(spec.inputs);
        let output_positions = spec.output_shape.positions(spec.outputs);
        let input_tags = topology::resolve_tags(
            spec.input_tags,
            spec.input_shape,
            spec.inputs,
            spec.tag_count,
            "input_tags",
        )?;
        let output_tags = topology::resolve_tags(
            spec.output_tags,
            spec.output_shape,
            spec.outputs,
            spec.tag_count,
            "output_tags",
        )?;
        let wiring = topology::wire(
            &WiringSpec {
                input_positions: &input_positions,
                output_positions: &output_positions,
                input_tags: &input_tags,
                output_tags: &output_tags,
                max_neighbors: spec.max_neighbors,
                tag_distance: spec.tag_distance,
                connection_radius: spec.connection_radius,
            },
            layer_index,
        )?;
        let k = wiring.k;
        let size = spec.outputs * k;

        // Weights are drawn in slot order, invalid slots draw nothing; the original
        // multiplies by 1/sqrt(K) rather than dividing, which matters in the last bit.
        let mut gaussian = Gaussian::new(spec.seed);
        let scale = 1.0 / (k.max(1) as f64).sqrt();
        let mut weight = vec![0.0; size];
        let mut long = vec![0.0; size];
        let mut short = vec![0.0; size];
        for i in 0..size {
            if wiring.mask[i] != 0 {
                weight[i] = gaussian.sample() * scale;
                long[i] = 1.0;
                short[i] = 1.0;
            }
        }

        let mask_f = wiring.mask.iter().map(|&m| f64::from(m)).collect();
        let valid_count = wiring
            .mask
            .chunks(k.max(1))
            .map(|c| c.iter().map(|&m| u32::from(m)).sum())
            .collect();
        let mut layer = Layer {
            inputs: spec.inputs,
            outputs: spec.outputs,
            k,
            neighbors: wiring.neighbors,
            mask: wiring.mask,
            mask_f,
            valid_count,
            input_positions,
            output_positions,
            input_tags,
            output_tags,
            tag_distance: spec.tag_distance,
            in_degree: Vec::new(),
            sqrt_in_degree: Vec::new(),
            gate_enabled: spec.gate,
            short_weight: spec.short_weight,
            long_weight: spec.long_weight,
            state: LayerState {
                weight,
                short,
                long,
                consolidation: vec![0.0; size],
                bias: spec.bias.then(|| vec![0.0; spec.outputs]),
                last_accepted: vec![0; size],
            },
            gate: vec![0.0; size],
            effective: vec![0.0; size],
            scratch: Scratch::default(),
        };
        layer.refresh_in_degree();
        layer.refresh_derived();
        Ok(layer)
    }

    /// Recomputes the input in-degrees (valid slots reading each input, at least 1) and
    /// their square roots from the neighbour table.
    fn refresh_in_degree(&mut self) {
        self.in_degree.clear();
        self.in_degree.resize(self.inputs, 0.0);
        for (&j, &m) in self.neighbors.iter().zip(&self.mask) {
            if m != 0 {
                self.in_degree[j as usize] += 1.0;
            }
        }
        for d in &mut self.in_degree {
            if *d < 1.0 {
                *d = 1.0;
            }
        }
        self.sqrt_in_degree = self.in_degree.iter().map(|d| d.sqrt()).collect();
    }

    /// Tags of the input units.
    pub fn input_tags(&self) -> &[i64] {
        &self.input_tags
    }

    /// Tags of the output units.
    pub fn output_tags(&self) -> &[i64] {
        &self.output_tags
    }

    /// One structural plasticity pass (see [`crate::structural`]) in feature-major
    /// layout: `pre_t` is the layer's input (`inputs x rows`) and `err_t` its local error
    /// (`outputs x rows`) on the current batch. Returns the number of rewired slots.
    pub fn rewire_t(
        &mut self,
        pre_t: &Matrix,
        err_t: &Matrix,
        cfg: &StructuralConfig,
    ) -> Result<usize> {
        cfg.validate()?;
        if pre_t.rows() != self.inputs
            || err_t.rows() != self.outputs
            || pre_t.cols() != err_t.cols()
        {
            return Err(Error::invalid(
                "pre",
                format!(
                    "expected {} x R inputs and {} x R errors, got {} x {} and {} x {}",
                    self.inputs,
                    self.outputs,
                    pre_t.rows(),
                    pre_t.cols(),
                    err_t.rows(),
                    err_t.cols()
                ),
            ));
        }
        let rows = pre_t.cols();
        if rows == 0 {
            return Ok(0);
        }
        let k = self.k;
        let mut rewired = 0;
        let mut prunable = Vec::with_capacity(k);
        let mut candidates: Vec<(usize, f64)> = Vec::new();
        for o in 0..self.outputs {
            let base = o * k;
            prunable.clear();
            prunable.extend((base..base + k).filter(|&i| {
                self.mask[i] != 0
                    && self.state.long[i] < cfg.long_below
                    && self.state.weight[i].abs() < cfg.weight_below
                    && self.state.consolidation[i] <= cfg.consolidation_at_most
            }));
            if prunable.is_empty() {
                continue;
            }
            let connected = |j: usize| {
                (base..base + k).any(|i| self.mask[i] != 0 && self.neighbors[i] as usize == j)
            };
            let e = err_t.row(o);
            candidates.clear();
            for j in 0..self.inputs {
                if self.output_tags[o].abs_diff(self.input_tags[j]) > self.tag_distance
                    || connected(j)
                {
                    continue;
                }
                let mut sum = 0.0;
                for (&er, &xr) in e.iter().zip(pre_t.row(j)) {
                    sum += er * xr;
                }
                let score = (sum / rows as f64).abs();
                if score > 0.0 {
                    candidates.push((j, score));
                }
            }
            // Best first; the sort is stable, so equal scores keep input order.
            candidates.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal));
            for (&i, &(j, _)) in prunable.iter().zip(&candidates) {
                self.neighbors[i] = j as u32;
                self.state.weight[i] = 0.0;
                self.state.short[i] = 1.0;
                self.state.long[i] = 1.0;
                self.state.consolidation[i] = 0.0;
                self.state.last_accepted[i] = 0;
                rewired += 1;
            }
            self.refresh_output(o);
        }
        if rewired > 0 {
            self.refresh_in_degree();
        }
        Ok(rewired)
    }

    /// Row-major convenience over [`Layer::rewire_t`]: `pre` is `rows x inputs`, `err`
    /// is `rows x outputs`.
    pub fn rewire(&mut self, pre: &Matrix, err: &Matrix, cfg: &StructuralConfig) -> Result<usize> {
        self.check_cols(pre, self.inputs, "pre")?;
        self.check_cols(err, self.outputs, "err")?;
        self.rewire_t(&pre.transpose(), &err.transpose(), cfg)
    }

    /// Number of input units.
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// Number of output units.
    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// Slots per output, `K`.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Input read by each slot (output-major; 0 on invalid slots).
    pub fn neighbors(&self) -> &[u32] {
        &self.neighbors
    }

    /// 1 on connected slots.
    pub fn mask(&self) -> &[u8] {
        &self.mask
    }

    /// Positions of the input units.
    pub fn input_positions(&self) -> &[[f64; 2]] {
        &self.input_positions
    }

    /// Positions of the output units.
    pub fn output_positions(&self) -> &[[f64; 2]] {
        &self.output_positions
    }

    /// Number of valid slots reading each input (at least 1).
    pub fn in_degree(&self) -> &[f64] {
        &self.in_degree
    }

    /// The learned state.
    pub fn state(&self) -> &LayerState {
        &self.state
    }

    /// Change the state through `edit`; gate and effective weights are recomputed after.
    /// Vectors must keep their lengths (checked: a length change is an error and the
    /// state is left as `edit` made it only if the lengths hold).
    pub fn edit_state<R>(&mut self, edit: impl FnOnce(&mut LayerState) -> R) -> Result<R> {
        let mut state = self.state.clone();
        let out = edit(&mut state);
        let size = self.outputs * self.k;
        for (name, len) in [
            ("weight", state.weight.len()),
            ("short", state.short.len()),
            ("long", state.long.len()),
            ("consolidation", state.consolidation.len()),
            ("last_accepted", state.last_accepted.len()),
        ] {
            if len != size {
                return Err(Error::invalid(
                    name,
                    format!("expected {size} slots, got {len}"),
                ));
            }
        }
        match (&state.bias, &self.state.bias) {
            (Some(b), Some(_)) if b.len() != self.outputs => {
                return Err(Error::invalid(
                    "bias",
                    format!("expected {} values, got {}", self.outputs, b.len()),
                ));
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(Error::invalid(
                    "bias",
                    "cannot add or remove the bias of a built layer",
                ));
            }
            _ => {}
        }
        self.state = state;
        self.refresh_derived();
        Ok(out)
    }

    /// The pheromone gate `g` of every slot for the current state (spec section 3).
    pub fn gate(&self) -> &[f64] {
        &self.gate
    }

    /// Effective weights `W = w * mask * g` for the current state.
    pub fn effective_weight(&self) -> &[f64] {
        &self.effective
    }

    fn refresh_derived(&mut self) {
        for o in 0..self.outputs {
            self.refresh_output(o);
        }
    }

    /// Recomputes the gate and effective weights of output `o` from its state.
    #[inline(always)]
    fn refresh_output(&mut self, o: usize) {
        let slots = o * self.k..(o + 1) * self.k;
        let mask = &self.mask[slots.clone()];
        let gate = &mut self.gate[slots.clone()];
        if !self.gate_enabled {
            gate.fill(1.0);
        } else {
            let total = self.short_weight + self.long_weight;
            let (short, long) = (
                &self.state.short[slots.clone()],
                &self.state.long[slots.clone()],
            );
            let mut valid = 0usize;
            let mut mass = 0.0;
            for j in 0..mask.len() {
                let value = if mask[j] != 0 {
                    valid += 1;
                    let e = if total <= 0.0 {
                        long[j]
                    } else {
                        (short[j] * self.short_weight + long[j] * self.long_weight) / total
                    };
                    e.max(0.0)
                } else {
                    0.0
                };
                gate[j] = value;
                mass += value;
            }
            let valid = valid.max(1) as f64;
            if mass < 1e-6 {
                mass = 1e-6;
            }
            for g in gate.iter_mut() {
                *g = 0.5 + 0.5 * clamp(*g / mass * valid, 0.0, 2.0);
            }
        }
        let weight = &self.state.weight[slots.clone()];
        for (((e, &w), &m), &g) in self.effective[slots]
            .iter_mut()
            .zip(weight)
            .zip(mask)
            .zip(gate.iter())
        {
            *e = w * f64::from(m) * g;
        }
    }

    fn check_cols(&self, m: &Matrix, cols: usize, name: &str) -> Result<()> {
        if m.cols() != cols {
            return Err(Error::invalid(
                name,
                format!("expected {cols} columns, got {}", m.cols()),
            ));
        }
        Ok(())
    }

    /// Forward pass into `out` (resized to `rows x outputs`): `z = x W + b` over valid
    /// slots (spec section 3). Row-major convenience over [`Layer::forward_t`].
    pub fn forward_into(&self, x: &Matrix, out: &mut Matrix) -> Result<()> {
        self.check_cols(x, self.inputs, "x")?;
        via_feature_major(x, out, |x_t, z_t| self.forward_t(x_t, z_t))
    }

    /// Forward pass in feature-major layout: `x_t` is `inputs x rows`, `z_t` becomes
    /// `outputs x rows`. Every sum runs over the valid slots in slot order, then adds the
    /// bias, exactly as the row-major definition; the rows are independent, so the inner
    /// loop runs over rows and vectorises.
    pub fn forward_t(&self, x_t: &Matrix, z_t: &mut Matrix) -> Result<()> {
        if x_t.rows() != self.inputs {
            return Err(Error::invalid(
                "x",
                format!("expected {} inputs, got {}", self.inputs, x_t.rows()),
            ));
        }
        const W: usize = 8;
        let rows = x_t.cols();
        z_t.reshape(self.outputs, rows);
        for o in 0..self.outputs {
            let slots = o * self.k..(o + 1) * self.k;
            let bias = self.state.bias.as_ref().map(|b| b[o]);
            // W rows at a time in registers: each sum still runs over the valid slots in
            // slot order starting from 0, then adds the bias.
            let mut r = 0;
            while r < rows {
                let width = W.min(rows - r);
                let mut acc = [0.0f64; W];
                for ((&m, &input), &w) in self.mask[slots.clone()]
                    .iter()
                    .zip(&self.neighbors[slots.clone()])
                    .zip(&self.effective[slots.clone()])
                {
                    if m != 0 {
                        let x = &x_t.row(input as usize)[r..r + width];
                        if width == W {
                            for q in 0..W {
                                acc[q] += x[q] * w;
                            }
                        } else {
                            for q in 0..width {
                                acc[q] += x[q] * w;
                            }
                        }
                    }
                }
                let z = &mut z_t.row_mut(o)[r..r + width];
                for (zr, a) in z.iter_mut().zip(acc) {
                    *zr = match bias {
                        Some(b) => a + b,
                        None => a,
                    };
                }
                r += width;
            }
        }
        Ok(())
    }

    /// Forward pass returning a new matrix.
    pub fn forward(&self, x: &Matrix) -> Result<Matrix> {
        let mut out = Matrix::default();
        self.forward_into(x, &mut out)?;
        Ok(out)
    }

    /// Feedback of an output-side signal `e` (rows x outputs) to the inputs, into `out`:
    /// `f[j] = sum_{slots reading j} e[o] W[o,k] / sqrt(in_degree(j))`. Row-major
    /// convenience over [`Layer::feedback_t`].
    pub fn feedback_into(&self, e: &Matrix, out: &mut Matrix) -> Result<()> {
        self.check_cols(e, self.outputs, "error")?;
        via_feature_major(e, out, |e_t, f_t| self.feedback_t(e_t, f_t))
    }

    /// Feedback in feature-major layout: `e_t` is `outputs x rows`, `f_t` becomes
    /// `inputs x rows`. Each input's sum runs over (output, slot) in order, as in the
    /// row-major definition.
    pub fn feedback_t(&self, e_t: &Matrix, f_t: &mut Matrix) -> Result<()> {
        if e_t.rows() != self.outputs {
            return Err(Error::invalid(
                "error",
                format!("expected {} outputs, got {}", self.outputs, e_t.rows()),
            ));
        }
        let rows = e_t.cols();
        f_t.reshape(self.inputs, rows);
        f_t.as_mut_slice().fill(0.0);
        for o in 0..self.outputs {
            let e = e_t.row(o);
            for i in o * self.k..(o + 1) * self.k {
                if self.mask[i] != 0 {
                    let w = self.effective[i];
                    for (fr, &er) in f_t.row_mut(self.neighbors[i] as usize).iter_mut().zip(e) {
                        *fr += er * w;
                    }
                }
            }
        }
        for (j, d) in self.sqrt_in_degree.iter().enumerate() {
            for fr in f_t.row_mut(j) {
                *fr /= d;
            }
        }
        Ok(())
    }

    /// The local update of spec section 4 on a batch: `pre` (rows x inputs), `post` and
    /// `err` (rows x outputs). Returns the number of accepted slots. Row-major
    /// convenience over [`Layer::local_update_t`].
    pub fn local_update(
        &mut self,
        pre: &Matrix,
        post: &Matrix,
        err: &Matrix,
        p: &UpdateParams<'_>,
    ) -> Result<usize> {
        self.check_cols(pre, self.inputs, "pre")?;
        self.check_cols(post, self.outputs, "post")?;
        self.check_cols(err, self.outputs, "err")?;
        self.local_update_t(&pre.transpose(), &post.transpose(), &err.transpose(), p)
    }

    /// Step 1 of [`Layer::local_update_t`]: the signal and co-firing sums over rows, in
    /// a register-blocked kernel eight slots at a time. Invalid slots read input 0 and
    /// accumulate values that step 2 zeroes, which is cheaper than a branch per slot
    /// and row.
    fn accumulate(&self, s: &mut Scratch, pre_t: &Matrix, post_t: &Matrix, err_t: &Matrix) {
        let k = self.k;
        let batch = Batch {
            pre_t,
            post_t,
            err_t,
        };
        for o in 0..self.outputs {
            let base = o * k;
            let mut slot = 0;
            while slot + 8 <= k {
                batch.accumulate::<8>(
                    o,
                    base + slot,
                    &self.neighbors,
                    &mut s.signal,
                    &mut s.cofire,
                );
                slot += 8;
            }
            while slot + 4 <= k {
                batch.accumulate::<4>(
                    o,
                    base + slot,
                    &self.neighbors,
                    &mut s.signal,
                    &mut s.cofire,
                );
                slot += 4;
            }
            while slot < k {
                batch.accumulate::<1>(
                    o,
                    base + slot,
                    &self.neighbors,
                    &mut s.signal,
                    &mut s.cofire,
                );
                slot += 1;
            }
        }
    }

    /// Step 3 of [`Layer::local_update_t`]: the budgeted top-k selection, output by
    /// output, into `s.selected`. Returns the number of selected slots.
    fn select(&self, s: &mut Scratch, p: &UpdateParams<'_>) -> usize {
        let (cfg, k, size) = (p.config, self.k, self.outputs * self.k);
        let mut selected_count = 0usize;
        let budget = p.budget.floor().max(1.0) as usize;
        s.selected[..size].fill(0.0);
        for o in 0..self.outputs {
            let valid = self.valid_count[o] as usize;
            if valid == 0 {
                continue;
            }
            let slots = o * k..(o + 1) * k;
            let (mask, signal, long) = (
                &self.mask[slots.clone()],
                &s.signal[slots.clone()],
                &self.state.long[slots.clone()],
            );
            s.scores.clear();
            let mut max_score = f64::NEG_INFINITY;
            for j in 0..k {
                if mask[j] != 0 {
                    let score = signal[j].abs() * (0.5 + long[j]);
                    s.scores.push((j, score));
                    // Scores are >= 0 or NaN; f64::max keeps the larger and skips a NaN,
                    // as `if score > max` does, without a branch.
                    max_score = max_score.max(score);
                }
            }
            if max_score <= 0.0 {
                continue;
            }
            if p.mode == Mode::NeighborFollow
                && frontier_of(
                    &mut s.frontier,
                    &mut s.recent,
                    mask,
                    &self.neighbors[slots.clone()],
                    &self.state.last_accepted[slots.clone()],
                    &self.input_positions,
                    cfg.neighbor_follow_distance,
                )
            {
                let bonus = max_score.max(1.0);
                for (slot, score) in s.scores.iter_mut() {
                    if s.frontier[*slot] != 0 {
                        *score += bonus;
                    }
                }
            }
            for &(slot, _) in top_k_stable(&mut s.scores, budget.min(valid)) {
                s.selected[o * k + slot] = 1.0;
                selected_count += 1;
            }
        }

        selected_count
    }

    /// The local update in feature-major layout: `pre_t` is `inputs x rows`, `post_t`
    /// and `err_t` are `outputs x rows`. Returns the number of accepted slots.
    ///
    /// The sums over rows run in a register-blocked kernel, eight slots at a time; the
    /// selection runs output by output; every other step is a flat, branch-free loop over
    /// all slots. The directional derivative is summed in slot order, as the original
    /// sums it, and each slot sees exactly the original's operations in the original's
    /// order, so results are bit-identical to the straightforward formulation.
    pub fn local_update_t(
        &mut self,
        pre_t: &Matrix,
        post_t: &Matrix,
        err_t: &Matrix,
        p: &UpdateParams<'_>,
    ) -> Result<usize> {
        if pre_t.rows() != self.inputs {
            return Err(Error::invalid(
                "pre",
                format!("expected {} inputs, got {}", self.inputs, pre_t.rows()),
            ));
        }
        for (m, name) in [(post_t, "post"), (err_t, "err")] {
            if m.rows() != self.outputs {
                return Err(Error::invalid(
                    name,
                    format!("expected {} outputs, got {}", self.outputs, m.rows()),
                ));
            }
        }
        let rows = pre_t.cols();
        if rows == 0 {
            return Err(Error::invalid("pre", "an update needs at least one row"));
        }
        if post_t.cols() != rows || err_t.cols() != rows {
            return Err(Error::invalid(
                "post",
                format!(
                    "pre has {rows} rows but post has {} and err {}",
                    post_t.cols(),
                    err_t.cols()
                ),
            ));
        }
        let cfg = p.config;
        let k = self.k;
        let size = self.outputs * k;
        let mut s = std::mem::take(&mut self.scratch);
        // Every slot of these is written before it is read.
        for v in [
            &mut s.signal,
            &mut s.cofire,
            &mut s.plasticity,
            &mut s.candidate,
        ] {
            v.resize(size, 0.0);
        }
        s.selected.resize(size, 0.0);
        s.frontier.resize(k, 0);

        // 1. Accumulate over rows, rows in order (the sum order is part of the contract).
        self.accumulate(&mut s, pre_t, post_t, err_t);

        // The per-slot steps are flat loops over every slot without data-dependent
        // branches, so they vectorise; only the selection walks output by output.
        let mask_f = &self.mask_f[..size];

        // 2. Normalise by rows (as a multiplication by 1/R), gate and clip.
        let inv_rows = 1.0 / rows as f64;
        let clip = cfg.signal_clip;
        for (((sg, co), &g), &m) in s.signal[..size]
            .iter_mut()
            .zip(&mut s.cofire[..size])
            .zip(&self.gate[..size])
            .zip(mask_f)
        {
            let normalised = clamp(*sg * inv_rows * g, -clip, clip);
            let cofire = *co * inv_rows;
            *sg = if m != 0.0 { normalised } else { 0.0 };
            *co = if m != 0.0 { cofire } else { 0.0 };
        }

        // 3. Budgeted top-k selection, output by output.
        let selected_count = self.select(&mut s, p);

        // 4. Plasticity.
        let consolidating = cfg.consolidation_strength > 0.0;
        if consolidating {
            for ((q, &c), &m) in s.plasticity[..size]
                .iter_mut()
                .zip(&self.state.consolidation)
                .zip(mask_f)
            {
                let protection = clamp(c * cfg.consolidation_strength, 0.0, 1.0);
                let value = (1.0 - protection).max(cfg.consolidation_lr_floor);
                *q = if m != 0.0 { value } else { 0.0 };
            }
        } else {
            s.plasticity[..size].fill(1.0);
        }

        // 5. Candidate step and directional derivative (summed in slot order).
        let (signal, selected, plasticity) = (
            &s.signal[..size],
            &s.selected[..size],
            &s.plasticity[..size],
        );
        for (((d, &sg), &sel), &q) in s.candidate[..size]
            .iter_mut()
            .zip(signal)
            .zip(selected)
            .zip(plasticity)
        {
            *d = sg * sel * q;
        }
        let mut derivative = 0.0;
        for (&sg, &d) in signal.iter().zip(&s.candidate[..size]) {
            derivative += -sg * d;
        }
        if self.state.bias.is_some() {
            s.bias_direction.clear();
            s.bias_direction.resize(self.outputs, 0.0);
            for (o, acc) in s.bias_direction.iter_mut().enumerate() {
                for &e in err_t.row(o) {
                    *acc += e;
                }
            }
            for bd in &mut s.bias_direction {
                *bd = clamp(*bd / rows as f64, -cfg.signal_clip, cfg.signal_clip);
            }
            for &bd in &s.bias_direction {
                derivative += -bd * bd;
            }
        }
        let descent = derivative.is_finite() && derivative < 0.0;
        let accepted_count = if descent { selected_count } else { 0 };
        // accepted = selected * accepted_scale, exactly 0 or 1.
        let accepted_scale = if descent { 1.0 } else { 0.0 };

        // 6. Weights. With something accepted the step is a descent, so accepted ==
        // selected; valid slots that were not accepted decay.
        let clip = cfg.weight_clip;
        let weight = &mut self.state.weight[..size];
        if accepted_count > 0 {
            for ((((w, &d), &q), &sel), &m) in weight
                .iter_mut()
                .zip(&s.candidate[..size])
                .zip(plasticity)
                .zip(selected)
                .zip(mask_f)
            {
                let stepped = *w + cfg.learning_rate * d;
                let decayed = stepped * (1.0 - cfg.synapse_decay * q);
                *w = clamp(
                    if m != 0.0 && sel == 0.0 {
                        decayed
                    } else {
                        stepped
                    },
                    -clip,
                    clip,
                );
            }
        } else {
            for w in weight.iter_mut() {
                *w = clamp(*w, -clip, clip);
            }
        }

        // 7. Reinforcement and trails.
        let rates = cfg.trail_rates();
        let factor = p.mode.reinforcement_factor();
        let (lo, hi) = (cfg.min_pheromone, cfg.max_pheromone);
        s.reinforcement.resize(size, 0.0);
        for (((((r, short), long), (&sg, &co)), (&sel, &q)), &m) in s.reinforcement[..size]
            .iter_mut()
            .zip(&mut self.state.short[..size])
            .zip(&mut self.state.long[..size])
            .zip(signal.iter().zip(&s.cofire[..size]))
            .zip(selected.iter().zip(plasticity))
            .zip(mask_f)
        {
            let acc = sel * accepted_scale;
            *r = (co + sg.abs()).min(4.0) * factor;
            let t =
                *short * (1.0 - rates.short_evaporation * q) + rates.short_reinforcement * *r * acc;
            *short = clamp(t, lo, hi) * m;
            let t =
                *long * (1.0 - rates.long_evaporation * q) + rates.long_reinforcement * *r * acc;
            *long = clamp(t, lo, hi) * m;
        }

        // 8. Consolidation (uses the new long trail).
        let consolidation = &mut self.state.consolidation[..size];
        if !consolidating {
            consolidation.fill(0.0);
        } else if p.consolidate {
            let span = (cfg.max_pheromone - cfg.consolidation_threshold).max(1e-6);
            for ((((c, &long), &r), &sel), &m) in consolidation
                .iter_mut()
                .zip(&self.state.long[..size])
                .zip(&s.reinforcement[..size])
                .zip(selected)
                .zip(mask_f)
            {
                let decayed = *c * (1.0 - cfg.consolidation_decay);
                let mature = clamp((long - cfg.consolidation_threshold) / span, 0.0, 1.0);
                let growth =
                    cfg.consolidation_growth * r.max(0.0) * (sel * accepted_scale) * mature;
                *c = clamp(decayed + growth, 0.0, 1.0) * m;
            }
        } else {
            for (c, &m) in consolidation.iter_mut().zip(mask_f) {
                *c = *c * (1.0 - cfg.consolidation_decay) * m;
            }
        }

        // 9. Remember the accepted slots for the next frontier.
        for (last, &sel) in self.state.last_accepted[..size].iter_mut().zip(selected) {
            *last = u8::from(descent && sel != 0.0);
        }
        self.refresh_derived();
        if let (Some(bias), true) = (&mut self.state.bias, descent) {
            for (b, &bd) in bias.iter_mut().zip(&s.bias_direction) {
                *b += cfg.learning_rate * bd;
                *b = clamp(*b, -cfg.weight_clip, cfg.weight_clip);
            }
        }
        self.scratch = s;
        Ok(accepted_count)
    }
}

/// Runs a feature-major operation on a row-major matrix: transposes in and out.
fn via_feature_major(
    m: &Matrix,
    out: &mut Matrix,
    op: impl FnOnce(&Matrix, &mut Matrix) -> Result<()>,
) -> Result<()> {
    let mut result_t = Matrix::default();
    op(&m.transpose(), &mut result_t)?;
    result_t.transpose_into(out);
    Ok(())
}

/// A batch in feature-major layout, for the accumulation kernel.
struct Batch<'a> {
    pre_t: &'a Matrix,
    post_t: &'a Matrix,
    err_t: &'a Matrix,
}

impl Batch<'_> {
    /// Sums `err[o]*pre[nbr]` and `|pre[nbr]|*|post[o]|` over rows, in row order, for the
    /// `W` slots starting at `first` (all of output `o`). `W` is a constant so that the
    /// 2*W running sums stay in registers: independent chains hide the add latency, and
    /// every operand is read from a contiguous stream.
    #[inline(always)]
    fn accumulate<const W: usize>(
        &self,
        o: usize,
        first: usize,
        neighbors: &[u32],
        signal: &mut [f64],
        cofire: &mut [f64],
    ) {
        let rows = self.err_t.cols();
        let e = &self.err_t.row(o)[..rows];
        let post = &self.post_t.row(o)[..rows];
        let xs: [&[f64]; W] =
            std::array::from_fn(|q| &self.pre_t.row(neighbors[first + q] as usize)[..rows]);
        let mut sig = [0.0f64; W];
        let mut co = [0.0f64; W];
        for r in 0..rows {
            let (e_r, post_abs) = (e[r], post[r].abs());
            for q in 0..W {
                let x = xs[q][r];
                sig[q] += e_r * x;
                co[q] += x.abs() * post_abs;
            }
        }
        signal[first..first + W].copy_from_slice(&sig);
        cofire[first..first + W].copy_from_slice(&co);
    }
}

/// The `take` highest-scoring entries in the order a stable descending sort would put
/// them (equal scores keep slot order). Small budgets, the common case, use repeated
/// first-maximum selection instead of a full sort; both give the same entries.
pub(crate) fn top_k_stable(scores: &mut [(usize, f64)], take: usize) -> &[(usize, f64)] {
    let take = take.min(scores.len());
    if take * 4 <= scores.len() {
        for t in 0..take {
            let (mut best, mut best_score) = (t, scores[t].1);
            for (c, &(_, score)) in scores.iter().enumerate().skip(t + 1) {
                // Strictly greater: the earliest of equal scores wins, as in a stable
                // sort. Written as selects so that no data-dependent branch is needed.
                let better = score > best_score;
                best = if better { c } else { best };
                best_score = if better { score } else { best_score };
            }
            // Shift rather than swap so the unpicked entries keep their slot order.
            scores[t..=best].rotate_right(1);
        }
    } else {
        scores.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal));
    }
    &scores[..take]
}

/// Marks the neighbor-follow frontier of one output into `frontier` and says whether it
/// is non-empty: valid slots whose input lies within `distance` of an input accepted in
/// the previous update, or every valid slot when none was accepted. `recent` is scratch
/// for the positions of those inputs.
fn frontier_of(
    frontier: &mut [u8],
    recent: &mut Vec<[f64; 2]>,
    mask: &[u8],
    neighbors: &[u32],
    last_accepted: &[u8],
    positions: &[[f64; 2]],
    distance: f64,
) -> bool {
    recent.clear();
    recent.extend(
        (0..mask.len())
            .filter(|&slot| last_accepted[slot] != 0 && mask[slot] != 0)
            .map(|slot| positions[neighbors[slot] as usize]),
    );
    let mut any = false;
    for slot in 0..mask.len() {
        frontier[slot] = if recent.is_empty() {
            mask[slot]
        } else if mask[slot] == 0 {
            0
        } else {
            let here = positions[neighbors[slot] as usize];
            let nearest = recent
                .iter()
                .map(|&r| topology::distance(here, r))
                .fold(f64::INFINITY, f64::min);
            u8::from(nearest <= distance)
        };
        any |= frontier[slot] != 0;
    }
    any
}
