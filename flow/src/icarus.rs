//! The engine under a second simulator, Icarus Verilog: a Verilog testbench that speaks
//! the co-simulation harness's command script ([`crate::cosim::script`]) on its standard
//! input and prints the same answers, flushed per command, so it runs as the same
//! [`Accelerator`](lpn_cycle::Accelerator) as the Verilator harness ([`start`]). It shows
//! that the generated Verilog is plain Verilog-2005 (not only what Verilator accepts) and
//! simulates the UP5K's SPRAM placement with Yosys's own `SB_SPRAM256KA` model, a path the
//! Verilator flow (which takes `lpn_spram`'s behavioural branch) never runs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use lpn_cycle::vectors::{StepResult, Vectors};
use lpn_cycle::HwConfig;
use lpn_toolchain::{Located, Tool, Toolchain};

use crate::cosim::Rtl;
use lpn_rtl::engine::{generate, uses_spram, PortInfo};

/// The testbench `lpn_tb` for an engine with these ports: it reads the command script
/// named by `+script=FILE` (a file, or `/dev/stdin` to be driven command by command)
/// and does, clock for clock, what the C++ harness of [`crate::cosim::harness`] does
/// (`host_read` clocks per host read), flushing its answers after every command.
pub fn testbench(ports: &[PortInfo], host_read: u32) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "// Icarus Verilog testbench for lpn_engine: the co-simulation command script\n\
         // (flow/src/cosim.rs) from +script=FILE, answers on standard output.\n{}\
         `default_nettype none\nmodule lpn_tb;",
        lpn_rtl::TIMESCALE
    );
    let range = |p: &PortInfo| {
        if p.width > 1 {
            format!("[{}:0] ", p.width - 1)
        } else {
            String::new()
        }
    };
    for p in ports {
        let kind = if p.direction == "input" {
            "reg "
        } else {
            "wire"
        };
        let init = if p.direction == "input" { " = 0" } else { "" };
        let _ = writeln!(s, "    {kind} {}{}{init};", range(p), p.name);
    }
    let conns: Vec<String> = ports.iter().map(|p| format!(".{0}({0})", p.name)).collect();
    let _ = writeln!(s, "    lpn_engine dut ({});", conns.join(", "));
    s += &r#"    reg [8*4096-1:0] path;
    reg [7:0] cmd;
    reg [63:0] a, b, c, d, total;
    reg [63:0] count [0:3];
    integer fd, n, i;
    task tick;
        begin
            #1 clk = 1'b1;
            #1 clk = 1'b0;
        end
    endtask
    initial begin
        if (!$value$plusargs("script=%s", path)) begin
            $display("E no +script=FILE");
            $finish(0);
        end
        fd = $fopen(path, "r");
        if (fd == 0) begin
            $display("E cannot open the script");
            $finish(0);
        end
        rst = 1'b1; start = 1'b0; host_we = 1'b0;
        tick; tick;
        rst = 1'b0;
        n = $fscanf(fd, "%s", cmd);
        while (n == 1) begin
            if (cmd == "W") begin
                n = $fscanf(fd, "%d %d %d %d", a, b, c, d);
                host_sel = a; host_lane = b; host_addr = c; host_wdata = d; host_we = 1'b1;
                tick;
                host_we = 1'b0;
            end else if (cmd == "R") begin
                n = $fscanf(fd, "%d %d %d", a, b, c);
                host_sel = a; host_lane = b; host_addr = c;
                for (i = 0; i < HOST_READ; i = i + 1) tick;
                $display("%0d", host_rdata);
            end else if (cmd == "S") begin
                n = $fscanf(fd, "%d %d %d %d", a, b, c, d);
                rows = a; budget = b; mode = c; consolidate = d[0];
                start = 1'b1;
                tick;
                start = 1'b0;
                for (i = 0; i < 4; i = i + 1) count[i] = 0;
                total = 0;
                while (busy === 1'b1) begin
                    count[phase] = count[phase] + 1;
                    total = total + 1;
                    tick;
                end
                if (busy !== 1'b0) $display("E busy is %b", busy);
                $display("C %0d %0d %0d %0d %0d %0d", count[1], count[2], count[3], total,
                         descent, selected_count);
            end else begin
                $display("E unknown command %s", cmd);
                $fflush;
                $finish(0);
            end
            // A driver waits for each answer before it sends the next command.
            $fflush;
            n = $fscanf(fd, "%s", cmd);
        end
        $fclose(fd);
        $finish(0);
    end
endmodule
`default_nettype wire
"#
    .replace("HOST_READ", &host_read.to_string());
    s
}

/// Yosys's iCE40 simulation models (`SB_SPRAM256KA` among them), beside the Yosys the
/// toolchain uses.
fn ice40_cells_sim() -> Result<PathBuf, String> {
    let yosys = Toolchain::from_env()
        .locate(Tool::Yosys)
        .map_err(|e| e.to_string())?;
    let share = yosys
        .path
        .parent()
        .and_then(Path::parent)
        .map(|usr| usr.join("share/yosys/ice40/cells_sim.v"));
    match share {
        Some(p) if p.is_file() => Ok(p),
        _ => Err(format!(
            "the iCE40 simulation models (share/yosys/ice40/cells_sim.v) are not beside {}; the SPRAM placement needs Debian's Yosys from scripts/install-tools",
            yosys.path.display()
        )),
    }
}

/// A compiled simulation: the `vvp` file and the Icarus Verilog that compiled it (whose
/// runtime runs it).
pub struct Compiled {
    /// The compiled design (`<top>.vvp`).
    pub exe: PathBuf,
    iverilog: Located,
}

/// Compiles the engine of `c` with its testbench under Icarus Verilog in `work` (the
/// SPRAM placement with `SYNTHESIS` defined, so `lpn_spram` instantiates
/// `SB_SPRAM256KA`, and Yosys's model of it) and returns the compiled simulation.
pub fn compile(c: &HwConfig, work: &Path) -> Result<Compiled, String> {
    let g = generate(c).map_err(|e| e.to_string())?;
    let host_read = lpn_cycle::StageDepths::of(c).host_read();
    let mut sources = g.files.clone();
    sources.push(("lpn_tb.v".into(), testbench(&g.manifest.ports, host_read)));
    compile_sources(&sources, "lpn_tb", uses_spram(c), work)
}

/// Compiles `(file name, text)` sources with `top` as the top module into
/// `work/<top>.vvp`; `vendor_ice40` adds Yosys's iCE40 cell models and defines
/// `SYNTHESIS`, as synthesis sees the files. Any warning of the compiler is an error:
/// the Verilog must be clean for a second tool too.
pub fn compile_sources(
    sources: &[(String, String)],
    top: &str,
    vendor_ice40: bool,
    work: &Path,
) -> Result<Compiled, String> {
    let iverilog = Toolchain::from_env()
        .locate(Tool::Iverilog)
        .map_err(|e| e.to_string())?;
    let mut files = Vec::new();
    if vendor_ice40 {
        files.push(ice40_cells_sim()?);
    }
    files.extend(
        crate::verilator::write_sources(work, sources)?
            .into_iter()
            .map(|name| work.join(name)),
    );
    let exe = work.join(format!("{top}.vvp"));
    let mut cmd = iverilog.command();
    cmd.args(["-g2005", "-s", top, "-o"]).arg(&exe);
    if vendor_ice40 {
        // Port defaults in the models are SystemVerilog; the macro leaves them out.
        cmd.args(["-DSYNTHESIS", "-DNO_ICE40_DEFAULT_ASSIGNMENTS"]);
    }
    let out = cmd
        .args(&files)
        .output()
        .map_err(|e| format!("cannot run iverilog: {e}"))?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() || !said.trim().is_empty() {
        return Err(format!("iverilog: {}", said.trim().replace('\n', "; ")));
    }
    Ok(Compiled { exe, iverilog })
}

/// Compiles the engine of `c` in `work` ([`compile`]) and starts it under Icarus's
/// runtime as an [`Accelerator`](lpn_cycle::Accelerator), its testbench reading commands
/// from standard input.
pub fn start(c: &HwConfig, work: &Path) -> Result<Rtl, String> {
    let sim = compile(c, work)?;
    let mut command = sim.iverilog.vvp_command();
    command.arg("-n").arg(&sim.exe).arg("+script=/dev/stdin");
    Rtl::spawn(command, c)
}

/// Golden vectors under Icarus, driven update by update as the cycle model is
/// ([`lpn_cycle::vectors::run_on`]), in the form [`lpn_cycle::vectors::judge`] takes.
pub fn run_vectors(v: &Vectors, work: &Path) -> Result<Vec<StepResult>, String> {
    let mut rtl = start(&v.config, work)?;
    let results = lpn_cycle::vectors::run_on(&mut rtl, v).map_err(|e| e.to_string())?;
    rtl.finish()?;
    Ok(results)
}
