//! The learning configuration (spec section 7) and its derived constants.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Every tunable of the local learning rule, with the spec's defaults.
///
/// In scenario files this is the `learning` object; every key is optional and a missing
/// key takes its default. Keys are the spec's snake_case names; the longer names of the
/// paper's original code (`min_budget_per_output`, `shrink_factor`,
/// `short_pheromone_evaporation`, ...) are accepted as aliases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LearningConfig {
    /// Step size of the weight and bias updates.
    pub learning_rate: f64,
    /// Smallest per-output budget.
    #[serde(alias = "min_budget_per_output")]
    pub min_budget: f64,
    /// Largest per-output budget; `None` means the network's `max_neighbors`.
    #[serde(alias = "max_budget_per_output")]
    pub max_budget: Option<f64>,
    /// Starting budget; `None` means `max(1, floor(max_neighbors / 2))`.
    #[serde(alias = "initial_budget_per_output")]
    pub initial_budget: Option<f64>,
    /// Budget factor after an improving step.
    #[serde(alias = "shrink_factor")]
    pub shrink: f64,
    /// Budget factor after a worsening step.
    #[serde(alias = "grow_factor")]
    pub grow: f64,
    /// Loss changes within this band count as steady.
    pub loss_tolerance: f64,
    /// Base evaporation rate of the trails.
    pub evaporation: f64,
    /// Base reinforcement of the trails.
    pub pheromone_reinforcement: f64,
    /// Multiplicative decay of valid, non-accepted weights on an accepted step.
    pub synapse_decay: f64,
    /// Clip of the per-slot signal and of the bias direction.
    pub signal_clip: f64,
    /// Clip of weights and biases.
    pub weight_clip: f64,
    /// Radius of the neighbor-follow frontier, in input-position units.
    pub neighbor_follow_distance: f64,
    /// Lower clamp of both trails.
    pub min_pheromone: f64,
    /// Upper clamp of both trails.
    pub max_pheromone: f64,
    /// Short-trail evaporation; `None` means `min(0.8, 4 * evaporation)`.
    #[serde(alias = "short_pheromone_evaporation")]
    pub short_evaporation: Option<f64>,
    /// Long-trail evaporation; `None` means `evaporation`.
    #[serde(alias = "long_pheromone_evaporation")]
    pub long_evaporation: Option<f64>,
    /// Short-trail reinforcement; `None` means `2 * pheromone_reinforcement`.
    #[serde(alias = "short_pheromone_reinforcement")]
    pub short_reinforcement: Option<f64>,
    /// Long-trail reinforcement; `None` means `pheromone_reinforcement`.
    #[serde(alias = "long_pheromone_reinforcement")]
    pub long_reinforcement: Option<f64>,
    /// Weight of the short trail in the effective trail of the gate.
    #[serde(alias = "short_pheromone_weight")]
    pub short_weight: f64,
    /// Weight of the long trail in the effective trail of the gate.
    #[serde(alias = "long_pheromone_weight")]
    pub long_weight: f64,
    /// Strength of consolidation's protection; `<= 0` disables consolidation.
    pub consolidation_strength: f64,
    /// Growth rate of consolidation on accepted, mature slots.
    pub consolidation_growth: f64,
    /// Per-update multiplicative decay of consolidation.
    pub consolidation_decay: f64,
    /// Long-trail level above which a slot starts to mature.
    pub consolidation_threshold: f64,
    /// Smallest plasticity a fully consolidated slot keeps.
    pub consolidation_lr_floor: f64,
    /// Consolidate only on steps whose loss is at most this; `None` means always.
    pub consolidation_loss_gate: Option<f64>,
}

impl Default for LearningConfig {
    fn default() -> Self {
        Self {
            learning_rate: 0.05,
            min_budget: 1.0,
            max_budget: None,
            initial_budget: None,
            shrink: 0.7,
            grow: 1.5,
            loss_tolerance: 1e-7,
            evaporation: 0.02,
            pheromone_reinforcement: 0.05,
            synapse_decay: 0.001,
            signal_clip: 1.0,
            weight_clip: 5.0,
            neighbor_follow_distance: 0.18,
            min_pheromone: 0.01,
            max_pheromone: 8.0,
            short_evaporation: None,
            long_evaporation: None,
            short_reinforcement: None,
            long_reinforcement: None,
            short_weight: 0.0,
            long_weight: 1.0,
            consolidation_strength: 0.0,
            consolidation_growth: 0.03,
            consolidation_decay: 0.0005,
            consolidation_threshold: 1.2,
            consolidation_lr_floor: 0.05,
            consolidation_loss_gate: None,
        }
    }
}

/// The trail constants after the spec's defaults are derived.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrailRates {
    /// Short-trail evaporation `es`.
    pub short_evaporation: f64,
    /// Long-trail evaporation `el`.
    pub long_evaporation: f64,
    /// Short-trail reinforcement `rs`.
    pub short_reinforcement: f64,
    /// Long-trail reinforcement `rl`.
    pub long_reinforcement: f64,
}

