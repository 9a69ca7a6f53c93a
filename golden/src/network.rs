//! Multi-layer networks, the training step and budget adaptation (spec sections 5-6).

use serde::{Deserialize, Serialize};

use crate::config::LearningConfig;
use crate::error::{Error, Result};
use crate::layer::{Layer, LayerSpec, Mode, UpdateParams};
use crate::matrix::Matrix;
use crate::structural::StructuralConfig;
use crate::topology::{self, Shape};

pub use crate::layer::{MAX_SLOTS, MAX_UNITS};

/// Largest memory a network may need, by [`NetworkSpec::memory_estimate`]: far beyond
/// any experiment here (the 1024 -> 1024 bench layer needs about 2 MiB) and below what a
/// workstation has, so a mistyped size is an error instead of a machine swapping.
pub const MAX_NETWORK_BYTES: u64 = 4 << 30;

/// Bytes per slot: 13 f64 arrays (state, update scratch, gate), 3 byte arrays and the
/// neighbour index (`layer.rs`).
const BYTES_PER_SLOT: u64 = 13 * 8 + 3 + 4;
/// Bytes per unit of a layer's input or output side: tags, position, in-degree terms,
/// bias and bias direction, wiring scratch.
const BYTES_PER_UNIT: u64 = 64;
/// Bytes per batch row and unit: the forward cache (input, pre-activation, activation,
/// error) and the batch itself.
const BYTES_PER_ROW_UNIT: u64 = 5 * 8;

/// Hidden-layer activation. The last layer is always linear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// Hyperbolic tangent (default).
    #[default]
    Tanh,
    /// max(x, 0).
    Relu,
    /// 1 / (1 + e^-x).
    Sigmoid,
    /// x.
    Identity,
    /// The exact GELU, `x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))` (an optional
    /// extension of the spec; the erf form rather than the tanh approximation, as
    /// PyTorch's default `nn.GELU`).
    Gelu,
}

/// 1 / sqrt(2 pi), the standard normal density at 0.
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

impl Activation {
    /// The activation of a pre-activation value.
    #[inline]
    pub fn apply(self, z: f64) -> f64 {
        match self {
            Activation::Tanh => z.tanh(),
            Activation::Relu => {
                if z > 0.0 {
                    z
                } else {
                    0.0
                }
            }
            Activation::Sigmoid => 1.0 / (1.0 + (-z).exp()),
            Activation::Identity => z,
            Activation::Gelu => 0.5 * z * (1.0 + libm::erf(z * std::f64::consts::FRAC_1_SQRT_2)),
        }
    }

    /// The derivative at pre-activation `z`, given `a = apply(z)` (tanh and sigmoid
    /// reuse it: recomputing would give the same bits).
    #[inline]
    pub fn derivative(self, z: f64, a: f64) -> f64 {
        match self {
            Activation::Tanh => 1.0 - a * a,
            Activation::Relu => {
                if z > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Sigmoid => a * (1.0 - a),
            Activation::Identity => 1.0,
            // Phi(z) + z phi(z).
            Activation::Gelu => {
                0.5 * (1.0 + libm::erf(z * std::f64::consts::FRAC_1_SQRT_2))
                    + z * INV_SQRT_2PI * (-0.5 * z * z).exp()
            }
        }
    }
}

/// Everything that defines a network before training.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkSpec {
    /// Number of input units.
    pub inputs: usize,
    /// Sizes of the hidden layers, first to last.
    pub hidden: Vec<usize>,
    /// Number of output units.
    pub outputs: usize,
    /// Upper bound on slots per output in every layer (default 8).
    pub max_neighbors: usize,
    /// Number of default tag groups (default 4).
    pub tag_count: usize,
    /// Largest tag difference between connected units (default 0).
    pub tag_distance: u64,
    /// Optional Euclidean connection radius.
    pub connection_radius: Option<f64>,
    /// Hidden activation (default tanh).
    pub activation: Activation,
    /// Layout of the inputs.
    pub input_shape: Shape,
    /// Layouts of the hidden layers (one per hidden layer).
    pub hidden_shapes: Vec<Shape>,
    /// Layout of the outputs.
    pub output_shape: Shape,
    /// Explicit input tags.
    pub input_tags: Option<Vec<i64>>,
    /// Explicit output tags.
    pub output_tags: Option<Vec<i64>>,
    /// Base seed; layer `l` is seeded with `seed + l`.
    pub seed: u32,
    /// Whether the pheromone gate is on (default true).
    pub gate: bool,
    /// Whether outputs have biases (default true).
    pub bias: bool,
    /// The learning configuration.
    pub learning: LearningConfig,
    /// Structural plasticity, off when `None` (the default).
    pub structural: Option<StructuralConfig>,
}

