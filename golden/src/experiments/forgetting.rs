//! `conflict`, `consolidated-conflict` and `replay`: forgetting under a conflicting task.
//!
//! 64 inputs and 16 outputs in 4 tag groups, one layer with K = 16. Task A is a sparse
//! local linear rule on every output; task B is another such rule (other coefficients)
//! on the same inputs and outputs, so B conflicts with A everywhere. The learner trains
//! A, then B, each on its own batch; `error_a` is A's MSE on held-out rows, right after A
//! (`e1`) and after B (`e2`). `forgetting` = e2 - e1, as in docs/experiments.md. The arms
//! differ only in the mechanism under test: the plain LPN, the LPN with consolidation,
//! the LPN with replay (the buffer sees A's rows while A trains and mixes them into B's
//! batches), and the dense baseline with as many parameters (within 10%).

use super::{claim, Curve, ExperimentReport, Options};
use crate::baseline::DenseMlp;
use crate::config::LearningConfig;
use crate::error::Result;
use crate::network::{Activation, Network, NetworkSpec};
use crate::replay::{ReplayBuffer, ReplayConfig};
use crate::tasks::sparse_linear_regression;

const INPUTS: usize = 64;
const OUTPUTS: usize = 16;
const ROWS: usize = 64;

/// The learners compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arm {
    Lpn,
    Consolidation,
    Replay,
    Dense,
}

impl Arm {
    fn name(self) -> &'static str {
        match self {
            Arm::Lpn => "lpn",
            Arm::Consolidation => "lpn+consolidation",
            Arm::Replay => "lpn+replay",
            Arm::Dense => "dense",
        }
    }
}

/// The arms of each experiment of this family.
pub(crate) fn arms(name: &str) -> &'static [Arm] {
    match name {
        "conflict" => &[Arm::Lpn, Arm::Dense],
        "consolidated-conflict" => &[Arm::Lpn, Arm::Consolidation],
        _ => &[Arm::Lpn, Arm::Replay],
    }
}

/// Consolidation settings of the consolidation arm. With the defaults consolidation
/// never engages here (budget 1 keeps most long trails near 0.1, below the threshold of
/// 1.2), so the arm lowers the threshold to 0.3 with `max_pheromone` 2, grows fast
/// (1.0), and consolidates only once the training loss is below 0.12 (the loss gate):
/// consolidating while A is still being learned freezes A half-learned. Measured
/// alternatives are in docs/experiments.md.
pub(crate) fn consolidation() -> LearningConfig {
    LearningConfig {
        consolidation_strength: 1.0,
        consolidation_threshold: 0.3,
        max_pheromone: 2.0,
        consolidation_growth: 1.0,
        consolidation_loss_gate: Some(0.12),
        ..Default::default()
    }
}

/// The LPN of this family: one layer, K = 16 (each output sees its whole tag group).
fn lpn_spec(seed: u32) -> NetworkSpec {
    let mut spec = NetworkSpec::new(INPUTS, vec![], OUTPUTS);
    spec.max_neighbors = 16;
    spec.seed = seed;
    spec
}

struct Run {
    e1: f64,
    e2: f64,
    curve: Vec<(f64, f64)>,
}

/// Runs one arm: A for `steps` steps, then B. `ablate` switches the arm's mechanism off;
/// `no_conflict` (the `conflict` experiment's control) makes B more training on A.
fn run_arm(arm: Arm, steps: usize, seed: u32, ablate: bool, no_conflict: bool) -> Result<Run> {
    let (xa_all, ta_all) = sparse_linear_regression(INPUTS, OUTPUTS, 3, 2 * ROWS, 4, 3000 + seed);
    let (xa, ta) = (xa_all.row_block(0, ROWS)?, ta_all.row_block(0, ROWS)?);
    let (xb_all, tb_all) = if no_conflict {
        (xa.clone(), ta.clone())
    } else {
        sparse_linear_regression(INPUTS, OUTPUTS, 3, ROWS, 4, 4000 + seed)
    };
    let (xe, te) = (xa_all.row_block(ROWS, ROWS)?, ta_all.row_block(ROWS, ROWS)?);
    let mut curve = Vec::with_capacity(2 * steps + 1);
    if arm == Arm::Dense {
        let mut dense =
            DenseMlp::matching(&Network::new(&lpn_spec(seed))?, Activation::Tanh, 0.5, seed)?;
        curve.push((0.0, dense.loss(&xe, &te, None)?));
        for step in 1..=2 * steps {
            let (x, t) = if step <= steps {
                (&xa, &ta)
            } else {
                (&xb_all, &tb_all)
            };
            dense.step(x, t, None)?;
            curve.push((step as f64, dense.loss(&xe, &te, None)?));
        }
    } else {
        let mut spec = lpn_spec(seed);
        if arm == Arm::Consolidation && !ablate {
            spec.learning = consolidation();
        }
        let mut net = Network::new(&spec)?;
        let mut replay = match arm {
            Arm::Replay if !ablate => Some(ReplayBuffer::new(ReplayConfig {
                capacity: 64,
                ratio: 0.5,
                conflict_ratio: 1.0,
                seed,
            })?),
            _ => None,
        };
        curve.push((0.0, Network::loss(&net.forward(&xe)?, &te, None)));
        let mut previous = None;
        for step in 1..=2 * steps {
            let (x, t) = if step <= steps {
                (&xa, &ta)
            } else {
                (&xb_all, &tb_all)
            };
            let report = match replay.as_mut() {
                Some(buffer) => buffer.step(&mut net, x, t, None, previous)?.report,
                None => net.step(x, t, None)?,
            };
            previous = Some(report.mode);
            curve.push((step as f64, Network::loss(&net.forward(&xe)?, &te, None)));
        }
    }
    Ok(Run {
        e1: curve[steps].1,
        e2: curve[2 * steps].1,
        curve,
    })
}

