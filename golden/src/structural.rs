//! Structural plasticity (spec section 10; a project definition, the paper names it
//! without equations).
//!
//! Every `every` training steps each layer looks at each output's slots. A valid slot is
//! *pruned* when its long trail is below `long_below`, its |weight| below `weight_below`
//! and its consolidation at most `consolidation_at_most` (so consolidated memories are
//! never rewired). Each pruned slot is *regrown* onto an input that the output is not yet
//! connected to and that is tag-compatible with it (the layer's own tag rule; the
//! connection radius is deliberately ignored, since reaching beyond the initial
//! neighbourhood is the point). Among those, inputs are ranked by their recent local
//! correlation with the output's error, `|sum_r err[r][o] * x[r][j]| / R` over the batch
//! of the step on which the pass runs, and taken best first (ties: lower input index).
//! Only inputs with a strictly positive correlation qualify, and a slot is pruned only if
//! one is left for it: a slot never moves to an input with no evidence behind it.
//!
//! A regrown slot starts with `w = 0`, `S = P = 1`, `C = 0` and is not "recently
//! accepted". The neighbour table, the input in-degrees (which scale the feedback) and
//! the cached gate are updated together.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Structural plasticity settings (`network.structural` in a scenario; every key
/// optional).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StructuralConfig {
    /// Training steps between two rewiring passes (default 50).
    pub every: usize,
    /// Prune only slots whose long trail is below this (default 0.2).
    pub long_below: f64,
    /// ... and whose |weight| is below this (default 0.1) ...
    pub weight_below: f64,
    /// ... and whose consolidation is at most this (default 0: not consolidated at all).
    pub consolidation_at_most: f64,
}

impl Default for StructuralConfig {
    fn default() -> Self {
        StructuralConfig {
            every: 50,
            long_below: 0.2,
            weight_below: 0.1,
            consolidation_at_most: 0.0,
        }
    }
}

impl StructuralConfig {
    /// Checks the settings; field names are the scenario keys.
    pub fn validate(&self) -> Result<()> {
        if self.every == 0 {
            return Err(Error::invalid("every", "must be at least 1"));
        }
        for (name, v) in [
            ("long_below", self.long_below),
            ("weight_below", self.weight_below),
            ("consolidation_at_most", self.consolidation_at_most),
        ] {
            if !v.is_finite() {
                return Err(Error::invalid(name, "not a finite number"));
            }
        }
        Ok(())
    }
}
