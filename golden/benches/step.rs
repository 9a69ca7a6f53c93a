//! One training step on the two reference workloads of issue 2:
//! a 1024-1024 single layer and a 256-256-256-64 network, K = 16, batch 32, 4 tags.
//! Run with `cargo bench -p lpn-golden --bench step`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lpn_golden::rng::Mulberry32;
use lpn_golden::{Matrix, Network, NetworkSpec};

const ROWS: usize = 32;

fn random_matrix(rows: usize, cols: usize, seed: u32) -> Matrix {
    let mut rng = Mulberry32::new(seed);
    let data = (0..rows * cols)
        .map(|_| rng.next_f64() * 2.0 - 1.0)
        .collect();
    Matrix::from_flat(rows, cols, data).expect("sizes match")
}

fn workload(c: &mut Criterion, name: &str, inputs: usize, hidden: Vec<usize>, outputs: usize) {
    let mut spec = NetworkSpec::new(inputs, hidden, outputs);
    spec.max_neighbors = 16;
    spec.tag_count = 4;
    spec.seed = 1;
    let mut net = Network::new(&spec).expect("valid benchmark network");
    let x = random_matrix(ROWS, inputs, 2);
    let t = random_matrix(ROWS, outputs, 3);
    let mut group = c.benchmark_group("step");
    group.throughput(Throughput::Elements(1));
    group.bench_function(name, |b| {
        b.iter(|| net.step(&x, &t, None).expect("valid batch"))
    });
    group.finish();
}

fn steps(c: &mut Criterion) {
    workload(c, "layer_1024x1024_k16_b32", 1024, vec![], 1024);
    workload(c, "net_256-256-256-64_k16_b32", 256, vec![256, 256], 64);
}

criterion_group!(benches, steps);
criterion_main!(benches);
