//! The FPGA flow: board build ([`lpn_rtl::board`]) -> Yosys -> nextpnr -> bitstream packer,
//! and a report of resources and timing parsed from the tools' own output (nextpnr's
//! `--report` JSON, and its log when it stops before writing one). nextpnr runs with
//! `--timing-allow-fail`, so a design that misses its clock still gets a bitstream
//! and the report, not the exit status, says whether the clock was met.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use lpn_cycle::{cycle_formula, Family, HwConfig};
use lpn_toolchain::Tool;
use serde::{Deserialize, Serialize};

use crate::run::run_logged;
use crate::yosys::{ecp5_script, ice40_script, synthesise};
use lpn_rtl::board::{for_board, Board};

/// A device the flow builds for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Target {
    /// iCE40 UP5K (SG48) on the iCEBreaker.
    #[serde(rename = "ice40-up5k")]
    Ice40Up5k,
    /// ECP5 LFE5U-85F (CABGA381) on the ULX3S.
    #[serde(rename = "ecp5-85k")]
    Ecp5_85k,
    /// ECP5 LFE5U-25F (CABGA381) on the ULX3S.
    #[serde(rename = "ecp5-25k")]
    Ecp5_25k,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 3] = [Target::Ice40Up5k, Target::Ecp5_85k, Target::Ecp5_25k];

    /// Parses a target name.
    pub fn parse(s: &str) -> Result<Target, String> {
        Target::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| format!("unknown target `{s}` (known: ice40-up5k, ecp5-85k, ecp5-25k)"))
    }

    /// Name, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Target::Ice40Up5k => "ice40-up5k",
            Target::Ecp5_85k => "ecp5-85k",
            Target::Ecp5_25k => "ecp5-25k",
        }
    }

    /// The configuration family it takes.
    pub fn family(self) -> Family {
        match self {
            Target::Ice40Up5k => Family::Ice40Up5k,
            Target::Ecp5_85k => Family::Ecp5_85k,
            Target::Ecp5_25k => Family::Ecp5_25k,
        }
    }

    /// The board.
    pub fn board(self) -> Board {
        match self {
            Target::Ice40Up5k => Board::Icebreaker,
            _ => Board::Ulx3s,
        }
    }

    /// The device's hard multipliers: 8 `SB_MAC16` on the UP5K; 156 and 28
    /// `MULT18X18D` on the LFE5U-85F and -25F (two per DSP slice of the datasheets).
    pub fn multipliers(self) -> u64 {
        match self {
            Target::Ice40Up5k => 8,
            Target::Ecp5_85k => 156,
            Target::Ecp5_25k => 28,
        }
    }

    /// The target of a configuration family (none for `generic`).
    pub fn of_family(f: Family) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.family() == f)
    }

    /// The clock the flow aims at by default, Hz: 100 MHz on the ECP5; on the UP5K 18
    /// MHz, what its preset meets (the issue aimed at 48; docs/fpga.md has why not).
    pub fn default_clock_hz(self) -> u64 {
        match self {
            Target::Ice40Up5k => 18_000_000,
            _ => 100_000_000,
        }
    }
}

/// The constraint file of a board (from `fpga/`, compiled in: one copy).
pub fn constraints(board: Board) -> &'static str {
    match board {
        Board::Icebreaker => include_str!("../../fpga/icebreaker.pcf"),
        Board::Ulx3s => include_str!("../../fpga/ulx3s.lpf"),
    }
}

/// What to build.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// Device.
    pub target: Target,
    /// Clock constraint and PLL target, Hz.
    pub clock_hz: u64,
    /// UART rate of the host bridge.
    pub baud: u64,
    /// nextpnr placement seed.
    pub seed: u64,
    /// Work folder (sources, netlist, logs, bitstream).
    pub dir: PathBuf,
}

/// One resource: used and available on the device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// Short name (`LUT`, `FF`, `BRAM`, `SPRAM`, `DSP`, `IO`, `PLL`).
    pub kind: String,
    /// The device's cell name.
    pub cell: String,
    /// Used.
    pub used: u64,
    /// Available on the device.
    pub available: u64,
}

