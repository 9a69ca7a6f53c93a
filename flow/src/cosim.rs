//! Co-simulation of the generated engine under Verilator against the cycle model: a
//! generated C++ harness reads a command script (host writes, updates, host reads) and
//! prints results; this module writes the script from the model's types and parses the
//! answers back into them.

use std::fmt::Write as _;
use std::path::Path;

use lpn_cycle::constants::mode_code;
use lpn_cycle::vectors::{StepResult, Vectors};
use lpn_cycle::{Accelerator, Cycles, FixedState, HwConfig, StepInput, UpdateReport, Wiring};

use crate::verilator::{self, Model};
use lpn_link::hostmap::{self, HostWrite};
use lpn_rtl::engine::generate;

/// The harness: commands on stdin, one per line:
/// `W sel lane addr data` (host write), `R sel lane addr` (host read: `host_read` clocks,
/// [`lpn_cycle::StageDepths::host_read`], then prints the word),
/// `S rows budget mode consolidate` (start an update and run it to the end; prints
/// `C accumulate select apply total descent selected_count`).
/// With `--vcd FILE` as first argument it writes a waveform of everything.
pub fn harness(host_read: u32) -> String {
    let harness = r#"// Generated co-simulation harness for lpn_engine (see flow/src/cosim.rs).
#include "Vlpn_engine.h"
#include "verilated.h"
#include "verilated_vcd_c.h"
#include <cstdio>
#include <cstdint>
#include <cstring>

static Vlpn_engine* top;
static VerilatedVcdC* vcd = nullptr;
static uint64_t now = 0;

static void tick() {
    top->clk = 0; top->eval(); if (vcd) vcd->dump(now++);
    top->clk = 1; top->eval(); if (vcd) vcd->dump(now++);
}

int main(int argc, char** argv) {
    VerilatedContext* ctx = new VerilatedContext;
    top = new Vlpn_engine{ctx};
    if (argc > 2 && strcmp(argv[1], "--vcd") == 0) {
        ctx->traceEverOn(true);
        vcd = new VerilatedVcdC;
        top->trace(vcd, 99);
        vcd->open(argv[2]);
    }
    top->rst = 1; top->start = 0; top->host_we = 0;
    tick(); tick();
    top->rst = 0;
    char cmd[4];
    while (scanf("%3s", cmd) == 1) {
        if (cmd[0] == 'W') {
            unsigned long long s, l, a, d;
            if (scanf("%llu %llu %llu %llu", &s, &l, &a, &d) != 4) return 2;
            top->host_sel = s; top->host_lane = l; top->host_addr = a; top->host_wdata = d; top->host_we = 1;
            tick();
            top->host_we = 0;
        } else if (cmd[0] == 'R') {
            unsigned long long s, l, a;
            if (scanf("%llu %llu %llu", &s, &l, &a) != 3) return 2;
            top->host_sel = s; top->host_lane = l; top->host_addr = a;
            for (int i = 0; i < HOST_READ; i++) tick();
            printf("%llu\n", (unsigned long long)top->host_rdata);
            fflush(stdout);
        } else if (cmd[0] == 'S') {
            unsigned long long rows, budget, mode, cons;
            if (scanf("%llu %llu %llu %llu", &rows, &budget, &mode, &cons) != 4) return 2;
            top->rows = rows; top->budget = budget; top->mode = mode; top->consolidate = cons;
            top->start = 1;
            tick();
            top->start = 0;
            unsigned long long c[4] = {0, 0, 0, 0}, total = 0;
            while (top->busy) {
                c[top->phase]++;
                total++;
                tick();
                if (total > 2000000000ULL) return 3;
            }
            printf("C %llu %llu %llu %llu %u %llu\n", c[1], c[2], c[3], total, (unsigned)top->descent,
                   (unsigned long long)top->selected_count);
            fflush(stdout);
        } else {
            return 2;
        }
    }
    if (vcd) vcd->close();
    top->final();
    delete top;
    delete ctx;
    return 0;
}
"#;
    harness.replace("HOST_READ", &host_read.to_string())
}

/// The generated engine under a simulator as an [`Accelerator`], like the cycle model
/// and the board: a running harness (Verilator's, [`Rtl::start`], or Icarus's testbench,
/// [`crate::icarus::start`]) fed one command at a time, its answers flushed per command,
/// so a caller drives it update by update.
pub struct Rtl {
    config: HwConfig,
    child: std::process::Child,
    input: Option<std::io::BufWriter<std::process::ChildStdin>>,
    output: std::io::BufReader<std::process::ChildStdout>,
    outputs: usize,
    last: Option<(FixedState, Vec<u8>)>,
}

