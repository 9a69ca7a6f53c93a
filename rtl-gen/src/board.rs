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
use crate::engine::{set, x};
use crate::ir::{BinOp, Expr, Lhs, Process, Stmt, UnOp};
use crate::protocol::{self, Command, Link, Status};
use crate::rtl::{Dir, Module, Sig, Ty};
use lpn_cycle::engine::Phase;

/// A name in the bridge's text (its registers and parameters are declared by name).
fn n(name: &str) -> Expr {
    Expr::name(name)
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
    let link = Link::new(c, clks_per_bit)?;
    let mut files = g.files;
    let engine_files = files.len();
    files.extend(board_files(c, &g.manifest, &link, clks_per_bit));
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

fn board_files(
    c: &HwConfig,
    manifest: &crate::engine::Manifest,
    link: &Link,
    cpb: u16,
) -> Vec<(String, String)> {
    let w = &manifest.widths;
    let clocking = vec![format!(
        "UART: {cpb} clocks per bit, 8N1; protocol version {} (docs/fpga.md).",
        protocol::VERSION
    )];
    let parts = BoardParts {
        uart_rx: uart_rx(c, cpb, &clocking),
        uart_tx: uart_tx(c, cpb, &clocking),
        rx_fifo: rx_fifo(c, &clocking),
        bridge: bridge(c, w, link, cpb, &clocking),
        engine_ports: manifest
            .ports
            .iter()
            .map(|p| (p.name.clone(), p.width))
            .collect(),
    };
    let board = board_module(c, w, &parts, &clocking);
    vec![
        ("lpn_uart_rx.v".into(), parts.uart_rx.emit()),
        ("lpn_uart_tx.v".into(), parts.uart_tx.emit()),
        ("lpn_rx_fifo.v".into(), parts.rx_fifo.emit()),
        ("lpn_bridge.v".into(), parts.bridge.emit()),
        ("lpn_board.v".into(), board.emit()),
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
    let [_, _, rx, rx_valid, rx_data, rx_active] = ports(
        &mut m,
        [
            (Dir::Input, "clk", Ty::BIT),
            (Dir::Input, "rst", Ty::BIT),
            (Dir::Input, "rx", Ty::BIT),
            (Dir::OutputReg, "rx_valid", Ty::BIT),
            (Dir::OutputReg, "rx_data", Ty::u(8)),
            (Dir::Output, "rx_active", Ty::BIT),
        ],
    );
    let per_bit = m.param("CLKS_PER_BIT", Ty::u(cw), i128::from(cpb) - 1);
    let half = m.param("HALF_BIT", Ty::u(cw), i128::from(cpb / 2) - 1);
    let zero = m.param("ZERO", Ty::u(cw), 0);
    let meta = m.reg("rx_meta", Ty::BIT);
    let sync = m.reg("rx_sync", Ty::BIT);
    let state = m.reg("rx_state", Ty::u(2));
    let count = m.reg("rx_count", Ty::u(cw));
    let bit = m.reg("rx_bit", Ty::u(3));
    let shift = m.reg("rx_shift", Ty::u(8));
    let st = |v: i128| Expr::dec(2, v);
    m.assign_expr(&rx_active, op(BinOp::Ne, &state, st(0)));
    m.comment("States: 0 idle, 1 start bit, 2 data bits, 3 stop bit.");
    let count_on = || set(&count, op(BinOp::Add, &count, Expr::bits(1, 1)));
    // At the bit's sampling point `then`, else count on.
    let at = |limit: &Sig, then: Vec<Stmt>| Stmt::If(x(&count).eq(limit), then, vec![count_on()]);
    let arms = vec![
        (
            vec![st(0)],
            vec![
                set(&count, &zero),
                Stmt::when(Expr::un(UnOp::LogicNot, &sync), vec![set(&state, st(1))]),
            ],
        ),
        (
            vec![st(1)],
            vec![at(
                &half,
                vec![
                    set(&count, &zero),
                    set(&bit, Expr::dec(3, 0)),
                    set(&state, Expr::mux(&sync, st(0), st(2))),
                ],
            )],
        ),
        (
            vec![st(2)],
            vec![at(
                &per_bit,
                vec![
                    set(&count, &zero),
                    set(
                        &shift,
                        Expr::Concat(vec![x(&sync), Expr::slice(&shift, 7, 1)]),
                    ),
                    set(&bit, op(BinOp::Add, &bit, Expr::bits(1, 1))),
                    Stmt::when(x(&bit).eq(Expr::dec(3, 7)), vec![set(&state, st(3))]),
                ],
            )],
        ),
    ];
    let stop = vec![at(
        &per_bit,
        vec![
            set(&state, st(0)),
            set(&rx_valid, &sync),
            set(&rx_data, &shift),
        ],
    )];
    m.process(Process::clocked(vec![
        set(&meta, &rx),
        set(&sync, &meta),
        set(&rx_valid, Expr::bit(false)),
        Stmt::Case(x(&state), arms, stop),
        Stmt::when(
            Expr::name("rst"),
            vec![
                set(&meta, Expr::bit(true)),
                set(&sync, Expr::bit(true)),
                set(&state, st(0)),
                set(&rx_valid, Expr::bit(false)),
            ],
        ),
    ]));
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
    let [_, _, in_valid, in_data, take, out_valid, out_data, not_empty, overflow] = ports(
        &mut m,
        [
            (Dir::Input, "clk", Ty::BIT),
            (Dir::Input, "rst", Ty::BIT),
            (Dir::Input, "in_valid", Ty::BIT),
            (Dir::Input, "in_data", Ty::u(8)),
            (Dir::Input, "take", Ty::BIT),
            (Dir::OutputReg, "out_valid", Ty::BIT),
            (Dir::OutputReg, "out_data", Ty::u(8)),
            (Dir::Output, "not_empty", Ty::BIT),
            (Dir::OutputReg, "overflow", Ty::BIT),
        ],
    );
    let mem = m.mem("fifo_mem", Ty::u(8), depth);
    let ram_valid = m.reg("ram_valid", Ty::BIT);
    let ram_data = m.reg("ram_data", Ty::u(8));
    let wr = m.reg("wr_ptr", Ty::u(aw + 1));
    let rd = m.reg("rd_ptr", Ty::u(aw + 1));
    let full = m.wire(
        "fifo_full",
        Ty::BIT,
        op(BinOp::Ne, Expr::bit_of(&wr, aw), Expr::bit_of(&rd, aw))
            .and(Expr::slice(&wr, aw - 1, 0).eq(Expr::slice(&rd, aw - 1, 0))),
    );
    m.assign_expr(&not_empty, op(BinOp::Ne, &wr, &rd));
    let not = |s: &Sig| Expr::un(UnOp::LogicNot, s);
    let pop = m.wire(
        "pop",
        Ty::BIT,
        x(&take)
            .and(&not_empty)
            .and(not(&ram_valid))
            .and(not(&out_valid)),
    );
    let low = |p: &Sig| Expr::slice(p, aw - 1, 0);
    m.process(Process::clocked(vec![
        Stmt::when(
            x(&in_valid).and(not(&full)),
            vec![Stmt::Set(
                Lhs::Word(mem.name.clone(), low(&wr)),
                x(&in_data),
            )],
        ),
        set(&ram_data, Expr::index(&mem, low(&rd))),
        set(&out_data, &ram_data),
    ]));
    let step = |p: &Sig| set(p, op(BinOp::Add, p, Expr::bits(1, 1)));
    m.process(Process::clocked(vec![
        set(&ram_valid, &pop),
        set(&out_valid, &ram_valid),
        Stmt::when(&pop, vec![step(&rd)]),
        Stmt::when(
            &in_valid,
            vec![Stmt::If(
                x(&full),
                vec![set(&overflow, Expr::bit(true))],
                vec![step(&wr)],
            )],
        ),
        Stmt::when(
            Expr::name("rst"),
            vec![
                set(&wr, Expr::int(0)),
                set(&rd, Expr::int(0)),
                set(&ram_valid, Expr::bit(false)),
                set(&out_valid, Expr::bit(false)),
                set(&overflow, Expr::bit(false)),
            ],
        ),
    ]));
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
    let [_, _, tx_valid, tx_data, tx_ready, tx] = ports(
        &mut m,
        [
            (Dir::Input, "clk", Ty::BIT),
            (Dir::Input, "rst", Ty::BIT),
            (Dir::Input, "tx_valid", Ty::BIT),
            (Dir::Input, "tx_data", Ty::u(8)),
            (Dir::Output, "tx_ready", Ty::BIT),
            (Dir::OutputReg, "tx", Ty::BIT),
        ],
    );
    let per_bit = m.param("CLKS_PER_BIT", Ty::u(cw), i128::from(cpb) - 1);
    let zero = m.param("ZERO", Ty::u(cw), 0);
    let frame = m.reg("tx_frame", Ty::u(9));
    let left = m.reg("tx_bits_left", Ty::u(4));
    let count = m.reg("tx_count", Ty::u(cw));
    let none_left = x(&left).eq(Expr::dec(4, 0));
    m.assign_expr(&tx_ready, none_left.clone());
    m.comment(
        "tx_frame holds the bits still to send after the one on the pin, idle (1) behind them.",
    );
    let one = Expr::bits(1, 1);
    m.process(Process::clocked(vec![
        Stmt::If(
            none_left,
            vec![Stmt::when(
                &tx_valid,
                vec![
                    set(&tx, Expr::bit(false)),
                    set(&frame, Expr::Concat(vec![Expr::bit(true), x(&tx_data)])),
                    set(&left, Expr::dec(4, 10)),
                    set(&count, &zero),
                ],
            )],
            vec![Stmt::If(
                x(&count).eq(&per_bit),
                vec![
                    set(&count, &zero),
                    set(&tx, Expr::bit_of(&frame, 0)),
                    set(
                        &frame,
                        Expr::Concat(vec![Expr::bit(true), Expr::slice(&frame, 8, 1)]),
                    ),
                    set(&left, op(BinOp::Sub, &left, one.clone())),
                ],
                vec![set(&count, op(BinOp::Add, &count, one))],
            )],
        ),
        Stmt::when(
            Expr::name("rst"),
            vec![set(&tx, Expr::bit(true)), set(&left, Expr::dec(4, 0))],
        ),
    ]));
    m
}

/// Declares `N` ports, in order.
fn ports<const N: usize>(m: &mut Module, list: [(Dir, &str, Ty); N]) -> [Sig; N] {
    list.map(|(d, n, t)| m.port(d, n, t))
}

/// CRC-8 of one byte as XOR equations, derived from [`protocol::crc8_byte`] (the CRC is
/// linear in `crc ^ byte`): `name = f(crc ^ data)`.
fn crc_wire(m: &mut Module, name: &str, crc: &Sig, data: &Sig) -> Sig {
    let x = m.wire(&format!("{name}_x"), Ty::u(8), op(BinOp::Xor, crc, data));
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
    m.wire(name, Ty::u(8), Expr::Concat(bits))
}

/// A `case` over `idx` returning `bytes` for `idx` = `first`, `first + 1`, ... (0
/// elsewhere), as a combinational `reg`.
fn byte_table(m: &mut Module, name: &str, idx: &Sig, first: usize, bytes: Vec<Expr>) -> Sig {
    let out = m.reg(name, Ty::u(8));
    let arms = bytes
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            (
                vec![Expr::dec(idx.ty.width, (first + i) as i128)],
                vec![set(&out, b)],
            )
        })
        .collect();
    m.process(Process::comb(vec![Stmt::Case(
        x(idx),
        arms,
        vec![set(&out, d8(0))],
    )]));
    out
}