impl LearningConfig {
    /// The short/long evaporation and reinforcement, derived where not given.
    pub fn trail_rates(&self) -> TrailRates {
        TrailRates {
            short_evaporation: self
                .short_evaporation
                .unwrap_or((self.evaporation * 4.0).min(0.8)),
            long_evaporation: self.long_evaporation.unwrap_or(self.evaporation),
            short_reinforcement: self
                .short_reinforcement
                .unwrap_or(self.pheromone_reinforcement * 2.0),
            long_reinforcement: self
                .long_reinforcement
                .unwrap_or(self.pheromone_reinforcement),
        }
    }

    /// Checks that every value is finite and that the few orderings the rule relies on
    /// hold. Field names in errors are the scenario keys.
    pub fn validate(&self) -> Result<()> {
        let numbers = [
            ("learning_rate", Some(self.learning_rate)),
            ("min_budget", Some(self.min_budget)),
            ("max_budget", self.max_budget),
            ("initial_budget", self.initial_budget),
            ("shrink", Some(self.shrink)),
            ("grow", Some(self.grow)),
            ("loss_tolerance", Some(self.loss_tolerance)),
            ("evaporation", Some(self.evaporation)),
            (
                "pheromone_reinforcement",
                Some(self.pheromone_reinforcement),
            ),
            ("synapse_decay", Some(self.synapse_decay)),
            ("signal_clip", Some(self.signal_clip)),
            ("weight_clip", Some(self.weight_clip)),
            (
                "neighbor_follow_distance",
                Some(self.neighbor_follow_distance),
            ),
            ("min_pheromone", Some(self.min_pheromone)),
            ("max_pheromone", Some(self.max_pheromone)),
            ("short_evaporation", self.short_evaporation),
            ("long_evaporation", self.long_evaporation),
            ("short_reinforcement", self.short_reinforcement),
            ("long_reinforcement", self.long_reinforcement),
            ("short_weight", Some(self.short_weight)),
            ("long_weight", Some(self.long_weight)),
            ("consolidation_strength", Some(self.consolidation_strength)),
            ("consolidation_growth", Some(self.consolidation_growth)),
            ("consolidation_decay", Some(self.consolidation_decay)),
            (
                "consolidation_threshold",
                Some(self.consolidation_threshold),
            ),
            ("consolidation_lr_floor", Some(self.consolidation_lr_floor)),
            ("consolidation_loss_gate", self.consolidation_loss_gate),
        ];
        for (name, value) in numbers {
            if let Some(v) = value {
                if !v.is_finite() {
                    return Err(Error::invalid(name, "not a finite number"));
                }
            }
        }
        if self.min_pheromone > self.max_pheromone {
            return Err(Error::invalid(
                "min_pheromone",
                format!(
                    "{} is above max_pheromone {}",
                    self.min_pheromone, self.max_pheromone
                ),
            ));
        }
        if self.signal_clip < 0.0 {
            return Err(Error::invalid("signal_clip", "must not be negative"));
        }
        if self.weight_clip < 0.0 {
            return Err(Error::invalid("weight_clip", "must not be negative"));
        }
        if let Some(max) = self.max_budget {
            if max < self.min_budget {
                return Err(Error::invalid(
                    "max_budget",
                    format!("{max} is below min_budget {}", self.min_budget),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_trail_rates() {
        let c = LearningConfig::default();
        let r = c.trail_rates();
        assert_eq!(r.short_evaporation, 0.08);
        assert_eq!(r.long_evaporation, 0.02);
        assert_eq!(r.short_reinforcement, 0.1);
        assert_eq!(r.long_reinforcement, 0.05);
        let hot = LearningConfig {
            evaporation: 0.5,
            ..c
        };
        assert_eq!(hot.trail_rates().short_evaporation, 0.8);
    }

    #[test]
    fn partial_json_takes_defaults_and_aliases() {
        let c: LearningConfig =
            serde_json::from_str(r#"{"learning_rate": 0.1, "shrink_factor": 0.5}"#).unwrap();
        assert_eq!(c.learning_rate, 0.1);
        assert_eq!(c.shrink, 0.5);
        assert_eq!(c.grow, 1.5);
    }

    #[test]
    fn unknown_key_is_named() {
        let err = serde_json::from_str::<LearningConfig>(r#"{"learnig_rate": 0.1}"#).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `learnig_rate`"),
            "{err}"
        );
    }

    #[test]
    fn validation() {
        assert!(LearningConfig::default().validate().is_ok());
        let bad = LearningConfig {
            min_pheromone: 9.0,
            ..Default::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("min_pheromone:"));
        let bad = LearningConfig {
            max_budget: Some(0.5),
            ..Default::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("max_budget:"));
    }
}