impl Rtl {
    /// Starts `model` (built for `c`, [`build`]), writing a VCD waveform of everything
    /// to `vcd` when given.
    pub fn start(model: &Model, c: &HwConfig, vcd: Option<&Path>) -> Result<Rtl, String> {
        let mut command = std::process::Command::new(&model.exe);
        if let Some(path) = vcd {
            command.arg("--vcd").arg(path);
        }
        Rtl::spawn(command, c)
    }

    /// Starts `command`, a harness that reads the command script ([`script`]) on its
    /// standard input and answers on its standard output, for an engine of `c`.
    pub fn spawn(mut command: std::process::Command, c: &HwConfig) -> Result<Rtl, String> {
        use std::process::Stdio;
        let what = command.get_program().to_string_lossy().into_owned();
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {what}: {e}"))?;
        let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
        let (Some(stdin), Some(stdout)) = (stdin, stdout) else {
            return Err("the harness has no standard input or output".into());
        };
        Ok(Rtl {
            config: c.clone(),
            child,
            input: Some(std::io::BufWriter::new(stdin)),
            output: std::io::BufReader::new(stdout),
            outputs: c.layer.outputs,
            last: None,
        })
    }

    fn send(&mut self, text: &str) -> Result<(), String> {
        use std::io::Write as _;
        let Some(input) = self.input.as_mut() else {
            return Err("the harness was closed".into());
        };
        input
            .write_all(text.as_bytes())
            .and_then(|_| input.flush())
            .map_err(|e| format!("the harness stopped taking commands: {e}"))
    }

    fn line(&mut self) -> Result<String, String> {
        use std::io::BufRead as _;
        let mut l = String::new();
        match self.output.read_line(&mut l) {
            Ok(0) => Err("the harness stopped early".into()),
            Ok(_) => match l.trim_end().strip_prefix("E ") {
                Some(error) => Err(format!("the harness: {error}")),
                None => Ok(l.trim_end().to_string()),
            },
            Err(e) => Err(format!("cannot read the harness: {e}")),
        }
    }

    fn write_words(&mut self, ws: &[HostWrite]) -> Result<(), String> {
        let mut s = String::new();
        write_commands(&mut s, ws);
        self.send(&s)
    }

    /// Reads the learned state's words back ([`hostmap::state_reads`]).
    fn read_words(&mut self) -> Result<Vec<u64>, String> {
        let reads = hostmap::state_reads(&self.config, self.outputs);
        let mut s = String::new();
        read_commands(&mut s, &reads);
        self.send(&s)?;
        (0..reads.len())
            .map(|_| {
                let line = self.line()?;
                line.parse()
                    .map_err(|_| format!("bad word `{line}` from the harness"))
            })
            .collect()
    }
}

impl Rtl {
    /// Ends the run: closes the harness's input, so that it finishes (and writes the
    /// end of its waveform), and waits for it.
    pub fn finish(mut self) -> Result<(), String> {
        self.close()
    }

    fn close(&mut self) -> Result<(), String> {
        if self.input.take().is_none() {
            return Ok(());
        }
        let status = self
            .child
            .wait()
            .map_err(|e| format!("cannot wait for the harness: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("the harness failed ({status})"))
        }
    }
}

impl Drop for Rtl {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

impl Accelerator for Rtl {
    fn load(&mut self, wiring: &Wiring, state: &FixedState) -> lpn_cycle::Result<()> {
        let ws =
            hostmap::layer_writes(&self.config, wiring, state).map_err(lpn_cycle::Error::new)?;
        self.outputs = wiring.outputs;
        self.last = None;
        self.write_words(&ws).map_err(lpn_cycle::Error::new)
    }

    fn update(&mut self, input: &StepInput) -> lpn_cycle::Result<UpdateReport> {
        let run = |rtl: &mut Rtl| -> Result<RtlStep, String> {
            rtl.write_words(&hostmap::batch_writes(&rtl.config, input)?)?;
            let mut start = String::new();
            start_command(&mut start, input);
            rtl.send(&start)?;
            let cycles = rtl.line()?;
            let words = rtl.read_words()?;
            parse_update(&rtl.config, rtl.outputs, &cycles, &words)
        };
        let step = run(self).map_err(lpn_cycle::Error::new)?;
        let report = UpdateReport {
            cycles: step.cycles,
            selected: step.selected_count,
            accepted: step.accepted(),
            descent: step.descent,
        };
        self.last = Some((step.state, step.selected));
        Ok(report)
    }

