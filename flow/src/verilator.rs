//! Building and running Verilator models with a generated C++ harness (no Rust
//! bindings: they do not build against Verilator 5). Builds are cached by a hash of the
//! sources, so an unchanged model is not rebuilt.

use std::collections::hash_map::DefaultHasher;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

use lpn_toolchain::{Tool, Toolchain};

use lpn_rtl::rtl::{Dir, Module};

/// An error of the Verilator flow (one line).
pub type Result<T> = std::result::Result<T, String>;

fn verilator() -> Result<Command> {
    let v = Toolchain::from_env()
        .locate(Tool::Verilator)
        .map_err(|e| e.to_string())?;
    let mut cmd = v.command();
    // The PyPI build calls `python` unless told otherwise, and larger models need the
    // precompiled-header flag spelled out (docs: ../shared/docs/toolchain-notes.md).
    cmd.args([
        "-MAKEFLAGS",
        "PYTHON3=python3",
        "-MAKEFLAGS",
        "CFG_CXXFLAGS_PCH_I=-include",
    ]);
    Ok(cmd)
}

/// Writes `(file name, text)` sources into `dir` (created if needed); their names.
pub(crate) fn write_sources(dir: &Path, sources: &[(String, String)]) -> Result<Vec<String>> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    sources
        .iter()
        .map(|(name, text)| {
            std::fs::write(dir.join(name), text)
                .map(|()| name.clone())
                .map_err(|e| format!("cannot write {name}: {e}"))
        })
        .collect()
}

