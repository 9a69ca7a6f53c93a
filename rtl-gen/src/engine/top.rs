//! `lpn_engine`: the control state machine and issue counters the lanes share, the
//! phase flags and the descent test, the `rows_recip` ROM, the lanes and the host port.

use lpn_cycle::format::bits_for;

use super::memory::{blocks_of, write_chain};

use super::*;

/// The top's registers and the values its control reads.
struct Top {
    phase: Sig,
    cycle: Sig,
    iss_u: Sig,
    iss_k: Sig,
    iss_r: Sig,
    iss_a: Sig,
    /// Whether `iss_u` and `iss_k` are bits of `iss_a` (no counters of their own).
    derived: bool,
    /// ACCUMULATE's last issue of a slot: `rows_last`, or with `row_parallel` P > 1
    /// `groups_last` (`iss_r` counts groups of P rows).
    groups_last: Sig,
    /// With P > 1: `rows_group_last = (rows - 1) / P` and `rows_tail = (rows - 1) %
    /// P` (the last group holding rows, and its last row), and with several lanes each
    /// lane's group counter `lane{l}_iss_r` (lane `l` starts a slot at group `l`).
    rows_groups: Option<(Sig, Sig, Vec<Sig>)>,
    rows_recip: Sig,
    acc_issue_len: Sig,
    budget: Sig,
    mode: Sig,
    consolidate: Sig,
    bias_nonzero: Sig,
    select_descent: Sig,
    selected_any: Sig,
    descent: Sig,
    selected_count: Sig,
    issue_len: Sig,
    phase_last: Sig,
    busy_now: Sig,
    iss_valid: Sig,
    /// Shared pipeline: `step_sub` and `adv`.
    step: Option<(Sig, Sig)>,
    /// The `host_lane` delay line, for the host read multiplexer.
    lane_chain: Vec<(Sig, Expr)>,
}

/// The lane flags, ORed and summed over the lanes.
struct Flags {
    bias_nonzero: Sig,
    select_descent: Sig,
    selected_any: Sig,
    selected_count: Sig,
}

/// The top module: control FSM and issue counters (shared by all lanes), the phase
/// flags and the descent test, the `rows_recip` ROM, the lanes, and the host port.
pub fn top_module(c: &HwConfig, dp: &Datapath, header: &[String], lane: &Module) -> Module {
    let w = Widths::new(c, dp);
    let mut m = Module::new("lpn_engine", header);
    let top = control_regs(&mut m, c, dp, &w);
    let flags = lanes(&mut m, c, dp, &w, &top, lane);
    let fsm = control(c, dp, &w, &top, &flags);
    m.process(fsm.commented(
        "Control: start latches the step's registers; each phase issues, drains, moves on.",
    ));
    m
}