impl NetworkSpec {
    /// The memory, in bytes, that the network and a batch of `rows` rows need: the
    /// per-slot, per-unit and per-row costs above, computed from the sizes alone (nothing
    /// is allocated). Measured: a 4096-65536-4096 network with 8 rows is estimated at
    /// 95 MB; `lpn ref run` peaks at 109 MB RSS, the scenario's text and batches included.
    pub fn memory_estimate(&self, rows: usize) -> u64 {
        let sizes: Vec<u64> = self.sizes().iter().map(|&n| n as u64).collect();
        let units: u64 = sizes.iter().fold(0u64, |a, &n| a.saturating_add(n));
        let slots = sizes.windows(2).fold(0u64, |a, w| {
            let k = (self.max_neighbors as u64).min(w[0]);
            a.saturating_add(w[1].saturating_mul(k))
        });
        slots
            .saturating_mul(BYTES_PER_SLOT)
            .saturating_add(units.saturating_mul(2 * BYTES_PER_UNIT))
            .saturating_add(
                units
                    .saturating_mul(rows as u64)
                    .saturating_mul(BYTES_PER_ROW_UNIT),
            )
    }

    /// Fails when [`NetworkSpec::memory_estimate`] for `rows` rows is above
    /// [`MAX_NETWORK_BYTES`], with the estimate in the message.
    pub fn check_memory(&self, rows: usize) -> Result<()> {
        let need = self.memory_estimate(rows);
        if need > MAX_NETWORK_BYTES {
            // Name the layer with the most units: the size a user would shrink.
            let field = match self.hidden.iter().enumerate().max_by_key(|(_, &h)| h) {
                Some((i, &h)) if h >= self.inputs.max(self.outputs) => format!("hidden[{i}]"),
                _ if self.inputs > self.outputs => "inputs".to_string(),
                _ => "outputs".to_string(),
            };
            return Err(Error::invalid(
                field,
                format!(
                    "the network and a batch of {rows} rows need about {:.1} GiB (estimate), above the limit of {} GiB",
                    need as f64 / (1u64 << 30) as f64,
                    MAX_NETWORK_BYTES >> 30
                ),
            ));
        }
        Ok(())
    }

    /// Unit counts of every layer boundary: inputs, each hidden layer, outputs.
    pub fn sizes(&self) -> Vec<usize> {
        let mut sizes = vec![self.inputs];
        sizes.extend(&self.hidden);
        sizes.push(self.outputs);
        sizes
    }

