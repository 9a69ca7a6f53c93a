//! The lane's memories: one read and one write port each, as block RAM has; in the
//! deep pipeline built from single blocks with a late write and a bypass.

use lpn_cycle::format::bits_for;

use super::*;

/// A memory port's block in a lane: a process, or an SPRAM instance.
pub(super) enum Block {
    Process(Process),
    Instance(Instance),
}

/// A memory's writers by priority as `if ... else if ...` statements: the first whose
/// condition holds writes its word.
pub(super) fn write_chain(mem: &Sig, writes: &[(Expr, Expr, Expr)]) -> Vec<Stmt> {
    let mut chain: Vec<Stmt> = Vec::new();
    for (cond, addr, data) in writes.iter().rev() {
        let write = Stmt::Set(Lhs::Word(mem.name.clone(), addr.clone()), data.clone());
        chain = vec![Stmt::If(cond.clone(), vec![write], chain)];
    }
    chain
}

/// A memory's writers (condition, address, data) merged into one write port by
/// priority (the first whose condition holds): the write enable (any condition), and
/// the address and data multiplexers. `idle` is what they carry when no writer writes;
/// `None` leaves the last writer's there (a port whose address and data do not matter
/// while it does not write).
pub(super) fn write_port(
    writes: &[(Expr, Expr, Expr)],
    idle: Option<(Expr, Expr)>,
) -> (Expr, Expr, Expr) {
    let any = Expr::any(writes.iter().map(|(cond, _, _)| cond.clone()).collect());
    let (rest, (mut addr, mut data)) = match idle {
        Some(idle) => (writes, idle),
        None => {
            let ((_, a, d), rest) = writes.split_last().expect("a memory has a writer");
            (rest, (a.clone(), d.clone()))
        }
    };
    for (cond, a, d) in rest.iter().rev() {
        addr = Expr::mux(cond.clone(), a.clone(), addr);
        data = Expr::mux(cond.clone(), d.clone(), data);
    }
    (any, addr, data)
}

/// One memory of the deep pipeline on its own (`lpn_memory`: `depth` words of `width`
/// bits, two writers by priority, `we0`/`wa0`/`wd0` before `we1`/`wa1`/`wd1`, one read
/// address `ra`), as the lane builds each of its memories (`blocks_of` with `after`
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
        writes.push((x(&we), x(&wa), x(&wd)));
    }
    let ra = inp(&mut m, "ra", Ty::u(aw));
    let mem = Sig::named("mem", Ty::u(width));
    let word = m.comb("mem_rd", Ty::u(width), None);
    for p in blocks_of(&mut m, family, &mem, &word, depth, &ra, &writes, after) {
        m.process(p);
    }
    let rd = m.port(Dir::Output, "rd", Ty::u(width));
    m.assign(&rd, &word);
    m
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
pub(super) fn blocks_of(
    m: &mut Module,
    family: lpn_cycle::Family,
    mem: &Sig,
    rd: &Sig,
    depth: usize,
    ra: &Sig,
    writes: &[(Expr, Expr, Expr)],
    after: u32,
) -> Vec<Process> {
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
    let low = |a: &Sig| {
        if lo_w == aw {
            x(a)
        } else {
            Expr::slice(a, lo_w - 1, 0)
        }
    };
    let high = |a: &Sig| Expr::slice(a, aw - 1, lo_w);
    let mut out = Vec::new();
    // Write ports as wires, so that their address and data can be sliced.
    let ports: Vec<(Expr, Expr, Expr)> = writes
        .iter()
        .enumerate()
        .map(|(i, (cond, addr, data))| {
            let a = m.wire_across(&format!("{}_wa{i}", mem.name), Ty::u(aw), addr.clone());
            let d = m.wire_across(&format!("{}_wd{i}", mem.name), mem.ty, data.clone());
            (cond.clone(), x(&a), x(&d))
        })
        .collect();
    let n = &mem.name;
    let (any, wa_sel, wd_sel) = write_port(&ports, None);
    // The read address, the late write port and the bypass (see above).
    let ra_q = m.reg(&format!("{n}_ra_q"), Ty::u(aw));
    let we = m.reg_chain(&format!("{n}_we"), Ty::BIT, any, 2);
    let wa = m.reg_chain(&format!("{n}_wa"), Ty::u(aw), wa_sel, 2);
    let wd = m.reg_chain(&format!("{n}_wd"), mem.ty, wd_sel, 2);
    let (we2, wa2, wd2) = (&we[1].0, &wa[1].0, &wd[1].0);
    let hit = m.reg(&format!("{n}_hit"), Ty::BIT);
    let byp = m.reg(&format!("{n}_byp"), mem.ty);
    let hits = m.reg_chain(&format!("{n}_hit"), Ty::BIT, &hit, after);
    let byps = m.reg_chain(&format!("{n}_byp"), mem.ty, &byp, after);
    let mut body = vec![
        set(&ra_q, ra),
        set(&hit, x(we2).and(x(wa2).eq(&ra_q))),
        set(&byp, wd2),
    ];
    for chain in [&we, &wa, &wd, &hits, &byps] {
        body.extend(Module::chain_stmts(chain));
    }
    out.push(Process::clocked(body));
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
            let qs = m.reg_chain(&name, Ty::u(sw), &brd, after);
            let here = if banks > 1 {
                x(we2).and(high(wa2).eq(Expr::lit(Ty::u(aw - lo_w), b as i128)))
            } else {
                x(we2)
            };
            let part = if sw == width {
                x(wd2)
            } else {
                Expr::slice(wd2, lo + sw - 1, lo)
            };
            let mut body = vec![
                set(
                    &brd,
                    Expr::Index {
                        of: block.name.clone(),
                        at: Box::new(low(&ra_q)),
                    },
                ),
                Stmt::when(
                    here,
                    vec![Stmt::Set(Lhs::Word(block.name.clone(), low(wa2)), part)],
                ),
            ];
            body.extend(Module::chain_stmts(&qs));
            out.push(Process::clocked(body));
            parts.push(x(&qs[qs.len() - 1].0));
        }
        parts.reverse();
        bank_words.push(Expr::concat(parts));
    }
    let (hit_last, byp_last) = (&hits[hits.len() - 1].0, &byps[byps.len() - 1].0);
    if banks == 1 {
        out.push(Process::comb(vec![set(
            rd,
            Expr::mux(hit_last, byp_last, bank_words.remove(0)),
        )]));
    } else {
        // The bank address, delayed as long as the data: the block's read register and
        // the `after` behind it.
        let bt = Ty::u(aw - lo_w);
        let bank = m.reg_chain(&format!("{n}_bank"), bt, high(&ra_q), after + 1);
        out.push(Process::clocked(Module::chain_stmts(&bank)));
        let arms = bank_words
            .into_iter()
            .enumerate()
            .map(|(b, word)| (vec![Expr::lit(bt, b as i128)], vec![set(rd, word)]))
            .collect();
        out.push(Process::comb(vec![Stmt::If(
            x(hit_last),
            vec![set(rd, byp_last)],
            vec![Stmt::Case(
                x(&bank[bank.len() - 1].0),
                arms,
                vec![set(rd, Expr::lit(rd.ty, 0))],
            )],
        )]));
    }
    out
}