/// The bridge's states (`localparam`s `S_*`), in their encoding's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Hunt,
    Cmd,
    Len,
    Payload,
    Crc,
    Exec,
    WriteRead,
    WriteTake,
    WriteStore,
    Start,
    Run,
    Reply,
    Send,
    Fetch,
    FetchTake,
    /// Only when the engine's host read takes more than one clock.
    FetchWait,
}

impl State {
    const ALL: [State; 16] = [
        State::Hunt,
        State::Cmd,
        State::Len,
        State::Payload,
        State::Crc,
        State::Exec,
        State::WriteRead,
        State::WriteTake,
        State::WriteStore,
        State::Start,
        State::Run,
        State::Reply,
        State::Send,
        State::Fetch,
        State::FetchTake,
        State::FetchWait,
    ];

    /// The `localparam` naming it.
    fn param(self) -> &'static str {
        match self {
            State::Hunt => "S_HUNT",
            State::Cmd => "S_CMD",
            State::Len => "S_LEN",
            State::Payload => "S_PAYLOAD",
            State::Crc => "S_CRC",
            State::Exec => "S_EXEC",
            State::WriteRead => "S_WRITE_READ",
            State::WriteTake => "S_WRITE_TAKE",
            State::WriteStore => "S_WRITE_STORE",
            State::Start => "S_START",
            State::Run => "S_RUN",
            State::Reply => "S_REPLY",
            State::Send => "S_SEND",
            State::Fetch => "S_FETCH",
            State::FetchTake => "S_FETCH_TAKE",
            State::FetchWait => "S_FETCH_WAIT",
        }
    }

    /// As an expression (its `localparam`).
    fn e(self) -> Expr {
        Expr::name(self.param())
    }
}

