//! `lpn synth` and `lpn board` from the command line: bad input gets one-line errors;
//! the board simulation trains and equals the cycle model; the ECP5 flow writes a
//! bitstream with a parsed report; the iCE40 flow reports honestly that the engine does
//! not fit the UP5K yet.

mod common;

use common::{lpn, repo, scratch, text};
use lpn_toolchain::{require, Tool};

fn one_line_error(args: &[&str], expect: &str) {
    let out = lpn().args(args).current_dir(repo("")).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{args:?}");
    let err = text(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    assert!(err.contains(expect), "{args:?}: {err}");
}

#[test]
fn bad_synth_and_board_arguments_get_one_line_errors() {
    one_line_error(
        &["synth", "--target", "ice40-hx8k"],
        "unknown target `ice40-hx8k`",
    );
    one_line_error(
        &["synth", "--target", "ice40-up5k", "--config", "tiny"],
        "needs a config with family = \"ice40-up5k\"",
    );
    one_line_error(
        &["synth", "--target", "ecp5-85k", "--clock-mhz", "0"],
        "is not a clock",
    );
    one_line_error(
        &["synth", "--target", "ecp5-85k", "--config", "no-such.toml"],
        "no-such.toml",
    );
    one_line_error(
        &["board", "--port", "/no/such/tty", "--steps", "1"],
        "cannot open /no/such/tty",
    );
    one_line_error(
        &[
            "board",
            "--port",
            "/dev/null",
            "--baud",
            "1234",
            "--steps",
            "1",
        ],
        "1234 baud",
    );
    one_line_error(
        &["board", "--port", "Cargo.toml", "--steps", "1"],
        "is not a serial port",
    );
}

#[test]
fn lpn_board_trains_on_the_simulated_board() {
    require(Tool::Verilator);
    let dir = scratch("board-cli");
    let json = dir.join("board.json");
    let out = lpn()
        .args(["board", "--steps", "8", "--json"])
        .arg(&json)
        .env("LPN_RTL_CACHE", repo("target/rtl-cache"))
        .current_dir(repo(""))
        .output()
        .unwrap();
    let o = text(&out.stdout);
    assert!(out.status.success(), "{o}{}", text(&out.stderr));
    assert!(o.contains("board == cycle model on every update"), "{o}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v["steps"].as_array().unwrap().len(), 8);
    assert_eq!(v["agree"], true);
}

fn synth_json(args: &[&str], name: &str) -> (bool, serde_json::Value, String) {
    let dir = scratch(name);
    let json = dir.join("report.json");
    let out = lpn()
        .args(args)
        .arg("--out")
        .arg(dir.join("work"))
        .arg("--json")
        .arg(&json)
        .current_dir(repo(""))
        .output()
        .unwrap();
    let o = format!("{}{}", text(&out.stdout), text(&out.stderr));
    let v = serde_json::from_slice(&std::fs::read(&json).unwrap_or_default())
        .unwrap_or_else(|_| panic!("no JSON report: {o}"));
    (out.status.success(), v, o)
}

/// `lpn synth --target target --config cfg [extra...]`, as [`synth_json`].
fn synth_config(
    target: &str,
    cfg: &std::path::Path,
    extra: &[&str],
    name: &str,
) -> (bool, serde_json::Value, String) {
    let mut args = vec![
        "synth",
        "--target",
        target,
        "--config",
        cfg.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    synth_json(&args, name)
}

/// The tools an iCE40 build needs.
const ICE40: [Tool; 3] = [Tool::Yosys, Tool::NextpnrIce40, Tool::Icepack];
/// The tools an ECP5 build needs.
const ECP5: [Tool; 3] = [Tool::Yosys, Tool::NextpnrEcp5, Tool::Ecppack];

fn require_all(tools: &[Tool]) {
    for &t in tools {
        require(t);
    }
}

/// The ECP5 flow end to end: synthesis, the block RAM output register pass, place and
/// route, a packed bitstream, resources and Fmax parsed from nextpnr's report (one lane
/// of the regression layer with `memory.block_output_register`, to keep CI short). The
/// exit status follows the clock: 1 while Fmax is below 100 MHz.
#[test]
fn the_ecp5_flow_writes_a_bitstream_and_a_parsed_report() {
    require_all(&ECP5);
    let text = std::fs::read_to_string(repo("fpga/regression-ecp5.toml")).unwrap();
    let cfg = scratch("synth-ecp5-config").join("regression-ecp5.toml");
    std::fs::write(
        &cfg,
        format!("{text}\n[memory]\nblock_output_register = true\n"),
    )
    .unwrap();
    let (ok, v, o) = synth_config("ecp5-85k", &cfg, &["--lanes", "1"], "synth-ecp5");
    let bit = v["bitstream"]
        .as_str()
        .unwrap_or_else(|| panic!("no bitstream: {o}"));
    assert!(std::fs::metadata(bit).unwrap().len() > 100_000, "{bit}");
    let fmax = v["fmax_mhz"].as_f64().unwrap();
    assert!(fmax > 1.0, "{o}");
    assert_eq!(ok, fmax >= 100.0, "{o}");
    let outcome = v["outcome"].as_str().unwrap();
    assert_eq!(outcome, if ok { "met" } else { "timing-not-met" });
    // The update time at the achieved Fmax, for the batch the cycle count is for.
    let mut c = lpn_cycle::HwConfig::load(cfg.to_str().unwrap()).unwrap();
    assert!(c.memory.block_output_register);
    c.lanes = 1;
    assert_eq!(v["rows"].as_u64(), Some(c.max_rows as u64));
    assert_eq!(v["synapses"].as_u64(), Some(c.synapses() as u64));
    let cycles = lpn_cycle::cycle_formula(&c, c.max_rows).total;
    assert_eq!(v["cycles_per_update"].as_u64(), Some(cycles));
    let us = v["update_us"].as_f64().unwrap();
    assert!((us - cycles as f64 / fmax).abs() < 1e-6, "{us}: {o}");
    let res = v["resources"].as_array().unwrap();
    let kind = |k: &str| {
        res.iter()
            .find(|r| r["kind"] == k)
            .unwrap_or_else(|| panic!("{k}: {o}"))
    };
    assert!(kind("LUT")["used"].as_u64().unwrap() > 1000);
    assert_eq!(kind("LUT")["available"].as_u64(), Some(83640));
    assert!(kind("DSP")["used"].as_u64().unwrap() > 0);
    assert_eq!(kind("PLL")["used"].as_u64(), Some(1));
    assert!(o.contains("outcome:"), "{o}");
    // The design clock's worst path, named by its cells, with its delays adding up to
    // about the clock period the Fmax stands for.
    let paths = v["critical_paths"].as_array().unwrap();
    let worst = paths
        .iter()
        .map(|p| p["logic_ns"].as_f64().unwrap() + p["routing_ns"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(
        (worst - 1000.0 / fmax).abs() < 0.5,
        "{worst} ns vs {fmax} MHz: {o}"
    );
    assert!(
        paths
            .iter()
            .all(|p| !p["from"].as_str().unwrap().is_empty()),
        "{o}"
    );
    assert!(o.contains("critical path ("), "{o}");
    // The deep lane registers every block RAM read in a flip-flop beside the block; the
    // flow moves each of those into the block's own output register.
    let b = &v["bram_output_registers"];
    let registered = b["registered"].as_u64().unwrap();
    assert!(
        registered > 0 && b["flip_flops"].as_u64().unwrap() >= registered,
        "{o}"
    );
    assert!(registered <= b["read_ports"].as_u64().unwrap(), "{o}");
    assert!(o.contains("block RAM output registers: "), "{o}");
}

/// Builds `target`'s own preset at the flow's default clock and holds the report to
/// the limits: it fits, meets `mhz`, gets a bitstream, and every resource is
/// within the device's (`luts` available, at least one multiplier used).
fn preset_meets_its_clock(target: &str, tools: &[Tool], mhz: f64, luts: u64) {
    require_all(tools);
    let (ok, v, o) = synth_json(&["synth", "--target", target], &format!("synth-{target}"));
    assert!(ok, "{o}");
    assert_eq!(v["outcome"], "met", "{o}");
    let bin = v["bitstream"]
        .as_str()
        .unwrap_or_else(|| panic!("no bitstream: {o}"));
    assert!(std::fs::metadata(bin).unwrap().len() > 50_000, "{bin}");
    let res = v["resources"].as_array().unwrap();
    for r in res {
        assert!(r["used"].as_u64() <= r["available"].as_u64(), "{r}: {o}");
    }
    let kind = |k: &str| res.iter().find(|r| r["kind"] == k).unwrap();
    assert_eq!(kind("LUT")["available"].as_u64(), Some(luts));
    assert!(kind("DSP")["used"].as_u64().unwrap() >= 1, "{o}");
    assert!(v["fmax_mhz"].as_f64().unwrap() >= mhz, "{o}");
}

/// The UP5K target: the `ice40-up5k` preset (the shared pipeline, one
/// multiplier unit, 12-bit values with 15-bit weights and 14-bit trails) fits the
/// iCEBreaker's UP5K, meets the flow's default clock (18 MHz) and gets a bitstream.
#[test]
fn the_ice40_preset_fits_meets_its_clock_and_gets_a_bitstream() {
    preset_meets_its_clock("ice40-up5k", &ICE40, 18.0, 5280);
}

/// The ECP5 target: the `ecp5-85k` preset (2 deep lanes, 32,768 synapses) meets
/// 100 MHz on the ULX3S's 85F and gets a bitstream (about 9 minutes: the longest test).
#[test]
fn the_ecp5_85k_preset_meets_100_mhz_and_gets_a_bitstream() {
    preset_meets_its_clock("ecp5-85k", &ECP5, 100.0, 83640);
}

/// The regression board config (the regression task's 16x4 layer with its 32-row batch,
/// on the preset's shared pipeline and formats) fits the UP5K and meets 18 MHz, so the
/// board build `fpga/regression-ice40.toml` documents is one a user can load; its
/// formats are the preset's, `Formats::narrow()`, written out.
#[test]
fn the_ice40_regression_board_config_fits_and_meets_its_clock() {
    let cfg = repo("fpga/regression-ice40.toml");
    let c = lpn_cycle::HwConfig::load(cfg.to_str().unwrap()).unwrap();
    assert_eq!(c.formats, lpn_cycle::config::Formats::narrow());
    require_all(&ICE40);
    let (ok, v, o) = synth_config("ice40-up5k", &cfg, &[], "synth-ice40-regression");
    assert!(ok, "{o}");
    assert_eq!(v["outcome"], "met", "{o}");
    assert!(v["bitstream"].is_string(), "{o}");
}

/// The iCE40 flow runs to nextpnr, which stops: the regression layer with the default
/// formats and step (16-bit values, 16 clocks, two multiplier units) needs more logic
/// cells than the UP5K has. The report says so with the numbers, and the exit status
/// is 1.
#[test]
fn the_ice40_flow_reports_that_the_engine_does_not_fit() {
    require_all(&ICE40);
    let dir = scratch("synth-ice40-too-big");
    let cfg = dir.join("too-big.toml");
    std::fs::write(
        &cfg,
        "name = \"too-big\"\nfamily = \"ice40-up5k\"\nlanes = 1\nmax_rows = 32\n\
         pipeline = \"shared\"\n[layer]\ninputs = 16\noutputs = 4\nk = 8\n",
    )
    .unwrap();
    let (ok, v, o) = synth_config("ice40-up5k", &cfg, &[], "synth-ice40");
    assert!(!ok, "{o}");
    assert_eq!(v["outcome"], "does-not-fit", "{o}");
    let res = v["resources"].as_array().unwrap();
    let dsp = res.iter().find(|r| r["kind"] == "DSP").unwrap();
    assert!(dsp["used"].as_u64() <= dsp["available"].as_u64(), "{o}");
    assert_eq!(dsp["available"].as_u64(), Some(8));
    let lut = res.iter().find(|r| r["kind"] == "LUT").unwrap();
    assert!(lut["used"].as_u64() > lut["available"].as_u64(), "{o}");
    assert!(v["bitstream"].is_null());
    assert!(o.contains("does NOT fit"), "{o}");
}

#[test]
fn gen_writes_the_board_top_and_its_constraints() {
    let dir = scratch("gen-board");
    let out = lpn()
        .args([
            "gen",
            "--config",
            "ice40-up5k",
            "--board",
            "icebreaker",
            "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    for f in [
        "lpn_engine.v",
        "lpn_bridge.v",
        "lpn_board.v",
        "lpn_top_icebreaker.v",
        "icebreaker.pcf",
        "lpn_spram.v",
    ] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let top = std::fs::read_to_string(dir.join("lpn_top_icebreaker.v")).unwrap();
    assert!(
        top.contains(".DIVF(7'd47)") && top.contains("18.000 MHz"),
        "{top}"
    );
    one_line_error(
        &["gen", "--out", "target/x", "--board", "de10"],
        "unknown board `de10`",
    );
}