    /// Checks every size, limit and learning constant without allocating anything
    /// large; [`Network::new`] starts with it.
    pub fn check(&self) -> Result<()> {
        self.learning.validate().map_err(|e| e.within("learning"))?;
        if let Some(structural) = &self.structural {
            structural.validate().map_err(|e| e.within("structural"))?;
        }
        if self.inputs == 0 {
            return Err(Error::invalid("inputs", "must be at least 1"));
        }
        if self.outputs == 0 {
            return Err(Error::invalid("outputs", "must be at least 1"));
        }
        if let Some(h) = self.hidden.iter().position(|&h| h == 0) {
            return Err(Error::invalid(format!("hidden[{h}]"), "must be at least 1"));
        }
        if self.max_neighbors == 0 {
            return Err(Error::invalid("max_neighbors", "must be at least 1"));
        }
        if self.tag_count > crate::topology::MAX_TAG_COUNT {
            return Err(Error::invalid(
                "tag_count",
                format!(
                    "{} is above the limit of {}",
                    self.tag_count,
                    crate::topology::MAX_TAG_COUNT
                ),
            ));
        }
        let named_sizes = std::iter::once(("inputs".to_string(), self.inputs))
            .chain(
                self.hidden
                    .iter()
                    .enumerate()
                    .map(|(i, &h)| (format!("hidden[{i}]"), h)),
            )
            .chain(std::iter::once(("outputs".to_string(), self.outputs)));
        for (field, units) in named_sizes {
            if units > MAX_UNITS {
                return Err(Error::invalid(
                    field,
                    format!("{units} units exceed the limit of {MAX_UNITS} per layer"),
                ));
            }
        }
        if self.hidden_shapes.len() != self.hidden.len() {
            return Err(Error::invalid(
                "hidden_shapes",
                format!(
                    "expected {} shapes, got {}",
                    self.hidden.len(),
                    self.hidden_shapes.len()
                ),
            ));
        }
        let sizes = self.sizes();
        let last = sizes.len() - 1;
        for l in 0..last {
            let slots = sizes[l + 1].saturating_mul(self.max_neighbors.min(sizes[l]));
            if slots > MAX_SLOTS {
                let field = if l + 1 == last {
                    "outputs".to_string()
                } else {
                    format!("hidden[{l}]")
                };
                return Err(Error::invalid(
                    field,
                    format!("layer {l} would have {slots} slots (outputs x K), above the limit of {MAX_SLOTS}"),
                ));
            }
        }
        Ok(())
    }

    /// A spec with the defaults of spec section 7.
    pub fn new(inputs: usize, hidden: Vec<usize>, outputs: usize) -> Self {
        let hidden_shapes = vec![Shape::Line; hidden.len()];
        NetworkSpec {
            inputs,
            hidden,
            outputs,
            max_neighbors: 8,
            tag_count: 4,
            tag_distance: 0,
            connection_radius: None,
            activation: Activation::Tanh,
            input_shape: Shape::Line,
            hidden_shapes,
            output_shape: Shape::Line,
            input_tags: None,
            output_tags: None,
            seed: 0,
            gate: true,
            bias: true,
            learning: LearningConfig::default(),
            structural: None,
        }
    }
}

/// How each output's error is weighted in a step (spec sections 5 and 8).
#[derive(Debug, Clone, Copy)]
pub enum OutputMask<'a> {
    /// Every output counts fully.
    All,
    /// One weight per output, shared by every row.
    Shared(&'a [f64]),
    /// One weight per row and output (`rows x outputs`): replayed rows keep the mask they
    /// were recorded with.
    PerRow(&'a Matrix),
}

impl OutputMask<'_> {
    /// The weights of row `r`, or `None` when every output counts fully.
    #[inline]
    pub fn row(&self, r: usize) -> Option<&[f64]> {
        match self {
            OutputMask::All => None,
            OutputMask::Shared(m) => Some(m),
            OutputMask::PerRow(m) => Some(m.row(r)),
        }
    }
}

/// What one training step did (spec section 5, step 7). The prediction of the step is
/// [`Network::prediction`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StepReport {
    /// Masked mean squared error of the forward pass before the update.
    pub loss: f64,
    /// Loss of the previous step, if any.
    pub previous_loss: Option<f64>,
    /// Whether the loss fell by more than the tolerance (`None` on the first step).
    pub improved: Option<bool>,
    /// Mode chosen by budget adaptation.
    pub mode: Mode,
    /// Budget after adaptation (the one the update used).
    pub budget: f64,
    /// Accepted slots summed over layers.
    pub accepted: usize,
    /// Slots rewired by structural plasticity after this step's update (0 when it is
    /// off or did not run).
    pub rewired: usize,
}

