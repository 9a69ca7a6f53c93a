//! Helpers shared by the command-line test files (each file uses some of them).
#![allow(dead_code)]

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

/// A golden vector file shipped in `golden/vectors/`.
pub fn golden_vectors(name: &str) -> lpn_cycle::vectors::Vectors {
    lpn_cycle::vectors::Vectors::load(&repo(&format!("golden/vectors/{name}.vectors.json")))
        .unwrap()
}

/// The `consolidation` vectors with the single-access memories in iCE40 SPRAM, in two
/// placements, because the two-lane tiny layer fits four SPRAM blocks at a time: the
/// scratch (written by the engine), then nbr and pre (written by the host). The
/// structure is valid; the layer's many small memories need more than the UP5K's 30
/// block RAMs (so the cycle model refuses the plan), which does not matter to a
/// simulation, and the expected words do not depend on the placement.
pub fn spram_placements() -> Vec<lpn_cycle::vectors::Vectors> {
    use lpn_cycle::config::{MemoryConfig, RamKind};
    [
        (RamKind::Spram, RamKind::Block, RamKind::Block),
        (RamKind::Block, RamKind::Spram, RamKind::Spram),
    ]
    .into_iter()
    .map(|(scratch, nbr, pre)| {
        let mut v = golden_vectors("consolidation");
        v.config.family = lpn_cycle::Family::Ice40Up5k;
        v.config.memory = MemoryConfig {
            scratch,
            nbr,
            pre,
            post_err: RamKind::Block,
            block_output_register: false,
        };
        v.config.validate_structure().unwrap();
        v
    })
    .collect()
}

/// Asserts that RTL results equal the vectors in every word, selection and cycle count.
pub fn assert_bit_exact(v: &lpn_cycle::vectors::Vectors, got: &[lpn_cycle::vectors::StepResult]) {
    let r = lpn_cycle::vectors::judge(v, got, Default::default()).unwrap();
    assert_eq!(
        r.mismatch_count, 0,
        "{:?}: {:?}",
        v.config.memory, r.mismatches
    );
}
