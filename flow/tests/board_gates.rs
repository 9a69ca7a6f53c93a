//! Quality gates on the generated board: `lpn_board` (UART, FIFO, bridge, engine) is
//! `verilator --lint-only -Wall` clean for every preset and random configurations; the
//! board tops carry the PLL settings and pins the constraint files name; a reviewed
//! snapshot of the bridge.

use std::path::PathBuf;

use lpn_cycle::{preset, PRESETS};
use lpn_flow::fpga::constraints;
use lpn_flow::verilator;
use lpn_rtl::board::{for_board, simulation, Board};

fn lint(c: &lpn_cycle::HwConfig) -> Result<(), String> {
    let b = simulation(c, 417).map_err(|e| e.to_string())?;
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("board-gates")
        .join(format!("lint-{}", c.name));
    verilator::lint(&d, &b.files, "lpn_board")
}

#[test]
fn every_preset_board_is_lint_clean() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    for name in PRESETS {
        lint(&preset(name).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let mut rng = lpn_cycle::random::Rng::new(9);
    for case in 0..4 {
        let c = lpn_cycle::random::config(&mut rng, case);
        lint(&c).unwrap_or_else(|e| panic!("{:?} {} lanes: {e}", c.layer, c.lanes));
    }
}

/// Every top-level port of a board top is constrained, and every constrained name is a
/// port: a renamed port cannot silently float.
#[test]
fn board_tops_and_constraints_agree() {
    for (family, board, clock) in [
        ("ice40-up5k", Board::Icebreaker, 48_000_000),
        ("ecp5-85k", Board::Ulx3s, 100_000_000),
    ] {
        let c = preset(family).unwrap();
        let b = for_board(&c, board, clock, 115_200).unwrap();
        assert_eq!(b.top, board.top());
        assert!(
            (b.clock_hz - clock as f64).abs() < 1.0,
            "{family}: PLL at {}",
            b.clock_hz
        );
        let (_, top) = b
            .files
            .iter()
            .find(|(n, _)| n == &format!("{}.v", b.top))
            .unwrap();
        let ports: Vec<String> = top
            .lines()
            .skip_while(|l| !l.starts_with("module "))
            .take_while(|l| !l.starts_with(");"))
            .filter_map(|l| {
                let l = l.trim().trim_end_matches(',');
                (l.starts_with("input") || l.starts_with("output"))
                    .then(|| l.split_whitespace().last().unwrap().to_string())
            })
            .collect();
        let cons = constraints(board);
        let named: Vec<String> = cons
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .filter_map(|l| {
                if let Some(rest) = l.strip_prefix("set_io -nowarn ") {
                    rest.split_whitespace().next().map(String::from)
                } else if let Some(rest) = l.strip_prefix("LOCATE COMP \"") {
                    rest.split('"')
                        .next()
                        .map(|n| n.split('[').next().unwrap().to_string())
                } else {
                    None
                }
            })
            .collect();
        for p in &ports {
            assert!(named.contains(p), "{family}: port {p} has no pin");
        }
        for n in &named {
            assert!(
                ports.contains(n),
                "{family}: {n} is constrained but not a port"
            );
        }
    }
}

#[test]
fn bridge_snapshot() {
    let b = simulation(&preset("tiny").unwrap(), 8).unwrap();
    for name in ["lpn_bridge.v", "lpn_board.v", "lpn_rx_fifo.v"] {
        let (_, text) = b.files.iter().find(|(n, _)| n == name).unwrap();
        insta::assert_snapshot!(name.replace('.', "_"), text);
    }
}