/// Per-step buffers, kept so a training loop allocates only on its first step.
/// Everything but `prediction` is feature-major (`units x rows`): rows are independent,
/// so the kernels run contiguous loops over them.
#[derive(Debug, Clone, Default)]
struct Workspace {
    /// The input batch, transposed.
    x_t: Matrix,
    /// The target batch, transposed.
    target_t: Matrix,
    /// Pre-activations of every layer.
    pre: Vec<Matrix>,
    /// Activations of the hidden layers (the output layer's is its pre-activation).
    act: Vec<Matrix>,
    /// Local errors of every layer.
    err: Vec<Matrix>,
    /// Feedback scratch.
    feedback: Matrix,
    /// Positive and negative rows stacked, for the contrastive step.
    stacked: Matrix,
    /// The last prediction, row-major.
    prediction: Matrix,
}

/// A multi-layer local pheromone network.
#[derive(Debug, Clone)]
pub struct Network {
    layers: Vec<Layer>,
    activation: Activation,
    config: LearningConfig,
    budget: Budget,
    structural: Option<StructuralConfig>,
    steps: u64,
    ws: Workspace,
}

/// Budget adaptation (spec section 6): the per-output budget and the previous loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Current per-output budget.
    pub budget: f64,
    /// Loss of the previous step, if any.
    pub previous_loss: Option<f64>,
    /// Upper bound of the budget (`max_budget`, else `max_neighbors`).
    pub max_budget: f64,
}

impl Budget {
    /// The starting budget: `initial_budget`, or `max(1, floor(max_neighbors / 2))`,
    /// clamped to `[min_budget, max_budget]` (`max_budget` defaults to `max_neighbors`).
    pub fn new(config: &LearningConfig, max_neighbors: usize) -> Self {
        let max_budget = config.max_budget.unwrap_or(max_neighbors as f64);
        let initial = config
            .initial_budget
            .unwrap_or(((max_neighbors / 2) as f64).max(1.0));
        Budget {
            budget: initial.max(config.min_budget).min(max_budget),
            previous_loss: None,
            max_budget,
        }
    }

    /// Records `loss` and returns the mode of this step and whether it improved
    /// (`None` on the first step).
    pub fn adapt(&mut self, loss: f64, config: &LearningConfig) -> (Mode, Option<bool>) {
        let Some(previous) = self.previous_loss.replace(loss) else {
            return (Mode::Warmup, None);
        };
        if loss < previous - config.loss_tolerance {
            self.budget = config.min_budget.max((self.budget * config.shrink).floor());
            (Mode::Exploit, Some(true))
        } else if loss > previous + config.loss_tolerance {
            let grown = (self.budget * config.grow).ceil();
            self.budget = self.max_budget.min(grown.max(self.budget + 1.0));
            (Mode::NeighborFollow, Some(false))
        } else {
            (Mode::Steady, Some(false))
        }
    }
}

