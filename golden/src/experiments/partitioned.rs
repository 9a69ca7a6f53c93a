//! `partitioned`: do tags and output masks keep a memory apart?
//!
//! 64 inputs and 16 outputs, both in 4 tag groups. Task A is the outputs of groups 0-1,
//! task B those of groups 2-3 (a sparse local linear rule each,
//! [`crate::tasks::sparse_linear_regression`]). The network trains A with A's output
//! mask, then B with B's, on separate batches. `error_a` is A's masked MSE on held-out
//! rows: before training (`e0`), right after A (`e1`) and after B (`e2`). Metrics:
//! `retention` = e2 / e1 (1 = nothing forgotten) and `progress_lost` =
//! (e2 - e1) / (e0 - e1) (the share of A's improvement that B undid). Arms: the LPN with
//! the spec's defaults, with the consolidation settings of consolidated-conflict, with
//! a low trail floor ([`LOW_FLOOR`]), and the dense baseline (same parameter count
//! within 10%).

use super::{claim, Curve, ExperimentReport, Options};
use crate::baseline::DenseMlp;
use crate::error::Result;
use crate::matrix::Matrix;
use crate::network::{Activation, Network, NetworkSpec};
use crate::tasks::sparse_linear_regression;

/// Arms per seed.
pub(crate) const ARMS: u64 = 4;

/// `min_pheromone` of the low-floor arm. Idle trails evaporate by `1 - 0.02` per step;
/// over B's 300 steps they shrink to about 0.2% of their value, and the default floor of
/// 0.01 catches most of them, which equalises A's gate and shifts its effective weights.
/// A floor far below where they end up keeps their ratios, and so A's gate.
const LOW_FLOOR: f64 = 1e-6;

const INPUTS: usize = 64;
const OUTPUTS: usize = 16;
const ROWS: usize = 64;

/// The three errors (e0, e1, e2) and A's held-out error curve over both phases.
struct Run {
    errors: [f64; 3],
    curve: Vec<(f64, f64)>,
}

trait Learner {
    fn train(&mut self, x: &Matrix, t: &Matrix, mask: &[f64]) -> Result<()>;
    fn error(&self, x: &Matrix, t: &Matrix, mask: &[f64]) -> Result<f64>;
}

impl Learner for Network {
    fn train(&mut self, x: &Matrix, t: &Matrix, mask: &[f64]) -> Result<()> {
        self.step(x, t, Some(mask)).map(|_| ())
    }
    fn error(&self, x: &Matrix, t: &Matrix, mask: &[f64]) -> Result<f64> {
        Ok(Network::loss(&self.forward(x)?, t, Some(mask)))
    }
}

impl Learner for DenseMlp {
    fn train(&mut self, x: &Matrix, t: &Matrix, mask: &[f64]) -> Result<()> {
        self.step(x, t, Some(mask)).map(|_| ())
    }
    fn error(&self, x: &Matrix, t: &Matrix, mask: &[f64]) -> Result<f64> {
        self.loss(x, t, Some(mask))
    }
}

fn two_tasks(learner: &mut dyn Learner, steps: usize, seed: u32) -> Result<Run> {
    let (x, t) = sparse_linear_regression(INPUTS, OUTPUTS, 3, 3 * ROWS, 4, 2000 + seed);
    let block = |m: &Matrix, b: usize| m.row_block(b * ROWS, ROWS);
    let (xa, ta, xb, tb) = (block(&x, 0)?, block(&t, 0)?, block(&x, 1)?, block(&t, 1)?);
    let (xe, te) = (block(&x, 2)?, block(&t, 2)?);
    let mask_a: Vec<f64> = (0..OUTPUTS)
        .map(|o| if o < OUTPUTS / 2 { 1.0 } else { 0.0 })
        .collect();
    let mask_b: Vec<f64> = mask_a.iter().map(|m| 1.0 - m).collect();
    let e0 = learner.error(&xe, &te, &mask_a)?;
    let mut curve = vec![(0.0, e0)];
    for step in 1..=steps {
        learner.train(&xa, &ta, &mask_a)?;
        curve.push((step as f64, learner.error(&xe, &te, &mask_a)?));
    }
    let e1 = learner.error(&xe, &te, &mask_a)?;
    for step in 1..=steps {
        learner.train(&xb, &tb, &mask_b)?;
        curve.push(((steps + step) as f64, learner.error(&xe, &te, &mask_a)?));
    }
    let e2 = learner.error(&xe, &te, &mask_a)?;
    Ok(Run {
        errors: [e0, e1, e2],
        curve,
    })
}

