//! A deep-pipeline memory on its own (`lpn_rtl::engine::memory_module`): under Verilator
//! against a memory with Verilog's semantics (a read returns the word before this
//! clock's write, the latest write of an earlier clock otherwise), on traffic that keeps
//! reading what was just written; and through Yosys for ECP5, where every block must be
//! one block RAM with nothing added around it.

use std::path::PathBuf;

use lpn_cycle::Family;
use lpn_flow::verilator;
use lpn_golden::rng::Mulberry32;
use lpn_rtl::engine::memory_module;
use lpn_rtl::rtl::Module;

fn dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// One clock's inputs.
#[derive(Clone, Copy)]
struct Clock {
    writes: [(bool, u64, u64); 2],
    ra: u64,
}

/// Random traffic over a handful of addresses (both ends of every bank and their
/// neighbours), so that reads of the word written one or two clocks before, and of the
/// word written in the same clock, are frequent.
fn traffic(depth: usize, bank: usize, width: u32, clocks: usize, seed: u32) -> Vec<Clock> {
    let mut hot = vec![0, 1, depth as u64 - 1];
    for b in (bank..depth).step_by(bank) {
        hot.extend([b as u64 - 1, b as u64, b as u64 + 1]);
    }
    hot.retain(|&a| a < depth as u64);
    let mut rng = Mulberry32::new(seed);
    let mut pick = |n: usize| ((rng.next_f64() * n as f64) as usize).min(n - 1);
    let mask = (1u64 << width) - 1;
    (0..clocks)
        .map(|_| {
            let mut w = [(false, 0, 0); 2];
            for x in &mut w {
                *x = (
                    pick(2) == 0,
                    hot[pick(hot.len())],
                    ((pick(1 << 16) as u64) << 16 | pick(1 << 16) as u64) & mask,
                );
            }
            Clock {
                writes: w,
                ra: hot[pick(hot.len())],
            }
        })
        .collect()
}

/// What `rd` must show after each clock: the word read `after + 1` clocks before
/// (`None` before the first read arrives).
fn expected(depth: usize, after: u32, clocks: &[Clock]) -> Vec<Option<u64>> {
    let mut mem = vec![0u64; depth];
    let mut reads = Vec::new();
    for c in clocks {
        reads.push(mem[c.ra as usize]);
        if let Some(&(_, a, d)) = c.writes.iter().find(|w| w.0) {
            mem[a as usize] = d;
        }
    }
    (0..clocks.len())
        .map(|j| j.checked_sub(after as usize + 1).map(|i| reads[i]))
        .collect()
}

/// Runs module `m` (or `text`, Verilog with its ports) on `clocks`; returns `rd` after
/// each rising edge (the harness sets `clk` from its input: two lines per clock).
fn simulate(m: &Module, text: String, clocks: &[Clock], work: &str) -> Vec<u64> {
    let model = verilator::build(
        &dir("memory-cache"),
        "lpn_memory",
        &[("lpn_memory.v".into(), text)],
        &verilator::comb_harness(m),
    )
    .unwrap();
    let mut input = String::new();
    for c in clocks {
        for clk in [0, 1] {
            let [(e0, a0, d0), (e1, a1, d1)] = c.writes;
            input += &format!(
                "{clk} {} {a0} {d0} {} {a1} {d1} {}\n",
                e0 as u8, e1 as u8, c.ra
            );
        }
    }
    let out = verilator::run(&model, &input, &dir(work)).unwrap();
    out.lines()
        .skip(1)
        .step_by(2)
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

/// Memories of one and of several blocks (side by side, stacked in depth) on both
/// families, with one and two registers behind each block.
const SHAPES: [(Family, usize, u32, u32); 5] = [
    (Family::Ecp5_85k, 32768, 1, 2), // two 16K x 1 banks
    (Family::Ecp5_85k, 3000, 20, 2), // 2K x 9: two banks of three slices
    (Family::Ecp5_85k, 1024, 36, 1),
    (Family::Ice40Up5k, 700, 5, 2),
    (Family::Ice40Up5k, 256, 16, 1),
];

fn bank_of(family: Family, depth: usize, width: u32) -> usize {
    lpn_cycle::config::block_shape(family, depth, width).0
}

fn mismatches(text: Option<String>, shape: (Family, usize, u32, u32), seed: u32) -> usize {
    let (family, depth, width, after) = shape;
    let m = memory_module(family, depth, width, after);
    let clocks = traffic(depth, bank_of(family, depth, width), width, 3000, seed);
    let want = expected(depth, after, &clocks);
    let text = text.unwrap_or_else(|| m.emit());
    let got = simulate(&m, text, &clocks, &format!("memory-{depth}x{width}-{seed}"));
    assert_eq!(got.len(), clocks.len());
    got.iter()
        .zip(&want)
        .filter(|(g, w)| w.is_some_and(|w| w != **g))
        .count()
}

#[test]
fn deep_memories_read_every_earlier_write() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    for (i, &shape) in SHAPES.iter().enumerate() {
        let (family, depth, width, after) = shape;
        let text = memory_module(family, depth, width, after).emit();
        verilator::lint(
            &dir("memory-lint"),
            &[("lpn_memory.v".into(), text)],
            "lpn_memory",
        )
        .unwrap_or_else(|e| panic!("{shape:?}: {e}"));
        let bad = mismatches(None, shape, 11 + i as u32);
        assert_eq!(
            bad, 0,
            "{shape:?}: {bad} words differ from the memory's semantics"
        );
    }
}

