//! Training a single-layer LPN with the engine as its learner: the host (f64) runs the
//! forward pass, the loss, budget adaptation and the output error from the engine's
//! state; the engine does the update in fixed point. Every step also runs the f64
//! reference update from the same quantised state and inputs, so each step's one-update
//! error can be measured. Golden vectors and `lpn sim` are built on this.

use lpn_golden::scenario::Scenario;
use lpn_golden::{Budget, Layer, LearningConfig, Matrix, Mode, Network, UpdateParams};
use serde::{Deserialize, Serialize};

use crate::arith::{Datapath, Saturations};
use crate::config::HwConfig;
use crate::engine::{Accelerator, Engine, UpdateReport};
use crate::image::{FixedState, StepInput, Wiring};
use crate::{Error, Result};

/// A state in f64 (the reference's view).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloatState {
    /// Weights.
    pub weight: Vec<f64>,
    /// Short trails.
    pub short: Vec<f64>,
    /// Long trails.
    pub long: Vec<f64>,
    /// Consolidation.
    pub consolidation: Vec<f64>,
    /// Bias per output (zeros without a bias).
    pub bias: Vec<f64>,
    /// Accepted slots of the update.
    pub accepted: Vec<u8>,
}

impl FloatState {
    fn of(layer: &Layer) -> FloatState {
        let s = layer.state();
        FloatState {
            weight: s.weight.clone(),
            short: s.short.clone(),
            long: s.long.clone(),
            consolidation: s.consolidation.clone(),
            bias: s.bias.clone().unwrap_or_else(|| vec![0.0; layer.outputs()]),
            accepted: s.last_accepted.clone(),
        }
    }

    /// A field's values.
    pub fn field(&self, f: crate::image::StateField) -> &[f64] {
        use crate::image::StateField;
        match f {
            StateField::Weight => &self.weight,
            StateField::Short => &self.short,
            StateField::Long => &self.long,
            StateField::Consolidation => &self.consolidation,
            StateField::Bias => &self.bias,
        }
    }
}

/// The configuration a scenario runs on: `config` with the scenario's learning
/// constants, gate and bias (what the engine must be built from; a board built from
/// `config` alone is refused when they differ).
pub fn scenario_config(scenario: &Scenario, config: &HwConfig) -> HwConfig {
    let mut c = config.clone();
    c.learning = scenario.network.learning.clone();
    c.gate = scenario.network.gate;
    c.bias = scenario.network.bias;
    c
}

/// One training step of a [`Trainer`].
#[derive(Debug, Clone)]
pub struct Step {
    /// Loss before the update (from the engine's state, f64 forward pass).
    pub loss: f64,
    /// The quantised inputs the engine received.
    pub input: StepInput,
    /// The engine's report.
    pub report: UpdateReport,
    /// The engine's state after the update.
    pub state: FixedState,
    /// Slots the engine selected.
    pub selected: Vec<u8>,
    /// The f64 reference's state after one update from the same quantised state.
    pub reference: FloatState,
    /// The f64 selection keys of that reference update (score plus frontier bonus; 0
    /// on invalid slots).
    pub keys: Vec<f64>,
}

/// A scenario's batches, one per phase: (x, target, mask, steps).
type Batches = Vec<(Matrix, Matrix, Option<Vec<f64>>, usize)>;

/// Runs a single-layer scenario with an accelerator (by default the cycle model) as
/// learner.
#[derive(Debug, Clone)]
pub struct Trainer<A: Accelerator = Engine> {
    config: HwConfig,
    dp: Datapath,
    engine: A,
    layer: Layer,
    wiring: Wiring,
    state: FixedState,
    budget: Budget,
    learning: LearningConfig,
    batches: Batches,
    phase: usize,
    step_in_phase: usize,
    sat: Saturations,
}

impl Trainer<Engine> {
    /// Prepares a scenario for the cycle model; see [`Trainer::with`].
    pub fn new(scenario: &Scenario, config: &HwConfig) -> Result<Trainer> {
        Trainer::with(scenario, config, Engine::new)
    }
}