impl Network {
    /// Build and initialise a network (spec sections 2 and 6).
    pub fn new(spec: &NetworkSpec) -> Result<Self> {
        spec.check()?;
        spec.check_memory(0)?;
        let sizes = spec.sizes();
        let mut shapes = vec![spec.input_shape];
        shapes.extend(&spec.hidden_shapes);
        shapes.push(spec.output_shape);
        let last = sizes.len() - 1;
        // Explicit tags apply to the network's inputs and outputs; hidden layers use defaults.
        let tags: Vec<Vec<i64>> = (0..sizes.len())
            .map(|i| {
                let (explicit, field) = match i {
                    0 => (spec.input_tags.as_deref(), "input_tags"),
                    i if i == last => (spec.output_tags.as_deref(), "output_tags"),
                    _ => (None, "hidden_tags"),
                };
                topology::resolve_tags(explicit, shapes[i], sizes[i], spec.tag_count, field)
            })
            .collect::<Result<_>>()?;
        let layers = (0..last)
            .map(|l| {
                Layer::new(
                    &LayerSpec {
                        inputs: sizes[l],
                        outputs: sizes[l + 1],
                        max_neighbors: spec.max_neighbors,
                        connection_radius: spec.connection_radius,
                        tag_count: spec.tag_count,
                        tag_distance: spec.tag_distance,
                        input_shape: shapes[l],
                        output_shape: shapes[l + 1],
                        input_tags: Some(&tags[l]),
                        output_tags: Some(&tags[l + 1]),
                        gate: spec.gate,
                        short_weight: spec.learning.short_weight,
                        long_weight: spec.learning.long_weight,
                        bias: spec.bias,
                        seed: spec.seed.wrapping_add(l as u32),
                    },
                    l,
                )
            })
            .collect::<Result<Vec<_>>>()?;

        let mut config = spec.learning.clone();
        config.max_budget.get_or_insert(spec.max_neighbors as f64);
        let budget = Budget::new(&config, spec.max_neighbors);
        Ok(Network {
            layers,
            activation: spec.activation,
            config,
            budget,
            structural: spec.structural.clone(),
            steps: 0,
            ws: Workspace::default(),
        })
    }

    /// The layers, input side first.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Mutable access to the layers (for tests and tools that set up state).
    pub fn layers_mut(&mut self) -> &mut [Layer] {
        &mut self.layers
    }

    /// The learning configuration with `max_budget` resolved.
    pub fn config(&self) -> &LearningConfig {
        &self.config
    }

    /// Hidden activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// Current per-output budget.
    pub fn budget(&self) -> f64 {
        self.budget.budget
    }

    /// Loss of the last step, if any.
    pub fn previous_loss(&self) -> Option<f64> {
        self.budget.previous_loss
    }

    /// Number of inputs.
    pub fn inputs(&self) -> usize {
        self.layers[0].inputs()
    }

    /// Number of outputs.
    pub fn outputs(&self) -> usize {
        self.layers[self.layers.len() - 1].outputs()
    }

    /// The prediction (output of the forward pass) of the last training step or
    /// [`Network::forward_cached`] call.
    pub fn prediction(&self) -> &Matrix {
        &self.ws.prediction
    }

    /// The separation of positive from negative rows by the network as it is (spec
    /// section 11, [`crate::contrastive`]): with `G+` and `G-` the mean output-layer
    /// goodness (`sum_o y[o]^2`) of each, the scale-free contrast `(G+ - G-) / (G+ +
    /// G-)`, in [-1, 1] (0 when both are 0). Scale-free because the linear output
    /// layer's activity can grow on both kinds of rows at once.
    pub fn separation(&self, positive: &Matrix, negative: &Matrix) -> Result<f64> {
        use crate::contrastive::{contrast, mean_goodness};
        Ok(contrast(
            mean_goodness(&self.forward(positive)?),
            mean_goodness(&self.forward(negative)?),
        ))
    }

    /// Forward pass returning a new matrix.
    pub fn forward(&self, x: &Matrix) -> Result<Matrix> {
        if x.cols() != self.inputs() {
            return Err(Error::invalid(
                "x",
                format!("expected {} columns, got {}", self.inputs(), x.cols()),
            ));
        }
        // Feature-major through every layer, as in the training step: one transpose in,
        // one out.
        let mut h = x.transpose();
        let mut z = Matrix::default();
        for (l, layer) in self.layers.iter().enumerate() {
            layer.forward_t(&h, &mut z)?;
            if l + 1 < self.layers.len() {
                for v in z.as_mut_slice() {
                    *v = self.activation.apply(*v);
                }
            }
            std::mem::swap(&mut h, &mut z);
        }
        Ok(h.transpose())
    }

    /// Trainable parameters: the weights of valid slots plus the biases.
    pub fn trainable_parameters(&self) -> usize {
        self.layers
            .iter()
            .map(|l| {
                let weights = l.mask().iter().filter(|&&m| m != 0).count();
                weights + l.state().bias.as_ref().map_or(0, Vec::len)
            })
            .sum()
    }

