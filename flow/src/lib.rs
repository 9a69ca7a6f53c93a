//! Simulation and the FPGA flow for the Verilog that `lpn-rtl` generates:
//!
//! - [`verilator`]: building a Verilator model with a generated C++ harness (cached) and
//!   running it; [`cosim`]: the engine against the cycle model under Verilator;
//!   [`icarus`]: the same command script under Icarus Verilog, the second simulator;
//!   [`boardsim`]: the Verilator board simulation as a byte pipe.
//! - [`formal`]: properties of the RTL proven with SymbiYosys (`lpn prove`).
//! - [`fpga`]: the FPGA flow (Yosys, nextpnr, packers) and its parsed report;
//!   [`yosys`]: synthesis scripts and log checks; [`run`]: running a tool, logged;
//!   [`netlist`]: passes on the synthesised netlist (ECP5 block RAM output registers).
#![warn(missing_docs)]

pub mod boardsim;
pub mod cosim;
pub mod formal;
pub mod fpga;
pub mod icarus;
pub mod netlist;
pub mod run;
pub mod verilator;
pub mod yosys;
