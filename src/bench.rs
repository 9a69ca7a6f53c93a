//! `lpn bench`: one update of a layer on the engine, at a clock that says where it comes
//! from, beside the f64 reference's whole training step of the same layer, measured in
//! the same run on this machine, as a ratio; and the device's multiplier-bound limit.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use lpn_cycle::{cycle_formula, HwConfig, Phase};
use lpn_flow::fpga::{resource, Outcome, Resource, SynthOptions, SynthReport, Target};
use lpn_golden::rng::Mulberry32;
use lpn_golden::{Matrix, Network, NetworkSpec};
use serde::Serialize;

use crate::files;

/// Where the engine's clock comes from.
pub enum Clock<'a> {
    /// A given clock (`--fmax-mhz`).
    Given(f64),
    /// The Fmax in an earlier `lpn synth --json` report of this configuration.
    Report(&'a Path),
    /// A synthesis run now (`--synth`).
    Synth,
    /// The target's clock constraint (not measured).
    Constraint,
}

/// What `lpn bench` was asked.
pub struct BenchArgs<'a> {
    /// The hardware config (preset or file).
    pub config: &'a str,
    /// Rows of the batch (default: the config's `max_rows`).
    pub rows: Option<usize>,
    /// The engine's clock.
    pub clock: Clock<'a>,
    /// Reference steps timed (after warm-up).
    pub steps: usize,
    /// Write the result as JSON here.
    pub json: Option<&'a Path>,
}

/// The measured numbers (`--json`).
#[derive(Debug, Serialize)]
pub struct Bench {
    /// Configuration name.
    pub config: String,
    /// Device, when the config names one.
    pub target: Option<Target>,
    /// Layer inputs, outputs, K.
    pub layer: [usize; 3],
    /// Synapse slots.
    pub synapses: usize,
    /// The batch.
    pub rows: usize,
    /// Cycles of one update (the cycle formula, checked on the cycle model).
    pub cycles_per_update: u64,
    /// The engine's clock, MHz.
    pub clock_mhz: f64,
    /// Where the clock comes from.
    pub clock_source: String,
    /// One update on the engine, microseconds.
    pub update_us: f64,
    /// The f64 reference's whole training step (forward pass, loss, budget, update) of
    /// the same layer and batch on one core of this machine: median, microseconds.
    pub reference_step_us: f64,
    /// Its fastest step, microseconds.
    pub reference_best_us: f64,
    /// Reference steps timed.
    pub reference_steps: usize,
    /// `reference_step_us / update_us`: above 1 the engine is faster.
    pub speedup: f64,
    /// Multiplies of one update (`lpn_cycle::catalogue::multiplies_per_update`).
    pub multiplies: u64,
    /// The device's multipliers.
    pub device_multipliers: Option<u64>,
    /// The update's lower bound with every multiplier busy every clock, microseconds.
    pub multiplier_bound_us: Option<f64>,
    /// Busy multipliers per clock over the device's, in this update.
    pub multiplier_utilisation: Option<f64>,
    /// Multipliers the build instantiates (the synthesis report's DSP cells), when the
    /// clock comes from a synthesis.
    pub instantiated_multipliers: Option<u64>,
    /// Each phase's multiplier use.
    pub phases: Vec<PhaseUse>,
    /// The cycle model's wall time for the update on this machine, milliseconds.
    pub model_ms: f64,
}

/// One phase's multiplier use in the update.
#[derive(Debug, Serialize)]
pub struct PhaseUse {
    /// The phase.
    pub phase: Phase,
    /// Its cycles (the cycle formula's, drains included).
    pub cycles: u64,
    /// Its multiplies (`lpn_cycle::catalogue::multiplies_by_phase`).
    pub multiplies: u64,
    /// Busy multipliers per clock: `multiplies / cycles`.
    pub busy_per_clock: f64,
    /// `busy_per_clock` over the multipliers instantiated, when known.
    pub of_instantiated: Option<f64>,
    /// `busy_per_clock` over the device's multipliers, when the config names a device.
    pub of_device: Option<f64>,
}

