//! `lpn synth` (the FPGA flow and its report, one build or a lane sweep) and `lpn board`
//! (training a scenario on a board, or on the Verilator simulation of one, checked
//! against the cycle model update for update).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use lpn_cycle::train::{scenario_config, Trainer};
use lpn_cycle::HwConfig;
use lpn_flow::fpga::{format_report, Outcome, SynthOptions, SynthReport, Target};
use lpn_golden::scenario::Scenario;
use lpn_host::sim::SimBoard;
use lpn_host::Board;

use crate::files;

/// Options of `lpn synth`.
pub struct SynthArgs<'a> {
    /// Target name.
    pub target: &'a str,
    /// Config (preset or file); the target's preset when absent.
    pub config: Option<&'a str>,
    /// Scenario whose learning constants, gate and bias the build takes.
    pub scenario: Option<&'a Path>,
    /// Lane counts: one build, or a sweep.
    pub lanes: &'a [usize],
    /// Clock, MHz (the target's default when absent).
    pub clock_mhz: Option<f64>,
    /// UART rate.
    pub baud: u64,
    /// Placement seed.
    pub seed: u64,
    /// Work folder.
    pub out: Option<&'a Path>,
    /// JSON report file.
    pub json: Option<&'a Path>,
}

/// `--clock-mhz` in Hz, or the target's default clock.
fn clock_hz(mhz: Option<f64>, target: Target) -> Result<u64, String> {
    match mhz {
        Some(f) => Ok((mhz_arg("--clock-mhz", f)? * 1e6).round() as u64),
        None => Ok(target.default_clock_hz()),
    }
}

/// The default work folder of a build: `target/synth/<target>-<config>-lanes<N>`.
pub fn work_dir(target: Target, c: &HwConfig) -> PathBuf {
    PathBuf::from("target/synth").join(format!("{}-{}-lanes{}", target.name(), c.name, c.lanes))
}

/// A clock given on the command line as `flag`, in MHz: finite and in (0, 1000].
pub fn mhz_arg(flag: &str, f: f64) -> Result<f64, String> {
    if f.is_finite() && f > 0.0 && f <= 1000.0 {
        Ok(f)
    } else {
        Err(format!("{flag} {f} is not a clock in (0, 1000] MHz"))
    }
}

/// `lpn synth`: the report text and whether every build fit and met its clock (a sweep
/// is a measurement and always succeeds once it has run).
pub fn synth(a: &SynthArgs) -> Result<(String, bool), String> {
    let target = Target::parse(a.target)?;
    let inputs = files::given(&[
        ("the config", a.config.and_then(files::config_file)),
        ("the scenario", a.scenario),
    ]);
    if let Some(json) = a.json {
        files::refuse_clobber(&inputs, &[("--json", json)])?;
    }
    if let Some(out) = a.out {
        files::refuse_inputs_in(("the work folder", out), &inputs)?;
    }
    let mut base = HwConfig::load(a.config.unwrap_or(target.name())).map_err(|e| e.to_string())?;
    if let Some(s) = a.scenario {
        base = scenario_config(&Scenario::load(s)?, &base);
    }
    let clock_hz = clock_hz(a.clock_mhz, target)?;
    let lanes: Vec<Option<usize>> = if a.lanes.is_empty() {
        vec![None]
    } else {
        a.lanes.iter().map(|&l| Some(l)).collect()
    };
    let sweep = lanes.len() > 1;
    let mut text = String::new();
    let mut reports: Vec<serde_json::Value> = Vec::new();
    let mut rows: Vec<(usize, Result<SynthReport, String>)> = Vec::new();
    for l in lanes {
        let mut c = base.clone();
        if let Some(l) = l {
            c.lanes = l;
        }
        let dir = match (a.out, sweep) {
            (Some(o), false) => o.to_path_buf(),
            (Some(o), true) => o.join(format!("lanes-{}", c.lanes)),
            (None, _) => work_dir(target, &c),
        };
        // A sweep measures every lane count, also those the memory plan rejects: the
        // tools give the verdict and the numbers.
        let check = if sweep {
            c.validate_structure()
        } else {
            c.validate()
        };
        let opts = SynthOptions {
            target,
            clock_hz,
            baud: a.baud,
            seed: a.seed,
            dir,
        };
        let r = check
            .map_err(|e| e.to_string())
            .and_then(|_| lpn_flow::fpga::run(&c, &opts));
        match &r {
            Ok(rep) => {
                text.push_str(&format_report(rep));
                reports.push(serde_json::to_value(rep).map_err(|e| e.to_string())?);
            }
            Err(e) if sweep => {
                let _ = writeln!(text, "lanes {}: {e}", c.lanes);
                reports.push(serde_json::json!({"lanes": c.lanes, "error": e}));
            }
            Err(e) => return Err(e.clone()),
        }
        rows.push((c.lanes, r));
    }
    if sweep {
        text.push_str(&sweep_table(target, &base, &rows));
    }
    if let Some(path) = a.json {
        let v = if sweep {
            serde_json::Value::Array(reports)
        } else {
            reports.pop().unwrap_or(serde_json::Value::Null)
        };
        let body = serde_json::to_string_pretty(&v).map_err(|e| e.to_string())? + "\n";
        files::write(path, body)?;
        let _ = writeln!(text, "wrote {}", path.display());
    }
    let ok = sweep
        || rows
            .iter()
            .all(|(_, r)| matches!(r, Ok(rep) if rep.outcome == Outcome::Met));
    Ok((text, ok))
}

