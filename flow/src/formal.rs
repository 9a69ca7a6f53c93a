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
//! - `apply-writes`: the engine writes `syn` and `bias` only in APPLY.
//! - `ranges`: every weight written is within the clip, every trail within [min, max]
//!   (0 on an invalid slot), every bias a descent step moves within the clip, whatever
//!   the memories held.
//! - `bridge`: for any byte stream, the board's bridge writes an engine memory only for a
//!   WRITE frame with a good CRC and within range, and starts an update only for a
//!   START with a good CRC (a monitor in the wrapper parses the stream independently).
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
    /// The engine writes `syn` and `bias` only in APPLY.
    ApplyWrites,
    /// Every weight, trail and bias the engine writes is within its clip.
    Ranges,
    /// The bridge writes an engine memory or starts an update only for an accepted frame.
    Bridge,
}

impl Property {
    /// Every property.
    pub const ALL: [Property; 5] = [
        Property::Idle,
        Property::Divider,
        Property::ApplyWrites,
        Property::Ranges,
        Property::Bridge,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Property::Idle => "idle",
            Property::Divider => "divider",
            Property::ApplyWrites => "apply-writes",
            Property::Ranges => "ranges",
            Property::Bridge => "bridge",
        }
    }

    /// What it states.
    pub fn statement(self) -> &'static str {
        match self {
            Property::Idle => "after START, busy is high for exactly the cycle formula's count, for every legal input and memory content",
            Property::Divider => "the gate divider's reciprocal is floor division, saturated, for every valid count and divisor",
            Property::ApplyWrites => "the engine writes syn and bias only in APPLY, for every legal input and memory content",
            Property::Bridge => "for any byte stream, the board's bridge writes an engine memory only after a WRITE frame with a good CRC, within the memory's range, lanes and word bits, and starts an update only after a START frame with a good CRC",
            Property::Ranges => "every weight the engine writes (and every bias a descent step moves) is within +-weight_clip and every trail within [min, max] pheromone (0 on an invalid slot), for every legal input and memory content",
        }
    }

    /// The property's job: Verilog sources (name, text), top module, depth. With
    /// `mutant`, the RTL is deliberately broken where the property looks.
    pub fn job(self, c: &HwConfig, mutant: bool) -> Result<Job, String> {
        match self {
            Property::Idle => idle_job(c, mutant),
            Property::Divider => divider_job(c, mutant),
            Property::ApplyWrites => apply_writes_job(c, mutant),
            Property::Ranges => ranges_job(c, mutant),
            Property::Bridge => bridge_job(c, mutant),
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
    /// Wires inside `lpn_engine` (after flattening, `lane0.<name>`) made into ports of
    /// it with Yosys's `expose`, so that the wrapper can watch them.
    pub expose: Vec<String>,
    /// The solver.
    pub engine: Engine,
}

/// How SymbiYosys checks a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// `smtbmc yices`: word-level SMT, with a trace of a failure.
    SmtbmcYices,
    /// `abc bmc3` on the bit-level model (ABC beside Debian's Yosys): far faster where
    /// the design multiplies, so that `ranges` runs in CI; a failure is reported by its
    /// frame only (`aigsmt none`: the witness formats of the two tools' versions differ).
    AbcBmc3,
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
    let (totals, tb) = update_clocks(c);
    let dp = Datapath::new(c).map_err(|e| e.to_string())?;
    let rows_w = lpn_link::Widths::new(c, &dp).rows;
    // The start comes in clock 2 (after two clocks of reset); busy is counted from the
    // clock after, as the co-simulation harness counts it.
    let mut expect = String::new();
    for (i, t) in totals.iter().enumerate() {
        let _ = write!(expect, "rows == {rows_w}'d{} ? {tb}'d{t} : ", i + 1);
    }
    expect += &format!("{tb}'d0");
    let body = format!(
        "\x20   wire [{tm}:0] total = {expect};\n\
         \x20   always @(posedge clk) begin\n\
         \x20       if (t > {tb}'d2) assert(busy == (t < {tb}'d3 + total));\n\
         \x20       if (!busy) assert(phase == 2'd0);\n\
         \x20   end\n",
        tm = tb - 1,
    );
    // The mutant drains SELECT one clock longer: every update is one clock long.
    let mutation = mutant.then_some(Mutation {
        file: "lpn_engine.v",
        apply: mutate_select_length,
    });
    engine_job(c, Property::Idle, &[], &body, mutation)
}

