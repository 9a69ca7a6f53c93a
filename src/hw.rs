//! `lpn golden gen`, `lpn sim` and `lpn hw`: the hardware side of the command line.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use lpn_cycle::vectors::{self, Vectors};
use lpn_cycle::{cycle_formula, cycle_formula_text, HwConfig};
use lpn_golden::scenario::Scenario;

use crate::files;

/// Reads a scenario: a JSON file, or `example:NAME` for a built-in one.
fn load_scenario(spec: &str) -> Result<(Scenario, String), String> {
    if let Some(name) = spec.strip_prefix("example:") {
        return match name {
            "regression" => Ok((lpn_golden::tasks::regression_scenario(), spec.to_string())),
            other => Err(format!("unknown example `{other}` (known: regression)")),
        };
    }
    let scenario = Scenario::load(Path::new(spec))?;
    let name = Path::new(spec)
        .file_name()
        .map_or(spec.to_string(), |n| n.to_string_lossy().into_owned());
    Ok((scenario, name))
}

/// `lpn golden gen`.
pub fn golden_gen(
    scenario: &str,
    config: &str,
    steps: usize,
    out: &Path,
) -> Result<String, String> {
    let inputs = files::given(&[
        (
            "the scenario",
            (!scenario.starts_with("example:")).then(|| Path::new(scenario)),
        ),
        ("the config", files::config_file(config)),
    ]);
    files::refuse_clobber(&inputs, &[("--out", out)])?;
    if steps == 0 {
        return Err("--steps 0: a vector file needs at least one step".into());
    }
    let (scenario, source) = load_scenario(scenario)?;
    let config = HwConfig::load(config).map_err(|e| e.to_string())?;
    let v = vectors::generate(&scenario, &config, steps, &source).map_err(|e| e.to_string())?;
    let json = v.to_json();
    files::write(out, &json)?;
    Ok(format!(
        "wrote {} ({} steps, {} bytes, config `{}`)\n",
        out.display(),
        v.steps.len(),
        json.len(),
        v.config.name
    ))
}

/// What `lpn sim` replays vectors on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The cycle-accurate model.
    Cycle,
    /// The generated RTL under Verilator.
    Verilator,
    /// The generated RTL under Icarus Verilog.
    Icarus,
}

impl Backend {
    /// Every backend, by name.
    const ALL: [(&'static str, Backend); 3] = [
        ("cycle", Backend::Cycle),
        ("verilator", Backend::Verilator),
        ("icarus", Backend::Icarus),
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        Backend::ALL
            .iter()
            .find(|(_, b)| *b == self)
            .map_or("cycle", |(n, _)| n)
    }
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Backend, String> {
        Backend::ALL
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, b)| *b)
            .ok_or_else(|| {
                let names: Vec<&str> = Backend::ALL.iter().map(|(n, _)| *n).collect();
                format!(
                    "backend `{s}` is not available (available: {})",
                    names.join(", ")
                )
            })
    }
}

/// Judges an RTL run: the RTL does not count saturations; it equals the cycle model bit
/// for bit (checked against the vectors here), so the model's counts are its counts.
fn judge_rtl(v: &Vectors, results: &[vectors::StepResult]) -> Result<vectors::Replay, String> {
    let (_, saturations) = vectors::run_cycle_model(v).map_err(|e| e.to_string())?;
    vectors::judge(v, results, saturations).map_err(|e| e.to_string())
}

