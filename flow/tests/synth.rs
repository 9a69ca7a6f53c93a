//! Yosys synthesis of the generated engine: `synth_ice40 -dsp` and `synth_ecp5` run
//! without errors, inferred latches or multiple drivers (`check -assert`) on the presets.
//! Whether the result fits and meets timing is the FPGA flow's question (issue 6).
//! The scripts and the log checks are `lpn_flow::yosys`'s.

use std::path::PathBuf;

use lpn_cycle::preset;
use lpn_flow::yosys::{ecp5_script, ice40_script, synthesise};
use lpn_rtl::engine::generate;

fn synth(config: &str, script: &str) {
    let c = preset(config).unwrap();
    let g = generate(&c).unwrap();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "synth-{config}-{}",
        script.split_whitespace().next().unwrap()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    for (n, t) in &g.files {
        std::fs::write(dir.join(n), t).unwrap();
    }
    let files: Vec<&str> = g.files.iter().map(|(n, _)| n.as_str()).collect();
    synthesise(&dir, &files, script).unwrap_or_else(|e| panic!("{config}: {e}"));
}

#[test]
fn tiny_synthesises_for_ice40_and_ecp5() {
    lpn_toolchain::require(lpn_toolchain::Tool::Yosys);
    synth("tiny", &ice40_script("lpn_engine"));
    synth("tiny", &ecp5_script("lpn_engine"));
}

#[test]
fn the_ice40_preset_synthesises() {
    lpn_toolchain::require(lpn_toolchain::Tool::Yosys);
    synth("ice40-up5k", &ice40_script("lpn_engine"));
}

#[test]
fn the_ecp5_25k_preset_synthesises() {
    lpn_toolchain::require(lpn_toolchain::Tool::Yosys);
    synth("ecp5-25k", &ecp5_script("lpn_engine"));
}
