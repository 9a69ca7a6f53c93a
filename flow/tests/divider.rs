//! The gate divider on its own (`lpn_rtl::engine::divider_module`): under Verilator,
//! divisions started every K clocks (as APPLY starts them) with operands at the edges
//! (exact quotients, powers of two, divisors of 1, overflow, no valid slots) must each
//! be written Q clocks after their start with `Datapath::gate_recip`'s value, for
//! slot counts that need one, several and one unit per clock (the compact pipeline's
//! units), and for the deep pipeline's stages.

use std::path::PathBuf;

use lpn_cycle::arith::{Datapath, Saturations};
use lpn_cycle::{divider_units, preset, HwConfig, Pipeline};
use lpn_flow::verilator;
use lpn_golden::rng::Mulberry32;
use lpn_rtl::engine::divider_module;
use lpn_rtl::rtl::Module;

fn dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The `tiny` preset with K slots per output (and inputs enough for them).
fn config(k: usize, pipeline: Pipeline) -> HwConfig {
    let mut c = preset("tiny").unwrap();
    c.pipeline = pipeline;
    c.layer.k = k;
    c.layer.inputs = c.layer.inputs.max(k);
    c.validate().unwrap();
    c
}

/// One division: output, valid count, divisor (`max(mass, 1)`).
type Division = (u64, u64, u64);

/// Divisions whose operands hit the divider's edges, then random ones.
fn divisions(k: u64, divisor_bits: u32, n: usize, seed: u32) -> Vec<Division> {
    let max = (1u64 << divisor_bits) - 1;
    let mut rng = Mulberry32::new(seed);
    let mut pick = |n: u64| ((rng.next_f64() * n as f64) as u64).min(n - 1);
    (0..n)
        .map(|i| {
            let count = pick(k + 1);
            let divisor = match i % 6 {
                // An exact quotient: the remainder meets the divisor exactly.
                0 => (count.max(1) << pick(divisor_bits as u64 - 4)).clamp(1, max),
                1 => 1u64 << pick(divisor_bits as u64),
                2 => 1 + pick(16), // overflow for most counts
                3 => max - pick(4),
                _ => 1 + pick(max),
            };
            (i as u64 & 0xff, count, divisor)
        })
        .collect()
}

/// Runs the divider of `c` on `divs`, one started every `k` clocks; returns the
/// differences from the expected writes (each Q clocks after its start).
fn mismatches(c: &HwConfig, text: Option<String>, divs: &[Division], work: &str) -> usize {
    let dp = Datapath::new(c).unwrap();
    let m = divider_module(c, &dp);
    let text = text.unwrap_or_else(|| m.emit());
    let model = verilator::build(
        &dir("divider-cache"),
        "lpn_divider",
        &[("lpn_divider.v".into(), text)],
        &verilator::comb_harness(&m),
    )
    .unwrap();
    let k = c.layer.k;
    let q = c.formats.gate_recip.bits as usize;
    let clocks = divs.len() * k + q + 4;
    // Inputs per clock: clk rst start u count divisor, two lines a clock.
    let mut input = String::new();
    let mut want = vec![(0u64, 0u64, 0u64); clocks];
    for t in 0..clocks {
        let rst = u8::from(t < 2);
        let (start, d) = match (t.checked_sub(2), divs.get(t.saturating_sub(2) / k)) {
            (Some(s), Some(&d)) if s % k == k - 1 => (1, d),
            _ => (0, (0, 0, 1)),
        };
        if start == 1 {
            let mut sat = Saturations::default();
            // `gate_recip` takes the mass; a divisor of 1 stands for a mass of 0 or 1.
            let recip = dp.gate_recip(d.1 as u32, d.2 as i64, &mut sat) as u64;
            want[t + q] = (1, d.0, recip);
        }
        for clk in [0, 1] {
            input += &format!("{clk} {rst} {start} {} {} {}\n", d.0, d.1, d.2);
        }
    }
    let out = verilator::run(&model, &input, &dir(work)).unwrap();
    let got: Vec<(u64, u64, u64)> = out
        .lines()
        .skip(1)
        .step_by(2)
        .map(|l| {
            let v: Vec<u64> = l.split_whitespace().map(|x| x.parse().unwrap()).collect();
            // `done_u` and `recip` mean something only with `done`.
            if v[0] == 0 {
                (0, 0, 0)
            } else {
                (v[0], v[1], v[2])
            }
        })
        .collect();
    assert_eq!(got.len(), clocks);
    // `got[t]` is after the rising edge of clock t: a division started in clock s is
    // complete after the edge of clock s + Q - 1 and written in clock s + Q, so the
    // outputs after edge t show the write of clock t + 1.
    (0..clocks - 1).filter(|&t| got[t] != want[t + 1]).count()
}

