//! Hand-checkable cases for every branch of spec sections 2-6. Each expected value is
//! worked out in the comment beside it from the spec's formulas, not from the code.

use lpn_golden::{
    Activation, Budget, Layer, LayerSpec, LearningConfig, Matrix, Mode, Network, NetworkSpec,
    UpdateParams,
};

fn m(rows: &[&[f64]]) -> Matrix {
    let cols = rows.first().map_or(0, |r| r.len());
    Matrix::from_rows(
        &rows.iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
        cols,
        "test",
    )
    .unwrap()
}

fn close(got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-12 * want.abs().max(1.0),
        "got {got}, want {want}"
    );
}

fn close_all(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "lengths differ: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        close(*g, *w);
    }
}

/// One output reading `n` inputs on a line, single tag group, bias on, gate on.
fn one_output(n: usize) -> Layer {
    let mut spec = LayerSpec::new(n, 1);
    spec.max_neighbors = n;
    spec.tag_count = 0;
    Layer::new(&spec, 0).unwrap()
}

fn set_weights(layer: &mut Layer, w: &[f64]) {
    layer.edit_state(|s| s.weight.copy_from_slice(w)).unwrap();
}

fn params<'a>(
    cfg: &'a LearningConfig,
    budget: f64,
    mode: Mode,
    consolidate: bool,
) -> UpdateParams<'a> {
    UpdateParams {
        budget,
        mode,
        consolidate,
        config: cfg,
    }
}

#[test]
fn gate_normalises_long_trail() {
    let mut l = one_output(2);
    // Output at 0 reads input 0 (distance 0) then input 1.
    assert_eq!(l.neighbors(), &[0, 1]);
    l.edit_state(|s| s.long.copy_from_slice(&[1.0, 3.0]))
        .unwrap();
    // E = P; mass = 4; valid = 2; g = 0.5 + 0.5 * clamp(P/4*2, 0, 2) = 0.75, 1.25.
    close_all(l.gate(), &[0.75, 1.25]);
}

#[test]
fn gate_clamps_at_two_and_mixes_short_and_long() {
    let mut spec = LayerSpec::new(3, 1);
    spec.tag_count = 0;
    spec.short_weight = 0.5;
    spec.long_weight = 0.5;
    let mut l = Layer::new(&spec, 0).unwrap();
    l.edit_state(|s| {
        s.short.copy_from_slice(&[8.0, 0.01, 1.0]);
        s.long.copy_from_slice(&[8.0, 0.01, 0.0]);
    })
    .unwrap();
    // E = (S + P)/2 = 8, 0.01, 0.5; mass 8.51; E/mass*3 = 2.82 -> 2, 0.0035, 0.176.
    close_all(
        l.gate(),
        &[
            1.5,
            0.5 + 0.5 * (0.01 / 8.51 * 3.0),
            0.5 + 0.5 * (0.5 / 8.51 * 3.0),
        ],
    );
}

#[test]
fn gate_with_zero_trail_weights_uses_long_trail() {
    let mut spec = LayerSpec::new(2, 1);
    spec.tag_count = 0;
    spec.short_weight = 0.0;
    spec.long_weight = 0.0;
    let mut l = Layer::new(&spec, 0).unwrap();
    l.edit_state(|s| {
        s.short.copy_from_slice(&[5.0, 5.0]);
        s.long.copy_from_slice(&[1.0, 3.0]);
    })
    .unwrap();
    close_all(l.gate(), &[0.75, 1.25]);
}

#[test]
fn gate_off_is_one_and_effective_weight_is_w_times_g() {
    let mut spec = LayerSpec::new(2, 1);
    spec.tag_count = 0;
    spec.gate = false;
    let mut l = Layer::new(&spec, 0).unwrap();
    l.edit_state(|s| {
        s.long.copy_from_slice(&[1.0, 3.0]);
        s.weight.copy_from_slice(&[0.4, -0.2]);
    })
    .unwrap();
    close_all(l.gate(), &[1.0, 1.0]);
    close_all(l.effective_weight(), &[0.4, -0.2]);
}

