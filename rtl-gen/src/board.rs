//! The board: the engine behind a UART host bridge, and the tops for the iCEBreaker
//! (iCE40 UP5K) and the ULX3S (ECP5) with their PLLs.
//!
//! Blocks, each built by one function into one module:
//!
//! - `lpn_uart_rx`, `lpn_uart_tx`: 8N1 UART at a fixed number of clocks per bit;
//! - `lpn_bridge`: the framed protocol of [`crate::protocol`] on the engine's host port
//!   (frame receiver with CRC and timeout, frame buffer, range checks, burst reads and
//!   writes, update start with per-phase cycle counters, replies);
//! - `lpn_board`: reset synchroniser, UART, bridge and `lpn_engine`; the module the
//!   Verilator board simulation runs;
//! - `lpn_top_icebreaker` / `lpn_top_ulx3s`: the PLL (`SB_PLL40_PAD` / `EHXPLLL`) from
//!   the board oscillator to the target clock, buttons, LEDs and pins, around
//!   `lpn_board`. Constraints: `fpga/icebreaker.pcf`, `fpga/ulx3s.lpf`.

use std::fmt::Write as _;

use lpn_cycle::format::bits_for;
use lpn_cycle::HwConfig;

use crate::engine::{generate, Widths};
use crate::ir::{BinOp, Expr};
use crate::protocol::{self, Command, Link, Status};
use crate::rtl::{Dir, Module, Sig, Ty};

/// A name in the bridge's text (its registers and parameters are declared by name).
fn n(name: &str) -> Expr {
    Expr::name(name)
}

/// `x` as an expression.
fn x(s: &Sig) -> Expr {
    Expr::from(s)
}

/// An 8-bit literal in decimal.
fn d8(v: i128) -> Expr {
    Expr::dec(8, v)
}

/// `a <op> b`.
fn op(o: BinOp, a: impl Into<Expr>, b: impl Into<Expr>) -> Expr {
    Expr::bin(o, a, b)
}

/// A board the generator has a top for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Board {
    /// 1BitSquared iCEBreaker: iCE40 UP5K (SG48), 12 MHz oscillator, FTDI UART.
    Icebreaker,
    /// Radiona ULX3S: ECP5 (85F or 25F, CABGA381), 25 MHz oscillator, FTDI UART.
    Ulx3s,
}

impl Board {
    /// Name (file stem of the top and its constraints).
    pub fn name(self) -> &'static str {
        match self {
            Board::Icebreaker => "icebreaker",
            Board::Ulx3s => "ulx3s",
        }
    }

    /// Oscillator frequency on the board, Hz.
    pub fn oscillator_hz(self) -> u64 {
        match self {
            Board::Icebreaker => 12_000_000,
            Board::Ulx3s => 25_000_000,
        }
    }

    /// Top module name.
    pub fn top(self) -> &'static str {
        match self {
            Board::Icebreaker => "lpn_top_icebreaker",
            Board::Ulx3s => "lpn_top_ulx3s",
        }
    }

    /// Constraint file name under `fpga/`.
    pub fn constraints(self) -> &'static str {
        match self {
            Board::Icebreaker => "icebreaker.pcf",
            Board::Ulx3s => "ulx3s.lpf",
        }
    }
}

/// The default UART rate, baud.
pub const DEFAULT_BAUD: u64 = 115_200;

/// Clocks per UART bit at `clock_hz` and `baud` (rounded to nearest); an error when
/// the rate cannot be made within 2% or with fewer than 8 clocks per bit.
pub fn clks_per_bit(clock_hz: u64, baud: u64) -> Result<u16, String> {
    if baud == 0 {
        return Err("the UART rate must be positive".into());
    }
    let n = (clock_hz + baud / 2) / baud;
    if n < 8 {
        return Err(format!(
            "a {baud} baud UART needs at least 8 clocks per bit; {clock_hz} Hz gives {n}"
        ));
    }
    if n > u64::from(u16::MAX) {
        return Err(format!("{baud} baud is too slow for a {clock_hz} Hz clock"));
    }
    let actual = clock_hz as f64 / n as f64;
    if (actual - baud as f64).abs() / baud as f64 > 0.02 {
        return Err(format!(
            "{baud} baud from {clock_hz} Hz is off by more than 2% ({actual:.0} baud)"
        ));
    }
    Ok(n as u16)
}

/// iCE40 PLL settings (`SB_PLL40_*`, simple feedback).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ice40Pll {
    /// Reference divider (0..=15).
    pub divr: u32,
    /// Feedback divider (0..=127).
    pub divf: u32,
    /// Output divider exponent (1..=6).
    pub divq: u32,
    /// Loop filter range.
    pub filter_range: u32,
    /// Output frequency, Hz.
    pub out_hz: f64,
}

/// The iCE40 PLL setting closest to `target_hz` from `in_hz` (PFD 10-133 MHz, VCO
/// 533-1066 MHz), the first best in (DIVR, DIVF, DIVQ) order as icepll picks it.
pub fn ice40_pll(in_hz: u64, target_hz: u64) -> Option<Ice40Pll> {
    let fin = in_hz as f64 / 1e6;
    let target = target_hz as f64 / 1e6;
    let mut best: Option<(f64, Ice40Pll)> = None;
    for divr in 0..=15u32 {
        let pfd = fin / f64::from(divr + 1);
        if !(10.0..=133.0).contains(&pfd) {
            continue;
        }
        for divf in 0..=127u32 {
            let vco = pfd * f64::from(divf + 1);
            if !(533.0..=1066.0).contains(&vco) {
                continue;
            }
            for divq in 1..=6u32 {
                let out = vco / f64::from(1u32 << divq);
                let err = (out - target).abs();
                if best.as_ref().is_none_or(|b| err < b.0) {
                    let filter_range = match pfd {
                        p if p < 17.0 => 1,
                        p if p < 26.0 => 2,
                        p if p < 44.0 => 3,
                        p if p < 66.0 => 4,
                        p if p < 101.0 => 5,
                        _ => 6,
                    };
                    best = Some((
                        err,
                        Ice40Pll {
                            divr,
                            divf,
                            divq,
                            filter_range,
                            out_hz: out * 1e6,
                        },
                    ));
                }
            }
        }
    }
    best.map(|b| b.1)
}

/// ECP5 PLL settings (`EHXPLLL`, feedback from CLKOP).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ecp5Pll {
    /// Reference divider.
    pub clki_div: u32,
    /// Feedback divider.
    pub clkfb_div: u32,
    /// Output divider.
    pub clkop_div: u32,
    /// Output coarse phase (half the output divider: a phase the feedback path
    /// compensates).
    pub clkop_cphase: u32,
    /// Output frequency, Hz.
    pub out_hz: f64,
}

/// The ECP5 PLL setting closest to `target_hz` from `in_hz` (PFD 3.125-400 MHz, VCO
/// 400-800 MHz); among equally close ones the VCO nearest 600 MHz, then the first in
/// (CLKI_DIV, CLKFB_DIV, CLKOP_DIV) order.
pub fn ecp5_pll(in_hz: u64, target_hz: u64) -> Option<Ecp5Pll> {
    let fin = in_hz as f64 / 1e6;
    let target = target_hz as f64 / 1e6;
    let mut best: Option<((f64, f64), Ecp5Pll)> = None;
    for clki_div in 1..=128u32 {
        let pfd = fin / f64::from(clki_div);
        if !(3.125..=400.0).contains(&pfd) {
            continue;
        }
        for clkfb_div in 1..=80u32 {
            let out = pfd * f64::from(clkfb_div);
            for clkop_div in 1..=128u32 {
                let vco = out * f64::from(clkop_div);
                if !(400.0..=800.0).contains(&vco) {
                    continue;
                }
                // Equal errors: the VCO nearest 600 MHz, mid-range, as ecppll picks.
                let err = ((out - target).abs(), (vco - 600.0).abs());
                if best.as_ref().is_none_or(|b| err < b.0) {
                    best = Some((
                        err,
                        Ecp5Pll {
                            clki_div,
                            clkfb_div,
                            clkop_div,
                            clkop_cphase: (clkop_div - 1) / 2,
                            out_hz: out * 1e6,
                        },
                    ));
                }
            }
        }
    }
    best.map(|b| b.1)
}