/// The width of the module's `divisor` port (the lane's gate mass).
fn divisor_bits(m: &Module) -> u32 {
    let (_, p) = m.ports().iter().find(|(_, p)| p.name == "divisor").unwrap();
    p.ty.width
}

/// Slot counts with 20 units (K 1), 7, 3 (the presets' K 8), 2 and 1 (K 20) in the
/// compact pipeline, and the deep pipeline's stage-per-bit divider.
const CASES: [(usize, Pipeline); 6] = [
    (1, Pipeline::Compact),
    (3, Pipeline::Compact),
    (8, Pipeline::Compact),
    (16, Pipeline::Compact),
    (20, Pipeline::Compact),
    (8, Pipeline::Deep),
];

#[test]
fn the_divider_writes_every_reciprocal_q_clocks_after_its_start() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    for (k, pipeline) in CASES {
        let c = config(k, pipeline);
        let dp = Datapath::new(&c).unwrap();
        let m = divider_module(&c, &dp);
        verilator::lint(
            &dir("divider-lint"),
            &[("lpn_divider.v".into(), m.emit())],
            "lpn_divider",
        )
        .unwrap_or_else(|e| panic!("K {k}: {e}"));
        let bits = divisor_bits(&m);
        let divs = divisions(k as u64, bits, 600, 11 + k as u32);
        let bad = mismatches(&c, None, &divs, &format!("divider-k{k}"));
        assert_eq!(
            bad,
            0,
            "K {k}, {pipeline:?} ({} units): {bad} clocks differ",
            divider_units(&c)
        );
    }
}

/// Reciprocal widths whose last bit index is a power of two (9 and 17 bits: the
/// bits-left counter needs one more bit than for 8 or 16). Found by `lpn fuzz`: a 17-bit
/// `gate_recip` made generation panic.
#[test]
fn the_divider_takes_every_reciprocal_width() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    // (bits, frac, K): the reciprocal must hold 2 / min_pheromone.
    for (q, frac, k) in [(9, 1, 1), (17, 6, 8)] {
        let mut c = config(k, Pipeline::Compact);
        c.formats.gate_recip = lpn_cycle::Format::unsigned(q, frac);
        c.validate().unwrap();
        let dp = Datapath::new(&c).unwrap();
        let m = divider_module(&c, &dp);
        let divs = divisions(k as u64, divisor_bits(&m), 200, 3);
        let bad = mismatches(&c, None, &divs, &format!("divider-q{q}"));
        assert_eq!(bad, 0, "gate_recip {q} bits: {bad} clocks differ");
    }
}

/// A divider that decides a bit wrongly only when the partial remainder equals the
/// divisor (`>` for `>=`) is caught: the operands above make that case frequent.
#[test]
fn the_comparison_catches_a_wrong_quotient_bit() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    let c = config(8, Pipeline::Compact);
    let dp = Datapath::new(&c).unwrap();
    let m = divider_module(&c, &dp);
    let text = m.emit();
    let broken = text.replace("_trial >= {1'b0,", "_trial > {1'b0,");
    assert_ne!(broken, text);
    let divs = divisions(8, divisor_bits(&m), 200, 5);
    assert!(mismatches(&c, Some(broken), &divs, "divider-broken") > 0);
}
