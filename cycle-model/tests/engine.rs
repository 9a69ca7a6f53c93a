//! The engine against the unscheduled functional model on random configurations,
//! states and inputs (values at the format limits included), and its cycle counts
//! against the formula.

use lpn_cycle::arith::Saturations;
use lpn_cycle::random::{
    config as random_config, input as random_input, layer as random_layer, Rng,
};
use lpn_cycle::{
    cycle_formula, functional, pipeline_latency, preset, Cycles, Engine, Pipeline, StageDepths,
};

#[test]
fn engine_equals_the_functional_model_on_random_cases() {
    let mut rng = Rng::new(2026);
    let mut cases = 0;
    let mut descents = 0;
    for case in 0..60 {
        let c = random_config(&mut rng, case);
        let (wiring, mut state) = random_layer(&mut rng, &c);
        let mut engine = Engine::new(&c).unwrap();
        engine.load(&wiring, &state).unwrap();
        // The engine keeps only the fields the configuration stores.
        state = engine.read_state();
        let dp = engine.datapath().clone();
        for step in 0..6 {
            let input = random_input(&mut rng, &c);
            let report = engine.update(&input).unwrap();
            let (want, want_sel, want_descent) =
                functional::update(&wiring, &state, &input, &dp, c.stores_short());
            let got = engine.read_state();
            let at = format!("case {case} ({:?}, {} lanes) step {step}", c.layer, c.lanes);
            assert_eq!(got, want, "{at}: state");
            assert_eq!(engine.selected(), want_sel, "{at}: selection");
            assert_eq!(report.descent, want_descent, "{at}: descent");
            assert_eq!(report.cycles, cycle_formula(&c, input.rows), "{at}: cycles");
            let mut sat = Saturations::default();
            assert_eq!(
                engine.gate_recips(),
                got.gate_recips(&wiring, &dp, &mut sat),
                "{at}: the divider's reciprocals"
            );
            descents += usize::from(want_descent);
            state = got;
            cases += 1;
        }
    }
    assert!(cases >= 300, "{cases} cases");
    assert!(
        descents > cases / 2 && descents < cases,
        "{descents} descents of {cases}: both kinds must occur"
    );
}

#[test]
fn cycles_follow_the_formula_for_several_shapes_and_lane_counts() {
    let mut rng = Rng::new(7);
    for &(inputs, outputs, k, lanes, rows) in &[
        (16, 4, 8, 1, 1),
        (16, 4, 8, 2, 32),
        (16, 4, 8, 4, 7),
        (64, 64, 8, 8, 16),
        (64, 64, 16, 16, 4),
        (40, 30, 5, 3, 9),
        (100, 96, 12, 32, 2),
    ] {
        for pipeline in [Pipeline::Compact, Pipeline::Deep, Pipeline::Shared] {
            let mut c = preset("tiny").unwrap();
            c.pipeline = pipeline;
            c.layer.inputs = inputs;
            c.layer.outputs = outputs;
            c.layer.k = k;
            c.lanes = lanes;
            c.max_rows = rows;
            c.validate().unwrap();
            let (wiring, state) = random_layer(&mut rng, &c);
            let mut engine = Engine::new(&c).unwrap();
            engine.load(&wiring, &state).unwrap();
            let mut input = random_input(&mut rng, &c);
            input.rows = rows;
            input.pre.resize(rows * inputs, 0);
            input.post.resize(rows * outputs, 0);
            input.err.resize(rows * outputs, 0);
            let cycles = engine.update(&input).unwrap().cycles;
            assert_eq!(cycles, cycle_formula(&c, rows));
            // The target: within 10% of (rows + 2) * slots / lanes + latency
            // (clocks per step times that in the shared pipeline).
            let ideal = (((rows + 2) * outputs * k) as f64 / lanes as f64
                + pipeline_latency(&c) as f64)
                * c.step_clocks() as f64;
            assert!(
                (cycles.total as f64 - ideal).abs() <= 0.10 * ideal,
                "{inputs}x{outputs} K{k} {lanes} lanes {rows} rows: {} cycles vs {ideal}",
                cycles.total
            );
            assert_eq!(
                cycles.accumulate + cycles.select + cycles.apply,
                cycles.total
            );
        }
    }
}

