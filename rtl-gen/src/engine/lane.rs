//! `lpn_lane`: one lane's memories and the three phase pipelines, stage for stage as in
//! `lpn_cycle::engine`. [`Lane`] is what every stage builder reads and extends; the
//! phases are built in [`super::accumulate`], [`super::select`] and [`super::apply`],
//! the memory ports and the host read here.

use lpn_cycle::format::bits_for;

use super::accumulate::{accumulate, Accumulated};
use super::apply::{apply, Applied};
use super::memory::{blocks_of, write_chain, write_port, Block};
use super::select::{select, Selected};
use super::*;

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

/// Sizes and field positions every stage of a lane reads.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shape {
    /// K as a bit count (slot masks are K bits).
    pub kk: u32,
    /// Bits of a valid-slot count (0..=K).
    pub valid_w: u32,
    /// Bits of a `syn` word.
    pub syn_w: u32,
    /// Whether `syn` stores the short trail and the consolidation state.
    pub stores_s: bool,
    /// See `stores_s`.
    pub stores_c: bool,
    /// Weight and trail bits.
    pub wb: u32,
    /// See `wb`.
    pub tb: u32,
    /// Lowest bits of the long trail, the short trail and the consolidation state in
    /// `syn` (the word's width for a field not stored).
    pub p_lo: u32,
    /// See `p_lo`.
    pub s_lo: u32,
    /// See `p_lo`.
    pub c_lo: u32,
    /// The bit above the long trail.
    pub long_end: u32,
}

impl Shape {
    fn of(c: &HwConfig, dp: &Datapath) -> Shape {
        let k = c.layer.k;
        let syn_w = c.syn_bits();
        // Field positions in the syn word: w, P, then S and C when stored.
        let lay = SynLayout::new(c);
        Shape {
            kk: k as u32,
            valid_w: bits_for(k as u64 + 1),
            syn_w,
            stores_s: c.stores_short(),
            stores_c: c.stores_consolidation(),
            wb: dp.f.weight.bits,
            tb: dp.f.trail.bits,
            p_lo: lay.long.lo,
            s_lo: lay.short.map_or(syn_w, |x| x.lo),
            c_lo: lay.consolidation.map_or(syn_w, |x| x.lo),
            long_end: lay.long.lo + lay.long.bits,
        }
    }

    /// A per-output `mask` word: `{valid_count, mask}`.
    pub fn mask_ty(&self) -> Ty {
        Ty::u(self.kk + self.valid_w)
    }
}

/// The lane's ports and the per-update control (invariant during a phase).
pub(super) struct Control {
    pub iss_u: Sig,
    pub iss_k: Sig,
    pub iss_r: Sig,
    pub iss_a: Sig,
    /// The row group a slot's ACCUMULATE issues end on (`iss_r` counts rows when
    /// `row_parallel` is 1: the port `rows_last`; else groups of P rows, the lane's own
    /// turn: `group_last`).
    pub groups_last: Sig,
    /// With P > 1, the rows a group holds (see [`Groups`]).
    pub groups: Option<Groups>,
    pub rows_recip: Sig,
    pub budget: Sig,
    pub mode: Sig,
    pub consolidate: Sig,
    pub descent: Sig,
    pub accepted_any: Sig,
    pub host_we: Sig,
    pub host_sel: Sig,
    pub host_addr: Sig,
    pub host_wdata: Sig,
    pub host_rdata: Sig,
    pub flag_bias_nonzero: Sig,
    pub flag_select_descent: Sig,
    pub flag_selected_any: Sig,
    pub flag_selected_count: Sig,
}

/// With `row_parallel` P > 1: which row groups a lane reads and which rows exist. The
/// lanes share `pre` and take its groups in turn, each starting a slot at its own.
pub(super) struct Groups {
    /// The group a slot's issues start on (`group_first`: the lane's number).
    pub first: Sig,
    /// The last group holding a row of the batch (`rows_group_last = (rows - 1) / P`)
    /// and its last row (`rows_tail = (rows - 1) % P`); later groups are empty.
    pub rows_last: Sig,
    pub tail: Sig,
    /// The shared `pre`'s words of the group read (`pre_rd`, P words, bank 0 lowest).
    pub pre_rd: Sig,
    /// The read's input and group, to the shared `pre` (`pre_ra`, `pre_rg`).
    pub pre_ra: Sig,
    pub pre_rg: Sig,
}

/// A memory and its read register (`<memory>_rd`).
pub(super) struct Memory {
    pub mem: Sig,
    pub rd: Sig,
    pub depth: usize,
}

