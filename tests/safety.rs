//! Nothing lost, nothing nonsensical: outputs that would overwrite an input, values
//! outside their domain, diverging runs, inputs too large to hold and requests that would
//! do nothing are each one clear line and exit 1, and leave every file as it was.
//! Each case here succeeded (and lost data or wrote nonsense) before it was refused.

use std::path::{Path, PathBuf};

mod common;
use common::{lpn, repo, scratch, text};

/// Runs `lpn args` in `dir`; asserts exit 1, one `error:` line containing `want`, no panic.
fn refused(dir: &Path, args: &[&str], want: &str) {
    let o = lpn().current_dir(dir).args(args).output().unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
    assert!(err.contains(want), "{args:?}: wanted `{want}` in {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
}

/// A folder holding the shipped regression scenario as `s.json`.
fn with_scenario(name: &str) -> PathBuf {
    let dir = scratch(name);
    std::fs::copy(repo("scenarios/regression.json"), dir.join("s.json")).unwrap();
    dir
}

fn edited(dir: &Path, name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("s.json")).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(dir.join(name), v.to_string()).unwrap();
    name.to_string()
}

/// `v.json`: two steps of golden vectors from `s.json`.
fn two_step_vectors(dir: &Path) {
    lpn_ok(
        dir,
        &[
            "golden",
            "gen",
            "--scenario",
            "s.json",
            "--out",
            "v.json",
            "--steps",
            "2",
        ],
    );
}

fn lpn_ok(dir: &Path, args: &[&str]) {
    let o = lpn().current_dir(dir).args(args).output().unwrap();
    assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
}

#[test]
fn an_output_never_overwrites_an_input() {
    let dir = with_scenario("safety-clobber");
    let before = std::fs::read(dir.join("s.json")).unwrap();
    let overwrite = "refusing to overwrite an input";
    refused(
        &dir,
        &["ref", "run", "s.json", "--out", "s.json"],
        overwrite,
    );
    refused(
        &dir,
        &["ref", "run", "s.json", "--out", "./s.json"],
        overwrite,
    );
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(dir.join("s.json"), dir.join("link.json")).unwrap();
        refused(
            &dir,
            &["ref", "run", "s.json", "--out", "link.json"],
            overwrite,
        );
    }
    refused(
        &dir,
        &[
            "golden",
            "gen",
            "--scenario",
            "s.json",
            "--out",
            "s.json",
            "--steps",
            "2",
        ],
        overwrite,
    );
    assert_eq!(
        std::fs::read(dir.join("s.json")).unwrap(),
        before,
        "the scenario is intact"
    );

    two_step_vectors(&dir);
    let vectors = std::fs::read(dir.join("v.json")).unwrap();
    refused(
        &dir,
        &["sim", "--vectors", "v.json", "--json", "v.json"],
        overwrite,
    );
    refused(
        &dir,
        &[
            "sim",
            "--backend",
            "verilator",
            "--vectors",
            "v.json",
            "--json",
            "w.json",
            "--vcd",
            "w.json",
        ],
        "both name w.json",
    );
    assert_eq!(
        std::fs::read(dir.join("v.json")).unwrap(),
        vectors,
        "the vectors are intact"
    );

    // A config file where `lpn gen` writes its manifest.
    std::fs::create_dir_all(dir.join("rtl")).unwrap();
    let tiny = serde_json::to_string(&lpn_cycle::preset("tiny").unwrap()).unwrap();
    std::fs::write(dir.join("rtl/manifest.json"), tiny).unwrap();
    let config = std::fs::read(dir.join("rtl/manifest.json")).unwrap();
    refused(
        &dir,
        &["gen", "--config", "rtl/manifest.json", "--out", "rtl"],
        overwrite,
    );
    assert_eq!(
        std::fs::read(dir.join("rtl/manifest.json")).unwrap(),
        config
    );
}

