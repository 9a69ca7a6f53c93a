//! Structural plasticity: which slots are pruned, where they regrow, and that the
//! neighbour table, in-degrees and gate stay consistent.

use lpn_golden::structural::StructuralConfig;
use lpn_golden::{Layer, LayerSpec, Matrix, Network, NetworkSpec};

fn m(rows: &[Vec<f64>], cols: usize) -> Matrix {
    Matrix::from_rows(rows, cols, "t").unwrap()
}

/// One output over 8 inputs on a line, K = 2: slots read inputs 0 and 1 (nearest to the
/// output at 0). `tags` are the input tags; the output has tag 0.
fn layer(tags: &[i64]) -> Layer {
    let mut spec = LayerSpec::new(8, 1);
    spec.max_neighbors = 2;
    spec.input_tags = Some(tags);
    spec.output_tags = Some(&[0]);
    Layer::new(&spec, 0).unwrap()
}

/// A batch whose error correlates most with input 5, then input 3, and not at all with
/// the others (their values are orthogonal to the error over the two rows).
fn batch() -> (Matrix, Matrix) {
    let x = vec![
        vec![1.0, 1.0, 1.0, 0.5, 1.0, 1.0, 1.0, 1.0],
        vec![1.0, 1.0, 1.0, -0.5, 1.0, -1.0, 1.0, 1.0],
    ];
    // err = (1, -1): sum err*x_j = 0 for inputs with equal rows; input 5: 2; input 3: 1.
    (m(&x, 8), m(&[vec![1.0], vec![-1.0]], 1))
}

fn weak_slot_1(l: &mut Layer) {
    l.edit_state(|s| {
        s.weight.copy_from_slice(&[0.8, 0.01]);
        s.long.copy_from_slice(&[1.5, 0.05]);
        s.short.copy_from_slice(&[1.5, 0.05]);
        s.last_accepted[1] = 1;
    })
    .unwrap();
}