/// The lane's memories (`lpn_cycle`'s memory plan).
pub(super) struct Memories {
    pub syn: Memory,
    pub scratch: Memory,
    pub nbr: Memory,
    /// `row_parallel` banks each (bank `row % P`; one memory named `pre` / `post_err`
    /// when P is 1).
    pub pre: Vec<Memory>,
    pub post_err: Vec<Memory>,
    pub mask: Memory,
    pub recip: Memory,
    pub maxs: Memory,
    pub bdir: Memory,
    pub sel: Memory,
    pub lacc: Memory,
    pub bias: Memory,
}

/// A lane under construction: what every stage builder reads, the module it adds to,
/// and the one clocked process of the datapath (`seq`, with the valid bits `rst` clears).
pub(super) struct Lane<'a> {
    pub c: &'a HwConfig,
    pub m: Module,
    pub e: Emit<'a>,
    pub w: Widths,
    pub dd: StageDepths,
    pub shape: Shape,
    /// Shared pipeline (stages step on `adv`; products on shared multipliers).
    pub shared: bool,
    /// Shared: `syn`, `mask` and `gate_recip` are read late instead of carried.
    pub late: bool,
    /// Clocks from a memory's read address to its `_rd` value.
    pub ram_reg: u32,
    pub ctl: Control,
    pub mem: Memories,
    /// The datapath's clocked statements.
    pub seq: Vec<Stmt>,
    /// Its reset statements.
    pub rst: Vec<Stmt>,
}

/// The lane module with at most `units` shared multipliers (shared pipeline).
fn lane_with(c: &HwConfig, dp: &Datapath, header: &[String], units: usize) -> Module {
    let (mut l, step_slot) = lane_frame(c, dp, header, units);
    let acc = accumulate(&mut l);
    let sel = select(&mut l);
    let app = apply(&mut l);
    let blocks = memory_ports(&mut l, &acc, &sel, &app);
    let shared = l.shared;
    let mut m = l.m;
    if let Some(slot) = &step_slot {
        crate::shared::emit_units(&mut m, slot, step_sub_bits(c));
    }
    let when = if shared {
        "once per step (on `adv`)"
    } else {
        "one clock"
    };
    m.process(Process::Clocked {
        comment: Some(format!(
            "The datapath: every stage register and memory write, {when}."
        )),
        reset: Some(("rst".into(), l.rst)),
        enable: shared.then(|| Expr::name("adv")),
        body: l.seq,
    });
    m.comment("Memory ports: one read and one write per memory.");
    for b in blocks {
        match b {
            Block::Process(p) => m.process(p),
            Block::Instance(i) => m.instance(i),
        }
    }
    m
}

