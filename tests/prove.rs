//! `lpn prove` in CI: every formal property of the generated RTL holds on a small
//! engine (formal/small.toml) and fails on its mutant, so a pass means something.

mod common;
use common::{lpn, repo, text};

/// `lpn prove` with `args` from the repository's root: its report, after checking that
/// it succeeded.
fn prove(args: &[&str]) -> String {
    let o = lpn()
        .current_dir(repo(""))
        .arg("prove")
        .args(args)
        .output()
        .unwrap();
    let out = text(&o.stdout);
    assert!(o.status.success(), "{args:?}: {out}{}", text(&o.stderr));
    out
}

#[test]
fn every_property_holds_and_fails_on_its_mutant() {
    lpn_toolchain::require(lpn_toolchain::Tool::Sby);
    lpn_toolchain::require(lpn_toolchain::Tool::YicesSmt2);
    let out = prove(&[
        "--config",
        "formal/small.toml",
        "--property",
        "idle,divider,apply-writes,ranges",
        "--mutants",
    ]);
    for property in ["idle", "divider", "apply-writes", "ranges"] {
        let block: Vec<&str> = out
            .lines()
            .skip_while(|l| !l.starts_with(&format!("{property}:")))
            .take(3)
            .collect();
        assert!(block[1].trim_start().starts_with("rtl      PASS"), "{out}");
        assert!(
            block[2]
                .trim_start()
                .starts_with("mutant   FAIL  failed assertion"),
            "{out}"
        );
    }
    assert!(
        out.contains("every property holds and fails on its mutant"),
        "{out}"
    );
}

#[test]
fn prove_arguments_are_checked() {
    let o = lpn()
        .args(["prove", "--property", "nope"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains(
        "unknown property `nope` (known: all, idle, divider, apply-writes, ranges, bridge)"
    ));
    let o = lpn()
        .args(["prove", "--property", "idle,nope2"])
        .output()
        .unwrap();
    assert!(text(&o.stderr).contains("unknown property `nope2`"));
    let o = lpn().args(["prove", "--depth", "0"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("--depth 0 checks nothing"));
}

/// The bridge of the small engine's boards and of both board tops' presets (the
/// iCEBreaker's `ice40-up5k`, the ULX3S's `ecp5-85k`), for any byte stream: to depth 15
/// in CI (every stream of up to 13 bytes: START frames and their execution; a one-word
/// WRITE needs depth 27, about 200 s each, `lpn prove --config C --property bridge`), and
/// the mutant that takes every checksum for good fails.
#[test]
fn a_refused_frame_never_starts_the_engine_or_writes_its_memories() {
    lpn_toolchain::require(lpn_toolchain::Tool::Sby);
    for config in ["formal/small.toml", "ice40-up5k", "ecp5-85k"] {
        let out = prove(&[
            "--config",
            config,
            "--property",
            "bridge",
            "--depth",
            "15",
            "--mutants",
        ]);
        assert!(
            out.contains("rtl      PASS  proven to depth 15 (--depth; the property's own is 27)"),
            "{config}: {out}"
        );
        assert!(
            out.contains("mutant   FAIL  failed assertion at step"),
            "{config}: {out}"
        );
    }
}

/// The tiny preset's engine returns to idle exactly at the cycle formula for every rows
/// value up to its 32 (depth 585; its divider, 5.5 min, is proven on the small formats
/// above instead).
#[test]
fn the_tiny_engine_returns_to_idle_at_the_cycle_formula() {
    lpn_toolchain::require(lpn_toolchain::Tool::Sby);
    let out = prove(&["--config", "tiny", "--property", "idle"]);
    assert!(out.contains("rtl      PASS  proven to depth 585"), "{out}");
}
