//! Golden vectors: a versioned JSON file holding a configuration, a layer's wiring and
//! initial fixed-point state, and per step the quantised inputs, the engine's expected
//! state, selection and cycle counts, and the f64 reference's state after one update
//! from the same quantised state. Described in `docs/golden-vectors.md`.
//!
//! [`generate`] writes them from a reference scenario; [`replay`] runs them on the cycle
//! model and checks the engine bit for bit and the fixed-versus-float bounds.

use lpn_golden::scenario::Scenario;
use serde::{Deserialize, Serialize};

use crate::arith::{Datapath, Saturations};
use crate::config::HwConfig;
use crate::engine::{cycle_formula, Accelerator, Cycles, Engine};
use crate::image::{FixedState, StateField, StepInput, Wiring};
use crate::train::{FloatState, Trainer};
use crate::{Error, Result};

/// The `format` tag of a vector file.
pub const FORMAT: &str = "lpn-golden-vectors";
/// The version this code writes and reads.
pub const VERSION: u32 = 1;

/// Bound on the signal's difference from f64 in signal LSBs, used for the selection
/// tolerance: two roundings (row mean, gate product) and the gate's own rounding.
pub const SIGNAL_ERROR_LSB: f64 = 2.0;

/// A golden vector file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vectors {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`].
    pub version: u32,
    /// Where the vectors came from (scenario name or path).
    pub source: String,
    /// The hardware configuration (learning constants are the scenario's).
    pub config: HwConfig,
    /// The layer's static wiring.
    pub wiring: Wiring,
    /// State before the first step.
    pub initial: FixedState,
    /// The steps, in order; each starts from the previous step's expected state.
    pub steps: Vec<VectorStep>,
}

/// One update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorStep {
    /// Loss of the host's forward pass before the update (f64, informational).
    pub loss: f64,
    /// Quantised inputs and control (rows, pre, post, err, budget, mode, consolidate).
    pub input: StepInput,
    /// What the engine must produce.
    pub expected: Expected,
    /// The f64 reference after one update from the same quantised state and inputs.
    pub reference: FloatState,
    /// The reference's selection keys (score plus frontier bonus; 0 on invalid slots).
    pub keys: Vec<f64>,
}

/// The engine's expected results of one update (exact).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// State after the update.
    pub state: FixedState,
    /// Slots selected before the descent test.
    pub selected: Vec<u8>,
    /// Whether the step was a descent step.
    pub descent: bool,
    /// Accepted slots.
    pub accepted: u64,
    /// Cycles per phase.
    pub cycles: Cycles,
}

/// Runs `steps` steps (at most; fewer if the scenario ends) of a single-layer scenario
/// with the engine as learner and records them.
pub fn generate(
    scenario: &Scenario,
    config: &HwConfig,
    steps: usize,
    source: &str,
) -> Result<Vectors> {
    let mut trainer = Trainer::new(scenario, config)?;
    let initial = trainer.state().clone();
    let mut out = Vec::new();
    while out.len() < steps {
        let Some(s) = trainer.step()? else { break };
        // A diverging scenario stops here: JSON has no infinity, and a `null` loss could
        // not be read back.
        lpn_golden::scenario::finite_loss(s.loss, format!("step {}", out.len()))?;
        out.push(VectorStep {
            loss: s.loss,
            input: s.input,
            expected: Expected {
                state: s.state,
                selected: s.selected,
                descent: s.report.descent,
                accepted: s.report.accepted,
                cycles: s.report.cycles,
            },
            reference: s.reference,
            keys: s.keys,
        });
    }
    Ok(Vectors {
        format: FORMAT.into(),
        version: VERSION,
        source: source.into(),
        config: trainer.config().clone(),
        wiring: trainer.wiring().clone(),
        initial,
        steps: out,
    })
}