/// The resource of a kind (`LUT`, `DSP`, ...) in a report's list.
pub fn resource<'a>(list: &'a [Resource], kind: &str) -> Option<&'a Resource> {
    list.iter().find(|r| r.kind == kind)
}

/// The outcome of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Placed, routed, clock met, bitstream written.
    Met,
    /// Placed and routed with a bitstream, below the clock constraint.
    TimingNotMet,
    /// More cells than the device has (nextpnr stopped).
    DoesNotFit,
    /// A tool failed otherwise (see the message and the logs).
    Failed,
}

impl Outcome {
    /// For reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Met => "clock met",
            Outcome::TimingNotMet => "timing NOT met",
            Outcome::DoesNotFit => "does NOT fit",
            Outcome::Failed => "FAILED",
        }
    }
}

/// The report of one flow run.
#[derive(Debug, Clone, Serialize)]
pub struct SynthReport {
    /// Device.
    pub target: Target,
    /// Configuration name.
    pub config: String,
    /// Lanes.
    pub lanes: usize,
    /// Synapse slots (outputs x K).
    pub synapses: usize,
    /// Top module.
    pub top: String,
    /// Outcome.
    pub outcome: Outcome,
    /// What stopped the flow, or empty.
    pub message: String,
    /// Clock constraint, MHz.
    pub clock_mhz: f64,
    /// Achieved Fmax of the design clock, MHz (after routing).
    pub fmax_mhz: Option<f64>,
    /// Every clock nextpnr reported: name -> (achieved, constraint) MHz.
    pub clocks: BTreeMap<String, (f64, f64)>,
    /// The worst path within each clock, where timing work starts.
    pub critical_paths: Vec<CriticalPath>,
    /// Placed resources (nextpnr), used and available.
    pub resources: Vec<Resource>,
    /// Cells after synthesis (Yosys `stat`), by cell type.
    pub synthesis_cells: BTreeMap<String, u64>,
    /// ECP5: block RAM read ports whose flip-flops moved into the block
    /// ([`crate::netlist::absorb_bram_output_registers`]).
    pub bram_output_registers: Option<crate::netlist::OutputRegisters>,
    /// The batch `cycles_per_update` is for: the configuration's `max_rows`.
    pub rows: usize,
    /// Cycles of one update of `rows` rows.
    pub cycles_per_update: u64,
    /// One update's time at the achieved Fmax, microseconds.
    pub update_us: Option<f64>,
    /// Synapse slots updated per second at Fmax with full batches:
    /// `synapses * fmax / cycles_per_update`.
    pub synapse_updates_per_s: Option<f64>,
    /// The bitstream, when one was written.
    pub bitstream: Option<PathBuf>,
    /// Work folder with the logs (`yosys.log`, `nextpnr.log`, `pack.log`).
    pub dir: PathBuf,
    /// Wall seconds: synthesis, place and route, packing.
    pub seconds: [f64; 3],
}

fn resource_kind(cell: &str) -> Option<&'static str> {
    Some(match cell {
        "ICESTORM_LC" | "TRELLIS_COMB" => "LUT",
        "TRELLIS_FF" => "FF",
        "ICESTORM_RAM" | "DP16KD" => "BRAM",
        "ICESTORM_SPRAM" => "SPRAM",
        "ICESTORM_DSP" | "MULT18X18D" => "DSP",
        "SB_IO" | "TRELLIS_IO" => "IO",
        "ICESTORM_PLL" | "EHXPLLL" => "PLL",
        _ => return None,
    })
}

/// Resources from nextpnr's report JSON (`utilization`).
pub fn parse_report_resources(report: &serde_json::Value) -> Vec<Resource> {
    let mut out = Vec::new();
    if let Some(u) = report.get("utilization").and_then(|u| u.as_object()) {
        for (cell, v) in u {
            if let Some(kind) = resource_kind(cell) {
                out.push(Resource {
                    kind: kind.into(),
                    cell: cell.clone(),
                    used: v.get("used").and_then(|x| x.as_u64()).unwrap_or(0),
                    available: v.get("available").and_then(|x| x.as_u64()).unwrap_or(0),
                });
            }
        }
    }
    out.sort_by_key(|r| kind_order(&r.kind));
    out
}