/// The bridge's registers.
struct Regs {
    state: Sig,
    cmd: Sig,
    len: Sig,
    idx: Sig,
    crc: Sig,
    crc_ok: Sig,
    word_ok: Sig,
    rx_word_byte: Sig,
    timer: Sig,
    p: [Sig; 5],
    buf_q: Sig,
    buf_raddr: Sig,
    word_acc: Sig,
    word_byte: Sig,
    words_left: Sig,
    addr_cur: Sig,
    reply_status: Sig,
    reply_len: Sig,
    reply_idx: Sig,
    reply_crc: Sig,
    reply_kind: Sig,
    reply_q: Sig,
    reply_last: Sig,
    have_word: Sig,
    /// Cycle counters: ACCUMULATE, SELECT, APPLY, all.
    cyc: [Sig; 4],
    fetch_wait: Option<Sig>,
}

/// The bridge's ports.
struct BridgePorts {
    rx_valid: Sig,
    rx_data: Sig,
    rx_overflow: Sig,
    tx_ready: Sig,
    host_rdata: Sig,
    busy: Sig,
    phase: Sig,
    descent: Sig,
    selected_count: Sig,
    error_seen: Sig,
}

/// What the frame's checks give the command execution: registered verdicts, and the
/// values the replies need.
struct Checks {
    crc_next: Sig,
    frame_count: Sig,
    frame_addr: Sig,
    count_bytes: Sig,
    byte_allowed: Sig,
    len_big: Sig,
    is_known: Sig,
    len_ok: Sig,
    read_ok: Sig,
    write_ok: Sig,
    start_ok: Sig,
    start_rows: Sig,
}

/// The reply side's values: the byte to send next, whether a READ word must be
/// fetched first, the CRC after the byte, and the CRC's position.
struct ReplyBytes {
    reply_byte: Sig,
    need_word: Sig,
    crc_next: Sig,
    payload_end: Sig,
}

/// `lpn_bridge`: the protocol engine between the UART and the engine's host port.
/// Built in parts: the frame receiver, the frame's checks, the command execution and
/// the reply sender, all states of one state machine.
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
    let word_bits = 8 * link.word_bytes as u32;
    let io = bridge_ports(&mut m, w, count_w);
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
    m.param("WORD_BYTES", Ty::u(8), link.word_bytes as i128);
    m.param("LANES", Ty::u(9), c.lanes as i128);
    m.param("READABLE", Ty::u(16), i128::from(link.readable));
    m.param("WRITABLE", Ty::u(16), i128::from(link.writable));
    m.param("MAX_ROWS", Ty::u(16), c.max_rows as i128);
    m.param("K", Ty::u(8), c.layer.k as i128);
    let timeout = protocol::TIMEOUT_BYTES * 10 * u64::from(cpb);
    let tw = counter_bits(timeout + 1);
    m.param("TIMEOUT", Ty::u(tw), i128::from(timeout));
    m.param("TIMER_ZERO", Ty::u(tw), 0);
    // The engine's host read latency (`StageDepths::host_read`): beyond one clock the
    // bridge waits in S_FETCH_WAIT, counting down `fetch_wait`.
    let host_read = lpn_cycle::StageDepths::of(c).host_read();
    let states = if host_read > 1 { 16 } else { 15 };
    for (i, s) in State::ALL[..states].iter().enumerate() {
        m.param(s.param(), Ty::u(4), i as i128);
    }
    let r = bridge_regs(&mut m, tw, word_bits, cyc_w, host_read);
    let buf = m.mem("frame_buf", Ty::u(8), protocol::BUFFER_BYTES);
    m.comment("reply_kind: 0 no payload, 1 INFO, 2 STATUS, 3 READ words.");
    let checks = frame_checks(&mut m, link, &r, &io);
    let reply = reply_bytes(&mut m, link, &r, &io, count_w, cyc_w);
    engine_port(&mut m, w, &r, &checks);
    // Modulo 128, idx[6:0] - 5 is idx - 5 for every buffered byte (idx 5..132).
    let buf_waddr = m.wire(
        "buf_waddr",
        Ty::u(7),
        op(BinOp::Sub, Expr::slice(&r.idx, 6, 0), Expr::dec(7, 5)),
    );
    let in_payload = x(&r.state).eq(State::Payload.e());
    let and = |a: Expr, b: Expr| Expr::bin(BinOp::LogicAnd, a, b);
    m.process(
        Process::clocked(vec![
            Stmt::when(
                and(
                    and(
                        and(in_payload, x(&io.rx_valid)),
                        op(BinOp::Ge, &r.idx, d8(5)),
                    ),
                    op(BinOp::Lt, &r.idx, n("MAX_PAYLOAD")),
                ),
                vec![Stmt::Set(
                    Lhs::Word(buf.name.clone(), x(&buf_waddr)),
                    x(&io.rx_data),
                )],
            ),
            set(&r.buf_q, Expr::index(&buf, &r.buf_raddr)),
        ])
        .commented("The frame buffer: written while receiving, read while writing words."),
    );
    let mut arms = receive_arms(&r, &io, &checks);
    arms.extend(execute_arms(&r, &io, &checks, cyc_w, word_bits));
    arms.extend(reply_arms(&r, &io, &reply, host_read));
    let default = fetch_take(&r, &io, w, word_bits);
    let cz = || Expr::dec(cyc_w, 0);
    let mut reset = vec![
        set(&r.state, State::Hunt.e()),
        set(&io.error_seen, Expr::bit(false)),
    ];
    reset.extend(r.cyc.iter().map(|q| set(q, cz())));
    m.process(Process::clocked(vec![
        Stmt::Case(x(&r.state), arms, default),
        Stmt::when(Expr::name("rst"), reset),
    ]));
    m
}

