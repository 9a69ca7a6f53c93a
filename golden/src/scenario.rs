//! Scenario files: a network description plus training phases, run on the reference.
//!
//! The format is documented in `docs/scenario-format.md`. Parsing is strict (unknown keys
//! are errors) and every error names the offending field.

use serde::{Deserialize, Serialize};

use crate::config::LearningConfig;
use crate::contrastive::corrupt;
use crate::error::{Error, Result};
use crate::layer::Mode;
use crate::matrix::Matrix;
use crate::network::{Activation, Network, NetworkSpec};
use crate::replay::{ReplayBuffer, ReplayConfig};
use crate::rng::Mulberry32;
use crate::structural::StructuralConfig;
use crate::topology::Shape;

/// Largest total number of training steps in one scenario: the trajectory alone takes
/// about 56 bytes a step, so far more would exhaust memory before finishing.
pub const MAX_STEPS: usize = 10_000_000;

/// The `network` object of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkDoc {
    /// Number of inputs.
    pub inputs: usize,
    /// Hidden layer sizes (default none).
    #[serde(default)]
    pub hidden: Vec<usize>,
    /// Number of outputs.
    pub outputs: usize,
    /// Slots per output at most (default 8).
    #[serde(default = "default_max_neighbors")]
    pub max_neighbors: usize,
    /// Default tag groups (default 4).
    #[serde(default = "default_tag_count")]
    pub tag_count: usize,
    /// Largest tag difference (default 0).
    #[serde(default)]
    pub tag_distance: u64,
    /// Connection radius or null.
    #[serde(default)]
    pub connection_radius: Option<f64>,
    /// `tanh` (default), `relu`, `sigmoid` or `identity`.
    #[serde(default)]
    pub activation: Activation,
    /// `[n]`, `[rows, cols]` or null.
    #[serde(default)]
    pub input_shape: Option<Vec<usize>>,
    /// One shape (or null) per hidden layer, or null.
    #[serde(default)]
    pub hidden_shapes: Option<Vec<Option<Vec<usize>>>>,
    /// `[n]`, `[rows, cols]` or null.
    #[serde(default)]
    pub output_shape: Option<Vec<usize>>,
    /// Explicit input tags or null.
    #[serde(default)]
    pub input_tags: Option<Vec<i64>>,
    /// Explicit output tags or null.
    #[serde(default)]
    pub output_tags: Option<Vec<i64>>,
    /// Base seed (default 0); layer l uses seed + l.
    #[serde(default)]
    pub seed: u32,
    /// Pheromone gate on (default true).
    #[serde(default = "yes")]
    pub gate: bool,
    /// Biases on (default true).
    #[serde(default = "yes")]
    pub bias: bool,
    /// Learning configuration; missing keys take defaults.
    #[serde(default)]
    pub learning: LearningConfig,
    /// Structural plasticity (optional; see `structural`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structural: Option<StructuralConfig>,
}

fn default_max_neighbors() -> usize {
    8
}
fn default_tag_count() -> usize {
    4
}
fn yes() -> bool {
    true
}

/// One training phase: `steps` steps on the same batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// Input rows.
    pub x: Vec<Vec<f64>>,
    /// Target rows (not used, and may be left out, in a contrastive phase).
    #[serde(default)]
    pub target: Vec<Vec<f64>>,
    /// Per-output error weights, or null for all ones.
    #[serde(default)]
    pub output_mask: Option<Vec<f64>>,
    /// Number of steps.
    pub steps: usize,
    /// Makes this a target-free contrastive phase (see `contrastive`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contrastive: Option<ContrastivePhase>,
}

/// A contrastive phase: every step trains on `x` as positives and on `x` shuffled within
/// input tag groups as negatives, drawn afresh each step from `mulberry32(seed)`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContrastivePhase {
    /// Seed of the shuffles (default 0).
    pub seed: u32,
}

