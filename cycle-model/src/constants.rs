//! Every learning constant in fixed point, quantised once from the [`HwConfig`]. The
//! model, the generator's `localparam`s and the golden vectors all read these values.

use lpn_golden::Mode;
use serde::Serialize;

use crate::config::HwConfig;
use crate::format::Format;
use crate::{Error, Result};

/// Modes in the order of their 2-bit hardware encoding.
pub const MODES: [Mode; 4] = [
    Mode::Warmup,
    Mode::Exploit,
    Mode::NeighborFollow,
    Mode::Steady,
];

/// The 2-bit encoding of a mode (index into [`MODES`]).
pub fn mode_code(mode: Mode) -> usize {
    MODES.iter().position(|&m| m == mode).unwrap_or(0)
}

/// Quantised constants. Raw values; the format of each is named in its doc.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Constants {
    /// `learning_rate` (constant format).
    pub learning_rate: i64,
    /// `synapse_decay` (constant format).
    pub synapse_decay: i64,
    /// Short evaporation `es` (constant format).
    pub short_evaporation: i64,
    /// Long evaporation `el` (constant format).
    pub long_evaporation: i64,
    /// `rs * m(mode)` per mode code (constant format): reinforcement and the mode's
    /// multiplier folded into one constant, so the datapath rounds once.
    pub short_reinforcement: [i64; 4],
    /// `rl * m(mode)` per mode code (constant format).
    pub long_reinforcement: [i64; 4],
    /// `consolidation_growth * m(mode)` per mode code (constant format).
    pub consolidation_growth: [i64; 4],
    /// `consolidation_strength` (constant format); 0 means consolidation is off.
    pub consolidation_strength: i64,
    /// `1 - consolidation_decay` (factor format).
    pub consolidation_retain: i64,
    /// `consolidation_threshold` (trail format).
    pub consolidation_threshold: i64,
    /// `1 / max(max_pheromone - threshold, 1e-6)` (constant format).
    pub maturity_scale: i64,
    /// `consolidation_lr_floor` (plasticity format).
    pub lr_floor: i64,
    /// `signal_clip` (signal format).
    pub signal_clip: i64,
    /// `weight_clip` (weight format).
    pub weight_clip: i64,
    /// `min_pheromone` (trail format).
    pub min_pheromone: i64,
    /// `max_pheromone` (trail format).
    pub max_pheromone: i64,
    /// `0.5` (trail format): the score offset `0.5 + P`.
    pub half_trail: i64,
    /// Short-trail share `ws / (ws + wl)` of the effective trail (constant format).
    pub short_share: i64,
    /// Long-trail share `wl / (ws + wl)` (constant format); 1.0 when `ws + wl <= 0`.
    pub long_share: i64,
    /// The reinforcement cap 4.0 (signal-fraction units of the reinforcement base).
    pub reinforcement_cap: i64,
}

impl Constants {
    /// Quantises the configuration's learning constants. Fails when a non-zero constant
    /// would quantise to zero or saturate: hardware that silently dropped a decay would
    /// be a different rule.
    pub fn new(c: &HwConfig) -> Result<Constants> {
        let f = &c.formats;
        let l = &c.learning;
        let rates = l.trail_rates();
        let fixed = |name: &str, fmt: Format, x: f64| -> Result<i64> {
            let (raw, saturated) = fmt.quantize(x);
            if saturated || x < 0.0 && !fmt.signed {
                return Err(Error::new(format!(
                    "learning.{name} = {x} does not fit formats.{} ({fmt}, max {})",
                    format_key(c, fmt),
                    fmt.max_value()
                )));
            }
            if x != 0.0 && raw == 0 {
                return Err(Error::new(format!(
                    "learning.{name} = {x} rounds to 0 in {fmt}; widen the format's fraction"
                )));
            }
            Ok(raw)
        };
        let k = f.constant;
        let per_mode = |name: &str, base: f64| -> Result<[i64; 4]> {
            let mut out = [0; 4];
            for (i, m) in MODES.iter().enumerate() {
                out[i] = fixed(name, k, base * m.reinforcement_factor())?;
            }
            Ok(out)
        };
        let total = l.short_weight + l.long_weight;
        let (short_share, long_share) = if total <= 0.0 {
            (0.0, 1.0)
        } else {
            (l.short_weight / total, l.long_weight / total)
        };
        let consolidating = l.consolidation_strength > 0.0;
        let span = (l.max_pheromone - l.consolidation_threshold).max(1e-6);
        Ok(Constants {
            learning_rate: fixed("learning_rate", k, l.learning_rate)?,
            synapse_decay: fixed("synapse_decay", k, l.synapse_decay)?,
            short_evaporation: fixed("short_evaporation", k, rates.short_evaporation)?,
            long_evaporation: fixed("long_evaporation", k, rates.long_evaporation)?,
            short_reinforcement: per_mode("short_reinforcement", rates.short_reinforcement)?,
            long_reinforcement: per_mode("long_reinforcement", rates.long_reinforcement)?,
            consolidation_growth: if consolidating {
                per_mode("consolidation_growth", l.consolidation_growth)?
            } else {
                [0; 4]
            },
            consolidation_strength: if consolidating {
                fixed("consolidation_strength", k, l.consolidation_strength)?
            } else {
                0
            },
            consolidation_retain: fixed(
                "consolidation_decay",
                f.factor,
                1.0 - l.consolidation_decay,
            )?,
            consolidation_threshold: if consolidating {
                fixed(
                    "consolidation_threshold",
                    f.trail,
                    l.consolidation_threshold.max(0.0),
                )?
            } else {
                0
            },
            maturity_scale: if consolidating {
                fixed("consolidation_threshold", k, 1.0 / span)?
            } else {
                0
            },
            lr_floor: fixed(
                "consolidation_lr_floor",
                f.plasticity,
                l.consolidation_lr_floor,
            )?,
            signal_clip: fixed("signal_clip", f.signal, l.signal_clip)?,
            weight_clip: fixed("weight_clip", f.weight, l.weight_clip)?,
            min_pheromone: fixed("min_pheromone", f.trail, l.min_pheromone)?,
            max_pheromone: fixed("max_pheromone", f.trail, l.max_pheromone)?,
            half_trail: f.trail.q(0.5),
            short_share: fixed("short_weight", k, short_share)?,
            long_share: fixed("long_weight", k, long_share)?,
            reinforcement_cap: 4 << f.signal.frac,
        })
    }
}

fn format_key(c: &HwConfig, fmt: Format) -> &'static str {
    c.formats
        .named()
        .iter()
        .find(|(_, f)| *f == fmt)
        .map(|(n, _)| *n)
        .unwrap_or("constant")
}