/// The lane's ports, control and memories, before any stage: the [`Lane`] the stage
/// builders extend, and (shared pipeline) `{phase, step_sub}`, the multipliers' slot.
fn lane_frame<'a>(
    c: &'a HwConfig,
    dp: &'a Datapath,
    header: &[String],
    units: usize,
) -> (Lane<'a>, Option<Sig>) {
    let w = Widths::new(c, dp);
    let f = &dp.f;
    let mut m = Module::new("lpn_lane", header);
    let inp = |m: &mut Module, n: &str, t: Ty| m.port(Dir::Input, n, t);
    inp(&mut m, "clk", Ty::BIT);
    inp(&mut m, "rst", Ty::BIT);
    inp(&mut m, "phase", Ty::u(2));
    inp(&mut m, "iss_valid", Ty::BIT);
    let iss_u = inp(&mut m, "iss_u", Ty::u(w.u));
    let iss_k = inp(&mut m, "iss_k", Ty::u(w.k));
    let iss_r = inp(&mut m, "iss_r", Ty::u(w.r));
    let iss_a = inp(&mut m, "iss_a", Ty::u(w.a));
    let (groups_last, groups) = if c.row_parallel == 1 {
        (inp(&mut m, "rows_last", Ty::u(w.r)), None)
    } else {
        let first = inp(&mut m, "group_first", Ty::u(w.r));
        let last = inp(&mut m, "group_last", Ty::u(w.r));
        let rows_last = inp(&mut m, "rows_group_last", Ty::u(w.r));
        let tail = inp(&mut m, "rows_tail", Ty::u(c.bank_bits()));
        let abits = f.activation.bits * c.row_parallel as u32;
        let pre_rd = inp(&mut m, "pre_rd", Ty::u(abits));
        let pre_ra = m.port(Dir::Output, "pre_ra", Ty::u(w.nbr));
        let pre_rg = m.port(Dir::Output, "pre_rg", Ty::u(w.r));
        let g = Groups {
            first,
            rows_last,
            tail,
            pre_rd,
            pre_ra,
            pre_rg,
        };
        (last, Some(g))
    };
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
    let out = |m: &mut Module, n: &str, t: Ty| m.port(Dir::Output, n, t);
    let host_rdata = out(&mut m, "host_rdata", Ty::u(w.host_data));
    let flag_bias_nonzero = out(&mut m, "flag_bias_nonzero", Ty::BIT);
    let flag_select_descent = out(&mut m, "flag_select_descent", Ty::BIT);
    let flag_selected_any = out(&mut m, "flag_selected_any", Ty::BIT);
    let flag_selected_count = out(&mut m, "flag_selected_count", Ty::u(w.budget));
    // Shared pipeline: the stages step on `adv` (the last clock of every step of
    // `step_clocks`); `step_sub` counts the clocks of a step, for the multipliers.
    let shared = c.pipeline == Pipeline::Shared;
    let sub_bits = step_sub_bits(c);
    let step_slot = shared.then(|| {
        inp(&mut m, "adv", Ty::BIT);
        inp(&mut m, "step_sub", Ty::u(sub_bits));
        m.wire_across(
            "step_slot",
            Ty::u(2 + sub_bits),
            Expr::Concat(vec![Expr::name("phase"), Expr::name("step_sub")]),
        )
    });
    // Per-update control does not change during a phase: it meets any clock of a stage.
    let groups_last = m.invariant(&groups_last);
    let groups = groups.map(|g| Groups {
        first: m.invariant(&g.first),
        rows_last: m.invariant(&g.rows_last),
        tail: m.invariant(&g.tail),
        ..g
    });
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
    let shape = Shape::of(c, dp);
    let mem = memories(&mut m, c, dp, &w, shape, ram_reg);
    let ctl = Control {
        iss_u,
        iss_k,
        iss_r,
        iss_a,
        groups_last,
        groups,
        rows_recip,
        budget,
        mode,
        consolidate,
        descent,
        accepted_any,
        host_we,
        host_sel,
        host_addr,
        host_wdata,
        host_rdata,
        flag_bias_nonzero,
        flag_select_descent,
        flag_selected_any,
        flag_selected_count,
    };
    let lane = Lane {
        c,
        m,
        e,
        w,
        dd,
        shape,
        shared,
        late: shared,
        ram_reg,
        ctl,
        mem,
        seq: Vec::new(),
        rst: Vec::new(),
    };
    (lane, step_slot)
}

