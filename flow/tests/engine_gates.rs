//! Quality gates on the generated engine: `verilator --lint-only -Wall` clean for every
//! preset and for random configurations; a reviewed snapshot of the tiny preset's
//! Verilog.

use std::path::PathBuf;

use lpn_cycle::{preset, PRESETS};
use lpn_flow::verilator;
use lpn_rtl::engine::generate;

fn dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("engine-gates")
        .join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn lint(c: &lpn_cycle::HwConfig) -> Result<(), String> {
    let g = generate(c).map_err(|e| e.to_string())?;
    verilator::lint(&dir(&format!("lint-{}", c.name)), &g.files, "lpn_engine")
}

#[test]
fn every_preset_is_lint_clean() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    for name in PRESETS {
        lint(&preset(name).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn random_configurations_are_lint_clean() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    let mut rng = lpn_cycle::random::Rng::new(5);
    for case in 0..6 {
        let c = lpn_cycle::random::config(&mut rng, case);
        lint(&c).unwrap_or_else(|e| panic!("{:?} {} lanes: {e}", c.layer, c.lanes));
    }
}

#[test]
fn tiny_engine_snapshot() {
    let g = generate(&preset("tiny").unwrap()).unwrap();
    for (name, text) in &g.files {
        insta::assert_snapshot!(name.replace('.', "_"), text);
    }
}

/// The shared pipeline's schedule fits the default step for every random configuration
/// (every feature, narrow and wide formats, up to 32 rows), and a step too short for
/// a product is refused with its name, never generated wrong.
#[test]
fn shared_schedules_fit_the_default_step_and_a_short_step_is_refused() {
    let mut rng = lpn_cycle::random::Rng::new(17);
    for case in 0..200 {
        let mut c = lpn_cycle::random::config(&mut rng, case);
        c.pipeline = lpn_cycle::Pipeline::Shared;
        c.row_parallel = 1;
        c.max_rows = [1, 2, 7, 32][case % 4];
        c.validate().unwrap();
        generate(&c).unwrap_or_else(|e| panic!("case {case}: {e}"));
    }
    let mut c = preset("tiny").unwrap();
    c.pipeline = lpn_cycle::Pipeline::Shared;
    c.step_clocks = Some(6);
    let e = generate(&c).unwrap_err().to_string();
    assert!(
        e.starts_with("step_clocks = 6: the product `") && e.contains("raise step_clocks"),
        "{e}"
    );
}

/// On the iCE40 every block-RAM memory of the plan is declared
/// `(* ram_style = "block" *)` (Yosys builds one of a few words from flip-flops
/// otherwise; docs/architecture.md, "Memories"), SPRAM ones are not declared at all (an
/// SPRAM instance holds them), and no other family's memories carry the mark.
#[test]
fn ice40_block_memories_are_marked_for_block_ram() {
    let lane = |c: &lpn_cycle::HwConfig| {
        let g = generate(c).unwrap();
        g.files
            .iter()
            .find(|(n, _)| n == "lpn_lane.v")
            .map(|(_, t)| t.clone())
            .unwrap()
    };
    let mut c = preset("ice40-up5k").unwrap();
    c.layer.outputs = 4;
    let v = lane(&c);
    for mem in ["syn", "post_err", "mask", "bias"] {
        assert!(
            v.lines()
                .any(|l| l.contains("(* ram_style = \"block\" *) reg")
                    && l.contains(&format!(" {mem} [0:"))),
            "{mem} not marked"
        );
    }
    for mem in ["scratch", "nbr", "pre"] {
        assert!(!v.contains(&format!(" {mem} [0:")), "{mem} declared");
    }
    let mut e = preset("tiny").unwrap();
    e.family = lpn_cycle::Family::Ecp5_85k;
    assert!(!lane(&e).contains("ram_style"));
}
