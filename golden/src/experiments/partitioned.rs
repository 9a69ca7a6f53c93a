//! `partitioned`: do tags and output masks keep a memory apart?
//!
//! 64 inputs and 16 outputs, both in 4 tag groups. Task A is the outputs of groups 0-1,
//! task B those of groups 2-3 (a sparse local linear rule each,
//! [`crate::tasks::sparse_linear_regression`]). The network trains A with A's output
//! mask, then B with B's, on separate batches. `error_a` is A's masked MSE on held-out
//! rows: before training (`e0`), right after A (`e1`) and after B (`e2`). Metrics:
//! `retention` = e2 / e1 (1 = nothing forgotten) and `progress_lost` =
//! (e2 - e1) / (e0 - e1) (the share of A's improvement that B undid). The dense baseline
//! (same parameter count within 10%) trains the same way.

use super::{claim, Curve, ExperimentReport, Options};
use crate::baseline::DenseMlp;
use crate::error::Result;
use crate::matrix::Matrix;
use crate::network::{Activation, Network, NetworkSpec};
use crate::tasks::sparse_linear_regression;

/// Arms per seed.
pub(crate) const ARMS: u64 = 3;

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
    let arms = ["lpn", "lpn+consolidation", "dense"];
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); 3 * arms.len()];
    let mut curves = Vec::new();
    for seed in 0..options.seeds {
        let mut spec = NetworkSpec::new(INPUTS, vec![], OUTPUTS);
        spec.max_neighbors = 16;
        spec.seed = seed;
        let mut net = Network::new(&spec)?;
        let params = net.layers()[0].mask().iter().filter(|&&m| m != 0).count() + OUTPUTS;
        let lpn = two_tasks(&mut net, steps, seed)?;
        progress();
        if !options.ablate {
            spec.learning = super::forgetting::consolidation();
        }
        let consolidated = two_tasks(&mut Network::new(&spec)?, steps, seed)?;
        progress();
        let mut dense =
            DenseMlp::with_parameters_near(INPUTS, OUTPUTS, params, Activation::Tanh, 0.5, seed)?;
        let dense_run = two_tasks(&mut dense, steps, seed)?;
        progress();
        for (i, r) in [&lpn, &consolidated, &dense_run].into_iter().enumerate() {
            let [e0, e1, e2] = r.errors;
            values[3 * i].push(e1);
            values[3 * i + 1].push(e2 / e1);
            values[3 * i + 2].push((e2 - e1) / (e0 - e1));
        }
        if seed == 0 {
            curves.push(Curve {
                arm: "lpn".into(),
                y_label: "task A held-out MSE".into(),
                points: lpn.curve,
            });
            curves.push(Curve {
                arm: "lpn+consolidation".into(),
                y_label: "task A held-out MSE".into(),
                points: consolidated.curve,
            });
            curves.push(Curve {
                arm: "dense".into(),
                y_label: "task A held-out MSE".into(),
                points: dense_run.curve,
            });
        }
    }
    let per_arm: Vec<Vec<Vec<f64>>> = values.chunks(3).map(|c| c.to_vec()).collect();
    let measurements = super::table(
        &arms,
        &["error_a_after_a", "retention", "progress_lost"],
        &per_arm,
    );
    let lpn_retention = measurements[1].mean();
    let consolidated_retention = measurements[4].mean();
    let lpn_lost = measurements[2].mean();
    let dense_lost = measurements[8].mean();
    let claims = vec![
        claim(
            "partitioned memories survive: A's error after B stays within 10% of its value right after A",
            lpn_retention <= 1.1,
            format!("lpn retention {lpn_retention:.3}"),
        ),
        claim(
            "with consolidation (the consolidated-conflict settings) A's error after B stays within 10% of its value right after A",
            consolidated_retention <= 1.1,
            format!("lpn+consolidation retention {consolidated_retention:.3}"),
        ),
        claim(
            "the dense baseline loses more than half of A's progress",
            dense_lost > 0.5,
            format!("dense progress_lost {dense_lost:.3} (lpn {lpn_lost:.3})"),
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
