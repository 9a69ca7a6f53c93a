//! Every datapath point in Verilog against the cycle model's `Datapath`, bit for bit,
//! under Verilator, on random operands with the format limits over-represented, for
//! several configurations; and `verilator --lint-only -Wall` clean.

use std::path::PathBuf;

use lpn_cycle::arith::{Datapath, Saturations};
use lpn_cycle::{preset, Format, HwConfig};
use lpn_flow::verilator;
use lpn_golden::rng::Mulberry32;
use lpn_rtl::datapath::{arith_module, Types};
use lpn_rtl::rtl::{Dir, Ty};

fn cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rtl-cache")
}

fn configs() -> Vec<HwConfig> {
    let mut out = vec![preset("tiny").unwrap()];
    let mut c = preset("tiny").unwrap();
    c.name = "consolidating".into();
    c.learning.consolidation_strength = 2.0;
    c.learning.consolidation_threshold = 1.0;
    c.learning.max_pheromone = 4.0;
    c.learning.consolidation_growth = 0.4;
    c.learning.short_weight = 0.5;
    out.push(c);
    let mut c = preset("tiny").unwrap();
    c.name = "no-gate-no-bias".into();
    c.gate = false;
    c.bias = false;
    out.push(c);
    let mut c = preset("tiny").unwrap();
    c.name = "narrow".into();
    c.formats.weight = Format::signed(12, 8);
    c.formats.trail = Format::unsigned(12, 8);
    c.formats.signal = Format::signed(12, 10);
    c.formats.gate_recip = Format::unsigned(16, 8);
    c.formats.cofire = Format::unsigned(12, 6);
    c.learning.consolidation_strength = 1.0;
    out.push(c);
    for c in &out {
        c.validate().unwrap();
    }
    out
}

fn sample(rng: &mut Mulberry32, t: Ty) -> i64 {
    let (lo, hi) = (t.min() as i64, t.max() as i64);
    match (rng.next_f64() * 12.0) as u32 {
        0 => lo,
        1 => hi,
        2 => 0,
        3 => (lo + 1).min(hi),
        4 => (hi - 1).max(lo),
        _ => lo + (rng.next_f64() * (hi - lo) as f64) as i64,
    }
}

/// The model's value of every output for one operand vector (ARITH_INPUTS order + descent).
fn expected(dp: &Datapath, v: &[i64]) -> Vec<i64> {
    let mut sat = Saturations::default();
    let [acc, co_acc, err_sum, rr, short, long, recip, effective, mean, gate, valid, signal, max_score, consol, cofire, q, w, step, retain, decays, base, mode, accepted, long_new, consolidate, b, bd, descent] =
        v.try_into().unwrap();
    let mc = mode as usize;
    let k = &dp.k;
    let (valid, step, decays, accepted, consolidate, descent) = (
        valid != 0,
        step != 0,
        decays != 0,
        accepted != 0,
        consolidate != 0,
        descent != 0,
    );
    vec![
        dp.signal_mean(acc, rr),
        dp.cofire_mean(co_acc, rr, &mut sat),
        dp.bias_direction(err_sum, rr),
        dp.effective_trail(short, long),
        dp.gate(effective, recip),
        dp.signal(mean, gate, valid),
        dp.score(signal, long, &mut sat),
        dp.bonus(max_score),
        dp.plasticity(consol, valid),
        dp.reinforcement_base(cofire, signal),
        dp.weight_step(w, signal, q, step, &mut sat),
        dp.retain(k.synapse_decay, q),
        dp.retain(k.short_evaporation, q),
        dp.retain(k.long_evaporation, q),
        dp.weight_decay(w, retain, decays),
        dp.trail(
            short,
            retain,
            base,
            k.short_reinforcement[mc],
            accepted,
            valid,
        ),
        dp.trail(
            long,
            retain,
            base,
            k.long_reinforcement[mc],
            accepted,
            valid,
        ),
        dp.maturity(long_new),
        dp.consolidation(
            consol,
            long_new,
            base,
            k.consolidation_growth[mc],
            accepted,
            consolidate,
            valid,
        ),
        dp.bias_step(b, bd, descent),
    ]
}