impl Vectors {
    /// Parses and checks a vector file's text.
    pub fn from_json(text: &str) -> Result<Vectors> {
        // Look at the header first so that a file of another version gets a clear message
        // rather than a complaint about some field. The header pass skips every other
        // value without building it, so a large file costs no memory before its `format`
        // and `version` are known.
        #[derive(Deserialize)]
        struct Header {
            format: Option<serde_json::Value>,
            version: Option<serde_json::Value>,
        }
        let header: Header = serde_json::from_str(text).map_err(|e| {
            Error::new(format!(
                "not JSON: {}",
                lpn_golden::scenario::json_error(&e)
            ))
        })?;
        if header.format.as_ref().and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(Error::new(format!(
                "not a golden vector file (`format` must be \"{FORMAT}\")"
            )));
        }
        match header.version.as_ref().map(|v| v.as_u64()) {
            Some(Some(v)) if v == VERSION as u64 => {}
            Some(Some(v)) => {
                return Err(Error::new(format!(
                "vector format version {v} is not supported (this build reads version {VERSION})"
            )))
            }
            Some(None) => return Err(Error::new("`version` must be a whole number")),
            None => return Err(Error::new("`version` is missing")),
        }
        // Straight into the types (not through a `serde_json::Value`), which also refuses
        // a key given twice, as scenario files do.
        let v: Vectors = serde_json::from_str(text)
            .map_err(|e| Error::new(lpn_golden::scenario::json_error(&e)))?;
        v.check()?;
        Ok(v)
    }

    /// Reads a vector file.
    pub fn load(path: &std::path::Path) -> Result<Vectors> {
        let text =
            lpn_golden::input::read_text(path, lpn_golden::input::MAX_VECTORS_BYTES, "vector file")
                .map_err(Error::new)?;
        Self::from_json(&text).map_err(|e| Error::new(format!("{}: {e}", path.display())))
    }

    /// The file's JSON text (deterministic: same vectors, same bytes).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("vectors serialise") + "\n"
    }

    /// Checks every part against the configuration.
    pub fn check(&self) -> Result<()> {
        self.config
            .validate()
            .map_err(|e| Error::new(format!("config: {e}")))?;
        let dp = Datapath::new(&self.config)?;
        self.wiring.check(&self.config)?;
        self.initial
            .check(&self.wiring, &dp)
            .map_err(|e| Error::new(format!("initial: {e}")))?;
        if self.steps.is_empty() {
            return Err(Error::new("no steps"));
        }
        let n = self.wiring.outputs * self.wiring.k;
        for (i, s) in self.steps.iter().enumerate() {
            let at = |e: Error| Error::new(format!("steps[{i}]: {e}"));
            s.input.check(&self.config, &dp).map_err(at)?;
            s.expected.state.check(&self.wiring, &dp).map_err(at)?;
            if s.expected.selected.len() != n || s.keys.len() != n {
                return Err(at(Error::new(format!("selected and keys need {n} slots"))));
            }
            for f in StateField::SLOTS {
                if s.reference.field(f).len() != n {
                    return Err(at(Error::new(format!(
                        "reference.{} needs {n} slots",
                        f.name()
                    ))));
                }
            }
            if s.reference.bias.len() != self.wiring.outputs || s.reference.accepted.len() != n {
                return Err(at(Error::new(
                    "reference.bias or reference.accepted has the wrong length",
                )));
            }
        }
        Ok(())
    }
}

/// A bit-level difference between the engine and a vector.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mismatch {
    /// Step index.
    pub step: usize,
    /// Field (`weight`, ..., `selected`, `cycles.total`).
    pub field: String,
    /// Slot (or output for `bias`); `None` for per-update values.
    pub slot: Option<usize>,
    /// Expected value.
    pub expected: i64,
    /// Engine's value.
    pub got: i64,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.slot {
            Some(s) => write!(
                f,
                "step {} slot {} field {}: expected {}, got {}",
                self.step, s, self.field, self.expected, self.got
            ),
            None => write!(
                f,
                "step {} field {}: expected {}, got {}",
                self.step, self.field, self.expected, self.got
            ),
        }
    }
}

/// Float error of one field in one step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FieldError {
    /// Largest absolute difference.
    pub max_abs: f64,
    /// Mean absolute difference.
    pub mean_abs: f64,
    /// `max_abs` in LSBs of the field's format.
    pub max_lsb: f64,
    /// `mean_abs` in LSBs of the field's format.
    pub mean_lsb: f64,
}

/// Per-step statistics of a replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepStats {
    /// Step index.
    pub step: usize,
    /// The host's loss before the update (from the vector).
    pub loss: f64,
    /// Mode of the step.
    pub mode: lpn_golden::Mode,
    /// Rows.
    pub rows: usize,
    /// Cycles the engine took, per phase.
    pub cycles: Cycles,
    /// The cycle formula's prediction.
    pub formula: u64,
    /// Slots accepted by the engine.
    pub accepted: u64,
    /// Valid slots whose acceptance agrees with the reference.
    pub agree: usize,
    /// Valid slots.
    pub valid: usize,
    /// Disagreeing slots not explained by a near-tie of the float keys.
    pub unexplained: usize,
    /// Float error per kept field ([`StateField::ALL`] order), by field name.
    pub errors: Vec<(String, FieldError)>,
}

