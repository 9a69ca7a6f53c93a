//! Bad scenario files are errors, never panics: 3000 seeded random mutations of a valid
//! scenario (keys removed, values replaced by other types, extreme or negative numbers,
//! rows shortened) are parsed and run; every outcome must be Ok or Err.

use lpn_golden::rng::Mulberry32;
use lpn_golden::scenario::Scenario;
use serde_json::{json, Value};

fn base() -> Value {
    json!({
        "network": {"inputs": 6, "hidden": [4], "outputs": 2, "max_neighbors": 3, "tag_count": 2,
                    "connection_radius": 0.5, "activation": "tanh", "seed": 3,
                    "learning": {"learning_rate": 0.1, "consolidation_strength": 1.0},
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

/// Every path to a value in `v`.
fn paths(v: &Value, prefix: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(prefix.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                prefix.push(Value::from(k.clone()));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                prefix.push(Value::from(i));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

/// The value at `path`, if an earlier mutation left one there.
fn at<'a>(v: &'a mut Value, path: &[Value]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |v, key| match key {
        Value::String(k) => v.get_mut(k.as_str()),
        Value::Number(i) => v.get_mut(i.as_u64()? as usize),
        _ => None,
    })
}

#[test]
fn mutated_scenarios_never_panic() {
    let replacements = [
        json!(null),
        json!(-1),
        json!(0),
        json!(1e300),
        json!(-1e300),
        json!(4294967296u64),
        json!(""),
        json!("gelu"),
        json!([]),
        json!([[]]),
        json!({}),
        json!(true),
        json!(0.5),
        json!(5000),
    ];
    let mut all = Vec::new();
    paths(&base(), &mut Vec::new(), &mut all);
    let mut rng = Mulberry32::new(77);
    let mut outcomes = (0, 0);
    for _ in 0..3000 {
        let mut doc = base();
        for _ in 0..1 + (rng.next_f64() * 3.0) as usize {
            let path = &all[(rng.next_f64() * all.len() as f64) as usize];
            if path.is_empty() {
                continue;
            }
            let (last, parent) = path.split_last().unwrap();
            let roll = rng.next_f64();
            let replacement =
                replacements[(rng.next_f64() * replacements.len() as f64) as usize].clone();
            let Some(target) = at(&mut doc, parent) else {
                continue;
            };
            match (target, last) {
                (Value::Object(m), Value::String(k)) if roll < 0.3 => {
                    m.remove(k);
                }
                (Value::Array(a), Value::Number(i)) if roll < 0.3 => {
                    let i = i.as_u64().unwrap() as usize;
                    if i < a.len() {
                        a.remove(i);
                    }
                }
                (t, _) => {
                    if let Some(slot) = at(t, std::slice::from_ref(last)) {
                        *slot = replacement;
                    }
                }
            }
        }
        let text = doc.to_string();
        let result = std::panic::catch_unwind(|| {
            Scenario::from_json(&text).and_then(|s| s.run()).map(|_| ())
        });
        match result {
            Ok(Ok(())) => outcomes.0 += 1,
            Ok(Err(e)) => {
                assert!(!e.to_string().contains('\n'), "one line: {e}");
                outcomes.1 += 1;
            }
            Err(_) => panic!("panicked on {text}"),
        }
    }
    assert!(outcomes.0 > 100 && outcomes.1 > 1000, "{outcomes:?}");
}