/// The bridge's ports.
fn bridge_ports(m: &mut Module, w: &Widths, count_w: u32) -> BridgePorts {
    let [_, _, rx_valid, rx_data, _, rx_overflow, tx_ready] = ports(
        m,
        [
            (Dir::Input, "clk", Ty::BIT),
            (Dir::Input, "rst", Ty::BIT),
            (Dir::Input, "rx_valid", Ty::BIT),
            (Dir::Input, "rx_data", Ty::u(8)),
            (Dir::Output, "rx_take", Ty::BIT),
            (Dir::Input, "rx_overflow", Ty::BIT),
            (Dir::Input, "tx_ready", Ty::BIT),
        ],
    );
    let [_, _, _, _, _, _, _, host_rdata] = ports(
        m,
        [
            (Dir::Output, "tx_valid", Ty::BIT),
            (Dir::Output, "tx_data", Ty::u(8)),
            (Dir::Output, "host_we", Ty::BIT),
            (Dir::Output, "host_sel", Ty::u(4)),
            (Dir::Output, "host_lane", Ty::u(w.lane)),
            (Dir::Output, "host_addr", Ty::u(w.host_addr)),
            (Dir::Output, "host_wdata", Ty::u(w.host_data)),
            (Dir::Input, "host_rdata", Ty::u(w.host_data)),
        ],
    );
    let [_, _, _, _, _, busy, phase, descent, selected_count, _, error_seen] = ports(
        m,
        [
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
        ],
    );
    BridgePorts {
        rx_valid,
        rx_data,
        rx_overflow,
        tx_ready,
        host_rdata,
        busy,
        phase,
        descent,
        selected_count,
        error_seen,
    }
}

/// The bridge's registers, declared in this order.
fn bridge_regs(m: &mut Module, tw: u32, word_bits: u32, cyc_w: u32, host_read: u32) -> Regs {
    let b8 = Ty::u(8);
    let mut reg = |n: &str, t: Ty| m.reg(n, t);
    let r = Regs {
        state: reg("state", Ty::u(4)),
        cmd: reg("cmd", b8),
        len: reg("len", b8),
        idx: reg("idx", b8),
        crc: reg("crc", b8),
        crc_ok: reg("crc_ok", Ty::BIT),
        word_ok: reg("word_ok", Ty::BIT),
        rx_word_byte: reg("rx_word_byte", b8),
        timer: reg("timer", Ty::u(tw)),
        p: ["p0", "p1", "p2", "p3", "p4"].map(|p| reg(p, b8)),
        buf_q: reg("buf_q", b8),
        buf_raddr: reg("buf_raddr", Ty::u(7)),
        word_acc: reg("word_acc", Ty::u(word_bits)),
        word_byte: reg("word_byte", b8),
        words_left: reg("words_left", b8),
        addr_cur: reg("addr_cur", Ty::u(16)),
        reply_status: reg("reply_status", b8),
        reply_len: reg("reply_len", b8),
        reply_idx: reg("reply_idx", Ty::u(9)),
        reply_crc: reg("reply_crc", b8),
        reply_kind: reg("reply_kind", Ty::u(2)),
        reply_q: reg("reply_q", b8),
        reply_last: reg("reply_last", Ty::BIT),
        have_word: reg("have_word", Ty::BIT),
        cyc: ["cyc_acc", "cyc_sel", "cyc_apply", "cyc_total"].map(|n| reg(n, Ty::u(cyc_w))),
        fetch_wait: None,
    };
    Regs {
        fetch_wait: (host_read > 1).then(|| m.reg("fetch_wait", Ty::u(2))),
        ..r
    }
}

/// The frame's checks: its CRC, range and length checks (registered, so that S_EXEC's
/// decision tree starts from registers: checks and tree together do not fit one clock
/// at 100 MHz).
fn frame_checks(m: &mut Module, link: &Link, r: &Regs, io: &BridgePorts) -> Checks {
    let crc_next = crc_wire(m, "crc_next", &r.crc, &io.rx_data);
    let [p0, p1, p2, p3, p4] = &r.p;
    let frame_count = m.wire("frame_count", Ty::u(8), p4);
    let frame_addr = m.wire("frame_addr", Ty::u(16), Expr::Concat(vec![x(p3), x(p2)]));
    let frame_end = m.wire(
        "frame_end",
        Ty::u(17),
        op(
            BinOp::Add,
            Expr::zext(&frame_addr, 16, 17),
            Expr::zext(&frame_count, 8, 17),
        ),
    );
    // Memory depths per selector (words per lane).
    let sel_depth = m.reg("sel_depth", Ty::u(17));
    let arms = link
        .depths
        .iter()
        .enumerate()
        .filter(|(_, d)| **d > 0)
        .map(|(s, d)| {
            (
                vec![d8(s as i128)],
                vec![set(&sel_depth, Expr::dec(17, *d as i128))],
            )
        })
        .collect();
    m.process(Process::comb(vec![Stmt::Case(
        x(p0),
        arms,
        vec![set(&sel_depth, Expr::dec(17, 0))],
    )]));
    // The bits byte rx_word_byte of a word of memory p0 may have set (a word wider
    // than its memory is refused, not cut).
    let allowed = m.reg("byte_allowed", Ty::u(8));
    let hex = |v: i128| Expr::Lit {
        ty: Ty::u(8),
        value: v,
        radix: crate::ir::Radix::Hex,
    };
    let arms = link
        .bits
        .iter()
        .enumerate()
        .filter(|(_, b)| **b > 0)
        .map(|(s, b)| {
            let (full, part) = (b / 8, (1u32 << (b % 8)) - 1);
            let partial = || {
                Expr::mux(
                    x(&r.rx_word_byte).eq(d8(full.into())),
                    d8(part.into()),
                    hex(0),
                )
            };
            let below = || op(BinOp::Lt, &r.rx_word_byte, d8(full.into()));
            let e = match (full, part) {
                (0, _) => partial(),
                (_, 0) => Expr::mux(below(), hex(0xff), hex(0)),
                _ => Expr::mux(below(), hex(0xff), partial()),
            };
            (vec![d8(s as i128)], vec![set(&allowed, e)])
        })
        .collect();
    m.process(Process::comb(vec![Stmt::Case(
        x(p0),
        arms,
        vec![set(&allowed, hex(0xff))],
    )]));
    // count * WORD_BYTES as shifts and adds (a constant multiplier must not take a DSP).
    let count16 = Expr::zext(&frame_count, 8, 16);
    let sum = (0..8)
        .filter(|i| link.word_bytes >> i & 1 == 1)
        .map(|i| op(BinOp::Shl, count16.clone(), Expr::int(i)))
        .reduce(|a, b| op(BinOp::Add, a, b))
        .expect("WORD_BYTES >= 1");
    let count_bytes = m.wire("count_bytes", Ty::u(16), sum);
    let range_ok = m.wire(
        "range_ok",
        Ty::BIT,
        op(BinOp::Lt, p0, d8(16))
            .and(op(BinOp::Lt, Expr::zext(p1, 8, 9), n("LANES")))
            .and(op(BinOp::Ne, &frame_count, d8(0)))
            .and(op(BinOp::Le, &frame_end, &sel_depth)),
    );
    let by_sel = |table: &str| Expr::Index {
        of: table.into(),
        at: Box::new(Expr::slice(p0, 3, 0)),
    };
    let read_ok = m.wire("read_ok", Ty::BIT, x(&range_ok).and(by_sel("READABLE")));
    let write_ok = m.wire("write_ok", Ty::BIT, x(&range_ok).and(by_sel("WRITABLE")));
    let start_rows = m.wire("start_rows", Ty::u(16), Expr::Concat(vec![x(p1), x(p0)]));
    let start_ok = m.wire(
        "start_ok",
        Ty::BIT,
        op(BinOp::Ne, &start_rows, Expr::dec(16, 0))
            .and(op(BinOp::Le, &start_rows, n("MAX_ROWS")))
            .and(op(BinOp::Ne, p2, d8(0)))
            .and(op(BinOp::Le, p2, n("K")))
            .and(op(BinOp::Lt, p3, d8(4)))
            .and(op(BinOp::Lt, p4, d8(2))),
    );
    let write_len = m.wire(
        "write_len",
        Ty::u(16),
        op(BinOp::Add, &count_bytes, Expr::dec(16, 5)),
    );
    let is = |c: Command| x(&r.cmd).eq(n(c.param()));
    let is_known = m.wire(
        "is_known",
        Ty::BIT,
        Expr::any(Command::ALL.map(is).to_vec()),
    );
    let len = &r.len;
    let len_ok = m.wire(
        "len_ok",
        Ty::BIT,
        Expr::mux(
            is(Command::Info).or(is(Command::Status)),
            x(len).eq(d8(0)),
            Expr::mux(
                is(Command::Start),
                x(len).eq(d8(5)),
                Expr::mux(
                    is(Command::Read),
                    x(len)
                        .eq(d8(5))
                        .and(op(BinOp::Le, &count_bytes, Expr::dec(16, 255))),
                    Expr::zext(len, 8, 16).eq(&write_len),
                ),
            ),
        ),
    );
    // Their inputs (cmd, len, p0..p4, word_ok) are final at least a clock before S_EXEC
    // (the CRC byte comes after the last payload byte), so in S_EXEC these hold this
    // frame's.
    let checks = [
        ("len_big", op(BinOp::Gt, len, n("MAX_PAYLOAD"))),
        ("is_known", x(&is_known)),
        ("len_ok", x(&len_ok)),
        ("read_ok", x(&read_ok)),
        ("write_ok", x(&write_ok)),
        ("start_ok", x(&start_ok)),
    ];
    let mut body = Vec::new();
    let regs = checks.map(|(name, e)| {
        let q = m.reg(&format!("{name}_q"), Ty::BIT);
        body.push(set(&q, e));
        q
    });
    m.process(Process::clocked(body));
    let [len_big, is_known, len_ok, read_ok, write_ok, start_ok] = regs;
    Checks {
        crc_next,
        frame_count,
        frame_addr,
        count_bytes,
        byte_allowed: allowed,
        len_big,
        is_known,
        len_ok,
        read_ok,
        write_ok,
        start_ok,
        start_rows,
    }
}

