//! Replay mixed into training: the step equals an explicit per-row-masked step on the
//! combined batch, only fresh rows count in the loss, and a conflict adds rows.

use lpn_golden::replay::{ReplayBuffer, ReplayConfig};
use lpn_golden::{Matrix, Mode, Network, NetworkSpec, OutputMask};

fn m(rows: &[&[f64]]) -> Matrix {
    let cols = rows[0].len();
    Matrix::from_rows(
        &rows.iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
        cols,
        "t",
    )
    .unwrap()
}

fn net() -> Network {
    let mut spec = NetworkSpec::new(4, vec![3], 2);
    spec.tag_count = 0;
    spec.seed = 5;
    Network::new(&spec).unwrap()
}

#[test]
fn replayed_rows_join_the_batch_with_their_own_masks() {
    let config = ReplayConfig {
        capacity: 8,
        ratio: 1.0,
        conflict_ratio: 0.0,
        seed: 3,
    };
    let mut replay = ReplayBuffer::new(config.clone()).unwrap();
    let mut a = net();
    let (xa, ta) = (
        m(&[&[0.5, -0.2, 0.1, 0.9], &[0.3, 0.3, -0.6, 0.2]]),
        m(&[&[0.4, -0.1], &[0.0, 0.3]]),
    );
    let first = replay
        .step(&mut a, &xa, &ta, Some(&[1.0, 0.0]), None)
        .unwrap();
    assert_eq!(first.replayed, 0, "nothing stored yet");
    assert_eq!(replay.rows().len(), 2);

    // The second step draws two stored rows; rebuild that batch by hand on a twin.
    let mut twin = a.clone();
    let mut probe = replay.clone();
    let mut draws = Vec::new();
    probe.draw(2, &mut draws);
    let (xb, tb) = (
        m(&[&[-0.4, 0.7, 0.2, 0.0], &[0.1, -0.9, 0.4, 0.6]]),
        m(&[&[-0.3, 0.5], &[0.2, -0.2]]),
    );
    let mut rows_x = vec![xb.row(0).to_vec(), xb.row(1).to_vec()];
    let mut rows_t = vec![tb.row(0).to_vec(), tb.row(1).to_vec()];
    let mut rows_m = vec![vec![0.0, 1.0], vec![0.0, 1.0]];
    for &i in &draws {
        let r = &replay.rows()[i];
        rows_x.push(r.x.clone());
        rows_t.push(r.target.clone());
        rows_m.push(r.mask.clone());
    }
    assert!(
        rows_m[2..].iter().all(|mask| mask == &vec![1.0, 0.0]),
        "replayed rows keep task A's mask"
    );
    let (cx, ct, cm) = (
        Matrix::from_rows(&rows_x, 4, "x").unwrap(),
        Matrix::from_rows(&rows_t, 2, "t").unwrap(),
        Matrix::from_rows(&rows_m, 2, "m").unwrap(),
    );
    let expected = twin
        .step_masked(&cx, &ct, OutputMask::PerRow(&cm), 2)
        .unwrap();

    let fresh_loss = Network::loss(&a.forward(&xb).unwrap(), &tb, Some(&[0.0, 1.0]));
    let second = replay
        .step(&mut a, &xb, &tb, Some(&[0.0, 1.0]), Some(first.report.mode))
        .unwrap();
    assert_eq!(second.replayed, 2);
    assert_eq!(second.report, expected);
    assert_eq!(
        second.report.loss, fresh_loss,
        "only fresh rows count in the loss"
    );
    for (l, t) in a.layers().iter().zip(twin.layers()) {
        assert_eq!(l.state(), t.state());
    }
}

#[test]
fn a_conflict_step_brings_extra_rows_and_no_replay_is_a_plain_step() {
    let config = ReplayConfig {
        capacity: 16,
        ratio: 0.0,
        conflict_ratio: 1.5,
        seed: 1,
    };
    let mut replay = ReplayBuffer::new(config).unwrap();
    let mut a = net();
    let mut plain = net();
    let x = m(&[&[0.5, -0.2, 0.1, 0.9], &[0.3, 0.3, -0.6, 0.2]]);
    let t = m(&[&[0.4, -0.1], &[0.0, 0.3]]);
    let r1 = replay.step(&mut a, &x, &t, None, None).unwrap();
    assert_eq!(
        r1.report,
        plain.step(&x, &t, None).unwrap(),
        "without replayed rows it is the plain step"
    );
    let r2 = replay
        .step(&mut a, &x, &t, None, Some(Mode::Exploit))
        .unwrap();
    assert_eq!(r2.replayed, 0);
    let r3 = replay
        .step(&mut a, &x, &t, None, Some(Mode::NeighborFollow))
        .unwrap();
    assert_eq!(r3.replayed, 3, "round(1.5 * 2)");
}
