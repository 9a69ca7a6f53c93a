//! `lpn fuzz`: a bounded, seeded random fuzzer over everything the project reads from
//! outside: scenario JSON, hardware configs (TOML and JSON), golden vector files and
//! the board's reply bytes (the host driver's parser). Every case must end in `Ok` or a
//! one-line error: a panic, or a case that runs longer than the watchdog allows, is a
//! finding; its input is written under `target/fuzz-findings/` and the command fails.
//!
//! Inputs are the project's own valid files, mutated: byte edits (flips, deletions,
//! duplications, truncation, inserted tokens) and, more often, value edits on the
//! parsed JSON (a number, string, array or key replaced by an extreme or wrong value),
//! which get past the parser and reach the checks behind it. Accepted inputs are then
//! used (a scenario trained for a few steps, a config generated to Verilog, vectors
//! replayed on the cycle model), with sizes capped so that a case stays short.

use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lpn_cycle::random::Rng;
use lpn_cycle::vectors::{self, Vectors};
use lpn_cycle::HwConfig;
use lpn_golden::scenario::Scenario;
use serde_json::{json, Value};

/// What can be fuzzed.
pub const TARGETS: [&str; 4] = ["scenario", "config", "vectors", "replies"];

/// A case running longer than this is reported as a hang.
const WATCHDOG: Duration = Duration::from_secs(60);

/// Options of `lpn fuzz`.
pub struct Options {
    /// One of [`TARGETS`] or `all`.
    pub target: String,
    /// Cases per target at most.
    pub cases: u64,
    /// Wall time in all at most.
    pub seconds: f64,
    /// Seed of the mutations.
    pub seed: u32,
}

/// One fuzzing target: a seed input and what to do with a mutated one.
struct Target {
    name: &'static str,
    seeds: Vec<String>,
    run: fn(&str) -> Outcome,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Accepted,
    Refused,
}

/// Runs the fuzzer; the report, or the first finding as the error.
pub fn run(o: &Options) -> Result<String, String> {
    if o.cases == 0 || o.seconds.is_nan() || o.seconds <= 0.0 {
        return Err(
            "--cases and --seconds must be above 0: a fuzz run of nothing finds nothing".into(),
        );
    }
    let names: Vec<&str> = if o.target == "all" {
        TARGETS.to_vec()
    } else if TARGETS.contains(&o.target.as_str()) {
        vec![o.target.as_str()]
    } else {
        return Err(format!(
            "unknown fuzz target `{}` (known: all, {})",
            o.target,
            TARGETS.join(", ")
        ));
    };
    let targets: Vec<Target> = names.iter().map(|n| target(n)).collect::<Result<_, _>>()?;

    // A case that never ends is a finding too: the watchdog reports it and exits.
    let started_ms = Arc::new(AtomicU64::new(u64::MAX));
    let current = Arc::new(std::sync::Mutex::new(String::new()));
    let t0 = Instant::now();
    {
        let started_ms = Arc::clone(&started_ms);
        let current = Arc::clone(&current);
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(500));
            let s = started_ms.load(Ordering::Relaxed);
            let now = t0.elapsed().as_millis() as u64;
            if s != u64::MAX && now.saturating_sub(s) > WATCHDOG.as_millis() as u64 {
                let what = current.lock().map(|c| c.clone()).unwrap_or_default();
                eprintln!(
                    "error: fuzz: a case ran longer than {} s (a hang): {what}",
                    WATCHDOG.as_secs()
                );
                std::process::exit(1);
            }
        });
    }
    // Panics are findings, reported once below; the default hook's message would only
    // interleave with the report.
    let previous_hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let result = cases(o, &targets, &started_ms, &current, t0);
    panic::set_hook(previous_hook);
    result
}

fn cases(
    o: &Options,
    targets: &[Target],
    started_ms: &AtomicU64,
    current: &std::sync::Mutex<String>,
    t0: Instant,
) -> Result<String, String> {
    let mut report = String::new();
    let budget = o.seconds / targets.len() as f64;
    let mut total = 0u64;
    for (ti, t) in targets.iter().enumerate() {
        let mut rng = Rng::new(o.seed.wrapping_add(ti as u32 * 7919));
        let (mut accepted, mut refused, mut n) = (0u64, 0u64, 0u64);
        let t_start = Instant::now();
        while n < o.cases && t_start.elapsed().as_secs_f64() < budget {
            let seed = &t.seeds[rng.below(t.seeds.len())];
            let input = mutate(&mut rng, seed);
            if let Ok(mut c) = current.lock() {
                *c = format!("target {} case {n} (seed {})", t.name, o.seed);
            }
            started_ms.store(t0.elapsed().as_millis() as u64, Ordering::Relaxed);
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| (t.run)(&input)));
            started_ms.store(u64::MAX, Ordering::Relaxed);
            match outcome {
                Ok(Outcome::Accepted) => accepted += 1,
                Ok(Outcome::Refused) => refused += 1,
                Err(payload) => {
                    let why = payload
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    let path = save_finding(t.name, o.seed, n, &input)?;
                    return Err(format!(
                        "fuzz: target {} case {n} (seed {}) panicked: {why}; input saved as {}",
                        t.name,
                        o.seed,
                        path.display()
                    ));
                }
            }
            n += 1;
        }
        total += n;
        let _ = writeln!(
            report,
            "{:<9} {n:>7} cases in {:>6.1} s: {accepted} accepted and used, {refused} refused with an error, no panic, no hang",
            t.name,
            t_start.elapsed().as_secs_f64()
        );
    }
    let _ = writeln!(
        report,
        "fuzz: {total} cases, seed {}, {:.1} s: nothing found",
        o.seed,
        t0.elapsed().as_secs_f64()
    );
    Ok(report)
}

