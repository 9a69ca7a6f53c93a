//! `lpn golden gen`, `lpn sim`, `lpn hw config` and `lpn hw points` as a user drives them.

mod common;
use common::{lpn, repo, scratch, text};

#[test]
fn gen_writes_the_shipped_vectors_and_sim_replays_them() {
    let dir = scratch("hw-gen");
    let out = dir.join("v.json");
    let gen = lpn()
        .args(["golden", "gen", "--scenario"])
        .arg(repo("golden/vectors/regression.scenario.json"))
        .args(["--config", "tiny", "--steps", "40", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(gen.status.success(), "{}", text(&gen.stderr));
    let written = std::fs::read_to_string(&out).unwrap();
    let shipped = std::fs::read_to_string(repo("golden/vectors/regression.vectors.json")).unwrap();
    assert!(written == shipped, "the CLI and the shipped vectors differ");

    let sim = lpn()
        .args(["sim", "--backend", "cycle", "--vectors"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = text(&sim.stdout);
    assert!(sim.status.success(), "{stdout}{}", text(&sim.stderr));
    assert!(
        stdout.contains("cycle formula: (rows + 2) * 16 + 35 per update"),
        "{stdout}"
    );
    assert!(stdout.contains("bit-exact"), "{stdout}");
    assert!(stdout.contains("selection agreement: 640/640"), "{stdout}");
    // One table row per step, with the cycles of each phase.
    assert!(
        stdout.lines().any(|l| l.trim_start().starts_with("39 ")
            && l.contains(" exploit ")
            && l.contains(" 519 ")
            && l.contains(" 579 ")),
        "{stdout}"
    );
}

#[test]
fn sim_fails_on_a_corrupted_vector_and_names_the_place() {
    let dir = scratch("hw-corrupt");
    let shipped =
        std::fs::read_to_string(repo("golden/vectors/masked_nogate.vectors.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&shipped).unwrap();
    let w = &mut v["steps"][3]["expected"]["state"]["weight"][5];
    *w = serde_json::json!(w.as_i64().unwrap() + 1);
    let path = dir.join("bad.json");
    std::fs::write(&path, v.to_string()).unwrap();
    let sim = lpn()
        .args(["sim", "--vectors"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(sim.status.code(), Some(1));
    assert!(
        text(&sim.stdout).contains("step 3 slot 5 field weight: expected"),
        "{}",
        text(&sim.stdout)
    );
    assert!(
        text(&sim.stderr).starts_with("error: the engine disagrees"),
        "{}",
        text(&sim.stderr)
    );
}

#[test]
fn bad_input_is_one_line_and_exit_1() {
    let dir = scratch("hw-bad");
    let junk = dir.join("junk.json");
    std::fs::write(&junk, "{\"format\":\"lpn-golden-vectors\",\"version\":7}").unwrap();
    let deep = dir.join("deep.json");
    let mut sc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo("golden/vectors/regression.scenario.json")).unwrap(),
    )
    .unwrap();
    sc["network"]["hidden"] = serde_json::json!([4]);
    std::fs::write(&deep, sc.to_string()).unwrap();
    let out = dir.join("o.json");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["sim".into(), "--vectors".into(), junk.display().to_string()],
            "version 7 is not supported",
        ),
        (
            vec![
                "sim".into(),
                "--backend".into(),
                "fpga".into(),
                "--vectors".into(),
                junk.display().to_string(),
            ],
            "backend `fpga` is not available",
        ),
        (
            vec!["sim".into(), "--vectors".into(), "/nonexistent.json".into()],
            "cannot read vector file /nonexistent.json",
        ),
        (
            vec![
                "golden".into(),
                "gen".into(),
                "--scenario".into(),
                deep.display().to_string(),
                "--out".into(),
                out.display().to_string(),
            ],
            "the engine updates one layer",
        ),
        (
            vec![
                "golden".into(),
                "gen".into(),
                "--scenario".into(),
                "example:regression".into(),
                "--config".into(),
                "ecp5-85k".into(),
                "--out".into(),
                out.display().to_string(),
            ],
            "the scenario's layer is 16 inputs, 4 outputs, K 8 but config `ecp5-85k` is 512 inputs",
        ),
        (
            vec![
                "hw".into(),
                "config".into(),
                "--config".into(),
                "nope".into(),
            ],
            "config nope: neither a preset",
        ),
    ];
    for (args, want) in cases {
        let o = lpn().args(&args).output().unwrap();
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(want),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(!err.contains("panicked"));
    }
}

#[test]
fn hw_config_prints_the_preset_with_its_memory_plan() {
    let o = lpn()
        .args(["hw", "config", "--config", "ecp5-85k"])
        .output()
        .unwrap();
    let s = text(&o.stdout);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(s.contains("# 32768 synapses"), "{s}");
    assert!(
        s.contains("# memory on ecp5-85k: 206 block RAMs of 208"),
        "{s}"
    );
    // The printed TOML is a valid config again.
    let body: String = s
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    lpn_cycle::HwConfig::parse(&body, Some("toml")).unwrap();
}

/// The generated blocks of a Markdown page: the lines between each
/// `<!-- generated: ... -->` marker and the next `<!-- end generated -->`.
fn generated_blocks(page: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut open: Option<String> = None;
    for line in page.lines() {
        if line.starts_with("<!-- generated:") {
            open = Some(String::new());
        } else if line.starts_with("<!-- end generated") {
            blocks.extend(open.take());
        } else if let Some(b) = open.as_mut() {
            b.push_str(line);
            b.push('\n');
        }
    }
    blocks
}

#[test]
fn the_architecture_pages_point_and_tolerance_tables_are_what_hw_points_prints() {
    let o = lpn()
        .args(["hw", "points", "--config"])
        .arg(repo("docs/points.toml"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let printed: Vec<String> = text(&o.stdout)
        .split("\n\n")
        .map(|b| format!("{}\n", b.trim_end()))
        .collect();
    let page = std::fs::read_to_string(repo("docs/architecture.md")).unwrap();
    let blocks = generated_blocks(&page);
    assert_eq!(
        blocks, printed,
        "docs/architecture.md's generated tables are stale: paste `lpn hw points --config docs/points.toml` into them"
    );
    // A stale page is caught: one bound changed in a copy of the page.
    let stale = page.replacen("clamp +-5", "clamp +-4", 1);
    assert_ne!(generated_blocks(&stale), printed);
}
