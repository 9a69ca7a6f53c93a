//! Quality gates on generated Verilog: a reviewed snapshot of the tiny preset's datapath
//! module, and Yosys synthesis for iCE40 (with DSPs) and ECP5 without errors, latches
//! or multiple drivers.

use std::path::PathBuf;

use lpn_cycle::arith::Datapath;
use lpn_cycle::preset;
use lpn_rtl::datapath::arith_module;
use lpn_toolchain::{Tool, Toolchain};

#[test]
fn tiny_datapath_snapshot() {
    let c = preset("tiny").unwrap();
    let dp = Datapath::new(&c).unwrap();
    let m = arith_module(
        &c,
        &dp,
        &lpn_rtl::header(&c, "LPN datapath: every rounding point on ports"),
    );
    insta::assert_snapshot!("tiny_datapath", m.emit());
}

#[test]
fn datapath_synthesises_for_ice40_and_ecp5_without_latches() {
    if lpn_toolchain::for_tests(lpn_toolchain::Tool::Yosys).is_none() {
        return;
    }
    let c = preset("tiny").unwrap();
    let dp = Datapath::new(&c).unwrap();
    let m = arith_module(&c, &dp, &[]);
    // YoWASP tools cannot see absolute /tmp paths: a folder under target/, relative names.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("synth-datapath");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("lpn_arith.v"), m.emit()).unwrap();
    let yosys = Toolchain::from_env().locate(Tool::Yosys).unwrap();
    // Built-in LUT mapping instead of ABC9, which exits silently in the YoWASP build
    // (see tests/synth.rs).
    for synth in [
        "synth_ice40 -dsp -noabc -top lpn_arith",
        "synth_ecp5 -top lpn_arith -run :map_luts; techmap -map +/lattice/latches_map.v; simplemap; techmap -map +/gate2lut.v -D LUT_WIDTH=4; clean; synth_ecp5 -top lpn_arith -run map_cells:",
    ] {
        let out = yosys
            .command()
            .args([
                "-p",
                &format!("read_verilog lpn_arith.v; {synth}; check -assert; stat"),
            ])
            .current_dir(&dir)
            .output()
            .unwrap();
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{synth}: {log}");
        assert!(log.contains("End of script"), "{synth} stopped early: {log}");
        for line in log.lines() {
            let l = line.to_lowercase();
            assert!(!l.contains("latch inferred") || l.contains("no latch inferred"), "{synth}: {line}");
            assert!(!l.contains("multiple conflicting drivers"), "{synth}: {line}");
        }
    }
}