fn save_finding(target: &str, seed: u32, case: u64, input: &str) -> Result<PathBuf, String> {
    let dir = PathBuf::from("target").join("fuzz-findings");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(format!("{target}-seed{seed}-case{case}.txt"));
    crate::files::write(&path, input)?;
    Ok(path)
}

fn target(name: &str) -> Result<Target, String> {
    Ok(match name {
        "scenario" => Target {
            name: "scenario",
            seeds: vec![
                serde_json::to_string(&lpn_golden::tasks::regression_scenario())
                    .map_err(|e| e.to_string())?,
                small_scenario().to_string(),
            ],
            run: scenario_case,
        },
        "config" => Target {
            name: "config",
            seeds: lpn_cycle::PRESETS
                .iter()
                .flat_map(|p| {
                    let c = lpn_cycle::preset(p).expect("presets exist");
                    [
                        format!("toml\n{}", toml::to_string(&c).unwrap_or_default()),
                        format!("json\n{}", serde_json::to_string(&c).unwrap_or_default()),
                    ]
                })
                .collect(),
            run: config_case,
        },
        "vectors" => {
            let v = vectors::generate(
                &small_regression(),
                &lpn_cycle::preset("tiny").map_err(|e| e.to_string())?,
                2,
                "fuzz",
            )
            .map_err(|e| e.to_string())?;
            Target {
                name: "vectors",
                seeds: vec![v.to_json()],
                run: vectors_case,
            }
        }
        "replies" => Target {
            name: "replies",
            seeds: vec![reply_seed()],
            run: replies_case,
        },
        other => return Err(format!("unknown fuzz target `{other}`")),
    })
}

/// The regression scenario cut to 8 rows: the seed of the vector target.
fn small_regression() -> Scenario {
    let mut s = lpn_golden::tasks::regression_scenario();
    for p in &mut s.phases {
        p.x.truncate(8);
        p.target.truncate(8);
    }
    s
}

/// A scenario that uses every optional part: hidden layer, shapes, radius, structural
/// plasticity, replay, a contrastive phase, a probe.
fn small_scenario() -> Value {
    json!({
        "network": {"inputs": 6, "hidden": [4], "outputs": 2, "max_neighbors": 3, "tag_count": 2,
                    "connection_radius": 0.5, "activation": "gelu", "seed": 3,
                    "input_shape": [2, 3],
                    "learning": {"learning_rate": 0.1, "consolidation_strength": 1.0, "consolidation_loss_gate": 0.5},
                    "structural": {"every": 2}},
        "phases": [
            {"x": [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0.6, -0.5, 0.4, -0.3, 0.2, -0.1]],
             "target": [[0.1, -0.1], [0.2, 0.0]], "output_mask": [1.0, 0.5], "steps": 3},
            {"x": [[0.3, 0.1, -0.2, 0.4, 0.0, 0.9]], "steps": 2, "contrastive": {"seed": 1}}
        ],
        "replay": {"capacity": 4, "ratio": 0.5},
        "probe": [[0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]
    })
}

fn scenario_case(text: &str) -> Outcome {
    let Ok(mut s) = Scenario::from_json(text) else {
        return Outcome::Refused;
    };
    // Keep a case short: a few steps, and no layer whose wiring (every output against
    // every input) or training would take long. The limits themselves are tested with
    // the parsing above and in tests/safety.rs.
    let n = &s.network;
    let mut sizes = vec![n.inputs];
    sizes.extend(&n.hidden);
    sizes.push(n.outputs);
    let rows = s.phases.iter().map(|p| p.x.len()).max().unwrap_or(0);
    let work = sizes
        .windows(2)
        .map(|w| w[0].saturating_mul(w[1]))
        .fold(0usize, usize::saturating_add)
        .saturating_mul(rows.max(1));
    if work > 1 << 22 {
        return Outcome::Accepted;
    }
    for p in &mut s.phases {
        p.steps = p.steps.min(3);
    }
    match s.run() {
        Ok(_) => Outcome::Accepted,
        Err(e) => {
            one_line(&e.to_string());
            Outcome::Refused
        }
    }
}