#[test]
fn forward_and_feedback() {
    // Two outputs over three inputs, K = 2: output 0 (at 0) reads inputs 0, 1; output 1
    // (at 1) reads inputs 2, 1. Input 1 has in-degree 2.
    let mut spec = LayerSpec::new(3, 2);
    spec.max_neighbors = 2;
    spec.tag_count = 0;
    let mut l = Layer::new(&spec, 0).unwrap();
    assert_eq!(l.neighbors(), &[0, 1, 2, 1]);
    assert_eq!(l.in_degree(), &[1.0, 2.0, 1.0]);
    l.edit_state(|s| {
        s.weight.copy_from_slice(&[0.5, -1.0, 2.0, 0.25]);
        s.bias = Some(vec![0.1, -0.1]);
    })
    .unwrap();
    // Equal trails: g = 1.
    let z = l.forward(&m(&[&[1.0, 2.0, 3.0]])).unwrap();
    // z0 = 1*0.5 + 2*(-1) + 0.1 = -1.4; z1 = 3*2 + 2*0.25 - 0.1 = 6.4.
    close_all(z.as_slice(), &[-1.4, 6.4]);
    let mut f = Matrix::default();
    l.feedback_into(&m(&[&[1.0, -2.0]]), &mut f).unwrap();
    // f0 = 1*0.5; f1 = (1*(-1) + (-2)*0.25)/sqrt(2); f2 = -2*2.
    close_all(f.as_slice(), &[0.5, -1.5 / 2f64.sqrt(), -4.0]);
}

/// The worked example: inputs (1, 2), output error 0.5, activity 0.3, weights
/// (0.5, -0.25), budget 1, warmup, default config.
fn worked_example() -> (Layer, Matrix, Matrix, Matrix) {
    let mut l = one_output(2);
    set_weights(&mut l, &[0.5, -0.25]);
    (l, m(&[&[1.0, 2.0]]), m(&[&[0.3]]), m(&[&[0.5]]))
}

#[test]
fn local_update_worked_example() {
    let cfg = LearningConfig::default();
    let (mut l, pre, post, err) = worked_example();
    let accepted = l
        .local_update(&pre, &post, &err, &params(&cfg, 1.0, Mode::Warmup, false))
        .unwrap();
    // sig = (0.5, 1.0) (g = 1, inside the clip); co = (0.3, 0.6).
    // scores = |sig| * 1.5 -> slot 1 selected; D = -1 - 0.5^2 < 0: descent.
    assert_eq!(accepted, 1);
    let s = l.state();
    // w0 decays: 0.5 * (1 - 0.001); w1 = -0.25 + 0.05 * 1.0.
    close_all(&s.weight, &[0.4995, -0.2]);
    // b = 0.05 * 0.5.
    close_all(s.bias.as_ref().unwrap(), &[0.025]);
    // r = min(co + |sig|, 4) * 1 = (0.8, 1.6); S = S*(1-0.08) + 0.1*r*acc; P = P*(1-0.02) + 0.05*r*acc.
    close_all(&s.short, &[0.92, 0.92 + 0.16]);
    close_all(&s.long, &[0.98, 0.98 + 0.08]);
    assert_eq!(s.consolidation, vec![0.0, 0.0]);
    assert_eq!(s.last_accepted, vec![0, 1]);
}

#[test]
fn reinforcement_factor_by_mode() {
    let cfg = LearningConfig::default();
    for (mode, factor) in [
        (Mode::Exploit, 1.2),
        (Mode::NeighborFollow, 0.9),
        (Mode::Steady, 1.0),
    ] {
        let (mut l, pre, post, err) = worked_example();
        l.local_update(&pre, &post, &err, &params(&cfg, 1.0, mode, false))
            .unwrap();
        // The accepted slot gains 0.05 * 1.6 * factor on the long trail.
        close(l.state().long[1], 0.98 + 0.05 * (1.6 * factor));
    }
}

#[test]
fn signal_is_clipped_and_budget_takes_the_top_scores() {
    let cfg = LearningConfig {
        signal_clip: 0.6,
        ..Default::default()
    };
    let (mut l, pre, post, err) = worked_example();
    l.local_update(&pre, &post, &err, &params(&cfg, 2.7, Mode::Warmup, false))
        .unwrap();
    // sig = (0.5, 1.0 -> 0.6); budget floor(2.7) = 2 selects both; no decay.
    close_all(&l.state().weight, &[0.5 + 0.05 * 0.5, -0.25 + 0.05 * 0.6]);
}

