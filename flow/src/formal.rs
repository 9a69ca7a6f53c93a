//! Formal properties of the generated RTL, checked with SymbiYosys (`lpn prove`): each
//! property is a small Verilog wrapper around a generated module, written here from the
//! configuration, with `assume`s for the legal inputs and `assert`s for the property,
//! and an `.sby` job that runs bounded model checking (Yices) to a depth that covers the
//! whole behaviour in question, so a pass is a proof for every input and every memory
//! content, not a sample.
//!
//! - `idle`: after `START` with any legal rows, budget, mode and consolidate flag, and
//!   whatever the memories hold, `busy` stays high for exactly the cycle formula's count
//!   and then falls (the engine returns to idle within the formula, and not earlier).
//! - `divider`: the gate divider's reciprocal equals `floor(valid << s / max(mass, 1))`,
//!   saturated to the gate_recip format (0 without valid slots), for every valid count
//!   and divisor, written `Q` clocks after its start for the output that started it.
//!
//! Each property is also run on a mutant of the RTL (its `mutant`) and must
//! fail there, so a pass is known to mean something.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use lpn_cycle::arith::Datapath;
use lpn_cycle::{cycle_formula, HwConfig};
use lpn_toolchain::{Tool, Toolchain};

use lpn_rtl::engine::{divider_module, generate};

/// The properties `lpn prove` checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Property {
    /// The engine returns to idle exactly when the cycle formula says.
    Idle,
    /// The gate divider computes floor division, saturated.
    Divider,
}

impl Property {
    /// Every property.
    pub const ALL: [Property; 2] = [Property::Idle, Property::Divider];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Property::Idle => "idle",
            Property::Divider => "divider",
        }
    }

    /// What it states.
    pub fn statement(self) -> &'static str {
        match self {
            Property::Idle => "after START, busy is high for exactly the cycle formula's count, for every legal input and memory content",
            Property::Divider => "the gate divider's reciprocal is floor division, saturated, for every valid count and divisor",
        }
    }

    /// The property's job: Verilog sources (name, text), top module, depth. With
    /// `mutant`, the RTL is deliberately broken where the property looks.
    pub fn job(self, c: &HwConfig, mutant: bool) -> Result<Job, String> {
        match self {
            Property::Idle => idle_job(c, mutant),
            Property::Divider => divider_job(c, mutant),
        }
    }
}

/// One SymbiYosys job.
#[derive(Debug, Clone)]
pub struct Job {
    /// Verilog sources, the wrapper last.
    pub sources: Vec<(String, String)>,
    /// The wrapper module.
    pub top: String,
    /// Bounded model checking depth (clocks).
    pub depth: u64,
}

/// The outcome of one job.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Whether every assertion held to the depth.
    pub pass: bool,
    /// The failed assertion and step, or the summary line.
    pub detail: String,
    /// Wall time, seconds.
    pub seconds: f64,
}

fn bits(n: u64) -> u32 {
    lpn_cycle::format::bits_for(n)
}

