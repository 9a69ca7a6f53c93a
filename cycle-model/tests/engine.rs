//! The engine against the unscheduled functional model on random configurations,
//! states and inputs (values at the format limits included), and its cycle counts
//! against the formula.

use lpn_cycle::arith::Saturations;
use lpn_cycle::image::{FixedState, StepInput, Wiring};
use lpn_cycle::{cycle_formula, functional, pipeline_latency, preset, Engine, Format, HwConfig};
use lpn_golden::rng::Mulberry32;
use lpn_golden::Mode;

struct Rng(Mulberry32);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        ((self.0.next_f64() * n as f64) as usize).min(n - 1)
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, p: f64) -> bool {
        self.0.next_f64() < p
    }
    /// A raw word of `f`: mostly uniform, sometimes a limit or zero.
    fn word(&mut self, f: Format) -> i64 {
        match self.below(10) {
            0 => f.max_raw(),
            1 => f.min_raw(),
            2 => 0,
            _ => f.min_raw() + (self.0.next_f64() * (f.max_raw() - f.min_raw()) as f64) as i64,
        }
    }
    /// A word in `[0, hi]` with the limits likely.
    fn word_to(&mut self, hi: i64) -> i64 {
        match self.below(8) {
            0 => hi,
            1 => 0,
            _ => (self.0.next_f64() * hi as f64) as i64,
        }
    }
}

fn random_config(rng: &mut Rng, case: usize) -> HwConfig {
    let mut c = preset("tiny").unwrap();
    c.name = format!("random-{case}");
    let inputs = rng.range(1, 40);
    let outputs = rng.range(1, 12);
    let k = rng.range(1, inputs.min(10));
    c.layer.inputs = inputs;
    c.layer.outputs = outputs;
    c.layer.k = k;
    c.lanes = rng.range(1, outputs.min(4));
    c.max_rows = rng.range(1, 6);
    c.gate = rng.chance(0.8);
    c.bias = rng.chance(0.7);
    if rng.chance(0.3) {
        c.formats.weight = Format::signed(12, 8);
        c.formats.trail = Format::unsigned(12, 8);
        c.formats.signal = Format::signed(12, 10);
        c.formats.gate_recip = Format::unsigned(16, 8);
    }
    let l = &mut c.learning;
    if rng.chance(0.5) {
        l.consolidation_strength = [0.5, 1.0, 3.0][rng.below(3)];
        l.consolidation_threshold = 1.0;
        l.max_pheromone = 4.0;
        l.consolidation_growth = 0.4;
    }
    if rng.chance(0.4) {
        l.short_weight = 0.5;
    }
    l.learning_rate = [0.05, 0.3, 1.0][rng.below(3)];
    c.validate().unwrap_or_else(|e| panic!("case {case}: {e}"));
    c
}

fn random_layer(rng: &mut Rng, c: &HwConfig) -> (Wiring, FixedState) {
    let (inputs, outputs, k) = (c.layer.inputs, c.layer.outputs, c.layer.k);
    let n = outputs * k;
    let mask: Vec<u8> = (0..n).map(|_| u8::from(rng.chance(0.85))).collect();
    let mut near = vec![0u64; n];
    for o in 0..outputs {
        for a in 0..k {
            if mask[o * k + a] == 0 {
                continue;
            }
            for b in 0..k {
                if mask[o * k + b] != 0 && (a == b || rng.chance(0.3)) {
                    near[o * k + a] |= 1 << b;
                }
            }
        }
    }
    let wiring = Wiring {
        inputs,
        outputs,
        k,
        neighbors: (0..n).map(|_| rng.below(inputs) as u32).collect(),
        mask: mask.clone(),
        near,
    };
    let f = &c.formats;
    let state = FixedState {
        weight: (0..n).map(|_| rng.word(f.weight)).collect(),
        short: (0..n).map(|_| rng.word(f.trail)).collect(),
        long: (0..n).map(|_| rng.word(f.trail)).collect(),
        consolidation: (0..n).map(|_| rng.word_to(f.consolidation.one())).collect(),
        bias: (0..outputs)
            .map(|_| if c.bias { rng.word(f.weight) } else { 0 })
            .collect(),
        last_accepted: (0..n)
            .map(|i| mask[i] & u8::from(rng.chance(0.3)))
            .collect(),
    };
    (wiring, state)
}

fn random_input(rng: &mut Rng, c: &HwConfig) -> StepInput {
    let rows = rng.range(1, c.max_rows);
    let f = &c.formats;
    let (inputs, outputs) = (c.layer.inputs, c.layer.outputs);
    let modes = [
        Mode::Warmup,
        Mode::Exploit,
        Mode::NeighborFollow,
        Mode::Steady,
    ];
    // Small values most of the time so that the clip does not flatten every signal.
    let small = |rng: &mut Rng, fmt: Format| {
        if rng.chance(0.15) {
            rng.word(fmt)
        } else {
            let v = (rng.0.next_f64() * 2.0 - 1.0) * 0.6;
            fmt.q(v)
        }
    };
    StepInput {
        rows,
        pre: (0..rows * inputs)
            .map(|_| small(rng, f.activation))
            .collect(),
        post: (0..rows * outputs)
            .map(|_| small(rng, f.activation))
            .collect(),
        err: (0..rows * outputs)
            .map(|_| {
                if rng.chance(0.1) {
                    0
                } else {
                    small(rng, f.error)
                }
            })
            .collect(),
        budget: rng.range(1, c.layer.k),
        mode: modes[rng.below(4)],
        consolidate: rng.chance(0.5),
    }
}

#[test]
fn engine_equals_the_functional_model_on_random_cases() {
    let mut rng = Rng(Mulberry32::new(2026));
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
    let mut rng = Rng(Mulberry32::new(7));
    for &(inputs, outputs, k, lanes, rows) in &[
        (16, 4, 8, 1, 1),
        (16, 4, 8, 2, 32),
        (16, 4, 8, 4, 7),
        (64, 64, 8, 8, 16),
        (64, 64, 16, 16, 4),
        (40, 30, 5, 3, 9),
        (100, 96, 12, 32, 2),
    ] {
        let mut c = preset("tiny").unwrap();
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
        // The target: within 10% of (rows + 2) * slots / lanes + latency.
        let ideal = ((rows + 2) * outputs * k) as f64 / lanes as f64 + pipeline_latency(&c) as f64;
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

#[test]
fn a_busy_engine_refuses_host_writes_and_an_unloaded_one_refuses_start() {
    let c = preset("tiny").unwrap();
    let mut e = Engine::new(&c).unwrap();
    assert!(e
        .start()
        .unwrap_err()
        .to_string()
        .contains("no layer loaded"));
    let mut rng = Rng(Mulberry32::new(1));
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