/// The two pipelines' fixed latencies with the default formats (Q = 20 divider stages),
/// as docs/architecture.md states them, and the APPLY write latency is odd in both (a
/// read and a write in one cycle never meet in one even/odd bank).
#[test]
fn pipeline_latencies_are_the_documented_ones() {
    let mut c = preset("tiny").unwrap();
    assert_eq!(pipeline_latency(&c), 35);
    c.pipeline = Pipeline::Deep;
    assert_eq!(pipeline_latency(&c), 86);
    for p in [Pipeline::Compact, Pipeline::Deep] {
        c.pipeline = p;
        let d = StageDepths::of(&c);
        assert_eq!(d.apply_write_latency() % 2, 1, "{p:?}");
        // The stages with a feedback loop take one clock in both.
        assert_eq!((d.acc_sum, d.sel_insert, d.apply_write), (1, 1, 1), "{p:?}");
    }
}

/// The deep pipeline changes when things happen, never what: the same layer and inputs
/// give the same state, selection and descent in both, only later.
/// Runs random layers on the compact pipeline and on `other(compact, case)` side by
/// side: the same state, selection and descent after every update; `cycles` checks the
/// two updates' cycle counts.
fn learns_what_the_compact_pipeline_does(
    seed: u32,
    cases: usize,
    updates: usize,
    other: impl Fn(&lpn_cycle::HwConfig, usize) -> lpn_cycle::HwConfig,
    cycles: impl Fn(&lpn_cycle::HwConfig, &lpn_cycle::HwConfig, Cycles, Cycles),
) {
    let mut rng = Rng::new(seed);
    for case in 0..cases {
        let mut c = random_config(&mut rng, 2 * case);
        c.pipeline = Pipeline::Compact;
        c.row_parallel = 1;
        let d = other(&c, case);
        d.validate().unwrap();
        let (wiring, state) = random_layer(&mut rng, &c);
        let mut a = Engine::new(&c).unwrap();
        let mut b = Engine::new(&d).unwrap();
        a.load(&wiring, &state).unwrap();
        b.load(&wiring, &state).unwrap();
        for _ in 0..updates {
            let input = random_input(&mut rng, &c);
            let ra = a.update(&input).unwrap();
            let rb = b.update(&input).unwrap();
            assert_eq!(a.read_state(), b.read_state(), "case {case}");
            assert_eq!(a.selected(), b.selected(), "case {case}");
            assert_eq!((ra.descent, ra.selected), (rb.descent, rb.selected));
            cycles(&c, &d, ra.cycles, rb.cycles);
        }
    }
}

/// The shared pipeline steps the compact one every `step_clocks` clocks: the same
/// learning in that many times the cycles, phase by phase, except that its divider
/// writes `ceil(Q / step_clocks)` steps after a division starts, not Q.
#[test]
fn the_shared_pipeline_learns_exactly_what_the_compact_one_does_in_step_clocks_times_the_cycles() {
    let shared = |c: &lpn_cycle::HwConfig, case: usize| {
        let mut d = c.clone();
        d.pipeline = Pipeline::Shared;
        d.step_clocks = Some([4, 7, 16, 64][case % 4]);
        d
    };
    learns_what_the_compact_pipeline_does(11, 8, 4, shared, |c, d, ra, rb| {
        let s = u64::from(d.step_clocks());
        // Its divider decides a bit every clock: APPLY drains in fewer steps.
        let fewer = lpn_cycle::division_steps(c) - lpn_cycle::division_steps(d);
        let apply = ra.apply - fewer;
        let scaled = [ra.accumulate, ra.select, apply, ra.total - fewer].map(|x| x * s);
        assert_eq!([rb.accumulate, rb.select, rb.apply, rb.total], scaled);
    });
}

/// `step_clocks` belongs to the shared pipeline and must leave a shared multiplier its
/// three clocks per product.
#[test]
fn step_clocks_is_checked() {
    let mut c = preset("tiny").unwrap();
    c.step_clocks = Some(8);
    let e = c.validate().unwrap_err().to_string();
    assert!(
        e.contains("step_clocks is a setting of pipeline = \"shared\""),
        "{e}"
    );
    c.pipeline = Pipeline::Shared;
    c.validate().unwrap();
    c.step_clocks = Some(3);
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("step_clocks must be in 4..=64"), "{e}");
    c.step_clocks = None;
    assert_eq!(c.step_clocks(), lpn_cycle::config::DEFAULT_STEP_CLOCKS);
}

#[test]
fn the_deep_pipeline_learns_exactly_what_the_compact_one_does() {
    let deep = |c: &lpn_cycle::HwConfig, _: usize| {
        let mut d = c.clone();
        d.pipeline = Pipeline::Deep;
        d
    };
    learns_what_the_compact_pipeline_does(7, 12, 5, deep, |c, d, ra, rb| {
        assert_eq!(
            rb.total - ra.total,
            pipeline_latency(d) - pipeline_latency(c)
        );
    });
}

