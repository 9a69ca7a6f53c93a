//! The contrastive step: negatives keep each tag group's values, and training separates
//! positive from negative activity on rows it never saw.

use lpn_golden::contrastive::corrupt;
use lpn_golden::rng::Mulberry32;
use lpn_golden::{Matrix, Network, NetworkSpec};

const TAGS: [i64; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1];

/// Rows `a * pattern + noise`: a smooth bump within each tag group, random amplitude.
fn positives(rows: usize, rng: &mut Mulberry32) -> Matrix {
    let pattern: Vec<f64> = (0..16)
        .map(|j| ((j % 8) as f64 * std::f64::consts::PI / 7.0).sin())
        .collect();
    let mut data = Vec::with_capacity(rows * 16);
    for _ in 0..rows {
        let a = (0.5 + rng.next_f64()) * if rng.next_f64() < 0.5 { -1.0 } else { 1.0 };
        data.extend(
            pattern
                .iter()
                .map(|p| a * p + 0.05 * (rng.next_f64() - 0.5)),
        );
    }
    Matrix::from_flat(rows, 16, data).unwrap()
}

#[test]
fn corruption_shuffles_within_tag_groups_only() {
    let mut rng = Mulberry32::new(1);
    let x = positives(20, &mut rng);
    let neg = corrupt(&x, &TAGS, &mut Mulberry32::new(9)).unwrap();
    let sorted = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v
    };
    let mut moved = 0;
    for r in 0..x.rows() {
        for g in [0..8, 8..16] {
            assert_eq!(
                sorted(&x.row(r)[g.clone()]),
                sorted(&neg.row(r)[g.clone()]),
                "row {r}"
            );
        }
        moved += (0..16).filter(|&j| x.row(r)[j] != neg.row(r)[j]).count();
    }
    assert!(moved > 200, "most features move: {moved} of 320");
    assert_eq!(
        neg,
        corrupt(&x, &TAGS, &mut Mulberry32::new(9)).unwrap(),
        "seeded"
    );
    assert_ne!(neg, corrupt(&x, &TAGS, &mut Mulberry32::new(10)).unwrap());
    assert!(corrupt(&x, &TAGS[..3], &mut rng).is_err());
}

#[test]
fn contrastive_training_separates_unseen_positives_from_negatives() {
    let mut rng = Mulberry32::new(3);
    let (train, test) = (positives(32, &mut rng), positives(32, &mut rng));
    let mut corruption = Mulberry32::new(4);
    let test_neg = corrupt(&test, &TAGS, &mut corruption).unwrap();
    let mut spec = NetworkSpec::new(16, vec![8], 4);
    spec.tag_count = 2;
    spec.seed = 6;
    let mut net = Network::new(&spec).unwrap();
    let before = net.separation(&test, &test_neg).unwrap();
    let mut last = None;
    for _ in 0..150 {
        // Fresh negatives every step, as a generator would give them.
        let neg = corrupt(&train, &TAGS, &mut corruption).unwrap();
        last = Some(net.contrastive_step(&train, &neg).unwrap());
    }
    let after = net.separation(&test, &test_neg).unwrap();
    // Measured: 0.23 -> 0.42. Without the anti-Hebbian half (negatives also pushed up)
    // the same run ends at 0.04, so this bound fails when that half is switched off.
    assert!(
        after > 0.35 && after > before + 0.15,
        "separation {before} -> {after}"
    );
    assert!(last.unwrap().accepted > 0);
}

#[test]
fn contrastive_inputs_are_checked() {
    let mut net = Network::new(&NetworkSpec::new(4, vec![], 2)).unwrap();
    let ok = Matrix::zeros(2, 4);
    assert!(net.contrastive_step(&Matrix::zeros(0, 4), &ok).is_err());
    assert!(net
        .contrastive_step(&ok, &Matrix::zeros(2, 3))
        .unwrap_err()
        .to_string()
        .starts_with("negative:"));
}