#[test]
fn a_write_is_reported_only_once_it_happened() {
    let dir = with_scenario("safety-report");
    two_step_vectors(&dir);
    // The folder is checked before anything runs, so no tool is needed to see this.
    refused(
        &dir,
        &[
            "sim",
            "--backend",
            "verilator",
            "--vectors",
            "v.json",
            "--vcd",
            "missing/dir/w.vcd",
        ],
        "cannot write missing/dir/w.vcd: no folder missing/dir",
    );
    refused(
        &dir,
        &["ref", "run", "s.json", "--out", "."],
        "it is a folder",
    );
    // A successful write leaves no temporary file behind.
    lpn_ok(&dir, &["ref", "run", "s.json", "--out", "r.json"]);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["r.json", "s.json", "v.json"]);
}

#[test]
fn values_outside_their_domain_are_refused_with_the_field_named() {
    let dir = with_scenario("safety-domains");
    let mask = edited(&dir, "mask.json", |v| {
        v["phases"][0]["output_mask"] = serde_json::json!([1, -1, 1, 1])
    });
    refused(
        &dir,
        &["ref", "run", &mask],
        "phases[0].output_mask[1]: -1 is not a weight",
    );
    let lr = edited(&dir, "lr.json", |v| {
        v["network"]["learning"] = serde_json::json!({"learning_rate": -0.1})
    });
    refused(
        &dir,
        &["ref", "run", &lr],
        "network.learning.learning_rate: -0.1 is outside its domain: > 0",
    );
    let evap = edited(&dir, "evap.json", |v| {
        v["network"]["learning"] = serde_json::json!({"evaporation": 1.5})
    });
    refused(
        &dir,
        &["ref", "run", &evap],
        "network.learning.evaporation: 1.5 is outside its domain: in [0, 1]",
    );
    // The hardware takes the same learning constants.
    std::fs::write(
        dir.join("c.toml"),
        "[layer]\ninputs = 16\noutputs = 4\nk = 8\n[learning]\nlearning_rate = -0.1\n",
    )
    .unwrap();
    refused(
        &dir,
        &["hw", "config", "--config", "c.toml"],
        "learning.learning_rate: -0.1 is outside its domain",
    );
}

#[test]
fn a_diverging_run_stops_at_the_step_instead_of_writing_nulls() {
    let dir = with_scenario("safety-diverge");
    let huge = edited(&dir, "huge.json", |v| {
        v["phases"][0]["x"][0][0] = serde_json::json!(1e300)
    });
    refused(
        &dir,
        &["ref", "run", &huge, "--out", "r.json"],
        "phases[0] step 1 (step 1 in all): the loss is inf: the run diverged",
    );
    refused(
        &dir,
        &["golden", "gen", "--scenario", &huge, "--out", "v.json"],
        "step 0: the loss is inf: the run diverged",
    );
    assert!(!dir.join("r.json").exists() && !dir.join("v.json").exists());
}

#[test]
fn inputs_too_large_to_hold_are_refused_before_they_are_read_or_allocated() {
    let dir = with_scenario("safety-limits");
    let big = edited(&dir, "big.json", |v| {
        v["network"]["hidden"] = serde_json::json!([4194304, 4194304])
    });
    let t0 = std::time::Instant::now();
    refused(
        &dir,
        &["ref", "run", &big],
        "need about 17.9 GiB (estimate), above the limit of 4 GiB",
    );
    // The batch shapes are checked before the network is built.
    let shape = edited(&dir, "shape.json", |v| {
        v["network"]["hidden"] = serde_json::json!([4194304, 4194304]);
        v["phases"][0]["x"][0] = serde_json::json!([1.0]);
    });
    refused(
        &dir,
        &["ref", "run", &shape],
        "phases[0].x[0]: expected 16 values, got 1",
    );
    assert!(
        t0.elapsed().as_secs() < 60,
        "refused without building the network"
    );

    // A file larger than the limit is refused by its size (sparse: nothing is written).
    let f = std::fs::File::create(dir.join("huge.vectors.json")).unwrap();
    f.set_len(lpn_golden::input::MAX_VECTORS_BYTES + 1).unwrap();
    refused(
        &dir,
        &["sim", "--vectors", "huge.vectors.json"],
        "above the limit of 256 MiB for a vector file",
    );
    #[cfg(unix)]
    {
        refused(
            &dir,
            &["ref", "run", "/dev/zero"],
            "goes on past the limit of 256 MiB for a scenario",
        );
        refused(
            &dir,
            &["sim", "--vectors", "/dev/zero"],
            "goes on past the limit of 256 MiB for a vector file",
        );
    }

    std::fs::write(
        dir.join("lanes.toml"),
        "lanes = 1048576\n[layer]\ninputs = 16\noutputs = 1048576\nk = 8\n",
    )
    .unwrap();
    refused(
        &dir,
        &["gen", "--config", "lanes.toml", "--out", "rtl"],
        "lanes = 1048576: at most 1024",
    );
    assert!(!dir.join("rtl").exists());
}

