//! Running a tool of the pinned toolchain in a work folder, its output logged (the FPGA
//! flow's steps: Yosys, nextpnr, the packers).

use std::path::Path;

use lpn_toolchain::{Tool, Toolchain};

/// Runs `tool` with `args` in `dir` (relative file names: YoWASP tools cannot see
/// absolute /tmp paths), writes its stdout and stderr to `dir/log` and returns whether it
/// exited with success, and the log.
pub fn run_logged(
    tool: Tool,
    args: &[String],
    dir: &Path,
    log: &str,
) -> Result<(bool, String), String> {
    let t = Toolchain::from_env()
        .locate(tool)
        .map_err(|e| e.to_string())?;
    let out = t
        .command()
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", tool.name()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dir.join(log), &text)
        .map_err(|e| format!("cannot write {}: {e}", dir.join(log).display()))?;
    Ok((out.status.success(), text))
}
