//! `regression`: learning sparse local linear rules.
//!
//! 64 inputs in 4 tag groups, 16 outputs; each target is a fixed combination of the 3
//! inputs nearest to its output within its tag group ([`crate::tasks::sparse_linear_regression`]).
//! The LPN is one layer with K = 16 (every input of the output's tag group); the dense
//! baseline is a 64-h-16 MLP with as many parameters (within 10%). Metric:
//! `relative_mse` = final training MSE / MSE at the first step, and the same on 64
//! held-out rows (`relative_test_mse`).

use super::{claim, Curve, ExperimentReport, Options};
use crate::baseline::DenseMlp;
use crate::error::Result;
use crate::matrix::Matrix;
use crate::network::{Activation, Network, NetworkSpec};
use crate::tasks::sparse_linear_regression;

/// Arms per seed.
pub(crate) const ARMS: u64 = 2;

const INPUTS: usize = 64;
const OUTPUTS: usize = 16;
const ROWS: usize = 64;

fn split(x: &Matrix, t: &Matrix) -> Result<(Matrix, Matrix, Matrix, Matrix)> {
    Ok((
        x.row_block(0, ROWS)?,
        t.row_block(0, ROWS)?,
        x.row_block(ROWS, ROWS)?,
        t.row_block(ROWS, ROWS)?,
    ))
}

pub(crate) fn run(options: Options, progress: &mut dyn FnMut()) -> Result<ExperimentReport> {
    // A full run takes well under a second, so `quick` changes nothing here.
    let steps = 400;
    let mut lpn_train = Vec::new();
    let mut lpn_test = Vec::new();
    let mut dense_train = Vec::new();
    let mut dense_test = Vec::new();
    let mut curves = Vec::new();
    for seed in 0..options.seeds {
        let (x, t) = sparse_linear_regression(INPUTS, OUTPUTS, 3, 2 * ROWS, 4, 1000 + seed);
        let (x, t, xt, tt) = split(&x, &t)?;
        let mut spec = NetworkSpec::new(INPUTS, vec![], OUTPUTS);
        spec.max_neighbors = 16;
        spec.seed = seed;
        if options.ablate {
            // The control takes the locality away: every output reads the next tag
            // group's inputs, which its target does not depend on.
            spec.output_tags = Some(
                (0..OUTPUTS)
                    .map(|o| ((o * 4 / OUTPUTS + 1) % 4) as i64)
                    .collect(),
            );
        }
        let mut net = Network::new(&spec)?;
        let test_before = Network::loss(&net.forward(&xt)?, &tt, None);
        let mut losses = Vec::with_capacity(steps);
        for _ in 0..steps {
            losses.push(net.step(&x, &t, None)?.loss);
        }
        let final_train = Network::loss(&net.forward(&x)?, &t, None);
        lpn_train.push(final_train / losses[0]);
        lpn_test.push(Network::loss(&net.forward(&xt)?, &tt, None) / test_before);
        progress();

        let mut dense = DenseMlp::matching(&net, Activation::Tanh, 0.5, seed)?;
        let dense_test_before = dense.loss(&xt, &tt, None)?;
        let mut dense_losses = Vec::with_capacity(steps);
        for _ in 0..steps {
            dense_losses.push(dense.step(&x, &t, None)?);
        }
        dense_train.push(dense.loss(&x, &t, None)? / dense_losses[0]);
        dense_test.push(dense.loss(&xt, &tt, None)? / dense_test_before);
        progress();
        if seed == 0 {
            let curve = |arm: &str, l: &[f64]| Curve {
                arm: arm.into(),
                x_label: "training step".into(),
                y_label: "training MSE".into(),
                points: l
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| (i as f64 + 1.0, v))
                    .collect(),
            };
            curves.push(curve("lpn", &losses));
            curves.push(curve(
                &format!(
                    "dense {}",
                    dense
                        .sizes()
                        .iter()
                        .map(|s| s.to_string())
                        .collect::<Vec<_>>()
                        .join("-")
                ),
                &dense_losses,
            ));
        }
    }
    let measurements = super::table(
        &["lpn", "dense"],
        &["relative_mse", "relative_test_mse"],
        &[vec![lpn_train, lpn_test], vec![dense_train, dense_test]],
    );
    let lpn = measurements[0].mean();
    let lpn_test = measurements[1].mean();
    let claims = vec![claim(
        "the LPN learns sparse local linear rules: final MSE below 10% of the initial, on training and held-out rows",
        lpn < 0.1 && lpn_test < 0.1,
        format!("relative_mse {lpn:.4}, relative_test_mse {lpn_test:.4}"),
    )];
    Ok(super::report(
        "regression",
        "Does the prototype learn sparse local linear rules?",
        options,
        measurements,
        curves,
        claims,
    ))
}