/// A scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The network.
    pub network: NetworkDoc,
    /// Training phases, run in order.
    pub phases: Vec<Phase>,
    /// Rows to run forward after training (optional).
    #[serde(default)]
    pub probe: Option<Vec<Vec<f64>>>,
    /// Local replay across all phases (optional; see `replay`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<ReplayConfig>,
}

/// One entry of the trajectory: what a step reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrajectoryPoint {
    /// Loss before the update.
    pub loss: f64,
    /// Mode of the step.
    pub mode: Mode,
    /// Budget used by the step.
    pub budget: f64,
    /// Accepted slots over all layers.
    pub accepted: usize,
    /// Replayed rows mixed into the step's batch (only with replay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayed: Option<usize>,
    /// Slots rewired after the step (only with structural plasticity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewired: Option<usize>,
}

/// The final state of one layer; per-slot arrays are output-major (`o*K + k`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerDump {
    /// Input index per slot.
    pub neighbors: Vec<u32>,
    /// 1 on connected slots.
    pub mask: Vec<u8>,
    /// Weights.
    pub weight: Vec<f64>,
    /// Biases or null.
    pub bias: Option<Vec<f64>>,
    /// Long trail.
    pub long: Vec<f64>,
    /// Short trail.
    pub short: Vec<f64>,
    /// Consolidation.
    pub consolidation: Vec<f64>,
}

/// The result file of `lpn ref run`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// One point per step over all phases.
    pub trajectory: Vec<TrajectoryPoint>,
    /// Final state of every layer.
    pub layers: Vec<LayerDump>,
    /// Forward outputs of the probe rows (empty without a probe).
    pub probe_outputs: Vec<Vec<f64>>,
}

impl NetworkDoc {
    /// The library spec this document describes, with field names in errors.
    pub fn to_spec(&self) -> Result<NetworkSpec> {
        let f = |name: &str| format!("network.{name}");
        let input_shape =
            Shape::parse(self.input_shape.as_deref(), self.inputs, &f("input_shape"))?;
        let output_shape = Shape::parse(
            self.output_shape.as_deref(),
            self.outputs,
            &f("output_shape"),
        )?;
        let hidden_shapes = match &self.hidden_shapes {
            None => vec![Shape::Line; self.hidden.len()],
            Some(shapes) if shapes.len() != self.hidden.len() => {
                return Err(Error::invalid(
                    f("hidden_shapes"),
                    format!(
                        "expected {} shapes (one per hidden layer), got {}",
                        self.hidden.len(),
                        shapes.len()
                    ),
                ))
            }
            Some(shapes) => shapes
                .iter()
                .zip(&self.hidden)
                .enumerate()
                .map(|(i, (s, &n))| {
                    Shape::parse(s.as_deref(), n, &format!("network.hidden_shapes[{i}]"))
                })
                .collect::<Result<_>>()?,
        };
        if let Some(r) = self.connection_radius {
            if !r.is_finite() || r < 0.0 {
                return Err(Error::invalid(
                    f("connection_radius"),
                    "must be a finite, non-negative number",
                ));
            }
        }
        Ok(NetworkSpec {
            inputs: self.inputs,
            hidden: self.hidden.clone(),
            outputs: self.outputs,
            max_neighbors: self.max_neighbors,
            tag_count: self.tag_count,
            tag_distance: self.tag_distance,
            connection_radius: self.connection_radius,
            activation: self.activation,
            input_shape,
            hidden_shapes,
            output_shape,
            input_tags: self.input_tags.clone(),
            output_tags: self.output_tags.clone(),
            seed: self.seed,
            gate: self.gate,
            bias: self.bias,
            learning: self.learning.clone(),
            structural: self.structural.clone(),
        })
    }
}

/// A phase's batch, checked against the network.
struct Batch {
    x: Matrix,
    target: Matrix,
    mask: Option<Vec<f64>>,
    steps: usize,
    contrastive: Option<u32>,
}