/// `lpn sim`: replays vectors and prints the per-step table.
pub fn sim(
    backend: Backend,
    path: &Path,
    json: Option<&Path>,
    every: usize,
    vcd: Option<&Path>,
) -> Result<(String, bool), String> {
    if vcd.is_some() && backend != Backend::Verilator {
        return Err("--vcd needs --backend verilator".into());
    }
    let outputs = files::given(&[("--json", json), ("--vcd", vcd)]);
    files::refuse_clobber(&[("the vector file", path)], &outputs)?;
    // The waveform's folder is checked before the simulation runs, and the file is
    // reported only once the simulator has written it.
    let waveform = vcd.map(files::Staged::new).transpose()?;
    let v = Vectors::load(path).map_err(|e| e.to_string())?;
    let mut build_note = String::new();
    // Wall time covers the simulation only (not a Verilator build).
    let (r, wall) = match backend {
        Backend::Cycle => {
            let started = Instant::now();
            let r = vectors::replay(&v).map_err(|e| e.to_string())?;
            (r, started.elapsed().as_secs_f64())
        }
        Backend::Verilator | Backend::Icarus => {
            let t0 = Instant::now();
            let mut rtl = if backend == Backend::Icarus {
                let rtl = lpn_flow::icarus::start(&v.config, &rtl_cache().join("work-icarus"))?;
                build_note = format!(
                    " (Icarus Verilog: compiled in {:.1} s)",
                    t0.elapsed().as_secs_f64()
                );
                rtl
            } else {
                let cache = rtl_cache();
                let model = lpn_flow::cosim::build(&v.config, &cache)?;
                build_note = format!(
                    " (Verilator model {} in {:.1} s, cached in {})",
                    if model.built { "built" } else { "reused" },
                    t0.elapsed().as_secs_f64(),
                    cache.display()
                );
                lpn_flow::cosim::Rtl::start(&model, &v.config, waveform.as_ref().map(|w| w.path()))?
            };
            // The RTL as an accelerator, driven update by update as the model is.
            let started = Instant::now();
            let results = vectors::run_on(&mut rtl, &v).map_err(|e| e.to_string())?;
            rtl.finish()?;
            let wall = started.elapsed().as_secs_f64();
            (judge_rtl(&v, &results)?, wall)
        }
    };
    let mut s = String::new();
    let c = &v.config;
    let _ = writeln!(
        s,
        "{}: {} steps on config `{}` ({} in, {} out, K {}, {} lanes)",
        path.display(),
        v.steps.len(),
        c.name,
        c.layer.inputs,
        c.layer.outputs,
        c.layer.k,
        c.lanes
    );
    let _ = writeln!(s, "cycle formula: {} per update", cycle_formula_text(c));
    let fields: Vec<String> = r
        .steps
        .first()
        .map(|st| st.errors.iter().map(|e| e.0.clone()).collect())
        .unwrap_or_default();
    let _ = write!(
        s,
        "{:>4} {:>12} {:<15} {:>4} {:>7} {:>6} {:>6} {:>7} {:>7} {:>8} {:>9}",
        "step",
        "loss",
        "mode",
        "rows",
        "acc",
        "sel",
        "apply",
        "total",
        "formula",
        "accepted",
        "agree"
    );
    for f in &fields {
        let _ = write!(s, " {:>19}", format!("{f} max/mean LSB"));
    }
    s.push('\n');
    let last = r.steps.len().saturating_sub(1);
    for st in r
        .steps
        .iter()
        .filter(|st| st.step % every.max(1) == 0 || st.step == last)
    {
        let _ = write!(
            s,
            "{:>4} {:>12.6e} {:<15} {:>4} {:>7} {:>6} {:>6} {:>7} {:>7} {:>8} {:>9}",
            st.step,
            st.loss,
            st.mode.as_str(),
            st.rows,
            st.cycles.accumulate,
            st.cycles.select,
            st.cycles.apply,
            st.cycles.total,
            st.formula,
            st.accepted,
            format!("{}/{}", st.agree, st.valid)
        );
        for (_, e) in &st.errors {
            let _ = write!(s, " {:>19}", format!("{:.2}/{:.2}", e.max_lsb, e.mean_lsb));
        }
        s.push('\n');
    }
    let worst: Vec<String> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let m = r
                .steps
                .iter()
                .map(|st| st.errors[i].1.max_lsb)
                .fold(0.0, f64::max);
            let bound = lpn_cycle::image::StateField::ALL
                .iter()
                .find(|b| b.name() == f.as_str())
                .map_or(0.0, |b| b.bound_lsb());
            format!("{f} {m:.2} LSB (bound {bound})")
        })
        .collect();
    let _ = writeln!(
        s,
        "largest one-update error against f64: {}",
        worst.join(", ")
    );
    let agree: usize = r.steps.iter().map(|st| st.agree).sum();
    let valid: usize = r.steps.iter().map(|st| st.valid).sum();
    let _ = writeln!(
        s,
        "selection agreement: {agree}/{valid} slot decisions ({:.2}%), unexplained by near-ties: {}",
        100.0 * agree as f64 / valid.max(1) as f64,
        r.steps.iter().map(|st| st.unexplained).sum::<usize>()
    );
    let _ = writeln!(
        s,
        "saturations: {} (inputs {}, cofire {}, gate_recip {}, score {}, weight_step {})",
        r.saturations.total(),
        r.saturations.input,
        r.saturations.cofire,
        r.saturations.gate_recip,
        r.saturations.score,
        r.saturations.weight_step
    );
    let _ = writeln!(
        s,
        "backend {}: simulated {} cycles in {:.3} s wall ({:.2} M cycles/s){build_note}",
        backend.name(),
        r.total_cycles,
        wall,
        r.total_cycles as f64 / wall.max(1e-9) / 1e6
    );
    if let (Some(w), Some(path)) = (waveform, vcd) {
        w.commit()?;
        let _ = writeln!(s, "wrote waveform {}", path.display());
    }
    if r.mismatch_count == 0 {
        let _ = writeln!(s, "bit-exact: state, selection, accepted counts and cycles equal the vectors in every step");
    } else {
        let _ = writeln!(
            s,
            "MISMATCH: {} values differ from the vectors; first ones:",
            r.mismatch_count
        );
        for m in &r.mismatches {
            let _ = writeln!(s, "  {m}");
        }
    }
    for line in &r.violations {
        let _ = writeln!(s, "BOUND BROKEN: {line}");
    }
    if let Some(out) = json {
        let text = serde_json::to_string(&r).map_err(|e| e.to_string())?;
        files::write(out, text + "\n")?;
        let _ = writeln!(s, "wrote {}", out.display());
    }
    Ok((s, r.ok()))
}

