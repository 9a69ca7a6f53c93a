//! Exact comparison of JSON documents, for regression fixtures and golden files.

use serde_json::Value;

/// Every place where `actual` differs from `expected`, as `path: expected X, got Y`
/// lines (numbers must be bit-identical as f64). At most `limit` lines are returned;
/// the count of all differences is the second value.
pub fn json_mismatches(expected: &Value, actual: &Value, limit: usize) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    let mut count = 0;
    walk(
        expected,
        actual,
        &mut String::from("$"),
        &mut out,
        &mut count,
        limit,
    );
    (out, count)
}

fn note(path: &str, what: String, out: &mut Vec<String>, count: &mut usize, limit: usize) {
    *count += 1;
    if out.len() < limit {
        out.push(format!("{path}: {what}"));
    }
}

fn walk(
    e: &Value,
    a: &Value,
    path: &mut String,
    out: &mut Vec<String>,
    count: &mut usize,
    limit: usize,
) {
    match (e, a) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64(), y.as_f64());
            if x.map(f64::to_bits) != y.map(f64::to_bits) {
                note(
                    path,
                    format!("expected {x:?}, got {y:?}"),
                    out,
                    count,
                    limit,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                note(
                    path,
                    format!("expected {} entries, got {}", x.len(), y.len()),
                    out,
                    count,
                    limit,
                );
                return;
            }
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk(u, v, path, out, count, limit);
                path.truncate(len);
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            for (key, u) in x {
                let len = path.len();
                path.push('.');
                path.push_str(key);
                match y.get(key) {
                    Some(v) => walk(u, v, path, out, count, limit),
                    None => note(path, "missing".into(), out, count, limit),
                }
                path.truncate(len);
            }
            for key in y.keys().filter(|k| !x.contains_key(*k)) {
                note(
                    &format!("{path}.{key}"),
                    "unexpected key".into(),
                    out,
                    count,
                    limit,
                );
            }
        }
        _ if e == a => {}
        _ => note(path, format!("expected {e}, got {a}"), out, count, limit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_one_ulp_and_names_the_path() {
        let a = json!({"layers": [{"weight": [0.1, 0.2]}], "mode": "exploit"});
        let mut b = a.clone();
        b["layers"][0]["weight"][1] = json!(f64::from_bits(0.2f64.to_bits() + 1));
        let (lines, n) = json_mismatches(&a, &b, 10);
        assert_eq!(n, 1);
        assert_eq!(
            lines[0],
            "$.layers[0].weight[1]: expected Some(0.2), got Some(0.20000000000000004)"
        );
        assert_eq!(json_mismatches(&a, &a, 10).1, 0);
    }

    #[test]
    fn structure_differences() {
        let a = json!({"x": [1, 2], "m": "warmup"});
        let b = json!({"x": [1], "m": "steady", "extra": 1});
        let (lines, n) = json_mismatches(&a, &b, 10);
        assert_eq!(n, 3, "{lines:?}");
        assert!(lines
            .iter()
            .any(|l| l.starts_with("$.x: expected 2 entries")));
        assert!(lines
            .iter()
            .any(|l| l.starts_with("$.extra: unexpected key")));
    }
}