fn kind_order(kind: &str) -> usize {
    ["LUT", "FF", "BRAM", "SPRAM", "DSP", "IO", "PLL"]
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(99)
}

/// Clocks from nextpnr's report JSON (`fmax`): name -> (achieved, constraint) MHz.
pub fn parse_report_clocks(report: &serde_json::Value) -> BTreeMap<String, (f64, f64)> {
    let mut out = BTreeMap::new();
    if let Some(f) = report.get("fmax").and_then(|f| f.as_object()) {
        for (clk, v) in f {
            let a = v.get("achieved").and_then(|x| x.as_f64());
            let c = v.get("constraint").and_then(|x| x.as_f64());
            if let (Some(a), Some(c)) = (a, c) {
                out.insert(clk.clone(), (a, c));
            }
        }
    }
    out
}

/// The worst path within one clock, from nextpnr's report: where it starts and ends,
/// its delay split into cell delays (clock-to-output, logic, setup) and routing, and its
/// longest net (a long net usually means two cells placed far apart).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CriticalPath {
    /// The clock, as nextpnr names it.
    pub clock: String,
    /// The cell the path starts at (a register or a block RAM).
    pub from: String,
    /// The cell it ends at.
    pub to: String,
    /// Cell delays, ns.
    pub logic_ns: f64,
    /// Routing delays, ns.
    pub routing_ns: f64,
    /// The longest net: delay (ns) and Manhattan distance (tiles) between its ends.
    pub longest_net: (f64, u64),
}

impl CriticalPath {
    /// Total delay, ns.
    pub fn total_ns(&self) -> f64 {
        self.logic_ns + self.routing_ns
    }
}

/// Critical paths from nextpnr's report JSON (`critical_paths`): those that start and end
/// on the same clock edge (paths to and from pins are left out).
pub fn parse_report_critical_paths(report: &serde_json::Value) -> Vec<CriticalPath> {
    let Some(list) = report.get("critical_paths").and_then(|c| c.as_array()) else {
        return Vec::new();
    };
    let text = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(String::from);
    let mut out = Vec::new();
    for p in list {
        let (Some(from), Some(to)) = (text(p, "from"), text(p, "to")) else {
            continue;
        };
        let Some(segs) = p.get("path").and_then(|x| x.as_array()) else {
            continue;
        };
        if from != to || !from.contains("edge") || segs.is_empty() {
            continue;
        }
        let cell = |seg: &serde_json::Value, end: &str| {
            seg.get(end)
                .and_then(|e| text(e, "cell"))
                .unwrap_or_default()
        };
        let loc = |seg: &serde_json::Value, end: &str| -> Option<(i64, i64)> {
            let l = seg.get(end)?.get("loc")?.as_array()?;
            Some((l.first()?.as_i64()?, l.get(1)?.as_i64()?))
        };
        let mut cp = CriticalPath {
            clock: from.clone(),
            from: cell(&segs[0], "from"),
            to: cell(&segs[segs.len() - 1], "to"),
            logic_ns: 0.0,
            routing_ns: 0.0,
            longest_net: (0.0, 0),
        };
        for seg in segs {
            let delay = seg.get("delay").and_then(|x| x.as_f64()).unwrap_or(0.0);
            if seg.get("type").and_then(|x| x.as_str()) == Some("routing") {
                cp.routing_ns += delay;
                if delay > cp.longest_net.0 {
                    let tiles = match (loc(seg, "from"), loc(seg, "to")) {
                        (Some(a), Some(b)) => {
                            (a.0 - b.0).unsigned_abs() + (a.1 - b.1).unsigned_abs()
                        }
                        _ => 0,
                    };
                    cp.longest_net = (delay, tiles);
                }
            } else {
                cp.logic_ns += delay;
            }
        }
        out.push(cp);
    }
    out
}