/// Where Verilator models are built and cached: `$LPN_RTL_CACHE`, else
/// `target/rtl-cache` under the current directory.
pub fn rtl_cache() -> PathBuf {
    std::env::var_os("LPN_RTL_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target").join("rtl-cache"))
}

/// `lpn gen`: the engine's Verilog, the co-simulation harness and the manifest.
pub fn gen(config: &str, out: &Path) -> Result<String, String> {
    let c = HwConfig::load(config).map_err(|e| e.to_string())?;
    let g = lpn_rtl::engine::generate(&c).map_err(|e| e.to_string())?;
    let mut s = String::new();
    let manifest = serde_json::to_string_pretty(&g.manifest).map_err(|e| e.to_string())? + "\n";
    let mut generated = g.files.clone();
    generated.push((
        "harness.cpp".into(),
        lpn_flow::cosim::harness(lpn_cycle::StageDepths::of(&c).host_read()),
    ));
    generated.push(("manifest.json".into(), manifest));
    let inputs = files::given(&[("the config", files::config_file(config))]);
    s.push_str(&write_files(out, &generated, &inputs)?);
    let _ = writeln!(
        s,
        "top lpn_engine for config `{}`: {} synapses, {} lanes; {} cycles per update",
        c.name,
        c.synapses(),
        c.lanes,
        cycle_formula_text(&c)
    );
    Ok(s)
}

/// Writes (name, text) files into the folder `out` (created if missing); one `wrote PATH
/// (N lines)` line each. None of them may be one of the command's `inputs`: that is
/// checked for all before the first is written.
pub fn write_files(
    out: &Path,
    generated: &[(String, String)],
    inputs: &[(&str, &Path)],
) -> Result<String, String> {
    let paths: Vec<PathBuf> = generated.iter().map(|(n, _)| out.join(n)).collect();
    let outputs: Vec<(&str, &Path)> = paths.iter().map(|p| ("--out", p.as_path())).collect();
    files::refuse_clobber(inputs, &outputs)?;
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let mut s = String::new();
    for ((_, text), path) in generated.iter().zip(&paths) {
        files::write(path, text)?;
        let _ = writeln!(
            s,
            "wrote {} ({} lines)",
            path.display(),
            text.lines().count()
        );
    }
    Ok(s)
}

