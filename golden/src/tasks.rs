//! Synthetic tasks used by the shipped scenarios, the benchmarks and later golden vectors.

use crate::matrix::Matrix;
use crate::network::NetworkSpec;
use crate::rng::Mulberry32;
use crate::scenario::{NetworkDoc, Phase, Scenario};
use crate::topology::Shape;

/// A sparse local linear regression problem: `rows` samples of `inputs` features uniform
/// in `[-1, 1)`, and `outputs` targets, each a fixed combination of the `terms` inputs
/// nearest to the output's position within its tag group (so a K-neighbourhood network
/// can represent it exactly), with coefficients uniform in `[-1, 1)` scaled by
/// `1/sqrt(terms)`. Everything is drawn from `mulberry32(seed)`: coefficients first,
/// then x row by row.
pub fn sparse_linear_regression(
    inputs: usize,
    outputs: usize,
    terms: usize,
    rows: usize,
    tag_count: usize,
    seed: u32,
) -> (Matrix, Matrix) {
    let mut rng = Mulberry32::new(seed);
    let mut uniform = || rng.next_f64() * 2.0 - 1.0;
    let ip = Shape::Line.positions(inputs);
    let op = Shape::Line.positions(outputs);
    let it = Shape::Line.default_tags(inputs, tag_count);
    let ot = Shape::Line.default_tags(outputs, tag_count);
    let scale = 1.0 / (terms.max(1) as f64).sqrt();
    let rules: Vec<Vec<(usize, f64)>> = (0..outputs)
        .map(|o| {
            let mut near: Vec<usize> = (0..inputs).filter(|&j| it[j] == ot[o]).collect();
            near.sort_by(|&a, &b| {
                crate::topology::distance(op[o], ip[a])
                    .total_cmp(&crate::topology::distance(op[o], ip[b]))
            });
            near.truncate(terms);
            near.into_iter().map(|j| (j, uniform() * scale)).collect()
        })
        .collect();
    let mut x = Matrix::zeros(rows, inputs);
    for v in x.as_mut_slice() {
        *v = uniform();
    }
    let mut t = Matrix::zeros(rows, outputs);
    for r in 0..rows {
        for (o, rule) in rules.iter().enumerate() {
            t.row_mut(r)[o] = rule.iter().map(|&(j, c)| c * x.row(r)[j]).sum();
        }
    }
    (x, t)
}

/// The scenario shipped as `scenarios/regression.json`: a 16-input, 4-output single
/// layer (K = 8, 4 tag groups) learning [`sparse_linear_regression`] with 3 terms per
/// output on 32 rows for 300 steps, probed on 4 fresh rows.
pub fn regression_scenario() -> Scenario {
    let (inputs, outputs, rows) = (16, 4, 32);
    let spec = NetworkSpec::new(inputs, vec![], outputs);
    let (x, t) = sparse_linear_regression(inputs, outputs, 3, rows + 4, spec.tag_count, 7);
    let all_x = x.to_rows();
    let all_t = t.to_rows();
    Scenario {
        network: NetworkDoc {
            inputs,
            hidden: vec![],
            outputs,
            max_neighbors: spec.max_neighbors,
            tag_count: spec.tag_count,
            tag_distance: spec.tag_distance,
            connection_radius: None,
            activation: spec.activation,
            input_shape: None,
            hidden_shapes: None,
            output_shape: None,
            input_tags: None,
            output_tags: None,
            seed: 1,
            gate: true,
            bias: true,
            learning: spec.learning,
            structural: None,
        },
        phases: vec![Phase {
            x: all_x[..rows].to_vec(),
            target: all_t[..rows].to_vec(),
            output_mask: None,
            steps: 300,
            contrastive: None,
        }],
        probe: Some(all_x[rows..].to_vec()),
        replay: None,
    }
}
