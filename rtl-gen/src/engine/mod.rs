//! The engine in Verilog: `lpn_lane` (one lane's memories and the three phase pipelines,
//! stage for stage as in `lpn_cycle::engine`) and `lpn_engine` (control, flags, host
//! port, the lanes). Register names are `<stage>_<field>` with the model's stage names.

#![allow(clippy::needless_range_loop)] // index loops mirror the generated per-entry Verilog

mod accumulate;
mod apply;
mod divider;
mod lane;
mod memory;
mod select;
mod top;

pub use divider::{divider_module, gate_divider, GateDivider};
pub use lane::lane_module;
pub use memory::memory_module;
pub use top::top_module;

use lpn_cycle::arith::Datapath;
use lpn_cycle::config::RamKind;
use lpn_cycle::format::bits_for;
use lpn_cycle::HwConfig;
use lpn_cycle::{Pipeline, StageDepths};
use serde::Serialize;

use crate::datapath::Emit;
use crate::ir::{BinOp, Expr, Instance, Lhs, Process, Stmt};
use crate::rtl::{Dir, Module, Sig, Ty};
use lpn_cycle::constants::mode_code;
use lpn_cycle::engine::Phase;
pub use lpn_cycle::layout::{Field, SynLayout};
pub use lpn_link::{sel, word_bits, HostMemory, Widths};

/// `x` as an expression.
pub(crate) fn x(s: &Sig) -> Expr {
    Expr::from(s)
}

/// `dst <= src`.
pub(crate) fn set(dst: &Sig, src: impl Into<Expr>) -> Stmt {
    Stmt::set(dst, src)
}

/// The 2-bit `phase` code the lanes see for each of the model's phases.
pub fn phase_code(p: Phase) -> i128 {
    match p {
        Phase::Idle | Phase::Done => 0,
        Phase::Accumulate => 1,
        Phase::Select => 2,
        Phase::Apply => 3,
    }
}

/// `phase == <p>`.
fn in_phase(p: Phase) -> Expr {
    Expr::name("phase").eq(Expr::dec(2, phase_code(p)))
}

/// `iss_valid & (phase == <p>)`: a slot issued in phase `p`.
fn issued(p: Phase) -> Expr {
    Expr::name("iss_valid").and(in_phase(p))
}

/// Bit `idx` of a `width`-bit vector `s` (`s` itself when it is one bit wide: Verilog has
/// no bit-select on a scalar).
fn bit(s: &Sig, idx: &Sig) -> Expr {
    if s.ty.width == 1 {
        x(s)
    } else {
        Expr::index(s, idx)
    }
}

/// A stage hand-off: on reset the `valid` register (the first) clears; otherwise, under
/// `comment`, every register takes its source, in the record's field order.
fn hand(rst: &mut Vec<Stmt>, seq: &mut Vec<Stmt>, comment: &str, regs: Vec<&Sig>, d: Vec<Expr>) {
    rst.push(set(regs[0], Expr::bit(false)));
    seq.push(Stmt::Comment(comment.to_string()));
    seq.extend(regs.into_iter().zip(d).map(|(r, e)| set(r, e)));
}

