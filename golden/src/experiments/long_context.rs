//! `long-context`: a synthetic hybrid-memory task (a project definition).
//!
//! Bindings: 8 keys, each a random +-1 pattern over 32 inputs, bound to values that are
//! random +-1 patterns over 8 outputs (inputs and outputs in 4 tag groups, one layer,
//! K = 8). *Writing*: 200 steps on the 8 bindings. *Context*: `L` further steps, each
//! on a batch of 8 fresh random distractor bindings (new keys, new values), so that the
//! stream overwrites whatever the written bindings occupy. *Recall*: the written keys are
//! presented; `recall` is the fraction of value signs reproduced (`sign(y) = value`) over
//! all bindings and outputs (0.5 is chance). The curve is recall against `L`; the arms
//! are the plain LPN, consolidation (the consolidated-conflict settings), replay (the
//! buffer sees the writing steps; ratio 0.5, conflict ratio 1), and both.

use super::{claim, Curve, ExperimentReport, Options};
use crate::error::Result;
use crate::matrix::Matrix;
use crate::network::{Network, NetworkSpec};
use crate::replay::{ReplayBuffer, ReplayConfig};
use crate::rng::Mulberry32;

const INPUTS: usize = 32;
const OUTPUTS: usize = 8;
const BINDINGS: usize = 8;
const WRITE_STEPS: usize = 200;

/// Context lengths measured (steps of distractors after writing).
pub(crate) const LENGTHS: [usize; 6] = [0, 25, 50, 100, 200, 400];

/// The arms: (name, consolidation, replay).
const ARM_LIST: [(&str, bool, bool); 4] = [
    ("lpn", false, false),
    ("lpn+consolidation", true, false),
    ("lpn+replay", false, true),
    ("lpn+both", true, true),
];

/// Arms per seed (each runs every context length).
pub(crate) const ARMS: u64 = ARM_LIST.len() as u64;

fn signs(rows: usize, cols: usize, rng: &mut Mulberry32) -> Result<Matrix> {
    let data = (0..rows * cols)
        .map(|_| if rng.next_f64() < 0.5 { -1.0 } else { 1.0 })
        .collect();
    Matrix::from_flat(rows, cols, data)
}

/// Fraction of value signs the network reproduces for the keys.
fn recall(net: &Network, keys: &Matrix, values: &Matrix) -> Result<f64> {
    let y = net.forward(keys)?;
    let hits = y
        .as_slice()
        .iter()
        .zip(values.as_slice())
        .filter(|(y, v)| (**y > 0.0) == (**v > 0.0))
        .count();
    Ok(hits as f64 / values.as_slice().len() as f64)
}

/// Recall after each context length in `LENGTHS`, for one arm and seed (one run: the
/// recall is read at each length along the way; reading does not train).
fn run_arm(consolidation: bool, replay: bool, ablate: bool, seed: u32) -> Result<Vec<f64>> {
    let mut rng = Mulberry32::new(6000 + seed);
    let keys = signs(BINDINGS, INPUTS, &mut rng)?;
    let values = signs(BINDINGS, OUTPUTS, &mut rng)?;
    let mut spec = NetworkSpec::new(INPUTS, vec![], OUTPUTS);
    spec.seed = seed;
    if consolidation && !ablate {
        spec.learning = super::forgetting::consolidation();
    }
    let mut net = Network::new(&spec)?;
    let mut buffer = if replay && !ablate {
        Some(ReplayBuffer::new(ReplayConfig {
            capacity: 64,
            ratio: 0.5,
            conflict_ratio: 1.0,
            seed,
        })?)
    } else {
        None
    };
    let mut previous = None;
    let mut train = |net: &mut Network, x: &Matrix, t: &Matrix| -> Result<()> {
        let report = match buffer.as_mut() {
            Some(b) => b.step(net, x, t, None, previous)?.report,
            None => net.step(x, t, None)?,
        };
        previous = Some(report.mode);
        Ok(())
    };
    for _ in 0..WRITE_STEPS {
        train(&mut net, &keys, &values)?;
    }
    let mut out = Vec::with_capacity(LENGTHS.len());
    let mut done = 0;
    for &length in &LENGTHS {
        while done < length {
            let distractor_keys = signs(BINDINGS, INPUTS, &mut rng)?;
            let distractor_values = signs(BINDINGS, OUTPUTS, &mut rng)?;
            train(&mut net, &distractor_keys, &distractor_values)?;
            done += 1;
        }
        out.push(recall(&net, &keys, &values)?);
    }
    Ok(out)
}

pub(crate) fn run(options: Options, progress: &mut dyn FnMut()) -> Result<ExperimentReport> {
    // values[arm][length] holds one recall per seed.
    let mut values = vec![vec![Vec::new(); LENGTHS.len()]; ARM_LIST.len()];
    for seed in 0..options.seeds {
        for (a, &(_, consolidation, replay)) in ARM_LIST.iter().enumerate() {
            for (l, r) in run_arm(consolidation, replay, options.ablate, seed)?
                .into_iter()
                .enumerate()
            {
                values[a][l].push(r);
            }
            progress();
        }
    }
    let names: Vec<&str> = ARM_LIST.iter().map(|a| a.0).collect();
    let metrics: Vec<String> = LENGTHS
        .iter()
        .map(|l| format!("recall_after_{l}"))
        .collect();
    let metric_refs: Vec<&str> = metrics.iter().map(String::as_str).collect();
    let measurements = super::table(&names, &metric_refs, &values);
    let mean = |a: usize, l: usize| values[a][l].iter().sum::<f64>() / values[a][l].len() as f64;
    let curves = (0..ARM_LIST.len())
        .map(|a| Curve {
            arm: names[a].into(),
            x_label: "context length (distractor steps)".into(),
            y_label: "recall (mean over seeds)".into(),
            points: LENGTHS
                .iter()
                .enumerate()
                .map(|(l, &len)| (len as f64, mean(a, l)))
                .collect(),
        })
        .collect();
    let last = LENGTHS.len() - 1;
    let (plain, best) = (
        mean(0, last),
        (1..ARM_LIST.len())
            .map(|a| mean(a, last))
            .fold(0.0, f64::max),
    );
    let claims = vec![
        claim(
            "written bindings are recalled right after writing (recall above 0.9)",
            mean(0, 0) > 0.9,
            format!("lpn recall after 0 steps {:.3}", mean(0, 0)),
        ),
        claim(
            "consolidation and/or replay keep recall higher after the longest context (by at least 0.1)",
            best >= plain + 0.1,
            format!("recall after {} steps: lpn {plain:.3}, best other arm {best:.3}", LENGTHS[last]),
        ),
    ];
    Ok(super::report(
        "long-context",
        "Are written key-value bindings recalled after a long stream of distractors?",
        options,
        measurements,
        curves,
        claims,
    ))
}