    /// Forward pass keeping every layer's pre-activation and activation in the
    /// workspace; returns the prediction.
    pub fn forward_cached(&mut self, x: &Matrix) -> Result<&Matrix> {
        let n = self.layers.len();
        if x.cols() != self.inputs() {
            return Err(Error::invalid(
                "x",
                format!("expected {} columns, got {}", self.inputs(), x.cols()),
            ));
        }
        let ws = &mut self.ws;
        ws.pre.resize_with(n, Matrix::default);
        ws.act.resize_with(n - 1, Matrix::default);
        ws.err.resize_with(n, Matrix::default);
        x.transpose_into(&mut ws.x_t);
        for l in 0..n {
            let input = if l == 0 { &ws.x_t } else { &ws.act[l - 1] };
            self.layers[l].forward_t(input, &mut ws.pre[l])?;
            if l + 1 < n {
                let (pre, act) = (&ws.pre[l], &mut ws.act[l]);
                act.reshape(pre.rows(), pre.cols());
                for (a, &z) in act.as_mut_slice().iter_mut().zip(pre.as_slice()) {
                    *a = self.activation.apply(z);
                }
            }
        }
        ws.pre[n - 1].transpose_into(&mut ws.prediction);
        Ok(&ws.prediction)
    }

    /// Masked mean squared error of `prediction` against `target` (spec section 5).
    pub fn loss(prediction: &Matrix, target: &Matrix, mask: Option<&[f64]>) -> f64 {
        let mask = mask.map_or(OutputMask::All, OutputMask::Shared);
        Self::masked_loss(prediction, target, mask, prediction.rows())
    }

    /// The loss over the first `rows` rows, weighted by `mask`: the mean squared error
    /// without a mask, else `sum m (y - t)^2 / max(sum m, 1)` over rows and outputs.
    pub fn masked_loss(
        prediction: &Matrix,
        target: &Matrix,
        mask: OutputMask<'_>,
        rows: usize,
    ) -> f64 {
        let outs = prediction.cols();
        if let OutputMask::All = mask {
            let mut sum = 0.0;
            let mut count = 0usize;
            for r in 0..rows {
                for (y, t) in prediction.row(r).iter().zip(target.row(r)) {
                    let d = y - t;
                    sum += d * d;
                    count += 1;
                }
            }
            return if count > 0 { sum / count as f64 } else { 0.0 };
        }
        let mut squared = 0.0;
        let mut weight = 0.0;
        for r in 0..rows {
            let (y, t) = (prediction.row(r), target.row(r));
            let m = mask.row(r).unwrap_or(&[]);
            for o in 0..outs {
                let d = y[o] - t[o];
                squared += d * d * m[o];
                weight += m[o];
            }
        }
        squared / weight.max(1.0)
    }

    fn check_batch(
        &self,
        x: &Matrix,
        target: &Matrix,
        mask: OutputMask<'_>,
        loss_rows: usize,
    ) -> Result<()> {
        if x.rows() == 0 {
            return Err(Error::invalid(
                "x",
                "a training batch needs at least one row",
            ));
        }
        if x.cols() != self.inputs() {
            return Err(Error::invalid(
                "x",
                format!("expected {} columns, got {}", self.inputs(), x.cols()),
            ));
        }
        if target.rows() != x.rows() || target.cols() != self.outputs() {
            return Err(Error::invalid(
                "target",
                format!(
                    "expected {} x {}, got {} x {}",
                    x.rows(),
                    self.outputs(),
                    target.rows(),
                    target.cols()
                ),
            ));
        }
        match mask {
            OutputMask::Shared(m) if m.len() != self.outputs() => {
                return Err(Error::invalid(
                    "output_mask",
                    format!("expected {} values, got {}", self.outputs(), m.len()),
                ));
            }
            OutputMask::PerRow(m) if m.rows() != x.rows() || m.cols() != self.outputs() => {
                return Err(Error::invalid(
                    "output_mask",
                    format!(
                        "expected {} x {}, got {} x {}",
                        x.rows(),
                        self.outputs(),
                        m.rows(),
                        m.cols()
                    ),
                ));
            }
            _ => {}
        }
        if loss_rows == 0 || loss_rows > x.rows() {
            return Err(Error::invalid(
                "loss_rows",
                format!("must be in 1..={}, got {loss_rows}", x.rows()),
            ));
        }
        Ok(())
    }