/// The cycle formula's count for every rows value, and the bits of a clock count that
/// covers the longest update.
fn update_clocks(c: &HwConfig) -> (Vec<u64>, u32) {
    let totals: Vec<u64> = (1..=c.max_rows)
        .map(|r| cycle_formula(c, r).total)
        .collect();
    let longest = *totals.iter().max().unwrap_or(&0);
    (totals, bits(longest + 8))
}

/// A generated file broken on purpose where a property looks.
struct Mutation {
    file: &'static str,
    apply: fn(&str) -> Result<String, String>,
}

/// The widths of `lpn_engine`'s ports a wrapper declares.
struct Widths {
    rows: u32,
    budget: u32,
    host_data: u32,
    host_addr: u32,
    host_sel: u32,
    host_lane: u32,
    selected_count: u32,
}

impl Widths {
    fn of(g: &lpn_rtl::engine::Generated) -> Result<Widths, String> {
        let port = |name: &str| {
            g.manifest
                .ports
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.width)
                .ok_or_else(|| format!("lpn_engine has no port {name}"))
        };
        let w = &g.manifest.widths;
        Ok(Widths {
            rows: w.rows,
            budget: w.budget,
            host_data: w.host_data,
            host_addr: w.host_addr,
            host_sel: port("host_sel")?,
            host_lane: port("host_lane")?,
            selected_count: port("selected_count")?,
        })
    }
}

/// A job on the whole engine: the wrapper starts one update with any legal rows, budget,
/// mode and consolidate flag (and the memories hold anything), runs it to the end of the
/// longest, and checks `body`'s assertions, which see the engine's ports and the lane
/// wires in `watch` (`(name, declaration)`: exposed as `lane0.<name>` and connected to a
/// wire of the same name).
fn engine_job(
    c: &HwConfig,
    property: Property,
    watch: &[(String, String)],
    body: &str,
    mutation: Option<Mutation>,
) -> Result<Job, String> {
    let g = generate(c).map_err(|e| e.to_string())?;
    let w = Widths::of(&g)?;
    let (totals, tb) = update_clocks(c);
    let longest = *totals.iter().max().unwrap_or(&0);
    let module = property.name().replace('-', "_");
    let mut v = prologue(&module, &c.name, tb);
    let _ = write!(
        v,
        "\x20   (* anyconst *) reg [{rm}:0] rows;\n\
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
         \x20   wire [{sm}:0] selected_count;\n",
        rm = w.rows - 1,
        rw = w.rows,
        bm = w.budget - 1,
        bw = w.budget,
        max_rows = c.max_rows,
        k = c.layer.k,
        dm = w.host_data - 1,
        sm = w.selected_count - 1,
    );
    let mut watched = String::new();
    for (name, decl) in watch {
        let _ = writeln!(v, "    {decl} {name};");
        let _ = write!(watched, ",\n        .\\lane0.{name} ({name})");
    }
    let _ = write!(
        v,
        "\x20   lpn_engine dut (.clk(clk), .rst(rst), .start(start), .rows(rows), .budget(budget),\n\
         \x20       .mode(mode), .consolidate(consolidate), .host_we(1'b0), .host_sel({selw}'d0),\n\
         \x20       .host_lane({lw}'d0), .host_addr({aw}'d0), .host_wdata({dw}'d0),\n\
         \x20       .host_rdata(host_rdata), .busy(busy), .phase(phase), .descent(descent),\n\
         \x20       .selected_count(selected_count){watched});\n\
         {body}\
         endmodule\n\
         `default_nettype wire\n",
        selw = w.host_sel,
        lw = w.host_lane,
        aw = w.host_addr,
        dw = w.host_data,
    );
    let mut sources = g.files.clone();
    if let Some(m) = mutation {
        let file = sources
            .iter_mut()
            .find(|(n, _)| n == m.file)
            .ok_or_else(|| format!("no {} to mutate", m.file))?;
        file.1 = (m.apply)(&file.1)?;
    }
    sources.push((format!("lpn_prove_{module}.v"), v));
    Ok(Job {
        sources,
        top: format!("lpn_prove_{module}"),
        depth: longest + 6,
        expose: watch.iter().map(|(n, _)| format!("lane0.{n}")).collect(),
        engine: Engine::SmtbmcYices,
    })
}