/// The reply's bytes: INFO and STATUS tables (indexed by the reply byte's position,
/// payload from byte 3, not by a difference: the subtraction was on the bridge's
/// longest path), the byte to send, and the CRC after it.
fn reply_bytes(
    m: &mut Module,
    link: &Link,
    r: &Regs,
    io: &BridgePorts,
    count_w: u32,
    cyc_w: u32,
) -> ReplyBytes {
    let info: Vec<Expr> = link.info.iter().map(|&b| d8(b.into())).collect();
    let info_byte = byte_table(m, "info_byte", &r.reply_idx, 3, info);
    let sc = if count_w >= 32 {
        Expr::slice(&io.selected_count, 31, 0)
    } else {
        Expr::Concat(vec![Expr::dec(32 - count_w, 0), x(&io.selected_count)])
    };
    let selected_32 = m.wire("selected_32", Ty::u(32), sc);
    let cycles_32: Vec<Sig> = r
        .cyc
        .iter()
        .map(|q| {
            if cyc_w == 32 {
                q.clone()
            } else {
                m.wire(
                    &format!("{}_32", q.name),
                    Ty::u(32),
                    Expr::Concat(vec![Expr::dec(32 - cyc_w, 0), x(q)]),
                )
            }
        })
        .collect();
    let mut status = vec![
        Expr::Concat(vec![
            Expr::dec(5, 0),
            x(&io.rx_overflow),
            x(&io.descent),
            x(&io.busy),
        ]),
        Expr::Concat(vec![Expr::dec(6, 0), x(&io.phase)]),
    ];
    for word in std::iter::once(&selected_32).chain(&cycles_32) {
        for b in 0..4 {
            status.push(Expr::slice(word, 8 * b + 7, 8 * b));
        }
    }
    assert_eq!(status.len(), protocol::STATUS_BYTES);
    let status_byte = byte_table(m, "status_byte", &r.reply_idx, 3, status);
    // The CRC's position, registered (the add and its compare in front of the byte
    // choice do not fit one clock at 100 MHz on a full device). It lags `reply_len` by
    // a clock, which only S_REPLY's first clock sees: there `reply_idx` is 0, which
    // picks the sync byte first and is below any `payload_end` (at least 3).
    let payload_end = m.reg("payload_end", Ty::u(9));
    m.process(Process::clocked(vec![set(
        &payload_end,
        op(BinOp::Add, Expr::zext(&r.reply_len, 8, 9), Expr::dec(9, 3)),
    )]));
    let reply_byte = m.reg("reply_byte", Ty::u(8));
    let at = |i: i128| x(&r.reply_idx).eq(Expr::dec(9, i));
    let kind = |k: i128| x(&r.reply_kind).eq(Expr::dec(2, k));
    let chain = [
        (at(0), n("REPLY_SYNC")),
        (at(1), x(&r.reply_status)),
        (at(2), x(&r.reply_len)),
        (x(&r.reply_idx).eq(&payload_end), x(&r.reply_crc)),
        (kind(1), x(&info_byte)),
        (kind(2), x(&status_byte)),
    ];
    let choice = chain.into_iter().rev().fold(
        vec![set(&reply_byte, Expr::slice(&r.word_acc, 7, 0))],
        |rest, (cond, byte)| vec![Stmt::If(cond, vec![set(&reply_byte, byte)], rest)],
    );
    m.process(Process::comb(choice));
    let need_word = m.wire(
        "need_word",
        Ty::BIT,
        kind(3)
            .and(op(BinOp::Ge, &r.reply_idx, Expr::dec(9, 3)))
            .and(op(BinOp::Ne, &r.reply_idx, &payload_end))
            .and(Expr::un(UnOp::LogicNot, &r.have_word)),
    );
    // The byte is chosen in S_REPLY and sent from its register in S_SEND: choosing it
    // (the INFO and STATUS tables, the CRC index) and the CRC after it do not fit one
    // clock at 100 MHz.
    let crc_next = crc_wire(m, "reply_crc_next", &r.reply_crc, &r.reply_q);
    ReplyBytes {
        reply_byte,
        need_word,
        crc_next,
        payload_end,
    }
}