impl<A: Accelerator> Trainer<A> {
    /// Prepares a scenario for the accelerator `make` builds from the effective
    /// configuration. The scenario must be a single layer (the
    /// engine updates one layer) whose shape, gate and bias match the config, without
    /// replay, structural plasticity or contrastive phases, and with batches of at most
    /// `max_rows` rows. The config's learning constants are replaced by the scenario's.
    pub fn with(
        scenario: &Scenario,
        config: &HwConfig,
        make: impl FnOnce(&HwConfig) -> Result<A>,
    ) -> Result<Trainer<A>> {
        let doc = &scenario.network;
        if !doc.hidden.is_empty() {
            return Err(Error::new(
                "the engine updates one layer: the scenario must have no hidden layers (network.hidden = [])",
            ));
        }
        if scenario.replay.is_some() || doc.structural.is_some() {
            return Err(Error::new(
                "replay and structural plasticity are host-side mechanisms the engine vectors do not cover; remove them from the scenario",
            ));
        }
        let config = scenario_config(scenario, config);
        let spec = scenario.network.to_spec()?;
        let net = Network::new(&spec)?;
        let layer = net.layers()[0].clone();
        let shape = (layer.inputs(), layer.outputs(), layer.k());
        let want = (config.layer.inputs, config.layer.outputs, config.layer.k);
        if shape != want {
            return Err(Error::new(format!(
                "the scenario's layer is {} inputs, {} outputs, K {} but config `{}` is {} inputs, {} outputs, K {}",
                shape.0, shape.1, shape.2, config.name, want.0, want.1, want.2
            )));
        }
        config.validate()?;
        let mut batches = Vec::new();
        for (i, p) in scenario.phases.iter().enumerate() {
            if p.contrastive.is_some() {
                return Err(Error::new(format!(
                    "phases[{i}] is contrastive; golden vectors cover supervised phases only"
                )));
            }
            if p.x.len() > config.max_rows {
                return Err(Error::new(format!(
                    "phases[{i}] has {} rows but config `{}` takes at most max_rows = {}",
                    p.x.len(),
                    config.name,
                    config.max_rows
                )));
            }
            let x = Matrix::from_rows(&p.x, shape.0, &format!("phases[{i}].x"))?;
            let t = Matrix::from_rows(&p.target, shape.1, &format!("phases[{i}].target"))?;
            batches.push((x, t, p.output_mask.clone(), p.steps));
        }
        let dp = Datapath::new(&config)?;
        let wiring = Wiring::from_layer(&layer, config.learning.neighbor_follow_distance);
        let mut sat = Saturations::default();
        let state = FixedState::quantize(layer.state(), shape.1, &dp, &mut sat);
        let mut engine = make(&config)?;
        engine.load(&wiring, &state)?;
        Ok(Trainer {
            dp,
            budget: Budget::new(&config.learning, doc.max_neighbors),
            learning: config.learning.clone(),
            config,
            engine,
            layer,
            wiring,
            state,
            batches,
            phase: 0,
            step_in_phase: 0,
            sat,
        })
    }

    /// The effective configuration (the scenario's learning constants).
    pub fn config(&self) -> &HwConfig {
        &self.config
    }

    /// The layer's wiring.
    pub fn wiring(&self) -> &Wiring {
        &self.wiring
    }

    /// The engine's current state.
    pub fn state(&self) -> &FixedState {
        &self.state
    }

    /// Steps left in the scenario.
    pub fn remaining(&self) -> usize {
        let rest: usize = self.batches.iter().skip(self.phase + 1).map(|b| b.3).sum();
        self.batches
            .get(self.phase)
            .map_or(0, |b| b.3 - self.step_in_phase)
            + rest
    }

    /// Saturations of host quantisation plus the engine's.
    pub fn saturations(&self) -> Saturations {
        let mut s = self.sat;
        s.add(&self.engine.saturations());
        s
    }

    /// The datapath.
    pub fn datapath(&self) -> &Datapath {
        &self.dp
    }

    /// The accelerator.
    pub fn accelerator(&mut self) -> &mut A {
        &mut self.engine
    }

    /// One training step; `None` when the scenario is finished.
    pub fn step(&mut self) -> Result<Option<Step>> {
        while self.phase < self.batches.len() && self.step_in_phase >= self.batches[self.phase].3 {
            self.phase += 1;
            self.step_in_phase = 0;
        }
        if self.phase >= self.batches.len() {
            return Ok(None);
        }
        self.step_in_phase += 1;
        let dp = self.dp.clone();
        let (x, t, mask) = {
            let b = &self.batches[self.phase];
            (b.0.clone(), b.1.clone(), b.2.clone())
        };
        // The host's forward pass runs on the engine's state.
        let current = self.state.to_float(&dp);
        self.layer.edit_state(|s| *s = current)?;
        let y = self.layer.forward(&x)?;
        let loss = Network::loss(&y, &t, mask.as_deref());
        let (mode, _) = self.budget.adapt(loss, &self.learning);
        let consolidate = mode == Mode::Exploit
            && self
                .learning
                .consolidation_loss_gate
                .is_none_or(|g| loss <= g);
        let mut err = Matrix::zeros(y.rows(), y.cols());
        for r in 0..y.rows() {
            for o in 0..y.cols() {
                let m = mask.as_ref().map_or(1.0, |m| m[o]);
                err.row_mut(r)[o] = (t.row(r)[o] - y.row(r)[o]) * m;
            }
        }
        let input = StepInput::quantize(
            &x,
            &y,
            &err,
            self.budget.budget,
            mode,
            consolidate,
            self.config.layer.k,
            &dp,
            &mut self.sat,
        );
        // The reference update from the same quantised state and inputs.
        let (pre, post, err_q) = input.to_float(&self.config, &dp);
        let params = UpdateParams {
            budget: self.budget.budget,
            mode,
            consolidate,
            config: &self.learning,
        };
        let keys = reference_keys(&self.layer, &self.wiring, &pre, &err_q, &params);
        let mut reference = self.layer.clone();
        reference.local_update(&pre, &post, &err_q, &params)?;
        // The engine's update.
        let report = self.engine.update(&input)?;
        let (state, selected) = self.engine.state()?;
        self.state = state;
        Ok(Some(Step {
            loss,
            input,
            report,
            state: self.state.clone(),
            selected,
            reference: FloatState::of(&reference),
            keys,
        }))
    }
}

