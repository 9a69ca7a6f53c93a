//! Output files: never an input of the same command, never half written.
//!
//! Every file a command writes goes through [`Staged`]: the bytes go to a temporary file
//! beside the target, which is renamed over the target only once it is complete, so a
//! failed or interrupted run leaves the old file (or none), never a partial one. Before a
//! command does any work, [`refuse_clobber`] checks that none of its outputs is one of its
//! inputs, through links too, so `lpn ref run s.json --out s.json` is an error rather than
//! a lost scenario.

use std::path::{Path, PathBuf};

/// A file being written: the caller (or a tool it runs) writes [`Staged::path`], then
/// [`Staged::commit`] moves it into place. Dropped without a commit, the temporary file is
/// removed.
pub struct Staged {
    tmp: PathBuf,
    target: PathBuf,
    shown: PathBuf,
    committed: bool,
}

impl Staged {
    /// Prepares to write `path`: its folder must exist and `path` must not be a folder.
    /// A symbolic link is followed, so the link stays and its target gets the new bytes.
    pub fn new(path: &Path) -> Result<Staged, String> {
        let fail = |why: &str| format!("cannot write {}: {why}", path.display());
        let target = match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => {
                std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
            }
            _ => path.to_path_buf(),
        };
        if target.is_dir() {
            return Err(fail("it is a folder"));
        }
        let name = target
            .file_name()
            .ok_or_else(|| fail("not a file name"))?
            .to_string_lossy()
            .into_owned();
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(fail(&format!("no folder {}", dir.display())));
        }
        let tmp = dir.join(format!(".{name}.lpn-partial-{}", std::process::id()));
        Ok(Staged {
            tmp,
            target,
            shown: path.to_path_buf(),
            committed: false,
        })
    }

    /// Where to write the bytes until [`Staged::commit`].
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Moves the finished file into place (keeping the permissions of the file it
    /// replaces). Fails, leaving the target as it was, when nothing was written.
    pub fn commit(mut self) -> Result<(), String> {
        let fail =
            |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", self.shown.display());
        if !self.tmp.is_file() {
            return Err(fail(&"nothing was written"));
        }
        if let Ok(m) = std::fs::metadata(&self.target) {
            let _ = std::fs::set_permissions(&self.tmp, m.permissions());
        }
        std::fs::rename(&self.tmp, &self.target).map_err(|e| fail(&e))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `path` through a [`Staged`] file, synced before the rename.
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<(), String> {
    use std::io::Write;
    let staged = Staged::new(path)?;
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut f = std::fs::File::create(staged.path()).map_err(fail)?;
    f.write_all(bytes.as_ref()).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    drop(f);
    staged.commit()
}

/// Whether `a` and `b` are the same existing file: the same path, a link to it (symbolic
/// or hard), or another spelling of it.
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        #[cfg(unix)]
        (Ok(ma), Ok(mb)) => {
            use std::os::unix::fs::MetadataExt;
            ma.dev() == mb.dev() && ma.ino() == mb.ino()
        }
        #[cfg(not(unix))]
        (Ok(_), Ok(_)) => match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
            (Ok(x), Ok(y)) => x == y,
            _ => false,
        },
        _ => false,
    }
}

/// Refuses a command whose output is one of its inputs, or whose outputs name one file
/// twice. `inputs` and `outputs` pair what the user would call the file (`--out`,
/// `the scenario`) with its path; an output that does not exist yet is no input.
pub fn refuse_clobber(inputs: &[(&str, &Path)], outputs: &[(&str, &Path)]) -> Result<(), String> {
    for (i, (oname, out)) in outputs.iter().enumerate() {
        for (iname, input) in inputs {
            if same_file(out, input) {
                return Err(format!(
                    "{oname} {} is {iname} {}: refusing to overwrite an input (choose another output path)",
                    out.display(),
                    input.display()
                ));
            }
        }
        for (other, path) in &outputs[..i] {
            if out == path || same_file(out, path) {
                return Err(format!(
                    "{other} and {oname} both name {}: give each output its own file",
                    out.display()
                ));
            }
        }
    }
    Ok(())
}

/// Refuses a work folder that holds one of the command's inputs: the tools the command
/// runs overwrite the folder's files by their own names.
pub fn refuse_inputs_in(folder: (&str, &Path), inputs: &[(&str, &Path)]) -> Result<(), String> {
    let Ok(dir) = std::fs::canonicalize(folder.1) else {
        return Ok(());
    };
    for (name, input) in inputs {
        if let Ok(p) = std::fs::canonicalize(input) {
            if p.starts_with(&dir) {
                return Err(format!(
                    "{} {} holds {name} {}: the build writes into that folder; choose another",
                    folder.0,
                    folder.1.display(),
                    input.display()
                ));
            }
        }
    }
    Ok(())
}

/// The files among a command's optional arguments, each with what the user calls it
/// (`("--json", json)`, `("the config", config_file(spec))`): the list
/// [`refuse_clobber`] takes.
pub fn given<'a>(args: &[(&'a str, Option<&'a Path>)]) -> Vec<(&'a str, &'a Path)> {
    args.iter()
        .filter_map(|&(name, path)| path.map(|p| (name, p)))
        .collect()
}

/// A config argument's file, when it names one (a preset name is no file).
pub fn config_file(spec: &str) -> Option<&Path> {
    (!lpn_cycle::PRESETS.contains(&spec)).then_some(Path::new(spec))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("lpn-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn an_output_that_is_an_input_is_refused_through_links() {
        let d = scratch("clobber");
        let input = d.join("s.json");
        std::fs::write(&input, "{}").unwrap();
        let e = refuse_clobber(&[("the scenario", &input)], &[("--out", &input)]).unwrap_err();
        assert!(e.contains("refusing to overwrite an input"), "{e}");
        let spelled = d.join(".").join("s.json");
        assert!(refuse_clobber(&[("the scenario", &input)], &[("--out", &spelled)]).is_err());
        #[cfg(unix)]
        {
            let sym = d.join("link.json");
            std::os::unix::fs::symlink(&input, &sym).unwrap();
            assert!(refuse_clobber(&[("the scenario", &input)], &[("--out", &sym)]).is_err());
            let hard = d.join("hard.json");
            std::fs::hard_link(&input, &hard).unwrap();
            assert!(refuse_clobber(&[("the scenario", &input)], &[("--out", &hard)]).is_err());
        }
        let other = d.join("r.json");
        assert!(refuse_clobber(&[("the scenario", &input)], &[("--out", &other)]).is_ok());
        let e = refuse_clobber(&[], &[("--json", &other), ("--vcd", &other)]).unwrap_err();
        assert!(e.contains("both name"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_write_replaces_whole_or_not_at_all() {
        let d = scratch("write");
        let path = d.join("out.json");
        std::fs::write(&path, "old").unwrap();
        write(&path, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        // A staged file never committed leaves the old content and no temporary file.
        let staged = Staged::new(&path).unwrap();
        std::fs::write(staged.path(), "partial").unwrap();
        drop(staged);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
        // Nothing written: the commit fails and says so.
        let e = Staged::new(&path).unwrap().commit().unwrap_err();
        assert!(e.ends_with("nothing was written"), "{e}");
        let e = write(&d.join("missing/out.json"), "x").unwrap_err();
        assert!(e.contains("no folder"), "{e}");
        let e = write(&d, "x").unwrap_err();
        assert!(e.ends_with("it is a folder"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
