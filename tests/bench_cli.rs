//! `lpn bench`: the engine's update time beside the f64 reference's step, as a user
//! drives it (no synthesis here: a given clock, and a synthesis report written by hand
//! in `lpn synth --json`'s form; `tests/fpga_cli.rs` checks the real report's fields).

mod common;
use common::{lpn, repo, scratch, text};

fn bench(args: &[&str]) -> (bool, String, String) {
    let o = lpn().arg("bench").args(args).output().unwrap();
    (o.status.success(), text(&o.stdout), text(&o.stderr))
}

#[test]
fn bench_puts_the_engine_beside_the_reference_with_the_numbers_in_json() {
    let dir = scratch("bench");
    let json = dir.join("b.json");
    let cfg = repo("fpga/regression-ecp5.toml");
    let (ok, out, err) = bench(&[
        "--config",
        cfg.to_str().unwrap(),
        "--fmax-mhz",
        "50",
        "--rows",
        "8",
        "--steps",
        "20",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let c = lpn_cycle::HwConfig::load(cfg.to_str().unwrap()).unwrap();
    let cycles = lpn_cycle::cycle_formula(&c, 8).total;
    assert_eq!(v["rows"], 8);
    assert_eq!(v["cycles_per_update"].as_u64(), Some(cycles));
    assert_eq!(v["clock_mhz"], 50.0);
    let update = v["update_us"].as_f64().unwrap();
    assert!((update - cycles as f64 / 50.0).abs() < 1e-9);
    let reference = v["reference_step_us"].as_f64().unwrap();
    assert!(reference > 0.0 && v["reference_best_us"].as_f64().unwrap() <= reference);
    assert!((v["speedup"].as_f64().unwrap() - reference / update).abs() < 1e-9);
    // The multiplier bound: 156 multipliers on the 85F, never above the update itself.
    assert_eq!(v["device_multipliers"], 156);
    let bound = v["multiplier_bound_us"].as_f64().unwrap();
    assert!(bound > 0.0 && bound <= update, "{bound} vs {update}");
    assert!(out.contains("ratio:     reference / engine = "), "{out}");
    assert!(out.contains("given (--fmax-mhz)"), "{out}");
    // Per phase: the formula's cycles and the catalogue's multiplies, which add up to the
    // update's; no instantiated count without a synthesis.
    let phases = v["phases"].as_array().unwrap();
    let formula = lpn_cycle::cycle_formula(&c, 8);
    let names: Vec<_> = phases.iter().map(|p| p["phase"].clone()).collect();
    assert_eq!(names, ["accumulate", "select", "apply"]);
    let expect = [formula.accumulate, formula.select, formula.apply];
    for (p, cycles) in phases.iter().zip(expect) {
        assert_eq!(p["cycles"].as_u64(), Some(cycles));
        let busy = p["busy_per_clock"].as_f64().unwrap();
        assert!((busy - p["multiplies"].as_f64().unwrap() / cycles as f64).abs() < 1e-9);
        assert!((p["of_device"].as_f64().unwrap() - busy / 156.0).abs() < 1e-12);
        assert!(p["of_instantiated"].is_null());
    }
    let sum: u64 = phases
        .iter()
        .map(|p| p["multiplies"].as_u64().unwrap())
        .sum();
    assert_eq!(v["multiplies"].as_u64(), Some(sum));
    assert!(v["instantiated_multipliers"].is_null());
    assert!(out.contains("  accumulate "), "{out}");

    // Without a clock, the device's constraint, said to be one.
    let (ok, out, err) = bench(&["--config", cfg.to_str().unwrap(), "--steps", "3"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("100.00 MHz (the ecp5-85k clock constraint, not a measured Fmax"),
        "{out}"
    );
}

#[test]
fn bench_takes_the_fmax_of_a_synthesis_report_of_the_same_build_only() {
    let dir = scratch("bench-report");
    let cfg = repo("fpga/regression-ecp5.toml");
    let c = lpn_cycle::HwConfig::load(cfg.to_str().unwrap()).unwrap();
    let report = |lanes: usize, fmax: serde_json::Value| {
        let path = dir.join(format!("synth-{lanes}.json"));
        let v = serde_json::json!({
            "config": c.name, "synapses": c.synapses(), "lanes": lanes,
            "fmax_mhz": fmax, "outcome": "met",
            "resources": [{"kind": "LUT", "cell": "TRELLIS_COMB", "used": 900, "available": 83640},
                          {"kind": "DSP", "cell": "MULT18X18D", "used": 40, "available": 156}],
        });
        std::fs::write(&path, v.to_string()).unwrap();
        path
    };
    let good = report(c.lanes, serde_json::json!(123.5));
    let json = dir.join("b.json");
    let (ok, out, err) = bench(&[
        "--config",
        cfg.to_str().unwrap(),
        "--synth-json",
        good.to_str().unwrap(),
        "--steps",
        "3",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("at 123.50 MHz (achieved Fmax in "), "{out}");
    // The report's DSP cells are the multipliers each phase's use is measured against.
    assert!(
        out.contains("(the build instantiates 40 multipliers)"),
        "{out}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["instantiated_multipliers"], 40);
    for p in v["phases"].as_array().unwrap() {
        let busy = p["busy_per_clock"].as_f64().unwrap();
        assert!((p["of_instantiated"].as_f64().unwrap() - busy / 40.0).abs() < 1e-12);
    }
    // Another build's report (one lane instead of two), or one without an Fmax.
    for (path, says) in [
        (
            report(1, serde_json::json!(200.0)),
            "not of `regression-ecp5`",
        ),
        (
            report(c.lanes, serde_json::Value::Null),
            "the report has no Fmax",
        ),
    ] {
        let (ok, _, err) = bench(&[
            "--config",
            cfg.to_str().unwrap(),
            "--synth-json",
            path.to_str().unwrap(),
        ]);
        assert!(!ok);
        assert!(err.contains(says) && err.lines().count() == 1, "{err}");
    }
}

#[test]
fn bad_bench_arguments_get_one_line_errors() {
    let cfg = repo("fpga/regression-ecp5.toml");
    let cfg = cfg.to_str().unwrap();
    for (args, says) in [
        (
            vec!["--config", cfg, "--rows", "0"],
            "--rows 0 is outside 1..=32",
        ),
        (
            vec!["--config", cfg, "--rows", "33"],
            "--rows 33 is outside 1..=32",
        ),
        (
            vec!["--config", cfg, "--steps", "0"],
            "--steps 0 times nothing",
        ),
        (
            vec!["--config", cfg, "--fmax-mhz=-3"],
            "--fmax-mhz -3 is not a clock",
        ),
        (
            vec!["--config", "tiny"],
            "names no device (family generic): give the clock with --fmax-mhz",
        ),
        (vec!["--config", "missing.toml"], "missing.toml"),
    ] {
        let (ok, _, err) = bench(&args);
        assert!(!ok, "{args:?}");
        assert!(
            err.contains(says) && err.lines().count() == 1,
            "{args:?}: {err}"
        );
    }
}
