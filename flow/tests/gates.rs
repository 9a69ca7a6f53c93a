//! Quality gates on generated Verilog: a reviewed snapshot of the tiny preset's datapath
//! module, and Yosys synthesis for iCE40 (with DSPs) and ECP5 without errors, latches
//! or multiple drivers.

use std::path::PathBuf;

use lpn_cycle::arith::Datapath;
use lpn_cycle::preset;
use lpn_flow::yosys::{ecp5_script, ice40_script, synthesise};
use lpn_rtl::datapath::arith_module;

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
    lpn_toolchain::require(lpn_toolchain::Tool::Yosys);
    let c = preset("tiny").unwrap();
    let dp = Datapath::new(&c).unwrap();
    let m = arith_module(&c, &dp, &[]);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("synth-datapath");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("lpn_arith.v"), m.emit()).unwrap();
    for script in [ice40_script("lpn_arith"), ecp5_script("lpn_arith")] {
        synthesise(&dir, &["lpn_arith.v"], &script).unwrap_or_else(|e| panic!("{e}"));
    }
}
