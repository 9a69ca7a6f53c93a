//! The Verilator simulation of the whole board (`lpn_board`) as a byte stream: a child
//! process whose stdin is the host's transmit line and whose stdout is its receive line
//! (see `lpn_flow::boardsim`).

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use lpn_cycle::HwConfig;

use crate::{Error, Result};

/// A running board simulation.
pub struct SimBoard {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
}

impl SimBoard {
    /// Builds (or reuses from `cache`) the board simulation of `config` and starts it;
    /// `vcd` writes a waveform of the whole run.
    pub fn start(config: &HwConfig, cache: &Path, vcd: Option<&Path>) -> Result<SimBoard> {
        let (model, _) = lpn_flow::boardsim::build(config, cache).map_err(Error::Io)?;
        SimBoard::spawn(&model.exe, vcd)
    }

    /// Starts an already built simulation executable.
    pub fn spawn(exe: &Path, vcd: Option<&Path>) -> Result<SimBoard> {
        let mut cmd = Command::new(exe);
        if let Some(v) = vcd {
            cmd.arg("--vcd").arg(v);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| Error::Io(format!("cannot start {}: {e}", exe.display())))?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| Error::Io("no stdout from the board simulation".into()))?;
        Ok(SimBoard {
            child,
            stdin,
            stdout,
        })
    }

    /// Closes the line and waits for the simulation to end (it writes its waveform).
    pub fn finish(mut self) -> Result<()> {
        drop(self.stdin.take());
        let status = self
            .child
            .wait()
            .map_err(|e| Error::Io(format!("board simulation: {e}")))?;
        if status.success() {
            Ok(())
        } else {
            Err(Error::Io(format!(
                "the board simulation ended with {status}"
            )))
        }
    }
}

impl Read for SimBoard {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.stdout.read(buf)
    }
}

impl Write for SimBoard {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.stdin {
            Some(s) => s.write(buf),
            None => Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the line is closed",
            )),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.stdin {
            Some(s) => s.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for SimBoard {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
