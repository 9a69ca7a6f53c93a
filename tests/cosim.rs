//! The generated engine under Verilator equals the cycle model bit for bit and cycle for
//! cycle: every golden vector, and random configurations with random layers and inputs.

use std::path::PathBuf;

use lpn_cycle::vectors::{judge, run_cycle_model};
use lpn_flow::cosim;

mod common;
use lpn_rtl::engine::generate;

const NAMES: [&str; 4] = [
    "regression",
    "consolidation",
    "neighbor_follow",
    "masked_nogate",
];

fn cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rtl-cache")
}

#[test]
fn golden_vectors_run_bit_exact_on_the_rtl() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    for name in NAMES {
        let v = common::golden_vectors(name);
        let model = cosim::build(&v.config, &cache()).unwrap();
        let work = cache().join(format!("work-golden-{name}"));
        std::fs::create_dir_all(&work).unwrap();
        let got = cosim::run_vectors(&model, &v, &work, None).unwrap();
        assert_eq!(got.len(), v.steps.len());
        let r = judge(&v, &got, Default::default()).unwrap();
        assert_eq!(r.mismatch_count, 0, "{name}: {:?}", r.mismatches);
        assert!(r.violations.is_empty(), "{name}: {:?}", r.violations);
        // The same results as the cycle model, field for field.
        let (model_results, _) = run_cycle_model(&v).unwrap();
        assert_eq!(got, model_results, "{name}");
    }
}

#[test]
fn a_corrupted_vector_word_is_reported_with_step_slot_and_field() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    let mut v = common::golden_vectors("masked_nogate");
    let model = cosim::build(&v.config, &cache()).unwrap();
    let work = cache().join("work-corrupt-vector");
    std::fs::create_dir_all(&work).unwrap();
    v.steps[6].expected.state.long[9] += 1;
    let got = cosim::run_vectors(&model, &v, &work, None).unwrap();
    let r = judge(&v, &got, Default::default()).unwrap();
    assert_eq!(r.mismatch_count, 1);
    assert!(
        r.mismatches[0]
            .to_string()
            .starts_with("step 6 slot 9 field long: expected "),
        "{}",
        r.mismatches[0]
    );
}

#[test]
fn a_flipped_bit_in_one_rtl_constant_is_caught() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    let v = common::golden_vectors("regression");
    let g = generate(&v.config).unwrap();
    let dp = lpn_cycle::Datapath::new(&v.config).unwrap();
    let from = format!("LONG_EVAPORATION = 24'h{:X};", dp.k.long_evaporation);
    let to = format!(
        "LONG_EVAPORATION = 24'h{:X};",
        dp.k.long_evaporation ^ (1 << 4)
    );
    let files: Vec<(String, String)> = g
        .files
        .iter()
        .map(|(n, t)| {
            if n == "lpn_lane.v" {
                assert!(t.contains(&from), "{from}");
                (n.clone(), t.replace(&from, &to))
            } else {
                (n.clone(), t.clone())
            }
        })
        .collect();
    let model = cosim::build_sources(&v.config, &files, &cache()).unwrap();
    let work = cache().join("work-flipped");
    std::fs::create_dir_all(&work).unwrap();
    let got = cosim::run_vectors(&model, &v, &work, None).unwrap();
    let r = judge(&v, &got, Default::default()).unwrap();
    assert!(r.mismatch_count > 0);
    let first = &r.mismatches[0];
    // The random-case comparison catches it too.
    let mut rng = lpn_cycle::random::Rng::new(9);
    let e = cosim::random_cases(&model, &v.config, &mut rng, 20, 10, &work).unwrap_err();
    assert!(e.contains("differs from the cycle model"), "{e}");
    // Names the step, the slot and the field (the long trail is the first to move).
    assert_eq!(first.field, "long", "{first}");
    assert!(
        first.slot.is_some()
            && first
                .to_string()
                .starts_with(&format!("step {} slot ", first.step)),
        "{first}"
    );
}

