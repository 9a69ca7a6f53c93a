//! The paper's experiments, run on the reference (issue 3). Each experiment is a
//! function of the seed count and a `quick` switch that returns an [`ExperimentReport`]:
//! per-seed measurements of every arm (LPN variants and the dense baseline), curves for
//! plots (first seed), and the claims checked against the measurements. The metrics are
//! defined in `docs/experiments.md`.

use serde::Serialize;

use crate::error::{Error, Result};

pub(crate) mod forgetting;
mod long_context;
mod partitioned;
mod regression;
mod structural;

/// How to run an experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Number of seeds (0..seeds).
    pub seeds: u32,
    /// Shorter runs, for smoke tests and `--quick`.
    pub quick: bool,
    /// A control run: the mechanism under test is switched off in its arm (consolidation,
    /// replay, structural plasticity), so the claim about it must fail.
    pub ablate: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seeds: 5,
            quick: false,
            ablate: false,
        }
    }
}

/// One metric of one arm, one value per seed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    /// The arm (`lpn`, `dense`, `lpn+consolidation`, ...).
    pub arm: String,
    /// The metric's name, as defined in docs/experiments.md.
    pub metric: String,
    /// One value per seed.
    pub values: Vec<f64>,
}

impl Measurement {
    /// Mean over seeds.
    pub fn mean(&self) -> f64 {
        self.values.iter().sum::<f64>() / self.values.len().max(1) as f64
    }

    /// Sample standard deviation over seeds (0 for one seed).
    pub fn std(&self) -> f64 {
        let n = self.values.len();
        if n < 2 {
            return 0.0;
        }
        let m = self.mean();
        (self.values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1) as f64).sqrt()
    }
}

/// A curve of one arm (first seed), for plots.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curve {
    /// The arm.
    pub arm: String,
    /// What the x values are.
    pub x_label: String,
    /// What the y values are.
    pub y_label: String,
    /// (step, value) points.
    pub points: Vec<(f64, f64)>,
}

/// A claim of the paper, checked on this run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claim {
    /// What is claimed, with the margin used.
    pub statement: String,
    /// Whether the measurements satisfy it.
    pub holds: bool,
    /// The numbers behind the verdict.
    pub detail: String,
}

/// Everything one experiment measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExperimentReport {
    /// The experiment's name.
    pub name: String,
    /// What it asks.
    pub question: String,
    /// Seeds used.
    pub seeds: u32,
    /// Whether the quick variant ran.
    pub quick: bool,
    /// Whether the mechanism under test was switched off (a control run).
    pub ablated: bool,
    /// Per-arm metrics.
    pub measurements: Vec<Measurement>,
    /// Curves for plots.
    pub curves: Vec<Curve>,
    /// Claims and verdicts.
    pub claims: Vec<Claim>,
}

impl ExperimentReport {
    /// The measurement of `arm` and `metric`, if present.
    pub fn measurement(&self, arm: &str, metric: &str) -> Option<&Measurement> {
        self.measurements
            .iter()
            .find(|m| m.arm == arm && m.metric == metric)
    }
}

/// Most seeds one run accepts.
pub const MAX_SEEDS: u32 = 1000;

/// The experiments, in the order `all` runs them.
pub const NAMES: [&str; 7] = [
    "regression",
    "partitioned",
    "conflict",
    "consolidated-conflict",
    "structural",
    "replay",
    "long-context",
];

/// Work units of an experiment (seeds x arms), for progress reporting.
pub fn work_units(name: &str, options: Options) -> Result<u64> {
    let arms = match name {
        "regression" => regression::ARMS,
        "partitioned" => partitioned::ARMS,
        "conflict" | "consolidated-conflict" | "replay" => forgetting::arms(name).len() as u64,
        "structural" => structural::ARMS,
        "long-context" => long_context::ARMS,
        other => return Err(unknown(other)),
    };
    Ok(u64::from(options.seeds) * arms)
}

/// Runs the experiment `name`; `progress` is called once per finished work unit.
pub fn run(name: &str, options: Options, progress: &mut dyn FnMut()) -> Result<ExperimentReport> {
    if options.seeds == 0 || options.seeds > MAX_SEEDS {
        return Err(Error::invalid(
            "seeds",
            format!("must be between 1 and {MAX_SEEDS}, got {}", options.seeds),
        ));
    }
    match name {
        "regression" => regression::run(options, progress),
        "partitioned" => partitioned::run(options, progress),
        "conflict" | "consolidated-conflict" | "replay" => forgetting::run(name, options, progress),
        "structural" => structural::run(options, progress),
        "long-context" => long_context::run(options, progress),
        other => Err(unknown(other)),
    }
}

fn unknown(name: &str) -> Error {
    Error::invalid(
        "experiment",
        format!(
            "unknown experiment `{name}` (known: {}, all)",
            NAMES.join(", ")
        ),
    )
}

/// The table of an experiment: for each arm `i` and metric `j`, `values[i][j]` holds
/// one value per seed.
pub(crate) fn table(arms: &[&str], metrics: &[&str], values: &[Vec<Vec<f64>>]) -> Vec<Measurement> {
    arms.iter()
        .zip(values)
        .flat_map(|(arm, per_metric)| {
            metrics
                .iter()
                .zip(per_metric)
                .map(move |(metric, v)| Measurement {
                    arm: arm.to_string(),
                    metric: metric.to_string(),
                    values: v.clone(),
                })
        })
        .collect()
}

/// Assembles a report.
pub(crate) fn report(
    name: &str,
    question: &str,
    options: Options,
    measurements: Vec<Measurement>,
    curves: Vec<Curve>,
    claims: Vec<Claim>,
) -> ExperimentReport {
    ExperimentReport {
        name: name.into(),
        question: question.into(),
        seeds: options.seeds,
        quick: options.quick,
        ablated: options.ablate,
        measurements,
        curves,
        claims,
    }
}

/// A claim from a comparison, with the numbers in its detail.
pub(crate) fn claim(statement: impl Into<String>, holds: bool, detail: impl Into<String>) -> Claim {
    Claim {
        statement: statement.into(),
        holds,
        detail: detail.into(),
    }
}