/// Row-parallel ACCUMULATE (P rows of a slot per clock from P banks, summed in a tree)
/// changes how long ACCUMULATE takes, never what it sums: the same state, selection and
/// descent as one row per clock, in `ceil(rows / P)` issues per slot (rows not a
/// multiple of P included), compact and deep.
#[test]
fn row_parallel_accumulate_learns_exactly_what_one_row_per_clock_does() {
    let wide = |c: &lpn_cycle::HwConfig, case: usize| {
        let mut d = c.clone();
        d.row_parallel = [2, 4, 8][case % 3];
        // Every lane a row group of its own, and the row bits of a host address whole.
        d.max_rows = d.max_rows.max(d.row_parallel * d.lanes).next_power_of_two();
        if case % 2 == 1 {
            d.pipeline = Pipeline::Deep;
        }
        d
    };
    learns_what_the_compact_pipeline_does(13, 12, 5, wide, |c, d, ra, rb| {
        let slots = c.slots_per_lane() as u64;
        let (drain_c, _, _) = lpn_cycle::engine::phase_drains(c);
        let rows = ((ra.accumulate - drain_c) / slots) as usize;
        assert_eq!(rb, lpn_cycle::cycle_formula(d, rows), "rows {rows}");
        // The lanes take the shared pre's groups in turn: at least one group per lane.
        let groups = rows.div_ceil(d.row_parallel).max(d.lanes) as u64;
        let (drain_d, _, _) = lpn_cycle::engine::phase_drains(d);
        assert_eq!(rb.accumulate, groups * slots + drain_d);
    });
}

/// `row_parallel`: a power of two that divides `max_rows`, on block RAM, not with the
/// shared pipeline; each refusal names the key.
#[test]
fn row_parallel_is_checked() {
    let mut c = preset("tiny").unwrap();
    for (p, rows, says) in [
        (0, 32, "row_parallel must be a power of two"),
        (3, 33, "row_parallel must be a power of two"),
        (128, 128, "row_parallel must be a power of two in 1..=64"),
        (4, 6, "row_parallel = 4 must divide max_rows = 6"),
    ] {
        c.row_parallel = p;
        c.max_rows = rows;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains(says), "{p}: {e}");
    }
    c.max_rows = 8;
    c.row_parallel = 8;
    let e = c.validate().unwrap_err().to_string();
    assert!(
        e.contains("lanes = 2 with row_parallel = 8: at most max_rows / row_parallel = 1 lanes"),
        "{e}"
    );
    c.max_rows = 24;
    c.lanes = 1;
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("max_rows = 24 must be a power of two"), "{e}");
    c.max_rows = 16;
    c.lanes = 2;
    c.validate().unwrap();
    c.pipeline = Pipeline::Shared;
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("row_parallel > 1 needs pipeline"), "{e}");
    let mut u = preset("ice40-up5k").unwrap();
    u.pipeline = Pipeline::Compact;
    u.step_clocks = None;
    u.max_rows = 4;
    u.row_parallel = 2;
    let e = u.validate().unwrap_err().to_string();
    assert!(
        e.contains("memory.pre and memory.post_err must be \"block\""),
        "{e}"
    );
    // Not written when 1: configs and fingerprints from before the key stay the same.
    let t = toml::to_string(&preset("tiny").unwrap()).unwrap();
    assert!(!t.contains("row_parallel"), "{t}");
}

#[test]
fn a_busy_engine_refuses_host_writes_and_an_unloaded_one_refuses_start() {
    let c = preset("tiny").unwrap();
    let mut e = Engine::new(&c).unwrap();
    assert!(e
        .start()
        .unwrap_err()
        .to_string()
        .contains("no layer loaded"));
    let mut rng = Rng::new(1);
    let (w, s) = random_layer(&mut rng, &c);
    e.load(&w, &s).unwrap();
    let input = random_input(&mut rng, &c);
    e.load_inputs(&input).unwrap();
    e.start().unwrap();
    e.tick();
    assert!(e.busy());
    assert!(e.load(&w, &s).unwrap_err().to_string().contains("busy"));
    assert!(e
        .load_inputs(&input)
        .unwrap_err()
        .to_string()
        .contains("busy"));
    e.run();
    assert!(!e.busy());
}