fn idle_job(c: &HwConfig, mutant: bool) -> Result<Job, String> {
    let g = generate(c).map_err(|e| e.to_string())?;
    let w = &g.manifest.widths;
    let port = |name: &str| {
        g.manifest
            .ports
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.width)
            .ok_or_else(|| format!("lpn_engine has no port {name}"))
    };
    let totals: Vec<u64> = (1..=c.max_rows)
        .map(|r| cycle_formula(c, r).total)
        .collect();
    let longest = *totals.iter().max().unwrap_or(&0);
    let tb = bits(longest + 8);
    // The start comes in clock 2 (after two clocks of reset); busy is counted from the
    // clock after, as the co-simulation harness counts it.
    let mut expect = String::new();
    for (i, t) in totals.iter().enumerate() {
        let _ = write!(expect, "rows == {}'d{} ? {tb}'d{t} : ", w.rows, i + 1);
    }
    expect += &format!("{tb}'d0");
    let mut v = String::new();
    let _ = write!(
        v,
        "{head}\
         \x20   (* anyconst *) reg [{rm}:0] rows;\n\
         \x20   (* anyconst *) reg [{bm}:0] budget;\n\
         \x20   (* anyconst *) reg [1:0] mode;\n\
         \x20   (* anyconst *) reg consolidate;\n\
         \x20   always @* begin\n\
         \x20       assume(rows >= {rw}'d1 && rows <= {rw}'d{max_rows});\n\
         \x20       assume(budget >= {bw}'d1 && budget <= {bw}'d{k});\n\
         \x20   end\n\
         \x20   wire busy;\n\
         \x20   wire [1:0] phase;\n\
         \x20   wire descent;\n\
         \x20   wire [{dm}:0] host_rdata;\n\
         \x20   wire [{sm}:0] selected_count;\n\
         \x20   lpn_engine dut (.clk(clk), .rst(rst), .start(start), .rows(rows), .budget(budget),\n\
         \x20       .mode(mode), .consolidate(consolidate), .host_we(1'b0), .host_sel({selw}'d0),\n\
         \x20       .host_lane({lw}'d0), .host_addr({aw}'d0), .host_wdata({dw}'d0),\n\
         \x20       .host_rdata(host_rdata), .busy(busy), .phase(phase), .descent(descent),\n\
         \x20       .selected_count(selected_count));\n\
         \x20   wire [{tm}:0] total = {expect};\n\
         \x20   always @(posedge clk) begin\n\
         \x20       if (t > {tb}'d2) assert(busy == (t < {tb}'d3 + total));\n\
         \x20       if (!busy) assert(phase == 2'd0);\n\
         \x20   end\n\
         endmodule\n\
         `default_nettype wire\n",
        head = prologue("idle", &c.name, tb),
        tm = tb - 1,
        rm = w.rows - 1,
        rw = w.rows,
        bm = w.budget - 1,
        bw = w.budget,
        max_rows = c.max_rows,
        k = c.layer.k,
        dm = w.host_data - 1,
        sm = port("selected_count")? - 1,
        selw = port("host_sel")?,
        lw = port("host_lane")?,
        aw = w.host_addr,
        dw = w.host_data,
    );
    let mut sources = g.files.clone();
    if mutant {
        // The mutant drains SELECT one clock longer: every update is one clock long.
        let top = sources
            .iter_mut()
            .find(|(n, _)| n == "lpn_engine.v")
            .ok_or("no lpn_engine.v")?;
        top.1 = mutate_select_length(&top.1)?;
    }
    sources.push(("lpn_prove_idle.v".into(), v));
    Ok(Job {
        sources,
        top: "lpn_prove_idle".into(),
        depth: longest + 6,
    })
}

/// The engine with SELECT's last clock count one higher (the phase counter's limit for
/// phase 2, `phase_last_next`).
fn mutate_select_length(top: &str) -> Result<String, String> {
    let line = top
        .lines()
        .find(|l| l.contains("phase_last_next =") && l.contains("(phase_q == 2'd2) ? "))
        .ok_or("the engine has no `phase_last_next` to mutate")?;
    let broken = line.replacen("(phase_q == 2'd2) ? ", "(phase_q == 2'd2) ? 1 + ", 1);
    Ok(top.replacen(line, &broken, 1))
}

fn divider_job(c: &HwConfig, mutant: bool) -> Result<Job, String> {
    let dp = Datapath::new(c).map_err(|e| e.to_string())?;
    let m = divider_module(c, &dp);
    let mut text = m.emit();
    if mutant {
        // A bit decided wrongly only when the partial remainder equals the divisor.
        let broken = text.replace("_trial >= {1'b0,", "_trial > {1'b0,");
        if broken == text {
            return Err("cannot mutate the divider's comparison".into());
        }
        text = broken;
    }
    let width = |name: &str| {
        m.ports()
            .iter()
            .find(|(_, p)| p.name == name)
            .map(|(_, p)| p.ty.width)
            .ok_or_else(|| format!("lpn_divider has no port {name}"))
    };
    let (cw, dw, qw) = (width("count")?, width("divisor")?, width("recip")?);
    let shift = c.formats.trail.frac + c.formats.gate_recip.frac;
    let q = u64::from(c.formats.gate_recip.bits);
    let max = c.formats.gate_recip.max_raw();
    let nw = cw + shift;
    let adv = if m.ports().iter().any(|(_, p)| p.name == "adv") {
        ", .adv(1'b1)"
    } else {
        ""
    };
    let tb = bits(q + 16);
    let v = format!(
        "{head}\
         \x20   (* anyconst *) reg [7:0] u;\n\
         \x20   (* anyconst *) reg [{cm}:0] count;\n\
         \x20   (* anyconst *) reg [{dm}:0] divisor;\n\
         \x20   always @* begin\n\
         \x20       assume(count <= {cw}'d{k});\n\
         \x20       assume(divisor >= {dw}'d1);\n\
         \x20   end\n\
         \x20   wire done;\n\
         \x20   wire [7:0] done_u;\n\
         \x20   wire [{qm}:0] recip;\n\
         \x20   lpn_divider dut (.clk(clk), .rst(rst), .start(start), .u(u), .count(count),\n\
         \x20       .divisor(divisor){adv}, .done(done), .done_u(done_u), .recip(recip));\n\
         \x20   // The specification: floor division of valid << {shift} by max(mass, 1),\n\
         \x20   // saturated to the format's largest word, 0 without valid slots.\n\
         \x20   wire [{nm}:0] dividend = {{{{{shift}{{1'b0}}}}, count}} << {shift};\n\
         \x20   wire [{nm}:0] quotient = dividend / {{{{{pad}{{1'b0}}}}, divisor}};\n\
         \x20   wire [{qm}:0] expected = count == {cw}'d0 ? {qw}'d0\n\
         \x20       : quotient > {nw}'d{max} ? {qw}'d{max} : quotient[{qm}:0];\n\
         \x20   always @(posedge clk) begin\n\
         \x20       if (t == {tb}'d{at}) assert(done && done_u == u && recip == expected);\n\
         \x20       if (t > {tb}'d2 && t != {tb}'d{at}) assert(!done);\n\
         \x20   end\n\
         endmodule\n\
         `default_nettype wire\n",
        head = prologue("divider", &c.name, tb),
        cm = cw - 1,
        dm = dw - 1,
        qm = qw - 1,
        nm = nw.max(dw) - 1,
        pad = nw.max(dw) - dw,
        k = c.layer.k,
        at = 2 + q,
    );
    Ok(Job {
        sources: vec![
            ("lpn_divider.v".into(), text),
            ("lpn_prove_divider.v".into(), v),
        ],
        top: "lpn_prove_divider".into(),
        depth: q + 8,
    })
}

