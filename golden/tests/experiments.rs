//! The paper's claims on the default seeds, each with the margin its experiment states,
//! and each failing when the mechanism under test is switched off (`ablate`).
//! Measured values are in docs/experiments.md.

use lpn_golden::experiments::{run, ExperimentReport, Options};

fn report(name: &str, ablate: bool) -> ExperimentReport {
    run(
        name,
        Options {
            ablate,
            ..Options::default()
        },
        &mut || {},
    )
    .unwrap()
}

fn verdicts(r: &ExperimentReport) -> Vec<bool> {
    r.claims.iter().map(|c| c.holds).collect()
}

#[test]
fn regression_learns_sparse_local_rules() {
    let r = report("regression", false);
    assert_eq!(verdicts(&r), vec![true], "{:?}", r.claims);
    // And better than the dense baseline of the same size.
    let lpn = r.measurement("lpn", "relative_test_mse").unwrap().mean();
    let dense = r.measurement("dense", "relative_test_mse").unwrap().mean();
    assert!(lpn < 0.5 * dense, "lpn {lpn} dense {dense}");
}

/// Without locality (every output wired to another tag group) the rule cannot learn the
/// task: the claim fails.
#[test]
fn regression_fails_when_the_wiring_is_not_local() {
    let r = report("regression", true);
    assert_eq!(verdicts(&r), vec![false], "{:?}", r.claims);
}

/// The conflict experiment checks that B erases part of A; with B made of A's own rows
/// (its control) nothing is erased and the claim fails.
#[test]
fn a_conflicting_task_erases_part_of_a_and_a_non_conflicting_one_does_not() {
    assert_eq!(verdicts(&report("conflict", false)), vec![true]);
    assert_eq!(verdicts(&report("conflict", true)), vec![false]);
}

#[test]
fn consolidation_lowers_forgetting_and_fails_when_switched_off() {
    assert_eq!(
        verdicts(&report("consolidated-conflict", false)),
        vec![true]
    );
    assert_eq!(
        verdicts(&report("consolidated-conflict", true)),
        vec![false]
    );
}

#[test]
fn replay_lowers_forgetting_and_fails_when_switched_off() {
    assert_eq!(verdicts(&report("replay", false)), vec![true]);
    assert_eq!(verdicts(&report("replay", true)), vec![false]);
}

#[test]
fn structural_plasticity_recovers_and_fails_when_switched_off() {
    assert_eq!(verdicts(&report("structural", false)), vec![true]);
    assert_eq!(verdicts(&report("structural", true)), vec![false]);
}

/// Partitioned retention does not reproduce with the spec's defaults; it does with a
/// trail floor that idle trails do not reach (docs/experiments.md). The dense claim does
/// not reproduce. The test pins all three verdicts, so a change is noticed and the docs
/// updated, and the low-floor claim fails when the floor is put back (`ablate`).
#[test]
fn partitioned_is_reported_as_measured() {
    let r = report("partitioned", false);
    assert_eq!(verdicts(&r), vec![false, true, false], "{:?}", r.claims);
    let lpn = r.measurement("lpn", "progress_lost").unwrap().mean();
    let dense = r.measurement("dense", "progress_lost").unwrap().mean();
    assert!(lpn < 0.05 && dense > 0.25, "lpn {lpn} dense {dense}");
    assert_eq!(
        verdicts(&report("partitioned", true)),
        vec![false, false, false]
    );
}

#[test]
fn reports_are_deterministic_and_names_are_checked() {
    let quick = Options {
        seeds: 2,
        quick: true,
        ablate: false,
    };
    let a = run("replay", quick, &mut || {}).unwrap();
    let b = run("replay", quick, &mut || {}).unwrap();
    assert_eq!(a, b);
    let mut calls = 0;
    run("conflict", quick, &mut || calls += 1).unwrap();
    assert_eq!(calls, 4, "progress once per seed and arm");
    assert!(run("nope", quick, &mut || {})
        .unwrap_err()
        .to_string()
        .contains("unknown experiment `nope`"));
    assert!(run("conflict", Options { seeds: 0, ..quick }, &mut || {}).is_err());
}

#[test]
fn long_context_recall_survives_distractors_with_replay() {
    assert_eq!(verdicts(&report("long-context", false)), vec![true, true]);
    // Switched off, every arm is the plain LPN: written bindings are still recalled at
    // first, but nothing keeps them through the stream.
    assert_eq!(verdicts(&report("long-context", true)), vec![true, false]);
}