/// `apply-writes`: an engine write of `syn` (and of `bias`, on an output's first slot)
/// is `apply_write_valid`; it must come in APPLY (phase 3). Host writes need `phase` 0
/// by construction and are held off here.
fn apply_writes_job(c: &HwConfig, mutant: bool) -> Result<Job, String> {
    let (_, tb) = update_clocks(c);
    let watch = [("apply_write_valid".to_string(), "wire".to_string())];
    let body = format!(
        "\x20   always @(posedge clk)\n\
         \x20       if (t > {tb}'d2 && apply_write_valid) assert(phase == 2'd3);\n"
    );
    // The mutant issues APPLY's slots in SELECT.
    let mutation = mutant.then_some(Mutation {
        file: "lpn_lane.v",
        apply: |lane| {
            replace_once(
                lane,
                "wire apply_issue = iss_valid & (phase == 2'd3);",
                "wire apply_issue = iss_valid & (phase == 2'd2);",
            )
        },
    });
    engine_job(c, Property::ApplyWrites, &watch, &body, mutation)
}

/// `ranges`: every weight written is within +-weight_clip and every trail within [min,
/// max] pheromone on a valid slot and 0 on an invalid one, whatever the memories held
/// before (a weight beyond the clip, say); the bias too when a descent step moves it.
/// Left out, because the rule keeps them as they were: a bias on a step without descent,
/// and consolidation, whose decay keeps a word it does not grow; both stay in range only
/// for words that were.
fn ranges_job(c: &HwConfig, mutant: bool) -> Result<Job, String> {
    let dp = Datapath::new(c).map_err(|e| e.to_string())?;
    let (_, tb) = update_clocks(c);
    let f = &c.formats;
    let (wb, tbits) = (f.weight.bits, f.trail.bits);
    let mut watch = vec![
        ("apply_write_valid".to_string(), "wire".to_string()),
        ("apply_write_slot_valid".into(), "wire".into()),
        (
            "apply_write_w".into(),
            format!("wire signed [{}:0]", wb - 1),
        ),
        ("apply_write_p".into(), format!("wire [{}:0]", tbits - 1)),
    ];
    let clip = dp.k.weight_clip;
    let (lo, hi) = (dp.k.min_pheromone, dp.k.max_pheromone);
    let trail = |name: &str| {
        format!(
            "\x20       if (t > {tb}'d2 && apply_write_valid) assert(apply_write_slot_valid\n\
             \x20           ? {name} >= {tbits}'d{lo} && {name} <= {tbits}'d{hi} : {name} == {tbits}'d0);\n"
        )
    };
    let mut body = format!(
        "\x20   always @(posedge clk) begin\n\
         \x20       if (t > {tb}'d2 && apply_write_valid)\n\
         \x20           assert(apply_write_w >= -{wb}'sd{clip} && apply_write_w <= {wb}'sd{clip});\n"
    );
    body += &trail("apply_write_p");
    if c.stores_short() {
        watch.push(("apply_write_s".into(), format!("wire [{}:0]", tbits - 1)));
        body += &trail("apply_write_s");
    }
    if c.bias {
        watch.push(("apply_write_first_slot".into(), "wire".into()));
        watch.push((
            "apply_write_bias".into(),
            format!("wire signed [{}:0]", wb - 1),
        ));
        body += &format!(
            "\x20       if (t > {tb}'d2 && apply_write_valid && apply_write_first_slot && descent)\n\
             \x20           assert(apply_write_bias >= -{wb}'sd{clip} && apply_write_bias <= {wb}'sd{clip});\n"
        );
    }
    body += "    end\n";
    // The mutant loses the weight's upper clip.
    let mutation = mutant.then_some(Mutation {
        file: "lpn_lane.v",
        apply: |lane| {
            replace_once(
                lane,
                "wire weight_decay_hi_gt = decay_pick > weight_decay_max_c;",
                "wire weight_decay_hi_gt = 1'b0;",
            )
        },
    });
    let mut job = engine_job(c, Property::Ranges, &watch, &body, mutation)?;
    // The clips sit behind multipliers, which word-level BMC takes minutes over.
    job.engine = Engine::AbcBmc3;
    Ok(job)
}