/// The lane sweep as a Markdown table (what docs/fpga.md shows).
fn sweep_table(
    target: Target,
    c: &HwConfig,
    rows: &[(usize, Result<SynthReport, String>)],
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nLane sweep on {} (config `{}`: {} inputs, {} outputs, K {}, max_rows {}):\n",
        target.name(),
        c.name,
        c.layer.inputs,
        c.layer.outputs,
        c.layer.k,
        c.max_rows
    );
    let _ = writeln!(
        s,
        "| lanes | LUT | FF | BRAM | DSP | Fmax (MHz) | cycles/update | synapse updates/s at Fmax | outcome |"
    );
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for (lanes, r) in rows {
        match r {
            Ok(r) => {
                let get = |k: &str| {
                    lpn_flow::fpga::resource(&r.resources, k)
                        .map_or("-".to_string(), |x| format!("{}/{}", x.used, x.available))
                };
                let _ = writeln!(
                    s,
                    "| {lanes} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    get("LUT"),
                    get("FF"),
                    get("BRAM"),
                    get("DSP"),
                    r.fmax_mhz.map_or("-".into(), |f| format!("{f:.1}")),
                    r.cycles_per_update,
                    r.synapse_updates_per_s
                        .map_or("-".into(), |u| format!("{:.2e}", u)),
                    r.outcome.as_str()
                );
            }
            Err(e) => {
                let _ = writeln!(s, "| {lanes} | - | - | - | - | - | - | - | {e} |");
            }
        }
    }
    s
}

/// `lpn gen --board`: the board's Verilog (and top and constraints) next to the engine's.
pub fn gen_board(
    config: &str,
    board: &str,
    clock_mhz: Option<f64>,
    baud: u64,
    out: &Path,
) -> Result<String, String> {
    use lpn_rtl::board::{for_board, simulation, Board as B};
    let c = HwConfig::load(config).map_err(|e| e.to_string())?;
    let b = match board {
        "icebreaker" => Some(B::Icebreaker),
        "ulx3s" => Some(B::Ulx3s),
        "sim" => None,
        other => {
            return Err(format!(
                "unknown board `{other}` (known: icebreaker, ulx3s, sim)"
            ))
        }
    };
    let build = match b {
        Some(b) => {
            let target = Target::ALL
                .into_iter()
                .find(|t| t.board() == b)
                .ok_or("no target for the board")?;
            for_board(&c, b, clock_hz(clock_mhz, target)?, baud)
        }
        None => simulation(&c, lpn_flow::boardsim::SIM_CLKS_PER_BIT),
    }
    .map_err(|e| e.to_string())?;
    // The engine's own files were written by `lpn gen` already.
    let mut files = build.board_files().to_vec();
    if let Some(b) = b {
        files.push((
            b.constraints().to_string(),
            lpn_flow::fpga::constraints(b).to_string(),
        ));
    }
    let inputs = files::given(&[("the config", files::config_file(config))]);
    let mut s = crate::hw::write_files(out, &files, &inputs)?;
    let _ = writeln!(
        s,
        "board top {}: {} clocks per UART bit{}",
        build.top,
        build.clks_per_bit,
        if build.clock_hz > 0.0 {
            format!(", PLL at {:.3} MHz", build.clock_hz / 1e6)
        } else {
            String::new()
        }
    );
    Ok(s)
}

