//! `lpn_engine`: the control state machine and issue counters the lanes share, the
//! phase flags and the descent test, the `rows_recip` ROM, the lanes and the host port.

use lpn_cycle::format::bits_for;

use super::*;

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
        let iss_a = Sig::named("iss_a", Ty::u(w.a));
        (
            m.wire_across("iss_u", Ty::u(w.u), Expr::slice(&iss_a, w.a - 1, w.k)),
            m.wire_across(
                "iss_k",
                Ty::u(w.k),
                if w.k == 1 {
                    Expr::bit_of(&iss_a, 0)
                } else {
                    Expr::slice(&iss_a, w.k - 1, 0)
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
    let lane_chain = m.reg_chain(
        "host_lane",
        Ty::u(w.lane),
        Expr::name("host_lane"),
        host_read,
    );
    let lane_seq: String = Module::chain_stmts(&lane_chain)
        .iter()
        .map(|s| format!("    {}", crate::verilog::statement(s, "<=")))
        .collect();
    let lane_last = v(&lane_chain[lane_chain.len() - 1].0).to_string();
    let (drain_acc, drain_sel, drain_apply) = lpn_cycle::engine::phase_drains(c);
    let tl = |v: u64| Expr::lit(Ty::u(w.t), v as i128);
    let busy_now = m.wire(
        "busy_now",
        Ty::BIT,
        Expr::bin(BinOp::Ne, &phase, Expr::dec(2, 0)),
    );
    // Shared pipeline: a step is `step_clocks` clocks; the stages and the control move
    // on its last (`adv`); while idle every clock is a step (host access).
    let shared = c.pipeline == Pipeline::Shared;
    let steps = c.step_clocks();
    let sub_bits = step_sub_bits(c);
    let (lane_shared, adv_if, sub_seq) = if shared {
        let step_sub = m.reg("step_sub", Ty::u(sub_bits));
        let last = Expr::lit(step_sub.ty, i128::from(steps) - 1);
        m.wire("adv", Ty::BIT, (!x(&busy_now)).or(x(&step_sub).eq(last)));
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
    let issue_len = m.reg("issue_len", Ty::u(w.t));
    m.reg("phase_last", Ty::u(w.t));
    let acc_issue_len = Sig::named("acc_issue_len", Ty::u(w.t));
    let phase_is = |p: Phase| x(&phase).eq(Expr::dec(2, phase_code(p)));
    m.wire(
        "issue_len_next",
        Ty::u(w.t),
        Expr::mux(phase_is(Phase::Accumulate), &acc_issue_len, tl(uk as u64)),
    );
    m.wire(
        "phase_last_next",
        Ty::u(w.t),
        Expr::mux(
            phase_is(Phase::Accumulate),
            Expr::bin(BinOp::Add, &acc_issue_len, tl(drain_acc - 1)),
            Expr::mux(
                phase_is(Phase::Select),
                tl(uk as u64 + drain_sel - 1),
                tl(uk as u64 + drain_apply - 1),
            ),
        ),
    );
    m.wire(
        "iss_valid",
        Ty::BIT,
        x(&busy_now).and(Expr::bin(BinOp::Lt, &t, &issue_len)),
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
        sum_count.push(crate::verilog::expr(&Expr::zext(
            Expr::name(&format!("lane{l}_selected_count_q")),
            w.budget,
            count_w,
        )));
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
