//! Speed of the cycle model: simulated cycles per second and slot updates per second
//! for one update on the tiny preset (32 rows) and on the ECP5-25k preset (8 rows).
//! `cargo bench -p lpn-cycle --bench engine`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lpn_cycle::train::synthetic;
use lpn_cycle::{cycle_formula, preset, Engine};

fn engine(c: &mut Criterion) {
    for (name, rows) in [("tiny", 32), ("ecp5-25k", 8)] {
        let config = preset(name).unwrap();
        let (wiring, state, input) = synthetic(&config, rows, 1).unwrap();
        let mut e = Engine::new(&config).unwrap();
        e.load(&wiring, &state).unwrap();
        let cycles = cycle_formula(&config, rows).total;
        for (unit, count) in [
            ("cycles", cycles),
            ("slot-updates", config.synapses() as u64),
        ] {
            let mut g = c.benchmark_group(format!("update/{unit}"));
            g.throughput(Throughput::Elements(count));
            g.bench_function(format!("{name}-{rows}rows"), |b| {
                b.iter(|| {
                    // The same start state every time: reload, then one update.
                    e.load(&wiring, &state).unwrap();
                    e.update(&input).unwrap()
                })
            });
            g.finish();
        }
    }
}

criterion_group!(benches, engine);
criterion_main!(benches);