/// The lane's memories and their read registers (deep: the blocks are declared with
/// the memory ports).
fn memories(
    m: &mut Module,
    c: &HwConfig,
    dp: &Datapath,
    w: &Widths,
    shape: Shape,
    ram_reg: u32,
) -> Memories {
    let f = &dp.f;
    let deep = c.pipeline == Pipeline::Deep;
    let (k, kk, u_count, max_rows) = (c.layer.k, shape.kk, c.outputs_per_lane(), c.max_rows);
    // On the iCE40 every memory the plan puts in block RAM is marked so: logic cells are
    // what the UP5K runs out of, not EBR, and Yosys would otherwise build a memory of a
    // few words (the per-output memories of a layer with few outputs) from flip-flops
    // and multiplexers (the regression board config: 5,594 logic cells so, 5,266 in
    // EBR). SPRAM memories take their own port.
    let mem = |m: &mut Module, name: &str, ty: Ty, depth: usize| {
        if deep {
            Sig::named(name, ty)
        } else if c.family == lpn_cycle::Family::Ice40Up5k {
            m.mem_block(name, ty, depth)
        } else {
            m.mem(name, ty, depth)
        }
    };
    let slots = u_count * k;
    let banks = c.row_parallel;
    let bank_rows = max_rows / banks;
    let banked = |name: &str| -> Vec<String> {
        if banks == 1 {
            vec![name.to_string()]
        } else {
            (0..banks).map(|b| format!("{name}_b{b}")).collect()
        }
    };
    let mut plan: Vec<(String, Ty, usize)> = vec![
        ("syn".into(), Ty::u(shape.syn_w), slots),
        (
            "scratch".into(),
            Ty::u(f.signal.bits + f.cofire.bits),
            slots,
        ),
        ("nbr".into(), Ty::u(w.nbr + kk), slots),
    ];
    // With P > 1 the lanes share `pre` (the engine's top holds it).
    let lane_pre = if c.shares_pre() { 0 } else { banks };
    for name in banked("pre").into_iter().take(lane_pre) {
        plan.push((name, Ty::u(f.activation.bits), bank_rows * c.layer.inputs));
    }
    for name in banked("post_err") {
        plan.push((
            name,
            Ty::u(f.activation.bits + f.error.bits),
            bank_rows * u_count,
        ));
    }
    plan.extend(
        [
            ("mask", shape.mask_ty(), u_count),
            ("gate_recip", Ty::u(f.gate_recip.bits), u_count),
            ("max_score", Ty::u(f.score.bits), u_count),
            ("bias_dir", Ty::u(f.signal.bits), u_count),
            ("selected", Ty::u(kk), u_count),
            ("last_accepted", Ty::u(kk), u_count),
            ("bias", Ty::u(f.weight.bits), u_count),
        ]
        .map(|(name, ty, depth)| (name.to_string(), ty, depth)),
    );
    let mems: Vec<(Sig, usize)> = plan
        .iter()
        .map(|(name, ty, depth)| (mem(m, name, *ty, *depth), *depth))
        .collect();
    // One read port and one write port per memory, as block RAM has: the read address is
    // chosen by phase, and the read register `<memory>_rd` is the stage register of the
    // stage after the one that presented the address (deep: see `ram_reg`).
    let mut all = mems.into_iter().map(|(mem, depth)| {
        let rd = if deep {
            m.comb(&format!("{}_rd", mem.name), mem.ty, Some(ram_reg - 1))
        } else {
            m.reg(&format!("{}_rd", mem.name), mem.ty)
        };
        Memory { mem, rd, depth }
    });
    let mut next = || all.next().expect("a memory for every entry of the plan");
    Memories {
        syn: next(),
        scratch: next(),
        nbr: next(),
        pre: (0..lane_pre).map(|_| next()).collect(),
        post_err: (0..banks).map(|_| next()).collect(),
        mask: next(),
        recip: next(),
        maxs: next(),
        bdir: next(),
        sel: next(),
        lacc: next(),
        bias: next(),
    }
}