/// What a board build is made of.
#[derive(Debug, Clone)]
pub struct BoardBuild {
    /// Verilog files (name, text): the engine's, the UART, bridge and board modules,
    /// and the board top when a board was asked for.
    pub files: Vec<(String, String)>,
    /// The link a host uses to talk to it.
    pub link: Link,
    /// Top module.
    pub top: String,
    /// The clock the design runs at, Hz (the PLL output on a board).
    pub clock_hz: f64,
    /// Clocks per UART bit.
    pub clks_per_bit: u16,
    /// How many of `files` (the first ones) are the engine's.
    engine_files: usize,
}

impl BoardBuild {
    /// The files beyond the engine's (`lpn gen` writes those already).
    pub fn board_files(&self) -> &[(String, String)] {
        &self.files[self.engine_files..]
    }
}

/// The board modules for simulation: the engine, the UART and bridge, `lpn_board` on
/// top, with `clks_per_bit` clocks per UART bit (small in simulation to keep it fast).
pub fn simulation(c: &HwConfig, clks_per_bit: u16) -> lpn_cycle::Result<BoardBuild> {
    if clks_per_bit < 8 {
        return Err(lpn_cycle::Error::new(
            "the UART needs at least 8 clocks per bit",
        ));
    }
    let g = generate(c)?;
    let link = Link::of_manifest(c, &g.manifest, clks_per_bit)?;
    let mut files = g.files;
    let engine_files = files.len();
    files.extend(board_files(c, &g.manifest.widths, &link, clks_per_bit));
    Ok(BoardBuild {
        files,
        link,
        top: "lpn_board".into(),
        clock_hz: 0.0,
        clks_per_bit,
        engine_files,
    })
}

/// The build for `board` at clock `clock_hz` (the PLL's target) and `baud`.
pub fn for_board(
    c: &HwConfig,
    board: Board,
    clock_hz: u64,
    baud: u64,
) -> lpn_cycle::Result<BoardBuild> {
    let err = |m: String| lpn_cycle::Error::new(m);
    let osc = board.oscillator_hz();
    let (pll_text, out_hz) = match board {
        Board::Icebreaker => {
            let p = ice40_pll(osc, clock_hz)
                .ok_or_else(|| err(format!("no iCE40 PLL setting makes {clock_hz} Hz")))?;
            (icebreaker_top(c, &p), p.out_hz)
        }
        Board::Ulx3s => {
            let p = ecp5_pll(osc, clock_hz)
                .ok_or_else(|| err(format!("no ECP5 PLL setting makes {clock_hz} Hz")))?;
            (ulx3s_top(c, &p), p.out_hz)
        }
    };
    if (out_hz - clock_hz as f64).abs() > clock_hz as f64 * 0.005 {
        return Err(err(format!(
            "the {} PLL cannot make {clock_hz} Hz from {osc} Hz (closest: {out_hz:.0} Hz)",
            board.name()
        )));
    }
    let cpb = clks_per_bit(out_hz.round() as u64, baud).map_err(err)?;
    let mut b = simulation(c, cpb)?;
    b.files.push((format!("{}.v", board.top()), pll_text));
    b.top = board.top().to_string();
    b.clock_hz = out_hz;
    Ok(b)
}

fn header(c: &HwConfig, what: &str, extra: &[String]) -> Vec<String> {
    let mut h = crate::header(c, what);
    h.extend_from_slice(extra);
    h
}

fn board_files(c: &HwConfig, w: &Widths, link: &Link, cpb: u16) -> Vec<(String, String)> {
    let clocking = vec![format!(
        "UART: {cpb} clocks per bit, 8N1; protocol version {} (docs/fpga.md).",
        protocol::VERSION
    )];
    vec![
        ("lpn_uart_rx.v".into(), uart_rx(c, cpb, &clocking).emit()),
        ("lpn_uart_tx.v".into(), uart_tx(c, cpb, &clocking).emit()),
        ("lpn_rx_fifo.v".into(), rx_fifo(c, &clocking).emit()),
        (
            "lpn_bridge.v".into(),
            bridge(c, w, link, cpb, &clocking).emit(),
        ),
        ("lpn_board.v".into(), board_module(c, w, &clocking).emit()),
    ]
}

/// Width of a counter up to `n - 1`.
fn counter_bits(n: u64) -> u32 {
    bits_for(n.max(2))
}