/// The bridge's outputs to the UART and to the engine's host port and start.
fn engine_port(m: &mut Module, w: &Widths, r: &Regs, checks: &Checks) {
    let port = |name: &str, width: u32| Sig::named(name, Ty::u(width));
    let in_state = |s: State| x(&r.state).eq(s.e());
    let [p0, p1, p2, p3, p4] = &r.p;
    let low = |s: &Sig, bits: u32| {
        if bits >= s.ty.width {
            x(s)
        } else {
            Expr::slice(s, bits - 1, 0)
        }
    };
    let outputs = [
        ("tx_valid", 1, in_state(State::Send).and(n("tx_ready"))),
        ("tx_data", 8, x(&r.reply_q)),
        ("host_we", 1, in_state(State::WriteStore)),
        ("start", 1, in_state(State::Start)),
        ("host_sel", 4, Expr::slice(p0, 3, 0)),
        ("host_lane", w.lane, low(p1, w.lane)),
        (
            "host_addr",
            w.host_addr,
            Expr::slice(&r.addr_cur, w.host_addr - 1, 0),
        ),
        (
            "host_wdata",
            w.host_data,
            Expr::slice(&r.word_acc, w.host_data - 1, 0),
        ),
        (
            "rows",
            w.rows,
            Expr::slice(&checks.start_rows, w.rows - 1, 0),
        ),
        ("budget", w.budget, Expr::slice(p2, w.budget - 1, 0)),
        ("mode", 2, Expr::slice(p3, 1, 0)),
        ("consolidate", 1, Expr::bit_of(p4, 0)),
        (
            "activity",
            1,
            op(BinOp::Ge, &r.state, State::Exec.e()).or(Expr::un(UnOp::LogicNot, n("tx_ready"))),
        ),
        ("rx_take", 1, op(BinOp::Le, &r.state, State::Crc.e())),
    ];
    for (name, width, e) in outputs {
        m.assign_expr(&port(name, width), e);
    }
}

/// The receiving states: hunting for the sync byte, then command, length, payload
/// (parameters `p0`..`p4`, then words into the frame buffer) and CRC, each byte within
/// the timeout of the one before.
fn receive_arms(r: &Regs, io: &BridgePorts, checks: &Checks) -> Vec<(Vec<Expr>, Vec<Stmt>)> {
    let rx = || x(&io.rx_data);
    let go = |s: State| set(&r.state, s.e());
    let plus = |s: &Sig, e: Expr| op(BinOp::Add, s, e);
    let one_less = |e: Expr| op(BinOp::Sub, e, d8(1));
    let hunt = vec![
        set(&r.timer, n("TIMER_ZERO")),
        Stmt::when(
            Expr::bin(BinOp::LogicAnd, &io.rx_valid, rx().eq(n("REQUEST_SYNC"))),
            vec![set(&r.crc, d8(0)), go(State::Cmd)],
        ),
    ];
    let params: Vec<(Vec<Expr>, Vec<Stmt>)> =
        r.p.iter()
            .enumerate()
            .map(|(i, p)| (vec![d8(i as i128)], vec![set(p, rx())]))
            .collect();
    let word_byte = vec![
        Stmt::when(
            op(BinOp::Ne, rx().and(!x(&checks.byte_allowed)), d8(0)),
            vec![set(&r.word_ok, Expr::bit(false))],
        ),
        set(
            &r.rx_word_byte,
            Expr::mux(
                x(&r.rx_word_byte).eq(one_less(n("WORD_BYTES"))),
                d8(0),
                plus(&r.rx_word_byte, d8(1)),
            ),
        ),
    ];
    let payload = vec![
        Stmt::Case(x(&r.idx), params, word_byte),
        set(&r.idx, plus(&r.idx, d8(1))),
        Stmt::when(x(&r.idx).eq(one_less(x(&r.len))), vec![go(State::Crc)]),
    ];
    let in_state = |s: State| x(&r.state).eq(s.e());
    let byte = vec![
        set(&r.timer, n("TIMER_ZERO")),
        set(&r.crc, &checks.crc_next),
        Stmt::If(
            in_state(State::Cmd),
            vec![set(&r.cmd, rx()), go(State::Len)],
            vec![Stmt::If(
                in_state(State::Len),
                vec![
                    set(&r.len, rx()),
                    set(&r.idx, d8(0)),
                    set(&r.word_ok, Expr::bit(true)),
                    set(&r.rx_word_byte, d8(0)),
                    set(
                        &r.state,
                        Expr::mux(rx().eq(d8(0)), State::Crc.e(), State::Payload.e()),
                    ),
                ],
                vec![Stmt::If(
                    in_state(State::Payload),
                    payload,
                    vec![set(&r.crc_ok, rx().eq(&r.crc)), go(State::Exec)],
                )],
            )],
        ),
    ];
    let receiving = vec![Stmt::If(
        x(&io.rx_valid),
        byte,
        vec![Stmt::If(
            x(&r.timer).eq(n("TIMEOUT")),
            vec![go(State::Hunt)],
            vec![set(&r.timer, plus(&r.timer, Expr::bits(1, 1)))],
        )],
    )];
    vec![
        (vec![State::Hunt.e()], hunt),
        (
            [State::Cmd, State::Len, State::Payload, State::Crc]
                .map(State::e)
                .to_vec(),
            receiving,
        ),
    ]
}