/// The memory ports (one read and one write per memory; the read address chosen by
/// phase, the host's while idle) and the host read, as the blocks that follow the
/// datapath's clocked process.
fn memory_ports(l: &mut Lane, acc: &Accumulated, sel: &Selected, app: &Applied) -> Vec<Block> {
    let (c, w, f, shape) = (l.c, l.w, &l.e.dp.f, l.shape);
    let (ctl, mem) = (&l.ctl, &l.mem);
    let m = &mut l.m;
    let dw = w.host_data;
    let idle = in_phase(Phase::Idle);
    let host_w = |id: u64| {
        idle.clone()
            .and(&ctl.host_we)
            .and(x(&ctl.host_sel).eq(Expr::dec(4, id as i128)))
    };
    let fit = |width: u32| -> Expr {
        if width == dw {
            x(&ctl.host_wdata)
        } else {
            Expr::slice(&ctl.host_wdata, width - 1, 0)
        }
    };
    let haddr = |depth: usize| -> Expr {
        let bits = bits_for(depth as u64);
        if bits == w.host_addr {
            x(&ctl.host_addr)
        } else {
            Expr::slice(&ctl.host_addr, bits - 1, 0)
        }
    };
    // Accumulate's address, the host's while idle, else the issued slot's.
    let by_phase = |acc: &Sig, idle_addr: &Expr, other: &Sig| {
        Expr::mux(
            in_phase(Phase::Accumulate),
            acc,
            Expr::mux(idle.clone(), idle_addr.clone(), other),
        )
    };
    let host_or = |host: &Expr, other: &Sig| Expr::mux(idle.clone(), host.clone(), other);
    let hs = haddr(mem.syn.depth);
    let ho = haddr(mem.mask.depth);
    let (acc_a, acc_u) = if l.late {
        (&acc.sum_a, &acc.sum_u)
    } else {
        (&acc.fetch_a, &acc.fetch_u)
    };
    let (iss_a, iss_u) = (&ctl.iss_a, &ctl.iss_u);
    let (score, wr, div) = (&acc.score, &app.write, &app.divider);
    // (memory, read address, writes as (condition, address, data))
    type Port<'a> = (&'a Memory, Expr, Vec<(Expr, Expr, Expr)>);
    // A host word at `input*max_rows + row` (`pre`) or `u*max_rows + row` (`post_err`)
    // goes to bank `row % P` (the address's low bits), at the address's high bits.
    let s = c.bank_bits();
    let bank_writes = |id: u64, b: usize, depth: usize, width: u32| -> Vec<(Expr, Expr, Expr)> {
        if s == 0 {
            return vec![(host_w(id), haddr(depth), fit(width))];
        }
        let low = Expr::slice(&ctl.host_addr, s - 1, 0);
        let cond = host_w(id).and(low.eq(Expr::lit(Ty::u(s), b as i128)));
        let bits = bits_for(depth as u64);
        vec![(
            cond,
            Expr::slice(&ctl.host_addr, s + bits - 1, s),
            fit(width),
        )]
    };
    let mut ports: Vec<Port> = vec![
        (
            &mem.syn,
            by_phase(acc_a, &hs, iss_a),
            vec![
                (x(&wr.valid), x(&wr.a), app.syn_word.clone()),
                (host_w(sel::SYN), hs.clone(), fit(shape.syn_w)),
            ],
        ),
        (
            &mem.scratch,
            x(iss_a),
            vec![(x(&score.valid), x(&score.a), score.scratch_word.clone())],
        ),
        (
            &mem.nbr,
            host_or(&hs, iss_a),
            vec![(host_w(sel::NBR), hs.clone(), fit(w.nbr + shape.kk))],
        ),
    ];
    for (b, bank) in mem.pre.iter().enumerate() {
        let w = bank_writes(sel::PRE, b, bank.depth, f.activation.bits);
        let ra = acc
            .pre_addr
            .as_ref()
            .expect("a lane's own pre has its address");
        ports.push((bank, x(ra), w));
    }
    for (b, bank) in mem.post_err.iter().enumerate() {
        let width = f.activation.bits + f.error.bits;
        let w = bank_writes(sel::POST_ERR, b, bank.depth, width);
        ports.push((bank, x(&acc.post_err_addr), w));
    }
    ports.extend([
        (
            &mem.mask,
            by_phase(acc_u, &ho, iss_u),
            vec![(host_w(sel::MASK), ho.clone(), fit(shape.mask_ty().width))],
        ),
        (
            &mem.recip,
            host_or(&ho, if l.late { &acc.mean_u } else { &acc.fetch_u }),
            vec![
                (div.done.clone(), div.done_u.clone(), div.recip.clone()),
                (host_w(sel::RECIP), ho.clone(), fit(f.gate_recip.bits)),
            ],
        ),
        (
            &mem.maxs,
            x(iss_u),
            vec![(score.per_output.clone(), x(&score.u), x(&score.max_score))],
        ),
        (
            &mem.bdir,
            x(iss_u),
            vec![(
                score.per_output.clone(),
                x(&score.u),
                Expr::bits_of(&score.bias_dir),
            )],
        ),
        (
            &mem.sel,
            host_or(&ho, iss_u),
            vec![(x(&sel.valid), x(&sel.u), x(&sel.picked))],
        ),
        (
            &mem.lacc,
            host_or(&ho, iss_u),
            vec![
                (app.per_output.clone(), x(&wr.u), x(&app.accepted_bits)),
                (host_w(sel::LAST_ACCEPTED), ho.clone(), fit(shape.kk)),
            ],
        ),
        (
            &mem.bias,
            host_or(&ho, iss_u),
            vec![
                (app.per_output.clone(), x(&wr.u), Expr::bits_of(&wr.bias)),
                (host_w(sel::BIAS), ho.clone(), fit(f.weight.bits)),
            ],
        ),
    ]);
    // Without a `pre` of its own the lane may not read the host address's top bits
    // (sized for `pre`'s `max_rows * inputs` words).
    if c.shares_pre() {
        let banked = mem.post_err.iter().map(|b| s + bits_for(b.depth as u64));
        let own = [&mem.syn, &mem.mask].map(|m| bits_for(m.depth as u64));
        let used = banked.chain(own).max().unwrap_or(1);
        if used < w.host_addr {
            m.sink(&ctl.host_addr, used, w.host_addr - used);
        }
    }
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
    let deep = c.pipeline == Pipeline::Deep;
    let adv = l.shared.then(|| Expr::name("adv"));
    let mut blocks: Vec<Block> = Vec::new();
    for (port, ra, writes) in ports {
        let (mem, rd, depth) = (&port.mem, &port.rd, port.depth);
        let aw = bits_for(depth as u64);
        let ra = m.wire_across(&format!("{}_ra", mem.name), Ty::u(aw), ra);
        if deep {
            let procs = blocks_of(m, c.family, mem, rd, depth, &ra, &writes, l.ram_reg - 2);
            blocks.extend(procs.into_iter().map(Block::Process));
        } else if on_spram(&mem.name) {
            blocks.extend(spram_port(m, mem, rd, &ra, &writes, adv.clone()));
        } else {
            let mut body = vec![set(rd, Expr::index(mem, &ra))];
            body.extend(write_chain(mem, &writes));
            blocks.push(Block::Process(Process::Clocked {
                comment: None,
                reset: None,
                enable: adv.clone(),
                body,
            }));
        }
    }
    blocks.extend(host_read(l).into_iter().map(Block::Process));
    blocks
}

