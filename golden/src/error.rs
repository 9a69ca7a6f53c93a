//! The one error type of the reference model.

use std::fmt;

/// An error from building or driving the reference model.
///
/// Every variant renders as a single line that names what was wrong, so the CLI can print
/// it as is.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// A configuration or input value is out of its domain. `field` names it in the
    /// dotted/indexed form a user would find in the scenario file (`network.inputs`,
    /// `phases[1].x[3]`).
    Invalid {
        /// Where the bad value is.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A layer could not be wired: an output unit has no tag-compatible input.
    Topology {
        /// Layer index, input side first.
        layer: usize,
        /// Output unit of that layer.
        output: usize,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error with `prefix.` put in front of its field name (used when a library
    /// value is embedded in a larger document).
    pub fn within(self, prefix: &str) -> Self {
        match self {
            Error::Invalid { field, message } => Error::Invalid {
                field: format!("{prefix}.{field}"),
                message,
            },
            other => other,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid { field, message } => write!(f, "{field}: {message}"),
            Error::Topology {
                layer,
                output,
                message,
            } => {
                write!(f, "layer {layer}, output unit {output}: {message}")
            }
        }
    }
}

impl std::error::Error for Error {}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