    fn state(&mut self) -> lpn_cycle::Result<(FixedState, Vec<u8>)> {
        if let Some(s) = &self.last {
            return Ok(s.clone());
        }
        let words = self.read_words().map_err(lpn_cycle::Error::new)?;
        hostmap::decode_state(&self.config, self.outputs, &words).map_err(lpn_cycle::Error::new)
    }
}

/// What the RTL produced for one update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtlStep {
    /// State read back after the update.
    pub state: FixedState,
    /// Selected slots.
    pub selected: Vec<u8>,
    /// Cycles per phase.
    pub cycles: Cycles,
    /// Descent flag.
    pub descent: bool,
    /// Selected slots counted by the engine.
    pub selected_count: u64,
}

impl RtlStep {
    /// Slots accepted: the selected count of a descent step, none otherwise.
    pub fn accepted(&self) -> u64 {
        if self.descent {
            self.selected_count
        } else {
            0
        }
    }
}

/// Builds (or reuses) the Verilator model of a configuration's engine under `cache`.
pub fn build(c: &HwConfig, cache: &Path) -> Result<Model, String> {
    let g = generate(c).map_err(|e| e.to_string())?;
    let w = g.manifest.widths;
    if w.host_data > 64 {
        return Err(format!(
            "co-simulation moves host words of up to 64 bits; this configuration's are {} bits",
            w.host_data
        ));
    }
    let mut sources = g.files.clone();
    sources.sort();
    build_sources(c, &sources, cache)
}

/// Builds a model of `c`'s engine from given Verilog sources (used to build deliberately
/// broken RTL).
pub fn build_sources(
    c: &HwConfig,
    sources: &[(String, String)],
    cache: &Path,
) -> Result<Model, String> {
    let host_read = lpn_cycle::StageDepths::of(c).host_read();
    verilator::build_with(
        cache,
        "lpn_engine",
        sources,
        &harness(host_read),
        &["--trace"],
    )
}

/// The command script that loads a layer, runs `steps` and reads the state back after
/// each (the words and their order: [`lpn_link::hostmap`]).
pub fn script(
    c: &HwConfig,
    wiring: &Wiring,
    initial: &FixedState,
    steps: &[StepInput],
) -> Result<String, String> {
    let mut s = String::new();
    write_commands(&mut s, &hostmap::layer_writes(c, wiring, initial)?);
    let reads = hostmap::state_reads(c, wiring.outputs);
    for (n, input) in steps.iter().enumerate() {
        let writes = hostmap::batch_writes(c, input).map_err(|e| format!("step {n}: {e}"))?;
        write_commands(&mut s, &writes);
        start_command(&mut s, input);
        read_commands(&mut s, &reads);
    }
    Ok(s)
}

/// The harness's host-write commands, `W sel lane addr word` each.
fn write_commands(s: &mut String, ws: &[HostWrite]) {
    for w in ws {
        let _ = writeln!(s, "W {} {} {} {}", w.at.sel, w.at.lane, w.at.addr, w.word);
    }
}

/// The harness's host-read commands, `R sel lane addr` each.
fn read_commands(s: &mut String, reads: &[hostmap::Access]) {
    for r in reads {
        let _ = writeln!(s, "R {} {} {}", r.sel, r.lane, r.addr);
    }
}

/// The harness's command that starts an update and runs it to the end.
fn start_command(s: &mut String, input: &StepInput) {
    let _ = writeln!(
        s,
        "S {} {} {} {}",
        input.rows,
        input.budget,
        mode_code(input.mode),
        u8::from(input.consolidate)
    );
}

/// Parses the harness output of [`script`] into one [`RtlStep`] per update.
pub fn parse(
    c: &HwConfig,
    wiring: &Wiring,
    steps: usize,
    out: &str,
) -> Result<Vec<RtlStep>, String> {
    let reads = hostmap::state_reads(c, wiring.outputs).len();
    let mut lines = out.lines();
    let mut next = || {
        lines
            .next()
            .ok_or_else(|| "the harness stopped early".to_string())
    };
    let mut result = Vec::new();
    for _ in 0..steps {
        let c_line = next()?;
        let words = (0..reads)
            .map(|_| {
                let line = next()?;
                line.parse()
                    .map_err(|_| format!("bad word `{line}` from the harness"))
            })
            .collect::<Result<Vec<u64>, String>>()?;
        result.push(parse_update(c, wiring.outputs, c_line, &words)?);
    }
    Ok(result)
}

/// One update from the harness's answers: its cycle line and the state's words.
fn parse_update(
    c: &HwConfig,
    outputs: usize,
    c_line: &str,
    words: &[u64],
) -> Result<RtlStep, String> {
    let nums: Vec<u64> = c_line
        .strip_prefix("C ")
        .ok_or_else(|| format!("expected a cycle line, got `{c_line}`"))?
        .split_whitespace()
        .map(|x| x.parse().map_err(|_| format!("bad number in `{c_line}`")))
        .collect::<Result<_, _>>()?;
    if nums.len() != 6 {
        return Err(format!("expected 6 numbers in `{c_line}`"));
    }
    let (state, selected) = hostmap::decode_state(c, outputs, words)?;
    Ok(RtlStep {
        state,
        selected,
        cycles: Cycles {
            accumulate: nums[0],
            select: nums[1],
            apply: nums[2],
            total: nums[3],
        },
        descent: nums[4] != 0,
        selected_count: nums[5],
    })
}

/// Runs a layer through the RTL: load, `steps` updates, state after each.
pub fn run(
    model: &Model,
    c: &HwConfig,
    wiring: &Wiring,
    initial: &FixedState,
    steps: &[StepInput],
    work: &Path,
) -> Result<Vec<RtlStep>, String> {
    run_traced(model, c, wiring, initial, steps, work, None)
}

/// [`run`], writing a VCD waveform of the whole run to `vcd` when given.
pub fn run_traced(
    model: &Model,
    c: &HwConfig,
    wiring: &Wiring,
    initial: &FixedState,
    steps: &[StepInput],
    work: &Path,
    vcd: Option<&Path>,
) -> Result<Vec<RtlStep>, String> {
    let s = script(c, wiring, initial, steps)?;
    let out = match vcd {
        Some(path) => verilator::run_args(model, &s, work, &["--vcd".as_ref(), path.as_os_str()])?,
        None => verilator::run(model, &s, work)?,
    };
    parse(c, wiring, steps.len(), &out)
}

/// Runs golden vectors on a built RTL model; the results in the form the vectors'
/// judge takes ([`lpn_cycle::vectors::judge`]).
pub fn run_vectors(
    model: &Model,
    v: &Vectors,
    work: &Path,
    vcd: Option<&Path>,
) -> Result<Vec<StepResult>, String> {
    let inputs: Vec<StepInput> = v.steps.iter().map(|s| s.input.clone()).collect();
    let got = run_traced(model, &v.config, &v.wiring, &v.initial, &inputs, work, vcd)?;
    Ok(step_results(got))
}

/// The RTL's updates as the vectors' judge takes them (accepted slots: the selected
/// count of a descent step, none otherwise).
pub fn step_results(got: Vec<RtlStep>) -> Vec<StepResult> {
    got.into_iter()
        .map(|g| StepResult {
            accepted: g.accepted(),
            state: g.state,
            selected: g.selected,
            cycles: g.cycles,
            descent: g.descent,
        })
        .collect()
}

/// Runs `updates` random updates of configuration `c` on a built RTL model and on the
/// cycle model, with a fresh random layer (words at the format limits included) every
/// `per_layer` updates, and compares every update: state, selection, selected count,
/// descent flag and cycles. Returns the number of updates compared, or the first
/// difference, named by layer, step and field.
pub fn random_cases(
    model: &Model,
    c: &HwConfig,
    rng: &mut lpn_cycle::random::Rng,
    updates: usize,
    per_layer: usize,
    work: &Path,
) -> Result<usize, String> {
    use lpn_cycle::random;
    let mut done = 0;
    let mut layer = 0;
    while done < updates {
        let n = (updates - done).min(per_layer.max(1));
        let (wiring, state) = random::layer(rng, c);
        let inputs: Vec<StepInput> = (0..n).map(|_| random::input(rng, c)).collect();
        let got = run(model, c, &wiring, &state, &inputs, work)?;
        let mut e = lpn_cycle::Engine::new(c).map_err(|e| e.to_string())?;
        e.load(&wiring, &state).map_err(|e| e.to_string())?;
        for (i, (g, input)) in got.iter().zip(&inputs).enumerate() {
            let r = e.update(input).map_err(|e| e.to_string())?;
            let differs = [
                ("cycles", g.cycles != r.cycles),
                ("descent", g.descent != r.descent),
                ("selected count", g.selected_count != r.selected),
                ("selected", g.selected != e.selected()),
                ("state", g.state != e.read_state()),
            ];
            if let Some((field, _)) = differs.iter().find(|d| d.1) {
                return Err(format!(
                    "layer {layer} step {i}: the RTL's {field} differs from the cycle model ({:?}, {} lanes)",
                    c.layer, c.lanes
                ));
            }
        }
        done += n;
        layer += 1;
    }
    Ok(done)
}
