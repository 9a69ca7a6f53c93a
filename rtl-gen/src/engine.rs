//! The engine in Verilog: `lpn_lane` (one lane's memories and the three phase pipelines,
//! stage for stage as in `lpn_cycle::engine`) and `lpn_engine` (control, flags, host
//! port, the lanes). Register names are `<stage>_<field>` with the model's stage names.

#![allow(clippy::needless_range_loop)] // index loops mirror the generated per-entry Verilog

use lpn_cycle::arith::Datapath;
use lpn_cycle::config::RamKind;
use lpn_cycle::format::bits_for;
use lpn_cycle::HwConfig;
use lpn_cycle::{Pipeline, StageDepths};
use serde::Serialize;

use crate::datapath::Emit;
use crate::rtl::{Dir, Module, Sig, Ty};
pub use lpn_cycle::layout::{Field, SynLayout};

/// Host memory selectors (`host_sel`).
pub mod sel {
    /// Synapse word `{C?, S?, P, w}` at slot address `u*K + k` of a lane.
    pub const SYN: u64 = 0;
    /// `{near, nbr}` at slot address.
    pub const NBR: u64 = 1;
    /// Pre-synaptic activity at `input*max_rows + row` (written to every lane's replica).
    pub const PRE: u64 = 2;
    /// `{err, post}` at `u*max_rows + row`.
    pub const POST_ERR: u64 = 3;
    /// `{valid_count, mask}` of local output `u`.
    pub const MASK: u64 = 4;
    /// Gate reciprocal of local output `u`.
    pub const RECIP: u64 = 5;
    /// Bias of local output `u`.
    pub const BIAS: u64 = 6;
    /// Accepted bits of the last update, local output `u`.
    pub const LAST_ACCEPTED: u64 = 7;
    /// Selected bits of the last update, local output `u` (read only).
    pub const SELECTED: u64 = 8;
}

/// Bits of a host word of each memory, indexed by selector ([`sel`]).
pub fn word_bits(c: &HwConfig, dp: &Datapath) -> [u32; 9] {
    let f = &dp.f;
    let k = c.layer.k as u32;
    [
        c.syn_bits(),
        bits_for(c.layer.inputs as u64) + k,
        f.activation.bits,
        f.activation.bits + f.error.bits,
        k + bits_for(u64::from(k) + 1),
        f.gate_recip.bits,
        f.weight.bits,
        k,
        k,
    ]
}

/// Widths of the engine's control and host signals.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Widths {
    /// Local output index.
    pub u: u32,
    /// Slot index within an output.
    pub k: u32,
    /// Row index.
    pub r: u32,
    /// Slot address within a lane.
    pub a: u32,
    /// Input index.
    pub nbr: u32,
    /// Budget (1..=K).
    pub budget: u32,
    /// Rows register (1..=max_rows).
    pub rows: u32,
    /// Lane index.
    pub lane: u32,
    /// Host address.
    pub host_addr: u32,
    /// Host data.
    pub host_data: u32,
    /// Phase cycle counter.
    pub t: u32,
}

impl Widths {
    /// The widths of a configuration.
    pub fn new(c: &HwConfig, dp: &Datapath) -> Widths {
        let u = c.outputs_per_lane();
        let k = c.layer.k;
        let nbr = bits_for(c.layer.inputs as u64);
        let words = word_bits(c, dp);
        let depths = [u * k, c.max_rows * c.layer.inputs, c.max_rows * u, u];
        let longest = (c.max_rows + 2) * u * k + 64;
        Widths {
            u: bits_for(u as u64),
            k: bits_for(k as u64),
            r: bits_for(c.max_rows as u64),
            a: bits_for((u * k) as u64),
            nbr,
            budget: bits_for(k as u64 + 1),
            rows: bits_for(c.max_rows as u64 + 1),
            lane: bits_for(c.lanes as u64),
            host_addr: depths
                .iter()
                .map(|&d| bits_for(d as u64))
                .max()
                .unwrap_or(1),
            host_data: words.into_iter().max().unwrap_or(1),
            t: bits_for(longest as u64),
        }
    }
}

fn v(x: &Sig) -> &str {
    &x.name
}

/// `expr` (of `from` bits) zero-extended to `to` bits.
fn zext(expr: &str, from: u32, to: u32) -> String {
    if to <= from {
        expr.to_string()
    } else {
        format!("{{{}'b0, {expr}}}", to - from)
    }
}

/// Bit `idx` of a `width`-bit vector (a scalar when the width is 1, where Verilog has no
/// bit-select).
fn bit(name: &str, width: u32, idx: &str) -> String {
    if width == 1 {
        name.to_string()
    } else {
        format!("{name}[{idx}]")
    }
}