/// Options of `lpn board`.
pub struct BoardArgs<'a> {
    /// Serial port, or the simulation when absent.
    pub port: Option<&'a Path>,
    /// UART rate.
    pub baud: u64,
    /// Config the board was built from.
    pub config: &'a str,
    /// Scenario to train.
    pub scenario: &'a Path,
    /// Updates (at most the scenario's).
    pub steps: usize,
    /// Per-step JSON report.
    pub json: Option<&'a Path>,
    /// Waveform of the simulation.
    pub vcd: Option<&'a Path>,
    /// Simulate this board's whole top (PLL stand-in, pins, real UART rate) instead of
    /// `lpn_board` at the fast simulation rate.
    pub top: Option<&'a str>,
    /// Verilator model cache.
    pub cache: &'a Path,
}

/// `lpn board`: trains the scenario on the board (through the host driver) and on the
/// cycle model side by side; the text and whether they agreed on every update.
pub fn board(a: &BoardArgs) -> Result<(String, bool), String> {
    if a.steps == 0 {
        return Err("--steps 0: nothing to train (give at least 1)".into());
    }
    let inputs = files::given(&[
        ("the scenario", Some(a.scenario)),
        ("the config", files::config_file(a.config)),
    ]);
    let outputs = files::given(&[("--json", a.json), ("--vcd", a.vcd)]);
    files::refuse_clobber(&inputs, &outputs)?;
    let sc = Scenario::load(a.scenario)?;
    let c = HwConfig::load(a.config).map_err(|e| e.to_string())?;
    if (a.vcd.is_some() || a.top.is_some()) && a.port.is_some() {
        return Err(
            "--vcd and --top are for the simulation; they cannot be used with --port".into(),
        );
    }
    let top = match a.top {
        None => None,
        Some("icebreaker") => Some((lpn_rtl::board::Board::Icebreaker, Target::Ice40Up5k)),
        Some("ulx3s") => Some((lpn_rtl::board::Board::Ulx3s, Target::Ecp5_85k)),
        Some(other) => {
            return Err(format!(
                "unknown board `{other}` (known: icebreaker, ulx3s)"
            ))
        }
    };
    let t0 = Instant::now();
    let port = a.port;
    let baud = a.baud;
    let cache = a.cache;
    // The simulation writes the waveform under a temporary name; it is moved into place
    // once the simulation has ended.
    let waveform = a.vcd.map(files::Staged::new).transpose()?;
    let vcd = waveform.as_ref().map(|w| w.path());
    type Link = Box<dyn ReadWrite>;
    let mut hw: Trainer<Board<Link>> = Trainer::with(&sc, &c, |eff| {
        let link: Link = match (port, top) {
            (Some(p), _) => Box::new(lpn_host::serial::open(p, baud)?),
            (None, Some((b, t))) => {
                let (m, _) =
                    lpn_flow::boardsim::build_top(eff, b, t.default_clock_hz(), baud, cache)
                        .map_err(lpn_cycle::Error::new)?;
                Box::new(SimBoard::spawn(&m.exe, vcd)?)
            }
            (None, None) => Box::new(SimBoard::start(eff, cache, vcd)?),
        };
        Ok(Board::open(link, eff)?)
    })
    .map_err(|e| e.to_string())?;
    let connect_s = t0.elapsed().as_secs_f64();
    let mut model = Trainer::new(&sc, &c).map_err(|e| e.to_string())?;
    let info = hw.accelerator().info();
    let mut text = String::new();
    let _ = writeln!(
        text,
        "lpn board: {} ({}), config `{}`: {} inputs, {} outputs, K {}, {} lanes; protocol v{}, fingerprint {:08x}",
        match (port, a.top) {
            (Some(p), _) => p.display().to_string(),
            (None, Some(t)) => format!("Verilator simulation of the {t} top"),
            (None, None) => "Verilator simulation of lpn_board".to_string(),
        },
        if port.is_some() { format!("{baud} baud") } else { format!("{} clocks per bit", info.clks_per_bit) },
        c.name,
        info.inputs,
        info.outputs,
        info.k,
        info.lanes,
        info.version,
        info.fingerprint
    );
    let _ = writeln!(
        text,
        "{:>6} {:>11} {:>6} {:>8} {:>9} {:>8}",
        "step", "loss", "mode", "cycles", "selected", "model"
    );
    let mut steps_json = Vec::new();
    let mut agree = true;
    let mut done = 0;
    let t1 = Instant::now();
    let mut hw_cycles = 0u64;
    while done < a.steps {
        let Some(got) = hw.step().map_err(|e| e.to_string())? else {
            break;
        };
        let want = model
            .step()
            .map_err(|e| e.to_string())?
            .ok_or("the cycle model ran out of steps first")?;
        let same = got.state == want.state
            && got.selected == want.selected
            && got.report == want.report
            && got.input == want.input;
        agree &= same;
        hw_cycles += got.report.cycles.total;
        if done % 25 == 0 || !same || done + 1 == a.steps {
            let _ = writeln!(
                text,
                "{:>6} {:>11.6} {:>6} {:>8} {:>9} {:>8}",
                done,
                got.loss,
                format!("{:?}", got.input.mode).to_lowercase(),
                got.report.cycles.total,
                got.report.selected,
                if same { "equal" } else { "DIFFERS" }
            );
        }
        steps_json.push(serde_json::json!({
            "step": done,
            "loss": got.loss,
            "cycles": got.report.cycles,
            "selected": got.report.selected,
            "descent": got.report.descent,
            "equal_to_cycle_model": same,
        }));
        done += 1;
    }
    let run_s = t1.elapsed().as_secs_f64();
    let t = hw.accelerator().traffic();
    let _ = writeln!(
        text,
        "{done} updates in {run_s:.2} s ({:.1} updates/s; connect {connect_s:.1} s); {} engine cycles; {} bytes sent, {} received in {} frames",
        done as f64 / run_s.max(1e-9),
        hw_cycles,
        t.sent,
        t.received,
        t.frames
    );
    let _ = writeln!(
        text,
        "{}",
        if agree {
            "board == cycle model on every update (state, selection, descent, selected count, cycles per phase)"
        } else {
            "the board DIFFERS from the cycle model (rows marked above)"
        }
    );
    if let Some(path) = a.json {
        let v = serde_json::json!({
            "config": c.name,
            "port": port.map(|p| p.display().to_string()),
            "steps": steps_json,
            "agree": agree,
            "bytes_sent": t.sent,
            "bytes_received": t.received,
            "frames": t.frames,
            "seconds": run_s,
        });
        let body = serde_json::to_string_pretty(&v).map_err(|e| e.to_string())? + "\n";
        files::write(path, body)?;
        let _ = writeln!(text, "wrote {}", path.display());
    }
    // Ending the simulation closes its waveform.
    drop(hw);
    if let (Some(w), Some(path)) = (waveform, a.vcd) {
        w.commit()?;
        let _ = writeln!(text, "wrote waveform {}", path.display());
    }
    Ok((text, agree))
}

/// A byte stream: a serial port or the simulation.
pub trait ReadWrite: std::io::Read + std::io::Write {}
impl<T: std::io::Read + std::io::Write> ReadWrite for T {}