/// S_EXEC: the frame's verdict and the command's start; the WRITE states (words from
/// the frame buffer to the host port); START and RUN (counting the phases' clocks).
fn execute_arms(
    r: &Regs,
    io: &BridgePorts,
    checks: &Checks,
    cyc_w: u32,
    word_bits: u32,
) -> Vec<(Vec<Expr>, Vec<Stmt>)> {
    let go = |s: State| set(&r.state, s.e());
    let status = |s: Status| set(&r.reply_status, n(s.param()));
    let not = |s: &Sig| Expr::un(UnOp::LogicNot, s);
    let is = |c: Command| x(&r.cmd).eq(n(c.param()));
    let reply = |len: Expr, kind: i128| {
        vec![
            status(Status::Ok),
            set(&r.reply_len, len),
            set(&r.reply_kind, Expr::dec(2, kind)),
        ]
    };
    let status_len = || d8(protocol::STATUS_BYTES as i128);
    // The verdict, first failing check first; else the command.
    let read = reply(Expr::slice(&checks.count_bytes, 7, 0), 3);
    let mut start = reply(status_len(), 2);
    start.push(go(State::Start));
    let chain: Vec<(Expr, Vec<Stmt>)> = vec![
        (not(&r.crc_ok), vec![status(Status::BadChecksum)]),
        (x(&checks.len_big), vec![status(Status::BadLength)]),
        (not(&checks.is_known), vec![status(Status::UnknownCommand)]),
        (not(&checks.len_ok), vec![status(Status::BadLength)]),
        (
            is(Command::Info),
            reply(d8(protocol::INFO_BYTES as i128), 1),
        ),
        (is(Command::Status), reply(status_len(), 2)),
        (
            is(Command::Read),
            vec![Stmt::If(
                not(&checks.read_ok),
                vec![status(Status::BadAddress)],
                read,
            )],
        ),
        (
            is(Command::Write),
            vec![Stmt::If(
                not(&checks.write_ok),
                vec![status(Status::BadAddress)],
                vec![Stmt::If(
                    not(&r.word_ok),
                    vec![status(Status::BadValue)],
                    vec![status(Status::Ok), go(State::WriteRead)],
                )],
            )],
        ),
    ];
    let otherwise = vec![Stmt::If(
        not(&checks.start_ok),
        vec![status(Status::BadValue)],
        start,
    )];
    let verdict = chain
        .into_iter()
        .rev()
        .fold(otherwise, |rest, (cond, then)| {
            vec![Stmt::If(cond, then, rest)]
        });
    let mut exec = vec![
        set(&r.reply_idx, Expr::dec(9, 0)),
        set(&r.reply_crc, d8(0)),
        set(&r.reply_len, d8(0)),
        set(&r.reply_kind, Expr::dec(2, 0)),
        set(&r.have_word, Expr::bit(false)),
        set(&r.addr_cur, &checks.frame_addr),
        set(&r.words_left, &checks.frame_count),
        set(&r.word_byte, d8(0)),
        set(&r.buf_raddr, Expr::dec(7, 0)),
        go(State::Reply),
    ];
    exec.extend(verdict);
    let last_byte = || x(&r.word_byte).eq(op(BinOp::Sub, n("WORD_BYTES"), d8(1)));
    let plus = |s: &Sig, e: Expr| op(BinOp::Add, s, e);
    let write_take = vec![
        set(
            &r.word_acc,
            Expr::Concat(vec![
                x(&r.buf_q),
                Expr::slice(&r.word_acc, word_bits - 1, 8),
            ]),
        ),
        set(&r.buf_raddr, plus(&r.buf_raddr, Expr::dec(7, 1))),
        Stmt::If(
            last_byte(),
            vec![set(&r.word_byte, d8(0)), go(State::WriteStore)],
            vec![
                set(&r.word_byte, plus(&r.word_byte, d8(1))),
                go(State::WriteRead),
            ],
        ),
    ];
    let write_store = vec![
        set(&r.addr_cur, plus(&r.addr_cur, Expr::dec(16, 1))),
        set(&r.words_left, op(BinOp::Sub, &r.words_left, d8(1))),
        set(
            &r.state,
            Expr::mux(
                x(&r.words_left).eq(d8(1)),
                State::Reply.e(),
                State::WriteRead.e(),
            ),
        ),
    ];
    let cz = || Expr::dec(cyc_w, 0);
    let c1 = || Expr::dec(cyc_w, 1);
    let mut start = r.cyc.iter().map(|q| set(q, cz())).collect::<Vec<_>>();
    start.push(go(State::Run));
    let [acc, sel, apply, total] = &r.cyc;
    let in_phase = |p: Phase, q: &Sig| {
        Stmt::when(
            x(&io.phase).eq(Expr::dec(2, crate::engine::phase_code(p))),
            vec![set(q, plus(q, c1()))],
        )
    };
    let run = vec![Stmt::If(
        x(&io.busy),
        vec![
            set(total, plus(total, c1())),
            in_phase(Phase::Accumulate, acc),
            in_phase(Phase::Select, sel),
            in_phase(Phase::Apply, apply),
        ],
        vec![go(State::Reply)],
    )];
    vec![
        (vec![State::Exec.e()], exec),
        (
            vec![State::WriteRead.e()],
            vec![
                Stmt::Comment(
                    "frame_buf[buf_raddr] reaches buf_q at the end of this cycle.".into(),
                ),
                go(State::WriteTake),
            ],
        ),
        (vec![State::WriteTake.e()], write_take),
        (vec![State::WriteStore.e()], write_store),
        (vec![State::Start.e()], start),
        (vec![State::Run.e()], run),
    ]
}

/// The reply states: S_REPLY chooses the next byte (or fetches a READ word first),
/// S_SEND sends it and ends the frame after the CRC; S_FETCH (and S_FETCH_WAIT) give
/// the engine's host read its clocks.
fn reply_arms(
    r: &Regs,
    io: &BridgePorts,
    reply: &ReplyBytes,
    host_read: u32,
) -> Vec<(Vec<Expr>, Vec<Stmt>)> {
    let go = |s: State| set(&r.state, s.e());
    let plus = |s: &Sig, e: Expr| op(BinOp::Add, s, e);
    let choose = vec![Stmt::If(
        x(&reply.need_word),
        vec![go(State::Fetch)],
        vec![
            set(&r.reply_q, &reply.reply_byte),
            set(&r.reply_last, x(&r.reply_idx).eq(&reply.payload_end)),
            go(State::Send),
        ],
    )];
    let next_word_byte = Stmt::when(
        Expr::bin(
            BinOp::LogicAnd,
            x(&r.reply_kind).eq(Expr::dec(2, 3)),
            op(BinOp::Ge, &r.reply_idx, Expr::dec(9, 3)),
        ),
        vec![
            set(&r.word_acc, op(BinOp::Shr, &r.word_acc, Expr::int(8))),
            Stmt::If(
                x(&r.word_byte).eq(op(BinOp::Sub, n("WORD_BYTES"), d8(1))),
                vec![
                    set(&r.word_byte, d8(0)),
                    set(&r.have_word, Expr::bit(false)),
                ],
                vec![set(&r.word_byte, plus(&r.word_byte, d8(1)))],
            ),
        ],
    );
    let send = vec![Stmt::when(
        &io.tx_ready,
        vec![
            set(&r.reply_idx, plus(&r.reply_idx, Expr::dec(9, 1))),
            Stmt::when(
                op(BinOp::Ne, &r.reply_idx, Expr::dec(9, 0)),
                vec![set(&r.reply_crc, &reply.crc_next)],
            ),
            go(State::Reply),
            next_word_byte,
            Stmt::when(
                &r.reply_last,
                vec![
                    set(
                        &io.error_seen,
                        op(BinOp::Ne, &r.reply_status, n(Status::Ok.param())).or(&io.rx_overflow),
                    ),
                    go(State::Hunt),
                ],
            ),
        ],
    )];
    let mut fetch = vec![Stmt::Comment(
        "The engine's read port takes (host_sel, host_lane, host_addr) now.".into(),
    )];
    let mut arms = vec![
        (vec![State::Reply.e()], choose),
        (vec![State::Send.e()], send),
    ];
    match (host_read, &r.fetch_wait) {
        (1, _) => {
            fetch.push(go(State::FetchTake));
            arms.push((vec![State::Fetch.e()], fetch));
        }
        (2..=5, Some(wait)) => {
            fetch.extend([
                set(wait, Expr::dec(2, i128::from(host_read) - 2)),
                go(State::FetchWait),
            ]);
            arms.push((vec![State::Fetch.e()], fetch));
            arms.push((
                vec![State::FetchWait.e()],
                vec![
                    set(wait, op(BinOp::Sub, wait, Expr::dec(2, 1))),
                    Stmt::when(x(wait).eq(Expr::dec(2, 0)), vec![go(State::FetchTake)]),
                ],
            ));
        }
        (n, _) => panic!("host_read = {n}: the bridge waits at most 5 clocks"),
    }
    arms
}