/// `lpn bench`.
pub fn run(a: &BenchArgs) -> Result<String, String> {
    let inputs = files::given(&[
        ("the config", files::config_file(a.config)),
        (
            "the synthesis report",
            match a.clock {
                Clock::Report(p) => Some(p),
                _ => None,
            },
        ),
    ]);
    if let Some(json) = a.json {
        files::refuse_clobber(&inputs, &[("--json", json)])?;
    }
    if a.steps == 0 {
        return Err("--steps 0 times nothing: give at least 1".into());
    }
    let c = HwConfig::load(a.config).map_err(|e| e.to_string())?;
    c.validate().map_err(|e| e.to_string())?;
    let rows = a.rows.unwrap_or(c.max_rows);
    if rows == 0 || rows > c.max_rows {
        return Err(format!(
            "--rows {rows} is outside 1..={} (the config's max_rows)",
            c.max_rows
        ));
    }
    let target = Target::of_family(c.family);
    let mut text = String::new();
    let (clock_mhz, clock_source, instantiated) = clock(a, &c, target, &mut text)?;
    let phase_cycles = cycle_formula(&c, rows);
    let cycles = phase_cycles.total;
    let model_ms = model_check(&c, rows, cycles)?;
    let (median, best) = reference_step(&c, rows, a.steps)?;
    let dp = lpn_cycle::Datapath::new(&c).map_err(|e| e.to_string())?;
    let by_phase =
        lpn_cycle::catalogue::multiplies_by_phase(&dp, c.layer.outputs, c.synapses(), rows);
    let multiplies = by_phase.total();
    let update_us = cycles as f64 / clock_mhz;
    let mults = target.map(Target::multipliers);
    let phases = [
        (Phase::Accumulate, phase_cycles.accumulate),
        (Phase::Select, phase_cycles.select),
        (Phase::Apply, phase_cycles.apply),
    ]
    .into_iter()
    .map(|(phase, cycles)| {
        let busy = by_phase.of(phase) as f64 / cycles.max(1) as f64;
        PhaseUse {
            phase,
            cycles,
            multiplies: by_phase.of(phase),
            busy_per_clock: busy,
            of_instantiated: instantiated.filter(|&n| n > 0).map(|n| busy / n as f64),
            of_device: mults.map(|m| busy / m as f64),
        }
    })
    .collect();
    let b = Bench {
        config: c.name.clone(),
        target,
        layer: [c.layer.inputs, c.layer.outputs, c.layer.k],
        synapses: c.synapses(),
        rows,
        cycles_per_update: cycles,
        clock_mhz,
        clock_source,
        update_us,
        reference_step_us: median,
        reference_best_us: best,
        reference_steps: a.steps,
        speedup: median / update_us,
        multiplies,
        device_multipliers: mults,
        multiplier_bound_us: mults.map(|m| multiplies as f64 / (m as f64 * clock_mhz)),
        multiplier_utilisation: mults.map(|m| multiplies as f64 / (m as f64 * cycles as f64)),
        instantiated_multipliers: instantiated,
        phases,
        model_ms,
    };
    text.push_str(&report(&b));
    if let Some(path) = a.json {
        let body = serde_json::to_string_pretty(&b).map_err(|e| e.to_string())? + "\n";
        files::write(path, body)?;
        let _ = writeln!(text, "wrote {}", path.display());
    }
    Ok(text)
}