pub(crate) fn run(options: Options, progress: &mut dyn FnMut()) -> Result<ExperimentReport> {
    // A full run takes well under a second, so `quick` changes nothing here.
    let _ = options.quick;
    let steps = 300;
    let arms = ["lpn", "lpn+consolidation", "lpn+low-floor", "dense"];
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); 3 * arms.len()];
    let mut curves = Vec::new();
    for seed in 0..options.seeds {
        let mut runs = Vec::with_capacity(arms.len());
        let mut spec = NetworkSpec::new(INPUTS, vec![], OUTPUTS);
        spec.max_neighbors = 16;
        spec.seed = seed;
        runs.push(two_tasks(&mut Network::new(&spec)?, steps, seed)?);
        progress();
        let mut consolidated = spec.clone();
        consolidated.learning = super::forgetting::consolidation();
        runs.push(two_tasks(&mut Network::new(&consolidated)?, steps, seed)?);
        progress();
        let mut low_floor = spec.clone();
        if !options.ablate {
            low_floor.learning.min_pheromone = LOW_FLOOR;
        }
        runs.push(two_tasks(&mut Network::new(&low_floor)?, steps, seed)?);
        progress();
        let mut dense = DenseMlp::matching(&Network::new(&spec)?, Activation::Tanh, 0.5, seed)?;
        runs.push(two_tasks(&mut dense, steps, seed)?);
        progress();
        for (i, r) in runs.iter().enumerate() {
            let [e0, e1, e2] = r.errors;
            values[3 * i].push(e1);
            values[3 * i + 1].push(e2 / e1);
            values[3 * i + 2].push((e2 - e1) / (e0 - e1));
        }
        if seed == 0 {
            for (arm, r) in arms.iter().zip(runs) {
                curves.push(Curve {
                    arm: arm.to_string(),
                    x_label: "training step".into(),
                    y_label: "task A held-out MSE".into(),
                    points: r.curve,
                });
            }
        }
    }
    let per_arm: Vec<Vec<Vec<f64>>> = values.chunks(3).map(|c| c.to_vec()).collect();
    let measurements = super::table(
        &arms,
        &["error_a_after_a", "retention", "progress_lost"],
        &per_arm,
    );
    let mean = |arm: usize, metric: usize| measurements[3 * arm + metric].mean();
    let claims = vec![
        claim(
            "partitioned memories survive: A's error after B stays within 10% of its value right after A",
            mean(0, 1) <= 1.1,
            format!("lpn retention {:.3}", mean(0, 1)),
        ),
        claim(
            "with a trail floor that idle trails do not reach during B (min_pheromone 1e-6), A's error after B stays within 10% of its value right after A, and A is learned within 25% of the default's error",
            mean(2, 1) <= 1.1 && mean(2, 0) <= 1.25 * mean(0, 0),
            format!("lpn+low-floor retention {:.3}, error after A {:.4} vs {:.4}", mean(2, 1), mean(2, 0), mean(0, 0)),
        ),
        claim(
            "the dense baseline loses more than half of A's progress",
            mean(3, 2) > 0.5,
            format!("dense progress_lost {:.3} (lpn {:.3})", mean(3, 2), mean(0, 2)),
        ),
    ];
    Ok(super::report(
        "partitioned",
        "Do tags and output masks preserve partitioned memories while another partition trains?",
        options,
        measurements,
        curves,
        claims,
    ))
}