/// `verilator --lint-only -Wall` on `(file name, text)` sources, written into `dir`,
/// with `top` as the top module; the warnings, if any, as the error.
pub fn lint(dir: &Path, sources: &[(String, String)], top: &str) -> Result<()> {
    let files = write_sources(dir, sources)?;
    let file = files.join(" ");
    let out = verilator()?
        .args(["--lint-only", "-Wall", "--top-module", top])
        .args(&files)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run verilator: {e}"))?;
    if !out.status.success() || !out.stderr.is_empty() {
        return Err(format!(
            "verilator --lint-only -Wall {file}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// A C++ harness for a combinational module whose ports are at most 64 bits: it reads
/// one line of decimal input values (port order) per case, evaluates, and prints the
/// outputs (sign-extended for signed ports) as one line.
pub fn comb_harness(m: &Module) -> String {
    let mut s = String::new();
    let class = format!("V{}", m.name);
    let _ = writeln!(
        s,
        "// Generated harness for {}: stdin lines of inputs, stdout lines of outputs.",
        m.name
    );
    let _ = writeln!(
        s,
        "#include \"{class}.h\"\n#include \"verilated.h\"\n#include <cstdio>\n#include <cstdint>"
    );
    let _ = writeln!(s, "static long long sext(uint64_t v, int w, bool s) {{ uint64_t m = w >= 64 ? ~0ULL : ((1ULL << w) - 1); v &= m; if (s && w < 64 && (v >> (w - 1)) & 1) v |= ~m; return (long long)v; }}");
    let _ = writeln!(s, "int main(int argc, char** argv) {{\n    VerilatedContext* ctx = new VerilatedContext;\n    ctx->commandArgs(argc, argv);\n    {class}* top = new {class}{{ctx}};\n    long long v;");
    let _ = writeln!(s, "    for (;;) {{");
    for (dir, p) in m.ports() {
        if *dir == Dir::Input {
            let mask = if p.ty.width >= 64 {
                u64::MAX
            } else {
                (1u64 << p.ty.width) - 1
            };
            let _ = writeln!(s, "        if (scanf(\"%lld\", &v) != 1) break;\n        top->{} = (uint64_t)v & {mask}ULL;", p.name);
        }
    }
    let _ = writeln!(s, "        top->eval();");
    let outs: Vec<_> = m.ports().iter().filter(|(d, _)| *d != Dir::Input).collect();
    for (i, (_, p)) in outs.iter().enumerate() {
        let sep = if i + 1 < outs.len() { " " } else { "\\n" };
        let _ = writeln!(
            s,
            "        printf(\"%lld{sep}\", sext((uint64_t)top->{}, {}, {}));",
            p.name, p.ty.width, p.ty.signed
        );
    }
    let _ = writeln!(
        s,
        "    }}\n    top->final();\n    delete top;\n    delete ctx;\n    return 0;\n}}"
    );
    s
}

/// A built model: the executable.
#[derive(Debug, Clone)]
pub struct Model {
    /// Path of the simulation executable.
    pub exe: PathBuf,
    /// Whether this call built it (false: reused from the cache).
    pub built: bool,
}

/// Builds `sources` (Verilog files, name and text) with `harness` (C++) into a cached
/// folder under `cache`, keyed by a hash of everything; reuses an earlier build.
pub fn build(
    cache: &Path,
    top: &str,
    sources: &[(String, String)],
    harness: &str,
) -> Result<Model> {
    build_with(cache, top, sources, harness, &[])
}

/// [`build`] with extra Verilator arguments (for instance `--trace`).
pub fn build_with(
    cache: &Path,
    top: &str,
    sources: &[(String, String)],
    harness: &str,
    extra: &[&str],
) -> Result<Model> {
    let mut h = DefaultHasher::new();
    top.hash(&mut h);
    extra.hash(&mut h);
    sources.hash(&mut h);
    harness.hash(&mut h);
    let done = cache.join(format!("{top}-{:016x}", h.finish()));
    let exe = done.join("obj").join("sim");
    if exe.exists() {
        return Ok(Model { exe, built: false });
    }
    // Built in a folder of its own and renamed into place when complete, so a test
    // running beside this one never finds (and runs) a half-linked executable; when two
    // build the same model at once, the first rename wins and the other build is dropped.
    static BUILDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = cache.join(format!(
        "{top}-{:016x}.building-{}-{n}",
        h.finish(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let files = write_sources(&dir, sources)?;
    std::fs::write(dir.join("harness.cpp"), harness)
        .map_err(|e| format!("cannot write harness: {e}"))?;
    let out = verilator()?
        .args([
            "--cc",
            "--exe",
            "--build",
            "-O3",
            "-Wno-fatal",
            "--top-module",
            top,
            "-Mdir",
            "obj",
            "-o",
            "sim",
        ])
        .args(extra)
        .args(&files)
        .arg("harness.cpp")
        .current_dir(&dir)
        .output()
        .map_err(|e| format!("cannot run verilator: {e}"))?;
    if !out.status.success() || !dir.join("obj").join("sim").exists() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err
            .lines()
            .find(|l| l.contains("rror"))
            .unwrap_or("no error line");
        return Err(format!(
            "verilator build of {top} failed ({}): {first}",
            dir.display()
        ));
    }
    if std::fs::rename(&dir, &done).is_err() {
        // Another build of the same sources finished first.
        let _ = std::fs::remove_dir_all(&dir);
        if !exe.exists() {
            return Err(format!(
                "cannot move the build of {top} into {}",
                done.display()
            ));
        }
    }
    Ok(Model { exe, built: true })
}

/// Runs a model with `input` as standard input; returns standard output.
pub fn run(model: &Model, input: &str, work: &Path) -> Result<String> {
    run_args(model, input, work, &[])
}

/// [`run`] with arguments for the harness (for instance `--vcd FILE`).
pub fn run_args(
    model: &Model,
    input: &str,
    work: &Path,
    args: &[&std::ffi::OsStr],
) -> Result<String> {
    let path = work.join("stimulus.txt");
    std::fs::write(&path, input).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let file = std::fs::File::open(&path).map_err(|e| e.to_string())?;
    let out = Command::new(&model.exe)
        .args(args)
        .stdin(file)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", model.exe.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            model.exe.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