const OUTPUTS: [&str; 20] = [
    "signal_mean",
    "cofire_mean",
    "bias_direction",
    "effective_trail",
    "gate",
    "signal",
    "score",
    "bonus",
    "plasticity",
    "reinforcement_base",
    "weight_step",
    "retain_w",
    "retain_s",
    "retain_l",
    "weight_decay",
    "trail_short",
    "trail_long",
    "maturity",
    "consolidation",
    "bias_step",
];

/// Runs `cases` random operand vectors through the Verilated module; returns the
/// mismatches as lines.
fn compare(
    c: &HwConfig,
    dp: &Datapath,
    m: &lpn_rtl::rtl::Module,
    text: Option<String>,
    cases: usize,
    seed: u32,
) -> Vec<String> {
    let text = text.unwrap_or_else(|| m.emit());
    let model = verilator::build(
        &cache(),
        "lpn_arith",
        &[("lpn_arith.v".into(), text)],
        &verilator::comb_harness(m),
    )
    .unwrap();
    let inputs: Vec<Ty> = m
        .ports()
        .iter()
        .filter(|(d, _)| *d == Dir::Input)
        .map(|(_, s)| s.ty)
        .collect();
    let mut rng = Mulberry32::new(seed);
    let mut stimulus = String::new();
    let mut vectors = Vec::new();
    for _ in 0..cases {
        let v: Vec<i64> = inputs.iter().map(|&t| sample(&mut rng, t)).collect();
        stimulus.push_str(
            &v.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(" "),
        );
        stimulus.push('\n');
        vectors.push(v);
    }
    let work = cache().join(format!("work-{}-{seed}", c.name));
    std::fs::create_dir_all(&work).unwrap();
    let out = verilator::run(&model, &stimulus, &work).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), cases, "one output line per case");
    let mut bad = Vec::new();
    for (v, line) in vectors.iter().zip(lines) {
        let got: Vec<i64> = line
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect();
        let want = expected(dp, v);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            if g != w && bad.len() < 10 {
                bad.push(format!(
                    "{}: {}: rtl {g}, model {w}, operands {v:?}",
                    c.name, OUTPUTS[i]
                ));
            }
        }
    }
    bad
}

#[test]
fn every_datapath_point_equals_the_model_under_verilator() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    let mut total = 0;
    for (i, c) in configs().iter().enumerate() {
        let dp = Datapath::new(c).unwrap();
        let m = arith_module(c, &dp, &lpn_rtl::header(c, "datapath test module"));
        let bad = compare(c, &dp, &m, None, 4000, 11 + i as u32);
        assert!(bad.is_empty(), "{}", bad.join("\n"));
        total += 4000;
    }
    assert!(total >= 16000);
}

#[test]
fn the_comparison_fails_when_one_constant_bit_is_flipped() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    let c = preset("tiny").unwrap();
    let dp = Datapath::new(&c).unwrap();
    let m = arith_module(&c, &dp, &[]);
    // Flip bit 10 of LEARNING_RATE in the Verilog only: the weight and bias steps change
    // by about one LSB for large signals.
    let lr = dp.k.learning_rate;
    let from = format!("LEARNING_RATE = 24'h{:X};", lr);
    let text = m.emit();
    assert!(text.contains(&from), "{from}");
    let flipped = text.replace(&from, &format!("LEARNING_RATE = 24'h{:X};", lr ^ (1 << 10)));
    let bad = compare(&c, &dp, &m, Some(flipped), 2000, 99);
    assert!(!bad.is_empty(), "a flipped constant went unnoticed");
    assert!(
        bad.iter()
            .all(|l| l.contains("weight_step") || l.contains("bias_step")),
        "{bad:?}"
    );
}

#[test]
fn the_datapath_module_is_lint_clean() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    for c in configs() {
        let dp = Datapath::new(&c).unwrap();
        let m = arith_module(&c, &dp, &lpn_rtl::header(&c, "datapath test module"));
        let dir = cache().join(format!("lint-{}", c.name));
        verilator::lint(&dir, &[("lpn_arith.v".into(), m.emit())], "lpn_arith")
            .unwrap_or_else(|e| panic!("{}: {e}", c.name));
        let _ = Types::new(&c, &dp);
    }
}