/// The f64 selection keys of a reference update (spec section 4 steps 1-3): `|sig| *
/// (0.5 + P)` plus the frontier bonus in neighbor-follow mode; 0 on invalid slots. Used
/// to judge whether a selection difference is a near-tie.
pub fn reference_keys(
    layer: &Layer,
    wiring: &Wiring,
    pre: &Matrix,
    err: &Matrix,
    p: &UpdateParams<'_>,
) -> Vec<f64> {
    let (outputs, k) = (wiring.outputs, wiring.k);
    let rows = pre.rows();
    let inv = 1.0 / rows as f64;
    let clip = p.config.signal_clip;
    let gate = layer.gate();
    let long = &layer.state().long;
    let last = &layer.state().last_accepted;
    let mut keys = vec![0.0; outputs * k];
    for o in 0..outputs {
        let mut max: f64 = 0.0;
        for j in 0..k {
            let i = o * k + j;
            if wiring.mask[i] == 0 {
                continue;
            }
            let nbr = wiring.neighbors[i] as usize;
            let sum: f64 = (0..rows).map(|r| err.row(r)[o] * pre.row(r)[nbr]).sum();
            let sig = (sum * inv * gate[i]).clamp(-clip, clip);
            keys[i] = sig.abs() * (0.5 + long[i]);
            max = max.max(keys[i]);
        }
        if p.mode == Mode::NeighborFollow && max > 0.0 {
            let recent: u64 = (0..k).fold(0, |a, j| {
                a | (u64::from(last[o * k + j] & wiring.mask[o * k + j]) << j)
            });
            for j in 0..k {
                let i = o * k + j;
                if wiring.mask[i] != 0 && (recent == 0 || wiring.near[i] & recent != 0) {
                    keys[i] += max.max(1.0);
                }
            }
        }
    }
    keys
}

/// A reference-initialised layer of the configuration's shape (1-D layouts, default tags,
/// seed `seed`) with one batch of `rows` inputs uniform in [-1, 1), its forward outputs as
/// post-synaptic activity and errors uniform in [-0.5, 0.5): a workload for benchmarks
/// and soak runs.
pub fn synthetic(
    config: &HwConfig,
    rows: usize,
    seed: u32,
) -> Result<(Wiring, FixedState, StepInput)> {
    let mut spec = lpn_golden::LayerSpec::new(config.layer.inputs, config.layer.outputs);
    spec.max_neighbors = config.layer.k;
    spec.gate = config.gate;
    spec.bias = config.bias;
    spec.seed = seed;
    let layer = Layer::new(&spec, 0)?;
    if layer.k() != config.layer.k {
        return Err(Error::new(format!(
            "the layer has K = {}, the config {}",
            layer.k(),
            config.layer.k
        )));
    }
    let dp = Datapath::new(config)?;
    let mut rng = lpn_golden::rng::Mulberry32::new(seed);
    let mut x = Matrix::zeros(rows, config.layer.inputs);
    for v in x.as_mut_slice() {
        *v = rng.next_f64() * 2.0 - 1.0;
    }
    let y = layer.forward(&x)?;
    let mut err = Matrix::zeros(rows, config.layer.outputs);
    for v in err.as_mut_slice() {
        *v = rng.next_f64() - 0.5;
    }
    let mut sat = Saturations::default();
    let wiring = Wiring::from_layer(&layer, config.learning.neighbor_follow_distance);
    let state = FixedState::quantize(layer.state(), config.layer.outputs, &dp, &mut sat);
    let input = StepInput::quantize(
        &x,
        &y,
        &err,
        (config.layer.k / 2) as f64,
        Mode::Exploit,
        false,
        config.layer.k,
        &dp,
        &mut sat,
    );
    Ok((wiring, state, input))
}