#[test]
fn equal_scores_keep_slot_order() {
    let cfg = LearningConfig::default();
    let mut l = one_output(3);
    set_weights(&mut l, &[0.0, 0.0, 0.0]);
    // Output at 0: slots read inputs 0, 1, 2. Inputs (1, 1, 1) give three equal scores.
    let n = l.local_update(
        &m(&[&[1.0, 1.0, 1.0]]),
        &m(&[&[0.0]]),
        &m(&[&[0.5]]),
        &params(&cfg, 1.0, Mode::Warmup, false),
    );
    assert_eq!(n.unwrap(), 1);
    assert_eq!(l.state().last_accepted, vec![1, 0, 0]);
}

#[test]
fn zero_signal_selects_nothing_and_is_not_a_descent_without_bias() {
    let cfg = LearningConfig::default();
    let mut spec = LayerSpec::new(2, 1);
    spec.tag_count = 0;
    spec.bias = false;
    let mut l = Layer::new(&spec, 0).unwrap();
    set_weights(&mut l, &[0.5, -0.25]);
    let n = l.local_update(
        &m(&[&[1.0, 2.0]]),
        &m(&[&[0.3]]),
        &m(&[&[0.0]]),
        &params(&cfg, 2.0, Mode::Warmup, false),
    );
    assert_eq!(n.unwrap(), 0);
    // D = 0: no step, no decay; trails only evaporate.
    close_all(&l.state().weight, &[0.5, -0.25]);
    close_all(&l.state().long, &[0.98, 0.98]);
}

#[test]
fn bias_descends_even_when_no_slot_is_selected() {
    let cfg = LearningConfig::default();
    let mut l = one_output(2);
    set_weights(&mut l, &[0.5, -0.25]);
    // Zero inputs: sig = 0, nothing selected; bias direction 0.4 makes D = -0.16 < 0.
    let n = l.local_update(
        &m(&[&[0.0, 0.0]]),
        &m(&[&[0.3]]),
        &m(&[&[0.4]]),
        &params(&cfg, 2.0, Mode::Warmup, false),
    );
    assert_eq!(n.unwrap(), 0);
    close_all(l.state().bias.as_ref().unwrap(), &[0.05 * 0.4]);
    // No slot accepted: weights untouched (no decay without an accepted slot).
    close_all(&l.state().weight, &[0.5, -0.25]);
}

#[test]
fn weights_and_trails_are_clamped() {
    let cfg = LearningConfig {
        weight_clip: 0.4,
        min_pheromone: 0.99,
        max_pheromone: 1.01,
        ..Default::default()
    };
    let (mut l, pre, post, err) = worked_example();
    l.local_update(&pre, &post, &err, &params(&cfg, 1.0, Mode::Warmup, false))
        .unwrap();
    // Slot 1 accepted. w0 = 0.5 * 0.999 -> clipped to 0.4; S = (0.92, 1.08) and
    // P = (0.98, 1.06) are clamped into [0.99, 1.01].
    close_all(&l.state().weight, &[0.4, -0.2]);
    close_all(&l.state().short, &[0.99, 1.01]);
    close_all(&l.state().long, &[0.99, 1.01]);
}