    /// One local training step on a batch (spec section 5). `mask` weights each output's
    /// error (0 disables an output).
    pub fn step(
        &mut self,
        x: &Matrix,
        target: &Matrix,
        mask: Option<&[f64]>,
    ) -> Result<StepReport> {
        let mask = mask.map_or(OutputMask::All, OutputMask::Shared);
        self.step_masked(x, target, mask, x.rows())
    }

    /// One local training step where each row may carry its own output mask, and only
    /// the first `loss_rows` rows count in the loss that drives budget adaptation (the
    /// rest, such as replayed rows, still take part in the update).
    pub fn step_masked(
        &mut self,
        x: &Matrix,
        target: &Matrix,
        mask: OutputMask<'_>,
        loss_rows: usize,
    ) -> Result<StepReport> {
        self.check_batch(x, target, mask, loss_rows)?;
        self.forward_cached(x)?;
        let n = self.layers.len();
        let loss = Self::masked_loss(&self.ws.prediction, target, mask, loss_rows);
        let previous_loss = self.budget.previous_loss;
        let (mode, improved, consolidate) = self.adapt(loss);

        // Output error, then walk down: derivative for hidden layers, feedback below.
        let ws = &mut self.ws;
        target.transpose_into(&mut ws.target_t);
        {
            let (y, t, e) = (&ws.pre[n - 1], &ws.target_t, &mut ws.err[n - 1]);
            e.reshape(y.rows(), y.cols());
            for o in 0..y.rows() {
                for (r, ((ev, &yv), &tv)) in e
                    .row_mut(o)
                    .iter_mut()
                    .zip(y.row(o))
                    .zip(t.row(o))
                    .enumerate()
                {
                    let mut err = tv - yv;
                    if let Some(m) = mask.row(r) {
                        err *= m[o];
                    }
                    *ev = err;
                }
            }
        }
        for l in (0..n).rev() {
            if l + 1 < n {
                // err[l] holds the feedback from layer l+1; scale by the derivative.
                let (pre, act, err) = (&ws.pre[l], &ws.act[l], &mut ws.err[l]);
                for ((e, &z), &a) in err
                    .as_mut_slice()
                    .iter_mut()
                    .zip(pre.as_slice())
                    .zip(act.as_slice())
                {
                    *e *= self.activation.derivative(z, a);
                }
            }
            if l > 0 {
                self.layers[l].feedback_t(&ws.err[l], &mut ws.feedback)?;
                std::mem::swap(&mut ws.err[l - 1], &mut ws.feedback);
            }
        }

        let accepted = self.update_layers(mode, consolidate)?;
        let ws = &self.ws;
        self.steps += 1;
        let mut rewired = 0;
        if let Some(structural) = &self.structural {
            if self.steps % structural.every as u64 == 0 {
                for l in 0..n {
                    let pre = if l == 0 { &ws.x_t } else { &ws.act[l - 1] };
                    rewired += self.layers[l].rewire_t(pre, &ws.err[l], structural)?;
                }
            }
        }
        Ok(StepReport {
            loss,
            previous_loss,
            improved,
            mode,
            budget: self.budget.budget,
            accepted,
            rewired,
        })
    }