/// Without the bypass, the late write would be missed by a read one clock later; the
/// traffic above must catch that (and so does a bank multiplexer reading the wrong bank).
#[test]
fn the_comparison_catches_a_missing_bypass() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    for &shape in &SHAPES[..2] {
        let (family, depth, width, after) = shape;
        let text = memory_module(family, depth, width, after).emit();
        let hit = if after == 1 {
            "mem_hit_q"
        } else {
            "mem_hit_q2"
        };
        let broken = text.replace(&format!("{hit} ? "), "1'b0 ? ");
        let broken = broken.replace(&format!("if ({hit})"), "if (1'b0)");
        assert_ne!(broken, text, "the bypass is where the test expects it");
        assert!(mismatches(Some(broken), shape, 5) > 0, "{shape:?}");
    }
}

/// On ECP5 each block is one DP16KD and Yosys adds no logic of its own for reads of an
/// address being written (which it would, as flip-flops and LUTs per block, without
/// `no_rw_check`): the flip-flops are exactly the module's registers.
#[test]
fn every_block_is_one_block_ram_with_nothing_added() {
    lpn_toolchain::require(lpn_toolchain::Tool::Yosys);
    assert!(
        lpn_flow::yosys::native(),
        "this test needs a native Yosys with ABC (scripts/install-tools unpacks Debian's)"
    );
    let (family, depth, width, after) = (Family::Ecp5_85k, 32768, 3, 2);
    let m = memory_module(family, depth, width, after);
    let d = dir("memory-synth");
    std::fs::write(d.join("lpn_memory.v"), m.emit()).unwrap();
    let log = lpn_flow::yosys::synthesise(
        &d,
        &["lpn_memory.v"],
        &lpn_flow::yosys::ecp5_script("lpn_memory"),
    )
    .unwrap();
    let cells = lpn_flow::fpga::parse_yosys_cells(&log);
    let (bank, slice) = lpn_cycle::config::block_shape(family, depth, width);
    let blocks = depth.div_ceil(bank) * (width as usize).div_ceil(slice as usize);
    assert_eq!(
        cells.get("DP16KD").copied(),
        Some(blocks as u64),
        "{cells:?}"
    );
    // Flip-flops: the module's own registers (Yosys may drop a bit it finds constant or
    // unread); its read-during-write logic would add about 18 a block.
    let text = m.emit();
    let declared: u64 = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("reg ") && !l.contains("[0:"))
        .map(|l| match l.split_once('[') {
            Some((_, r)) => {
                let (hi, lo) = r.split_once(']').unwrap().0.split_once(':').unwrap();
                hi.parse::<u64>().unwrap() - lo.parse::<u64>().unwrap() + 1
            }
            None => 1,
        })
        .sum();
    // Not flip-flops: `mem_rd` (logic) and each block's read register (the block RAM's).
    let banks = depth.div_ceil(bank) as u64;
    let expected = declared - u64::from(width) * (1 + banks);
    let ffs = cells.get("TRELLIS_FF").copied().unwrap_or(0);
    assert!(
        ffs <= expected && ffs + 4 >= expected,
        "{ffs} flip-flops, {expected} register bits: {cells:?}"
    );
}