/// Resources from nextpnr's log (`Device utilisation:` lines such as
/// `Info:          ICESTORM_LC:  5400/ 5280   102%`), for runs that stop before the
/// report is written.
pub fn parse_log_resources(log: &str) -> Vec<Resource> {
    let mut out: Vec<Resource> = Vec::new();
    for line in log.lines() {
        let body = line.trim_start_matches("Info:").trim();
        let Some((cell, rest)) = body.split_once(':') else {
            continue;
        };
        let Some(kind) = resource_kind(cell.trim()) else {
            continue;
        };
        let Some((used, rest)) = rest.split_once('/') else {
            continue;
        };
        let avail = rest.split_whitespace().next().unwrap_or("");
        if let (Ok(u), Ok(a)) = (used.trim().parse(), avail.parse()) {
            out.retain(|r| r.cell != cell.trim());
            out.push(Resource {
                kind: kind.into(),
                cell: cell.trim().into(),
                used: u,
                available: a,
            });
        }
    }
    out.sort_by_key(|r| kind_order(&r.kind));
    out
}

/// Cell counts of the last `stat` in a Yosys log.
pub fn parse_yosys_cells(log: &str) -> BTreeMap<String, u64> {
    let mut cells = BTreeMap::new();
    let Some(at) = log.rfind("Number of cells:") else {
        return cells;
    };
    for line in log[at..].lines().skip(1) {
        let mut it = line.split_whitespace();
        match (it.next(), it.next(), it.next()) {
            (Some(name), Some(n), None) if !name.ends_with(':') => match n.parse() {
                Ok(v) => {
                    cells.insert(name.to_string(), v);
                }
                Err(_) => break,
            },
            _ => break,
        }
    }
    cells
}

/// The first `ERROR:` line of a log.
fn first_error(log: &str) -> Option<String> {
    log.lines()
        .find(|l| l.starts_with("ERROR:"))
        .map(|l| l.trim().to_string())
}