    /// Budget adaptation for a step with this loss, and whether the step may
    /// consolidate (spec section 5, step 4).
    fn adapt(&mut self, loss: f64) -> (Mode, Option<bool>, bool) {
        let (mode, improved) = self.budget.adapt(loss, &self.config);
        let gate_open = self
            .config
            .consolidation_loss_gate
            .is_none_or(|gate| loss <= gate);
        (mode, improved, gate_open && mode == Mode::Exploit)
    }

    /// Runs every layer's local update on the batch in the workspace (inputs, activities
    /// and local errors already in place); returns the accepted slots.
    fn update_layers(&mut self, mode: Mode, consolidate: bool) -> Result<usize> {
        let n = self.layers.len();
        let params = UpdateParams {
            budget: self.budget.budget,
            mode,
            consolidate,
            config: &self.config,
        };
        let ws = &self.ws;
        let mut accepted = 0;
        for (l, layer) in self.layers.iter_mut().enumerate() {
            let pre = if l == 0 { &ws.x_t } else { &ws.act[l - 1] };
            let post = if l + 1 < n { &ws.act[l] } else { &ws.pre[l] };
            accepted += layer.local_update_t(pre, post, &ws.err[l], &params)?;
        }
        Ok(accepted)
    }

    /// One target-free contrastive step (spec section 11, see [`crate::contrastive`]):
    /// raises every layer's activity on `positive` rows and lowers it on `negative`
    /// rows through the usual local update. The report's `loss` is the negative
    /// separation before the update.
    pub fn contrastive_step(&mut self, positive: &Matrix, negative: &Matrix) -> Result<StepReport> {
        if positive.rows() == 0 || negative.rows() == 0 {
            return Err(Error::invalid(
                "positive",
                "a contrastive step needs positive and negative rows",
            ));
        }
        for (m, name) in [(positive, "positive"), (negative, "negative")] {
            if m.cols() != self.inputs() {
                return Err(Error::invalid(
                    name,
                    format!("expected {} columns, got {}", self.inputs(), m.cols()),
                ));
            }
        }
        let n = self.layers.len();
        let split = positive.rows();
        let mut stacked = std::mem::take(&mut self.ws.stacked);
        stacked.reshape(split + negative.rows(), self.inputs());
        stacked.as_mut_slice()[..positive.as_slice().len()].copy_from_slice(positive.as_slice());
        stacked.as_mut_slice()[positive.as_slice().len()..].copy_from_slice(negative.as_slice());
        let result = self.forward_cached(&stacked).map(|_| ());
        self.ws.stacked = stacked;
        result?;

        let y = &self.ws.prediction;
        let goodness = |rows: std::ops::Range<usize>| {
            let count = rows.len() as f64;
            rows.map(|r| y.row(r).iter().map(|v| v * v).sum::<f64>())
                .sum::<f64>()
                / count
        };
        let separation =
            crate::contrastive::contrast(goodness(0..split), goodness(split..y.rows()));
        let loss = -separation;
        let previous_loss = self.budget.previous_loss;
        let (mode, improved, consolidate) = self.adapt(loss);

        // Local errors: +-h f'(z), feature-major like everything in the workspace.
        let ws = &mut self.ws;
        for l in 0..n {
            let (pre, err) = (&ws.pre[l], &mut ws.err[l]);
            err.reshape(pre.rows(), pre.cols());
            let hidden = l + 1 < n;
            for o in 0..pre.rows() {
                let (z, e) = (pre.row(o), err.row_mut(o));
                let h = if hidden { ws.act[l].row(o) } else { z };
                for (r, ev) in e.iter_mut().enumerate() {
                    let slope = if hidden {
                        self.activation.derivative(z[r], h[r])
                    } else {
                        1.0
                    };
                    let sign = if r < split { 1.0 } else { -1.0 };
                    *ev = sign * h[r] * slope;
                }
            }
        }
        let accepted = self.update_layers(mode, consolidate)?;
        Ok(StepReport {
            loss,
            previous_loss,
            improved,
            mode,
            budget: self.budget.budget,
            accepted,
            rewired: 0,
        })
    }
}
