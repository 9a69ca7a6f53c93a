//! Cycle-accurate, fixed-point model of the LPN sparse-trail update engine: the
//! executable specification the generated RTL must equal bit for bit and cycle for
//! cycle. `docs/architecture.md` describes the hardware; this crate is its contract.
//!
//! - [`HwConfig`]: layer shape, lanes, rows, formats, learning constants; validated
//!   against the target FPGA family ([`config::MemoryPlan`]).
//! - [`Format`] and [`arith`]: every fixed-point format and every named rounding and
//!   saturation point of the datapath.
//! - [`Engine`]: the engine, one [`Engine::tick`] per clock.
//! - [`image`]: the host's fixed-point view of a layer (wiring, state, step inputs).
//! - [`vectors`]: golden vectors (generation from reference scenarios, replay, bounds).
#![warn(missing_docs)]

pub mod arith;
pub mod catalogue;
pub mod config;
pub mod constants;
pub mod engine;
pub mod format;
pub mod functional;
pub mod image;
pub mod layout;
pub mod points;
pub mod random;
pub mod train;
pub mod vectors;

pub use arith::{Datapath, Saturations};
pub use config::{preset, Family, HwConfig, Pipeline, PRESETS};
pub use constants::Constants;
pub use engine::{
    cycle_formula, cycle_formula_text, divider_units, division_steps, pipeline_latency,
    Accelerator, Cycles, Engine, Phase, StageDepths, UpdateReport,
};
pub use format::Format;
pub use image::{FixedState, StepInput, Wiring};
/// The budget modes (the reference's), encoded in 2 bits by [`constants::mode_code`].
pub use lpn_golden::Mode;

use std::fmt;

/// The crate's error: one line saying what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

impl Error {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Error(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<lpn_golden::Error> for Error {
    fn from(e: lpn_golden::Error) -> Self {
        Error(e.to_string())
    }
}

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
