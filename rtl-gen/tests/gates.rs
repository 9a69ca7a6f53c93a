//! Quality gates on generated Verilog: a reviewed snapshot of the tiny preset's datapath
//! module, and Yosys synthesis for iCE40 (with DSPs) and ECP5 without errors, latches
//! or multiple drivers.

use std::path::PathBuf;
use std::process::Command;

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
    let c = preset("tiny").unwrap();
    let dp = Datapath::new(&c).unwrap();
    let m = arith_module(&c, &dp, &[]);
    // YoWASP tools cannot see absolute /tmp paths: a folder under target/, relative names.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("synth-datapath");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("lpn_arith.v"), m.emit()).unwrap();
    let yosys = Toolchain::from_env().locate(Tool::Yosys).unwrap();
    for synth in [
        "synth_ice40 -dsp -top lpn_arith",
        "synth_ecp5 -top lpn_arith",
    ] {
        let out = yosys
            .command()
            .args([
                "-q",
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
        let lower = log.to_lowercase();
        assert!(!lower.contains("latch"), "{synth}: latch: {log}");
        assert!(
            !lower.contains("multiple driver") && !lower.contains("conflicting driver"),
            "{synth}: {log}"
        );
    }
    let _ = Command::new("true");
}
