//! The bit layout of host and memory words (defined with the configuration,
//! [`crate::config::SynLayout`]; re-exported here under their familiar path).

pub use crate::config::{Field, SynLayout};
