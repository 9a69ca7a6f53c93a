//! # lpn-golden: the floating-point reference Local Pheromone Network
//!
//! This crate is the project's oracle: an f64 implementation of the Local Pheromone
//! Network (arXiv 2606.30669) that follows `shared/docs/lpn-algorithm.md` sections 1-7
//! exactly, operation for operation with the public port of the paper's code, so that
//! the same seeds give the same trajectories to floating-point round-off.
//!
//! * [`rng`]: `mulberry32` and Box-Muller Gaussians (bit-compatible initialisation).
//! * [`topology`]: unit layouts, tags and neighbourhood wiring.
//! * [`layer`]: one sparse layer: gate, forward, feedback and the local update.
//! * [`network`]: multi-layer networks, the training step and budget adaptation.
//! * [`scenario`]: the JSON scenario files that `lpn ref run` executes.
//!
//! ```
//! use lpn_golden::{Matrix, Network, NetworkSpec};
//! let mut net = Network::new(&NetworkSpec::new(4, vec![], 2)).unwrap();
//! let x = Matrix::from_rows(&[vec![1.0, 0.0, -1.0, 0.5]], 4, "x").unwrap();
//! let t = Matrix::from_rows(&[vec![0.5, -0.5]], 2, "target").unwrap();
//! let first = net.step(&x, &t, None).unwrap();
//! assert_eq!(first.mode, lpn_golden::Mode::Warmup);
//! ```

#![warn(missing_docs)]

pub mod baseline;
pub mod compare;
pub mod config;
pub mod contrastive;
pub mod error;
pub mod experiments;
pub mod input;
pub mod layer;
pub mod matrix;
pub mod network;
pub mod replay;
pub mod rng;
pub mod scenario;
pub mod structural;
pub mod tasks;
pub mod topology;

pub use config::LearningConfig;
pub use error::{Error, Result};
pub use layer::{Layer, LayerSpec, LayerState, Mode, UpdateParams};
pub use matrix::Matrix;
pub use network::{Activation, Budget, Network, NetworkSpec, OutputMask, StepReport};
pub use topology::Shape;