/// A memory on a single-port SPRAM (`lpn_spram`): never read and written in the same
/// cycle (writes happen in another phase or while idle), so one address does.
fn spram_port(
    m: &mut Module,
    mem: &Sig,
    rd: &Sig,
    ra: &Sig,
    writes: &[(Expr, Expr, Expr)],
    adv: Option<Expr>,
) -> Vec<Block> {
    let aw = ra.ty.width;
    let idle = (x(ra), Expr::lit(Ty::u(mem.ty.width), 0));
    let (any, waddr, wdata) = write_port(writes, Some(idle));
    let we = m.wire_across(&format!("{}_we", mem.name), Ty::BIT, any);
    let addr = m.wire_across(&format!("{}_addr", mem.name), Ty::u(aw), waddr);
    let wd = m.wire_across(&format!("{}_wdata", mem.name), mem.ty, wdata);
    let out = m.net(&format!("{}_rdata", mem.name), mem.ty);
    vec![
        Block::Instance(Instance {
            module: "lpn_spram".into(),
            name: format!("{}_spram", mem.name),
            params: vec![
                ("WIDTH".into(), Expr::int(mem.ty.width.into())),
                ("ADDR_BITS".into(), Expr::int(aw.into())),
            ],
            ports: vec![
                ("clk".into(), Expr::name("clk")),
                ("en".into(), adv.unwrap_or_else(|| Expr::bit(true))),
                ("addr".into(), x(&addr)),
                ("we".into(), x(&we)),
                ("wdata".into(), x(&wd)),
                ("rdata".into(), x(&out)),
            ],
        }),
        Block::Process(Process::comb(vec![set(rd, &out)])),
    ]
}

/// Host reads: the read register of the memory the host selected a cycle ago; deep
/// (`StageDepths::host_read`): `<memory>_rd`, `ram_regs` clocks after the address,
/// and then the selected word registered.
fn host_read(l: &mut Lane) -> Vec<Process> {
    let (ctl, mem) = (&l.ctl, &l.mem);
    let m = &mut l.m;
    let dw = l.w.host_data;
    let chain = m.reg_chain("host_sel", Ty::u(4), &ctl.host_sel, l.ram_reg.max(1));
    let reads = [
        (sel::SYN, &mem.syn.rd),
        (sel::NBR, &mem.nbr.rd),
        (sel::MASK, &mem.mask.rd),
        (sel::RECIP, &mem.recip.rd),
        (sel::BIAS, &mem.bias.rd),
        (sel::LAST_ACCEPTED, &mem.lacc.rd),
        (sel::SELECTED, &mem.sel.rd),
    ];
    let mut later: Vec<Process> = chain[1..]
        .iter()
        .map(|(q, from)| Process::clocked(vec![set(q, from.clone())]))
        .collect();
    let mux_sel = &chain[chain.len() - 1].0;
    let mux = m.reg("host_rdata_mux", Ty::u(dw));
    let arms = reads
        .iter()
        .map(|(id, rd)| {
            (
                vec![Expr::dec(4, *id as i128)],
                vec![set(&mux, Expr::zext(*rd, rd.ty.width, dw))],
            )
        })
        .collect();
    let rmux = Process::comb(vec![Stmt::Case(
        x(mux_sel),
        arms,
        vec![set(&mux, Expr::lit(Ty::u(dw), 0))],
    )]);
    if l.dd.host_read() == 1 {
        m.assign(&ctl.host_rdata, &mux);
    } else {
        let q = m.reg("host_rdata_q", Ty::u(dw));
        later.push(Process::clocked(vec![set(&q, &mux)]));
        m.assign(&ctl.host_rdata, &q);
    }
    let (q0, from0) = &chain[0];
    let mut out = vec![Process::clocked(vec![set(q0, from0.clone())]), rmux];
    out.extend(later);
    out
}