/// `bridge`: the board's frame bridge (`lpn_bridge`) with every input free (any byte
/// stream at any pace, any FIFO overflow, engine status and read data) beside a monitor
/// that parses the stream as the protocol states it (`A5 cmd len payload[len] crc`,
/// CRC-8 with polynomial 0x07 over cmd, len and payload; `lpn_link::protocol`). A write
/// to the engine may come only while the last frame taken is a WRITE with a good CRC
/// (no byte taken since), to a writable memory, within its depth, the lanes and its word
/// bits (`lpn_link::host_memories`); `start` only after a START with a good CRC. The
/// depth covers a WRITE of one word and its execution; the bridge's frame timeout (1,024
/// byte times) lies beyond it.
fn bridge_job(c: &HwConfig, mutant: bool) -> Result<Job, String> {
    let dp = Datapath::new(c).map_err(|e| e.to_string())?;
    let cpb = crate::boardsim::SIM_CLKS_PER_BIT;
    let link = lpn_link::protocol::Link::new(c, cpb).map_err(|e| e.to_string())?;
    let w = lpn_link::Widths::new(c, &dp);
    let m = lpn_rtl::board::bridge(c, &w, &link, cpb, &[]);
    let mut text = m.emit();
    if mutant {
        // The mutant takes every checksum for good.
        text = replace_once(&text, "crc_ok <= rx_data == crc;", "crc_ok <= 1'b1;")?;
    }
    let word_bytes = link.word_bytes as u64;
    // Reset, then A5 cmd len, the WRITE header (sel, lane, addr, count) and one word,
    // the CRC, and the execution.
    let depth = 2 + 3 + 5 + word_bytes + 1 + 12;
    let tb = bits(depth + 8);
    let mut v = prologue("bridge", &c.name, tb);
    let decl = |ty: lpn_rtl::ir::Ty| {
        if ty.width > 1 {
            format!("[{}:0] ", ty.width - 1)
        } else {
            String::new()
        }
    };
    let mut conns = Vec::new();
    // The bridge's ports meet `b_<port>` (the wrapper's own `start` is the prologue's).
    for (dir, p) in m.ports() {
        match (dir, p.name.as_str()) {
            (_, "clk" | "rst") => conns.push(format!(".{0}({0})", p.name)),
            (lpn_rtl::rtl::Dir::Input, _) => {
                conns.push(format!(".{0}(b_{0})", p.name));
                let _ = writeln!(v, "    (* anyseq *) reg {}b_{};", decl(p.ty), p.name);
            }
            _ => {
                conns.push(format!(".{0}(b_{0})", p.name));
                let _ = writeln!(v, "    wire {}b_{};", decl(p.ty), p.name);
            }
        }
    }
    let in_range: Vec<String> = lpn_link::host_memories(c, &dp)
        .iter()
        .filter(|h| h.writable)
        .map(|h| {
            format!(
                "(b_host_sel == 4'd{} && b_host_addr < {} && (b_host_wdata >> {}) == 0)",
                h.sel, h.depth, h.bits
            )
        })
        .collect();
    let _ = write!(
        v,
        "\x20   lpn_bridge dut ({conns});\n\
         \x20   // The protocol as stated, independent of the bridge's own parser.\n\
         \x20   function [7:0] crc8_byte(input [7:0] c, input [7:0] b);\n\
         \x20       integer i;\n\
         \x20       reg [7:0] x;\n\
         \x20       begin\n\
         \x20           x = c ^ b;\n\
         \x20           for (i = 0; i < 8; i = i + 1) x = x[7] ? {{x[6:0], 1'b0}} ^ 8'h07 : {{x[6:0], 1'b0}};\n\
         \x20           crc8_byte = x;\n\
         \x20       end\n\
         \x20   endfunction\n\
         \x20   reg [2:0] m_state;\n\
         \x20   reg [7:0] m_cmd, m_len, m_idx, m_crc;\n\
         \x20   reg m_write_ok, m_start_ok;\n\
         \x20   wire took = b_rx_valid && b_rx_take;\n\
         \x20   always @(posedge clk) begin\n\
         \x20       if (rst) begin\n\
         \x20           m_state <= 3'd0; m_write_ok <= 1'b0; m_start_ok <= 1'b0;\n\
         \x20       end else if (took) begin\n\
         \x20           m_write_ok <= 1'b0; m_start_ok <= 1'b0;\n\
         \x20           case (m_state)\n\
         \x20               3'd0: if (b_rx_data == 8'h{sync:02X}) begin m_state <= 3'd1; m_crc <= 8'd0; end\n\
         \x20               3'd1: begin m_cmd <= b_rx_data; m_crc <= crc8_byte(m_crc, b_rx_data); m_state <= 3'd2; end\n\
         \x20               3'd2: begin\n\
         \x20                   m_len <= b_rx_data; m_idx <= 8'd0; m_crc <= crc8_byte(m_crc, b_rx_data);\n\
         \x20                   m_state <= b_rx_data == 8'd0 ? 3'd4 : 3'd3;\n\
         \x20               end\n\
         \x20               3'd3: begin\n\
         \x20                   m_crc <= crc8_byte(m_crc, b_rx_data); m_idx <= m_idx + 8'd1;\n\
         \x20                   if (m_idx == m_len - 8'd1) m_state <= 3'd4;\n\
         \x20               end\n\
         \x20               default: begin\n\
         \x20                   m_state <= 3'd0;\n\
         \x20                   m_write_ok <= b_rx_data == m_crc && m_cmd == 8'h{write:02X};\n\
         \x20                   m_start_ok <= b_rx_data == m_crc && m_cmd == 8'h{start:02X};\n\
         \x20               end\n\
         \x20           endcase\n\
         \x20       end\n\
         \x20   end\n\
         \x20   wire in_range = b_host_lane < {lanes} && ({ranges});\n\
         \x20   always @(posedge clk) if (t > {tb}'d2) begin\n\
         \x20       if (b_host_we) assert(m_write_ok && in_range);\n\
         \x20       if (b_start) assert(m_start_ok);\n\
         \x20   end\n\
         endmodule\n\
         `default_nettype wire\n",
        conns = conns.join(", "),
        sync = lpn_link::protocol::REQUEST_SYNC,
        write = lpn_link::protocol::Command::Write as u8,
        start = lpn_link::protocol::Command::Start as u8,
        lanes = c.lanes,
        ranges = in_range.join(" || "),
    );
    Ok(Job {
        sources: vec![
            ("lpn_bridge.v".into(), text),
            ("lpn_prove_bridge.v".into(), v),
        ],
        top: "lpn_prove_bridge".into(),
        depth,
        expose: Vec::new(),
        engine: Engine::AbcBmc3,
    })
}