/// The result of replaying a vector file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Replay {
    /// One entry per step.
    pub steps: Vec<StepStats>,
    /// Bit-level differences from the expected results (at most 20 kept).
    pub mismatches: Vec<Mismatch>,
    /// Total bit-level differences.
    pub mismatch_count: usize,
    /// Broken fixed-versus-float bounds, one line each.
    pub violations: Vec<String>,
    /// Saturation counts of the run.
    pub saturations: Saturations,
    /// Simulated cycles in all.
    pub total_cycles: u64,
}

impl Replay {
    /// Whether everything held.
    pub fn ok(&self) -> bool {
        self.mismatch_count == 0 && self.violations.is_empty()
    }
}

/// Selection tolerance in key units: the bound on how far a fixed key can be from its
/// float counterpart ([`SIGNAL_ERROR_LSB`] of signal times the largest `0.5 + P`, one
/// score LSB of truncation), counted twice (score and bonus).
pub fn selection_tolerance(dp: &Datapath, config: &HwConfig) -> f64 {
    let one = SIGNAL_ERROR_LSB * dp.f.signal.lsb() * (0.5 + config.learning.max_pheromone)
        + dp.f.score.lsb();
    2.0 * one
}

/// What a backend (the cycle model, the RTL) produced for one update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepResult {
    /// State after the update.
    pub state: FixedState,
    /// Selected slots (before the descent test).
    pub selected: Vec<u8>,
    /// Cycles per phase.
    pub cycles: Cycles,
    /// Accepted slots.
    pub accepted: u64,
    /// Descent flag.
    pub descent: bool,
}

/// Runs the vectors' steps on an accelerator (the cycle model, the RTL under a
/// simulator, a board), each from its own state: load, then update and read the state
/// back, step by step.
pub fn run_on(acc: &mut dyn Accelerator, v: &Vectors) -> Result<Vec<StepResult>> {
    acc.load(&v.wiring, &v.initial)?;
    let mut out = Vec::with_capacity(v.steps.len());
    for s in &v.steps {
        let report = acc.update(&s.input)?;
        let (state, selected) = acc.state()?;
        out.push(StepResult {
            state,
            selected,
            cycles: report.cycles,
            accepted: report.accepted,
            descent: report.descent,
        });
    }
    Ok(out)
}

/// Runs the vectors' steps on a fresh cycle model ([`run_on`]), with its saturation
/// counts.
pub fn run_cycle_model(v: &Vectors) -> Result<(Vec<StepResult>, Saturations)> {
    let mut engine = Engine::new(&v.config)?;
    let out = run_on(&mut engine, v)?;
    Ok((out, engine.saturations()))
}

/// Replays vectors on a fresh cycle model and judges the results.
pub fn replay(v: &Vectors) -> Result<Replay> {
    let (results, sat) = run_cycle_model(v)?;
    judge(v, &results, sat)
}