/// The engine's clock, where it comes from, and the multipliers the build instantiates
/// (when the clock comes from a synthesis).
fn clock(
    a: &BenchArgs,
    c: &HwConfig,
    target: Option<Target>,
    text: &mut String,
) -> Result<(f64, String, Option<u64>), String> {
    let need_target = || {
        target.ok_or_else(|| {
            format!(
                "config `{}` names no device (family generic): give the clock with --fmax-mhz",
                c.name
            )
        })
    };
    match a.clock {
        Clock::Given(f) => Ok((
            crate::fpga::mhz_arg("--fmax-mhz", f)?,
            "given (--fmax-mhz)".into(),
            None,
        )),
        Clock::Constraint => {
            let t = need_target()?;
            Ok((
                t.default_clock_hz() as f64 / 1e6,
                format!(
                    "the {} clock constraint, not a measured Fmax (--synth or --synth-json measure it)",
                    t.name()
                ),
                None,
            ))
        }
        Clock::Report(path) => {
            let body = lpn_golden::input::read_text(path, 64 << 20, "synthesis report")
                .map_err(|e| e.to_string())?;
            let r: serde_json::Value = serde_json::from_str(&body)
                .map_err(|e| format!("{}: not a synthesis report: {e}", path.display()))?;
            let field = |k: &str| r.get(k).cloned().unwrap_or(serde_json::Value::Null);
            // The Fmax belongs to one build: the same config, layer and lanes.
            if field("config") != serde_json::json!(c.name)
                || field("synapses") != serde_json::json!(c.synapses())
                || field("lanes") != serde_json::json!(c.lanes)
            {
                return Err(format!(
                    "{}: a report of config {} ({} synapses, {} lanes), not of `{}` ({} synapses, {} lanes)",
                    path.display(),
                    field("config"),
                    field("synapses"),
                    field("lanes"),
                    c.name,
                    c.synapses(),
                    c.lanes
                ));
            }
            let f = field("fmax_mhz").as_f64().ok_or_else(|| {
                format!(
                    "{}: the report has no Fmax (outcome {})",
                    path.display(),
                    field("outcome")
                )
            })?;
            // The build's DSP cells, from the report's resource table.
            let resources: Vec<Resource> = field("resources")
                .as_array()
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .filter_map(|r| serde_json::from_value(r.clone()).ok())
                .collect();
            let dsp = resource(&resources, "DSP").map(|x| x.used);
            Ok((
                f,
                format!("achieved Fmax in {} ({})", path.display(), field("outcome")),
                dsp,
            ))
        }
        Clock::Synth => {
            let t = need_target()?;
            // The folder `lpn synth` uses for the same build.
            let dir = crate::fpga::work_dir(t, c);
            let opts = SynthOptions {
                target: t,
                clock_hz: t.default_clock_hz(),
                baud: lpn_rtl::board::DEFAULT_BAUD,
                seed: 1,
                dir,
            };
            let r: SynthReport = lpn_flow::fpga::run(c, &opts)?;
            text.push_str(&lpn_flow::fpga::format_report(&r));
            let f = r.fmax_mhz.ok_or_else(|| {
                format!(
                    "synthesis gave no Fmax: {} {}",
                    r.outcome.as_str(),
                    r.message
                )
            })?;
            let note = if r.outcome == Outcome::Met {
                "clock met"
            } else {
                r.outcome.as_str()
            };
            let dsp = resource(&r.resources, "DSP").map(|x| x.used);
            Ok((
                f,
                format!("achieved Fmax, synthesised now on {} ({note})", t.name()),
                dsp,
            ))
        }
    }
}

/// Runs one update of a synthetic batch on the cycle model and checks its cycles against
/// the formula; the model's wall time, ms.
fn model_check(c: &HwConfig, rows: usize, cycles: u64) -> Result<f64, String> {
    let (wiring, state, input) =
        lpn_cycle::train::synthetic(c, rows, 1).map_err(|e| e.to_string())?;
    let mut e = lpn_cycle::Engine::new(c).map_err(|e| e.to_string())?;
    e.load(&wiring, &state).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let r = e.update(&input).map_err(|e| e.to_string())?;
    let ms = started.elapsed().as_secs_f64() * 1e3;
    if r.cycles.total != cycles {
        return Err(format!(
            "the cycle model took {} cycles, the formula says {cycles}",
            r.cycles.total
        ));
    }
    Ok(ms)
}

