//! The fuzzer's CI run: fixed seeds, every target, bounded in cases and time. A longer
//! run is documented in the README (`lpn fuzz --seconds 1800`).

mod common;
use common::{lpn, scratch, text};

#[test]
fn the_fuzzer_finds_nothing_on_fixed_seeds() {
    let dir = scratch("fuzz");
    for (target, cases, seed) in [
        ("scenario", "3000", "11"),
        ("config", "1500", "12"),
        ("vectors", "2000", "13"),
        ("replies", "200", "14"),
    ] {
        let o = lpn()
            .current_dir(&dir)
            .args([
                "fuzz",
                "--target",
                target,
                "--cases",
                cases,
                "--seed",
                seed,
                "--seconds",
                "300",
            ])
            .output()
            .unwrap();
        let out = text(&o.stdout);
        assert!(o.status.success(), "{target}: {}{out}", text(&o.stderr));
        assert!(
            out.contains(&format!("fuzz: {cases} cases, seed {seed}")),
            "{out}"
        );
        assert!(out.contains("nothing found"), "{out}");
    }
}

#[test]
fn fuzz_arguments_are_checked() {
    let o = lpn().args(["fuzz", "--target", "nope"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("unknown fuzz target `nope`"));
    let o = lpn().args(["fuzz", "--cases", "0"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("a fuzz run of nothing finds nothing"));
}