/// The registers `<stage>_<field>` of one pipeline stage, declared together and looked
/// up by field name (the stage's fields and their types stay side by side).
struct StageRegs {
    fields: Vec<(&'static str, Sig)>,
}

impl StageRegs {
    fn new(m: &mut Module, stage: &str, fields: &[(&'static str, Ty)]) -> StageRegs {
        StageRegs {
            fields: fields
                .iter()
                .map(|&(f, ty)| (f, m.reg(&format!("{stage}_{f}"), ty)))
                .collect(),
        }
    }

    fn get(&self, field: &str) -> Sig {
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| panic!("no stage register field `{field}`"))
    }
}

/// The lane module. In the shared pipeline, with the fewest multiplier units whose
/// schedule fits a step (see [`crate::shared`]; when none does, the module carries the
/// error, [`Module::shared_error`]).
pub fn lane_module(c: &HwConfig, dp: &Datapath, header: &[String]) -> Module {
    if c.pipeline != Pipeline::Shared {
        return lane_with(c, dp, header, 0);
    }
    let mut m = lane_with(c, dp, header, 1);
    for units in 2..=crate::shared::MAX_UNITS {
        if m.shared_error().is_none() {
            break;
        }
        m = lane_with(c, dp, header, units);
    }
    m
}

/// The lane module with at most `units` shared multipliers (shared pipeline).
fn lane_with(c: &HwConfig, dp: &Datapath, header: &[String], units: usize) -> Module {
    let w = Widths::new(c, dp);
    let (k, u_count, max_rows) = (c.layer.k, c.outputs_per_lane(), c.max_rows);
    let f = &dp.f;
    let mut m = Module::new("lpn_lane", header);
    let inp = |m: &mut Module, n: &str, t: Ty| m.port(Dir::Input, n, t);
    let clk = inp(&mut m, "clk", Ty::BIT);
    let rst = inp(&mut m, "rst", Ty::BIT);
    let _phase = inp(&mut m, "phase", Ty::u(2)); // read by name in the port blocks
    let _iss_valid = inp(&mut m, "iss_valid", Ty::BIT);
    let iss_u = inp(&mut m, "iss_u", Ty::u(w.u));
    let iss_k = inp(&mut m, "iss_k", Ty::u(w.k));
    let iss_r = inp(&mut m, "iss_r", Ty::u(w.r));
    let iss_a = inp(&mut m, "iss_a", Ty::u(w.a));
    let rows_last = inp(&mut m, "rows_last", Ty::u(w.r));
    let rows_recip = inp(&mut m, "rows_recip", Ty::u(f.rows_recip.bits));
    let budget = inp(&mut m, "budget", Ty::u(w.budget));
    let mode = inp(&mut m, "mode", Ty::u(2));
    let consolidate = inp(&mut m, "consolidate", Ty::BIT);
    let descent = inp(&mut m, "descent", Ty::BIT);
    let accepted_any = inp(&mut m, "accepted_any", Ty::BIT);
    let host_we = inp(&mut m, "host_we", Ty::BIT);
    let host_sel = inp(&mut m, "host_sel", Ty::u(4));
    let host_addr = inp(&mut m, "host_addr", Ty::u(w.host_addr));
    let host_wdata = inp(&mut m, "host_wdata", Ty::u(w.host_data));
    let host_rdata = m.port(Dir::Output, "host_rdata", Ty::u(w.host_data));
    let flag_bias_nz = m.port(Dir::Output, "flag_bias_nonzero", Ty::BIT);
    let flag_sel_descent = m.port(Dir::Output, "flag_select_descent", Ty::BIT);
    let flag_sel_any = m.port(Dir::Output, "flag_selected_any", Ty::BIT);
    let flag_sel_count = m.port(Dir::Output, "flag_selected_count", Ty::u(w.budget));
    let _ = (&clk, &rst);
    // Shared pipeline: the stages step on `adv` (the last clock of every step of
    // `step_clocks`); `step_sub` counts the clocks of a step, for the multipliers.
    let shared = c.pipeline == Pipeline::Shared;
    let sub_bits = step_sub_bits(c);
    let step_slot = if shared {
        inp(&mut m, "adv", Ty::BIT);
        inp(&mut m, "step_sub", Ty::u(sub_bits));
        Some(m.wire_across("step_slot", Ty::u(2 + sub_bits), "{phase, step_sub}".into()))
    } else {
        None
    };
    // Per-update control does not change during a phase: it meets any clock of a stage.
    let rows_last = m.invariant(&rows_last);
    let rows_recip = m.invariant(&rows_recip);
    let budget = m.invariant(&budget);
    let mode = m.invariant(&mode);
    let consolidate = m.invariant(&consolidate);
    let descent = m.invariant(&descent);
    let accepted_any = m.invariant(&accepted_any);
    // Stage depths (one table with the model): a stage `d` clocks deep hands its results
    // to the next stage's registers at clock `d - 1` of its own logic.
    let dd = StageDepths::of(c);
    m.set_pipelined(c.pipeline == Pipeline::Deep);
    if shared {
        m.set_shared(c.step_clocks(), units);
    }
    // Deep: each lane holds its own copy of the row count's reciprocal (a multiplier
    // operand; from the top's one register the route to a lane's DSP blocks took a
    // clock's worth).
    let rows_recip = m.hold(&rows_recip);
    // Block RAM's read data arrives late in the cycle (5.8 ns of clock-to-output on
    // ECP5) from blocks spread over the device, so in the deep pipeline every memory is
    // built from single blocks behind a registered read address, each followed by
    // `ram_regs - 2` registers (the first beside the block), and `<memory>_rd` (the
    // multiplexer of the last ones over the blocks stacked in depth) is valid at clock
    // `ram_regs - 1` of the stage that reads it; the stage registers it once more
    // before using it.
    let deep = c.pipeline == Pipeline::Deep;
    let ram_reg = dd.ram_regs;
    assert!(
        !deep || ram_reg >= 3,
        "the deep pipeline registers block RAM addresses and data"
    );

    let e = Emit::new(&mut m, c, dp);
    let t = e.t;
    let kk = k as u32;
    let stores_s = c.stores_short();
    let stores_c = c.stores_consolidation();
    let valid_w = bits_for(k as u64 + 1);

    // Memories.
    let syn_w = c.syn_bits();
    // (Deep: declared block by block with the memory ports below.) On the iCE40 every
    // memory the plan puts in block RAM is marked so: logic cells are what the UP5K runs
    // out of, not EBR, and Yosys would otherwise build a memory of a few words (the
    // per-output memories of a layer with few outputs) from flip-flops and multiplexers
    // (the regression board config: 5,594 logic cells so, 5,266 in EBR). SPRAM memories
    // take their own port below.
    let mem = |m: &mut Module, name: &str, ty: Ty, depth: usize| {
        if deep {
            Sig::named(name, ty)
        } else if c.family == lpn_cycle::Family::Ice40Up5k {
            m.mem_block(name, ty, depth)
        } else {
            m.mem(name, ty, depth)
        }
    };
    let syn = mem(&mut m, "syn", Ty::u(syn_w), u_count * k);
    let scratch = mem(
        &mut m,
        "scratch",
        Ty::u(f.signal.bits + f.cofire.bits),
        u_count * k,
    );
    let nbr = mem(&mut m, "nbr", Ty::u(w.nbr + kk), u_count * k);
    let pre = mem(
        &mut m,
        "pre",
        Ty::u(f.activation.bits),
        max_rows * c.layer.inputs,
    );
    let post_err = mem(
        &mut m,
        "post_err",
        Ty::u(f.activation.bits + f.error.bits),
        max_rows * u_count,
    );
    let mask_mem = mem(&mut m, "mask", Ty::u(kk + valid_w), u_count);
    let recip_mem = mem(&mut m, "gate_recip", Ty::u(f.gate_recip.bits), u_count);
    let maxs_mem = mem(&mut m, "max_score", Ty::u(f.score.bits), u_count);
    let bdir_mem = mem(&mut m, "bias_dir", Ty::u(f.signal.bits), u_count);
    let sel_mem = mem(&mut m, "selected", Ty::u(kk), u_count);
    let lacc_mem = mem(&mut m, "last_accepted", Ty::u(kk), u_count);
    let bias_mem = mem(&mut m, "bias", Ty::u(f.weight.bits), u_count);
    // One read port and one write port per memory, as block RAM has: the read address is
    // chosen by phase, and the read register `<memory>_rd` is the stage register of the
    // stage after the one that presented the address (deep: see `ram_reg`).
    let rd = |m: &mut Module, mem: &Sig| {
        if deep {
            m.comb(&format!("{}_rd", mem.name), mem.ty, Some(ram_reg - 1))
        } else {
            m.reg(&format!("{}_rd", mem.name), mem.ty)
        }
    };
    let syn_rd = rd(&mut m, &syn);
    let scratch_rd = rd(&mut m, &scratch);
    let nbr_rd = rd(&mut m, &nbr);
    let pre_rd = rd(&mut m, &pre);
    let post_err_rd = rd(&mut m, &post_err);
    let mask_rd = rd(&mut m, &mask_mem);
    let recip_rd = rd(&mut m, &recip_mem);
    let maxs_rd = rd(&mut m, &maxs_mem);
    let bdir_rd = rd(&mut m, &bdir_mem);
    let sel_rd = rd(&mut m, &sel_mem);
    let lacc_rd = rd(&mut m, &lacc_mem);
    let bias_rd = rd(&mut m, &bias_mem);

    // Field positions in the syn word: w, P, then S and C when stored.
    let lay = SynLayout::new(c);
    let wb = f.weight.bits;
    let tb = f.trail.bits;
    let p_lo = lay.long.lo;
    let s_lo = lay.short.map_or(syn_w, |x| x.lo);
    let c_lo = lay.consolidation.map_or(syn_w, |x| x.lo);
    let slice = |name: &str, lo: u32, width: u32| format!("{name}[{}:{lo}]", lo + width - 1);
    let sigs = |x: &Sig| {
        if x.ty.signed {
            format!("$unsigned({})", x.name)
        } else {
            x.name.clone()
        }
    };

    let reg = |m: &mut Module, n: &str, t: Ty| m.reg(n, t);
    let mut seq = String::new(); // body of the one clocked block of the datapath
    let mut rst_seq = String::new(); // valid bits cleared on reset

    // ----------------------------------------------------------------- ACCUMULATE
    m.set_shared_phase(1);
    m.comment(
        "ACCUMULATE: acc_fetch, acc_mult, acc_sum, norm_mean, norm_gate, norm_signal, norm_score",
    );
    let acc_issue = m.wire(
        "acc_issue",
        Ty::BIT,
        "iss_valid & (phase == 2'd1)".to_string(),
    );
    // acc_fetch
    let af_v = reg(&mut m, "acc_fetch_valid", Ty::BIT);
    let af_u = reg(&mut m, "acc_fetch_u", Ty::u(w.u));
    let af_k = reg(&mut m, "acc_fetch_k", Ty::u(w.k));
    let af_r = reg(&mut m, "acc_fetch_r", Ty::u(w.r));
    let af_a = reg(&mut m, "acc_fetch_a", Ty::u(w.a));
    let af_nbr = m.wire("acc_fetch_nbr", Ty::u(w.nbr), slice(v(&nbr_rd), 0, w.nbr));
    rst_seq += &format!("{} <= 1'b0;\n", v(&af_v));
    seq += &format!(
        "// acc_issue -> acc_fetch (nbr read)\n{} <= {};\n{} <= {}; {} <= {}; {} <= {}; {} <= {};\n",
        v(&af_v), v(&acc_issue), v(&af_u), v(&iss_u), v(&af_k), v(&iss_k), v(&af_r), v(&iss_r), v(&af_a), v(&iss_a),
    );
    let af_v = m.delay_valid(&af_v, ram_reg);
    let [af_u, af_k, af_r, af_a, af_nbr] =
        ends(&mut m, ram_reg, [&af_u, &af_k, &af_r, &af_a, &af_nbr]);
    // acc_mult
    let am_v = reg(&mut m, "acc_mult_valid", Ty::BIT);
    let am_u = reg(&mut m, "acc_mult_u", Ty::u(w.u));
    let am_k = reg(&mut m, "acc_mult_k", Ty::u(w.k));
    let am_r = reg(&mut m, "acc_mult_r", Ty::u(w.r));
    let am_a = reg(&mut m, "acc_mult_a", Ty::u(w.a));
    let am_pre = m.wire(
        "acc_mult_pre",
        t.activation,
        format!("$signed({})", v(&pre_rd)),
    );
    let am_post = m.wire(
        "acc_mult_post",
        t.activation,
        format!("$signed({})", slice(v(&post_err_rd), 0, f.activation.bits)),
    );
    let am_err = m.wire(
        "acc_mult_err",
        t.error,
        format!(
            "$signed({})",
            slice(v(&post_err_rd), f.activation.bits, f.error.bits)
        ),
    );
    let am_syn = m.wire("acc_mult_syn", Ty::u(syn_w), v(&syn_rd).to_string());
    let am_mask = m.wire(
        "acc_mult_mask",
        Ty::u(kk + valid_w),
        v(&mask_rd).to_string(),
    );
    let am_recip = m.wire("acc_mult_recip", t.gate_recip, v(&recip_rd).to_string());
    rst_seq += &format!("{} <= 1'b0;\n", v(&am_v));
    // Addresses: input-major pre (input * max_rows + row), output-major post/err.
    let rows_k = m.konst("max_rows_words", max_rows as i128, false);
    let pa = m.mul("pre_row_base", &af_nbr, &rows_k);
    let pa = m.add("pre_addr_sum", &pa, &af_r);
    let pre_addr = m.cast(&pa, Ty::u(bits_for((max_rows * c.layer.inputs) as u64)));
    let qa = m.mul("post_err_row_base", &af_u, &rows_k);
    let qa = m.add("post_err_addr_sum", &qa, &af_r);
    let pe_addr = m.cast(&qa, Ty::u(bits_for((max_rows * u_count) as u64)));
    // The read addresses leave acc_fetch at its last clock, with the slot they belong to.
    let fe = dd.acc_fetch - 1;
    let pre_addr = m.delay(&pre_addr, fe);
    let pe_addr = m.delay(&pe_addr, fe);
    let af_v_end = m.delay_valid(&af_v, fe);
    let [af_u, af_k, af_r, af_a] = ends(&mut m, fe, [&af_u, &af_k, &af_r, &af_a]);
    seq += &format!(
        "// acc_fetch -> acc_mult (pre, post_err read; on every row also syn, mask, gate_recip, used on the last)\n{} <= {};\n{} <= {}; {} <= {}; {} <= {}; {} <= {};\n",
        v(&am_v), v(&af_v_end), v(&am_u), v(&af_u), v(&am_k), v(&af_k), v(&am_r), v(&af_r), v(&am_a), v(&af_a),
    );
    // acc_sum: products.
    let am_v = m.delay_valid(&am_v, ram_reg);
    let [am_u, am_k, am_r, am_a, am_pre, am_post, am_err, am_syn, am_mask, am_recip] = ends(
        &mut m,
        ram_reg,
        [
            &am_u, &am_k, &am_r, &am_a, &am_pre, &am_post, &am_err, &am_syn, &am_mask, &am_recip,
        ],
    );
    let sp = e.product(&mut m, "signal_product", &am_err, &am_pre);
    let am_pre_abs = m.abs("pre_abs", &am_pre);
    let am_post_abs = m.abs("post_abs", &am_post);
    let cp = e.product(&mut m, "cofire_product", &am_pre_abs, &am_post_abs);
    let me = dd.acc_mult - 1;
    let am_v_end = m.delay_valid(&am_v, me);
    let [am_u, am_k, am_r, am_a, sp, cp, am_err, am_syn, am_mask, am_recip] = ends(
        &mut m,
        me,
        [
            &am_u, &am_k, &am_r, &am_a, &sp, &cp, &am_err, &am_syn, &am_mask, &am_recip,
        ],
    );
    let as_v = reg(&mut m, "acc_sum_valid", Ty::BIT);
    let as_u = reg(&mut m, "acc_sum_u", Ty::u(w.u));
    let as_k = reg(&mut m, "acc_sum_k", Ty::u(w.k));
    let as_r = reg(&mut m, "acc_sum_r", Ty::u(w.r));
    let as_a = reg(&mut m, "acc_sum_a", Ty::u(w.a));
    let as_sp = reg(&mut m, "acc_sum_signal_product", sp.ty);
    let as_cp = reg(&mut m, "acc_sum_cofire_product", cp.ty);
    let as_err = reg(&mut m, "acc_sum_err", t.error);
    let as_syn = reg(&mut m, "acc_sum_syn", Ty::u(syn_w));
    let as_mask = reg(&mut m, "acc_sum_mask", Ty::u(kk + valid_w));
    let as_recip = reg(&mut m, "acc_sum_recip", t.gate_recip);
    rst_seq += &format!("{} <= 1'b0;\n", v(&as_v));
    seq += &format!(
        "// acc_mult -> acc_sum\n{} <= {};\n{} <= {}; {} <= {}; {} <= {}; {} <= {};\n{} <= {}; {} <= {}; {} <= {};\n{} <= {}; {} <= {}; {} <= {};\n",
        v(&as_v), v(&am_v_end), v(&as_u), v(&am_u), v(&as_k), v(&am_k), v(&as_r), v(&am_r), v(&as_a), v(&am_a),
        v(&as_sp), v(&sp), v(&as_cp), v(&cp), v(&as_err), v(&am_err),
        v(&as_syn), v(&am_syn), v(&as_mask), v(&am_mask), v(&as_recip), v(&am_recip)
    );
    // acc_sum: exact running sums; the accumulators are registers of this stage.
    let acc_sig = reg(&mut m, "acc_sig", t.acc);
    let acc_co = reg(&mut m, "acc_co", t.co_acc);
    let acc_err = reg(&mut m, "acc_err", t.err_sum);
    let first = m.wire(
        "acc_first",
        Ty::BIT,
        format!("{} == {}", v(&as_r), Ty::u(w.r).lit(0)),
    );
    let zs = m.wire("acc_sig_zero", t.acc, t.acc.lit(0));
    let base_sig = m.mux("acc_sig_base", &first, &zs, &acc_sig);
    let nsig = m.add("acc_sig_sum", &base_sig, &as_sp);
    let nsig = m.cast(&nsig, t.acc);
    let zc = m.wire("acc_co_zero", t.co_acc, t.co_acc.lit(0));
    let base_co = m.mux("acc_co_base", &first, &zc, &acc_co);
    let nco = m.add("acc_co_sum", &base_co, &as_cp);
    let nco = m.cast(&nco, t.co_acc);
    let ze = m.wire("acc_err_zero", t.err_sum, t.err_sum.lit(0));
    let base_err = m.mux("acc_err_base", &first, &ze, &acc_err);
    let nerr = m.add("acc_err_sum", &base_err, &as_err);
    let nerr = m.cast(&nerr, t.err_sum);
    let last_row = m.wire(
        "acc_last_row",
        Ty::BIT,
        format!("{} == {}", v(&as_r), v(&rows_last)),
    );
    let nm_v = reg(&mut m, "norm_mean_valid", Ty::BIT);
    let nm_u = reg(&mut m, "norm_mean_u", Ty::u(w.u));
    let nm_k = reg(&mut m, "norm_mean_k", Ty::u(w.k));
    let nm_a = reg(&mut m, "norm_mean_a", Ty::u(w.a));
    let nm_sig = reg(&mut m, "norm_mean_sig_acc", t.acc);
    let nm_co = reg(&mut m, "norm_mean_co_acc", t.co_acc);
    let nm_err = reg(&mut m, "norm_mean_err_acc", t.err_sum);
    // Shared pipeline: `syn` and `mask` are read with acc_sum's address (the words
    // of its slot arrive as norm_mean's), the gate reciprocal with norm_mean's,
    // instead of at acc_fetch and then carried along: ACCUMULATE writes none of
    // them, so a later read gets the same word, without the registers. (The UP5K's
    // logic cells; the other pipelines keep their timed netlists.)
    let late = shared;
    let nm_syn = if late {
        m.wire("norm_mean_syn", Ty::u(syn_w), v(&syn_rd).to_string())
    } else {
        reg(&mut m, "norm_mean_syn", Ty::u(syn_w))
    };
    let nm_mask = if late {
        m.wire(
            "norm_mean_mask",
            Ty::u(kk + valid_w),
            v(&mask_rd).to_string(),
        )
    } else {
        reg(&mut m, "norm_mean_mask", Ty::u(kk + valid_w))
    };
    let nm_recip = if late {
        // (Read in norm_mean for norm_gate: nothing to carry.)
        m.wire("norm_mean_recip", t.gate_recip, v(&recip_rd).to_string())
    } else {
        reg(&mut m, "norm_mean_recip", t.gate_recip)
    };
    let carried = if late {
        String::new()
    } else {
        format!(
            "{} <= {}; {} <= {}; {} <= {};\n",
            v(&nm_syn),
            v(&as_syn),
            v(&nm_mask),
            v(&as_mask),
            v(&nm_recip),
            v(&as_recip)
        )
    };
    rst_seq += &format!("{} <= 1'b0;\n", v(&nm_v));
    seq += &format!(
        "// acc_sum: running sums; the last row hands the slot to the normaliser\nif ({}) begin {} <= {}; {} <= {}; {} <= {}; end\n{} <= {} & {};\n{} <= {}; {} <= {}; {} <= {};\n{} <= {}; {} <= {}; {} <= {};\n{carried}",
        v(&as_v), v(&acc_sig), v(&nsig), v(&acc_co), v(&nco), v(&acc_err), v(&nerr),
        v(&nm_v), v(&as_v), v(&last_row),
        v(&nm_u), v(&as_u), v(&nm_k), v(&as_k), v(&nm_a), v(&as_a),
        v(&nm_sig), v(&nsig), v(&nm_co), v(&nco), v(&nm_err), v(&nerr),
    );
    // norm_mean -> norm_gate
    let nm_s = m.wire(
        "norm_mean_short",
        t.trail,
        if stores_s {
            slice(v(&nm_syn), s_lo, tb)
        } else {
            t.trail.lit(0)
        },
    );
    let nm_p = m.wire("norm_mean_long", t.trail, slice(v(&nm_syn), p_lo, tb));
    // The normaliser reads the trails only.
    m.sink(&nm_syn, 0, wb);
    if stores_c {
        m.sink(&nm_syn, c_lo, f.consolidation.bits);
    }
    let mean = e.signal_mean(&mut m, &nm_sig, &rows_recip);
    let cof = e.cofire_mean(&mut m, &nm_co, &rows_recip);
    let eff = e.effective_trail(&mut m, &nm_s, &nm_p);
    let bd = e.bias_direction(&mut m, &nm_err, &rows_recip);
    let k0_nm = m.wire(
        "norm_mean_first_slot",
        Ty::BIT,
        format!("{} == {}", v(&nm_k), Ty::u(w.k).lit(0)),
    );
    let zbd = m.wire("norm_mean_bias_dir_zero", t.signal, t.signal.lit(0));
    let bd = m.mux("norm_mean_bias_dir", &k0_nm, &bd, &zbd);
    let ne = dd.norm_mean - 1;
    let nm_v_end = m.delay_valid(&nm_v, ne);
    let [nm_u, nm_k, nm_a, mean, cof, eff, bd, nm_p, nm_mask, nm_recip] = ends(
        &mut m,
        ne,
        [
            &nm_u, &nm_k, &nm_a, &mean, &cof, &eff, &bd, &nm_p, &nm_mask, &nm_recip,
        ],
    );
    let ng_v = reg(&mut m, "norm_gate_valid", Ty::BIT);
    let ng_u = reg(&mut m, "norm_gate_u", Ty::u(w.u));
    let ng_k = reg(&mut m, "norm_gate_k", Ty::u(w.k));
    let ng_a = reg(&mut m, "norm_gate_a", Ty::u(w.a));
    let ng_mean = reg(&mut m, "norm_gate_mean", mean.ty);
    let ng_cof = reg(&mut m, "norm_gate_cofire", cof.ty);
    let ng_eff = reg(&mut m, "norm_gate_effective", eff.ty);
    let ng_bd = reg(&mut m, "norm_gate_bias_dir", bd.ty);
    let ng_long = reg(&mut m, "norm_gate_long", t.trail);
    let ng_mask = reg(&mut m, "norm_gate_mask", Ty::u(kk + valid_w));
    let ng_recip = if late {
        m.wire("norm_gate_recip", t.gate_recip, v(&recip_rd).to_string())
    } else {
        reg(&mut m, "norm_gate_recip", t.gate_recip)
    };
    let recip_line = if late {
        "\n".to_string()
    } else {
        format!(" {} <= {};\n", v(&ng_recip), v(&nm_recip))
    };
    rst_seq += &format!("{} <= 1'b0;\n", v(&ng_v));
    seq += &format!(
        "// norm_mean -> norm_gate\n{} <= {};\n{} <= {}; {} <= {}; {} <= {};\n{} <= {}; {} <= {}; {} <= {}; {} <= {};\n{} <= {}; {} <= {};{recip_line}",
        v(&ng_v), v(&nm_v_end), v(&ng_u), v(&nm_u), v(&ng_k), v(&nm_k), v(&ng_a), v(&nm_a),
        v(&ng_mean), v(&mean), v(&ng_cof), v(&cof), v(&ng_eff), v(&eff), v(&ng_bd), v(&bd),
        v(&ng_long), v(&nm_p), v(&ng_mask), v(&nm_mask)
    );
    // norm_gate -> norm_signal
    let gate = e.gate(&mut m, &ng_eff, &ng_recip);
    let ng_bits = m.wire("norm_gate_mask_bits", Ty::u(kk), slice(v(&ng_mask), 0, kk));
    let ng_valid_bit = m.wire(
        "norm_gate_slot_valid",
        Ty::BIT,
        bit(&ng_bits.name, kk, v(&ng_k)),
    );
    m.sink(&ng_mask, kk, valid_w);
    let ge_ = dd.norm_gate - 1;
    let ng_v_end = m.delay_valid(&ng_v, ge_);
    let [ng_u, ng_k, ng_a, ng_mean, gate, ng_cof, ng_bd, ng_long, ng_valid_bit] = ends(
        &mut m,
        ge_,
        [
            &ng_u,
            &ng_k,
            &ng_a,
            &ng_mean,
            &gate,
            &ng_cof,
            &ng_bd,
            &ng_long,
            &ng_valid_bit,
        ],
    );
    let ns_v = reg(&mut m, "norm_signal_valid", Ty::BIT);
    let ns_u = reg(&mut m, "norm_signal_u", Ty::u(w.u));
    let ns_k = reg(&mut m, "norm_signal_k", Ty::u(w.k));
    let ns_a = reg(&mut m, "norm_signal_a", Ty::u(w.a));
    let ns_mean = reg(&mut m, "norm_signal_mean", mean.ty);
    let ns_gate = reg(&mut m, "norm_signal_gate", gate.ty);
    let ns_cof = reg(&mut m, "norm_signal_cofire", cof.ty);
    let ns_bd = reg(&mut m, "norm_signal_bias_dir", bd.ty);
    let ns_long = reg(&mut m, "norm_signal_long", t.trail);
    let ns_slot = reg(&mut m, "norm_signal_slot_valid", Ty::BIT);
    rst_seq += &format!("{} <= 1'b0;\n", v(&ns_v));
    seq += &format!(
        "// norm_gate -> norm_signal\n{} <= {};\n{} <= {}; {} <= {}; {} <= {};\n{} <= {}; {} <= {}; {} <= {}; {} <= {}; {} <= {}; {} <= {};\n",
        v(&ns_v), v(&ng_v_end), v(&ns_u), v(&ng_u), v(&ns_k), v(&ng_k), v(&ns_a), v(&ng_a),
        v(&ns_mean), v(&ng_mean), v(&ns_gate), v(&gate), v(&ns_cof), v(&ng_cof), v(&ns_bd), v(&ng_bd),
        v(&ns_long), v(&ng_long), v(&ns_slot), v(&ng_valid_bit)
    );
    // norm_signal -> norm_score
    let signal = e.signal(&mut m, &ns_mean, &ns_gate, &ns_slot);
    let zc2 = m.wire("norm_signal_cofire_zero", cof.ty, cof.ty.lit(0));
    let cof_m = m.mux("norm_signal_cofire_masked", &ns_slot, &ns_cof, &zc2);
    let se = dd.norm_signal - 1;
    let ns_v_end = m.delay_valid(&ns_v, se);
    let [ns_u, ns_k, ns_a, signal, cof_m, ns_bd, ns_long] = ends(
        &mut m,
        se,
        [&ns_u, &ns_k, &ns_a, &signal, &cof_m, &ns_bd, &ns_long],
    );
    let nsc_v = reg(&mut m, "norm_score_valid", Ty::BIT);
    let nsc_u = reg(&mut m, "norm_score_u", Ty::u(w.u));
    let nsc_k = reg(&mut m, "norm_score_k", Ty::u(w.k));
    let nsc_a = reg(&mut m, "norm_score_a", Ty::u(w.a));
    let nsc_sig = reg(&mut m, "norm_score_signal", t.signal);
    let nsc_cof = reg(&mut m, "norm_score_cofire", cof.ty);
    let nsc_bd = reg(&mut m, "norm_score_bias_dir", bd.ty);
    let nsc_long = reg(&mut m, "norm_score_long", t.trail);
    rst_seq += &format!("{} <= 1'b0;\n", v(&nsc_v));
    seq += &format!(
        "// norm_signal -> norm_score\n{} <= {};\n{} <= {}; {} <= {}; {} <= {};\n{} <= {}; {} <= {}; {} <= {}; {} <= {};\n",
        v(&nsc_v), v(&ns_v_end), v(&nsc_u), v(&ns_u), v(&nsc_k), v(&ns_k), v(&nsc_a), v(&ns_a),
        v(&nsc_sig), v(&signal), v(&nsc_cof), v(&cof_m), v(&nsc_bd), v(&ns_bd), v(&nsc_long), v(&ns_long)
    );
    // norm_score: score, running max, scratch write, per-output words.
    let score = e.score(&mut m, &nsc_sig, &nsc_long);
    // The running maximum and the held bias direction are this stage's own state,
    // read and written at its last clock.
    let running_max = reg(&mut m, "running_max", t.score);
    let bias_dir_reg = reg(&mut m, "bias_dir_hold", t.signal);
    let running_max = m.invariant(&running_max);
    let bias_dir_reg = m.invariant(&bias_dir_reg);
    let sce = dd.norm_score - 1;
    let score = m.delay(&score, sce);
    let nsc_v = m.delay_valid(&nsc_v, sce);
    let [nsc_u, nsc_k, nsc_a, nsc_sig, nsc_cof, nsc_bd] = ends(
        &mut m,
        sce,
        [&nsc_u, &nsc_k, &nsc_a, &nsc_sig, &nsc_cof, &nsc_bd],
    );
    let k0 = m.wire(
        "norm_score_first_slot",
        Ty::BIT,
        format!("{} == {}", v(&nsc_k), Ty::u(w.k).lit(0)),
    );
    let kl = m.wire(
        "norm_score_last_slot",
        Ty::BIT,
        format!("{} == {}", v(&nsc_k), Ty::u(w.k).lit(k as i128 - 1)),
    );
    let mx = m.max("running_max_cmp", &running_max, &score);
    let mx = m.cast(&mx, t.score);
    let new_max = m.mux("running_max_next", &k0, &score, &mx);
    let new_bd = m.mux("bias_dir_next", &k0, &nsc_bd, &bias_dir_reg);
    let nz = m.wire(
        "flag_bias_nonzero_now",
        Ty::BIT,
        format!(
            "{} & {} & ({} != {})",
            v(&nsc_v),
            v(&k0),
            v(&nsc_bd),
            t.signal.lit(0)
        ),
    );
    m.assign(&flag_bias_nz, &nz);
    seq += &format!(
        "// norm_score: running maximum, bias direction (memory writes in the port blocks)\nif ({}) begin\n    {} <= {};\n    {} <= {};\nend\n",
        v(&nsc_v),
        v(&running_max), v(&new_max), v(&bias_dir_reg), v(&new_bd),
    );
    let scratch_word = format!("{{{}, {}}}", sigs(&nsc_sig), v(&nsc_cof));
    let per_output_write = format!("{} & {}", v(&nsc_v), v(&kl));

    // ----------------------------------------------------------------- SELECT
    m.set_shared_phase(2);
    m.comment("SELECT: sel_key, sel_insert (stable insertion sorter), sel_commit");
    let sel_issue = m.wire("sel_issue", Ty::BIT, "iss_valid & (phase == 2'd2)".into());
    let sk_v = reg(&mut m, "sel_key_valid", Ty::BIT);
    let sk_u = reg(&mut m, "sel_key_u", Ty::u(w.u));
    let sk_k = reg(&mut m, "sel_key_k", Ty::u(w.k));
    let alias = |m: &mut Module, name: &str, src: &Sig| m.wire(name, src.ty, src.name.clone());
    let sk_scr = alias(&mut m, "sel_key_scratch", &scratch_rd);
    let sk_syn = alias(&mut m, "sel_key_syn", &syn_rd);
    let sk_nbr = alias(&mut m, "sel_key_nbr", &nbr_rd);
    let sk_mask = alias(&mut m, "sel_key_mask", &mask_rd);
    let sk_max = alias(&mut m, "sel_key_max_score", &maxs_rd);
    let sk_lacc = alias(&mut m, "sel_key_last_accepted", &lacc_rd);
    rst_seq += &format!("{} <= 1'b0;\n", v(&sk_v));
    seq += &format!(
        "// sel_issue -> sel_key (scratch, syn, nbr, mask, max_score, last_accepted read)\n{} <= {};\n{} <= {}; {} <= {};\n",
        v(&sk_v), v(&sel_issue), v(&sk_u), v(&iss_u), v(&sk_k), v(&iss_k),
    );
    let sk_v = m.delay_valid(&sk_v, ram_reg);
    let [sk_u, sk_k, sk_scr, sk_syn, sk_nbr, sk_mask, sk_max, sk_lacc] = ends(
        &mut m,
        ram_reg,
        [
            &sk_u, &sk_k, &sk_scr, &sk_syn, &sk_nbr, &sk_mask, &sk_max, &sk_lacc,
        ],
    );
    // sel_key -> sel_insert
    let sk_sig = m.wire(
        "sel_key_signal",
        t.signal,
        format!(
            "$signed({})",
            slice(v(&sk_scr), f.cofire.bits, f.signal.bits)
        ),
    );
    let sk_long = m.wire("sel_key_long", t.trail, slice(v(&sk_syn), p_lo, tb));
    let sk_near = m.wire("sel_key_near", Ty::u(kk), slice(v(&sk_nbr), w.nbr, kk));
    // Selection reads the signal, the long trail and the near set only.
    m.sink(&sk_scr, 0, f.cofire.bits);
    m.sink(&sk_syn, 0, wb);
    m.sink(
        &sk_syn,
        lay.long.lo + lay.long.bits,
        syn_w - (lay.long.lo + lay.long.bits),
    );
    m.sink(&sk_nbr, 0, w.nbr);
    let sk_maskbits = m.wire("sel_key_mask_bits", Ty::u(kk), slice(v(&sk_mask), 0, kk));
    let kscore = e.score(&mut m, &sk_sig, &sk_long);
    let slot_valid = m.wire(
        "sel_key_slot_valid",
        Ty::BIT,
        bit(v(&sk_maskbits), kk, v(&sk_k)),
    );
    let recent = m.wire(
        "sel_key_recent",
        Ty::u(kk),
        format!("{} & {}", v(&sk_lacc), v(&sk_maskbits)),
    );
    let frontier = m.wire(
        "sel_key_frontier",
        Ty::BIT,
        format!(
            "{} & (({} == {}) | (({} & {}) != {}))",
            v(&slot_valid),
            v(&recent),
            Ty::u(kk).lit(0),
            v(&sk_near),
            v(&recent),
            Ty::u(kk).lit(0)
        ),
    );
    let bonus = e.bonus(&mut m, &sk_max);
    let use_bonus = m.wire(
        "sel_key_use_bonus",
        Ty::BIT,
        format!(
            "(mode == 2'd2) & {} & ({} != {})",
            v(&frontier),
            v(&sk_max),
            t.score.lit(0)
        ),
    );
    let zb = m.wire("sel_key_no_bonus", t.score, t.score.lit(0));
    let add_bonus = m.mux("sel_key_bonus", &use_bonus, &bonus, &zb);
    let key = m.add("sel_key_key", &kscore, &add_bonus);
    let key_ty = key.ty;
    let ke = dd.sel_key - 1;
    let sk_v_end = m.delay_valid(&sk_v, ke);
    let [sk_u, sk_k, key, slot_valid, sk_sig, sk_mask, sk_max] = ends(
        &mut m,
        ke,
        [&sk_u, &sk_k, &key, &slot_valid, &sk_sig, &sk_mask, &sk_max],
    );
    let si_v = reg(&mut m, "sel_insert_valid", Ty::BIT);
    let si_u = reg(&mut m, "sel_insert_u", Ty::u(w.u));
    let si_k = reg(&mut m, "sel_insert_k", Ty::u(w.k));
    let si_key = reg(&mut m, "sel_insert_key", key_ty);
    let si_slot = reg(&mut m, "sel_insert_slot_valid", Ty::BIT);
    let si_nz = reg(&mut m, "sel_insert_nonzero", Ty::BIT);
    let si_mask = reg(&mut m, "sel_insert_mask", Ty::u(kk + valid_w));
    // sel_commit needs only whether the output's maximum score is positive: the shared
    // pipeline carries that bit, not the score.
    let (max_name, max_ty, max_src) = if shared {
        (
            "sel_insert_positive",
            Ty::BIT,
            format!("({} != {})", v(&sk_max), t.score.lit(0)),
        )
    } else {
        ("sel_insert_max_score", t.score, v(&sk_max).to_string())
    };
    let si_max = reg(&mut m, max_name, max_ty);
    rst_seq += &format!("{} <= 1'b0;\n", v(&si_v));
    seq += &format!(
        "// sel_key -> sel_insert\n{} <= {};\n{} <= {}; {} <= {};\n{} <= {}; {} <= {}; {} <= ({} != {});\n{} <= {}; {} <= {};\n",
        v(&si_v), v(&sk_v_end), v(&si_u), v(&sk_u), v(&si_k), v(&sk_k),
        v(&si_key), v(&key), v(&si_slot), v(&slot_valid), v(&si_nz), v(&sk_sig), t.signal.lit(0),
        v(&si_mask), v(&sk_mask), v(&si_max), max_src
    );
    // sel_insert: the sorter. Entry i holds (slot, key); `sorter_count` entries are live.
    let cnt_ty = Ty::u(valid_w);
    let sorter_count = reg(&mut m, "sorter_count", cnt_ty);
    let sorter_nonzero = reg(&mut m, "sorter_nonzero", Ty::u(kk));
    let mut slots = Vec::new();
    let mut keys = Vec::new();
    for i in 0..k {
        slots.push(reg(&mut m, &format!("sorter_slot_{i}"), Ty::u(w.k)));
        keys.push(reg(&mut m, &format!("sorter_key_{i}"), key_ty));
    }
    let fresh = m.wire(
        "sel_insert_first_slot",
        Ty::BIT,
        format!("{} == {}", v(&si_k), Ty::u(w.k).lit(0)),
    );
    let live = m.wire(
        "sorter_live",
        cnt_ty,
        format!("{} ? {} : {}", v(&fresh), cnt_ty.lit(0), v(&sorter_count)),
    );
    // Shared pipeline with a step of more than K clocks: the entries' keys and the new
    // key hold still for the step, so one comparator takes entry j in the step's clock
    // j (`sorter_ge_q`), instead of K comparators at once.
    let serial_ge = shared && c.step_clocks() as usize > k;
    let ge_q = serial_ge.then(|| {
        let q = m.reg("sorter_ge_q", Ty::u(kk));
        let pick = m.comb("sorter_key_at_clock", key_ty, Some(0));
        let mut case = "always @(*) begin\n    case (step_sub)\n".to_string();
        for (i, key) in keys.iter().enumerate() {
            case += &format!(
                "        {}: {} = {};\n",
                Ty::u(sub_bits).lit(i as i128),
                v(&pick),
                v(key)
            );
        }
        case += &format!(
            "        default: {} = {};\n    endcase\nend\n",
            v(&pick),
            key_ty.lit(0)
        );
        let ge = m.cmp("sorter_ge_at_clock", &pick, ">=", &si_key);
        let bits: Vec<String> = (0..k)
            .rev()
            .map(|i| {
                format!(
                    "(step_sub == {}) ? {} : {}[{i}]",
                    Ty::u(sub_bits).lit(i as i128),
                    v(&ge),
                    v(&q)
                )
            })
            .collect();
        m.raw(format!(
            "{case}// The comparator's verdict on entry j, taken in clock j of the step.\nalways @(posedge clk) {} <= {{{}}};\n",
            v(&q),
            bits.join(", ")
        ));
        q
    });
    let mut ge = Vec::new();
    for i in 0..k {
        // Entry i stays ahead of the new key when it is live and its key is >= the new one.
        // (A constant the shared pipeline compares as logic; elsewhere as before.)
        let idx = if shared {
            m.konst(&format!("sorter_index_{i}"), i as i128, false)
        } else {
            m.wire(&format!("sorter_index_{i}"), cnt_ty, cnt_ty.lit(i as i128))
        };
        let is_live = m.cmp(&format!("sorter_live_{i}"), &idx, "<", &live);
        let not_less = match &ge_q {
            Some(q) => m.wire(
                &format!("sorter_ge_{i}"),
                Ty::BIT,
                bit(v(q), kk, &i.to_string()),
            ),
            None => m.cmp(&format!("sorter_ge_{i}"), &keys[i], ">=", &si_key),
        };
        ge.push(m.wire(
            &format!("sorter_keep_{i}"),
            Ty::BIT,
            format!("{} & {}", v(&is_live), v(&not_less)),
        ));
    }
    let mut ins = String::new();
    for i in 0..k {
        let before = if i == 0 {
            "1'b1".to_string()
        } else {
            v(&ge[i - 1]).to_string()
        };
        let shift_in = if i == 0 {
            String::new()
        } else {
            format!(
                " else begin {} <= {}; {} <= {}; end",
                v(&slots[i]),
                v(&slots[i - 1]),
                v(&keys[i]),
                v(&keys[i - 1])
            )
        };
        ins += &format!(
            "    if ({}) begin end else if ({}) begin {} <= {}; {} <= {}; end{}\n",
            v(&ge[i]),
            before,
            v(&slots[i]),
            v(&si_k),
            v(&keys[i]),
            v(&si_key),
            shift_in
        );
    }
    let sc_v = reg(&mut m, "sel_commit_valid", Ty::BIT);
    let sc_u = reg(&mut m, "sel_commit_u", Ty::u(w.u));
    let sc_nz = reg(&mut m, "sel_commit_nonzero", Ty::u(kk));
    let sc_mask = reg(&mut m, "sel_commit_mask", Ty::u(kk + valid_w));
    let sc_max = if shared {
        reg(&mut m, "sel_commit_positive_q", Ty::BIT)
    } else {
        reg(&mut m, "sel_commit_max_score", t.score)
    };
    let mut sc_slots = Vec::new();
    for i in 0..k {
        sc_slots.push(reg(&mut m, &format!("sel_commit_slot_{i}"), Ty::u(w.k)));
    }
    rst_seq += &format!("{} <= 1'b0;\n", v(&sc_v));
    let last_k = m.wire(
        "sel_insert_last_slot",
        Ty::BIT,
        format!("{} == {}", v(&si_k), Ty::u(w.k).lit(k as i128 - 1)),
    );
    let nz_next = m.wire(
        "sorter_nonzero_next",
        Ty::u(kk),
        format!(
            "({} ? {} : {}) | ({{{}{{{}}}}} & ({} << {}))",
            v(&fresh),
            Ty::u(kk).lit(0),
            v(&sorter_nonzero),
            kk,
            v(&si_nz),
            Ty::u(kk).lit(1),
            v(&si_k)
        ),
    );
    // The list after this insertion, for the commit on the last slot.
    let mut next_slot = Vec::new();
    for i in 0..k {
        let before = if i == 0 {
            "1'b1".to_string()
        } else {
            v(&ge[i - 1]).to_string()
        };
        let prev = if i == 0 {
            v(&si_k).to_string()
        } else {
            v(&slots[i - 1]).to_string()
        };
        next_slot.push(m.wire(
            &format!("sorter_slot_next_{i}"),
            Ty::u(w.k),
            format!(
                "(!{} | {}) ? {} : ({} ? {} : {})",
                v(&si_slot),
                v(&ge[i]),
                v(&slots[i]),
                before,
                v(&si_k),
                prev
            ),
        ));
    }
    let count_next = m.wire(
        "sorter_count_next",
        cnt_ty,
        format!("{} + {}", v(&live), zext(v(&si_slot), 1, valid_w)),
    );
    let mut commit_copy = String::new();
    for i in 0..k {
        commit_copy += &format!("{} <= {}; ", v(&sc_slots[i]), v(&next_slot[i]));
    }
    seq += &format!(
        "// sel_insert: stable insertion (a new key goes after every live key >= it)\nif ({v}) begin\n    if ({fresh}) {cnt} <= {z}; \n    if ({slot}) begin\n        {cnt} <= {cntn};\n{ins}    end\n    {nz} <= {nzn};\nend\n{scv} <= {v} & {lk};\n{scu} <= {u}; {scnz} <= {nzn}; {scm} <= {mask}; {scmax} <= {max};\n{copy}\n",
        v = v(&si_v), fresh = v(&fresh), cnt = v(&sorter_count), z = cnt_ty.lit(0), slot = v(&si_slot),
        cntn = v(&count_next), ins = ins,
        nz = v(&sorter_nonzero), nzn = v(&nz_next), scv = v(&sc_v), lk = v(&last_k), scu = v(&sc_u), u = v(&si_u),
        scnz = v(&sc_nz), scm = v(&sc_mask), mask = v(&si_mask), scmax = v(&sc_max), max = v(&si_max), copy = commit_copy
    );
    // sel_commit: the first min(budget, valid) entries.
    let sc_valid_cnt = m.wire(
        "sel_commit_valid_count",
        cnt_ty,
        slice(v(&sc_mask), kk, valid_w),
    );
    m.sink(&sc_mask, 0, kk);
    let take = m.min("sel_commit_take", &budget, &sc_valid_cnt);
    let mut terms = Vec::new();
    for i in 0..k {
        let idx = m.wire(
            &format!("sel_commit_index_{i}"),
            take.ty,
            take.ty.lit(i as i128),
        );
        let taken = m.cmp(&format!("sel_commit_taken_{i}"), &idx, "<", &take);
        terms.push(m.wire(
            &format!("sel_commit_bit_{i}"),
            Ty::u(kk),
            format!(
                "{{{}{{{}}}}} & ({} << {})",
                kk,
                v(&taken),
                Ty::u(kk).lit(1),
                v(&sc_slots[i])
            ),
        ));
    }
    let any_score = m.wire(
        "sel_commit_positive",
        Ty::BIT,
        if shared {
            v(&sc_max).to_string()
        } else {
            format!("{} != {}", v(&sc_max), t.score.lit(0))
        },
    );
    let picked = m.wire(
        "sel_commit_selected",
        Ty::u(kk),
        format!(
            "{{{}{{{}}}}} & ({})",
            kk,
            v(&any_score),
            terms
                .iter()
                .map(|x| x.name.clone())
                .collect::<Vec<_>>()
                .join(" | ")
        ),
    );
    // The selection leaves sel_commit at its last clock (a register after the OR of
    // the taken slots in the deep pipeline), with the flags and the `selected` write.
    let picked = m.cut(&picked);
    let ce = dd.sel_commit - 1;
    let picked = m.delay(&picked, ce);
    let sc_v = m.delay_valid(&sc_v, ce);
    let [sc_nz, sc_u] = ends(&mut m, ce, [&sc_nz, &sc_u]);
    let fdesc = m.wire(
        "flag_select_descent_now",
        Ty::BIT,
        format!(
            "{} & (({} & {}) != {})",
            v(&sc_v),
            v(&picked),
            v(&sc_nz),
            Ty::u(kk).lit(0)
        ),
    );
    let fany = m.wire(
        "flag_selected_any_now",
        Ty::BIT,
        format!("{} & ({} != {})", v(&sc_v), v(&picked), Ty::u(kk).lit(0)),
    );
    m.assign(&flag_sel_descent, &fdesc);
    m.assign(&flag_sel_any, &fany);
    let pop = (0..k)
        .map(|i| zext(&bit(v(&picked), kk, &i.to_string()), 1, w.budget))
        .collect::<Vec<_>>()
        .join(" + ");
    let fcount = m.wire(
        "flag_selected_count_now",
        Ty::u(w.budget),
        format!("{} ? ({}) : {}", v(&sc_v), pop, Ty::u(w.budget).lit(0)),
    );
    m.assign(&flag_sel_count, &fcount);
    // sel_commit writes `selected` in its port block.

    // ----------------------------------------------------------------- APPLY
    m.set_shared_phase(3);
    m.comment(
        "APPLY: apply_plast, apply_step, apply_decay, apply_consol, apply_write, gate divider",
    );
    let ap_issue = m.wire("apply_issue", Ty::BIT, "iss_valid & (phase == 2'd3)".into());
    let pl_v = reg(&mut m, "apply_plast_valid", Ty::BIT);
    let pl_u = reg(&mut m, "apply_plast_u", Ty::u(w.u));
    let pl_k = reg(&mut m, "apply_plast_k", Ty::u(w.k));
    let pl_a = reg(&mut m, "apply_plast_a", Ty::u(w.a));
    let pl_syn = alias(&mut m, "apply_plast_syn", &syn_rd);
    let pl_scr = alias(&mut m, "apply_plast_scratch", &scratch_rd);
    let pl_mask = alias(&mut m, "apply_plast_mask", &mask_rd);
    let pl_sel = alias(&mut m, "apply_plast_selected", &sel_rd);
    let pl_bias = m.wire(
        "apply_plast_bias",
        t.weight,
        format!("$signed({})", v(&bias_rd)),
    );
    let pl_bd = m.wire(
        "apply_plast_bias_dir",
        t.signal,
        format!("$signed({})", v(&bdir_rd)),
    );
    rst_seq += &format!("{} <= 1'b0;\n", v(&pl_v));
    seq += &format!(
        "// apply_issue -> apply_plast (syn, scratch, mask, selected, bias, bias_dir read)\n{} <= {};\n{} <= {}; {} <= {}; {} <= {};\n",
        v(&pl_v), v(&ap_issue), v(&pl_u), v(&iss_u), v(&pl_k), v(&iss_k), v(&pl_a), v(&iss_a),
    );
    let pl_v = m.delay_valid(&pl_v, ram_reg);
    let [pl_u, pl_k, pl_a, pl_syn, pl_scr, pl_mask, pl_sel, pl_bias, pl_bd] = ends(
        &mut m,
        ram_reg,
        [
            &pl_u, &pl_k, &pl_a, &pl_syn, &pl_scr, &pl_mask, &pl_sel, &pl_bias, &pl_bd,
        ],
    );
    // apply_plast -> apply_step
    let pl_c = m.wire(
        "apply_plast_c",
        t.consolidation,
        if stores_c {
            slice(v(&pl_syn), c_lo, f.consolidation.bits)
        } else {
            t.consolidation.lit(0)
        },
    );
    let pl_sig = m.wire(
        "apply_plast_signal",
        t.signal,
        format!(
            "$signed({})",
            slice(v(&pl_scr), f.cofire.bits, f.signal.bits)
        ),
    );
    let pl_cof = m.wire(
        "apply_plast_cofire",
        t.cofire,
        slice(v(&pl_scr), 0, f.cofire.bits),
    );
    let pl_bits = m.wire(
        "apply_plast_mask_bits",
        Ty::u(kk),
        slice(v(&pl_mask), 0, kk),
    );
    let pl_valid = m.wire(
        "apply_plast_slot_valid",
        Ty::BIT,
        bit(&pl_bits.name, kk, v(&pl_k)),
    );
    let q = e.plasticity(&mut m, &pl_c, &pl_valid);
    let base = e.reinforcement_base(&mut m, &pl_cof, &pl_sig);
    // The output's bias step depends only on what was read with the slot and on the
    // descent flag, so it is computed here and carried; apply_write writes it on slot 0
    // (the model computes it there: the same value).
    let pl_bias = e.bias_step(&mut m, &pl_bias, &pl_bd, &descent);
    let pe = dd.apply_plast - 1;
    let pl_v_end = m.delay_valid(&pl_v, pe);
    let [pl_u, pl_k, pl_a, pl_syn, pl_sig, q, base, pl_valid, pl_mask, pl_sel, pl_bias] = ends(
        &mut m,
        pe,
        [
            &pl_u, &pl_k, &pl_a, &pl_syn, &pl_sig, &q, &base, &pl_valid, &pl_mask, &pl_sel,
            &pl_bias,
        ],
    );
    let st_v = reg(&mut m, "apply_step_valid", Ty::BIT);
    let st_u = reg(&mut m, "apply_step_u", Ty::u(w.u));
    let st_k = reg(&mut m, "apply_step_k", Ty::u(w.k));
    let st_a = reg(&mut m, "apply_step_a", Ty::u(w.a));
    let st_syn = reg(&mut m, "apply_step_syn", Ty::u(syn_w));
    let st_sig = reg(&mut m, "apply_step_signal", t.signal);
    let st_q = reg(&mut m, "apply_step_q", q.ty);
    let st_base = reg(&mut m, "apply_step_base", base.ty);
    let st_valid = reg(&mut m, "apply_step_slot_valid", Ty::BIT);
    let st_sel = reg(&mut m, "apply_step_selected", Ty::BIT);
    let st_mask = reg(&mut m, "apply_step_mask", Ty::u(kk + valid_w));
    let st_selw = reg(&mut m, "apply_step_selected_bits", Ty::u(kk));
    let st_bias = reg(&mut m, "apply_step_bias", t.weight);
    rst_seq += &format!("{} <= 1'b0;\n", v(&st_v));
    // The per-output fields ride along the pipeline like the model's `out` word.
    let carry = |m: &mut Module, at: u32, from: [&Sig; 3], to: &str| {
        let [mask, sel, bias] = ends(m, at, from);
        format!(
            "{to}_mask <= {}; {to}_selected_bits <= {}; {to}_bias <= {};\n",
            v(&mask),
            v(&sel),
            v(&bias)
        )
    };
    seq += &format!(
        "// apply_plast -> apply_step\n{} <= {};\n{} <= {}; {} <= {}; {} <= {};\n{} <= {}; {} <= {}; {} <= {}; {} <= {}; {} <= {}; {} <= {};\n{} <= {}; {} <= {}; {} <= {}; // the stepped bias\n",
        v(&st_v), v(&pl_v_end), v(&st_u), v(&pl_u), v(&st_k), v(&pl_k), v(&st_a), v(&pl_a),
        v(&st_syn), v(&pl_syn), v(&st_sig), v(&pl_sig), v(&st_q), v(&q), v(&st_base), v(&base), v(&st_valid), v(&pl_valid), v(&st_sel), bit(v(&pl_sel), kk, v(&pl_k)),
        v(&st_mask), v(&pl_mask), v(&st_selw), v(&pl_sel), v(&st_bias), v(&pl_bias)
    );
    // apply_step -> apply_decay
    let st_w = m.wire(
        "apply_step_w",
        t.weight,
        format!("$signed({})", slice(v(&st_syn), 0, wb)),
    );
    let steps = m.wire(
        "apply_step_steps",
        Ty::BIT,
        format!("{} & {}", v(&st_sel), v(&accepted_any)),
    );
    let stepped = e.weight_step(&mut m, &st_w, &st_sig, &st_q, &steps);
    let (rw, rs, rl) = e.retains(&mut m, &st_q);
    let dc_regs = StageRegs::new(
        &mut m,
        "apply_decay",
        &[
            ("valid", Ty::BIT),
            ("u", Ty::u(w.u)),
            ("k", Ty::u(w.k)),
            ("a", Ty::u(w.a)),
            ("syn", Ty::u(syn_w)),
            ("stepped", t.weight),
            ("retain_w", rw.ty),
            ("retain_s", rs.ty),
            ("retain_l", rl.ty),
            ("base", base.ty),
            ("slot_valid", Ty::BIT),
            ("selected", Ty::BIT),
            ("mask", Ty::u(kk + valid_w)),
            ("selected_bits", Ty::u(kk)),
            ("bias", t.weight),
        ],
    );
    rst_seq += "apply_decay_valid <= 1'b0;\n";
    let te = dd.apply_step - 1;
    let st_carry = carry(&mut m, te, [&st_mask, &st_selw, &st_bias], "apply_decay");
    let st_v = m.delay_valid(&st_v, te);
    let [st_u, st_k, st_a, st_syn, stepped, rw, rs, rl, st_base, st_valid, st_sel] = ends(
        &mut m,
        te,
        [
            &st_u, &st_k, &st_a, &st_syn, &stepped, &rw, &rs, &rl, &st_base, &st_valid, &st_sel,
        ],
    );
    seq += &format!(
        "// apply_step -> apply_decay\napply_decay_valid <= {};\napply_decay_u <= {}; apply_decay_k <= {}; apply_decay_a <= {}; apply_decay_syn <= {};\napply_decay_stepped <= {}; apply_decay_retain_w <= {}; apply_decay_retain_s <= {}; apply_decay_retain_l <= {};\napply_decay_base <= {}; apply_decay_slot_valid <= {}; apply_decay_selected <= {};\n{}",
        v(&st_v), v(&st_u), v(&st_k), v(&st_a), v(&st_syn), v(&stepped), v(&rw), v(&rs), v(&rl), v(&st_base), v(&st_valid), v(&st_sel),
        st_carry
    );
    let dr = |n: &str| dc_regs.get(n);
    // apply_decay -> apply_consol
    let d_syn = dr("syn");
    let d_valid = dr("slot_valid");
    let d_sel = dr("selected");
    let d_base = dr("base");
    let decays = m.wire(
        "apply_decay_decays",
        Ty::BIT,
        format!("{} & ~{} & {}", v(&d_valid), v(&d_sel), v(&accepted_any)),
    );
    let accepted = m.wire(
        "apply_decay_accepted",
        Ty::BIT,
        format!("{} & {}", v(&d_sel), v(&descent)),
    );
    let neww = e.weight_decay(&mut m, &dr("stepped"), &dr("retain_w"), &decays);
    let d_s = m.wire(
        "apply_decay_short",
        t.trail,
        if stores_s {
            slice(v(&d_syn), s_lo, tb)
        } else {
            t.trail.lit(0)
        },
    );
    let d_p = m.wire("apply_decay_long", t.trail, slice(v(&d_syn), p_lo, tb));
    // The stepped weight replaces the old one from here on.
    m.sink(&d_syn, 0, wb);
    let news = e.trail(
        &mut m,
        "trail_short",
        &d_s,
        &dr("retain_s"),
        &d_base,
        false,
        &mode,
        &accepted,
        &d_valid,
    );
    let newp = e.trail(
        &mut m,
        "trail_long",
        &d_p,
        &dr("retain_l"),
        &d_base,
        true,
        &mode,
        &accepted,
        &d_valid,
    );
    let cs_regs = StageRegs::new(
        &mut m,
        "apply_consol",
        &[
            ("valid", Ty::BIT),
            ("u", Ty::u(w.u)),
            ("k", Ty::u(w.k)),
            ("a", Ty::u(w.a)),
            ("c", t.consolidation),
            ("w", t.weight),
            ("s", t.trail),
            ("p", t.trail),
            ("base", base.ty),
            ("slot_valid", Ty::BIT),
            ("accepted", Ty::BIT),
            ("mask", Ty::u(kk + valid_w)),
            ("selected_bits", Ty::u(kk)),
            ("bias", t.weight),
        ],
    );
    let cr = |n: &str| cs_regs.get(n);
    rst_seq += "apply_consol_valid <= 1'b0;\n";
    let de = dd.apply_decay - 1;
    let d_carry = carry(
        &mut m,
        de,
        [&dr("mask"), &dr("selected_bits"), &dr("bias")],
        "apply_consol",
    );
    let d_c = m.wire(
        "apply_decay_consolidation",
        t.consolidation,
        if stores_c {
            slice(v(&d_syn), c_lo, f.consolidation.bits)
        } else {
            t.consolidation.lit(0)
        },
    );
    let d_v = m.delay_valid(&dr("valid"), de);
    let [d_u, d_k, d_a, d_c, neww, news, newp, d_base, d_valid, accepted] = ends(
        &mut m,
        de,
        [
            &dr("u"),
            &dr("k"),
            &dr("a"),
            &d_c,
            &neww,
            &news,
            &newp,
            &d_base,
            &d_valid,
            &accepted,
        ],
    );
    seq += &format!(
        "// apply_decay -> apply_consol\napply_consol_valid <= {};\napply_consol_u <= {}; apply_consol_k <= {}; apply_consol_a <= {};\napply_consol_c <= {}; apply_consol_w <= {}; apply_consol_s <= {}; apply_consol_p <= {};\napply_consol_base <= {}; apply_consol_slot_valid <= {}; apply_consol_accepted <= {};\n{}",
        v(&d_v), v(&d_u), v(&d_k), v(&d_a),
        v(&d_c),
        v(&neww), v(&news), v(&newp), v(&d_base), v(&d_valid), v(&accepted), d_carry
    );
    // apply_consol -> apply_write
    let newc = e.consolidation(
        &mut m,
        &cr("c"),
        &cr("p"),
        &cr("base"),
        &mode,
        &cr("accepted"),
        &consolidate,
        &cr("slot_valid"),
    );
    let s_kept = if stores_s {
        cr("s")
    } else {
        m.wire("apply_consol_short_dropped", t.trail, t.trail.lit(0))
    };
    let eff2 = e.effective_trail(&mut m, &s_kept, &cr("p"));
    let wr_regs = StageRegs::new(
        &mut m,
        "apply_write",
        &[
            ("valid", Ty::BIT),
            ("u", Ty::u(w.u)),
            ("k", Ty::u(w.k)),
            ("a", Ty::u(w.a)),
            ("w", t.weight),
            ("s", t.trail),
            ("p", t.trail),
            ("c", t.consolidation),
            ("effective", eff2.ty),
            ("slot_valid", Ty::BIT),
            ("mask", Ty::u(kk + valid_w)),
            ("selected_bits", Ty::u(kk)),
            ("bias", t.weight),
        ],
    );
    let wr = |n: &str| wr_regs.get(n);
    rst_seq += "apply_write_valid <= 1'b0;\n";
    let ce2 = dd.apply_consol - 1;
    let c_carry = carry(
        &mut m,
        ce2,
        [&cr("mask"), &cr("selected_bits"), &cr("bias")],
        "apply_write",
    );
    let c_v = m.delay_valid(&cr("valid"), ce2);
    let [c_u, c_k, c_a, c_w, s_kept, c_p, newc, eff2, c_valid] = ends(
        &mut m,
        ce2,
        [
            &cr("u"),
            &cr("k"),
            &cr("a"),
            &cr("w"),
            &s_kept,
            &cr("p"),
            &newc,
            &eff2,
            &cr("slot_valid"),
        ],
    );
    seq += &format!(
        "// apply_consol -> apply_write\napply_write_valid <= {};\napply_write_u <= {}; apply_write_k <= {}; apply_write_a <= {};\napply_write_w <= {}; apply_write_s <= {}; apply_write_p <= {}; apply_write_c <= {}; apply_write_effective <= {};\napply_write_slot_valid <= {};\n{}",
        v(&c_v), v(&c_u), v(&c_k), v(&c_a), v(&c_w), v(&s_kept), v(&c_p), v(&newc), v(&eff2), v(&c_valid), c_carry
    );
    // apply_write: syn write-back, mass, bias and accepted bits, divider start.
    let mut word = vec![sigs(&wr("w")), v(&wr("p")).to_string()];
    if stores_s {
        word.push(v(&wr("s")).to_string());
    }
    if stores_c {
        word.push(v(&wr("c")).to_string());
    }
    word.reverse();
    let mass_ty = Ty::u(eff2.ty.width + bits_for(k as u64 + 1));
    let mass = reg(&mut m, "mass", mass_ty);
    let wk0 = m.wire(
        "apply_write_first_slot",
        Ty::BIT,
        format!("apply_write_k == {}", Ty::u(w.k).lit(0)),
    );
    let wkl = m.wire(
        "apply_write_last_slot",
        Ty::BIT,
        format!("apply_write_k == {}", Ty::u(w.k).lit(k as i128 - 1)),
    );
    let zm = m.wire("mass_zero", mass_ty, mass_ty.lit(0));
    let mbase = m.mux("mass_base", &wk0, &zm, &mass);
    let ze = m.wire("mass_skip", eff2.ty, eff2.ty.lit(0));
    let madd = m.mux("mass_term", &wr("slot_valid"), &wr("effective"), &ze);
    let mnext = m.add("mass_sum", &mbase, &madd);
    let mnext = m.cast(&mnext, mass_ty);
    let newb = wr("bias");
    let lacc = m.wire(
        "apply_write_accepted_bits",
        Ty::u(kk),
        format!("{{{}{{{}}}}} & apply_write_selected_bits", kk, v(&descent)),
    );
    // Divider operands: the valid count and max(mass, 1) (the dividend is the count
    // shifted, built in `gate_divider`).
    let wvalid = m.wire(
        "apply_write_valid_count",
        cnt_ty,
        slice("apply_write_mask", kk, valid_w),
    );
    m.sink(&wr("mask"), 0, kk);
    // max(mass, 1) of an unsigned mass: bit 0 set when the mass is 0 (a zero test,
    // not a compare and a multiplexer in front of the divider's first compare).
    assert!(mass_ty.width >= 2 && !mass_ty.signed);
    let floor = |dm: &str| {
        format!(
            "{{{dm}[{}:1], {dm}[0] | ({dm} == {})}}",
            mass_ty.width - 1,
            mass_ty.lit(0)
        )
    };
    // div_operands (deep): the valid count and max(mass, 1) registered, so that
    // neither the zero test nor the first compare follows the mass adder in one clock,
    // and the first compare starts from a register like every later one.
    let mut dsq = String::new();
    let (d_count, den, d_valid, d_u) = match dd.div_operands {
        0 => (
            wvalid.clone(),
            m.wire("divider_divisor_floor", mass_ty, floor(v(&mnext))),
            "apply_write_valid & apply_write_last_slot".to_string(),
            "apply_write_u".to_string(),
        ),
        1 => {
            let ov = reg(&mut m, "div_operands_valid", Ty::BIT);
            let ou = reg(&mut m, "div_operands_u", Ty::u(w.u));
            let oc = reg(&mut m, "div_operands_count", cnt_ty);
            let om = reg(&mut m, "div_operands_divisor", mass_ty);
            rst_seq += &format!("{} <= 1'b0;\n", v(&ov));
            dsq += &format!(
                "{} <= apply_write_valid & apply_write_last_slot; {} <= apply_write_u; {} <= {}; {} <= {};\n",
                v(&ov), v(&ou), v(&oc), v(&wvalid), v(&om), floor(v(&mnext))
            );
            (oc, om, v(&ov).to_string(), v(&ou).to_string())
        }
        n => panic!(
            "div_operands = {n}: the generator registers the divider's operands at most once"
        ),
    };
    let div = gate_divider(&mut m, c, &d_valid, (&d_u, w.u), &d_count, &den);
    dsq += &div.seq;
    rst_seq += &div.rst;
    if !div.blocks.is_empty() {
        m.raw(div.blocks.clone());
    }
    // apply_write is one clock deep (its gate mass is a running sum): nothing it writes
    // may come out of a pipeline register of its own.
    for x in [&mnext, &div.overflow, &newb] {
        assert!(x.at.unwrap_or(0) == 0, "{} is late in apply_write", x.name);
    }
    seq += &format!(
        "// apply_write: gate mass (syn, bias, last_accepted written in the port blocks)\nif (apply_write_valid) {} <= {};\n",
        v(&mass), v(&mnext)
    );
    let syn_word = format!("{{{}}}", word.join(", "));
    let out_write = format!("apply_write_valid & {}", v(&wk0));
    seq += &format!("// gate divider ({})\n{dsq}", div.comment);
    let _ = &wkl;

    // ----------------------------------------------------------------- memory ports
    // Each memory: one read port (address chosen by phase; the host's while idle) into
    // its `_rd` register, one write port (the engine's writer, or the host while idle).
    let dw = w.host_data;
    let idle = "(phase == 2'd0)".to_string();
    let host_w = |id: u64| format!("{idle} & {} & ({} == 4'd{id})", v(&host_we), v(&host_sel));
    let fit = |width: u32| -> String {
        if width == dw {
            v(&host_wdata).to_string()
        } else {
            format!("{}[{}:0]", v(&host_wdata), width - 1)
        }
    };
    let haddr = |depth: usize| -> String {
        let bits = bits_for(depth as u64);
        if bits == w.host_addr {
            v(&host_addr).to_string()
        } else {
            format!("{}[{}:0]", v(&host_addr), bits - 1)
        }
    };
    let by_phase = |acc: &str, idle_addr: &str, other: &str| {
        format!("(phase == 2'd1) ? {acc} : ((phase == 2'd0) ? {idle_addr} : {other})")
    };
    let slots_n = u_count * k;
    let hs = haddr(slots_n);
    let ho = haddr(u_count);
    // (memory, read register, depth, read address, writes as (condition, address, data))
    type Port<'a> = (
        &'a Sig,
        &'a Sig,
        usize,
        String,
        Vec<(String, String, String)>,
    );
    let ports: Vec<Port> = vec![
        (
            &syn,
            &syn_rd,
            slots_n,
            by_phase(if late { v(&as_a) } else { v(&af_a) }, &hs, v(&iss_a)),
            vec![
                (
                    "apply_write_valid".into(),
                    "apply_write_a".into(),
                    syn_word.clone(),
                ),
                (host_w(sel::SYN), hs.clone(), fit(syn_w)),
            ],
        ),
        (
            &scratch,
            &scratch_rd,
            slots_n,
            v(&iss_a).to_string(),
            vec![(
                v(&nsc_v).to_string(),
                v(&nsc_a).to_string(),
                scratch_word.clone(),
            )],
        ),
        (
            &nbr,
            &nbr_rd,
            slots_n,
            format!("(phase == 2'd0) ? {hs} : {}", v(&iss_a)),
            vec![(host_w(sel::NBR), hs.clone(), fit(w.nbr + kk))],
        ),
        (
            &pre,
            &pre_rd,
            max_rows * c.layer.inputs,
            v(&pre_addr).to_string(),
            vec![(
                host_w(sel::PRE),
                haddr(max_rows * c.layer.inputs),
                fit(f.activation.bits),
            )],
        ),
        (
            &post_err,
            &post_err_rd,
            max_rows * u_count,
            v(&pe_addr).to_string(),
            vec![(
                host_w(sel::POST_ERR),
                haddr(max_rows * u_count),
                fit(f.activation.bits + f.error.bits),
            )],
        ),
        (
            &mask_mem,
            &mask_rd,
            u_count,
            by_phase(if late { v(&as_u) } else { v(&af_u) }, &ho, v(&iss_u)),
            vec![(host_w(sel::MASK), ho.clone(), fit(kk + valid_w))],
        ),
        (
            &recip_mem,
            &recip_rd,
            u_count,
            format!(
                "(phase == 2'd0) ? {ho} : {}",
                if late { v(&nm_u) } else { v(&af_u) }
            ),
            vec![
                (div.done.clone(), div.done_u.clone(), div.recip.clone()),
                (host_w(sel::RECIP), ho.clone(), fit(f.gate_recip.bits)),
            ],
        ),
        (
            &maxs_mem,
            &maxs_rd,
            u_count,
            v(&iss_u).to_string(),
            vec![(
                per_output_write.clone(),
                v(&nsc_u).to_string(),
                v(&new_max).to_string(),
            )],
        ),
        (
            &bdir_mem,
            &bdir_rd,
            u_count,
            v(&iss_u).to_string(),
            vec![(
                per_output_write.clone(),
                v(&nsc_u).to_string(),
                sigs(&new_bd),
            )],
        ),
        (
            &sel_mem,
            &sel_rd,
            u_count,
            format!("(phase == 2'd0) ? {ho} : {}", v(&iss_u)),
            vec![(
                v(&sc_v).to_string(),
                v(&sc_u).to_string(),
                v(&picked).to_string(),
            )],
        ),
        (
            &lacc_mem,
            &lacc_rd,
            u_count,
            format!("(phase == 2'd0) ? {ho} : {}", v(&iss_u)),
            vec![
                (
                    out_write.clone(),
                    "apply_write_u".into(),
                    v(&lacc).to_string(),
                ),
                (host_w(sel::LAST_ACCEPTED), ho.clone(), fit(kk)),
            ],
        ),
        (
            &bias_mem,
            &bias_rd,
            u_count,
            format!("(phase == 2'd0) ? {ho} : {}", v(&iss_u)),
            vec![
                (out_write.clone(), "apply_write_u".into(), sigs(&newb)),
                (host_w(sel::BIAS), ho.clone(), fit(f.weight.bits)),
            ],
        ),
    ];
    let mut port_blocks = String::new();
    let on_spram = |name: &str| -> bool {
        c.family == lpn_cycle::Family::Ice40Up5k
            && match name {
                "scratch" => c.memory.scratch == RamKind::Spram,
                "nbr" => c.memory.nbr == RamKind::Spram,
                "pre" => c.memory.pre == RamKind::Spram,
                "post_err" => c.memory.post_err == RamKind::Spram,
                _ => false,
            }
    };
    for (mem, rd, depth, ra, writes) in ports {
        let aw = bits_for(depth as u64);
        let ra = m.wire_across(&format!("{}_ra", mem.name), Ty::u(aw), ra);
        if deep {
            port_blocks += &blocks_of(&mut m, c.family, mem, rd, depth, &ra, &writes, ram_reg - 2);
            continue;
        }
        if on_spram(&mem.name) {
            // Single-port SPRAM: these memories are never read and written in the same
            // cycle (writes happen in another phase or while idle), so one address does.
            let idle = (v(&ra).to_string(), Ty::u(mem.ty.width).lit(0));
            let (any, waddr, wdata) = write_port(&writes, Some(idle));
            let we = m.wire_across(&format!("{}_we", mem.name), Ty::BIT, any);
            let addr = m.wire_across(&format!("{}_addr", mem.name), Ty::u(aw), waddr);
            let wd = m.wire_across(&format!("{}_wdata", mem.name), mem.ty, wdata);
            let out = m.net(&format!("{}_rdata", mem.name), mem.ty);
            port_blocks += &format!(
                "lpn_spram #(.WIDTH({w}), .ADDR_BITS({aw})) {n}_spram (.clk(clk), .en({en}), .addr({a}), .we({we}), .wdata({d}), .rdata({o}));\nalways @(*) {rd} = {o};\n",
                en = if shared { "adv" } else { "1'b1" },
                w = mem.ty.width,
                n = mem.name,
                a = v(&addr),
                we = v(&we),
                d = v(&wd),
                o = v(&out),
                rd = v(rd),
            );
            continue;
        }
        let mut block = format!(
            "always @(posedge clk) {}begin\n    {} <= {}[{}];\n",
            if shared { "if (adv) " } else { "" },
            v(rd),
            v(mem),
            v(&ra)
        );
        for (i, (cond, addr, data)) in writes.iter().enumerate() {
            let kw = if i == 0 { "if" } else { "else if" };
            block += &format!("    {kw} ({cond}) {}[{addr}] <= {data};\n", v(mem));
        }
        block += "end\n";
        port_blocks += &block;
    }
    // Host reads: the read register of the memory the host selected a cycle ago; deep
    // (`StageDepths::host_read`): `<memory>_rd`, `ram_regs` clocks after the address,
    // and then the selected word registered.
    let host_sel_chain = m.reg_chain("host_sel", Ty::u(4), v(&host_sel), ram_reg.max(1));
    let reads = [
        (sel::SYN, &syn_rd),
        (sel::NBR, &nbr_rd),
        (sel::MASK, &mask_rd),
        (sel::RECIP, &recip_rd),
        (sel::BIAS, &bias_rd),
        (sel::LAST_ACCEPTED, &lacc_rd),
        (sel::SELECTED, &sel_rd),
    ];
    let sources = reads.map(|(id, rd)| (id, rd.clone()));
    let mut host_seq = String::new();
    for (q, from) in &host_sel_chain[1..] {
        host_seq += &format!("always @(posedge clk) {} <= {from};\n", v(q));
    }
    let mux_sel = &host_sel_chain[host_sel_chain.len() - 1].0;
    let mut rmux = format!("always @(*) begin\n    case ({})\n", v(mux_sel));
    for (id, rd) in &sources {
        rmux += &format!(
            "        4'd{id}: host_rdata_mux = {};\n",
            zext(v(rd), rd.ty.width, dw)
        );
    }
    rmux += &format!(
        "        default: host_rdata_mux = {};\n    endcase\nend\n",
        Ty::u(dw).lit(0)
    );
    let mux = m.reg("host_rdata_mux", Ty::u(dw));
    if dd.host_read() == 1 {
        m.assign(&host_rdata, &mux);
    } else {
        let q = m.reg("host_rdata_q", Ty::u(dw));
        host_seq += &format!("always @(posedge clk) {} <= {};\n", v(&q), v(&mux));
        m.assign(&host_rdata, &q);
    }
    rmux += &host_seq;

