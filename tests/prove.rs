//! `lpn prove` in CI: every formal property of the generated RTL holds on a small
//! engine (formal/small.toml) and fails on its mutant, so a pass means something.

mod common;
use common::{lpn, repo, text};

#[test]
fn every_property_holds_and_fails_on_its_mutant() {
    lpn_toolchain::require(lpn_toolchain::Tool::Sby);
    lpn_toolchain::require(lpn_toolchain::Tool::YicesSmt2);
    let o = lpn()
        .current_dir(repo(""))
        .args(["prove", "--config", "formal/small.toml", "--mutants"])
        .output()
        .unwrap();
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}{}", text(&o.stderr));
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
    assert!(text(&o.stderr)
        .contains("unknown property `nope` (known: all, idle, divider, apply-writes, ranges)"));
}

/// The tiny preset's engine returns to idle exactly at the cycle formula for every rows
/// value up to its 32 (depth 585; its divider, 5.5 min, is proven on the small formats
/// above instead).
#[test]
fn the_tiny_engine_returns_to_idle_at_the_cycle_formula() {
    lpn_toolchain::require(lpn_toolchain::Tool::Sby);
    let o = lpn()
        .current_dir(repo(""))
        .args(["prove", "--config", "tiny", "--property", "idle"])
        .output()
        .unwrap();
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}{}", text(&o.stderr));
    assert!(out.contains("rtl      PASS  proven to depth 585"), "{out}");
}
