//! Reading input files with a size limit.
//!
//! Every file the project reads (scenarios, hardware configs, golden vectors) goes
//! through [`read_text`], so that a huge file, a device such as `/dev/zero` or a pipe that
//! never ends is refused after at most `limit` bytes instead of being read until memory
//! runs out.

use std::io::Read;
use std::path::Path;

/// Largest scenario file: its batches are read into memory whole.
pub const MAX_SCENARIO_BYTES: u64 = 256 << 20;

/// Largest hardware configuration file (a few hundred bytes in practice).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Largest golden vector file (the shipped ones are below 300 kB; the 1024 -> 1024 bench
/// layer's 40 steps take about 40 MB).
pub const MAX_VECTORS_BYTES: u64 = 256 << 20;

/// Reads `path` as UTF-8 text of at most `limit` bytes; `what` names the file's kind in
/// errors (`scenario`, `config`, `vector file`). Errors are one line.
pub fn read_text(path: &Path, limit: u64, what: &str) -> Result<String, String> {
    let fail = |e: &dyn std::fmt::Display| format!("cannot read {what} {}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(|e| fail(&e))?;
    let meta = file.metadata().map_err(|e| fail(&e))?;
    if meta.is_dir() {
        return Err(fail(&"is a directory"));
    }
    let too_big = |size: String| {
        format!(
            "{what} {} {size} the limit of {} MiB for a {what}",
            path.display(),
            limit >> 20
        )
    };
    if meta.is_file() && meta.len() > limit {
        return Err(too_big(format!("is {} bytes, above", meta.len())));
    }
    // Devices and pipes report no length: read one byte past the limit at most.
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(&e))?;
    if bytes.len() as u64 > limit {
        return Err(too_big("goes on past".to_string()));
    }
    String::from_utf8(bytes).map_err(|e| fail(&format!("not UTF-8 text ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_above_the_limit_is_refused_with_its_size() {
        let dir = std::env::temp_dir().join(format!("lpn-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("big.json");
        std::fs::write(&path, vec![b' '; 2048]).unwrap();
        let e = read_text(&path, 1024, "scenario").unwrap_err();
        assert!(e.contains("is 2048 bytes, above the limit"), "{e}");
        assert_eq!(read_text(&path, 4096, "scenario").unwrap().len(), 2048);
        let e = read_text(&dir, 1024, "scenario").unwrap_err();
        assert!(e.ends_with("is a directory"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn an_endless_device_is_read_only_up_to_the_limit() {
        let e = read_text(Path::new("/dev/zero"), 1 << 16, "config").unwrap_err();
        assert!(e.contains("goes on past the limit"), "{e}");
    }
}