/// S_FETCH_TAKE (the `case`'s default): the word the engine read.
fn fetch_take(r: &Regs, io: &BridgePorts, w: &Widths, word_bits: u32) -> Vec<Stmt> {
    let word = if word_bits > w.host_data {
        Expr::Concat(vec![
            Expr::dec(word_bits - w.host_data, 0),
            x(&io.host_rdata),
        ])
    } else {
        x(&io.host_rdata)
    };
    vec![
        set(&r.word_acc, word),
        set(&r.have_word, Expr::bit(true)),
        set(&r.addr_cur, op(BinOp::Add, &r.addr_cur, Expr::dec(16, 1))),
        set(&r.state, State::Reply.e()),
    ]
}

/// `lpn_board`: reset synchroniser, UART, bridge and engine; each instance's ports
/// connect to the nets of the same names except where its `renames` say otherwise.
pub fn board_module(c: &HwConfig, w: &Widths, parts: &BoardParts, extra: &[String]) -> Module {
    let mut m = Module::new(
        "lpn_board",
        &header(
            c,
            "The engine behind the UART host bridge, with its reset synchroniser (no PLL: the board tops add it).",
            extra,
        ),
    );
    let count_w = bits_for(c.synapses() as u64 + 1);
    let [_, rst_async, uart_rx_pin, _, led_activity, led_error] = ports(
        &mut m,
        [
            (Dir::Input, "clk", Ty::BIT),
            (Dir::Input, "rst_async", Ty::BIT),
            (Dir::Input, "uart_rx", Ty::BIT),
            (Dir::Output, "uart_tx", Ty::BIT),
            (Dir::Output, "led_activity", Ty::BIT),
            (Dir::Output, "led_error", Ty::BIT),
        ],
    );
    let rst_sync = m.reg("rst_sync", Ty::u(2));
    m.process(Process::AsyncReset {
        comment: Some(
            "Reset: asserted at once, released two clean edges after rst_async falls.".into(),
        ),
        reset: rst_async.name.clone(),
        clear: vec![set(&rst_sync, Expr::bits(2, 3))],
        body: vec![set(
            &rst_sync,
            Expr::Concat(vec![Expr::bit_of(&rst_sync, 0), Expr::bit(false)]),
        )],
    });
    m.wire("rst", Ty::BIT, Expr::bit_of(&rst_sync, 1));
    let mut net = |name: &str, ty: Ty| m.net(name, ty);
    let [rx_active, fifo_valid, fifo_data, fifo_not_empty, fifo_overflow, tx_ready] = [
        ("rx_active", Ty::BIT),
        ("fifo_valid", Ty::BIT),
        ("fifo_data", Ty::u(8)),
        ("fifo_not_empty", Ty::BIT),
        ("fifo_overflow", Ty::BIT),
        ("tx_ready", Ty::BIT),
    ]
    .map(|(n, t)| net(n, t));
    let bridge_activity = net("bridge_activity", Ty::BIT);
    for (n, t) in [
        ("rx_valid", Ty::BIT),
        ("rx_data", Ty::u(8)),
        ("rx_take", Ty::BIT),
        ("tx_valid", Ty::BIT),
        ("tx_data", Ty::u(8)),
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
    ] {
        net(n, t);
    }
    m.instance_of(&parts.uart_rx, "uart_rx_i", &[("rx", x(&uart_rx_pin))]);
    m.instance_of(
        &parts.rx_fifo,
        "rx_fifo_i",
        &[
            ("in_valid", n("rx_valid")),
            ("in_data", n("rx_data")),
            ("take", n("rx_take")),
            ("out_valid", x(&fifo_valid)),
            ("out_data", x(&fifo_data)),
            ("not_empty", x(&fifo_not_empty)),
            ("overflow", x(&fifo_overflow)),
        ],
    );
    m.instance_of(&parts.uart_tx, "uart_tx_i", &[("tx", n("uart_tx"))]);
    m.instance_of(
        &parts.bridge,
        "bridge_i",
        &[
            ("rx_valid", x(&fifo_valid)),
            ("rx_data", x(&fifo_data)),
            ("rx_overflow", x(&fifo_overflow)),
            ("activity", x(&bridge_activity)),
            ("error_seen", x(&led_error)),
        ],
    );
    let engine_ports: Vec<(&str, u32)> = parts
        .engine_ports
        .iter()
        .map(|(p, w)| (p.as_str(), *w))
        .collect();
    m.instance_of_ports("lpn_engine", &engine_ports, "engine_i", &[]);
    m.comment("Lit while a frame is being received, waits in the FIFO, is executed or answered.");
    m.assign_expr(
        &led_activity,
        x(&bridge_activity)
            .or(&rx_active)
            .or(&fifo_not_empty)
            .or(&fifo_valid),
    );
    let _ = tx_ready;
    m
}

/// The modules `lpn_board` instantiates (their ports make its port maps).
pub struct BoardParts {
    /// `lpn_uart_rx`.
    pub uart_rx: Module,
    /// `lpn_rx_fifo`.
    pub rx_fifo: Module,
    /// `lpn_uart_tx`.
    pub uart_tx: Module,
    /// `lpn_bridge`.
    pub bridge: Module,
    /// The engine top's ports (name, width), in order.
    pub engine_ports: Vec<(String, u32)>,
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
