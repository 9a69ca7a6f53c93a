//! Yosys runs on generated Verilog: the synthesis scripts and the checks of their logs.
//!
//! With a native Yosys (the project's, from Debian's packages) the scripts are the
//! vendor flows as they are: `synth_ice40 -dsp`, `synth_ecp5`. With the YoWASP build,
//! whose ABC ends the whole process with status 0 and a truncated log (docs/rtl.md), LUT
//! mapping falls back to Yosys's built-in mapper; ECP5 netlists mapped that way keep a
//! few gates nextpnr cannot place, so place and route needs the native one. Either way a
//! run is only accepted when its log reaches "End of script".

use std::path::Path;
use std::sync::OnceLock;

use lpn_toolchain::{Tool, Toolchain};

/// Whether the Yosys in use runs ABC (a native build).
pub fn native() -> bool {
    static NATIVE: OnceLock<bool> = OnceLock::new();
    *NATIVE.get_or_init(|| {
        Toolchain::from_env()
            .locate(Tool::Yosys)
            .is_ok_and(|y| y.is_native())
    })
}

/// `synth_ice40` with DSPs, for top module `top`; with native Yosys, ABC twice
/// (`-abc2`: about 30 fewer logic cells on the UP5K preset, whose logic cells are what
/// limits it).
pub fn ice40_script(top: &str) -> String {
    if native() {
        format!("synth_ice40 -dsp -abc2 -top {top}")
    } else {
        format!("synth_ice40 -dsp -noabc -top {top}")
    }
}

/// `synth_ecp5` for top module `top`.
pub fn ecp5_script(top: &str) -> String {
    if native() {
        format!("synth_ecp5 -top {top}")
    } else {
        format!(
            "synth_ecp5 -top {top} -run :map_luts; techmap -map +/lattice/latches_map.v; simplemap; \
             techmap -map +/gate2lut.v -D LUT_WIDTH=4; clean; synth_ecp5 -top {top} -run map_cells:"
        )
    }
}

/// Runs `read_verilog FILES; SCRIPT; check -assert; stat` in `dir` (relative names: YoWASP
/// tools cannot see absolute /tmp paths), writes the log to `dir/yosys.log` and returns
/// it. Fails on a non-zero status, a log that stops early, an inferred latch, multiple
/// drivers, or a warning about the design's own (`lpn_`) sources.
pub fn synthesise(dir: &Path, files: &[&str], script: &str) -> Result<String, String> {
    let args = [
        "-p".to_string(),
        format!(
            "read_verilog {}; {script}; check -assert; stat",
            files.join(" ")
        ),
    ];
    let (ok, log) = crate::run::run_logged(Tool::Yosys, &args, dir, "yosys.log")?;
    let path = dir.join("yosys.log");
    let at = path.display();
    if !ok {
        return Err(format!("{script} failed (log in {at})"));
    }
    if !log.contains("End of script") {
        return Err(format!("{script} stopped early (log in {at})"));
    }
    for line in log.lines() {
        let l = line.to_lowercase();
        let latch = l.contains("latch inferred") && !l.contains("no latch inferred");
        let drivers = l.contains("multiple conflicting drivers");
        // Yosys's own library files may warn about themselves; ours must not.
        let ours = l.starts_with("warning:") && l.contains("lpn_");
        if latch || drivers || ours {
            return Err(format!("{script}: {line} (log in {at})"));
        }
    }
    Ok(log)
}
