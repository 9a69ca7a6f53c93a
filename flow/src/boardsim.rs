//! The Verilator simulation of the whole board (`lpn_board`: reset synchroniser, UART,
//! bridge, engine) as a byte pipe: the harness turns the bytes on its stdin into UART
//! frames on `uart_rx` and the frames on `uart_tx` back into bytes on its stdout, so a
//! host driver talks to it exactly as to a serial port.
//!
//! Time only passes while there is something to do: the harness blocks on stdin when it
//! has no bytes to send, its receiver is idle and the board's activity LED has been off
//! for four bit times; so a host that is slow to send the rest of a frame does not run
//! into the bridge's timeout.

use std::path::Path;

use lpn_cycle::HwConfig;

use crate::verilator::{self, Model};
use lpn_rtl::board::{for_board, simulation, Board, BoardBuild};

/// Clocks per UART bit in the board simulation (the smallest the UART takes).
pub const SIM_CLKS_PER_BIT: u16 = 8;

/// How a harness reaches a top module's pins.
#[derive(Debug, Clone, Copy)]
pub struct Pins {
    /// Top module.
    pub top: &'static str,
    /// Clock input.
    pub clk: &'static str,
    /// The board's UART receive pin (host to board).
    pub rx: &'static str,
    /// The board's UART transmit pin.
    pub tx: &'static str,
    /// C++ statement that holds the design in reset.
    pub reset_on: &'static str,
    /// C++ statement that releases it.
    pub reset_off: &'static str,
    /// C++ expression: the activity LED is lit.
    pub activity: &'static str,
}

/// `lpn_board`'s pins.
pub const BOARD_PINS: Pins = Pins {
    top: "lpn_board",
    clk: "clk",
    rx: "uart_rx",
    tx: "uart_tx",
    reset_on: "top->rst_async = 1;",
    reset_off: "top->rst_async = 0;",
    activity: "top->led_activity",
};

/// The pins of a board top (`lpn_top_icebreaker`, `lpn_top_ulx3s`), driven as the
/// board's FTDI chip and buttons would.
pub fn board_top_pins(board: Board) -> Pins {
    match board {
        Board::Icebreaker => Pins {
            top: board.top(),
            clk: "CLK",
            rx: "RX",
            tx: "TX",
            reset_on: "top->BTN_N = 0;",
            reset_off: "top->BTN_N = 1;",
            activity: "!top->LEDG_N",
        },
        Board::Ulx3s => Pins {
            top: board.top(),
            clk: "clk_25mhz",
            rx: "ftdi_txd",
            tx: "ftdi_rxd",
            reset_on: "top->btn = 2;",
            reset_off: "top->btn = 0;",
            activity: "(top->led & 1)",
        },
    }
}

/// The harness (C++) for `lpn_board` at `clks_per_bit` clocks per bit. `--vcd FILE` as
/// first arguments writes a waveform.
pub fn harness(clks_per_bit: u16) -> String {
    harness_for(&BOARD_PINS, clks_per_bit)
}

/// The harness for a top with `pins`.
pub fn harness_for(pins: &Pins, clks_per_bit: u16) -> String {
    let Pins {
        top: class,
        clk,
        rx,
        tx,
        reset_on,
        reset_off,
        activity,
    } = *pins;
    format!(
        r#"// Generated board simulation harness for lpn_board (see flow/src/boardsim.rs).
#include "V{class}.h"
#include "verilated.h"
#include "verilated_vcd_c.h"
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <deque>
#include <vector>
#include <unistd.h>

static const int CPB = {clks_per_bit};
static V{class}* top;
static VerilatedVcdC* vcd = nullptr;
static uint64_t now = 0;
static std::vector<uint8_t> out;

static void tick() {{
    top->{clk} = 0; top->eval(); if (vcd) vcd->dump(now++);
    top->{clk} = 1; top->eval(); if (vcd) vcd->dump(now++);
}}

static bool flush_out() {{
    size_t done = 0;
    while (done < out.size()) {{
        ssize_t n = write(1, out.data() + done, out.size() - done);
        if (n <= 0) return false;
        done += (size_t)n;
    }}
    out.clear();
    return true;
}}

int main(int argc, char** argv) {{
    VerilatedContext* ctx = new VerilatedContext;
    top = new V{class}{{ctx}};
    if (argc > 2 && strcmp(argv[1], "--vcd") == 0) {{
        ctx->traceEverOn(true);
        vcd = new VerilatedVcdC;
        top->trace(vcd, 99);
        vcd->open(argv[2]);
    }}
    top->{rx} = 1;
    {reset_on}
    for (int i = 0; i < 4; i++) tick();
    {reset_off}
    for (int i = 0; i < 4; i++) tick();
    std::deque<uint8_t> in;
    // Host -> board serializer: bits of the byte on the line, LSB first, framed.
    int send_bits = 0, send_count = 0;
    uint16_t send_frame = 0;
    // Board -> host receiver.
    int recv_state = 0, recv_count = 0, recv_bit = 0;
    uint8_t recv_shift = 0;
    int idle = 0;
    uint8_t buf[4096];
    for (;;) {{
        bool quiet = in.empty() && send_bits == 0 && recv_state == 0 && !({activity});
        idle = quiet ? idle + 1 : 0;
        if (idle > 4 * CPB) {{
            if (!flush_out()) break;
            if (vcd) vcd->flush();
            ssize_t n = read(0, buf, sizeof buf);
            if (n <= 0) break;
            in.insert(in.end(), buf, buf + n);
            idle = 0;
        }}
        if (send_bits == 0 && !in.empty()) {{
            send_frame = (uint16_t)((1u << 9) | ((unsigned)in.front() << 1));
            in.pop_front();
            send_bits = 10;
            send_count = 0;
        }}
        top->{rx} = send_bits ? (send_frame & 1) : 1;
        tick();
        if (send_bits && ++send_count == CPB) {{
            send_count = 0;
            send_frame >>= 1;
            send_bits--;
        }}
        unsigned line = top->{tx};
        if (recv_state == 0) {{
            if (!line) {{ recv_state = 1; recv_count = 0; }}
        }} else if (++recv_count == (recv_state == 1 ? CPB / 2 : CPB)) {{
            recv_count = 0;
            if (recv_state == 1) {{
                if (line) recv_state = 0; else {{ recv_state = 2; recv_bit = 0; }}
            }} else if (recv_state == 2) {{
                recv_shift = (uint8_t)((recv_shift >> 1) | (line << 7));
                if (++recv_bit == 8) recv_state = 3;
            }} else {{
                if (line) out.push_back(recv_shift);
                else fprintf(stderr, "board sim: framing error on uart_tx\n");
                recv_state = 0;
                if (out.size() >= 256 && !flush_out()) break;
            }}
        }}
    }}
    flush_out();
    if (vcd) vcd->close();
    top->final();
    delete top;
    delete ctx;
    return 0;
}}
"#
    )
}