impl Scenario {
    /// Parse a scenario from JSON text; errors are one line and name the field.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| Error::invalid("scenario", json_error(&e)))
    }

    /// Reads a scenario file (at most [`crate::input::MAX_SCENARIO_BYTES`]); errors are
    /// one line that starts with the path.
    pub fn load(path: &std::path::Path) -> std::result::Result<Self, String> {
        let text = crate::input::read_text(path, crate::input::MAX_SCENARIO_BYTES, "scenario")?;
        Self::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn batches(&self, inputs: usize, outputs: usize) -> Result<Vec<Batch>> {
        if self.phases.is_empty() {
            return Err(Error::invalid("phases", "at least one phase is needed"));
        }
        self.phases
            .iter()
            .enumerate()
            .map(|(p, phase)| {
                let f = |name: &str| format!("phases[{p}].{name}");
                if phase.x.is_empty() {
                    return Err(Error::invalid(f("x"), "at least one row is needed"));
                }
                let x = Matrix::from_rows(&phase.x, inputs, &f("x"))?;
                if let Some(c) = &phase.contrastive {
                    if !phase.target.is_empty() || phase.output_mask.is_some() {
                        return Err(Error::invalid(
                            f("contrastive"),
                            "a contrastive phase is target-free: leave out target and output_mask",
                        ));
                    }
                    let target = Matrix::zeros(0, outputs);
                    return Ok(Batch {
                        x,
                        target,
                        mask: None,
                        steps: phase.steps,
                        contrastive: Some(c.seed),
                    });
                }
                if phase.target.len() != phase.x.len() {
                    return Err(Error::invalid(
                        f("target"),
                        format!(
                            "expected {} rows (as many as x), got {}",
                            phase.x.len(),
                            phase.target.len()
                        ),
                    ));
                }
                let target = Matrix::from_rows(&phase.target, outputs, &f("target"))?;
                if let Some(m) = &phase.output_mask {
                    if m.len() != outputs {
                        return Err(Error::invalid(
                            f("output_mask"),
                            format!("expected {outputs} values, got {}", m.len()),
                        ));
                    }
                    if let Some(i) = m.iter().position(|v| !v.is_finite() || *v < 0.0) {
                        return Err(Error::invalid(
                            format!("{}[{i}]", f("output_mask")),
                            format!(
                                "{} is not a weight: must be a finite number >= 0 (0 disables the output)",
                                m[i]
                            ),
                        ));
                    }
                }
                Ok(Batch {
                    x,
                    target,
                    mask: phase.output_mask.clone(),
                    steps: phase.steps,
                    contrastive: None,
                })
            })
            .collect()
    }

    /// Check the whole scenario, build the network, train every phase and return the
    /// result. Everything that can be checked before the network is allocated is (batch
    /// shapes, step count, the memory estimate), so a bad file costs no allocation.
    pub fn run(&self) -> Result<ScenarioResult> {
        let spec = self.network.to_spec()?;
        spec.check().map_err(|e| e.within("network"))?;
        let batches = self.batches(self.network.inputs, self.network.outputs)?;
        let rows = batches.iter().map(|b| b.x.rows()).max().unwrap_or(0);
        spec.check_memory(rows).map_err(|e| e.within("network"))?;
        let mut net = Network::new(&spec).map_err(|e| e.within("network"))?;
        self.train(&mut net, batches)
    }

    /// Train every phase on an already built network.
    pub fn run_on(&self, net: &mut Network) -> Result<ScenarioResult> {
        let batches = self.batches(net.inputs(), net.outputs())?;
        self.train(net, batches)
    }

    fn train(&self, net: &mut Network, batches: Vec<Batch>) -> Result<ScenarioResult> {
        let probe = match &self.probe {
            Some(rows) => Some(Matrix::from_rows(rows, net.inputs(), "probe")?),
            None => None,
        };
        let total = batches
            .iter()
            .fold(0usize, |sum, b| sum.saturating_add(b.steps));
        let mut replay = match &self.replay {
            Some(config) => {
                Some(ReplayBuffer::new(config.clone()).map_err(|e| e.within("replay"))?)
            }
            None => None,
        };
        if total > MAX_STEPS {
            return Err(Error::invalid(
                "phases",
                format!("{total} steps in all, above the limit of {MAX_STEPS} per scenario"),
            ));
        }
        let mut trajectory = Vec::with_capacity(total);
        let mut previous = None;
        let structural = self.network.structural.is_some();
        for (p, b) in batches.iter().enumerate() {
            let mut shuffles = b.contrastive.map(Mulberry32::new);
            for step in 0..b.steps {
                // Contrastive steps neither replay nor rewire, so they report neither.
                let (r, replayed, rewired) = match (shuffles.as_mut(), replay.as_mut()) {
                    (Some(rng), _) => {
                        let negative = corrupt(&b.x, net.layers()[0].input_tags(), rng)?;
                        (net.contrastive_step(&b.x, &negative)?, None, None)
                    }
                    (None, Some(buffer)) => {
                        let step =
                            buffer.step(net, &b.x, &b.target, b.mask.as_deref(), previous)?;
                        (
                            step.report,
                            Some(step.replayed),
                            structural.then_some(step.report.rewired),
                        )
                    }
                    (None, None) => {
                        let report = net.step(&b.x, &b.target, b.mask.as_deref())?;
                        (report, None, structural.then_some(report.rewired))
                    }
                };
                // A diverging run is stopped where it diverges: a non-finite loss or
                // state would be written as `null` and could not be read back.
                finite_loss(
                    r.loss,
                    format!(
                        "phases[{p}] step {} (step {} in all)",
                        step + 1,
                        trajectory.len() + 1
                    ),
                )?;
                previous = Some(r.mode);
                trajectory.push(TrajectoryPoint {
                    loss: r.loss,
                    mode: r.mode,
                    budget: r.budget,
                    accepted: r.accepted,
                    replayed,
                    rewired,
                });
            }
        }
        finite_state(net)?;
        let layers = net
            .layers()
            .iter()
            .map(|l| {
                let s = l.state();
                LayerDump {
                    neighbors: l.neighbors().to_vec(),
                    mask: l.mask().to_vec(),
                    weight: s.weight.clone(),
                    bias: s.bias.clone(),
                    long: s.long.clone(),
                    short: s.short.clone(),
                    consolidation: s.consolidation.clone(),
                }
            })
            .collect();
        let probe_outputs = match probe {
            Some(p) => net.forward(&p)?.to_rows(),
            None => Vec::new(),
        };
        Ok(ScenarioResult {
            trajectory,
            layers,
            probe_outputs,
        })
    }
}

/// Fails when a step's loss is not finite; `step` names the step in the error.
pub fn finite_loss(loss: f64, step: String) -> Result<()> {
    if loss.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(
            step,
            format!("the loss is {loss}: the run diverged (inputs, targets or learning constants too large for f64)"),
        ))
    }
}

/// Fails when any layer's state holds a value that is not finite, naming the field. The
/// rule clamps weights, biases, trails and consolidation, so this guards the result file
/// rather than a path known to produce one.
pub fn finite_state(net: &Network) -> Result<()> {
    for (l, layer) in net.layers().iter().enumerate() {
        let s = layer.state();
        let fields: [(&str, &[f64]); 5] = [
            ("weight", &s.weight),
            ("bias", s.bias.as_deref().unwrap_or(&[])),
            ("long", &s.long),
            ("short", &s.short),
            ("consolidation", &s.consolidation),
        ];
        for (name, values) in fields {
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                return Err(Error::invalid(
                    format!("layers[{l}].{name}[{i}]"),
                    format!("{}: the run diverged", values[i]),
                ));
            }
        }
    }
    Ok(())
}

/// serde_json's message, which names the field, kept to one line.
pub fn json_error(e: &serde_json::Error) -> String {
    e.to_string().replace('\n', " ")
}
