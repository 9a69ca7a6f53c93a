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

/// Where a learning constant's value makes sense: the range the rule's formulas are
/// defined for (spec sections 4-6). Keys not listed take any finite value
/// (`consolidation_strength <= 0` switches consolidation off; `consolidation_threshold`
/// and `consolidation_loss_gate` are compared with trails and losses of any sign).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Domain {
    /// The scenario key.
    pub key: &'static str,
    /// Smallest value allowed.
    pub min: f64,
    /// Whether `min` itself is allowed (`false`: the value must exceed it).
    pub min_inclusive: bool,
    /// Largest value allowed (inclusive).
    pub max: f64,
}

impl Domain {
    const fn at_least(key: &'static str, min: f64) -> Self {
        Domain {
            key,
            min,
            min_inclusive: true,
            max: f64::INFINITY,
        }
    }

    const fn fraction(key: &'static str) -> Self {
        Domain {
            key,
            min: 0.0,
            min_inclusive: true,
            max: 1.0,
        }
    }

    /// Whether `v` lies in the domain.
    pub fn holds(&self, v: f64) -> bool {
        let low = if self.min_inclusive {
            v >= self.min
        } else {
            v > self.min
        };
        low && v <= self.max
    }

    /// The domain in words (`> 0`, `in [0, 1]`, `>= 1`).
    pub fn text(&self) -> String {
        let op = if self.min_inclusive { ">=" } else { ">" };
        if self.max.is_finite() {
            let open = if self.min_inclusive { "[" } else { "(" };
            format!("in {open}{}, {}]", self.min, self.max)
        } else {
            format!("{op} {}", self.min)
        }
    }
}

/// The domain of every bounded learning constant; `docs/scenario-format.md` prints the
/// same table. A rate outside `[0, 1]` turns a decay into growth or a sign flip, a
/// negative clip, weight or reinforcement inverts what the rule means by it, and a
/// learning rate of 0 or below never descends.
pub const DOMAINS: [Domain; 23] = [
    Domain {
        key: "learning_rate",
        min: 0.0,
        min_inclusive: false,
        max: f64::INFINITY,
    },
    Domain::at_least("min_budget", 0.0),
    Domain::at_least("max_budget", 0.0),
    Domain::at_least("initial_budget", 0.0),
    Domain::fraction("shrink"),
    Domain::at_least("grow", 1.0),
    Domain::at_least("loss_tolerance", 0.0),
    Domain::fraction("evaporation"),
    Domain::at_least("pheromone_reinforcement", 0.0),
    Domain::fraction("synapse_decay"),
    Domain::at_least("signal_clip", 0.0),
    Domain::at_least("weight_clip", 0.0),
    Domain::at_least("neighbor_follow_distance", 0.0),
    Domain::at_least("min_pheromone", 0.0),
    Domain::fraction("short_evaporation"),
    Domain::fraction("long_evaporation"),
    Domain::at_least("short_reinforcement", 0.0),
    Domain::at_least("long_reinforcement", 0.0),
    Domain::at_least("short_weight", 0.0),
    Domain::at_least("long_weight", 0.0),
    Domain::at_least("consolidation_growth", 0.0),
    Domain::fraction("consolidation_decay"),
    Domain::fraction("consolidation_lr_floor"),
];

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
                if let Some(domain) = DOMAINS.iter().find(|d| d.key == name) {
                    if !domain.holds(v) {
                        return Err(Error::invalid(
                            name,
                            format!("{v} is outside its domain: {}", domain.text()),
                        ));
                    }
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
    fn every_domain_is_enforced_with_the_key_named() {
        for d in DOMAINS {
            let below = if d.min_inclusive { d.min - 0.5 } else { d.min };
            for bad in [below, d.max + 0.5] {
                if !bad.is_finite() {
                    continue;
                }
                let mut v = serde_json::to_value(LearningConfig::default()).unwrap();
                v[d.key] = serde_json::json!(bad);
                let c: LearningConfig = serde_json::from_value(v).unwrap();
                let e = c.validate().unwrap_err().to_string();
                assert!(
                    e.starts_with(&format!("{}:", d.key)),
                    "{}={bad}: {e}",
                    d.key
                );
            }
        }
        let negative = LearningConfig {
            learning_rate: -0.1,
            ..Default::default()
        };
        assert_eq!(
            negative.validate().unwrap_err().to_string(),
            "learning_rate: -0.1 is outside its domain: > 0"
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