pub(crate) fn run(
    name: &str,
    options: Options,
    progress: &mut dyn FnMut(),
) -> Result<ExperimentReport> {
    // A full run takes well under a second, so `quick` changes nothing here.
    let steps = 300;
    let arms = arms(name);
    // The conflict experiment's mechanism is the conflict itself: its control trains B
    // on A's own rows, so nothing may be forgotten and its claim must fail.
    let no_conflict = name == "conflict" && options.ablate;
    let mut values: Vec<[Vec<f64>; 3]> = vec![Default::default(); arms.len()];
    let mut curves = Vec::new();
    for seed in 0..options.seeds {
        for (i, &arm) in arms.iter().enumerate() {
            let r = run_arm(arm, steps, seed, options.ablate, no_conflict)?;
            values[i][0].push(r.e1);
            values[i][1].push(r.e2);
            values[i][2].push(r.e2 - r.e1);
            if seed == 0 {
                curves.push(Curve {
                    arm: arm.name().into(),
                    x_label: "training step".into(),
                    y_label: "task A held-out MSE".into(),
                    points: r.curve,
                });
            }
            progress();
        }
    }
    let names: Vec<&str> = arms.iter().map(|a| a.name()).collect();
    let per_arm: Vec<Vec<Vec<f64>>> = values.iter().map(|v| v.to_vec()).collect();
    let measurements = super::table(
        &names,
        &["error_a_after_a", "error_a_after_b", "forgetting"],
        &per_arm,
    );
    let forgetting = |i: usize| measurements[3 * i + 2].mean();
    let learned = |i: usize| measurements[3 * i].mean();
    let (base, other) = (forgetting(0), forgetting(1));
    // A mechanism that keeps A from being learned would "forget" less for the wrong
    // reason, so the claims also require A to be learned within 25% of the plain LPN.
    let fair = learned(1) <= 1.25 * learned(0);
    let lower = |what: &str| {
        claim(
            format!("{what} lowers forgetting of A by at least 30% relative, with A's error after A within 25% of the plain LPN's"),
            other <= 0.7 * base && fair,
            format!(
                "forgetting {base:.4} without, {other:.4} with ({:.1}% lower); error after A {:.4} vs {:.4}",
                100.0 * (1.0 - other / base),
                learned(1),
                learned(0)
            ),
        )
    };
    let (question, claims) = match name {
        "conflict" => (
            "How much of task A does a conflicting task B on the same inputs erase?",
            // The paper makes no claim here; what is checked is that the experiment
            // measures what it says, a conflict that erases part of A.
            vec![claim(
                "task B erases part of A: the LPN's held-out error on A after B is at least 1.5 times its error right after A",
                measurements[1].mean() >= 1.5 * learned(0),
                format!("lpn error on A {:.4} after A, {:.4} after B; forgetting lpn {base:.4}, dense {other:.4} (relative forgetting against the dense baseline {:.2})", learned(0), measurements[1].mean(), base / other),
            )],
        ),
        "consolidated-conflict" => ("Does consolidation reduce forgetting under conflict?", vec![lower("consolidation")]),
        _ => ("Does local replay reduce forgetting under conflict?", vec![lower("replay")]),
    };
    Ok(super::report(
        name,
        question,
        options,
        measurements,
        curves,
        claims,
    ))
}
