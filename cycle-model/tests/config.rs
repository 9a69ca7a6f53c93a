//! Hardware configurations: presets, TOML and JSON, and clear errors for impossible ones.

use lpn_cycle::{preset, Family, HwConfig, PRESETS};

#[test]
fn presets_validate_and_meet_their_sizes() {
    for name in PRESETS {
        let c = preset(name).unwrap();
        c.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        let plan = c.memory_plan();
        assert!(plan.block_used <= plan.block_available, "{name}");
    }
    let up5k = preset("ice40-up5k").unwrap();
    assert_eq!(up5k.family, Family::Ice40Up5k);
    assert!(
        up5k.memory_plan().spram_used > 0,
        "the UP5K preset uses its SPRAM"
    );
    assert!(preset("ecp5-85k").unwrap().synapses() >= 32 * 1024);
    assert_eq!(preset("tiny").unwrap().layer.inputs, 16);
    assert!(preset("nope")
        .unwrap_err()
        .to_string()
        .contains("unknown preset `nope`"));
}

#[test]
fn toml_and_json_round_trip() {
    for name in PRESETS {
        let c = preset(name).unwrap();
        let toml_text = toml::to_string(&c).unwrap();
        assert_eq!(
            HwConfig::parse(&toml_text, Some("toml")).unwrap(),
            c,
            "{name} toml"
        );
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(
            HwConfig::parse(&json, Some("json")).unwrap(),
            c,
            "{name} json"
        );
    }
    // Every key but the layer is optional.
    let minimal = "[layer]\ninputs = 32\noutputs = 8\nk = 4\n";
    let c = HwConfig::parse(minimal, Some("toml")).unwrap();
    assert_eq!(
        (c.layer.inputs, c.lanes, c.formats.weight.bits),
        (32, 2, 16)
    );
    let partial = "lanes = 4\n[layer]\ninputs = 32\noutputs = 8\nk = 4\n[formats.weight]\nbits = 18\nfrac = 14\nsigned = true\n[learning]\nlearning_rate = 0.1\n";
    let c = HwConfig::parse(partial, Some("toml")).unwrap();
    assert_eq!(
        (c.lanes, c.formats.weight.frac, c.learning.learning_rate),
        (4, 14, 0.1)
    );
}

fn err(toml_text: &str) -> String {
    let e = HwConfig::parse(toml_text, Some("toml"))
        .unwrap_err()
        .to_string();
    assert!(!e.contains('\n'), "one line: {e}");
    e
}

const LAYER: &str = "[layer]\ninputs = 16\noutputs = 4\nk = 8\n";