#[test]
fn a_weak_slot_regrows_on_the_best_correlated_free_input() {
    let mut l = layer(&[0; 8]);
    assert_eq!(l.neighbors(), &[0, 1]);
    weak_slot_1(&mut l);
    let (x, e) = batch();
    let n = l.rewire(&x, &e, &StructuralConfig::default()).unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        l.neighbors(),
        &[0, 5],
        "slot 0 is healthy and stays; slot 1 moves to input 5"
    );
    let s = l.state();
    assert_eq!(
        (
            s.weight[1],
            s.short[1],
            s.long[1],
            s.consolidation[1],
            s.last_accepted[1]
        ),
        (0.0, 1.0, 1.0, 0.0, 0)
    );
    assert_eq!((s.weight[0], s.long[0]), (0.8, 1.5));
    // In-degrees follow the table: input 1 lost its reader (at least 1), input 5 gained one.
    assert_eq!(l.in_degree(), &[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
    // The gate was recomputed from the new trails: mass 2.5, valid 2.
    assert_eq!(
        l.gate(),
        &[0.5 + 0.5 * (1.5 / 2.5 * 2.0), 0.5 + 0.5 * (1.0 / 2.5 * 2.0)]
    );
    assert_eq!(l.effective_weight()[1], 0.0);
}

#[test]
fn consolidated_healthy_and_uncorrelated_slots_stay() {
    let (x, e) = batch();
    // Consolidated: never pruned.
    let mut l = layer(&[0; 8]);
    weak_slot_1(&mut l);
    l.edit_state(|s| s.consolidation[1] = 0.2).unwrap();
    assert_eq!(l.rewire(&x, &e, &StructuralConfig::default()).unwrap(), 0);
    assert_eq!(l.neighbors(), &[0, 1]);
    // A trail above the threshold: kept.
    let mut l = layer(&[0; 8]);
    weak_slot_1(&mut l);
    let cfg = StructuralConfig {
        long_below: 0.01,
        ..Default::default()
    };
    assert_eq!(l.rewire(&x, &e, &cfg).unwrap(), 0);
    // No input correlates with the error: nothing moves.
    let mut l = layer(&[0; 8]);
    weak_slot_1(&mut l);
    let flat = m(&[vec![1.0; 8], vec![1.0; 8]], 8);
    assert_eq!(
        l.rewire(&flat, &e, &StructuralConfig::default()).unwrap(),
        0
    );
    assert_eq!(l.neighbors(), &[0, 1]);
}

#[test]
fn regrowth_respects_tags_and_never_duplicates_an_input() {
    let (x, e) = batch();
    // Input 5 is in another tag group: the slot goes to input 3, the next best.
    let mut l = layer(&[0, 0, 0, 0, 0, 1, 0, 0]);
    weak_slot_1(&mut l);
    assert_eq!(l.rewire(&x, &e, &StructuralConfig::default()).unwrap(), 1);
    assert_eq!(l.neighbors(), &[0, 3]);
    // Both slots weak: they take inputs 5 and 3, best first, in slot order.
    let mut l = layer(&[0; 8]);
    l.edit_state(|s| {
        s.weight.copy_from_slice(&[0.01, 0.01]);
        s.long.copy_from_slice(&[0.05, 0.05]);
    })
    .unwrap();
    assert_eq!(l.rewire(&x, &e, &StructuralConfig::default()).unwrap(), 2);
    assert_eq!(l.neighbors(), &[5, 3]);
}

#[test]
fn networks_rewire_on_schedule_and_keep_the_tables_consistent() {
    let mut spec = NetworkSpec::new(24, vec![12], 6);
    spec.max_neighbors = 3;
    spec.tag_count = 2;
    spec.seed = 11;
    // Aggressive thresholds so that rewiring happens in a short run.
    spec.structural = Some(StructuralConfig {
        every: 5,
        long_below: 0.95,
        weight_below: 0.3,
        consolidation_at_most: 0.0,
    });
    let mut net = Network::new(&spec).unwrap();
    let mut rng = lpn_golden::rng::Mulberry32::new(4);
    let x = Matrix::from_flat(
        8,
        24,
        (0..8 * 24).map(|_| rng.next_f64() * 2.0 - 1.0).collect(),
    )
    .unwrap();
    let t = Matrix::from_flat(8, 6, (0..8 * 6).map(|_| rng.next_f64() - 0.5).collect()).unwrap();
    let mut total = 0;
    for step in 1..=60 {
        let r = net.step(&x, &t, None).unwrap();
        if step % 5 != 0 {
            assert_eq!(r.rewired, 0, "step {step}: only every 5 steps");
        }
        total += r.rewired;
    }
    assert!(total > 0, "the thresholds make rewiring happen");
    for layer in net.layers() {
        let k = layer.k();
        let mut degree = vec![0.0f64; layer.inputs()];
        for o in 0..layer.outputs() {
            let mut inputs: Vec<u32> = (0..k)
                .filter(|&j| layer.mask()[o * k + j] != 0)
                .map(|j| layer.neighbors()[o * k + j])
                .collect();
            for &j in &inputs {
                degree[j as usize] += 1.0;
                assert_eq!(
                    layer.input_tags()[j as usize],
                    layer.output_tags()[o],
                    "tag-compatible"
                );
            }
            let before = inputs.len();
            inputs.sort_unstable();
            inputs.dedup();
            assert_eq!(inputs.len(), before, "no input twice on one output");
        }
        let expected: Vec<f64> = degree.iter().map(|&d| d.max(1.0)).collect();
        assert_eq!(layer.in_degree(), expected.as_slice());
    }
}

#[test]
fn structural_settings_are_checked() {
    let mut spec = NetworkSpec::new(4, vec![], 2);
    spec.structural = Some(StructuralConfig {
        every: 0,
        ..Default::default()
    });
    let err = Network::new(&spec).unwrap_err().to_string();
    assert_eq!(err, "structural.every: must be at least 1");
}