#[test]
fn configs_and_vector_files_are_read_as_documented() {
    let dir = with_scenario("safety-formats");
    // Each file: (name, contents, what the error says).
    for (name, body, want) in [
        ("empty.toml", "name = \"x\"\n", "layer: missing"),
        (
            "spram.toml",
            "[layer]\ninputs = 16\noutputs = 4\nk = 8\n[memory]\npre = \"spram\"\n",
            "SPRAM exists only on the iCE40 UltraPlus, not on generic",
        ),
        (
            "c.txt",
            "[layer]\ninputs = 16\noutputs = 4\nk = 8\n",
            "nor a file ending in .toml or .json",
        ),
    ] {
        std::fs::write(dir.join(name), body).unwrap();
        refused(&dir, &["hw", "config", "--config", name], want);
    }

    two_step_vectors(&dir);
    let v = std::fs::read_to_string(dir.join("v.json")).unwrap();
    let dup = v.replacen('{', "{\"source\":\"twice\",", 1);
    std::fs::write(dir.join("dup.json"), dup).unwrap();
    refused(
        &dir,
        &["sim", "--vectors", "dup.json"],
        "duplicate field `source`",
    );
}

#[test]
fn a_request_to_do_nothing_is_not_a_success() {
    let dir = with_scenario("safety-nothing");
    refused(
        &dir,
        &[
            "golden",
            "gen",
            "--scenario",
            "s.json",
            "--out",
            "v.json",
            "--steps",
            "0",
        ],
        "--steps 0",
    );
    assert!(!dir.join("v.json").exists());
    refused(
        &dir,
        &["soak", "--configs", "0"],
        "a soak needs at least one configuration",
    );
    refused(
        &dir,
        &["soak", "--configs", "4", "--steps", "2"],
        "at least one update per configuration",
    );
    refused(
        &dir,
        &["board", "--scenario", "s.json", "--steps", "0"],
        "--steps 0: nothing to train",
    );
    refused(
        &dir,
        &["demo", "--scenario", "s.json", "--steps", "0"],
        "--steps 0: nothing to train",
    );
}

/// A waveform is reported once it exists, whole: `sim --vcd` and `board --vcd` (the
/// simulators write under a temporary name that is renamed when they have finished).
#[test]
fn waveforms_are_written_whole_and_then_reported() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    let dir = with_scenario("safety-vcd");
    two_step_vectors(&dir);
    let cache = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("rtl-cache");
    for (args, file) in [
        (
            vec![
                "sim",
                "--backend",
                "verilator",
                "--vectors",
                "v.json",
                "--vcd",
                "sim.vcd",
            ],
            "sim.vcd",
        ),
        (
            vec![
                "board",
                "--scenario",
                "s.json",
                "--steps",
                "2",
                "--vcd",
                "board.vcd",
            ],
            "board.vcd",
        ),
    ] {
        let o = lpn()
            .current_dir(&dir)
            .env("LPN_RTL_CACHE", &cache)
            .args(&args)
            .output()
            .unwrap();
        let out = text(&o.stdout);
        assert!(o.status.success(), "{args:?}: {}{out}", text(&o.stderr));
        assert!(out.contains(&format!("wrote waveform {file}")), "{out}");
        let vcd = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(
            vcd.starts_with("$version") || vcd.starts_with("$date"),
            "{file}"
        );
        assert!(vcd.contains("$enddefinitions"), "{file}");
    }
    // No temporary file is left behind.
    let leftovers: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("lpn-partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