/// `lpn_uart_rx`: a 2-flop synchroniser on the pin, then start bit checked at its
/// middle, eight data bits and the stop bit sampled at their middles; a byte with a bad
/// stop bit is dropped.
pub fn uart_rx(c: &HwConfig, cpb: u16, extra: &[String]) -> Module {
    let mut m = Module::new(
        "lpn_uart_rx",
        &header(c, "UART receiver (8N1) for the host bridge.", extra),
    );
    let cw = counter_bits(u64::from(cpb));
    for (d, n, t) in [
        (Dir::Input, "clk", Ty::BIT),
        (Dir::Input, "rst", Ty::BIT),
        (Dir::Input, "rx", Ty::BIT),
        (Dir::OutputReg, "rx_valid", Ty::BIT),
        (Dir::OutputReg, "rx_data", Ty::u(8)),
        (Dir::Output, "rx_active", Ty::BIT),
    ] {
        m.port(d, n, t);
    }
    m.param("CLKS_PER_BIT", Ty::u(cw), i128::from(cpb) - 1);
    m.param("HALF_BIT", Ty::u(cw), i128::from(cpb / 2) - 1);
    m.param("ZERO", Ty::u(cw), 0);
    m.reg("rx_meta", Ty::BIT);
    m.reg("rx_sync", Ty::BIT);
    m.reg("rx_state", Ty::u(2));
    m.reg("rx_count", Ty::u(cw));
    m.reg("rx_bit", Ty::u(3));
    m.reg("rx_shift", Ty::u(8));
    m.raw("assign rx_active = rx_state != 2'd0;".into());
    m.comment("States: 0 idle, 1 start bit, 2 data bits, 3 stop bit.");
    m.raw(
        r#"always @(posedge clk) begin
    rx_meta <= rx;
    rx_sync <= rx_meta;
    rx_valid <= 1'b0;
    case (rx_state)
        2'd0: begin
            rx_count <= ZERO;
            if (!rx_sync) rx_state <= 2'd1;
        end
        2'd1: begin
            if (rx_count == HALF_BIT) begin
                rx_count <= ZERO;
                rx_bit <= 3'd0;
                rx_state <= rx_sync ? 2'd0 : 2'd2;
            end else begin
                rx_count <= rx_count + 1'b1;
            end
        end
        2'd2: begin
            if (rx_count == CLKS_PER_BIT) begin
                rx_count <= ZERO;
                rx_shift <= {rx_sync, rx_shift[7:1]};
                rx_bit <= rx_bit + 1'b1;
                if (rx_bit == 3'd7) rx_state <= 2'd3;
            end else begin
                rx_count <= rx_count + 1'b1;
            end
        end
        default: begin
            if (rx_count == CLKS_PER_BIT) begin
                rx_state <= 2'd0;
                rx_valid <= rx_sync;
                rx_data <= rx_shift;
            end else begin
                rx_count <= rx_count + 1'b1;
            end
        end
    endcase
    if (rst) begin
        rx_meta <= 1'b1;
        rx_sync <= 1'b1;
        rx_state <= 2'd0;
        rx_valid <= 1'b0;
    end
end"#
            .into(),
    );
    m
}

/// `lpn_rx_fifo`: the bridge's receive FIFO ([`protocol::RX_FIFO_BYTES`] bytes, one
/// block RAM). Pushes every byte the UART delivers (a byte that finds it full is
/// dropped and sets the sticky `overflow`); pops one when `take` is high, no byte is on
/// its way out and it is not empty, delivering it as a one-cycle `out_valid` two cycles
/// later: the RAM's read register, then a register of its own (a block RAM's data comes
/// 5.8 ns after the clock on ECP5, too late for the bridge's CRC and state logic).
pub fn rx_fifo(c: &HwConfig, extra: &[String]) -> Module {
    let mut m = Module::new(
        "lpn_rx_fifo",
        &header(
            c,
            "Receive FIFO between the UART and the host bridge.",
            extra,
        ),
    );
    let depth = protocol::RX_FIFO_BYTES;
    let aw = bits_for(depth as u64);
    for (d, n, t) in [
        (Dir::Input, "clk", Ty::BIT),
        (Dir::Input, "rst", Ty::BIT),
        (Dir::Input, "in_valid", Ty::BIT),
        (Dir::Input, "in_data", Ty::u(8)),
        (Dir::Input, "take", Ty::BIT),
        (Dir::OutputReg, "out_valid", Ty::BIT),
        (Dir::OutputReg, "out_data", Ty::u(8)),
        (Dir::Output, "not_empty", Ty::BIT),
        (Dir::OutputReg, "overflow", Ty::BIT),
    ] {
        m.port(d, n, t);
    }
    m.mem("fifo_mem", Ty::u(8), depth);
    m.reg("ram_valid", Ty::BIT);
    m.reg("ram_data", Ty::u(8));
    m.reg("wr_ptr", Ty::u(aw + 1));
    m.reg("rd_ptr", Ty::u(aw + 1));
    let ptr = |name: &str| Sig::named(name, Ty::u(aw + 1));
    let (wr, rd) = (ptr("wr_ptr"), ptr("rd_ptr"));
    m.wire(
        "fifo_full",
        Ty::BIT,
        op(BinOp::Ne, Expr::bit_of(&wr, aw), Expr::bit_of(&rd, aw))
            .and(Expr::slice(&wr, aw - 1, 0).eq(Expr::slice(&rd, aw - 1, 0))),
    );
    m.assign_expr(&Sig::named("not_empty", Ty::BIT), op(BinOp::Ne, &wr, &rd));
    let not = |name: &str| Expr::un(crate::ir::UnOp::LogicNot, n(name));
    m.wire(
        "pop",
        Ty::BIT,
        n("take")
            .and(n("not_empty"))
            .and(not("ram_valid"))
            .and(not("out_valid")),
    );
    m.raw(format!(
        r#"always @(posedge clk) begin
    if (in_valid & !fifo_full) fifo_mem[wr_ptr[{a}:0]] <= in_data;
    ram_data <= fifo_mem[rd_ptr[{a}:0]];
    out_data <= ram_data;
end

always @(posedge clk) begin
    ram_valid <= pop;
    out_valid <= ram_valid;
    if (pop) rd_ptr <= rd_ptr + 1'b1;
    if (in_valid) begin
        if (fifo_full) overflow <= 1'b1;
        else wr_ptr <= wr_ptr + 1'b1;
    end
    if (rst) begin
        wr_ptr <= 0;
        rd_ptr <= 0;
        ram_valid <= 1'b0;
        out_valid <= 1'b0;
        overflow <= 1'b0;
    end
end"#,
        a = aw - 1
    ));
    m
}

/// `lpn_uart_tx`: takes a byte when `tx_ready` and `tx_valid`, shifts out start bit,
/// eight data bits (least significant first) and the stop bit.
pub fn uart_tx(c: &HwConfig, cpb: u16, extra: &[String]) -> Module {
    let mut m = Module::new(
        "lpn_uart_tx",
        &header(c, "UART transmitter (8N1) for the host bridge.", extra),
    );
    let cw = counter_bits(u64::from(cpb));
    for (d, n, t) in [
        (Dir::Input, "clk", Ty::BIT),
        (Dir::Input, "rst", Ty::BIT),
        (Dir::Input, "tx_valid", Ty::BIT),
        (Dir::Input, "tx_data", Ty::u(8)),
        (Dir::Output, "tx_ready", Ty::BIT),
        (Dir::OutputReg, "tx", Ty::BIT),
    ] {
        m.port(d, n, t);
    }
    m.param("CLKS_PER_BIT", Ty::u(cw), i128::from(cpb) - 1);
    m.param("ZERO", Ty::u(cw), 0);
    m.reg("tx_frame", Ty::u(9));
    m.reg("tx_bits_left", Ty::u(4));
    m.reg("tx_count", Ty::u(cw));
    m.raw("assign tx_ready = tx_bits_left == 4'd0;".into());
    m.comment(
        "tx_frame holds the bits still to send after the one on the pin, idle (1) behind them.",
    );
    m.raw(
        r#"always @(posedge clk) begin
    if (tx_bits_left == 4'd0) begin
        if (tx_valid) begin
            tx <= 1'b0;
            tx_frame <= {1'b1, tx_data};
            tx_bits_left <= 4'd10;
            tx_count <= ZERO;
        end
    end else if (tx_count == CLKS_PER_BIT) begin
        tx_count <= ZERO;
        tx <= tx_frame[0];
        tx_frame <= {1'b1, tx_frame[8:1]};
        tx_bits_left <= tx_bits_left - 1'b1;
    end else begin
        tx_count <= tx_count + 1'b1;
    end
    if (rst) begin
        tx <= 1'b1;
        tx_bits_left <= 4'd0;
    end
end"#
            .into(),
    );
    m
}

/// CRC-8 of one byte as XOR equations, derived from [`protocol::crc8_byte`] (the CRC is
/// linear in `crc ^ byte`): `name = f(crc ^ data)`.
fn crc_wire(m: &mut Module, name: &str, crc: &str, data: &str) {
    let x = m.wire(
        &format!("{name}_x"),
        Ty::u(8),
        op(BinOp::Xor, n(crc), n(data)),
    );
    let bits: Vec<Expr> = (0..8)
        .rev()
        .map(|i| {
            (0..8)
                .filter(|&j| protocol::crc8_byte(1 << j, 0) >> i & 1 == 1)
                .map(|j| Expr::bit_of(&x, j))
                .reduce(|a, b| op(BinOp::Xor, a, b))
                .unwrap_or_else(|| Expr::bit(false))
        })
        .collect();
    m.wire(name, Ty::u(8), Expr::Concat(bits));
}

/// A `case` over `idx` returning `bytes` for `idx` = `first`, `first + 1`, ... (0
/// elsewhere), as a combinational wire.
fn byte_table(m: &mut Module, name: &str, idx: &str, first: usize, bytes: &[String]) {
    m.reg(name, Ty::u(8));
    let mut s = format!("always @(*) begin\n    case ({idx})\n");
    for (i, b) in bytes.iter().enumerate() {
        let _ = writeln!(s, "        9'd{}: {name} = {b};", first + i);
    }
    let _ = write!(s, "        default: {name} = 8'd0;\n    endcase\nend");
    m.raw(s);
}

/// `lpn_bridge`: the protocol engine between the UART and the engine's host port.
pub fn bridge(c: &HwConfig, w: &Widths, link: &Link, cpb: u16, extra: &[String]) -> Module {
    let mut m = Module::new(
        "lpn_bridge",
        &header(
            c,
            "Host bridge: framed requests from the UART to the engine's host port, replies back (docs/fpga.md).",
            extra,
        ),
    );
    let count_w = bits_for(c.synapses() as u64 + 1);
    // Cycle counters: 32 bits in the protocol. On the UP5K, whose logic cells are
    // short, only as wide as the longest update's count (`max_rows` rows), which they
    // therefore never pass; the ECP5 builds keep the 32 their clock was measured with.
    let cyc_w = if c.family == lpn_cycle::Family::Ice40Up5k {
        bits_for(lpn_cycle::cycle_formula(c, c.max_rows).total).min(32)
    } else {
        32
    };
    let wb = link.word_bytes;
    let word_bits = 8 * wb as u32;
    for (d, n, t) in [
        (Dir::Input, "clk", Ty::BIT),
        (Dir::Input, "rst", Ty::BIT),
        (Dir::Input, "rx_valid", Ty::BIT),
        (Dir::Input, "rx_data", Ty::u(8)),
        (Dir::Output, "rx_take", Ty::BIT),
        (Dir::Input, "rx_overflow", Ty::BIT),
        (Dir::Input, "tx_ready", Ty::BIT),
        (Dir::Output, "tx_valid", Ty::BIT),
        (Dir::Output, "tx_data", Ty::u(8)),
        (Dir::Output, "host_we", Ty::BIT),
        (Dir::Output, "host_sel", Ty::u(4)),
        (Dir::Output, "host_lane", Ty::u(w.lane)),
        (Dir::Output, "host_addr", Ty::u(w.host_addr)),
        (Dir::Output, "host_wdata", Ty::u(w.host_data)),
        (Dir::Input, "host_rdata", Ty::u(w.host_data)),
        (Dir::Output, "start", Ty::BIT),
        (Dir::Output, "rows", Ty::u(w.rows)),
        (Dir::Output, "budget", Ty::u(w.budget)),
        (Dir::Output, "mode", Ty::u(2)),
        (Dir::Output, "consolidate", Ty::BIT),
        (Dir::Input, "busy", Ty::BIT),
        (Dir::Input, "phase", Ty::u(2)),
        (Dir::Input, "descent", Ty::BIT),
        (Dir::Input, "selected_count", Ty::u(count_w)),
        (Dir::Output, "activity", Ty::BIT),
        (Dir::OutputReg, "error_seen", Ty::BIT),
    ] {
        m.port(d, n, t);
    }
    // Protocol constants, from lpn_rtl::protocol.
    m.param("REQUEST_SYNC", Ty::u(8), i128::from(protocol::REQUEST_SYNC));
    m.param("REPLY_SYNC", Ty::u(8), i128::from(protocol::REPLY_SYNC));
    for cmd in Command::ALL {
        m.param(cmd.param(), Ty::u(8), cmd as i128);
    }
    for st in Status::ALL {
        m.param(st.param(), Ty::u(8), st as i128);
    }
    m.param("MAX_PAYLOAD", Ty::u(8), protocol::MAX_PAYLOAD as i128);
    m.param("WORD_BYTES", Ty::u(8), wb as i128);
    m.param("LANES", Ty::u(9), c.lanes as i128);
    m.param("READABLE", Ty::u(16), i128::from(link.readable));
    m.param("WRITABLE", Ty::u(16), i128::from(link.writable));
    m.param("MAX_ROWS", Ty::u(16), c.max_rows as i128);
    m.param("K", Ty::u(8), c.layer.k as i128);
    let timeout = protocol::TIMEOUT_BYTES * 10 * u64::from(cpb);
    let tw = counter_bits(timeout + 1);
    m.param("TIMEOUT", Ty::u(tw), i128::from(timeout));
    m.param("TIMER_ZERO", Ty::u(tw), 0);

    let states = [
        "S_HUNT",
        "S_CMD",
        "S_LEN",
        "S_PAYLOAD",
        "S_CRC",
        "S_EXEC",
        "S_WRITE_READ",
        "S_WRITE_TAKE",
        "S_WRITE_STORE",
        "S_START",
        "S_RUN",
        "S_REPLY",
        "S_SEND",
        "S_FETCH",
        "S_FETCH_TAKE",
    ];
    // The engine's host read latency (`StageDepths::host_read`): beyond one clock the
    // bridge waits in S_FETCH_WAIT, counting down `fetch_wait`.
    let host_read = lpn_cycle::StageDepths::of(c).host_read();
    let states: Vec<&str> = if host_read > 1 {
        states.iter().copied().chain(["S_FETCH_WAIT"]).collect()
    } else {
        states.to_vec()
    };
    for (i, s) in states.iter().enumerate() {
        m.param(s, Ty::u(4), i as i128);
    }
    for (n, t) in [
        ("state", Ty::u(4)),
        ("cmd", Ty::u(8)),
        ("len", Ty::u(8)),
        ("idx", Ty::u(8)),
        ("crc", Ty::u(8)),
        ("crc_ok", Ty::BIT),
        ("word_ok", Ty::BIT),
        ("rx_word_byte", Ty::u(8)),
        ("timer", Ty::u(tw)),
        ("p0", Ty::u(8)),
        ("p1", Ty::u(8)),
        ("p2", Ty::u(8)),
        ("p3", Ty::u(8)),
        ("p4", Ty::u(8)),
        ("buf_q", Ty::u(8)),
        ("buf_raddr", Ty::u(7)),
        ("word_acc", Ty::u(word_bits)),
        ("word_byte", Ty::u(8)),
        ("words_left", Ty::u(8)),
        ("addr_cur", Ty::u(16)),
        ("reply_status", Ty::u(8)),
        ("reply_len", Ty::u(8)),
        ("reply_idx", Ty::u(9)),
        ("reply_crc", Ty::u(8)),
        ("reply_kind", Ty::u(2)),
        ("reply_q", Ty::u(8)),
        ("reply_last", Ty::BIT),
        ("have_word", Ty::BIT),
        ("cyc_acc", Ty::u(cyc_w)),
        ("cyc_sel", Ty::u(cyc_w)),
        ("cyc_apply", Ty::u(cyc_w)),
        ("cyc_total", Ty::u(cyc_w)),
    ] {
        m.reg(n, t);
    }
    if host_read > 1 {
        m.reg("fetch_wait", Ty::u(2));
    }
    m.mem("frame_buf", Ty::u(8), protocol::BUFFER_BYTES);
    m.comment("reply_kind: 0 no payload, 1 INFO, 2 STATUS, 3 READ words.");

    // Receive side.
    crc_wire(&mut m, "crc_next", "crc", "rx_data");
    let frame_count = m.wire("frame_count", Ty::u(8), n("p4"));
    let frame_addr = m.wire(
        "frame_addr",
        Ty::u(16),
        Expr::Concat(vec![n("p3"), n("p2")]),
    );
    m.wire(
        "frame_end",
        Ty::u(17),
        op(
            BinOp::Add,
            Expr::zext(&frame_addr, 16, 17),
            Expr::zext(&frame_count, 8, 17),
        ),
    );
    // Memory depths per selector (words per lane).
    let mut depth_case = String::from("always @(*) begin\n    case (p0)\n");
    for (s, d) in link.depths.iter().enumerate().filter(|(_, d)| **d > 0) {
        let _ = writeln!(depth_case, "        8'd{s}: sel_depth = 17'd{d};");
    }
    depth_case.push_str("        default: sel_depth = 17'd0;\n    endcase\nend");
    m.reg("sel_depth", Ty::u(17));
    m.raw(depth_case);
    // The bits byte rx_word_byte of a word of memory p0 may have set (a word wider
    // than its memory is refused, not cut).
    let mut mask_case = String::from("always @(*) begin\n    case (p0)\n");
    for (s, b) in link.bits.iter().enumerate().filter(|(_, b)| **b > 0) {
        let (full, part) = (b / 8, (1u32 << (b % 8)) - 1);
        let partial = format!("((rx_word_byte == 8'd{full}) ? 8'd{part} : 8'h00)");
        let expr = match (full, part) {
            (0, _) => partial,
            (_, 0) => format!("(rx_word_byte < 8'd{full}) ? 8'hff : 8'h00"),
            _ => format!("(rx_word_byte < 8'd{full}) ? 8'hff : {partial}"),
        };
        let _ = writeln!(mask_case, "        8'd{s}: byte_allowed = {expr};");
    }
    mask_case.push_str("        default: byte_allowed = 8'hff;\n    endcase\nend");
    m.reg("byte_allowed", Ty::u(8));
    m.raw(mask_case);
    // count * WORD_BYTES as shifts and adds (a constant multiplier must not take a DSP).
    let count16 = Expr::zext(&frame_count, 8, 16);
    let terms: Vec<Expr> = (0..8)
        .filter(|i| wb >> i & 1 == 1)
        .map(|i| op(BinOp::Shl, count16.clone(), Expr::int(i)))
        .collect();
    let sum = terms
        .into_iter()
        .reduce(|a, b| op(BinOp::Add, a, b))
        .expect("WORD_BYTES >= 1");
    let count_bytes = m.wire("count_bytes", Ty::u(16), sum);
    let p1 = Sig::named("p1", Ty::u(8));
    m.wire(
        "range_ok",
        Ty::BIT,
        op(BinOp::Lt, n("p0"), d8(16))
            .and(op(BinOp::Lt, Expr::zext(&p1, 8, 9), n("LANES")))
            .and(op(BinOp::Ne, &frame_count, d8(0)))
            .and(op(BinOp::Le, n("frame_end"), n("sel_depth"))),
    );
    let p0 = Sig::named("p0", Ty::u(8));
    let by_sel = |table: &str| Expr::Index {
        of: table.into(),
        at: Box::new(Expr::slice(&p0, 3, 0)),
    };
    m.wire("read_ok", Ty::BIT, n("range_ok").and(by_sel("READABLE")));
    m.wire("write_ok", Ty::BIT, n("range_ok").and(by_sel("WRITABLE")));
    let start_rows = m.wire("start_rows", Ty::u(16), Expr::Concat(vec![x(&p1), x(&p0)]));
    m.wire(
        "start_ok",
        Ty::BIT,
        op(BinOp::Ne, &start_rows, Expr::dec(16, 0))
            .and(op(BinOp::Le, &start_rows, n("MAX_ROWS")))
            .and(op(BinOp::Ne, n("p2"), d8(0)))
            .and(op(BinOp::Le, n("p2"), n("K")))
            .and(op(BinOp::Lt, n("p3"), d8(4)))
            .and(op(BinOp::Lt, n("p4"), d8(2))),
    );
    let write_len = m.wire(
        "write_len",
        Ty::u(16),
        op(BinOp::Add, &count_bytes, Expr::dec(16, 5)),
    );
    let is = |c: Command| n("cmd").eq(n(c.param()));
    m.wire(
        "is_known",
        Ty::BIT,
        Expr::any(
            [
                Command::Info,
                Command::Write,
                Command::Read,
                Command::Start,
                Command::Status,
            ]
            .map(is)
            .to_vec(),
        ),
    );
    let len = Sig::named("len", Ty::u(8));
    m.wire(
        "len_ok",
        Ty::BIT,
        Expr::mux(
            is(Command::Info).or(is(Command::Status)),
            x(&len).eq(d8(0)),
            Expr::mux(
                is(Command::Start),
                x(&len).eq(d8(5)),
                Expr::mux(
                    is(Command::Read),
                    x(&len)
                        .eq(d8(5))
                        .and(op(BinOp::Le, &count_bytes, Expr::dec(16, 255))),
                    Expr::zext(&len, 8, 16).eq(&write_len),
                ),
            ),
        ),
    );
    // The frame's checks, registered, so that S_EXEC's decision tree starts from
    // registers (checks and tree together do not fit one clock at 100 MHz). Their
    // inputs (cmd, len, p0..p4, word_ok) are final at least a clock before S_EXEC (the
    // CRC byte comes after the last payload byte), so in S_EXEC these hold this frame's.
    let checks = [
        ("len_big", "len > MAX_PAYLOAD"),
        ("is_known", "is_known"),
        ("len_ok", "len_ok"),
        ("read_ok", "read_ok"),
        ("write_ok", "write_ok"),
        ("start_ok", "start_ok"),
    ];
    let mut check_regs = String::from("always @(posedge clk) begin\n");
    for (n, e) in checks {
        m.reg(&format!("{n}_q"), Ty::BIT);
        let _ = writeln!(check_regs, "    {n}_q <= {e};");
    }
    check_regs.push_str("end");
    m.raw(check_regs);
    // Reply bytes.
    let info: Vec<String> = link.info.iter().map(|b| format!("8'd{b}")).collect();
    // The tables are indexed by the reply byte's position (payload from byte 3), not by
    // a difference: the subtraction was on the bridge's longest path.
    byte_table(&mut m, "info_byte", "reply_idx", 3, &info);
    let selected_count = Sig::named("selected_count", Ty::u(count_w));
    let sc = if count_w >= 32 {
        Expr::slice(&selected_count, 31, 0)
    } else {
        Expr::Concat(vec![Expr::dec(32 - count_w, 0), x(&selected_count)])
    };
    m.wire("selected_32", Ty::u(32), sc);
    let cycles_32 = |name: &str| {
        if cyc_w == 32 {
            name.to_string()
        } else {
            format!("{name}_32")
        }
    };
    if cyc_w < 32 {
        for n in ["cyc_acc", "cyc_sel", "cyc_apply", "cyc_total"] {
            m.wire(
                &format!("{n}_32"),
                Ty::u(32),
                Expr::Concat(vec![Expr::dec(32 - cyc_w, 0), Expr::name(n)]),
            );
        }
    }
    let mut status = vec![
        "{5'd0, rx_overflow, descent, busy}".to_string(),
        "{6'd0, phase}".to_string(),
    ];
    for reg in [
        "selected_32".to_string(),
        cycles_32("cyc_acc"),
        cycles_32("cyc_sel"),
        cycles_32("cyc_apply"),
        cycles_32("cyc_total"),
    ] {
        for b in 0..4 {
            status.push(format!("{reg}[{}:{}]", 8 * b + 7, 8 * b));
        }
    }
    assert_eq!(status.len(), protocol::STATUS_BYTES);
    byte_table(&mut m, "status_byte", "reply_idx", 3, &status);
    // The CRC's position, registered (the add and its compare in front of the byte
    // choice do not fit one clock at 100 MHz on a full device). It lags `reply_len` by
    // a clock, which only S_REPLY's first clock sees: there `reply_idx` is 0, which
    // picks the sync byte first and is below any `payload_end` (at least 3).
    m.reg("payload_end", Ty::u(9));
    m.raw("always @(posedge clk) payload_end <= {1'b0, reply_len} + 9'd3;".into());
    m.reg("reply_byte", Ty::u(8));
    m.raw(
        r#"always @(*) begin
    if (reply_idx == 9'd0) reply_byte = REPLY_SYNC;
    else if (reply_idx == 9'd1) reply_byte = reply_status;
    else if (reply_idx == 9'd2) reply_byte = reply_len;
    else if (reply_idx == payload_end) reply_byte = reply_crc;
    else if (reply_kind == 2'd1) reply_byte = info_byte;
    else if (reply_kind == 2'd2) reply_byte = status_byte;
    else reply_byte = word_acc[7:0];
end"#
            .into(),
    );
    m.wire(
        "need_word",
        Ty::BIT,
        n("reply_kind")
            .eq(Expr::dec(2, 3))
            .and(op(BinOp::Ge, n("reply_idx"), Expr::dec(9, 3)))
            .and(op(BinOp::Ne, n("reply_idx"), n("payload_end")))
            .and(Expr::un(crate::ir::UnOp::LogicNot, n("have_word"))),
    );
    // The byte is chosen in S_REPLY and sent from its register in S_SEND: choosing it
    // (the INFO and STATUS tables, the CRC index) and the CRC after it do not fit one
    // clock at 100 MHz.
    crc_wire(&mut m, "reply_crc_next", "reply_crc", "reply_q");
    m.raw("assign tx_valid = (state == S_SEND) & tx_ready;".into());
    m.raw("assign tx_data = reply_q;".into());
    m.raw("assign host_we = state == S_WRITE_STORE;".into());
    m.raw("assign start = state == S_START;".into());
    m.raw("assign host_sel = p0[3:0];".into());
    m.raw(format!(
        "assign host_lane = {};",
        if w.lane >= 8 {
            "p1".to_string()
        } else {
            format!("p1[{}:0]", w.lane - 1)
        }
    ));
    m.raw(format!(
        "assign host_addr = addr_cur[{}:0];",
        w.host_addr - 1
    ));
    m.raw(format!(
        "assign host_wdata = word_acc[{}:0];",
        w.host_data - 1
    ));
    m.raw(format!("assign rows = start_rows[{}:0];", w.rows - 1));
    m.raw(format!("assign budget = p2[{}:0];", w.budget - 1));
    m.raw("assign mode = p3[1:0];".into());
    m.raw("assign consolidate = p4[0];".into());
    m.raw("assign activity = (state >= S_EXEC) | !tx_ready;".into());
    m.raw("assign rx_take = state <= S_CRC;".into());
    // Modulo 128, idx[6:0] - 5 is idx - 5 for every buffered byte (idx 5..132).
    m.wire(
        "buf_waddr",
        Ty::u(7),
        op(
            BinOp::Sub,
            Expr::slice(&Sig::named("idx", Ty::u(8)), 6, 0),
            Expr::dec(7, 5),
        ),
    );
    let host_take = if word_bits > w.host_data {
        format!("{{{}'d0, host_rdata}}", word_bits - w.host_data)
    } else {
        "host_rdata".to_string()
    };
    let fetch = match host_read {
        1 => "            state <= S_FETCH_TAKE;\n".to_string(),
        2..=5 => format!(
            "            fetch_wait <= 2'd{};\n            state <= S_FETCH_WAIT;\n        end\n        S_FETCH_WAIT: begin\n            fetch_wait <= fetch_wait - 2'd1;\n            if (fetch_wait == 2'd0) state <= S_FETCH_TAKE;\n",
            host_read - 2
        ),
        n => panic!("host_read = {n}: the bridge waits at most 5 clocks"),
    };
    let mut fsm = String::new();
    let _ = write!(
        fsm,
        r#"// The frame buffer: written while receiving, read while writing words.
always @(posedge clk) begin
    if (state == S_PAYLOAD && rx_valid && idx >= 8'd5 && idx < MAX_PAYLOAD)
        frame_buf[buf_waddr] <= rx_data;
    buf_q <= frame_buf[buf_raddr];
end

always @(posedge clk) begin
    case (state)
        S_HUNT: begin
            timer <= TIMER_ZERO;
            if (rx_valid && rx_data == REQUEST_SYNC) begin
                crc <= 8'd0;
                state <= S_CMD;
            end
        end
        S_CMD, S_LEN, S_PAYLOAD, S_CRC: begin
            if (rx_valid) begin
                timer <= TIMER_ZERO;
                crc <= crc_next;
                if (state == S_CMD) begin
                    cmd <= rx_data;
                    state <= S_LEN;
                end else if (state == S_LEN) begin
                    len <= rx_data;
                    idx <= 8'd0;
                    word_ok <= 1'b1;
                    rx_word_byte <= 8'd0;
                    state <= (rx_data == 8'd0) ? S_CRC : S_PAYLOAD;
                end else if (state == S_PAYLOAD) begin
                    case (idx)
                        8'd0: p0 <= rx_data;
                        8'd1: p1 <= rx_data;
                        8'd2: p2 <= rx_data;
                        8'd3: p3 <= rx_data;
                        8'd4: p4 <= rx_data;
                        default: begin
                            if ((rx_data & ~byte_allowed) != 8'd0) word_ok <= 1'b0;
                            rx_word_byte <= (rx_word_byte == WORD_BYTES - 8'd1) ? 8'd0 : rx_word_byte + 8'd1;
                        end
                    endcase
                    idx <= idx + 8'd1;
                    if (idx == len - 8'd1) state <= S_CRC;
                end else begin
                    crc_ok <= rx_data == crc;
                    state <= S_EXEC;
                end
            end else if (timer == TIMEOUT) begin
                state <= S_HUNT;
            end else begin
                timer <= timer + 1'b1;
            end
        end
        S_EXEC: begin
            reply_idx <= 9'd0;
            reply_crc <= 8'd0;
            reply_len <= 8'd0;
            reply_kind <= 2'd0;
            have_word <= 1'b0;
            addr_cur <= frame_addr;
            words_left <= frame_count;
            word_byte <= 8'd0;
            buf_raddr <= 7'd0;
            state <= S_REPLY;
            if (!crc_ok) reply_status <= ST_BAD_CHECKSUM;
            else if (len_big_q) reply_status <= ST_BAD_LENGTH;
            else if (!is_known_q) reply_status <= ST_UNKNOWN_COMMAND;
            else if (!len_ok_q) reply_status <= ST_BAD_LENGTH;
            else if (cmd == CMD_INFO) begin
                reply_status <= ST_OK;
                reply_len <= 8'd{info_len};
                reply_kind <= 2'd1;
            end else if (cmd == CMD_STATUS) begin
                reply_status <= ST_OK;
                reply_len <= 8'd{status_len};
                reply_kind <= 2'd2;
            end else if (cmd == CMD_READ) begin
                if (!read_ok_q) reply_status <= ST_BAD_ADDRESS;
                else begin
                    reply_status <= ST_OK;
                    reply_len <= count_bytes[7:0];
                    reply_kind <= 2'd3;
                end
            end else if (cmd == CMD_WRITE) begin
                if (!write_ok_q) reply_status <= ST_BAD_ADDRESS;
                else if (!word_ok) reply_status <= ST_BAD_VALUE;
                else begin
                    reply_status <= ST_OK;
                    state <= S_WRITE_READ;
                end
            end else begin
                if (!start_ok_q) reply_status <= ST_BAD_VALUE;
                else begin
                    reply_status <= ST_OK;
                    reply_len <= 8'd{status_len};
                    reply_kind <= 2'd2;
                    state <= S_START;
                end
            end
        end
        S_WRITE_READ: begin
            // frame_buf[buf_raddr] reaches buf_q at the end of this cycle.
            state <= S_WRITE_TAKE;
        end
        S_WRITE_TAKE: begin
            word_acc <= {{buf_q, word_acc[{wtop}:8]}};
            buf_raddr <= buf_raddr + 7'd1;
            if (word_byte == WORD_BYTES - 8'd1) begin
                word_byte <= 8'd0;
                state <= S_WRITE_STORE;
            end else begin
                word_byte <= word_byte + 8'd1;
                state <= S_WRITE_READ;
            end
        end
        S_WRITE_STORE: begin
            addr_cur <= addr_cur + 16'd1;
            words_left <= words_left - 8'd1;
            state <= (words_left == 8'd1) ? S_REPLY : S_WRITE_READ;
        end
        S_START: begin
            cyc_acc <= {cz};
            cyc_sel <= {cz};
            cyc_apply <= {cz};
            cyc_total <= {cz};
            state <= S_RUN;
        end
        S_RUN: begin
            if (busy) begin
                cyc_total <= cyc_total + {c1};
                if (phase == 2'd1) cyc_acc <= cyc_acc + {c1};
                if (phase == 2'd2) cyc_sel <= cyc_sel + {c1};
                if (phase == 2'd3) cyc_apply <= cyc_apply + {c1};
            end else begin
                state <= S_REPLY;
            end
        end
        S_REPLY: begin
            if (need_word) begin
                state <= S_FETCH;
            end else begin
                reply_q <= reply_byte;
                reply_last <= reply_idx == payload_end;
                state <= S_SEND;
            end
        end
        S_SEND: begin
            if (tx_ready) begin
                reply_idx <= reply_idx + 9'd1;
                if (reply_idx != 9'd0) reply_crc <= reply_crc_next;
                state <= S_REPLY;
                if (reply_kind == 2'd3 && reply_idx >= 9'd3) begin
                    word_acc <= word_acc >> 8;
                    if (word_byte == WORD_BYTES - 8'd1) begin
                        word_byte <= 8'd0;
                        have_word <= 1'b0;
                    end else begin
                        word_byte <= word_byte + 8'd1;
                    end
                end
                if (reply_last) begin
                    error_seen <= (reply_status != ST_OK) | rx_overflow;
                    state <= S_HUNT;
                end
            end
        end
        S_FETCH: begin
            // The engine's read port takes (host_sel, host_lane, host_addr) now.
{fetch}        end
        default: begin
            word_acc <= {host_take};
            have_word <= 1'b1;
            addr_cur <= addr_cur + 16'd1;
            state <= S_REPLY;
        end
    endcase
    if (rst) begin
        state <= S_HUNT;
        error_seen <= 1'b0;
        cyc_acc <= {cz};
        cyc_sel <= {cz};
        cyc_apply <= {cz};
        cyc_total <= {cz};
    end
end"#,
        info_len = protocol::INFO_BYTES,
        status_len = protocol::STATUS_BYTES,
        cz = format!("{cyc_w}'d0"),
        c1 = format!("{cyc_w}'d1"),
        wtop = word_bits - 1,
        host_take = host_take,
        fetch = fetch,
    );
    m.raw(fsm);
    m
}

/// `lpn_board`: reset synchroniser, UART, bridge and engine.
pub fn board_module(c: &HwConfig, w: &Widths, extra: &[String]) -> Module {
    let mut m = Module::new(
        "lpn_board",
        &header(
            c,
            "The engine behind the UART host bridge, with its reset synchroniser (no PLL: the board tops add it).",
            extra,
        ),
    );
    let count_w = bits_for(c.synapses() as u64 + 1);
    for (d, n, t) in [
        (Dir::Input, "clk", Ty::BIT),
        (Dir::Input, "rst_async", Ty::BIT),
        (Dir::Input, "uart_rx", Ty::BIT),
        (Dir::Output, "uart_tx", Ty::BIT),
        (Dir::Output, "led_activity", Ty::BIT),
        (Dir::Output, "led_error", Ty::BIT),
    ] {
        m.port(d, n, t);
    }
    m.reg("rst_sync", Ty::u(2));
    m.comment("Reset: asserted at once, released two clean edges after rst_async falls.");
    m.raw(
        "always @(posedge clk or posedge rst_async) begin\n    if (rst_async) rst_sync <= 2'b11;\n    else rst_sync <= {rst_sync[0], 1'b0};\nend"
            .into(),
    );
    m.wire(
        "rst",
        Ty::BIT,
        Expr::bit_of(&Sig::named("rst_sync", Ty::u(2)), 1),
    );
    for (n, t) in [
        ("rx_valid", Ty::BIT),
        ("rx_data", Ty::u(8)),
        ("rx_active", Ty::BIT),
        ("fifo_valid", Ty::BIT),
        ("fifo_data", Ty::u(8)),
        ("fifo_not_empty", Ty::BIT),
        ("fifo_overflow", Ty::BIT),
        ("rx_take", Ty::BIT),
        ("tx_valid", Ty::BIT),
        ("tx_data", Ty::u(8)),
        ("tx_ready", Ty::BIT),
        ("host_we", Ty::BIT),
        ("host_sel", Ty::u(4)),
        ("host_lane", Ty::u(w.lane)),
        ("host_addr", Ty::u(w.host_addr)),
        ("host_wdata", Ty::u(w.host_data)),
        ("host_rdata", Ty::u(w.host_data)),
        ("start", Ty::BIT),
        ("rows", Ty::u(w.rows)),
        ("budget", Ty::u(w.budget)),
        ("mode", Ty::u(2)),
        ("consolidate", Ty::BIT),
        ("busy", Ty::BIT),
        ("phase", Ty::u(2)),
        ("descent", Ty::BIT),
        ("selected_count", Ty::u(count_w)),
        ("bridge_activity", Ty::BIT),
    ] {
        m.net(n, t);
    }
    m.raw(
        r#"lpn_uart_rx uart_rx_i (
    .clk(clk), .rst(rst), .rx(uart_rx),
    .rx_valid(rx_valid), .rx_data(rx_data), .rx_active(rx_active)
);
lpn_rx_fifo rx_fifo_i (
    .clk(clk), .rst(rst), .in_valid(rx_valid), .in_data(rx_data), .take(rx_take),
    .out_valid(fifo_valid), .out_data(fifo_data), .not_empty(fifo_not_empty),
    .overflow(fifo_overflow)
);
lpn_uart_tx uart_tx_i (
    .clk(clk), .rst(rst), .tx_valid(tx_valid), .tx_data(tx_data),
    .tx_ready(tx_ready), .tx(uart_tx)
);
lpn_bridge bridge_i (
    .clk(clk), .rst(rst),
    .rx_valid(fifo_valid), .rx_data(fifo_data), .rx_take(rx_take),
    .rx_overflow(fifo_overflow), .tx_ready(tx_ready),
    .tx_valid(tx_valid), .tx_data(tx_data),
    .host_we(host_we), .host_sel(host_sel), .host_lane(host_lane), .host_addr(host_addr),
    .host_wdata(host_wdata), .host_rdata(host_rdata),
    .start(start), .rows(rows), .budget(budget), .mode(mode), .consolidate(consolidate),
    .busy(busy), .phase(phase), .descent(descent), .selected_count(selected_count),
    .activity(bridge_activity), .error_seen(led_error)
);
lpn_engine engine_i (
    .clk(clk), .rst(rst), .start(start), .rows(rows), .budget(budget), .mode(mode),
    .consolidate(consolidate), .host_we(host_we), .host_sel(host_sel),
    .host_lane(host_lane), .host_addr(host_addr), .host_wdata(host_wdata),
    .host_rdata(host_rdata), .busy(busy), .phase(phase), .descent(descent),
    .selected_count(selected_count)
);
// Lit while a frame is being received, waits in the FIFO, is executed or answered.
assign led_activity = bridge_activity | rx_active | fifo_not_empty | fifo_valid;"#
            .into(),
    );
    m
}

fn icebreaker_top(c: &HwConfig, p: &Ice40Pll) -> String {
    let mut s = crate::comment_block(&header(
        c,
        "iCEBreaker top: SB_PLL40_PAD from the 12 MHz oscillator, lpn_board, pins of fpga/icebreaker.pcf.",
        &[format!(
            "PLL: DIVR {} DIVF {} DIVQ {} FILTER_RANGE {} -> {:.3} MHz.",
            p.divr,
            p.divf,
            p.divq,
            p.filter_range,
            p.out_hz / 1e6
        )],
    ));
    s += crate::TIMESCALE;
    let _ = write!(
        s,
        r#"`default_nettype none
module lpn_top_icebreaker (
    input  wire CLK,
    input  wire BTN_N,
    input  wire RX,
    output wire TX,
    output wire LEDR_N,
    output wire LEDG_N
);
    wire clk;
    wire pll_locked;
    SB_PLL40_PAD #(
        .FEEDBACK_PATH("SIMPLE"),
        .DIVR(4'd{divr}),
        .DIVF(7'd{divf}),
        .DIVQ(3'd{divq}),
        .FILTER_RANGE(3'd{fr})
    ) pll_i (
        .PACKAGEPIN(CLK),
        .PLLOUTGLOBAL(clk),
        .LOCK(pll_locked),
        .RESETB(1'b1),
        .BYPASS(1'b0)
    );
    wire led_activity;
    wire led_error;
    lpn_board board_i (
        .clk(clk),
        .rst_async(!pll_locked || !BTN_N),
        .uart_rx(RX),
        .uart_tx(TX),
        .led_activity(led_activity),
        .led_error(led_error)
    );
    assign LEDG_N = !led_activity;
    assign LEDR_N = !led_error;
endmodule
`default_nettype wire
"#,
        divr = p.divr,
        divf = p.divf,
        divq = p.divq,
        fr = p.filter_range
    );
    s
}

fn ulx3s_top(c: &HwConfig, p: &Ecp5Pll) -> String {
    let mut s = crate::comment_block(&header(
        c,
        "ULX3S top: EHXPLLL from the 25 MHz oscillator, lpn_board, pins of fpga/ulx3s.lpf.",
        &[format!(
            "PLL: CLKI_DIV {} CLKFB_DIV {} CLKOP_DIV {} -> {:.3} MHz.",
            p.clki_div,
            p.clkfb_div,
            p.clkop_div,
            p.out_hz / 1e6
        )],
    ));
    s += crate::TIMESCALE;
    let _ = write!(
        s,
        r#"`default_nettype none
module lpn_top_ulx3s (
    input  wire       clk_25mhz,
    input  wire [6:0] btn,
    input  wire       ftdi_txd,
    output wire       ftdi_rxd,
    output wire [7:0] led,
    output wire       wifi_gpio0
);
    wire clk;
    wire pll_locked;
    (* FREQUENCY_PIN_CLKI="25" *)
    (* FREQUENCY_PIN_CLKOP="{fout}" *)
    EHXPLLL #(
        .PLLRST_ENA("DISABLED"),
        .INTFB_WAKE("DISABLED"),
        .STDBY_ENABLE("DISABLED"),
        .DPHASE_SOURCE("DISABLED"),
        .OUTDIVIDER_MUXA("DIVA"),
        .CLKOP_ENABLE("ENABLED"),
        .CLKI_DIV({clki}),
        .CLKOP_DIV({clkop}),
        .CLKOP_CPHASE({cphase}),
        .CLKOP_FPHASE(0),
        .FEEDBK_PATH("CLKOP"),
        .CLKFB_DIV({clkfb})
    ) pll_i (
        .RST(1'b0),
        .STDBY(1'b0),
        .CLKI(clk_25mhz),
        .CLKOP(clk),
        .CLKFB(clk),
        .PHASESEL0(1'b0),
        .PHASESEL1(1'b0),
        .PHASEDIR(1'b1),
        .PHASESTEP(1'b1),
        .PHASELOADREG(1'b1),
        .PLLWAKESYNC(1'b0),
        .ENCLKOP(1'b0),
        .LOCK(pll_locked)
    );
    wire led_activity;
    wire led_error;
    // btn[1] (FIRE1) resets the design; btn[0] is PWR and stays with the power logic.
    lpn_board board_i (
        .clk(clk),
        .rst_async(!pll_locked || btn[1]),
        .uart_rx(ftdi_txd),
        .uart_tx(ftdi_rxd),
        .led_activity(led_activity),
        .led_error(led_error)
    );
    // Keeps the ESP32 from resetting the FPGA through its GPIO0.
    assign wifi_gpio0 = 1'b1;
    assign led = {{pll_locked, 5'd0, led_error, led_activity}};
    wire unused_buttons = &{{1'b0, btn[6:2], btn[0]}};
endmodule
`default_nettype wire
"#,
        fout = (p.out_hz / 1e6).round(),
        clki = p.clki_div,
        clkop = p.clkop_div,
        cphase = p.clkop_cphase,
        clkfb = p.clkfb_div
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plls_match_the_vendor_tools_choices() {
        // icepll -i 12 -o 48 / -o 36 / -o 72 and ecppll -i 25 -o 100 / -o 50 / -o 125.
        let p = ice40_pll(12_000_000, 48_000_000).unwrap();
        assert_eq!((p.divr, p.divf, p.divq, p.filter_range), (0, 63, 4, 1));
        let p = ice40_pll(12_000_000, 36_000_000).unwrap();
        assert_eq!((p.divr, p.divf, p.divq), (0, 47, 4));
        let p = ice40_pll(12_000_000, 72_000_000).unwrap();
        assert_eq!((p.divr, p.divf, p.divq), (0, 47, 3));
        let p = ecp5_pll(25_000_000, 100_000_000).unwrap();
        assert_eq!((p.clki_div, p.clkfb_div, p.clkop_div), (1, 4, 6));
        let p = ecp5_pll(25_000_000, 50_000_000).unwrap();
        assert_eq!((p.clki_div, p.clkfb_div, p.clkop_div), (1, 2, 12));
        let p = ecp5_pll(25_000_000, 125_000_000).unwrap();
        assert_eq!((p.clki_div, p.clkfb_div, p.clkop_div), (1, 5, 5));
    }

    #[test]
    fn uart_rates_are_checked() {
        assert_eq!(clks_per_bit(48_000_000, 115_200), Ok(417));
        assert_eq!(clks_per_bit(100_000_000, 1_000_000), Ok(100));
        assert!(clks_per_bit(12_000_000, 3_000_000).is_err());
        assert!(clks_per_bit(48_000_000, 0).is_err());
    }
}
