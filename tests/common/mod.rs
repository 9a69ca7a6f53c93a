//! Helpers shared by the command-line test files.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `lpn` binary under test.
pub fn lpn() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lpn"))
}

/// An empty folder under the target directory.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Process output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A path in the repository.
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}
