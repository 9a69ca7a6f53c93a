//! Runs many training steps of a benchmark workload (the same data as
//! `benches/step.rs`), for profilers (`perf record`, `valgrind --tool=callgrind`) and for
//! looking at how the cost per step changes along a long run:
//! `cargo run --release -p lpn-golden --example profile_step [STEPS] [layer|net]`.
use lpn_golden::rng::Mulberry32;
use lpn_golden::{Matrix, Network, NetworkSpec};

fn main() {
    let steps: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    let net_workload = std::env::args().nth(2).as_deref() == Some("net");
    let (inputs, hidden, outputs) = if net_workload {
        (256, vec![256, 256], 64)
    } else {
        (1024, vec![], 1024)
    };
    let mut spec = NetworkSpec::new(inputs, hidden, outputs);
    spec.max_neighbors = 16;
    spec.seed = 1;
    let mut net = Network::new(&spec).expect("valid network");
    let random = |r: usize, c: usize, seed: u32| {
        let mut rng = Mulberry32::new(seed);
        Matrix::from_flat(
            r,
            c,
            (0..r * c).map(|_| rng.next_f64() * 2.0 - 1.0).collect(),
        )
        .expect("sizes match")
    };
    let x = random(32, inputs, 2);
    let t = random(32, outputs, 3);
    let started = std::time::Instant::now();
    let mut window = started;
    let mut last = 0.0;
    let mut modes = std::collections::BTreeMap::new();
    for step in 1..=steps {
        let report = net.step(&x, &t, None).expect("valid batch");
        last = report.loss;
        *modes.entry(report.mode.as_str()).or_insert(0usize) += 1;
        if step % 1000 == 0 {
            println!(
                "steps {:>6}: {:.3} ms/step over the last 1000",
                step,
                window.elapsed().as_secs_f64()
            );
            window = std::time::Instant::now();
        }
    }
    let per = started.elapsed().as_secs_f64() / steps as f64;
    println!(
        "{steps} steps, {:.3} ms/step, final loss {last:.6}",
        per * 1e3
    );
    println!("modes: {modes:?}");
}
