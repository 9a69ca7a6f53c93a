//! Regression fixtures: each `fixtures/NAME.scenario.json` is run on the reference and
//! its result must equal `fixtures/NAME.result.json` bit for bit. The results were
//! produced by this reference (`LPN_BLESS=1 cargo test -p lpn-golden --test fixtures`
//! rewrites them); docs/reference.md records how they were cross-checked against the
//! public port of the paper's code.

use std::path::{Path, PathBuf};

use lpn_golden::compare::json_mismatches;
use lpn_golden::scenario::Scenario;
use serde_json::Value;

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".scenario.json"))
        .collect();
    files.sort();
    files
}

fn run(path: &Path) -> String {
    let scenario = Scenario::from_json(&std::fs::read_to_string(path).unwrap()).unwrap();
    serde_json::to_string(&scenario.run().unwrap()).unwrap()
}

#[test]
fn every_fixture_reproduces_bit_for_bit() {
    let files = fixtures();
    assert!(files.len() >= 15, "fixtures missing: {files:?}");
    let bless = std::env::var_os("LPN_BLESS").is_some();
    let mut failures = Vec::new();
    for scenario in &files {
        let expected_path = PathBuf::from(
            scenario
                .to_string_lossy()
                .replace(".scenario.json", ".result.json"),
        );
        let actual = run(scenario);
        if bless {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
            panic!(
                "{} missing: run LPN_BLESS=1 cargo test -p lpn-golden --test fixtures",
                expected_path.display()
            )
        });
        let (lines, n) = json_mismatches(
            &serde_json::from_str::<Value>(&expected).unwrap(),
            &serde_json::from_str::<Value>(&actual).unwrap(),
            5,
        );
        if n > 0 {
            failures.push(format!(
                "{}: {n} mismatches, first: {}",
                scenario.display(),
                lines.join("; ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn runs_are_deterministic_to_the_byte() {
    for scenario in fixtures().iter().take(4) {
        assert_eq!(run(scenario), run(scenario), "{}", scenario.display());
    }
}

#[test]
fn the_comparison_catches_a_one_ulp_corruption() {
    let scenario = &fixtures()[0];
    let actual: Value = serde_json::from_str(&run(scenario)).unwrap();
    let mut corrupted = actual.clone();
    let w = &mut corrupted["layers"][0]["weight"][1];
    *w = serde_json::json!(f64::from_bits(w.as_f64().unwrap().to_bits() ^ 1));
    let (lines, n) = json_mismatches(&corrupted, &actual, 5);
    assert_eq!(n, 1);
    assert!(
        lines[0].starts_with("$.layers[0].weight[1]: expected"),
        "{lines:?}"
    );
    let mut trajectory = actual.clone();
    trajectory["trajectory"][3]["mode"] = Value::from("steady");
    assert_eq!(json_mismatches(&trajectory, &actual, 5).1, 1);
}

#[test]
fn shipped_regression_scenario_is_the_builtin_example() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/regression.json");
    let shipped = Scenario::from_json(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(
        shipped,
        lpn_golden::tasks::regression_scenario(),
        "regenerate with `lpn ref example regression > scenarios/regression.json`"
    );
}