fn config_case(text: &str) -> Outcome {
    let (ext, body) = text.split_once('\n').unwrap_or(("json", text));
    match HwConfig::parse(body, Some(ext)) {
        Ok(c) => {
            // Generation is checked where it stays quick (the presets' sizes).
            if c.synapses() <= 1 << 16 && c.lanes <= 8 {
                if let Err(e) = lpn_rtl::engine::generate(&c) {
                    one_line(&e.to_string());
                }
            }
            Outcome::Accepted
        }
        Err(e) => {
            one_line(&e.to_string());
            Outcome::Refused
        }
    }
}

fn vectors_case(text: &str) -> Outcome {
    match Vectors::from_json(text) {
        Ok(v) => {
            if v.config.synapses() <= 1 << 12 && v.steps.len() <= 8 {
                if let Err(e) = vectors::replay(&v) {
                    one_line(&e.to_string());
                }
            }
            Outcome::Accepted
        }
        Err(e) => {
            one_line(&e.to_string());
            Outcome::Refused
        }
    }
}

/// A valid conversation of the tiny board: INFO, STATUS, a READ of two words.
fn reply_seed() -> String {
    use lpn_rtl::protocol::{reply, Link, Status};
    let c = lpn_cycle::preset("tiny").expect("tiny exists");
    let info = Link::new(&c, 0).expect("tiny links").info;
    let mut bytes = reply(Status::Ok, &info);
    bytes.extend(reply(
        Status::Ok,
        &[
            2, 3, 7, 0, 0, 0, 9, 0, 0, 0, 4, 0, 0, 0, 8, 0, 0, 0, 21, 0, 0, 0,
        ],
    ));
    bytes.extend(reply(Status::Ok, &[1, 0, 0, 0, 2, 0, 0, 0]));
    // Bytes as Latin-1 characters, so the byte mutations apply to them unchanged.
    bytes.iter().map(|&b| b as char).collect()
}

fn replies_case(text: &str) -> Outcome {
    use lpn_host::scripted::Scripted;
    let bytes: Vec<u8> = text.chars().map(|c| c as u32 as u8).collect();
    let c = lpn_cycle::preset("tiny").expect("tiny exists");
    let mut board = match lpn_host::Board::open(Scripted::new(bytes), &c) {
        Ok(b) => b,
        Err(e) => {
            one_line(&e.to_string());
            return Outcome::Refused;
        }
    };
    let status = board.status();
    let reads = lpn_rtl::hostmap::state_reads(&c, c.layer.outputs);
    let words = board.read_all(&reads[..2]);
    match (status, words) {
        (Ok(_), Ok(w)) => {
            assert_eq!(w.len(), 2, "a READ of 2 words gave {} words", w.len());
            Outcome::Accepted
        }
        (s, w) => {
            for e in [
                s.err().map(|e| e.to_string()),
                w.err().map(|e| e.to_string()),
            ]
            .into_iter()
            .flatten()
            {
                one_line(&e);
            }
            Outcome::Refused
        }
    }
}

/// Errors are one line: a newline in one is a finding.
fn one_line(e: &str) {
    assert!(!e.contains('\n'), "an error of more than one line: {e:?}");
}

/// A mutated copy of `seed`: value edits on its JSON (when it is JSON) or byte edits.
fn mutate(rng: &mut Rng, seed: &str) -> String {
    let (prefix, body) = match seed.split_once('\n') {
        Some((ext @ ("toml" | "json"), body)) => (format!("{ext}\n"), body),
        _ => (String::new(), seed),
    };
    let toml = prefix == "toml\n";
    let parsed = if toml {
        toml::from_str::<Value>(body).ok()
    } else {
        serde_json::from_str::<Value>(body).ok()
    };
    let edited = if rng.chance(0.6) {
        parsed.map(|mut v| {
            for _ in 0..if rng.chance(0.7) { 1 } else { rng.range(2, 4) } {
                edit_value(rng, &mut v);
            }
            // TOML has no null: such an edit goes out as JSON.
            match toml.then(|| toml::to_string(&v).ok()).flatten() {
                Some(t) => t,
                None => v.to_string(),
            }
        })
    } else {
        None
    }
    .unwrap_or_else(|| {
        let mut b: Vec<char> = body.chars().collect();
        for _ in 0..rng.range(1, 4) {
            edit_chars(rng, &mut b);
        }
        b.into_iter().collect()
    });
    // A TOML seed edited as JSON is now JSON.
    let prefix = if prefix == "toml\n" && edited.starts_with('{') {
        "json\n".to_string()
    } else {
        prefix
    };
    prefix + &edited
}

