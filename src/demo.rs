//! `lpn demo`: the main job. Generates the engine's Verilog for a configuration, trains
//! a single-layer scenario three ways (the f64 reference alone, the cycle-accurate model
//! as the learner, the Verilator build of the generated RTL replaying the same updates),
//! and prints them side by side.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use lpn_cycle::vectors::{self, Vectors};
use lpn_cycle::HwConfig;
use lpn_golden::scenario::Scenario;
use lpn_golden::{Matrix, Network};

/// Runs the demo; returns the report and whether the RTL equalled the model.
pub fn run(
    scenario: &Path,
    config: &str,
    steps: usize,
    out: &Path,
    cache: &Path,
) -> Result<(String, bool), String> {
    if steps == 0 {
        return Err("--steps 0: nothing to train (give at least 1)".into());
    }
    let inputs = crate::files::given(&[
        ("the scenario", Some(scenario)),
        ("the config", crate::files::config_file(config)),
    ]);
    let sc = Scenario::load(scenario)?;
    let config = HwConfig::load(config).map_err(|e| e.to_string())?;
    let mut s = String::new();

    // 1. Verilog.
    let g = lpn_rtl::engine::generate(&config).map_err(|e| e.to_string())?;
    crate::hw::write_files(out, &g.files, &inputs)?;
    let _ = writeln!(
        s,
        "generated {} ({} lines of Verilog) for config `{}`: {} in, {} out, K {}, {} lanes",
        out.display(),
        g.files
            .iter()
            .map(|(_, t)| t.lines().count())
            .sum::<usize>(),
        config.name,
        config.layer.inputs,
        config.layer.outputs,
        config.layer.k,
        config.lanes
    );

    // 2. The f64 reference alone.
    let t0 = Instant::now();
    let mut net = Network::new(&sc.network.to_spec().map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let mut reference = Vec::new();
    'phases: for (i, p) in sc.phases.iter().enumerate() {
        let x = Matrix::from_rows(&p.x, sc.network.inputs, &format!("phases[{i}].x"))
            .map_err(|e| e.to_string())?;
        let t = Matrix::from_rows(
            &p.target,
            sc.network.outputs,
            &format!("phases[{i}].target"),
        )
        .map_err(|e| e.to_string())?;
        for _ in 0..p.steps {
            if reference.len() == steps {
                break 'phases;
            }
            reference.push(
                net.step(&x, &t, p.output_mask.as_deref())
                    .map_err(|e| e.to_string())?
                    .loss,
            );
        }
    }
    let ref_wall = t0.elapsed().as_secs_f64();

    // 3. The cycle model as the learner (recorded as vectors).
    let t0 = Instant::now();
    let v: Vectors = vectors::generate(&sc, &config, steps, &scenario.display().to_string())
        .map_err(|e| e.to_string())?;
    let train_wall = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let (model, saturations) = vectors::run_cycle_model(&v).map_err(|e| e.to_string())?;
    let model_wall = t0.elapsed().as_secs_f64();
    let judged = vectors::judge(&v, &model, saturations).map_err(|e| e.to_string())?;

    // 4. The generated RTL under Verilator, replaying the same updates.
    let t0 = Instant::now();
    let built = lpn_flow::cosim::build(&v.config, cache)?;
    let build_wall = t0.elapsed().as_secs_f64();
    let work: PathBuf = cache.join("work-demo");
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let t0 = Instant::now();
    let rtl = lpn_flow::cosim::run_vectors(&built, &v, &work, None)?;
    let rtl_wall = t0.elapsed().as_secs_f64();
    let equal = rtl == model;

    let _ = writeln!(
        s,
        "\n{:>5} {:>12} {:>12} {:>9} {:>9} {:>9} {:>10} {:>10}",
        "step", "loss f64", "loss fixed", "w err", "P err", "b err", "cycles", "cycles"
    );
    let _ = writeln!(
        s,
        "{:>5} {:>12} {:>12} {:>9} {:>9} {:>9} {:>10} {:>10}",
        "", "(reference)", "(engine)", "LSB", "LSB", "LSB", "model", "verilator"
    );
    let n = v.steps.len();
    let every = (n / 10).max(1);
    for (i, st) in judged.steps.iter().enumerate() {
        if i % every != 0 && i + 1 != n {
            continue;
        }
        let err = |f: &str| {
            st.errors
                .iter()
                .find(|e| e.0 == f)
                .map_or("-".to_string(), |e| format!("{:.2}", e.1.max_lsb))
        };
        let _ = writeln!(
            s,
            "{:>5} {:>12.6e} {:>12.6e} {:>9} {:>9} {:>9} {:>10} {:>10}",
            i + 1,
            reference.get(i).copied().unwrap_or(f64::NAN),
            st.loss,
            err("weight"),
            err("long"),
            err("bias"),
            model[i].cycles.total,
            rtl.get(i).map_or(0, |r| r.cycles.total)
        );
    }
    let cycles = model.iter().map(|r| r.cycles.total).sum::<u64>();
    let _ = writeln!(
        s,
        "\nloss after {n} updates: f64 {:.6e}, fixed-point engine {:.6e} ({:+.1}%)",
        reference.last().copied().unwrap_or(f64::NAN),
        v.steps.last().map_or(f64::NAN, |x| x.loss),
        100.0
            * (v.steps.last().map_or(0.0, |x| x.loss) / reference.last().copied().unwrap_or(1.0)
                - 1.0)
    );
    let worst = |f: &str| {
        judged
            .steps
            .iter()
            .filter_map(|st| st.errors.iter().find(|e| e.0 == f).map(|e| e.1.max_lsb))
            .fold(0.0, f64::max)
    };
    let _ = writeln!(
        s,
        "one-update error against f64 (largest): weight {:.2} LSB, long trail {:.2} LSB, bias {:.2} LSB; bounds {}",
        worst("weight"),
        worst("long"),
        worst("bias"),
        if judged.violations.is_empty() { "hold" } else { "BROKEN" }
    );
    let _ = writeln!(
        s,
        "cycles per update: {} ({}); {} cycles in all",
        model.first().map_or(0, |r| r.cycles.total),
        lpn_cycle::cycle_formula_text(&config),
        cycles
    );
    let _ = writeln!(
        s,
        "wall time: f64 reference {:.3} s; engine-in-the-loop training {:.3} s; cycle model replay {:.3} s ({:.1} M cycles/s); Verilator {:.3} s ({:.2} M cycles/s, model {} in {:.1} s)",
        ref_wall,
        train_wall,
        model_wall,
        cycles as f64 / model_wall.max(1e-9) / 1e6,
        rtl_wall,
        cycles as f64 / rtl_wall.max(1e-9) / 1e6,
        if built.built { "built" } else { "cached" },
        build_wall
    );
    let _ = writeln!(
        s,
        "RTL vs cycle model: {}",
        if equal {
            "equal in every state word, selection and cycle count of every update"
        } else {
            "DIFFERENT (run `lpn sim --backend verilator` on the vectors for details)"
        }
    );
    Ok((s, equal && judged.violations.is_empty()))
}