/// Builds (or reuses from `cache`) the Verilator board simulation of a configuration.
pub fn build(c: &HwConfig, cache: &Path) -> Result<(Model, BoardBuild), String> {
    let b = simulation(c, SIM_CLKS_PER_BIT).map_err(|e| e.to_string())?;
    let model = build_files(&b, cache)?;
    Ok((model, b))
}

/// Builds a board simulation from given files (tests build deliberately broken ones).
pub fn build_files(b: &BoardBuild, cache: &Path) -> Result<Model, String> {
    let mut sources = b.files.clone();
    sources.sort();
    verilator::build_with(
        cache,
        "lpn_board",
        &sources,
        &harness(b.clks_per_bit),
        &["--trace"],
    )
}

/// Simulation stand-ins for the vendor PLLs: the output is the input clock, locked at
/// once (the design under test is everything after the PLL; the PLL's settings are
/// checked against the vendor tools' own calculators in `board`'s tests).
pub const PLL_STUBS: &str = r#"// Simulation stand-ins for SB_PLL40_PAD and EHXPLLL (flow/src/boardsim.rs).
`timescale 1ns / 1ps
/* verilator lint_off UNUSEDPARAM */
/* verilator lint_off UNUSEDSIGNAL */
module SB_PLL40_PAD #(
    parameter FEEDBACK_PATH = "SIMPLE",
    parameter [3:0] DIVR = 0,
    parameter [6:0] DIVF = 0,
    parameter [2:0] DIVQ = 0,
    parameter [2:0] FILTER_RANGE = 0
) (
    input  wire PACKAGEPIN,
    output wire PLLOUTGLOBAL,
    output wire LOCK,
    input  wire RESETB,
    input  wire BYPASS
);
    assign PLLOUTGLOBAL = PACKAGEPIN;
    assign LOCK = 1'b1;
endmodule

module EHXPLLL #(
    parameter PLLRST_ENA = "DISABLED",
    parameter INTFB_WAKE = "DISABLED",
    parameter STDBY_ENABLE = "DISABLED",
    parameter DPHASE_SOURCE = "DISABLED",
    parameter OUTDIVIDER_MUXA = "DIVA",
    parameter CLKOP_ENABLE = "ENABLED",
    parameter integer CLKI_DIV = 1,
    parameter integer CLKOP_DIV = 1,
    parameter integer CLKOP_CPHASE = 0,
    parameter integer CLKOP_FPHASE = 0,
    parameter FEEDBK_PATH = "CLKOP",
    parameter integer CLKFB_DIV = 1
) (
    input  wire RST,
    input  wire STDBY,
    input  wire CLKI,
    output wire CLKOP,
    input  wire CLKFB,
    input  wire PHASESEL0,
    input  wire PHASESEL1,
    input  wire PHASEDIR,
    input  wire PHASESTEP,
    input  wire PHASELOADREG,
    input  wire PLLWAKESYNC,
    input  wire ENCLKOP,
    output wire LOCK
);
    assign CLKOP = CLKI;
    assign LOCK = 1'b1;
endmodule
/* verilator lint_on UNUSEDSIGNAL */
/* verilator lint_on UNUSEDPARAM */
"#;

/// Builds (or reuses) the simulation of a whole board top: pins, PLL stand-in, reset
/// button, LEDs, the UART at the board's real rate (`clks_per_bit` of the PLL clock).
pub fn build_top(
    c: &HwConfig,
    board: Board,
    clock_hz: u64,
    baud: u64,
    cache: &Path,
) -> Result<(Model, BoardBuild), String> {
    let b = for_board(c, board, clock_hz, baud).map_err(|e| e.to_string())?;
    let mut sources = b.files.clone();
    sources.push(("pll_stubs.v".into(), PLL_STUBS.into()));
    sources.sort();
    let pins = board_top_pins(board);
    let model = verilator::build_with(
        cache,
        pins.top,
        &sources,
        &harness_for(&pins, b.clks_per_bit),
        &["--trace"],
    )?;
    Ok((model, b))
}