/// Runs the flow for configuration `c`; the report even when the design does not fit
/// or misses its clock (`outcome` says which). An error only for what prevents a
/// report: a bad configuration, a missing tool, a synthesis failure.
pub fn run(c: &HwConfig, o: &SynthOptions) -> Result<SynthReport, String> {
    if c.family != o.target.family() {
        return Err(format!(
            "config `{}` is for the {} family; --target {} needs a config with family = \"{}\" (or no --config, for the {} preset)",
            c.name,
            c.family.as_str(),
            o.target.name(),
            o.target.family().as_str(),
            o.target.name()
        ));
    }
    let board = o.target.board();
    // The memory plan only estimates; the tools decide. Its verdict goes into the report.
    let plan_message = match c.memory_plan().check() {
        Err(e) => format!("plan: {e}"),
        Ok(()) => String::new(),
    };
    let build = for_board(c, board, o.clock_hz, o.baud).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&o.dir)
        .map_err(|e| format!("cannot create {}: {e}", o.dir.display()))?;
    for (n, t) in &build.files {
        std::fs::write(o.dir.join(n), t).map_err(|e| format!("cannot write {n}: {e}"))?;
    }
    let cons = board.constraints();
    std::fs::write(o.dir.join(cons), constraints(board))
        .map_err(|e| format!("cannot write {cons}: {e}"))?;
    for stale in [
        "synth.json",
        "top.json",
        "report.json",
        "top.asc",
        "top.config",
        "top.bin",
        "top.bit",
    ] {
        let _ = std::fs::remove_file(o.dir.join(stale));
    }
    let cycles_per_update = cycle_formula(c, c.max_rows).total;
    let mut report = SynthReport {
        target: o.target,
        config: c.name.clone(),
        lanes: c.lanes,
        synapses: c.synapses(),
        top: build.top.clone(),
        outcome: Outcome::Failed,
        message: plan_message,
        clock_mhz: o.clock_hz as f64 / 1e6,
        fmax_mhz: None,
        clocks: BTreeMap::new(),
        critical_paths: Vec::new(),
        resources: Vec::new(),
        synthesis_cells: BTreeMap::new(),
        bram_output_registers: None,
        rows: c.max_rows,
        cycles_per_update,
        update_us: None,
        synapse_updates_per_s: None,
        bitstream: None,
        dir: o.dir.clone(),
        seconds: [0.0; 3],
    };

    // Synthesis.
    let t0 = Instant::now();
    let files: Vec<&str> = build.files.iter().map(|(n, _)| n.as_str()).collect();
    let script = match board {
        Board::Icebreaker => ice40_script(&build.top),
        Board::Ulx3s => ecp5_script(&build.top),
    };
    // With `memory.block_output_register` (ECP5) the block RAMs get their own output
    // registers before place and route: Yosys writes `synth.json`, the pass `top.json`.
    let outreg = board == Board::Ulx3s && c.memory.block_output_register;
    let netlist = if outreg { "synth.json" } else { "top.json" };
    let log = synthesise(&o.dir, &files, &format!("{script}; write_json {netlist}"))?;
    report.synthesis_cells = parse_yosys_cells(&log);
    if outreg {
        report.bram_output_registers = Some(crate::netlist::absorb_in_file(
            &o.dir.join(netlist),
            &o.dir.join("top.json"),
        )?);
    }
    report.seconds[0] = t0.elapsed().as_secs_f64();

    // Place and route.
    let t1 = Instant::now();
    let mhz = format!("{}", o.clock_hz as f64 / 1e6);
    let seed = o.seed.to_string();
    let (tool, mut args): (Tool, Vec<String>) = match o.target {
        Target::Ice40Up5k => (
            Tool::NextpnrIce40,
            [
                "--up5k",
                "--package",
                "sg48",
                "--pcf",
                cons,
                "--asc",
                "top.asc",
            ]
            .map(String::from)
            .to_vec(),
        ),
        Target::Ecp5_85k | Target::Ecp5_25k => (
            Tool::NextpnrEcp5,
            [
                if o.target == Target::Ecp5_85k {
                    "--85k"
                } else {
                    "--25k"
                },
                "--package",
                "CABGA381",
                "--speed",
                "6",
                "--lpf",
                cons,
                "--textcfg",
                "top.config",
                // Timing weight 150 instead of the heap placer's 10: the full 85F preset's
                // paths are register -> DSP block -> register and block RAM -> register
                // across a full device, and only a strong pull keeps a DSP block near its
                // registers. Its netlist of 2026-12-04 (the IR generator) routed at 89.8,
                // 92.2, 96.6, 101.3 and 98.7 MHz with weights 40, 60, 100, 150 and 250
                // (seed 1; docs/fpga.md).
                "--placer-heap-timingweight",
                "150",
            ]
            .map(String::from)
            .to_vec(),
        ),
    };
    args.extend(
        [
            "--json",
            "top.json",
            "--freq",
            &mhz,
            "--seed",
            &seed,
            "--report",
            "report.json",
            "--timing-allow-fail",
        ]
        .map(String::from),
    );
    let (ok, pnr_log) = run_logged(tool, &args, &o.dir, "nextpnr.log")?;
    report.seconds[1] = t1.elapsed().as_secs_f64();
    let json: Option<serde_json::Value> = std::fs::read_to_string(o.dir.join("report.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    if let Some(j) = &json {
        report.resources = parse_report_resources(j);
        report.clocks = parse_report_clocks(j);
        report.critical_paths = parse_report_critical_paths(j);
    }
    if report.resources.is_empty() {
        report.resources = parse_log_resources(&pnr_log);
    }
    // iCE40 logic cells hold a LUT and a flip-flop each; nextpnr counts cells, so the
    // flip-flops come from synthesis (every SB_DFF* cell), against the same cells.
    if o.target == Target::Ice40Up5k && resource(&report.resources, "FF").is_none() {
        let ffs: u64 = report
            .synthesis_cells
            .iter()
            .filter(|(name, _)| name.starts_with("SB_DFF"))
            .map(|(_, n)| n)
            .sum();
        let cells = resource(&report.resources, "LUT").map_or(0, |r| r.available);
        report.resources.push(Resource {
            kind: "FF".into(),
            cell: "SB_DFF* (synthesis)".into(),
            used: ffs,
            available: cells,
        });
        report.resources.sort_by_key(|r| kind_order(&r.kind));
    }
    let over = report.resources.iter().any(|r| r.used > r.available);
    let placed_output = o.dir.join(match o.target {
        Target::Ice40Up5k => "top.asc",
        _ => "top.config",
    });
    if !ok || !placed_output.is_file() {
        report.outcome = if over {
            Outcome::DoesNotFit
        } else {
            Outcome::Failed
        };
        let why = first_error(&pnr_log)
            .unwrap_or_else(|| format!("{} stopped without a placed design", tool.name()));
        report.message = [report.message.as_str(), why.as_str()]
            .iter()
            .filter(|m| !m.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("; ");
        return Ok(report);
    }
    // The design clock: the PLL output (nextpnr names it after the net).
    report.fmax_mhz = report
        .clocks
        .iter()
        .filter(|(name, _)| !name.contains("25mhz") && name.as_str() != "CLK")
        .map(|(_, (a, _))| *a)
        .reduce(f64::min);
    if report.fmax_mhz.is_none() {
        report.message = "nextpnr reported no Fmax for the design clock".into();
        return Ok(report);
    }
    report.synapse_updates_per_s = report
        .fmax_mhz
        .map(|f| c.synapses() as f64 * f * 1e6 / cycles_per_update as f64);
    report.update_us = report.fmax_mhz.map(|f| cycles_per_update as f64 / f);

    // Bitstream.
    let t2 = Instant::now();
    let (pack, pack_args, bit) = match o.target {
        Target::Ice40Up5k => (Tool::Icepack, vec!["top.asc", "top.bin"], "top.bin"),
        _ => (
            Tool::Ecppack,
            vec!["--compress", "top.config", "top.bit"],
            "top.bit",
        ),
    };
    let pack_args: Vec<String> = pack_args.into_iter().map(String::from).collect();
    let (ok, pack_log) = run_logged(pack, &pack_args, &o.dir, "pack.log")?;
    report.seconds[2] = t2.elapsed().as_secs_f64();
    let bit_path = o.dir.join(bit);
    if !ok || std::fs::metadata(&bit_path).map_or(0, |m| m.len()) == 0 {
        report.message =
            first_error(&pack_log).unwrap_or_else(|| format!("{} wrote no bitstream", pack.name()));
        return Ok(report);
    }
    report.bitstream = Some(bit_path);
    let met = report.fmax_mhz.is_some_and(|f| f >= report.clock_mhz);
    report.outcome = if met {
        Outcome::Met
    } else {
        Outcome::TimingNotMet
    };
    Ok(report)
}

/// The report as text.
pub fn format_report(r: &SynthReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "lpn synth: {} ({}), config `{}`: {} lanes, {} synapses; top {}",
        r.target.name(),
        r.target.board().name(),
        r.config,
        r.lanes,
        r.synapses,
        r.top
    );
    let _ = writeln!(s, "  {:<6} {:>14} {:>9}  cell", "kind", "used/avail", "use");
    for x in &r.resources {
        let pct = if x.available > 0 {
            100.0 * x.used as f64 / x.available as f64
        } else {
            0.0
        };
        let _ = writeln!(
            s,
            "  {:<6} {:>14} {:>8.0}%  {}{}",
            x.kind,
            format!("{}/{}", x.used, x.available),
            pct,
            x.cell,
            if x.used > x.available { "  OVER" } else { "" }
        );
    }
    for (clk, (a, c)) in &r.clocks {
        let _ = writeln!(
            s,
            "  clock {clk}: {a:.2} MHz achieved, {c:.2} MHz constraint"
        );
    }
    if let Some(f) = r.fmax_mhz {
        let _ = writeln!(
            s,
            "  Fmax {f:.2} MHz vs {:.2} MHz: {}; {} cycles per update of {} rows = {:.1} us at Fmax -> {:.3e} synapse updates/s",
            r.clock_mhz,
            if f >= r.clock_mhz { "met" } else { "NOT met" },
            r.cycles_per_update,
            r.rows,
            r.update_us.unwrap_or(0.0),
            r.synapse_updates_per_s.unwrap_or(0.0)
        );
    }
    if let Some(b) = &r.bram_output_registers {
        let _ = writeln!(
            s,
            "  block RAM output registers: {} of {} read ports ({} flip-flops moved into the blocks)",
            b.registered, b.read_ports, b.flip_flops
        );
    }
    for p in &r.critical_paths {
        let _ = writeln!(
            s,
            "  critical path ({}): {} -> {}: {:.2} ns = {:.2} cells + {:.2} routing; longest net {:.2} ns over {} tiles",
            p.clock,
            p.from,
            p.to,
            p.total_ns(),
            p.logic_ns,
            p.routing_ns,
            p.longest_net.0,
            p.longest_net.1
        );
    }
    let _ = writeln!(s, "  outcome: {}", r.outcome.as_str());
    if !r.message.is_empty() {
        let _ = writeln!(s, "  {}", r.message);
    }
    if let Some(b) = &r.bitstream {
        let _ = writeln!(s, "  bitstream: {}", b.display());
    }
    let _ = writeln!(
        s,
        "  logs: {}/{{yosys,nextpnr,pack}}.log ({:.0} s synthesis, {:.0} s place and route)",
        r.dir.display(),
        r.seconds[0],
        r.seconds[1]
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nextpnr_outputs_are_parsed() {
        let j: serde_json::Value = serde_json::from_str(
            r#"{"utilization": {"ICESTORM_LC": {"used": 6000, "available": 5280},
                "ICESTORM_RAM": {"used": 3, "available": 30}, "SB_GB": {"used": 2, "available": 8}},
                "fmax": {"clk": {"achieved": 51.5, "constraint": 48.0}}}"#,
        )
        .unwrap();
        let r = parse_report_resources(&j);
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].kind.as_str(), r[0].used, r[0].available),
            ("LUT", 6000, 5280)
        );
        assert_eq!(parse_report_clocks(&j)["clk"], (51.5, 48.0));
        let log = "Info: Device utilisation:\nInfo: \t         ICESTORM_LC:  6000/ 5280   113%\nInfo: \t        ICESTORM_RAM:     3/   30    10%\n";
        let r = parse_log_resources(log);
        assert_eq!(
            (r[0].used, r[0].available, r[1].kind.as_str()),
            (6000, 5280, "BRAM")
        );
        let j: serde_json::Value = serde_json::from_str(
            r#"{"critical_paths": [
                {"from": "posedge clk", "to": "posedge clk", "path": [
                    {"delay": 0.5, "from": {"cell": "a_reg", "loc": [4, 30], "port": "Q"}, "to": {"cell": "a_reg", "loc": [4, 30], "port": "Q"}, "type": "clk-to-q"},
                    {"delay": 1.5, "from": {"cell": "a_reg", "loc": [4, 30], "port": "Q"}, "to": {"cell": "lut", "loc": [10, 26], "port": "A"}, "type": "routing"},
                    {"delay": 0.25, "from": {"cell": "lut", "loc": [10, 26], "port": "A"}, "to": {"cell": "lut", "loc": [10, 26], "port": "F"}, "type": "logic"},
                    {"delay": 0.75, "from": {"cell": "lut", "loc": [10, 26], "port": "F"}, "to": {"cell": "b_reg", "loc": [10, 27], "port": "M"}, "type": "routing"},
                    {"delay": 0.0, "from": {"cell": "b_reg", "loc": [10, 27], "port": "M"}, "to": {"cell": "b_reg", "loc": [10, 27], "port": "M"}, "type": "setup"}]},
                {"from": "<async>", "to": "posedge clk", "path": []}]}"#,
        )
        .unwrap();
        let p = parse_report_critical_paths(&j);
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].from.as_str(), p[0].to.as_str()), ("a_reg", "b_reg"));
        assert_eq!((p[0].logic_ns, p[0].routing_ns), (0.75, 2.25));
        assert_eq!(p[0].longest_net, (1.5, 10));
        let ylog = "=== top ===\n   Number of cells:                 16\n     SB_CARRY                        8\n     SB_LUT4                         8\n\n";
        let cells = parse_yosys_cells(ylog);
        assert_eq!(cells["SB_LUT4"], 8);
        assert_eq!(cells.len(), 2);
    }
}
