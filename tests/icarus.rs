//! The generated Verilog under a second simulator, Icarus Verilog: every preset and both
//! board tops compile without a warning, and the engine replays the golden vectors equal
//! to the cycle model, including the UP5K's SPRAM placement simulated with Yosys's own
//! `SB_SPRAM256KA` model (which the Verilator flow never runs).

use std::path::PathBuf;

use lpn_cycle::vectors::{judge, run_cycle_model};
use lpn_flow::icarus;

mod common;

fn work(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("icarus-{name}"))
}

#[test]
fn golden_vectors_under_icarus_equal_the_cycle_model() {
    lpn_toolchain::require(lpn_toolchain::Tool::Iverilog);
    for name in [
        "regression",
        "consolidation",
        "neighbor_follow",
        "masked_nogate",
    ] {
        let v = common::golden_vectors(name);
        let got = icarus::run_vectors(&v, &work(name)).unwrap();
        let (model, _) = run_cycle_model(&v).unwrap();
        assert_eq!(got, model, "{name}");
        let r = judge(&v, &got, Default::default()).unwrap();
        assert_eq!(r.mismatch_count, 0, "{name}: {:?}", r.mismatches);
    }
}

#[test]
fn a_corrupted_vector_fails_under_icarus() {
    lpn_toolchain::require(lpn_toolchain::Tool::Iverilog);
    let mut v = common::golden_vectors("masked_nogate");
    v.steps[3].expected.state.weight[5] -= 1;
    v.steps[7].expected.cycles.total += 1;
    let got = icarus::run_vectors(&v, &work("corrupt")).unwrap();
    let r = judge(&v, &got, Default::default()).unwrap();
    assert_eq!(r.mismatch_count, 2, "{:?}", r.mismatches);
    let first = r.mismatches[0].to_string();
    assert!(
        first.starts_with("step 3 slot 5 field weight: expected "),
        "{first}"
    );
    assert_eq!(
        (r.mismatches[1].step, r.mismatches[1].field.as_str()),
        (7, "cycles.total")
    );
}

/// The SPRAM placements of `tests/cosim.rs`, but with `lpn_spram` as synthesis sees it:
/// `SB_SPRAM256KA` instances and Yosys's simulation model of the primitive.
#[test]
fn the_vendor_spram_model_equals_the_cycle_model() {
    lpn_toolchain::require(lpn_toolchain::Tool::Iverilog);
    lpn_toolchain::require(lpn_toolchain::Tool::Yosys);
    for (i, v) in common::spram_placements().into_iter().enumerate() {
        let dir = work(&format!("spram-{i}"));
        let got = icarus::run_vectors(&v, &dir).unwrap();
        let spram = std::fs::read_to_string(dir.join("lpn_spram.v")).unwrap();
        assert!(spram.contains("SB_SPRAM256KA"));
        common::assert_bit_exact(&v, &got);
    }
}

/// The shipped UP5K preset (shared pipeline, SPRAM, narrow formats), one update of a
/// random layer, with the vendor SPRAM model.
#[test]
fn the_up5k_preset_under_icarus_equals_the_cycle_model() {
    lpn_toolchain::require(lpn_toolchain::Tool::Iverilog);
    lpn_toolchain::require(lpn_toolchain::Tool::Yosys);
    use lpn_cycle::random::{self, Rng};
    let c = lpn_cycle::preset("ice40-up5k").unwrap();
    let mut rng = Rng::new(7);
    let (wiring, state) = random::layer(&mut rng, &c);
    let input = random::input(&mut rng, &c);
    use lpn_cycle::Accelerator;
    let mut rtl = icarus::start(&c, &work("up5k")).unwrap();
    let mut e = lpn_cycle::Engine::new(&c).unwrap();
    let [got, want] = [&mut rtl as &mut dyn Accelerator, &mut e].map(|a| {
        a.load(&wiring, &state).unwrap();
        let r = a.update(&input).unwrap();
        (r, a.state().unwrap())
    });
    rtl.finish().unwrap();
    assert_eq!(got, want);
}

/// Every preset's engine and both board tops (with the simulation's PLL stand-ins)
/// compile under Icarus without a single warning.
#[test]
fn every_preset_and_board_top_compiles_under_icarus() {
    lpn_toolchain::require(lpn_toolchain::Tool::Iverilog);
    lpn_toolchain::require(lpn_toolchain::Tool::Yosys);
    for name in lpn_cycle::PRESETS {
        let c = lpn_cycle::preset(name).unwrap();
        icarus::compile(&c, &work(&format!("preset-{name}")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    use lpn_flow::fpga::Target;
    use lpn_rtl::board::{for_board, Board};
    for (board, target) in [
        (Board::Icebreaker, Target::Ice40Up5k),
        (Board::Ulx3s, Target::Ecp5_85k),
    ] {
        let preset = target.name();
        let c = lpn_cycle::preset(preset).unwrap();
        let build = for_board(&c, board, target.default_clock_hz(), 115_200).unwrap();
        let mut sources = build.files.clone();
        sources.push(("pll_stubs.v".into(), lpn_flow::boardsim::PLL_STUBS.into()));
        icarus::compile_sources(&sources, &build.top, false, &work(&format!("{preset}-top")))
            .unwrap_or_else(|e| panic!("{}: {e}", build.top));
    }
}