#[test]
fn spram_placement_runs_the_vectors_bit_exact() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    // The same layer with the single-access memories in iCE40 SPRAM (behavioural in
    // simulation, SB_SPRAM256KA under synthesis): the model's results do not depend on
    // memory placement, the RTL's must not either.
    for v in common::spram_placements() {
        let g = generate(&v.config).unwrap();
        assert!(g.files.iter().any(|(n, _)| n == "lpn_spram.v"));
        let model = cosim::build(&v.config, &cache()).unwrap();
        let work = cache().join("work-spram");
        std::fs::create_dir_all(&work).unwrap();
        let got = cosim::run_vectors(&model, &v, &work, None).unwrap();
        common::assert_bit_exact(&v, &got);
    }
}

/// Random configurations (lanes, K, ragged lanes, rows, narrow formats, consolidation,
/// short trail, gate and bias off), each one Verilator build, each run with several
/// random layers whose words include the format limits: the RTL equals the cycle model
/// in every update. The seed is `LPN_COSIM_SEED` (default 1), printed on failure.
#[test]
fn random_configurations_equal_the_cycle_model() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    use lpn_cycle::random::{self, Rng};
    let seed: u32 = std::env::var("LPN_COSIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let mut rng = Rng::new(seed);
    let mut cases = 0;
    for case in 0..4 {
        let c = random::config(&mut rng, case);
        let model = cosim::build(&c, &cache()).unwrap();
        let work = cache().join(format!("work-random-{seed}-{case}"));
        std::fs::create_dir_all(&work).unwrap();
        cases += cosim::random_cases(&model, &c, &mut rng, 60, 10, &work)
            .unwrap_or_else(|e| panic!("seed {seed} config {case}: {e}"));
    }
    assert!(cases >= 200, "{cases} cases");
}

/// `lpn sim` prints the same report for both backends; only the wall-time line differs.
#[test]
fn sim_backends_print_the_same_table() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("golden/vectors/neighbor_follow.vectors.json");
    let run = |backend: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_lpn"))
            .args(["sim", "--backend", backend, "--vectors"])
            .arg(&path)
            .env("LPN_RTL_CACHE", cache())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{backend}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let (cycle, rtl) = (run("cycle"), run("verilator"));
    let keep = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with("backend "))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(keep(&cycle), keep(&rtl));
    assert!(
        cycle.contains("backend cycle: simulated") && rtl.contains("backend verilator: simulated")
    );
    assert!(rtl.contains("bit-exact"), "{rtl}");
}

/// The deep pipeline builds each memory from single block RAMs; a memory deeper than
/// one block is several banks whose registered outputs are multiplexed by the bank
/// address. A layer whose `nbr` memory takes two banks (4,096 words of 9 bits: two
/// 2,048 x 9 blocks) runs equal to the cycle model.
#[test]
fn a_deep_memory_of_several_banks_equals_the_cycle_model() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    let mut c = lpn_cycle::preset("tiny").unwrap();
    c.name = "banked".into();
    c.pipeline = lpn_cycle::Pipeline::Deep;
    c.layer.inputs = 32;
    c.layer.outputs = 1024;
    c.layer.k = 4;
    c.lanes = 1;
    c.max_rows = 2;
    c.validate().unwrap();
    let g = generate(&c).unwrap();
    let lane = &g.files.iter().find(|(n, _)| n == "lpn_lane.v").unwrap().1;
    assert!(lane.contains("nbr_bank_q2"), "nbr is not banked");
    let mut rng = lpn_cycle::random::Rng::new(3);
    equals_the_model_on_random_layers(&c, "banked", &mut rng, 4, 2);
}