/// The ports, the control's registers, and the wires the lanes read (`iss_valid`).
fn control_regs(m: &mut Module, c: &HwConfig, dp: &Datapath, w: &Widths) -> Top {
    let (k, uk) = (c.layer.k, c.slots_per_lane());
    let inp = |m: &mut Module, n: &str, t: Ty| m.port(Dir::Input, n, t);
    for (n, t) in [
        ("clk", Ty::BIT),
        ("rst", Ty::BIT),
        ("start", Ty::BIT),
        ("rows", Ty::u(w.rows)),
        ("budget", Ty::u(w.budget)),
        ("mode", Ty::u(2)),
        ("consolidate", Ty::BIT),
        ("host_we", Ty::BIT),
        ("host_sel", Ty::u(4)),
        ("host_lane", Ty::u(w.lane)),
        ("host_addr", Ty::u(w.host_addr)),
        ("host_wdata", Ty::u(w.host_data)),
    ] {
        inp(m, n, t);
    }
    m.port(Dir::Output, "host_rdata", Ty::u(w.host_data));
    let busy = m.port(Dir::Output, "busy", Ty::BIT);
    let phase_out = m.port(Dir::Output, "phase", Ty::u(2));
    let descent = m.port(Dir::OutputReg, "descent", Ty::BIT);
    let count_w = bits_for(c.synapses() as u64 + 1);
    let selected_count = m.port(Dir::OutputReg, "selected_count", Ty::u(count_w));

    let phase = m.reg("phase_q", Ty::u(2));
    let cycle = m.reg("phase_cycle", Ty::u(w.t));
    // Shared pipeline with K a power of two: the slot address is `{u, k}`, so the
    // output and slot counters are its bits, not counters of their own; every stage's
    // `_u` and `_k` registers then hold bits of its `_a` register, and synthesis
    // merges them (the shared pipeline is what has to fit the UP5K).
    let derived = c.pipeline == Pipeline::Shared && (1usize << w.k) == k && w.a == w.u + w.k;
    let (iss_u, iss_k) = if derived {
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
    let (iss_r, iss_a) = (m.reg("iss_r", Ty::u(w.r)), m.reg("iss_a", Ty::u(w.a)));
    let (groups_last, rows_groups) = if c.row_parallel == 1 {
        (m.reg("rows_last", Ty::u(w.r)), None)
    } else {
        m.wire(
            "rows_minus_one",
            Ty::u(w.rows),
            Expr::bin(BinOp::Sub, Expr::name("rows"), Expr::lit(Ty::u(w.rows), 1)),
        );
        let last = m.reg("groups_last", Ty::u(w.r));
        let rows_last = m.reg("rows_group_last", Ty::u(w.r));
        let tail = m.reg("rows_tail", Ty::u(c.bank_bits()));
        let per_lane = if c.lanes > 1 {
            (0..c.lanes)
                .map(|l| m.reg(&format!("lane{l}_iss_r"), Ty::u(w.r)))
                .collect()
        } else {
            Vec::new()
        };
        (last, Some((rows_last, tail, per_lane)))
    };
    let rows_recip = m.reg("rows_recip", Ty::u(dp.f.rows_recip.bits));
    let acc_issue_len = m.reg("acc_issue_len", Ty::u(w.t));
    let budget = m.reg("budget_q", Ty::u(w.budget));
    let mode = m.reg("mode_q", Ty::u(2));
    let consolidate = m.reg("consolidate_q", Ty::BIT);
    let bias_nonzero = m.reg("bias_nonzero", Ty::BIT);
    let select_descent = m.reg("select_descent", Ty::BIT);
    let selected_any = m.reg("selected_any", Ty::BIT);
    // The lane whose word `host_rdata` carries: `host_lane` of `host_read` clocks ago.
    let host_read = StageDepths::of(c).host_read();
    let lane_chain = m.reg_chain(
        "host_lane",
        Ty::u(w.lane),
        Expr::name("host_lane"),
        host_read,
    );
    let (drain_acc, drain_sel, drain_apply) = lpn_cycle::engine::phase_drains(c);
    let tl = |v: u64| Expr::lit(Ty::u(w.t), v as i128);
    let busy_now = m.wire(
        "busy_now",
        Ty::BIT,
        Expr::bin(BinOp::Ne, &phase, Expr::dec(2, phase_code(Phase::Idle))),
    );
    // Shared pipeline: a step is `step_clocks` clocks; the stages and the control move
    // on its last (`adv`); while idle every clock is a step (host access).
    let step = (c.pipeline == Pipeline::Shared).then(|| {
        let step_sub = m.reg("step_sub", Ty::u(step_sub_bits(c)));
        let last = Expr::lit(step_sub.ty, i128::from(c.step_clocks()) - 1);
        let adv = m.wire("adv", Ty::BIT, (!x(&busy_now)).or(x(&step_sub).eq(last)));
        (step_sub, adv)
    });
    m.assign(&busy, &busy_now);
    m.assign(&phase_out, &phase);
    // The phase's issue length and last cycle, registered: they depend on the phase
    // only, so the registers hold the previous phase's values in the first cycle of a
    // phase, where `phase_cycle` is 0 and every length is at least 1 (0 < both, and 0 is
    // neither's last cycle): the same decisions, without the phase multiplexer and the
    // adder in front of the compares.
    let issue_len = m.reg("issue_len", Ty::u(w.t));
    let phase_last = m.reg("phase_last", Ty::u(w.t));
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
    let iss_valid = m.wire(
        "iss_valid",
        Ty::BIT,
        x(&busy_now).and(Expr::bin(BinOp::Lt, &cycle, &issue_len)),
    );
    Top {
        phase,
        cycle,
        iss_u,
        iss_k,
        iss_r,
        iss_a,
        derived,
        groups_last,
        rows_groups,
        rows_recip,
        acc_issue_len,
        budget,
        mode,
        consolidate,
        bias_nonzero,
        select_descent,
        selected_any,
        descent,
        selected_count,
        issue_len,
        phase_last,
        busy_now,
        iss_valid,
        step,
        lane_chain,
    }
}

/// The lanes (instances of `lane`, their port maps derived from its ports), their flags
/// ORed and summed, and the host read multiplexer over them.
fn lanes(
    m: &mut Module,
    c: &HwConfig,
    dp: &Datapath,
    w: &Widths,
    top: &Top,
    lane: &Module,
) -> Flags {
    let lane_ty = Ty::u(w.lane);
    let mut outs = Vec::new();
    let mut pre_reads = Vec::new();
    for l in 0..c.lanes {
        // The lane's outputs, as nets.
        let net = |m: &mut Module, n: &str, ty: Ty| m.net(&format!("lane{l}_{n}"), ty);
        let bias = net(m, "bias_nonzero_q", Ty::BIT);
        let desc = net(m, "select_descent_q", Ty::BIT);
        let any = net(m, "selected_any_q", Ty::BIT);
        let count = net(m, "selected_count_q", Ty::u(w.budget));
        let rdata = net(m, "rdata", Ty::u(w.host_data));
        // A host write reaches this lane when it names it; `pre` words go to every lane
        // (each holds a replica).
        let host_we = Expr::name("host_we").and(
            Expr::name("host_sel")
                .eq(Expr::dec(4, sel::PRE as i128))
                .or(Expr::name("host_lane").eq(Expr::lit(lane_ty, l as i128))),
        );
        // With P > 1 rows per clock: the lane's turn through the shared `pre`'s row
        // groups (it starts a slot at group `l` and ends at the one before), and its
        // read of them.
        let mut groups = Vec::new();
        if let Some((_, _, per_lane)) = &top.rows_groups {
            let r_ty = Ty::u(w.r);
            let read = [
                net(m, "pre_ra", Ty::u(w.nbr)),
                net(m, "pre_rg", r_ty),
                m.comb(
                    &format!("lane{l}_pre_rd"),
                    Ty::u(dp.f.activation.bits * c.row_parallel as u32),
                    None,
                ),
            ];
            groups.push(("group_first", Expr::lit(r_ty, l as i128)));
            groups.push((
                "group_last",
                if l == 0 {
                    x(&top.groups_last)
                } else {
                    Expr::lit(r_ty, l as i128 - 1)
                },
            ));
            if let Some(r) = per_lane.get(l) {
                groups.push(("iss_r", x(r)));
            }
            groups.push(("pre_ra", x(&read[0])));
            groups.push(("pre_rg", x(&read[1])));
            groups.push(("pre_rd", x(&read[2])));
            pre_reads.push(read);
        }
        // Every other port meets the top's signal of its own name.
        let mut renames = vec![
            ("phase", x(&top.phase)),
            ("budget", x(&top.budget)),
            ("mode", x(&top.mode)),
            ("consolidate", x(&top.consolidate)),
            ("descent", x(&top.descent)),
            ("accepted_any", x(&top.descent).and(&top.selected_any)),
            ("host_we", host_we),
            ("host_rdata", x(&rdata)),
            ("flag_bias_nonzero", x(&bias)),
            ("flag_select_descent", x(&desc)),
            ("flag_selected_any", x(&any)),
            ("flag_selected_count", x(&count)),
        ];
        renames.extend(groups);
        m.instance_of(lane, &format!("lane{l}"), &renames);
        outs.push([bias, desc, any, count, rdata]);
    }
    if !pre_reads.is_empty() {
        shared_pre(m, c, dp, w, &pre_reads);
    }
    let any_of = |i: usize| Expr::any(outs.iter().map(|o| x(&o[i])).collect());
    let count_w = top.selected_count.ty.width;
    let flags = Flags {
        bias_nonzero: m.wire("flags_bias_nonzero", Ty::BIT, any_of(0)),
        select_descent: m.wire("flags_select_descent", Ty::BIT, any_of(1)),
        selected_any: m.wire("flags_selected_any", Ty::BIT, any_of(2)),
        selected_count: m.wire(
            "flags_selected_count",
            Ty::u(count_w),
            outs.iter()
                .map(|o| Expr::zext(&o[3], w.budget, count_w))
                .reduce(|a, b| Expr::bin(BinOp::Add, a, b))
                .expect("at least one lane"),
        ),
    };
    let mux = m.reg("host_rdata_mux", Ty::u(w.host_data));
    let lane_last = &top.lane_chain[top.lane_chain.len() - 1].0;
    let arms = outs
        .iter()
        .enumerate()
        .map(|(l, o)| (vec![Expr::lit(lane_ty, l as i128)], vec![set(&mux, &o[4])]))
        .collect();
    m.process(Process::comb(vec![Stmt::Case(
        x(lane_last),
        arms,
        vec![set(&mux, Expr::lit(mux.ty, 0))],
    )]));
    m.assign(&Sig::named("host_rdata", mux.ty), &mux);
    flags
}

/// The `pre` the lanes share when they read P > 1 rows per clock: `max_rows` banks
/// `pre_g{g}_b{b}` of one row (row `g*P + b`) of every input, a row group `g` being the
/// P banks read together. Every clock each lane reads a different group (lane `l` reads
/// group `(j + l) mod G` at a slot's issue `j`), so each group's address is the one lane's
/// that asks for it (`pre_g{g}_ra`, an AND-OR over the lanes), and each lane's words are
/// its group's banks, chosen by the group it asked for as many clocks ago as a read
/// takes (a lane memory's latency: `ram_regs` deep, one compact). The host writes row
/// `r` of input `i` (address `i*max_rows + r`, `max_rows` a power of two) to bank
/// `(r / P, r % P)` at `i`, while idle.
fn shared_pre(m: &mut Module, c: &HwConfig, dp: &Datapath, w: &Widths, reads: &[[Sig; 3]]) {
    let deep = c.pipeline == Pipeline::Deep;
    let ram_regs = StageDepths::of(c).ram_regs;
    let (p, s) = (c.row_parallel, c.bank_bits());
    let groups = c.max_rows / p;
    let gb = groups.trailing_zeros();
    let abits = dp.f.activation.bits;
    let aty = Ty::u(abits);
    let depth = c.layer.inputs;
    let aw = bits_for(depth as u64);
    let lat = if deep { ram_regs } else { 1 };
    let r_ty = Ty::u(w.r);
    m.comment("The shared pre: max_rows banks of one row, a row group per lane per clock.");
    let mut chains = Vec::new();
    let mut late = Vec::new();
    for (l, [_, rg, _]) in reads.iter().enumerate() {
        let chain = m.reg_chain(&format!("lane{l}_pre_rg"), r_ty, x(rg), lat);
        late.push(chain[chain.len() - 1].0.clone());
        chains.extend(Module::chain_stmts(&chain));
    }
    m.process(Process::clocked(chains));
    let addr = Sig::named("host_addr", Ty::u(w.host_addr));
    let host_w = (!Expr::name("busy_now"))
        .and(Expr::name("host_we"))
        .and(Expr::name("host_sel").eq(Expr::dec(4, sel::PRE as i128)));
    // The input's bits of a host address (above the row's `s + gb`).
    let lo = s + gb;
    let hi = (lo + aw - 1).min(w.host_addr - 1);
    let waddr = Expr::zext(Expr::slice(&addr, hi, lo), hi + 1 - lo, aw);
    let wdata = Expr::slice(&Sig::named("host_wdata", Ty::u(w.host_data)), abits - 1, 0);
    let mut rds: Vec<Vec<Sig>> = Vec::new();
    for g in 0..groups {
        let ra = if reads.len() == 1 {
            x(&reads[0][0])
        } else {
            Expr::any(
                reads
                    .iter()
                    .map(|[ra, rg, _]| {
                        Expr::Repeat(aw, Box::new(x(rg).eq(Expr::lit(r_ty, g as i128)))).and(ra)
                    })
                    .collect(),
            )
        };
        let ra = m.wire_across(&format!("pre_g{g}_ra"), Ty::u(aw), ra);
        let mut row = Vec::new();
        for b in 0..p {
            let name = format!("pre_g{g}_b{b}");
            let mut cond = host_w
                .clone()
                .and(Expr::slice(&addr, s - 1, 0).eq(Expr::lit(Ty::u(s), b as i128)));
            if gb > 0 {
                cond = cond.and(Expr::slice(&addr, lo - 1, s).eq(Expr::lit(Ty::u(gb), g as i128)));
            }
            let writes = [(cond, waddr.clone(), wdata.clone())];
            let rd = if deep {
                let mem = Sig::named(&name, aty);
                let rd = m.comb(&format!("{name}_rd"), aty, None);
                for proc in blocks_of(m, c.family, &mem, &rd, depth, &ra, &writes, ram_regs - 2) {
                    m.process(proc);
                }
                rd
            } else {
                let mem = if c.family == lpn_cycle::Family::Ice40Up5k {
                    m.mem_block(&name, aty, depth)
                } else {
                    m.mem(&name, aty, depth)
                };
                let rd = m.reg(&format!("{name}_rd"), aty);
                let mut body = vec![set(&rd, Expr::index(&mem, &ra))];
                body.extend(write_chain(&mem, &writes));
                m.process(Process::clocked(body));
                rd
            };
            row.push(rd);
        }
        rds.push(row);
    }
    // Each lane's P words: the banks of the group it asked for `lat` clocks ago.
    for ([_, _, rd], g_late) in reads.iter().zip(&late) {
        let word = |g: usize| Expr::concat(rds[g].iter().rev().map(x).collect());
        let arms = (0..groups)
            .map(|g| (vec![Expr::lit(r_ty, g as i128)], vec![set(rd, word(g))]))
            .collect();
        m.process(Process::comb(vec![Stmt::Case(
            x(g_late),
            arms,
            vec![set(
                rd,
                Expr::Repeat(rd.ty.width, Box::new(Expr::bit(false))),
            )],
        )]));
    }
}

/// The control's clocked process: `start` latches the step's registers; each phase
/// issues its slots, drains, and moves on; the flags accumulate into the descent test.
fn control(c: &HwConfig, dp: &Datapath, w: &Widths, top: &Top, flags: &Flags) -> Process {
    let (k, uk) = (c.layer.k, c.slots_per_lane());
    let lit = |s: &Sig, v: i128| Expr::lit(s.ty, v);
    let phase_code_of = |p: Phase| Expr::dec(2, phase_code(p));
    let zero = |s: &Sig| set(s, Expr::lit(s.ty, 0));
    let off = |s: &Sig| set(s, Expr::bit(false));
    let add = |s: &Sig, v: Expr| set(s, Expr::bin(BinOp::Add, s, v));
    let mut body = Module::chain_stmts(&top.lane_chain);
    if let Some((step_sub, adv)) = &top.step {
        body.push(Stmt::Comment("Clock of the step.".into()));
        body.push(Stmt::If(
            Expr::name("rst").or(!x(&top.busy_now)).or(adv),
            vec![zero(step_sub)],
            vec![add(step_sub, lit(step_sub, 1))],
        ));
    }
    body.push(set(&top.issue_len, Expr::name("issue_len_next")));
    body.push(set(&top.phase_last, Expr::name("phase_last_next")));
    // The flags of an update start cleared.
    let cleared = || {
        vec![
            off(&top.descent),
            zero(&top.selected_count),
            off(&top.bias_nonzero),
            off(&top.select_descent),
            off(&top.selected_any),
        ]
    };
    // The issue counters restart with a phase.
    let restart = || {
        let mut s = Vec::new();
        if !top.derived {
            s.extend([zero(&top.iss_u), zero(&top.iss_k)]);
        }
        s.extend([zero(&top.iss_r), zero(&top.iss_a)]);
        if let Some((_, _, per_lane)) = &top.rows_groups {
            for (l, r) in per_lane.iter().enumerate() {
                s.push(set(r, lit(r, l as i128)));
            }
        }
        s
    };
    let mut reset = vec![
        set(&top.phase, phase_code_of(Phase::Idle)),
        zero(&top.cycle),
    ];
    reset.extend(cleared());
    let mut begin = vec![
        set(&top.phase, phase_code_of(Phase::Accumulate)),
        zero(&top.cycle),
    ];
    begin.extend(restart());
    let rows = Sig::named("rows", Ty::u(w.rows));
    let rows_low = if w.r == w.rows {
        x(&rows)
    } else {
        Expr::slice(&rows, w.r - 1, 0)
    };
    match &top.rows_groups {
        None => begin.extend([
            set(
                &top.groups_last,
                Expr::bin(BinOp::Sub, rows_low, lit(&top.groups_last, 1)),
            ),
            set(
                &top.acc_issue_len,
                Expr::bin(
                    BinOp::Mul,
                    Expr::zext(&rows, w.rows, w.t),
                    lit(&top.acc_issue_len, uk as i128),
                ),
            ),
        ]),
        // P rows per issue: the batch's last group `(rows - 1) / P`, whose last row is
        // `(rows - 1) % P`; `max(ceil(rows / P), lanes)` issues per slot (every lane a
        // group of its own every clock).
        Some((rows_last, tail, _)) => {
            let s = c.bank_bits();
            let rows_m1 = Sig::named("rows_minus_one", Ty::u(w.rows));
            // rows - 1 < max_rows: its bits above `s + w.r` are 0.
            let hi = (w.rows - 1).min(s + w.r - 1);
            let last = Expr::zext(Expr::slice(&rows_m1, hi, s), hi + 1 - s, w.r);
            let lanes_last = Expr::lit(Ty::u(w.r), c.lanes as i128 - 1);
            begin.push(set(rows_last, last.clone()));
            let last = if c.lanes > 1 {
                Expr::mux(
                    Expr::bin(BinOp::Gt, last.clone(), lanes_last.clone()),
                    last,
                    lanes_last,
                )
            } else {
                last
            };
            begin.push(set(&top.groups_last, last.clone()));
            begin.push(set(tail, Expr::slice(&rows_m1, s - 1, 0)));
            begin.push(set(
                &top.acc_issue_len,
                Expr::bin(
                    BinOp::Mul,
                    Expr::bin(
                        BinOp::Add,
                        Expr::zext(last, w.r, w.t),
                        Expr::lit(Ty::u(w.t), 1),
                    ),
                    lit(&top.acc_issue_len, uk as i128),
                ),
            ));
        }
    }
    begin.extend([
        set(&top.budget, Expr::name("budget")),
        set(&top.mode, Expr::name("mode")),
        set(&top.consolidate, Expr::name("consolidate")),
    ]);
    begin.extend(cleared());
    begin.push(rows_recip_rom(c, dp, w, &top.rows_recip));
    // A busy clock (shared: a step's last).
    let mut busy = vec![
        set(
            &top.bias_nonzero,
            x(&top.bias_nonzero).or(&flags.bias_nonzero),
        ),
        set(
            &top.select_descent,
            x(&top.select_descent).or(&flags.select_descent),
        ),
        set(
            &top.selected_any,
            x(&top.selected_any).or(&flags.selected_any),
        ),
        add(&top.selected_count, x(&flags.selected_count)),
    ];
    let mut phase_end = vec![zero(&top.cycle)];
    phase_end.extend(restart());
    phase_end.push(Stmt::Comment(
        "The descent test: D < 0 iff a selected slot has a non-zero signal or a".into(),
    ));
    phase_end.push(Stmt::Comment(
        "bias direction is non-zero (flags of this very cycle included).".into(),
    ));
    phase_end.push(Stmt::when(
        x(&top.phase).eq(phase_code_of(Phase::Select)),
        vec![set(
            &top.descent,
            x(&top.select_descent)
                .or(&flags.select_descent)
                .or(&top.bias_nonzero)
                .or(&flags.bias_nonzero),
        )],
    ));
    phase_end.push(set(
        &top.phase,
        Expr::mux(
            x(&top.phase).eq(phase_code_of(Phase::Apply)),
            phase_code_of(Phase::Idle),
            Expr::bin(BinOp::Add, &top.phase, Expr::dec(2, 1)),
        ),
    ));
    // The next slot: the next row of ACCUMULATE's slot, else the next slot (`u`, `k`).
    let mut next_slot = vec![zero(&top.iss_r), add(&top.iss_a, lit(&top.iss_a, 1))];
    if !top.derived {
        next_slot.push(Stmt::If(
            x(&top.iss_k).eq(lit(&top.iss_k, k as i128 - 1)),
            vec![zero(&top.iss_k), add(&top.iss_u, lit(&top.iss_u, 1))],
            vec![add(&top.iss_k, lit(&top.iss_k, 1))],
        ));
    }
    let mut on_issue = vec![Stmt::If(
        Expr::bin(BinOp::Ne, &top.phase, phase_code_of(Phase::Accumulate))
            .or(x(&top.iss_r).eq(&top.groups_last)),
        next_slot,
        vec![add(&top.iss_r, lit(&top.iss_r, 1))],
    )];
    // Each lane's row group wraps at the last: a slot's issues visit every group once,
    // each lane starting at its own.
    if let Some((_, _, per_lane)) = &top.rows_groups {
        for r in per_lane {
            on_issue.push(Stmt::when(
                x(&top.phase).eq(phase_code_of(Phase::Accumulate)),
                vec![Stmt::If(
                    x(r).eq(&top.groups_last),
                    vec![zero(r)],
                    vec![add(r, lit(r, 1))],
                )],
            ));
        }
    }
    let issue = Stmt::when(&top.iss_valid, on_issue);
    busy.push(Stmt::If(
        x(&top.cycle).eq(&top.phase_last),
        phase_end,
        vec![add(&top.cycle, lit(&top.cycle, 1)), issue],
    ));
    let busy = match &top.step {
        Some((_, adv)) => vec![Stmt::when(adv, busy)],
        None => busy,
    };
    body.push(Stmt::If(
        Expr::name("rst"),
        reset,
        vec![Stmt::If(
            x(&top.phase).eq(phase_code_of(Phase::Idle)),
            vec![Stmt::when(Expr::name("start"), begin)],
            busy,
        )],
    ));
    Process::clocked(body)
}

/// The `rows_recip` ROM, from the model's function: `rows_recip <= 1 / rows`.
fn rows_recip_rom(c: &HwConfig, dp: &Datapath, w: &Widths, rows_recip: &Sig) -> Stmt {
    let arms = (1..=c.max_rows)
        .map(|r| {
            (
                vec![Expr::lit(Ty::u(w.rows), r as i128)],
                vec![set(
                    rows_recip,
                    Expr::lit(rows_recip.ty, dp.rows_recip(r) as i128),
                )],
            )
        })
        .collect();
    Stmt::Case(
        Expr::name("rows"),
        arms,
        vec![set(rows_recip, Expr::lit(rows_recip.ty, 0))],
    )
}
