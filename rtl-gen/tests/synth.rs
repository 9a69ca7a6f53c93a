//! Yosys synthesis of the generated engine: `synth_ice40 -dsp` and `synth_ecp5` run
//! without errors, inferred latches or multiple drivers (`check -assert`) on the presets.
//! Whether the result fits and meets timing is the FPGA flow's question (issue 6).
//!
//! LUT mapping uses Yosys's built-in mapper, not ABC9: the YoWASP build's ABC9 exits the
//! whole process with status 0 and a truncated log on designs this size (measured here;
//! docs/rtl.md), so every run must also reach "End of script".

use std::path::PathBuf;

use lpn_cycle::preset;
use lpn_rtl::engine::generate;
use lpn_toolchain::{Tool, Toolchain};

const ICE40: &str = "synth_ice40 -dsp -noabc -top lpn_engine";
const ECP5: &str = "synth_ecp5 -top lpn_engine -run :map_luts; techmap -map +/lattice/latches_map.v; simplemap; techmap -map +/gate2lut.v -D LUT_WIDTH=4; clean; synth_ecp5 -top lpn_engine -run map_cells:";

fn synth(config: &str, script: &str) {
    let c = preset(config).unwrap();
    let g = generate(&c).unwrap();
    // YoWASP tools cannot see absolute /tmp paths: a folder under target/, relative names.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "synth-{config}-{}",
        script.split_whitespace().next().unwrap()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    for (n, t) in &g.files {
        std::fs::write(dir.join(n), t).unwrap();
    }
    let files: Vec<&str> = g.files.iter().map(|(n, _)| n.as_str()).collect();
    let yosys = Toolchain::from_env().locate(Tool::Yosys).unwrap();
    let out = yosys
        .command()
        .args([
            "-p",
            &format!(
                "read_verilog {}; {script}; check -assert; stat",
                files.join(" ")
            ),
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dir.join("yosys.log"), &log).unwrap();
    assert!(
        out.status.success(),
        "{config}: {script} failed; log in {}",
        dir.display()
    );
    assert!(
        log.contains("End of script"),
        "{config}: {script} stopped early (log in {})",
        dir.display()
    );
    for line in log.lines() {
        let l = line.to_lowercase();
        assert!(
            !l.contains("latch inferred") || l.contains("no latch inferred"),
            "{config}: {line}"
        );
        assert!(
            !l.contains("multiple conflicting drivers"),
            "{config}: {line}"
        );
        // Warnings about our sources (Yosys's own library files may warn about themselves).
        assert!(
            !(l.starts_with("warning:") && l.contains("lpn_")),
            "{config}: {line}"
        );
    }
}

#[test]
fn tiny_synthesises_for_ice40_and_ecp5() {
    if lpn_toolchain::for_tests(lpn_toolchain::Tool::Yosys).is_none() {
        return;
    }
    synth("tiny", ICE40);
    synth("tiny", ECP5);
}

#[test]
fn the_ice40_preset_synthesises() {
    if lpn_toolchain::for_tests(lpn_toolchain::Tool::Yosys).is_none() {
        return;
    }
    synth("ice40-up5k", ICE40);
}

#[test]
fn the_ecp5_25k_preset_synthesises() {
    if lpn_toolchain::for_tests(lpn_toolchain::Tool::Yosys).is_none() {
        return;
    }
    synth("ecp5-25k", ECP5);
}
