//! `Module::const_compare` (the shared pipeline's clamps compare with constants as logic,
//! not carry chains): under Verilator, for every value of a 7-bit signed and a 7-bit
//! unsigned input, `a > k` and `a < k` for constants across each range (its ends, zero,
//! powers of two and their neighbours) equal the integer comparisons.

use std::path::PathBuf;

use lpn_flow::verilator;
use lpn_rtl::rtl::{Dir, Module, Ty};

const BITS: u32 = 7;

fn constants(signed: bool) -> Vec<i128> {
    let (lo, hi) = if signed {
        (-(1i128 << (BITS - 1)), (1i128 << (BITS - 1)) - 1)
    } else {
        (0, (1i128 << BITS) - 1)
    };
    let mut ks = vec![lo, lo + 1, 0, 1, 5, 21, hi - 1, hi];
    for p in 1..BITS - 1 {
        for d in [-1, 0, 1] {
            ks.push((1i128 << p) + d);
            ks.push(-(1i128 << p) + d);
        }
    }
    ks.retain(|k| (lo..=hi).contains(k));
    ks.sort();
    ks.dedup();
    ks
}

#[test]
fn compares_with_constants_equal_the_integer_comparisons() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    let mut m = Module::new("lpn_compare", &[]);
    let a = m.port(Dir::Input, "a", Ty::s(BITS));
    let b = m.port(Dir::Input, "b", Ty::u(BITS));
    let mut expected: Vec<Box<dyn Fn(i128, i128) -> bool>> = Vec::new();
    for (x, signed) in [(&a, true), (&b, false)] {
        for k in constants(signed) {
            for above in [true, false] {
                let tag = format!(
                    "{}_{}_{}",
                    x.name,
                    if above { "gt" } else { "lt" },
                    k.unsigned_abs()
                ) + if k < 0 { "n" } else { "" };
                let bit = m.const_compare(&tag, x, above, k);
                let out = m.port(Dir::Output, &format!("o_{tag}"), Ty::BIT);
                m.assign(&out, &bit);
                let is_a = signed;
                expected.push(Box::new(move |va, vb| {
                    let v = if is_a { va } else { vb };
                    if above {
                        v > k
                    } else {
                        v < k
                    }
                }));
            }
        }
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("compare");
    std::fs::create_dir_all(&dir).unwrap();
    verilator::lint(&dir, &[("lpn_compare.v".into(), m.emit())], "lpn_compare").unwrap();
    let model = verilator::build(
        &dir,
        "lpn_compare",
        &[("lpn_compare.v".into(), m.emit())],
        &verilator::comb_harness(&m),
    )
    .unwrap();
    let n = 1i128 << BITS;
    let half = 1i128 << (BITS - 1);
    let cases: Vec<(i128, i128)> = (0..n).map(|i| (i - half, (i * 37 + 11) % n)).collect();
    let input: String = cases.iter().map(|(a, b)| format!("{a} {b}\n")).collect();
    let out = verilator::run(&model, &input, &dir).unwrap();
    let mut checked = 0;
    for ((va, vb), line) in cases.iter().zip(out.lines()) {
        let got: Vec<bool> = line.split_whitespace().map(|x| x == "1").collect();
        assert_eq!(got.len(), expected.len());
        for (i, f) in expected.iter().enumerate() {
            assert_eq!(got[i], f(*va, *vb), "a {va} b {vb} output {i}");
            checked += 1;
        }
    }
    assert_eq!(checked, cases.len() * expected.len());
}