/// A wrapper's first lines: its header, module `lpn_prove_<property>`, and the clock
/// count `t` (`tb` bits) that drives two clocks of reset and then `start` for one.
fn prologue(property: &str, config: &str, tb: u32) -> String {
    format!(
        "// Formal property `{property}` (flow/src/formal.rs) for config `{config}`.\n\
         {ts}`default_nettype none\n\
         module lpn_prove_{property} (input wire clk);\n\
         \x20   reg [{tm}:0] t = {tb}'d0;\n\
         \x20   always @(posedge clk) if (t != {{{tb}{{1'b1}}}}) t <= t + {tb}'d1;\n\
         \x20   wire rst = t < {tb}'d2;\n\
         \x20   wire start = t == {tb}'d2;\n",
        ts = lpn_rtl::TIMESCALE,
        tm = tb - 1,
    )
}

/// The `.sby` file of a job.
pub fn sby_file(job: &Job) -> String {
    let names: Vec<&str> = job.sources.iter().map(|(n, _)| n.as_str()).collect();
    format!(
        "[options]\nmode bmc\ndepth {depth}\n\n[engines]\nsmtbmc yices\n\n[script]\nread -formal {files}\nprep -flatten -top {top}\n\n[files]\n{list}\n",
        depth = job.depth,
        files = names.join(" "),
        top = job.top,
        list = names.join("\n"),
    )
}

/// Runs a job with SymbiYosys in `dir` (its sources and `.sby` written there first).
pub fn run(job: &Job, dir: &Path) -> Result<Verdict, String> {
    let tools = Toolchain::from_env();
    let sby = tools.locate(Tool::Sby).map_err(|e| e.to_string())?;
    // The solver, which the toolchain puts on SymbiYosys's PATH: a missing one is
    // reported with how to install it.
    tools.find(Tool::YicesSmt2).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(dir);
    crate::verilator::write_sources(dir, &job.sources)?;
    std::fs::write(dir.join("prove.sby"), sby_file(job))
        .map_err(|e| format!("cannot write prove.sby: {e}"))?;
    let t0 = Instant::now();
    let out = sby
        .command()
        .args(["-f", "prove.sby"])
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run sby: {e}"))?;
    let log = String::from_utf8_lossy(&out.stdout).into_owned();
    let seconds = t0.elapsed().as_secs_f64();
    let done = log
        .lines()
        .rev()
        .find(|l| l.contains("DONE ("))
        .map(str::to_string);
    let failed = log
        .lines()
        .find(|l| l.contains("failed assertion"))
        .map(|l| l.split("summary:").nth(1).unwrap_or(l).trim().to_string());
    match done {
        Some(d) if d.contains("DONE (PASS") => Ok(Verdict {
            pass: true,
            detail: format!("proven to depth {}", job.depth),
            seconds,
        }),
        Some(d) if d.contains("DONE (FAIL") => Ok(Verdict {
            pass: false,
            detail: failed.unwrap_or(d),
            seconds,
        }),
        _ => Err(format!(
            "sby did not finish the job in {} ({}): {}",
            dir.display(),
            out.status,
            log.lines()
                .rev()
                .find(|l| l.contains("ERROR") || l.contains("rror"))
                .unwrap_or("no error line")
        )),
    }
}