#[test]
fn neighbor_follow_bonus_goes_to_the_frontier() {
    // One output at 0 over 8 inputs at j/7 (spacing 0.143 < 0.18 < 0.286).
    let cfg = LearningConfig::default();
    let x = m(&[&[0.1, 0.1, 0.1, 0.1, 0.1, 0.9, 0.2, 0.2]]);
    let run = |previous: Option<usize>, mode: Mode| {
        let mut l = one_output(8);
        l.edit_state(|s| {
            s.weight.fill(0.0);
            if let Some(slot) = previous {
                s.last_accepted[slot] = 1;
            }
        })
        .unwrap();
        l.local_update(
            &x,
            &m(&[&[0.0]]),
            &m(&[&[1.0]]),
            &params(&cfg, 1.0, mode, false),
        )
        .unwrap();
        l.state().last_accepted.clone()
    };
    // Without the bonus the largest signal (input 5) wins.
    assert_eq!(run(Some(0), Mode::Exploit), vec![0, 0, 0, 0, 0, 1, 0, 0]);
    // Slot 0 was accepted last time: inputs 0 and 1 are the frontier; the bonus makes
    // the better of them (tie: slot order) beat input 5.
    assert_eq!(
        run(Some(0), Mode::NeighborFollow),
        vec![1, 0, 0, 0, 0, 0, 0, 0]
    );
    // Slot 7 accepted: frontier 6, 7; both score 0.2*1.5 + bonus; slot 6 comes first.
    assert_eq!(
        run(Some(7), Mode::NeighborFollow),
        vec![0, 0, 0, 0, 0, 0, 1, 0]
    );
    // Nothing accepted before: every valid slot is frontier, the order is unchanged.
    assert_eq!(
        run(None, Mode::NeighborFollow),
        vec![0, 0, 0, 0, 0, 1, 0, 0]
    );

    // The bonus is at least 1: with the best score 0.75 < 1, a frontier slot with zero
    // signal (score 0 + 1) still beats it. A bonus of only the best score would tie,
    // and the tie would go to the earlier slot 0.
    let mut l = one_output(8);
    l.edit_state(|s| {
        s.weight.fill(0.0);
        s.last_accepted[7] = 1;
    })
    .unwrap();
    let x = m(&[&[0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]);
    l.local_update(
        &x,
        &m(&[&[0.0]]),
        &m(&[&[1.0]]),
        &params(&cfg, 1.0, Mode::NeighborFollow, false),
    )
    .unwrap();
    assert_eq!(l.state().last_accepted, vec![0, 0, 0, 0, 0, 0, 1, 0]);
}

#[test]
fn consolidation_scales_plasticity_and_grows_on_mature_accepted_slots() {
    let cfg = LearningConfig {
        consolidation_strength: 1.0,
        consolidation_threshold: 1.0,
        max_pheromone: 3.0,
        ..Default::default()
    };
    let (mut l, pre, post, err) = worked_example();
    l.edit_state(|s| {
        s.consolidation.copy_from_slice(&[0.5, 0.5]);
        s.long.copy_from_slice(&[2.0, 2.0]);
    })
    .unwrap();
    l.local_update(&pre, &post, &err, &params(&cfg, 1.0, Mode::Exploit, true))
        .unwrap();
    let s = l.state();
    // q = max(1 - 0.5, 0.05) = 0.5. g = 1 (equal trails). sig = (0.5, 1.0): slot 1.
    // w1 = -0.25 + 0.05 * (1.0 * 0.5); w0 = 0.5 * (1 - 0.001 * 0.5).
    close_all(&s.weight, &[0.5 * (1.0 - 0.0005), -0.25 + 0.025]);
    // r1 = min(0.6 + 1.0, 4) * 1.2 = 1.92. P1 = 2*(1 - 0.02*0.5) + 0.05*1.92 = 2.076.
    close_all(&s.long, &[2.0 * 0.99, 2.0 * 0.99 + 0.05 * 1.92]);
    // C = 0.5*(1-0.0005), + 0.03*1.92*maturity, maturity = (2.076 - 1)/(3 - 1).
    let c = 0.5 * (1.0 - 0.0005);
    close_all(
        &s.consolidation,
        &[c, c + 0.03 * 1.92 * ((2.076 - 1.0) / 2.0)],
    );
}

#[test]
fn consolidation_only_decays_without_the_flag_and_vanishes_when_off() {
    let cfg = LearningConfig {
        consolidation_strength: 1.0,
        ..Default::default()
    };
    let (mut l, pre, post, err) = worked_example();
    l.edit_state(|s| s.consolidation.copy_from_slice(&[0.5, 0.25]))
        .unwrap();
    l.local_update(&pre, &post, &err, &params(&cfg, 1.0, Mode::Steady, false))
        .unwrap();
    close_all(&l.state().consolidation, &[0.5 * 0.9995, 0.25 * 0.9995]);
    let off = LearningConfig::default();
    l.local_update(&pre, &post, &err, &params(&off, 1.0, Mode::Exploit, true))
        .unwrap();
    assert_eq!(l.state().consolidation, vec![0.0, 0.0]);
}

#[test]
fn plasticity_floor_applies_to_fully_consolidated_slots() {
    let cfg = LearningConfig {
        consolidation_strength: 4.0,
        consolidation_lr_floor: 0.1,
        ..Default::default()
    };
    let (mut l, pre, post, err) = worked_example();
    l.edit_state(|s| s.consolidation.copy_from_slice(&[1.0, 1.0]))
        .unwrap();
    l.local_update(&pre, &post, &err, &params(&cfg, 1.0, Mode::Warmup, false))
        .unwrap();
    // q = max(1 - clamp(4, 0, 1), 0.1) = 0.1: w1 = -0.25 + 0.05 * 1.0 * 0.1.
    close(l.state().weight[1], -0.25 + 0.005);
}

#[test]
fn budget_adaptation_sequence() {
    let cfg = LearningConfig {
        max_budget: Some(6.0),
        ..Default::default()
    };
    let mut b = Budget::new(&cfg, 8);
    assert_eq!(b.budget, 4.0); // max(1, floor(8/2)) within [1, 6]
    assert_eq!(b.adapt(1.0, &cfg), (Mode::Warmup, None));
    assert_eq!(b.adapt(0.5, &cfg), (Mode::Exploit, Some(true)));
    assert_eq!(b.budget, 2.0); // floor(4 * 0.7)
    assert_eq!(b.adapt(0.5 + 5e-8, &cfg), (Mode::Steady, Some(false)));
    assert_eq!(b.adapt(0.9, &cfg), (Mode::NeighborFollow, Some(false)));
    assert_eq!(b.budget, 3.0); // max(ceil(2 * 1.5), 2 + 1)
    assert_eq!(b.adapt(1.0, &cfg), (Mode::NeighborFollow, Some(false)));
    assert_eq!(b.budget, 5.0); // ceil(4.5)
    b.adapt(2.0, &cfg);
    assert_eq!(b.budget, 6.0); // capped by max_budget
    b.adapt(1.0, &cfg);
    b.adapt(0.5, &cfg);
    b.adapt(0.25, &cfg);
    b.adapt(0.1, &cfg);
    assert_eq!(b.budget, 1.0); // 6 -> 4 -> 2 -> 1 -> max(min_budget, 0)
    let small = LearningConfig {
        initial_budget: Some(0.0),
        min_budget: 2.0,
        ..Default::default()
    };
    assert_eq!(Budget::new(&small, 8).budget, 2.0);
}

#[test]
fn masked_loss() {
    let y = m(&[&[1.0, 2.0], &[0.0, 0.0]]);
    let t = m(&[&[0.0, 0.0], &[1.0, 1.0]]);
    // Unmasked: (1 + 4 + 1 + 1) / 4.
    close(Network::loss(&y, &t, None), 7.0 / 4.0);
    // Mask (1, 0.5): (1 + 2 + 1 + 0.5) / max(1 + 0.5 + 1 + 0.5, 1).
    close(Network::loss(&y, &t, Some(&[1.0, 0.5])), 4.5 / 3.0);
    // A tiny mask weight: the denominator is at least 1.
    close(Network::loss(&y, &t, Some(&[0.1, 0.0])), 0.2 / 1.0);
}

#[test]
fn activations_and_derivatives() {
    let z = 0.7f64;
    let cases = [
        (Activation::Tanh, z.tanh(), 1.0 - z.tanh() * z.tanh()),
        (Activation::Relu, 0.7, 1.0),
        (Activation::Sigmoid, 1.0 / (1.0 + (-z).exp()), {
            let s = 1.0 / (1.0 + (-z).exp());
            s * (1.0 - s)
        }),
        (Activation::Identity, 0.7, 1.0),
    ];
    for (act, value, slope) in cases {
        assert_eq!(act.apply(z), value, "{act:?}");
        assert_eq!(act.derivative(z, act.apply(z)), slope, "{act:?}");
    }
    assert_eq!(Activation::Relu.apply(-0.3), 0.0);
    // GELU: known values x * Phi(x), and the derivative against a central difference.
    close(Activation::Gelu.apply(1.0), 0.841_344_746_068_542_9);
    close(Activation::Gelu.apply(-1.0), -0.158_655_253_931_457_05);
    assert_eq!(Activation::Gelu.apply(0.0), 0.0);
    for z in [-2.5, -0.7, 0.0, 0.3, 1.9] {
        let h = 1e-6;
        let numeric = (Activation::Gelu.apply(z + h) - Activation::Gelu.apply(z - h)) / (2.0 * h);
        let analytic = Activation::Gelu.derivative(z, Activation::Gelu.apply(z));
        assert!(
            (numeric - analytic).abs() < 1e-8,
            "{z}: {numeric} vs {analytic}"
        );
    }
    assert_eq!(Activation::Relu.derivative(-0.3, 0.0), 0.0);
    assert_eq!(Activation::Relu.derivative(0.0, 0.0), 0.0);
}

/// A 2-1-1 network with hand-set weights: checks the forward cache, the output error,
/// the derivative and the feedback that reaches the hidden layer.
#[test]
fn network_step_passes_local_errors_down() {
    for act in [
        Activation::Tanh,
        Activation::Relu,
        Activation::Sigmoid,
        Activation::Identity,
        Activation::Gelu,
    ] {
        let mut spec = NetworkSpec::new(2, vec![1], 1);
        spec.tag_count = 0;
        spec.activation = act;
        spec.bias = false;
        let mut net = Network::new(&spec).unwrap();
        net.layers_mut()[0]
            .edit_state(|s| s.weight.copy_from_slice(&[0.5, 0.25]))
            .unwrap();
        net.layers_mut()[1]
            .edit_state(|s| s.weight.copy_from_slice(&[2.0]))
            .unwrap();
        let x = m(&[&[1.0, 2.0]]);
        let report = net.step(&x, &m(&[&[3.0]]), None).unwrap();
        // h = act(0.5 + 0.5) = act(1); y = 2 act(1); loss = (y - 3)^2.
        let h = act.apply(1.0);
        let y = 2.0 * h;
        close(report.loss, (y - 3.0) * (y - 3.0));
        close(net.prediction().as_slice()[0], y);
        // Output layer: one slot; err = 3 - y, sig = err * h (inside the clip only if small).
        let e = 3.0 - y;
        let sig_out = (e * h).clamp(-1.0, 1.0);
        close(net.layers()[1].state().weight[0], 2.0 + 0.05 * sig_out);
        // Hidden error: e * W / sqrt(1) * act'(1); hidden slots: sig = he * x.
        let he = e * 2.0 * act.derivative(1.0, h);
        let sig = [(he * 1.0).clamp(-1.0, 1.0), (he * 2.0).clamp(-1.0, 1.0)];
        // Budget 4 selects both hidden slots; both move by lr * sig.
        close_all(
            &net.layers()[0].state().weight,
            &[0.5 + 0.05 * sig[0], 0.25 + 0.05 * sig[1]],
        );
        assert_eq!(report.mode, Mode::Warmup);
        assert_eq!(report.accepted, 3);
    }
}

#[test]
fn loss_gate_blocks_consolidation_and_only_exploit_consolidates() {
    let run = |gate: Option<f64>| {
        let mut spec = NetworkSpec::new(8, vec![], 2);
        spec.tag_count = 0;
        spec.seed = 4;
        spec.learning = LearningConfig {
            consolidation_strength: 1.0,
            consolidation_threshold: 1.0,
            pheromone_reinforcement: 0.5,
            consolidation_loss_gate: gate,
            ..Default::default()
        };
        let mut net = Network::new(&spec).unwrap();
        let x = m(&[
            &[0.5, -0.2, 0.3, 0.9, -0.7, 0.1, 0.4, -0.6],
            &[-0.3, 0.8, -0.5, 0.2, 0.6, -0.9, 0.1, 0.7],
        ]);
        let t = m(&[&[0.4, -0.3], &[-0.2, 0.5]]);
        let mut consolidated_outside_exploit = false;
        let mut any_exploit = false;
        for _ in 0..30 {
            let before: f64 = net.layers()[0].state().consolidation.iter().sum();
            let r = net.step(&x, &t, None).unwrap();
            let after: f64 = net.layers()[0].state().consolidation.iter().sum();
            any_exploit |= r.mode == Mode::Exploit;
            consolidated_outside_exploit |= r.mode != Mode::Exploit && after > before;
        }
        assert!(any_exploit);
        assert!(!consolidated_outside_exploit);
        net.layers()[0].state().consolidation.iter().sum::<f64>()
    };
    assert!(run(None) > 0.0, "consolidation grows on exploit steps");
    assert_eq!(
        run(Some(1e-9)),
        0.0,
        "a loss gate below every loss blocks it"
    );
}

#[test]
fn radius_fallback_and_tags_in_a_network() {
    // Radius 0 leaves only co-located inputs; the last output has none and falls back.
    let mut spec = NetworkSpec::new(5, vec![], 3);
    spec.tag_count = 0;
    spec.connection_radius = Some(0.0);
    spec.max_neighbors = 2;
    let net = Network::new(&spec).unwrap();
    // Outputs at 0, 0.5, 1; inputs at 0, .25, .5, .75, 1: each output has exactly one
    // co-located input.
    assert_eq!(net.layers()[0].mask(), &[1, 0, 1, 0, 1, 0]);
    assert_eq!(net.layers()[0].neighbors(), &[0, 0, 2, 0, 4, 0]);
    spec.connection_radius = Some(0.1);
    spec.inputs = 2; // inputs at 0 and 1; the output at 0.5 is 0.5 from both: fallback.
    let net = Network::new(&spec).unwrap();
    assert_eq!(net.layers()[0].mask(), &[1, 0, 1, 1, 1, 0]);
    assert_eq!(net.layers()[0].neighbors(), &[0, 0, 0, 1, 1, 0]);
}

#[test]
fn output_mask_silences_outputs() {
    let mut spec = NetworkSpec::new(8, vec![], 2);
    spec.tag_count = 0;
    spec.seed = 9;
    let mut net = Network::new(&spec).unwrap();
    let before = net.layers()[0].state().clone();
    let x = m(&[&[0.5, -0.2, 0.3, 0.9, -0.7, 0.1, 0.4, -0.6]]);
    net.step(&x, &m(&[&[1.0, -1.0]]), Some(&[1.0, 0.0]))
        .unwrap();
    let after = net.layers()[0].state();
    let k = net.layers()[0].k();
    // Output 1 has zero error: no slot of it is accepted, its weights do not move
    // (the decay applies to valid, non-accepted slots only when something was accepted,
    // so it does apply here; its bias does not move).
    assert!(after.last_accepted[k..].iter().all(|&a| a == 0));
    assert_eq!(
        after.bias.as_ref().unwrap()[1],
        before.bias.as_ref().unwrap()[1]
    );
    for j in 0..k {
        close(after.weight[k + j], before.weight[k + j] * (1.0 - 0.001));
    }
    assert!(after.last_accepted[..k].contains(&1));
}

#[test]
fn weights_are_mulberry_gaussians_in_slot_order() {
    // K = 4: w = gaussian() * (1/sqrt(4)), drawn for valid slots in slot order.
    let mut spec = LayerSpec::new(4, 2);
    spec.max_neighbors = 4;
    spec.tag_count = 2; // each output sees 2 inputs: slots 2, 3 invalid and draw nothing
    spec.seed = 123;
    let l = Layer::new(&spec, 0).unwrap();
    let mut g = lpn_golden::rng::Gaussian::new(123);
    let scale = 1.0 / 4f64.sqrt();
    let want = [
        g.sample() * scale,
        g.sample() * scale,
        0.0,
        0.0,
        g.sample() * scale,
        g.sample() * scale,
        0.0,
        0.0,
    ];
    assert_eq!(l.state().weight, want);
    assert_eq!(l.mask(), &[1, 1, 0, 0, 1, 1, 0, 0]);
    assert_eq!(l.state().long, [1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
}

#[test]
fn layers_are_seeded_seed_plus_index() {
    let mut spec = NetworkSpec::new(6, vec![6], 6);
    spec.tag_count = 0;
    spec.seed = u32::MAX;
    let net = Network::new(&spec).unwrap();
    let mut alone = LayerSpec::new(6, 6);
    alone.tag_count = 0;
    alone.seed = 0; // u32::MAX + 1 wraps
    assert_eq!(
        net.layers()[1].state().weight,
        Layer::new(&alone, 1).unwrap().state().weight
    );
}

#[test]
fn bad_shapes_are_errors_not_panics() {
    let mut net = Network::new(&NetworkSpec::new(4, vec![], 2)).unwrap();
    let x = m(&[&[1.0, 2.0, 3.0, 4.0]]);
    assert!(net
        .step(&m(&[&[1.0]]), &m(&[&[1.0, 2.0]]), None)
        .unwrap_err()
        .to_string()
        .starts_with("x:"));
    assert!(net
        .step(&x, &m(&[&[1.0]]), None)
        .unwrap_err()
        .to_string()
        .starts_with("target:"));
    assert!(net
        .step(&x, &m(&[&[1.0, 2.0]]), Some(&[1.0]))
        .unwrap_err()
        .to_string()
        .starts_with("output_mask:"));
    assert!(net
        .step(&Matrix::zeros(0, 4), &Matrix::zeros(0, 2), None)
        .is_err());
    let mut l = one_output(2);
    let cfg = LearningConfig::default();
    assert!(l
        .local_update(
            &m(&[&[1.0]]),
            &m(&[&[1.0]]),
            &m(&[&[1.0]]),
            &params(&cfg, 1.0, Mode::Warmup, false)
        )
        .is_err());
    assert!(l.edit_state(|s| s.weight.push(1.0)).is_err());
}