/// The f64 reference's training step of the config's layer (its learning constants, gate
/// and bias) on a random batch of `rows` rows: (median, fastest) over `steps` steps after
/// three untimed ones, microseconds.
fn reference_step(c: &HwConfig, rows: usize, steps: usize) -> Result<(f64, f64), String> {
    let mut spec = NetworkSpec::new(c.layer.inputs, vec![], c.layer.outputs);
    spec.max_neighbors = c.layer.k;
    spec.seed = 1;
    spec.gate = c.gate;
    spec.bias = c.bias;
    spec.learning = c.learning.clone();
    let mut net = Network::new(&spec).map_err(|e| e.to_string())?;
    let k = net.layers()[0].k();
    if k != c.layer.k {
        return Err(format!(
            "the reference layer has K = {k}, the config {}",
            c.layer.k
        ));
    }
    let random = |cols: usize, seed: u32| {
        let mut rng = Mulberry32::new(seed);
        let data = (0..rows * cols)
            .map(|_| rng.next_f64() * 2.0 - 1.0)
            .collect();
        Matrix::from_flat(rows, cols, data).map_err(|e| e.to_string())
    };
    let (x, t) = (random(c.layer.inputs, 2)?, random(c.layer.outputs, 3)?);
    let mut times = Vec::with_capacity(steps);
    for n in 0..steps + 3 {
        let started = Instant::now();
        net.step(&x, &t, None).map_err(|e| e.to_string())?;
        if n >= 3 {
            times.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], times[0]))
}

/// The report's text.
fn report(b: &Bench) -> String {
    let mut s = String::new();
    let [i, o, k] = b.layer;
    let _ = writeln!(
        s,
        "bench `{}`: {i} -> {o}, K {k} ({} synapses), {} rows",
        b.config, b.synapses, b.rows
    );
    let _ = writeln!(
        s,
        "  engine:    {} cycles per update at {:.2} MHz ({}) = {:.1} us",
        b.cycles_per_update, b.clock_mhz, b.clock_source, b.update_us
    );
    let _ = writeln!(
        s,
        "  reference: f64 training step on one core of this machine: {:.1} us median, {:.1} us fastest ({} steps)",
        b.reference_step_us, b.reference_best_us, b.reference_steps
    );
    let verdict = if b.speedup >= 1.0 {
        format!("the engine is {:.2}x faster", b.speedup)
    } else {
        format!("the engine is {:.2}x SLOWER", 1.0 / b.speedup)
    };
    let _ = writeln!(
        s,
        "  ratio:     reference / engine = {:.3} ({verdict})",
        b.speedup
    );
    match (
        b.device_multipliers,
        b.multiplier_bound_us,
        b.multiplier_utilisation,
    ) {
        (Some(m), Some(bound), Some(u)) => {
            let _ = writeln!(
                s,
                "  limit:     {} multiplies per update on {m} multipliers: >= {bound:.1} us at this clock; this update keeps {:.2}% of them busy",
                b.multiplies,
                100.0 * u
            );
        }
        _ => {
            let _ = writeln!(s, "  limit:     {} multiplies per update", b.multiplies);
        }
    }
    let _ = writeln!(
        s,
        "  {:<10} {:>9} {:>11} {:>10} {:>14} {:>9}",
        "phase", "cycles", "multiplies", "busy/clk", "/instantiated", "/device"
    );
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.1}%", 100.0 * v));
    for p in &b.phases {
        let _ = writeln!(
            s,
            "  {:<10} {:>9} {:>11} {:>10.2} {:>14} {:>9}",
            p.phase.as_str(),
            p.cycles,
            p.multiplies,
            p.busy_per_clock,
            pct(p.of_instantiated),
            pct(p.of_device)
        );
    }
    if let Some(n) = b.instantiated_multipliers {
        let _ = writeln!(s, "  (the build instantiates {n} multipliers)");
    }
    let _ = writeln!(
        s,
        "  (the cycle model ran the update in {:.1} ms of wall time and took the formula's cycles)",
        b.model_ms
    );
    s
}