/// Row-parallel ACCUMULATE in the RTL: the golden vectors on the compact engine reading
/// 4 rows per clock give the vectors' own states, selections and descents (P changes
/// only the cycles: exactly the cycle model's, which are the formula's); and a deep
/// engine reading 8 rows per clock from 8 banks, with ragged lanes, equals the cycle
/// model on random layers and batches of any row count (the last group partly empty;
/// the golden batches are all multiples of 4 rows).
#[test]
fn row_parallel_accumulate_equals_the_cycle_model() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    let mut v = common::golden_vectors("consolidation");
    let want: Vec<_> = v.steps.iter().map(|s| s.expected.clone()).collect();
    v.config.row_parallel = 4;
    v.config.name = "consolidation-p4".into();
    v.config.validate().unwrap();
    let model = cosim::build(&v.config, &cache()).unwrap();
    let work = cache().join("work-row-parallel-golden");
    std::fs::create_dir_all(&work).unwrap();
    let got = cosim::run_vectors(&model, &v, &work, None).unwrap();
    let (model_results, _) = run_cycle_model(&v).unwrap();
    assert_eq!(got, model_results);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(
            (&g.state, &g.selected, g.descent, g.accepted),
            (&w.state, &w.selected, w.descent, w.accepted),
            "step {i}"
        );
        let rows = v.steps[i].input.rows;
        assert_eq!(g.cycles, lpn_cycle::cycle_formula(&v.config, rows));
        assert!(g.cycles.accumulate < w.cycles.accumulate, "step {i}");
    }
    let mut c = lpn_cycle::preset("tiny").unwrap();
    c.name = "row-parallel-deep".into();
    c.pipeline = lpn_cycle::Pipeline::Deep;
    c.layer.outputs = 5;
    c.lanes = 2;
    c.max_rows = 16;
    c.row_parallel = 8;
    c.validate().unwrap();
    let mut rng = lpn_cycle::random::Rng::new(41);
    equals_the_model_on_random_layers(&c, "row-parallel-deep", &mut rng, 12, 4);
}

/// `updates` random updates of `c` (`per_layer` on each random layer) under Verilator,
/// every one equal to the cycle model; `name` names the work folder and the failure.
fn equals_the_model_on_random_layers(
    c: &lpn_cycle::HwConfig,
    name: &str,
    rng: &mut lpn_cycle::random::Rng,
    updates: usize,
    per_layer: usize,
) {
    let model = cosim::build(c, &cache()).unwrap();
    let work = cache().join(format!("work-{name}"));
    std::fs::create_dir_all(&work).unwrap();
    let done = cosim::random_cases(&model, c, rng, updates, per_layer, &work)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(done, updates);
}

/// The shared pipeline (products on a few shared multipliers, the stages stepping every
/// `step_clocks` clocks) equals the cycle model bit for bit and cycle for cycle: the
/// tiny layer with consolidation, the short trail and neighbour-follow exercised by
/// random layers and inputs, at the default step and at 17 (`step_sub` one bit wider
/// than 16 needs); and the UP5K's memory placement (SPRAM, which must hold its word
/// between steps).
#[test]
fn the_shared_pipeline_equals_the_cycle_model() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    use lpn_cycle::config::{MemoryConfig, RamKind};
    let mut rng = lpn_cycle::random::Rng::new(21);
    let mut c = common::golden_vectors("consolidation").config;
    c.pipeline = lpn_cycle::Pipeline::Shared;
    c.name = "shared".into();
    for (step, spram) in [(None, false), (Some(17), false), (None, true)] {
        c.step_clocks = step;
        if spram {
            c.family = lpn_cycle::Family::Ice40Up5k;
            c.memory = MemoryConfig {
                scratch: RamKind::Spram,
                nbr: RamKind::Block,
                pre: RamKind::Spram,
                post_err: RamKind::Block,
                block_output_register: false,
            };
            c.lanes = 1;
        }
        c.validate_structure().unwrap();
        let name = format!("shared-step-{step:?}-spram-{spram}");
        equals_the_model_on_random_layers(&c, &name, &mut rng, 12, 6);
    }
}

/// The shipped `ice40-up5k` preset itself (the shared pipeline at 40 clocks per step on
/// one multiplier unit, its 12-bit formats, SPRAM, the serial sorter compare): random
/// layers and inputs equal the cycle model.
#[test]
fn the_up5k_preset_equals_the_cycle_model() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    let c = lpn_cycle::preset("ice40-up5k").unwrap();
    let mut rng = lpn_cycle::random::Rng::new(31);
    equals_the_model_on_random_layers(&c, "up5k-preset", &mut rng, 4, 2);
}