    if let Some(slot) = &step_slot {
        m.emit_shared(slot, sub_bits);
    }
    let (when, en) = if shared {
        ("once per step (on `adv`)", Some("adv"))
    } else {
        ("one clock", None)
    };
    m.raw(format!(
        "// The datapath: every stage register and memory write, {when}.\n{}",
        clocked_on(&rst_seq, &seq, en)
    ));
    m.raw(format!(
        "// Memory ports: one read and one write per memory.\n{port_blocks}always @(posedge clk) {} <= {};\n{rmux}",
        v(&host_sel_chain[0].0),
        host_sel_chain[0].1
    ));
    m
}

/// A memory's writers (condition, address, data) merged into one write port by
/// priority (the first whose condition holds): the write enable (any condition), and
/// the address and data multiplexers. `idle` is what they carry when no writer writes;
/// `None` leaves the last writer's there (a port whose address and data do not matter
/// while it does not write).
fn write_port(
    writes: &[(String, String, String)],
    idle: Option<(String, String)>,
) -> (String, String, String) {
    let any = writes
        .iter()
        .map(|(cond, _, _)| format!("({cond})"))
        .collect::<Vec<_>>()
        .join(" | ");
    let (rest, (mut addr, mut data)) = match idle {
        Some(idle) => (writes, idle),
        None => {
            let ((_, a, d), rest) = writes.split_last().expect("a memory has a writer");
            (rest, (a.clone(), d.clone()))
        }
    };
    for (cond, a, d) in rest.iter().rev() {
        addr = format!("({cond}) ? {a} : {addr}");
        data = format!("({cond}) ? {d} : {data}");
    }
    (any, addr, data)
}

/// One memory of the deep pipeline on its own (`lpn_memory`: `depth` words of `width`
/// bits, two writers by priority, `we0`/`wa0`/`wd0` before `we1`/`wa1`/`wd1`, one read
/// address `ra`), as the lane builds each of its memories ([`blocks_of`] with `after`
/// registers behind each block): `rd` is the word at `ra` of `after + 2` clocks ago,
/// with every write of an earlier clock in it. For tests of the blocks, the late write
/// and its bypass.
pub fn memory_module(family: lpn_cycle::Family, depth: usize, width: u32, after: u32) -> Module {
    let mut m = Module::new("lpn_memory", &[]);
    let aw = bits_for(depth as u64);
    let inp = |m: &mut Module, n: &str, t: Ty| m.port(Dir::Input, n, t);
    inp(&mut m, "clk", Ty::BIT);
    let mut writes = Vec::new();
    for i in 0..2 {
        let we = inp(&mut m, &format!("we{i}"), Ty::BIT);
        let wa = inp(&mut m, &format!("wa{i}"), Ty::u(aw));
        let wd = inp(&mut m, &format!("wd{i}"), Ty::u(width));
        writes.push((v(&we).to_string(), v(&wa).to_string(), v(&wd).to_string()));
    }
    let ra = inp(&mut m, "ra", Ty::u(aw));
    let mem = Sig::named("mem", Ty::u(width));
    let word = m.comb("mem_rd", Ty::u(width), None);
    let blocks = blocks_of(&mut m, family, &mem, &word, depth, &ra, &writes, after);
    m.raw(blocks);
    let rd = m.port(Dir::Output, "rd", Ty::u(width));
    m.assign(&rd, &word);
    m
}

/// The gate divider as [`gate_divider`] builds it, for the caller's clocked block.
pub struct GateDivider {
    /// What writes the result, for the clocked block's comment.
    pub comment: &'static str,
    /// Clocked assignments (outside reset).
    pub seq: String,
    /// Reset assignments.
    pub rst: String,
    /// Clocked blocks of their own (the shared pipeline's units, which decide a bit
    /// every clock, not only on `adv`; empty otherwise).
    pub blocks: String,
    /// `dividend >= divisor << Q` for the division starting this clock.
    pub overflow: Sig,
    /// A quotient is complete: write `recip` at `done_u` this clock (expressions).
    pub done: String,
    /// The output whose reciprocal is written.
    pub done_u: String,
    /// The reciprocal: 0 without valid slots, the format's maximum on overflow.
    pub recip: String,
}

/// The gate divider: `lpn_cycle::divider_units` units taking the outputs' divisions in
/// turn (`div_next`, one-hot), each a restoring division in shift-register form, one
/// quotient bit per clock (`lpn_cycle`'s `DividerUnit`): the partial remainder (as
/// wide as the divisor: it stays below it whenever the quotient is kept) and `low`, the
/// dividend's low Q bits, into which the quotient's bits shift behind them. A division
/// started when `start` is high (output `u`, valid count `count`, divisor
/// `max(mass, 1)`) has its first bit decided by logic the units share and is written Q
/// clocks later. A pipelined divider (a stage per bit) would take a new division every
/// clock; one comes only every K clocks, so ceil(Q / K) units keep up at a fraction of
/// the registers and subtractors.
pub fn gate_divider(
    m: &mut Module,
    c: &HwConfig,
    start: &str,
    (u, u_w): (&str, u32),
    count: &Sig,
    divisor: &Sig,
) -> GateDivider {
    let f = &c.formats;
    let q_bits = f.gate_recip.bits;
    let shift = f.trail.frac + f.gate_recip.frac;
    let valid_w = count.ty.width;
    let num_w = valid_w + shift;
    let den_w = divisor.ty.width;
    assert!(q_bits >= 2 && den_w >= 2 && !divisor.ty.signed);
    let wide = num_w.max(den_w + q_bits) + 1;
    let (mut seq, mut rst) = (String::new(), String::new());
    let num = m.wire(
        "divider_dividend",
        Ty::u(wide),
        format!("{{{}'b0, {}}} << {}", wide - valid_w, v(count), shift),
    );
    let den_wide = m.cast(divisor, Ty::u(wide));
    let overflow = m.wire(
        "divider_overflow",
        Ty::BIT,
        format!("{} >= ({} << {})", v(&num), v(&den_wide), q_bits),
    );
    let empty = m.wire(
        "divider_empty",
        Ty::BIT,
        format!("{} == {}", v(count), count.ty.lit(0)),
    );
    if lpn_cycle::divider_units(c) == 0 {
        // Pipelined: stages div_0 .. div_{Q-1}, stage s deciding quotient bit Q-1-s.
        for s in 0..q_bits {
            let bit = q_bits - 1 - s;
            let dv = m.reg(&format!("div_{s}_valid"), Ty::BIT);
            let du = m.reg(&format!("div_{s}_u"), Ty::u(u_w));
            let drem = m.reg(&format!("div_{s}_remainder"), Ty::u(wide));
            let dden = m.reg(&format!("div_{s}_divisor"), Ty::u(wide));
            let dq = m.reg(&format!("div_{s}_quotient"), Ty::u(q_bits));
            let dovf = m.reg(&format!("div_{s}_overflow"), Ty::BIT);
            let demp = m.reg(&format!("div_{s}_empty"), Ty::BIT);
            rst += &format!("{} <= 1'b0;\n", v(&dv));
            let (src_v, src_u, src_rem, src_den, src_q, src_ovf, src_emp) = if s == 0 {
                (
                    start.to_string(),
                    u.to_string(),
                    v(&num).to_string(),
                    v(&den_wide).to_string(),
                    Ty::u(q_bits).lit(0),
                    v(&overflow).to_string(),
                    v(&empty).to_string(),
                )
            } else {
                let p = s - 1;
                (
                    format!("div_{p}_valid"),
                    format!("div_{p}_u"),
                    format!("div_{p}_remainder"),
                    format!("div_{p}_divisor"),
                    format!("div_{p}_quotient"),
                    format!("div_{p}_overflow"),
                    format!("div_{p}_empty"),
                )
            };
            let shifted = m.wire(
                &format!("div_{s}_trial"),
                Ty::u(wide),
                format!("{src_den} << {bit}"),
            );
            // remainder >= divisor << bit, compared on the bits that can differ: those
            // below `bit` are 0 in the trial, and (without overflow, when the quotient is
            // kept) remainder < divisor << (bit + 1), so none is set above den_w + bit.
            let hi = (den_w + bit).min(wide - 1);
            let fits = m.wire(
                &format!("div_{s}_fits"),
                Ty::BIT,
                format!("{src_rem}[{hi}:{bit}] >= {src_den}[{}:0]", hi - bit),
            );
            seq += &format!(
                "{dv} <= {src_v}; {du} <= {src_u}; {dden} <= {src_den}; {dovf} <= {src_ovf}; {demp} <= {src_emp};\n{drem} <= {fits} ? {src_rem} - {sh} : {src_rem};\n{dq} <= {src_q} | ({{{qb}{{{fits}}}}} & ({one} << {bit}));\n",
                dv = v(&dv), du = v(&du), dden = v(&dden), dovf = v(&dovf), demp = v(&demp), drem = v(&drem), dq = v(&dq),
                fits = v(&fits), sh = v(&shifted), qb = q_bits, one = Ty::u(q_bits).lit(1)
            );
        }
        let last = q_bits - 1;
        return GateDivider {
            comment: "the last stage writes gate_recip in its port block",
            seq,
            rst,
            blocks: String::new(),
            overflow,
            done: format!("div_{last}_valid"),
            done_u: format!("div_{last}_u"),
            recip: format!(
                "div_{last}_empty ? {zero} : (div_{last}_overflow ? {max} : div_{last}_quotient)",
                zero = Ty::u(q_bits).lit(0),
                max = Ty::u(q_bits).lit(f.gate_recip.max_raw() as i128)
            ),
        };
    }
    let units = lpn_cycle::divider_units(c);
    let hi_w = num_w.saturating_sub(q_bits);
    let rem_ty = Ty::u(den_w);
    let low_ty = Ty::u(q_bits);
    let step = |m: &mut Module, name: &str, rem: &str, low: &str, den: &str| {
        let trial = m.wire(
            &format!("{name}_trial"),
            Ty::u(den_w + 1),
            format!("{{{rem}, {low}[{}]}}", q_bits - 1),
        );
        let fits = m.wire(
            &format!("{name}_fits"),
            Ty::BIT,
            format!("{} >= {{1'b0, {den}}}", v(&trial)),
        );
        // When it fits, trial - divisor < divisor: the low bits hold it.
        let diff = m.wire(
            &format!("{name}_difference"),
            rem_ty,
            format!("{}[{}:0] - {den}", v(&trial), den_w - 1),
        );
        let next_rem = m.wire(
            &format!("{name}_next_remainder"),
            rem_ty,
            format!(
                "{} ? {} : {}[{}:0]",
                v(&fits),
                v(&diff),
                v(&trial),
                den_w - 1
            ),
        );
        let next_low = m.wire(
            &format!("{name}_next_low"),
            low_ty,
            format!("{{{low}[{}:0], {}}}", q_bits - 2, v(&fits)),
        );
        (next_rem, next_low)
    };
    // The first step, shared by the units, decides the first bit from the operands.
    // Dividend bits above the remainder's width are set only on overflow.
    let first_rem = m.wire(
        "div_first_remainder_in",
        rem_ty,
        if hi_w == 0 {
            rem_ty.lit(0)
        } else if hi_w >= den_w {
            format!("{}[{}:{}]", v(&num), q_bits + den_w - 1, q_bits)
        } else {
            format!(
                "{{{}'b0, {}[{}:{}]}}",
                den_w - hi_w,
                v(&num),
                q_bits + hi_w - 1,
                q_bits
            )
        },
    );
    let first_low = m.wire(
        "div_first_low_in",
        low_ty,
        format!("{}[{}:0]", v(&num), q_bits - 1),
    );
    let (first_rem, first_low) = step(m, "div_first", v(&first_rem), v(&first_low), v(divisor));
    // Counts the bits left, from `q_bits - 1` down (found by `lpn fuzz`: with
    // `bits_for(q_bits - 1)`, a 17-bit reciprocal's 16 did not fit and generation panicked).
    let left_ty = Ty::u(bits_for(u64::from(q_bits)));
    // The unit each division starts in: `div_next`, one-hot, rotating.
    let unit_start: Vec<String> = if units == 1 {
        vec![start.to_string()]
    } else {
        let next_ty = Ty::u(units as u32);
        let div_next = m.reg("div_next", next_ty);
        rst += &format!("{} <= {};\n", v(&div_next), next_ty.lit(1));
        seq += &format!(
            "if ({start}) {n} <= {{{n}[{}:0], {n}[{}]}};\n",
            units - 2,
            units - 1,
            n = v(&div_next)
        );
        (0..units)
            .map(|i| format!("{start} & {}[{i}]", v(&div_next)))
            .collect()
    };
    let mut done = Vec::new();
    // Shared pipeline: a unit starts and writes on `adv` (with the stages) but decides
    // its bits in every clock between, so all are decided before the step it writes in.
    let per_clock = c.pipeline == Pipeline::Shared;
    let mut blocks = String::new();
    for i in 0..units {
        let n = format!("div_unit{i}");
        let dv = m.reg(&format!("{n}_valid"), Ty::BIT);
        let dl = m.reg(&format!("{n}_left"), left_ty);
        let du = m.reg(&format!("{n}_u"), Ty::u(u_w));
        let drem = m.reg(&format!("{n}_remainder"), rem_ty);
        let dlow = m.reg(&format!("{n}_low"), low_ty);
        let dden = m.reg(&format!("{n}_divisor"), rem_ty);
        let dovf = m.reg(&format!("{n}_overflow"), Ty::BIT);
        let demp = m.reg(&format!("{n}_empty"), Ty::BIT);
        let (next_rem, next_low) = step(m, &n, v(&drem), v(&dlow), v(&dden));
        let fin = m.wire(
            &format!("{n}_done"),
            Ty::BIT,
            format!("{} & ({} == {})", v(&dv), v(&dl), left_ty.lit(0)),
        );
        // Per clock (shared pipeline): start and clear only on `adv`, a bit in any clock
        // with bits left; otherwise (a clock per step) the same without those terms.
        let (go, clear, bit) = if per_clock {
            (
                format!("adv & {}", unit_start[i]),
                format!("adv & {}", v(&fin)),
                format!("{} & ({} != {})", v(&dv), v(&dl), left_ty.lit(0)),
            )
        } else {
            (
                unit_start[i].clone(),
                v(&fin).to_string(),
                v(&dv).to_string(),
            )
        };
        let body = format!(
            "if ({go}) begin\n    {dv} <= 1'b1; {dl} <= {left}; {du} <= {u};\n    {drem} <= {frem}; {dlow} <= {flow}; {dden} <= {den}; {dovf} <= {ovf}; {demp} <= {emp};\nend else if ({clear}) begin\n    {dv} <= 1'b0;\nend else if ({bit}) begin\n    {dl} <= {dl} - {one}; {drem} <= {nrem}; {dlow} <= {nlow};\nend\n",
            dv = v(&dv), dl = v(&dl), du = v(&du), drem = v(&drem),
            dlow = v(&dlow), dden = v(&dden), dovf = v(&dovf), demp = v(&demp),
            left = left_ty.lit(i128::from(q_bits) - 1), frem = v(&first_rem), flow = v(&first_low),
            den = v(divisor), ovf = v(&overflow), emp = v(&empty), one = left_ty.lit(1),
            nrem = v(&next_rem), nlow = v(&next_low),
        );
        let reset = format!("{} <= 1'b0;\n", v(&dv));
        if per_clock {
            blocks += &format!(
                "// {n}: starts and writes on `adv`, decides a quotient bit every clock between.\n{}",
                clocked_on(&reset, &body, None)
            );
        } else {
            rst += &reset;
            seq += &body;
        }
        done.push([fin, du, dlow, dovf, demp]);
    }
    // Units finish in different clocks (their divisions started K clocks apart), so the
    // write port takes the OR of the finished one's words.
    let any = |f: &dyn Fn(&[Sig; 5]) -> String| done.iter().map(f).collect::<Vec<_>>().join(" | ");
    let done_w = m.wire("div_done", Ty::BIT, any(&|d| v(&d[0]).to_string()));
    let done_u = m.wire(
        "div_done_u",
        Ty::u(u_w),
        any(&|d| format!("({{{u_w}{{{}}}}} & {})", v(&d[0]), v(&d[1]))),
    );
    let recip = any(&|d| {
        format!(
            "({{{q_bits}{{{fin}}}}} & ({emp} ? {zero} : ({ovf} ? {max} : {low})))",
            fin = v(&d[0]),
            emp = v(&d[4]),
            ovf = v(&d[3]),
            low = v(&d[2]),
            zero = low_ty.lit(0),
            max = low_ty.lit(f.gate_recip.max_raw() as i128)
        )
    });
    let recip = m.wire("div_recip", low_ty, recip);
    GateDivider {
        comment: "a unit whose quotient is complete writes gate_recip in its port block",
        seq,
        rst,
        blocks,
        overflow,
        done: v(&done_w).to_string(),
        done_u: v(&done_u).to_string(),
        recip: v(&recip).to_string(),
    }
}

/// The gate divider alone ([`gate_divider`]) on ports, for tests: inputs `clk`, `rst`,
/// `start`, `u` (8 bits), `count` (a valid count, as the lane's) and `divisor`
/// (`max(mass, 1)`, as wide as the lane's gate mass), and for the shared pipeline `adv`
/// (the clocks a start and a write may happen in); outputs `done`, `done_u`, `recip`.
pub fn divider_module(c: &HwConfig, dp: &Datapath) -> Module {
    let mut m = Module::new("lpn_divider", &[]);
    let t = crate::datapath::Types::new(c, dp);
    let k = c.layer.k;
    let inp = |m: &mut Module, n: &str, t: Ty| m.port(Dir::Input, n, t);
    inp(&mut m, "clk", Ty::BIT);
    inp(&mut m, "rst", Ty::BIT);
    let start = inp(&mut m, "start", Ty::BIT);
    let u = inp(&mut m, "u", Ty::u(8));
    let count = inp(&mut m, "count", Ty::u(bits_for(k as u64 + 1)));
    let divisor = inp(
        &mut m,
        "divisor",
        Ty::u(t.effective.width + bits_for(k as u64 + 1)),
    );
    // Shared pipeline: `adv` marks the clocks the lane's stages step in.
    let en = (c.pipeline == Pipeline::Shared).then(|| {
        inp(&mut m, "adv", Ty::BIT);
        "adv"
    });
    let div = gate_divider(&mut m, c, v(&start), (v(&u), 8), &count, &divisor);
    m.raw(clocked_on(&div.rst, &div.seq, en));
    m.raw(div.blocks.clone());
    let q_bits = c.formats.gate_recip.bits;
    for (name, expr, ty) in [
        ("done", &div.done, Ty::BIT),
        ("done_u", &div.done_u, Ty::u(8)),
        ("recip", &div.recip, Ty::u(q_bits)),
    ] {
        let o = m.port(Dir::Output, name, ty);
        m.raw(format!("assign {} = {expr};\n", v(&o)));
    }
    m
}

/// A clocked block: the `rst` lines under reset, the `seq` lines otherwise (only in
/// clocks where `en`, when given, is high).
fn clocked_on(rst: &str, seq: &str, en: Option<&str>) -> String {
    let indent = |s: &str| {
        s.lines()
            .map(|l| format!("        {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "always @(posedge clk) begin\n    if (rst) begin\n{}\n    end else {}begin\n{}\n    end\nend\n",
        indent(rst),
        en.map(|e| format!("if ({e}) ")).unwrap_or_default(),
        indent(seq)
    )
}

/// A memory of the deep pipeline, built from blocks of exactly one block RAM
/// ([`lpn_cycle::config::block_shape`]): banks stacked in depth (the high address bits
/// pick one), each of slices side by side. The read address is registered (`_ra_q`,
/// one register driving every block's address pins: the address comes out of a
/// multiplexer and the blocks are spread over the device); every block has its read
/// register (the block RAM's own) and `after` registers behind it (`_q`, ...: nothing
/// stands between the block and the first, so it can sit beside it); `rd` multiplexes the
/// last ones by the bank address, so it holds the word read `after + 2` clocks after
/// its address (clock `after + 1` of the reading stage). Returns the clocked blocks;
/// declares the blocks.
///
/// A block RAM returns no defined word when one port reads the address the other
/// writes in the same clock. Left to Yosys, every block gets its own delayed write, an
/// address compare and a multiplexer in front of its first register (flip-flops and
/// LUTs per block, and logic that pulls that register away from the block). Here the
/// memory does it once: its write port (the writers, by priority) is registered twice
/// (`_we_q`, `_wa_q`, `_wd_q`, then `_q2`) and reaches the blocks two clocks late, one
/// clock behind the read address; a block read that meets the late write's address is
/// replaced by the written word (`_hit`, `_byp`, delayed as long as the data, chosen in
/// `rd`). A read thus sees every write of an earlier clock and none of its own clock,
/// as a Verilog memory does; a write requested in a reset clock still lands (the late
/// write has no reset, like the memory). The blocks are `no_rw_check`.
#[allow(clippy::too_many_arguments)]
fn blocks_of(
    m: &mut Module,
    family: lpn_cycle::Family,
    mem: &Sig,
    rd: &Sig,
    depth: usize,
    ra: &Sig,
    writes: &[(String, String, String)],
    after: u32,
) -> String {
    assert!(after >= 1);
    let width = mem.ty.width;
    let aw = ra.ty.width;
    let (bank_depth, slice_w) = lpn_cycle::config::block_shape(family, depth, width);
    let banks = depth.div_ceil(bank_depth);
    let slices = width.div_ceil(slice_w);
    // Address bits within a bank, and the bank bits above them (none for one bank).
    let lo_w = if banks > 1 {
        bits_for(bank_depth as u64)
    } else {
        aw
    };
    let low = |a: &str| {
        if lo_w == aw {
            a.to_string()
        } else {
            format!("{a}[{}:0]", lo_w - 1)
        }
    };
    let high = |a: &str| format!("{a}[{}:{lo_w}]", aw - 1);
    let mut out = String::new();
    // Write ports as wires, so that their address and data can be sliced.
    let ports: Vec<(String, String, String)> = writes
        .iter()
        .enumerate()
        .map(|(i, (cond, addr, data))| {
            let a = m.wire_across(&format!("{}_wa{i}", mem.name), Ty::u(aw), addr.clone());
            let d = m.wire_across(&format!("{}_wd{i}", mem.name), mem.ty, data.clone());
            (cond.clone(), v(&a).to_string(), v(&d).to_string())
        })
        .collect();
    let n = &mem.name;
    let (any, wa_sel, wd_sel) = write_port(&ports, None);
    // The read address, the late write port and the bypass (see above).
    let ra_q = m.reg(&format!("{n}_ra_q"), Ty::u(aw));
    let we = m.reg_chain(&format!("{n}_we"), Ty::BIT, &any, 2);
    let wa = m.reg_chain(&format!("{n}_wa"), Ty::u(aw), &wa_sel, 2);
    let wd = m.reg_chain(&format!("{n}_wd"), mem.ty, &wd_sel, 2);
    let (we2, wa2, wd2) = (v(&we[1].0), v(&wa[1].0), v(&wd[1].0));
    let hit = m.reg(&format!("{n}_hit"), Ty::BIT);
    let byp = m.reg(&format!("{n}_byp"), mem.ty);
    let hits = m.reg_chain(&format!("{n}_hit"), Ty::BIT, v(&hit), after);
    let byps = m.reg_chain(&format!("{n}_byp"), mem.ty, v(&byp), after);
    out += &format!(
        "always @(posedge clk) begin\n    {ra_q} <= {ra};\n    {hit} <= {we2} & ({wa2} == {ra_q});\n    {byp} <= {wd2};\n",
        ra_q = v(&ra_q),
        ra = v(ra),
        hit = v(&hit),
        byp = v(&byp),
    );
    for chain in [&we, &wa, &wd, &hits, &byps] {
        out += &Module::chain_lines(chain);
    }
    out += "end\n";
    let mut bank_words = Vec::new();
    for b in 0..banks {
        let words = bank_depth.min(depth - b * bank_depth);
        let mut parts = Vec::new();
        for sl in 0..slices {
            let lo = sl * slice_w;
            let sw = slice_w.min(width - lo);
            let name = format!("{n}_b{b}_s{sl}");
            let block = m.mem_no_rw_check(&name, Ty::u(sw), words);
            let brd = m.reg(&format!("{name}_rd"), Ty::u(sw));
            let qs = m.reg_chain(&name, Ty::u(sw), v(&brd), after);
            out += &format!(
                "always @(posedge clk) begin\n    {} <= {}[{}];\n",
                v(&brd),
                v(&block),
                low(v(&ra_q))
            );
            let here = if banks > 1 {
                format!(" & ({} == {})", high(wa2), Ty::u(aw - lo_w).lit(b as i128))
            } else {
                String::new()
            };
            let part = if sw == width {
                wd2.to_string()
            } else {
                format!("{wd2}[{}:{lo}]", lo + sw - 1)
            };
            out += &format!(
                "    if ({we2}{here}) {}[{}] <= {part};\n",
                v(&block),
                low(wa2)
            );
            out += &Module::chain_lines(&qs);
            out += "end\n";
            parts.push(v(&qs[qs.len() - 1].0).to_string());
        }
        parts.reverse();
        bank_words.push(if parts.len() == 1 {
            parts.remove(0)
        } else {
            format!("{{{}}}", parts.join(", "))
        });
    }
    let (hit_last, byp_last) = (
        v(&hits[hits.len() - 1].0).to_string(),
        v(&byps[byps.len() - 1].0).to_string(),
    );
    if banks == 1 {
        out += &format!(
            "always @(*) {} = {hit_last} ? {byp_last} : {};\n",
            v(rd),
            bank_words[0]
        );
    } else {
        // The bank address, delayed as long as the data: the block's read register and
        // the `after` behind it.
        let bt = Ty::u(aw - lo_w);
        let bank = m.reg_chain(&format!("{n}_bank"), bt, &high(v(&ra_q)), after + 1);
        out += "always @(posedge clk) begin\n";
        out += &Module::chain_lines(&bank);
        out += "end\n";
        out += &format!(
            "always @(*) begin\n    if ({hit_last}) {} = {byp_last};\n    else case ({})\n",
            v(rd),
            v(&bank[bank.len() - 1].0)
        );
        for (b, word) in bank_words.iter().enumerate() {
            out += &format!("        {}: {} = {word};\n", bt.lit(b as i128), v(rd));
        }
        out += &format!(
            "        default: {} = {};\n    endcase\nend\n",
            v(rd),
            rd.ty.lit(0)
        );
    }
    out
}

/// The top module: control FSM and issue counters (shared by all lanes), the phase
/// flags and the descent test, the `rows_recip` ROM, the lanes, and the host port.
pub fn top_module(c: &HwConfig, dp: &Datapath, header: &[String]) -> Module {
    let w = Widths::new(c, dp);
    let f = &dp.f;
    let (k, uk) = (c.layer.k, c.slots_per_lane());
    let mut m = Module::new("lpn_engine", header);
    let inp = |m: &mut Module, n: &str, t: Ty| m.port(Dir::Input, n, t);
    inp(&mut m, "clk", Ty::BIT);
    inp(&mut m, "rst", Ty::BIT);
    inp(&mut m, "start", Ty::BIT);
    inp(&mut m, "rows", Ty::u(w.rows));
    inp(&mut m, "budget", Ty::u(w.budget));
    inp(&mut m, "mode", Ty::u(2));
    inp(&mut m, "consolidate", Ty::BIT);
    inp(&mut m, "host_we", Ty::BIT);
    inp(&mut m, "host_sel", Ty::u(4));
    inp(&mut m, "host_lane", Ty::u(w.lane));
    inp(&mut m, "host_addr", Ty::u(w.host_addr));
    inp(&mut m, "host_wdata", Ty::u(w.host_data));
    let rdata = m.port(Dir::Output, "host_rdata", Ty::u(w.host_data));
    let busy = m.port(Dir::Output, "busy", Ty::BIT);
    let phase_out = m.port(Dir::Output, "phase", Ty::u(2));
    m.port(Dir::OutputReg, "descent", Ty::BIT);
    let count_w = bits_for(c.synapses() as u64 + 1);
    m.port(Dir::OutputReg, "selected_count", Ty::u(count_w));

    let phase = m.reg("phase_q", Ty::u(2));
    let t = m.reg("phase_cycle", Ty::u(w.t));
    // Shared pipeline with K a power of two: the slot address is `{u, k}`, so the
    // output and slot counters are its bits, not counters of their own; every stage's
    // `_u` and `_k` registers then hold bits of its `_a` register, and synthesis
    // merges them (the shared pipeline is what has to fit the UP5K).
    let derived = c.pipeline == Pipeline::Shared && (1usize << w.k) == k && w.a == w.u + w.k;
    let (iu, ik) = if derived {
        (
            m.wire_across("iss_u", Ty::u(w.u), format!("iss_a[{}:{}]", w.a - 1, w.k)),
            m.wire_across(
                "iss_k",
                Ty::u(w.k),
                if w.k == 1 {
                    "iss_a[0]".to_string()
                } else {
                    format!("iss_a[{}:0]", w.k - 1)
                },
            ),
        )
    } else {
        (m.reg("iss_u", Ty::u(w.u)), m.reg("iss_k", Ty::u(w.k)))
    };
    let (ir, ia) = (m.reg("iss_r", Ty::u(w.r)), m.reg("iss_a", Ty::u(w.a)));
    let (uk_reset, uk_next) = if derived {
        (String::new(), String::new())
    } else {
        (
            format!(
                "iss_u <= {}; iss_k <= {}; ",
                Ty::u(w.u).lit(0),
                Ty::u(w.k).lit(0)
            ),
            format!(
                "\n                    if (iss_k == {kl}) begin iss_k <= {k0}; iss_u <= iss_u + {u1}; end\n                    else iss_k <= iss_k + {k1};",
                kl = Ty::u(w.k).lit(k as i128 - 1),
                k0 = Ty::u(w.k).lit(0),
                u1 = Ty::u(w.u).lit(1),
                k1 = Ty::u(w.k).lit(1),
            ),
        )
    };
    let _ = (&iu, &ik, &ir, &ia, &t);
    m.reg("rows_last", Ty::u(w.r));
    m.reg("rows_recip", Ty::u(f.rows_recip.bits));
    m.reg("acc_issue_len", Ty::u(w.t));
    m.reg("budget_q", Ty::u(w.budget));
    m.reg("mode_q", Ty::u(2));
    m.reg("consolidate_q", Ty::BIT);
    m.reg("bias_nonzero", Ty::BIT);
    m.reg("select_descent", Ty::BIT);
    m.reg("selected_any", Ty::BIT);
    // The lane whose word `host_rdata` carries: `host_lane` of `host_read` clocks ago.
    let host_read = StageDepths::of(c).host_read();
    let lane_chain = m.reg_chain("host_lane", Ty::u(w.lane), "host_lane", host_read);
    let lane_seq = Module::chain_lines(&lane_chain);
    let lane_last = v(&lane_chain[lane_chain.len() - 1].0).to_string();
    let (drain_acc, drain_sel, drain_apply) = lpn_cycle::engine::phase_drains(c);
    let tl = |x: u64| Ty::u(w.t).lit(x as i128);
    m.wire("busy_now", Ty::BIT, format!("{} != 2'd0", phase.name));
    // Shared pipeline: a step is `step_clocks` clocks; the stages and the control move
    // on its last (`adv`); while idle every clock is a step (host access).
    let shared = c.pipeline == Pipeline::Shared;
    let steps = c.step_clocks();
    let sub_bits = step_sub_bits(c);
    let (lane_shared, adv_if, sub_seq) = if shared {
        m.reg("step_sub", Ty::u(sub_bits));
        let last = Ty::u(sub_bits).lit(i128::from(steps) - 1);
        m.wire("adv", Ty::BIT, format!("~busy_now | (step_sub == {last})"));
        (
            ".adv(adv), .step_sub(step_sub), ".to_string(),
            " if (adv)",
            format!(
                "    // Clock of the step.\n    if (rst | ~busy_now | adv) step_sub <= {};\n    else step_sub <= step_sub + {};\n",
                Ty::u(sub_bits).lit(0),
                Ty::u(sub_bits).lit(1)
            ),
        )
    } else {
        (String::new(), "", String::new())
    };
    m.assign(&busy, &Sig::named("busy_now", Ty::BIT));
    m.assign(&phase_out, &phase);
    // The phase's issue length and last cycle, registered: they depend on the phase
    // only, so the registers hold the previous phase's values in the first cycle of a
    // phase, where `phase_cycle` is 0 and every length is at least 1 (0 < both, and 0 is
    // neither's last cycle): the same decisions, without the phase multiplexer and the
    // adder in front of the compares.
    m.reg("issue_len", Ty::u(w.t));
    m.reg("phase_last", Ty::u(w.t));
    m.wire(
        "issue_len_next",
        Ty::u(w.t),
        format!("(phase_q == 2'd1) ? acc_issue_len : {}", tl(uk as u64)),
    );
    m.wire(
        "phase_last_next",
        Ty::u(w.t),
        format!(
            "(phase_q == 2'd1) ? acc_issue_len + {} : ((phase_q == 2'd2) ? {} : {})",
            tl(drain_acc - 1),
            tl(uk as u64 + drain_sel - 1),
            tl(uk as u64 + drain_apply - 1)
        ),
    );
    m.wire(
        "iss_valid",
        Ty::BIT,
        "busy_now & (phase_cycle < issue_len)".into(),
    );
    // Lane flags, ORed and summed over the lanes.
    let lanes = c.lanes;
    let mut or_bias = Vec::new();
    let mut or_desc = Vec::new();
    let mut or_any = Vec::new();
    let mut sum_count = Vec::new();
    for l in 0..lanes {
        or_bias.push(format!("lane{l}_bias_nonzero_q"));
        or_desc.push(format!("lane{l}_select_descent_q"));
        or_any.push(format!("lane{l}_selected_any_q"));
        sum_count.push(zext(
            &format!("lane{l}_selected_count_q"),
            w.budget,
            count_w,
        ));
    }
    // (The `_q` names are the lane instance outputs, declared below as wires.)
    let mut inst = String::new();
    for l in 0..lanes {
        inst += &format!(
            "wire lane{l}_bias_nonzero_q, lane{l}_select_descent_q, lane{l}_selected_any_q;\nwire [{}:0] lane{l}_selected_count_q;\nwire [{}:0] lane{l}_rdata;\n",
            w.budget - 1,
            w.host_data - 1
        );
        inst += &format!(
            "lpn_lane lane{l} (\n    .clk(clk), .rst(rst), {lane_shared}.phase(phase_q), .iss_valid(iss_valid),\n    .iss_u(iss_u), .iss_k(iss_k), .iss_r(iss_r), .iss_a(iss_a),\n    .rows_last(rows_last), .rows_recip(rows_recip), .budget(budget_q), .mode(mode_q),\n    .consolidate(consolidate_q), .descent(descent), .accepted_any(descent & selected_any),\n    .host_we(host_we & ((host_sel == 4'd{pre}) | (host_lane == {lane}))), .host_sel(host_sel),\n    .host_addr(host_addr), .host_wdata(host_wdata), .host_rdata(lane{l}_rdata),\n    .flag_bias_nonzero(lane{l}_bias_nonzero_q), .flag_select_descent(lane{l}_select_descent_q),\n    .flag_selected_any(lane{l}_selected_any_q), .flag_selected_count(lane{l}_selected_count_q)\n);\n",
            pre = sel::PRE,
            lane = Ty::u(w.lane).lit(l as i128),
        );
    }
    let mut rmux = format!("case ({lane_last})\n");
    for l in 0..lanes {
        rmux += &format!(
            "    {}: host_rdata_mux = lane{l}_rdata;\n",
            Ty::u(w.lane).lit(l as i128)
        );
    }
    rmux += &format!(
        "    default: host_rdata_mux = {};\nendcase\n",
        Ty::u(w.host_data).lit(0)
    );
    m.raw(inst);
    m.raw(format!(
        "wire flags_bias_nonzero = {};\nwire flags_select_descent = {};\nwire flags_selected_any = {};\nwire [{}:0] flags_selected_count = {};\nreg [{}:0] host_rdata_mux;\nalways @(*) begin\n{}end\nassign host_rdata = host_rdata_mux;\n",
        or_bias.join(" | "),
        or_desc.join(" | "),
        or_any.join(" | "),
        count_w - 1,
        sum_count.join(" + "),
        w.host_data - 1,
        rmux.lines().map(|l| format!("    {l}\n")).collect::<String>()
    ));
    let _ = rdata;
    // rows_recip ROM, from the model's function.
    let mut rom = String::from("case (rows)\n");
    for r in 1..=c.max_rows {
        rom += &format!(
            "    {}: rows_recip <= {};\n",
            Ty::u(w.rows).lit(r as i128),
            Ty::u(f.rows_recip.bits).lit(dp.rows_recip(r) as i128)
        );
    }
    rom += &format!(
        "    default: rows_recip <= {};\nendcase\n",
        Ty::u(f.rows_recip.bits).lit(0)
    );
    let ind = |s: &str, n: usize| {
        s.lines()
            .map(|l| format!("{}{l}\n", " ".repeat(n)))
            .collect::<String>()
    };
    let rows_ty = Ty::u(w.rows);
    m.raw(format!(
        "// Control: start latches the step's registers; each phase issues, drains, moves on.
always @(posedge clk) begin
{lane_seq}{sub_seq}    issue_len <= issue_len_next;
    phase_last <= phase_last_next;
    if (rst) begin
        phase_q <= 2'd0;
        phase_cycle <= {t0};
        descent <= 1'b0;
        selected_count <= {c0};
        bias_nonzero <= 1'b0;
        select_descent <= 1'b0;
        selected_any <= 1'b0;
    end else if (phase_q == 2'd0) begin
        if (start) begin
            phase_q <= 2'd1;
            phase_cycle <= {t0};
            {uk_reset}iss_r <= {r0}; iss_a <= {a0};
            rows_last <= {rows_low} - {r1};
            acc_issue_len <= {{{tpad}'b0, rows}} * {uk};
            budget_q <= budget;
            mode_q <= mode;
            consolidate_q <= consolidate;
            descent <= 1'b0;
            selected_count <= {c0};
            bias_nonzero <= 1'b0;
            select_descent <= 1'b0;
            selected_any <= 1'b0;
{rom}        end
    end else{adv_if} begin
        bias_nonzero <= bias_nonzero | flags_bias_nonzero;
        select_descent <= select_descent | flags_select_descent;
        selected_any <= selected_any | flags_selected_any;
        selected_count <= selected_count + flags_selected_count;
        if (phase_cycle == phase_last) begin
            phase_cycle <= {t0};
            {uk_reset}iss_r <= {r0}; iss_a <= {a0};
            if (phase_q == 2'd2)
                // The descent test: D < 0 iff a selected slot has a non-zero signal or a
                // bias direction is non-zero (flags of this very cycle included).
                descent <= select_descent | flags_select_descent | bias_nonzero | flags_bias_nonzero;
            phase_q <= (phase_q == 2'd3) ? 2'd0 : phase_q + 2'd1;
        end else begin
            phase_cycle <= phase_cycle + {t1};
            if (iss_valid) begin
                if ((phase_q != 2'd1) | (iss_r == rows_last)) begin
                    iss_r <= {r0};
                    iss_a <= iss_a + {a1};{uk_next}
                end else iss_r <= iss_r + {r1};
            end
        end
    end
end
",
        t0 = Ty::u(w.t).lit(0),
        t1 = Ty::u(w.t).lit(1),
        c0 = Ty::u(count_w).lit(0),
        r0 = Ty::u(w.r).lit(0),
        r1 = Ty::u(w.r).lit(1),
        a0 = Ty::u(w.a).lit(0),
        a1 = Ty::u(w.a).lit(1),
        rows_low = if w.r == w.rows { "rows".to_string() } else { format!("rows[{}:0]", w.r - 1) },
        tpad = w.t - rows_ty.width,
        uk = Ty::u(w.t).lit(uk as i128),
        rom = ind(&rom, 12),
    ));
    m
}

/// Everything `lpn gen` writes: the Verilog files and the manifest.
#[derive(Debug, Clone)]
pub struct Generated {
    /// (file name, text): `lpn_lane.v`, `lpn_engine.v`.
    pub files: Vec<(String, String)>,
    /// The manifest.
    pub manifest: Manifest,
}

/// Machine-readable description of generated RTL.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// Manifest format version.
    pub version: u32,
    /// Top module.
    pub top: String,
    /// The configuration.
    pub config: HwConfig,
    /// Ports of the top module: name, direction, width, signedness.
    pub ports: Vec<PortInfo>,
    /// Signal widths.
    pub widths: Widths,
    /// Host memory selectors and word layouts.
    pub host_memories: Vec<HostMemory>,
    /// Cycle formula: `((rows + 2) * slots_per_lane + latency) * step_clocks`.
    pub cycle_formula: CycleFormula,
    /// Memories per lane with depths and widths (the config's memory plan).
    pub memory_plan: lpn_cycle::config::MemoryPlan,
    /// Quantised learning constants.
    pub constants: lpn_cycle::Constants,
}

/// One port of the top module.
#[derive(Debug, Clone, Serialize)]
pub struct PortInfo {
    /// Name.
    pub name: String,
    /// `input` or `output`.
    pub direction: &'static str,
    /// Bits.
    pub width: u32,
    /// Two's complement.
    pub signed: bool,
}

/// A memory the host can reach.
#[derive(Debug, Clone, Serialize)]
pub struct HostMemory {
    /// `host_sel` value.
    pub sel: u64,
    /// Name.
    pub name: &'static str,
    /// Word layout, most significant field first.
    pub layout: String,
    /// Address.
    pub address: &'static str,
    /// Words per lane (addresses `0..depth`).
    pub depth: usize,
    /// Bits per word (a host word with higher bits set is refused by the bridge).
    pub bits: u32,
    /// Readable.
    pub readable: bool,
    /// Writable.
    pub writable: bool,
}

/// The cycle formula's constants.
#[derive(Debug, Clone, Serialize)]
pub struct CycleFormula {
    /// Slot addresses per lane (`U*K`).
    pub slots_per_lane: usize,
    /// Fixed latency.
    pub latency: u64,
    /// Clocks per pipeline step (the formula's factor; 1 except in the shared pipeline).
    pub step_clocks: u32,
}

/// Generates the engine for a configuration.
pub fn generate(c: &HwConfig) -> lpn_cycle::Result<Generated> {
    c.validate_structure()?;
    let dp = Datapath::new(c)?;
    let lane = lane_module(
        c,
        &dp,
        &crate::header(
            c,
            "LPN sparse-trail update engine: one lane (memories and the three phase pipelines).",
        ),
    );
    if let Some(e) = lane.shared_error() {
        return Err(lpn_cycle::Error::new(e));
    }
    let top = top_module(c, &dp, &crate::header(c, "LPN sparse-trail update engine: control, flags, host port and lanes (top: lpn_engine)."));
    let ports = top
        .ports()
        .iter()
        .map(|(d, s)| PortInfo {
            name: s.name.clone(),
            direction: if *d == Dir::Input { "input" } else { "output" },
            width: s.ty.width,
            signed: s.ty.signed,
        })
        .collect();
    let f = &dp.f;
    let w = Widths::new(c, &dp);
    let (u, uk) = (c.outputs_per_lane(), c.slots_per_lane());
    let bits = word_bits(c, &dp);
    let host_memories = vec![
        HostMemory {
            sel: sel::SYN,
            name: "syn",
            layout: SynLayout::new(c).describe(c),
            address: "u*K + k",
            depth: uk,
            bits: bits[sel::SYN as usize],
            readable: true,
            writable: true,
        },
        HostMemory {
            sel: sel::NBR,
            name: "nbr",
            layout: format!("near u{}, input u{}", c.layer.k, w.nbr),
            address: "u*K + k",
            depth: uk,
            bits: bits[sel::NBR as usize],
            readable: true,
            writable: true,
        },
        HostMemory {
            sel: sel::PRE,
            name: "pre",
            layout: format!("pre s{}", f.activation.bits),
            address: "input*max_rows + row (all lanes)",
            depth: c.layer.inputs * c.max_rows,
            bits: bits[sel::PRE as usize],
            readable: false,
            writable: true,
        },
        HostMemory {
            sel: sel::POST_ERR,
            name: "post_err",
            layout: format!("err s{}, post s{}", f.error.bits, f.activation.bits),
            address: "u*max_rows + row",
            depth: u * c.max_rows,
            bits: bits[sel::POST_ERR as usize],
            readable: false,
            writable: true,
        },
        HostMemory {
            sel: sel::MASK,
            name: "mask",
            layout: format!("valid_count u{}, mask u{}", w.budget, c.layer.k),
            address: "u",
            depth: u,
            bits: bits[sel::MASK as usize],
            readable: true,
            writable: true,
        },
        HostMemory {
            sel: sel::RECIP,
            name: "gate_recip",
            layout: format!("gate_recip u{}", f.gate_recip.bits),
            address: "u",
            depth: u,
            bits: bits[sel::RECIP as usize],
            readable: true,
            writable: true,
        },
        HostMemory {
            sel: sel::BIAS,
            name: "bias",
            layout: format!("bias s{}", f.weight.bits),
            address: "u",
            depth: u,
            bits: bits[sel::BIAS as usize],
            readable: true,
            writable: true,
        },
        HostMemory {
            sel: sel::LAST_ACCEPTED,
            name: "last_accepted",
            layout: format!("accepted u{}", c.layer.k),
            address: "u",
            depth: u,
            bits: bits[sel::LAST_ACCEPTED as usize],
            readable: true,
            writable: true,
        },
        HostMemory {
            sel: sel::SELECTED,
            name: "selected",
            layout: format!("selected u{}", c.layer.k),
            address: "u",
            depth: u,
            bits: bits[sel::SELECTED as usize],
            readable: true,
            writable: false,
        },
    ];
    let manifest = Manifest {
        version: 1,
        top: "lpn_engine".into(),
        config: c.clone(),
        ports,
        widths: w,
        host_memories,
        cycle_formula: CycleFormula {
            slots_per_lane: c.slots_per_lane(),
            latency: lpn_cycle::pipeline_latency(c),
            step_clocks: c.step_clocks(),
        },
        memory_plan: c.memory_plan(),
        constants: dp.k.clone(),
    };
    let mut files = vec![
        ("lpn_lane.v".to_string(), lane.emit()),
        ("lpn_engine.v".to_string(), top.emit()),
    ];
    if uses_spram(c) {
        files.push(("lpn_spram.v".into(), spram_module(c)));
    }
    Ok(Generated { files, manifest })
}

/// Whether the configuration puts any memory in iCE40 SPRAM.
pub fn uses_spram(c: &HwConfig) -> bool {
    let m = &c.memory;
    c.family == lpn_cycle::Family::Ice40Up5k
        && [m.scratch, m.nbr, m.pre, m.post_err].contains(&RamKind::Spram)
}

/// `lpn_spram`: a single-port memory of up to 16K words; under synthesis (`SYNTHESIS`,
/// which Yosys defines) it is made of iCE40 `SB_SPRAM256KA` blocks side by side, in
/// simulation a behavioural array with the same timing (read data one cycle after the
/// address; undefined while writing, which the engine never reads). Nothing happens in
/// a clock where `en` is low (the read data holds): the shared pipeline's steps.
pub fn spram_module(c: &HwConfig) -> String {
    let mut s = crate::comment_block(&crate::header(
        c,
        "Single-port RAM on iCE40 SPRAM (SB_SPRAM256KA), behavioural in simulation.",
    ));
    s += crate::TIMESCALE;
    s += r#"`default_nettype none
module lpn_spram #(
    parameter integer WIDTH = 16,
    parameter integer ADDR_BITS = 14
) (
    input  wire                 clk,
    input  wire                 en,
    input  wire [ADDR_BITS-1:0] addr,
    input  wire                 we,
    input  wire [WIDTH-1:0]     wdata,
    output wire [WIDTH-1:0]     rdata
);
    localparam integer BLOCKS = (WIDTH + 15) / 16;
    wire [BLOCKS*16-1:0] wide_wdata;
    wire [BLOCKS*16-1:0] wide_rdata;
    wire [13:0] address;
    generate
        if (BLOCKS*16 > WIDTH) begin : pad_data
            assign wide_wdata = {{(BLOCKS*16-WIDTH){1'b0}}, wdata};
        end else begin : full_data
            assign wide_wdata = wdata;
        end
        if (ADDR_BITS < 14) begin : pad_address
            assign address = {{(14-ADDR_BITS){1'b0}}, addr};
        end else begin : full_address
            assign address = addr;
        end
    endgenerate
`ifdef SYNTHESIS
    genvar i;
    generate
        for (i = 0; i < BLOCKS; i = i + 1) begin : block
            SB_SPRAM256KA ram (
                .ADDRESS(address), .DATAIN(wide_wdata[i*16 +: 16]), .MASKWREN(4'b1111),
                .WREN(we), .CHIPSELECT(en), .CLOCK(clk), .STANDBY(1'b0), .SLEEP(1'b0),
                .POWEROFF(1'b1), .DATAOUT(wide_rdata[i*16 +: 16])
            );
        end
    endgenerate
`else
    reg [BLOCKS*16-1:0] mem [0:(1<<ADDR_BITS)-1];
    reg [BLOCKS*16-1:0] q;
    always @(posedge clk) begin
        if (en) begin
            if (we) mem[addr] <= wide_wdata;
            else q <= mem[addr];
        end
    end
    assign wide_rdata = q;
    wire unused_address = &{1'b0, address};
`endif
    assign rdata = wide_rdata[WIDTH-1:0];
    generate
        if (BLOCKS*16 > WIDTH) begin : pad
            wire [BLOCKS*16-WIDTH-1:0] unused_high = wide_rdata[BLOCKS*16-1:WIDTH];
        end
    endgenerate
endmodule
`default_nettype wire
"#;
    s
}

/// Bits of `step_sub`, the clock within a step of the shared pipeline: it counts
/// `0..step_clocks`.
fn step_sub_bits(c: &HwConfig) -> u32 {
    bits_for(u64::from(c.step_clocks()))
}

/// Values delayed to clock `at` of their stage (where the next stage's registers take
/// them): see [`Module::delay`].
fn ends<const N: usize>(m: &mut Module, at: u32, xs: [&Sig; N]) -> [Sig; N] {
    xs.map(|x| m.delay(x, at))
}