/// A pipeline stage's registers as a typed record (the model's struct of the same
/// name holds the same fields; `valid` first). `declare` makes the registers
/// `<stage>_<field>` in field order, each of the type given for it; `load` hands a
/// record of sources (`Stage<Expr>`) to them field by field, so a hand-off names every
/// register exactly once by construction. A stage builder whose last-clock values are
/// the next stage's record (`Stage<Sig>`) hands them over whole (`exprs`): the moves
/// are then derived by field name.
macro_rules! stage_regs {
    ($(#[$doc:meta])* $name:ident($stage:literal) { valid $(, $field:ident)* $(,)? }) => {
        $(#[$doc])*
        pub(super) struct $name<T = Sig> {
            pub valid: T,
            $(pub $field: T,)*
        }
        #[allow(dead_code)]
        impl $name {
            /// Declares the stage's registers.
            #[allow(clippy::too_many_arguments)]
            pub fn declare(m: &mut Module, valid: Ty, $($field: Ty),*) -> $name {
                $name {
                    valid: m.reg(concat!($stage, "_valid"), valid),
                    $($field: m.reg(concat!($stage, "_", stringify!($field)), $field),)*
                }
            }
            /// The record's signals as sources for the next stage's registers of the
            /// same names.
            pub fn exprs(&self) -> $name<Expr> {
                $name {
                    valid: x(&self.valid),
                    $($field: x(&self.$field),)*
                }
            }
            /// On reset `valid` clears; otherwise, under `comment`, each register
            /// takes its field of `d`.
            pub fn load(
                &self,
                rst: &mut Vec<Stmt>,
                seq: &mut Vec<Stmt>,
                comment: &str,
                d: $name<Expr>,
            ) {
                let regs = vec![&self.valid, $(&self.$field),*];
                hand(rst, seq, comment, regs, vec![d.valid, $(d.$field),*]);
            }
        }
    };
}
use stage_regs;

/// Everything `lpn gen` writes: the Verilog files and the manifest.
#[derive(Debug, Clone)]
pub struct Generated {
    /// (file name, text): `lpn_lane.v`, `lpn_engine.v`.
    pub files: Vec<(String, String)>,
    /// The manifest.
    pub manifest: Manifest,
}

/// Machine-readable description of generated RTL.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// Manifest format version.
    pub version: u32,
    /// Top module.
    pub top: String,
    /// The configuration.
    pub config: HwConfig,
    /// Ports of the top module: name, direction, width, signedness.
    pub ports: Vec<PortInfo>,
    /// Signal widths.
    pub widths: Widths,
    /// Host memory selectors and word layouts.
    pub host_memories: Vec<HostMemory>,
    /// Cycle formula: `((rows + 2) * slots_per_lane + latency) * step_clocks`.
    pub cycle_formula: CycleFormula,
    /// Memories per lane with depths and widths (the config's memory plan).
    pub memory_plan: lpn_cycle::config::MemoryPlan,
    /// Quantised learning constants.
    pub constants: lpn_cycle::Constants,
}

/// One port of the top module.
#[derive(Debug, Clone, Serialize)]
pub struct PortInfo {
    /// Name.
    pub name: String,
    /// `input` or `output`.
    pub direction: &'static str,
    /// Bits.
    pub width: u32,
    /// Two's complement.
    pub signed: bool,
}

/// The cycle formula's constants.
#[derive(Debug, Clone, Serialize)]
pub struct CycleFormula {
    /// Slot addresses per lane (`U*K`).
    pub slots_per_lane: usize,
    /// Fixed latency.
    pub latency: u64,
    /// Clocks per pipeline step (the formula's factor; 1 except in the shared pipeline).
    pub step_clocks: u32,
}

/// Generates the engine for a configuration.
pub fn generate(c: &HwConfig) -> lpn_cycle::Result<Generated> {
    c.validate_structure()?;
    let dp = Datapath::new(c)?;
    let lane = lane_module(
        c,
        &dp,
        &crate::header(
            c,
            "LPN sparse-trail update engine: one lane (memories and the three phase pipelines).",
        ),
    );
    if let Some(e) = lane.shared_error() {
        return Err(lpn_cycle::Error::new(e));
    }
    let top = top_module(
        c,
        &dp,
        &crate::header(
            c,
            "LPN sparse-trail update engine: control, flags, host port and lanes (top: lpn_engine).",
        ),
        &lane,
    );
    let ports = top
        .ports()
        .iter()
        .map(|(d, s)| PortInfo {
            name: s.name.clone(),
            direction: if *d == Dir::Input { "input" } else { "output" },
            width: s.ty.width,
            signed: s.ty.signed,
        })
        .collect();
    let w = Widths::new(c, &dp);
    let host_memories = lpn_link::host_memories(c, &dp);
    let manifest = Manifest {
        version: 1,
        top: "lpn_engine".into(),
        config: c.clone(),
        ports,
        widths: w,
        host_memories,
        cycle_formula: CycleFormula {
            slots_per_lane: c.slots_per_lane(),
            latency: lpn_cycle::pipeline_latency(c),
            step_clocks: c.step_clocks(),
        },
        memory_plan: c.memory_plan(),
        constants: dp.k.clone(),
    };
    let mut files = vec![
        ("lpn_lane.v".to_string(), lane.emit()),
        ("lpn_engine.v".to_string(), top.emit()),
    ];
    if uses_spram(c) {
        files.push(("lpn_spram.v".into(), spram_module(c)));
    }
    Ok(Generated { files, manifest })
}

/// Whether the configuration puts any memory in iCE40 SPRAM.
pub fn uses_spram(c: &HwConfig) -> bool {
    let m = &c.memory;
    c.family == lpn_cycle::Family::Ice40Up5k
        && [m.scratch, m.nbr, m.pre, m.post_err].contains(&RamKind::Spram)
}

/// `lpn_spram`: a single-port memory of up to 16K words; under synthesis (`SYNTHESIS`,
/// which Yosys defines) it is made of iCE40 `SB_SPRAM256KA` blocks side by side, in
/// simulation a behavioural array with the same timing (read data one cycle after the
/// address; undefined while writing, which the engine never reads). Nothing happens in
/// a clock where `en` is low (the read data holds): the shared pipeline's steps.
pub fn spram_module(c: &HwConfig) -> String {
    let mut s = crate::comment_block(&crate::header(
        c,
        "Single-port RAM on iCE40 SPRAM (SB_SPRAM256KA), behavioural in simulation.",
    ));
    s += crate::TIMESCALE;
    s += r#"`default_nettype none
module lpn_spram #(
    parameter integer WIDTH = 16,
    parameter integer ADDR_BITS = 14
) (
    input  wire                 clk,
    input  wire                 en,
    input  wire [ADDR_BITS-1:0] addr,
    input  wire                 we,
    input  wire [WIDTH-1:0]     wdata,
    output wire [WIDTH-1:0]     rdata
);
    localparam integer BLOCKS = (WIDTH + 15) / 16;
    wire [BLOCKS*16-1:0] wide_wdata;
    wire [BLOCKS*16-1:0] wide_rdata;
    wire [13:0] address;
    generate
        if (BLOCKS*16 > WIDTH) begin : pad_data
            assign wide_wdata = {{(BLOCKS*16-WIDTH){1'b0}}, wdata};
        end else begin : full_data
            assign wide_wdata = wdata;
        end
        if (ADDR_BITS < 14) begin : pad_address
            assign address = {{(14-ADDR_BITS){1'b0}}, addr};
        end else begin : full_address
            assign address = addr;
        end
    endgenerate
`ifdef SYNTHESIS
    genvar i;
    generate
        for (i = 0; i < BLOCKS; i = i + 1) begin : block
            SB_SPRAM256KA ram (
                .ADDRESS(address), .DATAIN(wide_wdata[i*16 +: 16]), .MASKWREN(4'b1111),
                .WREN(we), .CHIPSELECT(en), .CLOCK(clk), .STANDBY(1'b0), .SLEEP(1'b0),
                .POWEROFF(1'b1), .DATAOUT(wide_rdata[i*16 +: 16])
            );
        end
    endgenerate
`else
    reg [BLOCKS*16-1:0] mem [0:(1<<ADDR_BITS)-1];
    reg [BLOCKS*16-1:0] q;
    always @(posedge clk) begin
        if (en) begin
            if (we) mem[addr] <= wide_wdata;
            else q <= mem[addr];
        end
    end
    assign wide_rdata = q;
    wire unused_address = &{1'b0, address};
`endif
    assign rdata = wide_rdata[WIDTH-1:0];
    generate
        if (BLOCKS*16 > WIDTH) begin : pad
            wire [BLOCKS*16-WIDTH-1:0] unused_high = wide_rdata[BLOCKS*16-1:WIDTH];
        end
    endgenerate
endmodule
`default_nettype wire
"#;
    s
}

/// Bits of `step_sub`, the clock within a step of the shared pipeline: it counts
/// `0..step_clocks`.
fn step_sub_bits(c: &HwConfig) -> u32 {
    bits_for(u64::from(c.step_clocks()))
}

/// Values delayed to clock `at` of their stage (where the next stage's registers take
/// them): see [`Module::delay`].
fn ends<const N: usize>(m: &mut Module, at: u32, xs: [&Sig; N]) -> [Sig; N] {
    xs.map(|x| m.delay(x, at))
}