/// `text` with `from` (which must be there) replaced by `to` once.
fn replace_once(text: &str, from: &str, to: &str) -> Result<String, String> {
    if !text.contains(from) {
        return Err(format!(
            "cannot mutate: no `{from}` in the generated Verilog"
        ));
    }
    Ok(text.replacen(from, to, 1))
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
        expose: Vec::new(),
        engine: Engine::SmtbmcYices,
    })
}

/// A wrapper's first lines: its header, module `lpn_prove_<property>`, and the clock
/// count `t` (`tb` bits) that drives two clocks of reset and then `start` for one.
fn prologue(module: &str, config: &str, tb: u32) -> String {
    format!(
        "// Formal property `{module}` (flow/src/formal.rs) for config `{config}`.\n\
         {ts}`default_nettype none\n\
         module lpn_prove_{module} (input wire clk);\n\
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
    let script = match names.split_last() {
        // The engine is flattened first, so that the wires to watch are its own, and
        // made into ports; the wrapper, read after, connects to them.
        Some((wrapper, engine)) if !job.expose.is_empty() => format!(
            "read -formal {}\nhierarchy -top lpn_engine\nflatten\nexpose {}\nread -formal {wrapper}\n",
            engine.join(" "),
            job.expose
                .iter()
                .map(|w| format!("lpn_engine/w:{w}"))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        _ => format!("read -formal {}\n", names.join(" ")),
    };
    let (options, engine) = match job.engine {
        Engine::SmtbmcYices => ("", "smtbmc yices"),
        Engine::AbcBmc3 => ("aigsmt none\n", "abc bmc3"),
    };
    format!(
        "[options]\nmode bmc\n{options}depth {depth}\n\n[engines]\n{engine}\n\n[script]\n{script}prep -flatten -top {top}\n\n[files]\n{list}\n",
        depth = job.depth,
        top = job.top,
        list = names.join("\n"),
    )
}

/// ABC beside the toolchain's (Debian) Yosys, for [`Engine::AbcBmc3`].
fn abc() -> Result<std::path::PathBuf, String> {
    let yosys = Toolchain::from_env()
        .locate(Tool::Yosys)
        .map_err(|e| e.to_string())?;
    let abc = yosys.path.with_file_name("yosys-abc");
    if abc.is_file() {
        Ok(abc)
    } else {
        Err(format!(
            "the properties checked with ABC (ranges, bridge) need Yosys's ABC (yosys-abc) beside {}: Debian's Yosys from scripts/install-tools has it",
            yosys.path.display()
        ))
    }
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
    let mut command = sby.command();
    if job.engine == Engine::AbcBmc3 {
        command.env("ABC", abc()?);
    }
    let t0 = Instant::now();
    let out = command
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
        .map(|l| l.split("summary:").nth(1).unwrap_or(l).trim().to_string())
        .or_else(|| {
            // ABC names the frame of the failure.
            let l = log.lines().find(|l| l.contains("was asserted in frame"))?;
            let frame = l.split("frame").nth(1)?.split('.').next()?.trim();
            Some(format!("failed assertion at step {frame} (abc bmc3)"))
        });
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