/// `lpn hw config`: a configuration as TOML (or JSON) with its memory plan and cycle formula.
/// `lpn hw points`: the rounding-point and tolerance tables of a configuration.
pub fn points(spec: &str) -> Result<String, String> {
    let c = HwConfig::load(spec).map_err(|e| e.to_string())?;
    let dp = lpn_cycle::Datapath::new(&c).map_err(|e| e.to_string())?;
    Ok(format!(
        "{}\n{}",
        lpn_cycle::catalogue::points_table(&dp),
        lpn_cycle::catalogue::tolerance_table(&dp.f)
    ))
}

pub fn show_config(spec: &str, json: bool) -> Result<String, String> {
    let c = HwConfig::load(spec).map_err(|e| e.to_string())?;
    let mut s = String::new();
    if json {
        s = serde_json::to_string_pretty(&c).map_err(|e| e.to_string())? + "\n";
        return Ok(s);
    }
    s.push_str(&toml::to_string(&c).map_err(|e| e.to_string())?);
    let plan = c.memory_plan();
    let _ = writeln!(
        s,
        "\n# {} synapses; {} slots per lane",
        c.synapses(),
        c.slots_per_lane()
    );
    let _ = writeln!(
        s,
        "# cycles per update: {} (at {} rows: {})",
        cycle_formula_text(&c),
        c.max_rows,
        cycle_formula(&c, c.max_rows).total
    );
    let avail = |n: usize| {
        if n == usize::MAX {
            "unlimited".to_string()
        } else {
            n.to_string()
        }
    };
    let _ = writeln!(
        s,
        "# memory on {}: {} block RAMs of {}, {} SPRAM of {}",
        plan.family.as_str(),
        plan.block_used,
        avail(plan.block_available),
        plan.spram_used,
        avail(plan.spram_available)
    );
    for m in &plan.memories {
        let _ = writeln!(
            s,
            "#   {:<9} {:>6} x {:>3} bits x {:>2} copies  {:?} {}",
            m.name, m.depth, m.width, m.copies, m.kind, m.blocks
        );
    }
    Ok(s)
}

/// `lpn soak`: random configurations, each built with Verilator, each run on random
/// layers and inputs; every update of the RTL must equal the cycle model.
pub fn soak(configs: usize, steps: usize, seed: u32) -> Result<String, String> {
    use lpn_cycle::random::{self, Rng};
    if configs == 0 || steps < configs {
        return Err(format!(
            "--configs {configs} --steps {steps}: a soak needs at least one configuration and at least one update per configuration"
        ));
    }
    let cache = rtl_cache();
    let mut rng = Rng::new(seed);
    let mut s = String::new();
    let per_config = steps.div_ceil(configs.max(1));
    let mut total = 0usize;
    let started = Instant::now();
    for case in 0..configs {
        let c = random::config(&mut rng, case);
        let t0 = Instant::now();
        let model = lpn_flow::cosim::build(&c, &cache)?;
        let build = t0.elapsed().as_secs_f64();
        let work = cache.join(format!("work-soak-{seed}-{case}"));
        std::fs::create_dir_all(&work)
            .map_err(|e| format!("cannot create {}: {e}", work.display()))?;
        let t0 = Instant::now();
        let done = lpn_flow::cosim::random_cases(&model, &c, &mut rng, per_config, 100, &work)
            .map_err(|e| {
                format!(
                    "seed {seed} config {case}: {e} (reproduce: lpn soak --seed {seed} --configs {configs} --steps {steps})"
                )
            })?;
        total += done;
        let _ = writeln!(
            s,
            "config {case}: {} in, {} out, K {}, {} lanes, max_rows {}, {} pipeline, {} rows per clock: {done} updates equal (build {build:.1} s, run {:.1} s)",
            c.layer.inputs,
            c.layer.outputs,
            c.layer.k,
            c.lanes,
            c.max_rows,
            c.pipeline.as_str(),
            c.row_parallel,
            t0.elapsed().as_secs_f64()
        );
    }
    let _ = writeln!(
        s,
        "{total} updates on {configs} random configurations: RTL == cycle model in every one ({:.0} s, seed {seed})",
        started.elapsed().as_secs_f64()
    );
    Ok(s)
}