#[test]
fn impossible_configurations_are_rejected_with_the_key_named() {
    let cases: Vec<(String, &str)> = vec![
        (format!("lanes = 0\n{LAYER}"), "lanes must be at least 1"),
        (format!("lanes = 5\n{LAYER}"), "lanes = 5 exceeds the 4 outputs"),
        ("[layer]\ninputs = 4\noutputs = 4\nk = 8\n".into(), "layer.k = 8 does not fit: only 4 inputs"),
        ("[layer]\ninputs = 100\noutputs = 4\nk = 65\n".into(), "at most 64 slots per output"),
        ("[layer]\ninputs = 0\noutputs = 4\nk = 1\n".into(), "inputs and outputs must be at least 1"),
        (format!("max_rows = 0\n{LAYER}"), "max_rows must be in 1..=4096"),
        (
            format!("{LAYER}[formats.weight]\nbits = 12\nfrac = 10\nsigned = true\n"),
            "formats.weight (sQ1.10 (12 bits), max 1.9990234375) is too narrow for weight_clip + learning_rate * signal_clip = 5.05",
        ),
        (
            format!("{LAYER}[formats.trail]\nbits = 14\nfrac = 12\nsigned = false\n"),
            "formats.trail (uQ2.12 (14 bits), max 3.999755859375) is too narrow for max_pheromone = 8",
        ),
        (
            format!("{LAYER}[formats.weight]\nbits = 30\nfrac = 12\nsigned = true\n"),
            "formats.weight: bits must be in 2..=24",
        ),
        (
            format!("{LAYER}[formats.signal]\nbits = 16\nfrac = 14\nsigned = false\n"),
            "formats.signal must be signed",
        ),
        (
            format!("{LAYER}[formats.consolidation]\nbits = 15\nfrac = 15\nsigned = false\n"),
            "formats.consolidation (uQ0.15 (15 bits)) must hold 1.0",
        ),
        (
            format!("{LAYER}[learning]\nsynapse_decay = 0.0000001\n"),
            "learning.synapse_decay = 0.0000001 rounds to 0",
        ),
        (
            format!("{LAYER}[learning]\nmin_pheromone = 0.0\n"),
            "learning.min_pheromone = 0 must be positive",
        ),
        (
            format!("{LAYER}[learning]\nconsolidation_strength = 1.0\nconsolidation_lr_floor = 0.0\n"),
            "consolidation_lr_floor = 0 must be positive in hardware",
        ),
        (format!("{LAYER}[learning]\nshort_weight = -1.0\n"), "learning.short_weight: -1 is outside its domain: >= 0"),
        (format!("{LAYER}[learning]\nsignal_clip = nan\n"), "learning.signal_clip: not a finite number"),
        (
            "family = \"ice40-up5k\"\n[layer]\ninputs = 256\noutputs = 4096\nk = 8\n".into(),
            "memory: needs",
        ),
        (
            "family = \"ecp5-85k\"\n[memory]\nscratch = \"spram\"\n[layer]\ninputs = 16\noutputs = 4\nk = 8\n".into(),
            "SPRAM exists only on the iCE40 UltraPlus",
        ),
        (
            "family = \"ice40-up5k\"\npipeline = \"deep\"\n[memory]\nscratch = \"spram\"\n[layer]\ninputs = 16\noutputs = 4\nk = 8\n".into(),
            "memory.scratch = \"spram\" needs pipeline = \"compact\"",
        ),
        (
            "family = \"ice40-up5k\"\n[memory]\nblock_output_register = true\n[layer]\ninputs = 16\noutputs = 4\nk = 8\n".into(),
            "memory.block_output_register is an ECP5 block RAM option; family ice40-up5k has none",
        ),
        (format!("{LAYER}lanes = 2\nbogus = 1\n"), "unknown field `bogus`"),
        // Found by `lpn fuzz`: generation panicked on a product one clock late.
        (
            format!("pipeline = \"deep\"\n{LAYER}[formats.plasticity]\nbits = 24\nfrac = 15\nsigned = false\n"),
            "formats.plasticity = 24 bits: the deep pipeline takes at most 16",
        ),
        ("lanes = [\n".into(), "TOML"),
        ("family = \"virtex\"\n".into(), "unknown variant `virtex`"),
    ];
    for (text, want) in cases {
        let e = err(&text);
        assert!(e.contains(want), "expected `{want}` in `{e}`");
    }
}

#[test]
fn config_files_load_by_extension_and_missing_files_say_so() {
    let dir = std::env::temp_dir().join(format!("lpn-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let t = dir.join("c.toml");
    std::fs::write(&t, LAYER).unwrap();
    assert_eq!(HwConfig::load(t.to_str().unwrap()).unwrap().layer.k, 8);
    let j = dir.join("c.json");
    std::fs::write(&j, r#"{"layer":{"inputs":16,"outputs":4,"k":8},"lanes":1}"#).unwrap();
    assert_eq!(HwConfig::load(j.to_str().unwrap()).unwrap().lanes, 1);
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"layer":{"inputs":16,"outputs":4,"k":8},"lanes":0}"#,
    )
    .unwrap();
    let e = HwConfig::load(bad.to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.ends_with("bad.json: lanes must be at least 1"), "{e}");
    let e = HwConfig::load("/nonexistent/x.toml")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cannot read config /nonexistent/x.toml") && e.contains("give a preset: tiny"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Found by `lpn fuzz`: a key with a newline in it (JSON allows `\n` in a key) was echoed
/// into a two-line error; config and vector errors are one line.
#[test]
fn json_errors_stay_on_one_line() {
    let e = HwConfig::parse("{\"l\\nanes\": 2}", Some("json"))
        .unwrap_err()
        .to_string();
    assert!(
        !e.contains('\n') && e.contains("unknown field `l anes`"),
        "{e}"
    );
    let e = lpn_cycle::vectors::Vectors::from_json(
        "{\"format\": \"lpn-golden-vectors\", \"version\": 1, \"x\\ny\": 0}",
    )
    .unwrap_err()
    .to_string();
    assert!(!e.contains('\n'), "{e}");
}