/// Judges a backend's results against the vectors: bit-level differences, float errors
/// against the reference, selection near-ties, cycle formula.
pub fn judge(v: &Vectors, results: &[StepResult], saturations: Saturations) -> Result<Replay> {
    if results.len() != v.steps.len() {
        return Err(Error::new(format!(
            "the backend returned {} steps for {} in the vectors",
            results.len(),
            v.steps.len()
        )));
    }
    let dp = Datapath::new(&v.config)?;
    let tol = selection_tolerance(&dp, &v.config);
    let (k, outputs) = (v.wiring.k, v.wiring.outputs);
    let mut out = Replay {
        steps: Vec::new(),
        mismatches: Vec::new(),
        mismatch_count: 0,
        violations: Vec::new(),
        saturations: Saturations::default(),
        total_cycles: 0,
    };
    let push = |out: &mut Replay, m: Mismatch| {
        out.mismatch_count += 1;
        if out.mismatches.len() < 20 {
            out.mismatches.push(m);
        }
    };
    for (i, (s, res)) in v.steps.iter().zip(results).enumerate() {
        let (state, selected) = (&res.state, &res.selected);
        let report = res;
        let e = &s.expected;
        for f in StateField::ALL {
            for (slot, (&want, &got)) in e.state.field(f).iter().zip(state.field(f)).enumerate() {
                if want != got {
                    push(
                        &mut out,
                        Mismatch {
                            step: i,
                            field: f.name().to_string(),
                            slot: Some(slot),
                            expected: want,
                            got,
                        },
                    );
                }
            }
        }
        for (name, want, got) in [
            (
                "last_accepted",
                &e.state.last_accepted,
                &state.last_accepted,
            ),
            ("selected", &e.selected, selected),
        ] {
            for (slot, (&a, &b)) in want.iter().zip(got.iter()).enumerate() {
                if a != b {
                    push(
                        &mut out,
                        Mismatch {
                            step: i,
                            field: name.into(),
                            slot: Some(slot),
                            expected: a as i64,
                            got: b as i64,
                        },
                    );
                }
            }
        }
        for (name, want, got) in [
            (
                "cycles.accumulate",
                e.cycles.accumulate,
                report.cycles.accumulate,
            ),
            ("cycles.select", e.cycles.select, report.cycles.select),
            ("cycles.apply", e.cycles.apply, report.cycles.apply),
            ("cycles.total", e.cycles.total, report.cycles.total),
            ("accepted", e.accepted, report.accepted),
            ("descent", e.descent as u64, report.descent as u64),
        ] {
            if want != got {
                push(
                    &mut out,
                    Mismatch {
                        step: i,
                        field: name.into(),
                        slot: None,
                        expected: want as i64,
                        got: got as i64,
                    },
                );
            }
        }

        // Fixed versus float.
        let agree_slot: Vec<bool> = (0..outputs * k)
            .map(|j| state.last_accepted[j] == s.reference.accepted[j])
            .collect();
        let mut errors = Vec::new();
        for f in StateField::ALL {
            // Fields the engine does not keep (they cannot affect learning) are not compared.
            if !f.kept(&v.config) {
                continue;
            }
            let (fmt, bound) = (f.format(&dp.f), f.bound_lsb());
            let per_output = f == StateField::Bias;
            let (mut max, mut sum, mut n) = (0.0f64, 0.0, 0usize);
            for (j, (&fx, &fl)) in state.field(f).iter().zip(s.reference.field(f)).enumerate() {
                let valid = per_output || v.wiring.mask[j] != 0;
                if !valid || (!per_output && !agree_slot[j]) {
                    continue;
                }
                let d = (fmt.to_f64(fx) - fl).abs();
                max = max.max(d);
                sum += d;
                n += 1;
            }
            let mean = if n == 0 { 0.0 } else { sum / n as f64 };
            let fe = FieldError {
                max_abs: max,
                mean_abs: mean,
                max_lsb: max / fmt.lsb(),
                mean_lsb: mean / fmt.lsb(),
            };
            if fe.max_lsb > bound {
                out.violations.push(format!(
                    "step {i}: {f} differs from the f64 reference by {:.2} LSB (bound {bound})",
                    fe.max_lsb
                ));
            }
            errors.push((f.to_string(), fe));
        }
        // Selection: every disagreement must be a near-tie in float.
        let mut unexplained = 0;
        let mut agree = 0;
        let mut valid = 0;
        for o in 0..outputs {
            let slots = o * k..(o + 1) * k;
            let ours: Vec<usize> = slots
                .clone()
                .filter(|&j| state.last_accepted[j] == 1 && s.reference.accepted[j] == 0)
                .collect();
            let theirs: Vec<usize> = slots
                .clone()
                .filter(|&j| state.last_accepted[j] == 0 && s.reference.accepted[j] == 1)
                .collect();
            for j in slots {
                if v.wiring.mask[j] != 0 {
                    valid += 1;
                    agree += usize::from(agree_slot[j]);
                }
            }
            for &a in ours.iter().chain(&theirs) {
                let partners = if ours.contains(&a) { &theirs } else { &ours };
                let explained = partners
                    .iter()
                    .any(|&b| (s.keys[a] - s.keys[b]).abs() <= tol);
                if !explained {
                    unexplained += 1;
                }
            }
        }
        if unexplained > 0 {
            out.violations.push(format!(
                "step {i}: {unexplained} slots accepted differently from the f64 reference without a near-tie of the float scores (tolerance {tol:.2e})"
            ));
        }
        let formula = cycle_formula(&v.config, s.input.rows).total;
        out.total_cycles += report.cycles.total;
        out.steps.push(StepStats {
            step: i,
            loss: s.loss,
            mode: s.input.mode,
            rows: s.input.rows,
            cycles: report.cycles,
            formula,
            accepted: report.accepted,
            agree,
            valid,
            unexplained,
            errors,
        });
    }
    out.saturations = saturations;
    Ok(out)
}