const TOKENS: [&str; 16] = [
    "-1",
    "0",
    "1e308",
    "-1e308",
    "NaN",
    "null",
    "[]",
    "{}",
    "\"\"",
    "18446744073709551616",
    "4294967296",
    "99999999",
    "true",
    "\"x\"",
    ",",
    "\u{0}",
];

fn edit_chars(rng: &mut Rng, b: &mut Vec<char>) {
    if b.is_empty() {
        b.extend(TOKENS[rng.below(TOKENS.len())].chars());
        return;
    }
    let i = rng.below(b.len());
    match rng.below(6) {
        0 => b[i] = char::from_u32(rng.below(256) as u32).unwrap_or('?'),
        1 => {
            let n = rng.range(1, 16).min(b.len() - i);
            b.drain(i..i + n);
        }
        2 => {
            let n = rng.range(1, 16).min(b.len() - i);
            let piece: Vec<char> = b[i..i + n].to_vec();
            b.splice(i..i, piece);
        }
        3 => b.truncate(i),
        _ => {
            let t: Vec<char> = TOKENS[rng.below(TOKENS.len())].chars().collect();
            b.splice(i..i, t);
        }
    }
}

fn edit_value(rng: &mut Rng, v: &mut Value) {
    // Walk to a random node, most often a leaf.
    let mut node = v;
    loop {
        let children = match node {
            Value::Object(m) => m.len(),
            Value::Array(a) => a.len(),
            _ => 0,
        };
        if children == 0 || rng.chance(0.15) {
            break;
        }
        let i = rng.below(children);
        node = match node {
            Value::Object(m) => m.values_mut().nth(i).expect("index below len"),
            Value::Array(a) => &mut a[i],
            _ => unreachable!("has children"),
        };
    }
    // Half the edits stay near the value (a number nudged, halved or doubled): those
    // get past the parser and reach the range checks and the code behind them.
    if let Value::Number(n) = node {
        if rng.chance(0.5) {
            let x = n.as_f64().unwrap_or(0.0);
            let nudged = match rng.below(5) {
                0 => x + 1.0,
                1 => x - 1.0,
                2 => x * 2.0,
                3 => (x / 2.0).floor(),
                _ => x * 1.5,
            };
            *node = if n.is_f64() {
                json!(nudged)
            } else {
                json!(nudged as i64)
            };
            return;
        }
    }
    let replacement = match rng.below(14) {
        0 => json!(null),
        1 => json!(-1),
        2 => json!(0),
        3 => json!(1e300),
        4 => json!(-1e300),
        5 => json!(4294967296u64),
        6 => json!(""),
        7 => json!([]),
        8 => json!({}),
        9 => json!(true),
        10 => json!(rng.below(70)),
        11 => match node {
            Value::Number(n) => json!(n.as_f64().unwrap_or(0.0) * -3.0),
            _ => json!(0.5),
        },
        12 => match node {
            // Drop an element or a key.
            Value::Array(a) if !a.is_empty() => {
                a.remove(rng.below(a.len()));
                return;
            }
            Value::Object(m) if !m.is_empty() => {
                let k = m
                    .keys()
                    .nth(rng.below(m.len()))
                    .cloned()
                    .unwrap_or_default();
                m.remove(&k);
                return;
            }
            _ => json!(1),
        },
        _ => match node {
            // Duplicate an element (a row too many, a longer list).
            Value::Array(a) if !a.is_empty() => {
                let e = a[rng.below(a.len())].clone();
                a.push(e);
                return;
            }
            _ => json!(2),
        },
    };
    *node = replacement;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picky(text: &str) -> Outcome {
        assert!(!text.contains('7'), "a seven");
        Outcome::Accepted
    }

    /// A target that panics on some inputs is reported, with the input saved.
    #[test]
    fn a_panic_is_a_finding() {
        let targets = [Target {
            name: "picky",
            seeds: vec!["[1, 2, 3, 4, 5, 6, 8, 9]".into()],
            run: picky,
        }];
        let o = Options {
            target: "picky".into(),
            cases: 10_000,
            seconds: 60.0,
            seed: 3,
        };
        let started = AtomicU64::new(u64::MAX);
        let current = std::sync::Mutex::new(String::new());
        let e = cases(&o, &targets, &started, &current, Instant::now()).unwrap_err();
        assert!(e.contains("panicked: a seven"), "{e}");
        let saved = e.rsplit("input saved as ").next().unwrap();
        assert!(std::fs::read_to_string(saved).unwrap().contains('7'));
    }
}
