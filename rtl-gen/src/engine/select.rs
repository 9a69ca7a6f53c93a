//! SELECT: `sel_key` (scores, frontier bonus), `sel_insert` (the stable insertion
//! sorter), `sel_commit` (the first `min(budget, valid)` entries), as the model's
//! stages of the same names.

use super::lane::Lane;
use super::*;

stage_regs! {
    /// `sel_key` (the model's `SelKey`): the issued slot; its words are read.
    SelKey("sel_key") { valid, u, k }
}
stage_regs! {
    /// `sel_insert` (`SelInsert`): the slot's key and what the commit needs.
    SelInsert("sel_insert") { valid, u, k, key, slot_valid, nonzero, mask }
}

/// What SELECT writes: the output's `selected` bits on its last slot.
pub(super) struct Selected {
    /// The write's clock.
    pub valid: Sig,
    /// Output.
    pub u: Sig,
    /// The selected slots' bits.
    pub picked: Sig,
}

/// `sel_key`'s values at its last clock.
struct Keyed {
    valid: Sig,
    u: Sig,
    k: Sig,
    key: Sig,
    slot_valid: Sig,
    signal: Sig,
    mask: Sig,
    max_score: Sig,
}

/// Builds SELECT.
pub(super) fn select(l: &mut Lane) -> Selected {
    crate::shared::set_phase(&mut l.m, 2);
    l.m.comment("SELECT: sel_key, sel_insert (stable insertion sorter), sel_commit");
    let keyed = sel_key(l);
    let (insert, max) = sel_insert_regs(l, &keyed);
    sel_sort_and_commit(l, &insert, &max)
}

/// `sel_key`: the slot's score, and the bonus of a frontier slot in neighbour-follow
/// mode.
fn sel_key(l: &mut Lane) -> Keyed {
    let sel_issue = l.m.wire("sel_issue", Ty::BIT, issued(Phase::Select));
    let (w, t, f, shape) = (l.w, l.e.t, &l.e.dp.f, l.shape);
    let r = SelKey::declare(&mut l.m, Ty::BIT, Ty::u(w.u), Ty::u(w.k));
    let m = &mut l.m;
    let mem = &l.mem;
    let alias = |m: &mut Module, name: &str, src: &Sig| m.wire(name, src.ty, src);
    let scr = alias(m, "sel_key_scratch", &mem.scratch.rd);
    let syn = alias(m, "sel_key_syn", &mem.syn.rd);
    let nbr = alias(m, "sel_key_nbr", &mem.nbr.rd);
    let mask = alias(m, "sel_key_mask", &mem.mask.rd);
    let max = alias(m, "sel_key_max_score", &mem.maxs.rd);
    let lacc = alias(m, "sel_key_last_accepted", &mem.lacc.rd);
    let ctl = &l.ctl;
    r.load(
        &mut l.rst,
        &mut l.seq,
        "sel_issue -> sel_key (scratch, syn, nbr, mask, max_score, last_accepted read)",
        SelKey {
            valid: x(&sel_issue),
            u: x(&ctl.iss_u),
            k: x(&ctl.iss_k),
        },
    );
    let ram = l.ram_reg;
    let valid = m.delay_valid(&r.valid, ram);
    let [u, k, scr, syn, nbr, mask, max, lacc] =
        ends(m, ram, [&r.u, &r.k, &scr, &syn, &nbr, &mask, &max, &lacc]);
    // sel_key -> sel_insert
    let signal = m.wire(
        "sel_key_signal",
        t.signal,
        Expr::signed(Expr::field(&scr, f.cofire.bits, f.signal.bits)),
    );
    let long = m.wire(
        "sel_key_long",
        t.trail,
        Expr::field(&syn, shape.p_lo, shape.tb),
    );
    let kk = shape.kk;
    let near = m.wire("sel_key_near", Ty::u(kk), Expr::field(&nbr, w.nbr, kk));
    // Selection reads the signal, the long trail and the near set only.
    m.sink(&scr, 0, f.cofire.bits);
    m.sink(&syn, 0, shape.wb);
    m.sink(&syn, shape.long_end, shape.syn_w - shape.long_end);
    m.sink(&nbr, 0, w.nbr);
    let mask_bits = m.wire("sel_key_mask_bits", Ty::u(kk), Expr::field(&mask, 0, kk));
    let score = l.e.score(m, &signal, &long);
    let slot_valid = m.wire("sel_key_slot_valid", Ty::BIT, bit(&mask_bits, &k));
    let recent = m.wire("sel_key_recent", Ty::u(kk), x(&lacc).and(&mask_bits));
    let none = Expr::lit(Ty::u(kk), 0);
    // A frontier slot: valid, and no slot was accepted last step or one of its
    // neighbours was.
    let frontier = m.wire(
        "sel_key_frontier",
        Ty::BIT,
        x(&slot_valid).and(x(&recent).eq(none.clone()).or(Expr::bin(
            BinOp::Ne,
            x(&near).and(&recent),
            none,
        ))),
    );
    let bonus = l.e.bonus(m, &max);
    let follow = mode_code(lpn_cycle::Mode::NeighborFollow) as i128;
    let use_bonus = m.wire(
        "sel_key_use_bonus",
        Ty::BIT,
        x(&l.ctl.mode)
            .eq(Expr::dec(2, follow))
            .and(&frontier)
            .and(Expr::bin(BinOp::Ne, &max, Expr::lit(t.score, 0))),
    );
    let zb = m.wire("sel_key_no_bonus", t.score, Expr::lit(t.score, 0));
    let add_bonus = m.mux("sel_key_bonus", &use_bonus, &bonus, &zb);
    let key = m.add("sel_key_key", &score, &add_bonus);
    let ke = l.dd.sel_key - 1;
    let valid = m.delay_valid(&valid, ke);
    let [u, k, key, slot_valid, signal, mask, max_score] =
        ends(m, ke, [&u, &k, &key, &slot_valid, &signal, &mask, &max]);
    Keyed {
        valid,
        u,
        k,
        key,
        slot_valid,
        signal,
        mask,
        max_score,
    }
}

/// `sel_insert`'s registers, taken from `sel_key`: the record, and the maximum score
/// (the shared pipeline carries only whether it is positive: all `sel_commit` needs).
fn sel_insert_regs(l: &mut Lane, keyed: &Keyed) -> (SelInsert, Sig) {
    let (w, t, shape) = (l.w, l.e.t, l.shape);
    let r = SelInsert::declare(
        &mut l.m,
        Ty::BIT,
        Ty::u(w.u),
        Ty::u(w.k),
        keyed.key.ty,
        Ty::BIT,
        Ty::BIT,
        shape.mask_ty(),
    );
    let (max_name, max_ty, max_src) = if l.shared {
        (
            "sel_insert_positive",
            Ty::BIT,
            Expr::bin(BinOp::Ne, &keyed.max_score, Expr::lit(t.score, 0)),
        )
    } else {
        ("sel_insert_max_score", t.score, x(&keyed.max_score))
    };
    let max = l.m.reg(max_name, max_ty);
    r.load(
        &mut l.rst,
        &mut l.seq,
        "sel_key -> sel_insert",
        SelInsert {
            valid: x(&keyed.valid),
            u: x(&keyed.u),
            k: x(&keyed.k),
            key: x(&keyed.key),
            slot_valid: x(&keyed.slot_valid),
            nonzero: Expr::bin(BinOp::Ne, &keyed.signal, Expr::lit(t.signal, 0)),
            mask: x(&keyed.mask),
        },
    );
    l.seq.push(set(&max, max_src));
    (r, max)
}

/// The sorter's state: entry `i` holds (slot, key); `count` entries are live.
struct Sorter {
    count: Sig,
    nonzero: Sig,
    slots: Vec<Sig>,
    keys: Vec<Sig>,
}

/// `sel_insert` (the stable insertion: a new key goes after every live key `>=` it)
/// and `sel_commit`, which takes the sorted list on the output's last slot.
fn sel_sort_and_commit(l: &mut Lane, si: &SelInsert, si_max: &Sig) -> Selected {
    let (w, shape) = (l.w, l.shape);
    let k = l.c.layer.k;
    let cnt_ty = Ty::u(shape.valid_w);
    let m = &mut l.m;
    let mut sorter = Sorter {
        count: m.reg("sorter_count", cnt_ty),
        nonzero: m.reg("sorter_nonzero", Ty::u(shape.kk)),
        slots: Vec::new(),
        keys: Vec::new(),
    };
    for i in 0..k {
        sorter
            .slots
            .push(m.reg(&format!("sorter_slot_{i}"), Ty::u(w.k)));
        sorter
            .keys
            .push(m.reg(&format!("sorter_key_{i}"), si.key.ty));
    }
    let fresh = m.wire(
        "sel_insert_first_slot",
        Ty::BIT,
        x(&si.k).eq(Expr::lit(Ty::u(w.k), 0)),
    );
    let live = m.wire(
        "sorter_live",
        cnt_ty,
        Expr::mux(&fresh, Expr::lit(cnt_ty, 0), &sorter.count),
    );
    let ge = sorter_keeps(l, si, &sorter, &live);
    let commit = sel_insert(l, si, si_max, &sorter, &fresh, &live, &ge);
    sel_commit(l, commit)
}

/// Whether each entry stays ahead of the new key: live, and its key `>=` the new one.
fn sorter_keeps(l: &mut Lane, si: &SelInsert, sorter: &Sorter, live: &Sig) -> Vec<Sig> {
    let k = l.c.layer.k;
    let (kk, shared) = (l.shape.kk, l.shared);
    let cnt_ty = live.ty;
    let m = &mut l.m;
    // Shared pipeline with a step of more than K clocks: the entries' keys and the new
    // key hold still for the step, so one comparator takes entry j in the step's clock
    // j (`sorter_ge_q`), instead of K comparators at once.
    let serial_ge = shared && l.c.step_clocks() as usize > k;
    let ge_q = serial_ge.then(|| {
        let q = m.reg("sorter_ge_q", Ty::u(kk));
        let pick = m.comb("sorter_key_at_clock", si.key.ty, Some(0));
        let step_sub = Sig::named("step_sub", Ty::u(step_sub_bits(l.c)));
        let clock = |i: usize| Expr::lit(step_sub.ty, i as i128);
        let arms = sorter
            .keys
            .iter()
            .enumerate()
            .map(|(i, key)| (vec![clock(i)], vec![set(&pick, key)]))
            .collect();
        let ge = m.cmp("sorter_ge_at_clock", &pick, BinOp::Ge, &si.key);
        m.process(Process::comb(vec![Stmt::Case(
            x(&step_sub),
            arms,
            vec![set(&pick, Expr::lit(si.key.ty, 0))],
        )]));
        let bits: Vec<Expr> = (0..k)
            .rev()
            .map(|i| Expr::mux(x(&step_sub).eq(clock(i)), &ge, Expr::bit_of(&q, i as u32)))
            .collect();
        m.process(
            Process::clocked(vec![set(&q, Expr::concat(bits))])
                .commented("The comparator's verdict on entry j, taken in clock j of the step."),
        );
        q
    });
    let mut ge = Vec::new();
    for i in 0..k {
        // (A constant the shared pipeline compares as logic; elsewhere as before.)
        let idx = if shared {
            m.konst(&format!("sorter_index_{i}"), i as i128, false)
        } else {
            m.wire(
                &format!("sorter_index_{i}"),
                cnt_ty,
                Expr::lit(cnt_ty, i as i128),
            )
        };
        let is_live = m.cmp(&format!("sorter_live_{i}"), &idx, BinOp::Lt, live);
        let not_less = match &ge_q {
            Some(q) => m.wire(
                &format!("sorter_ge_{i}"),
                Ty::BIT,
                Expr::bit_of(q, i as u32),
            ),
            None => m.cmp(
                &format!("sorter_ge_{i}"),
                &sorter.keys[i],
                BinOp::Ge,
                &si.key,
            ),
        };
        ge.push(m.wire(
            &format!("sorter_keep_{i}"),
            Ty::BIT,
            x(&is_live).and(&not_less),
        ));
    }
    ge
}

/// `sel_commit`'s registers as `sel_insert` hands them over.
struct Commit {
    valid: Sig,
    u: Sig,
    nonzero: Sig,
    mask: Sig,
    max: Sig,
    slots: Vec<Sig>,
}

/// `sel_insert`: the insertion itself, and the hand-off of the list after it to
/// `sel_commit` on the output's last slot.
#[allow(clippy::too_many_arguments)]
fn sel_insert(
    l: &mut Lane,
    si: &SelInsert,
    si_max: &Sig,
    sorter: &Sorter,
    fresh: &Sig,
    live: &Sig,
    ge: &[Sig],
) -> Commit {
    let k = l.c.layer.k;
    let (w, t, shape) = (l.w, l.e.t, l.shape);
    let (kk, cnt_ty) = (shape.kk, live.ty);
    // Entry i: kept when it stays ahead, else the new key when entry i - 1 stays ahead
    // (or i is 0), else entry i - 1 moved down.
    let (slots, keys) = (&sorter.slots, &sorter.keys);
    let mut ins = Vec::new();
    for i in 0..k {
        let before = if i == 0 {
            Expr::bit(true)
        } else {
            x(&ge[i - 1])
        };
        let shift_in = if i == 0 {
            Vec::new()
        } else {
            vec![set(&slots[i], &slots[i - 1]), set(&keys[i], &keys[i - 1])]
        };
        ins.push(Stmt::If(
            x(&ge[i]),
            Vec::new(),
            vec![Stmt::If(
                before,
                vec![set(&slots[i], &si.k), set(&keys[i], &si.key)],
                shift_in,
            )],
        ));
    }
    let m = &mut l.m;
    let commit = Commit {
        valid: m.reg("sel_commit_valid", Ty::BIT),
        u: m.reg("sel_commit_u", Ty::u(w.u)),
        nonzero: m.reg("sel_commit_nonzero", Ty::u(kk)),
        mask: m.reg("sel_commit_mask", shape.mask_ty()),
        max: if l.shared {
            m.reg("sel_commit_positive_q", Ty::BIT)
        } else {
            m.reg("sel_commit_max_score", t.score)
        },
        slots: (0..k)
            .map(|i| m.reg(&format!("sel_commit_slot_{i}"), Ty::u(w.k)))
            .collect(),
    };
    l.rst.push(set(&commit.valid, Expr::bit(false)));
    let last_k = m.wire(
        "sel_insert_last_slot",
        Ty::BIT,
        x(&si.k).eq(Expr::lit(Ty::u(w.k), k as i128 - 1)),
    );
    let nz_next = m.wire(
        "sorter_nonzero_next",
        Ty::u(kk),
        Expr::mux(fresh, Expr::lit(Ty::u(kk), 0), &sorter.nonzero).or(Expr::Repeat(
            kk,
            Box::new(x(&si.nonzero)),
        )
        .and(one_hot(kk, &si.k))),
    );
    // The list after this insertion, for the commit on the last slot.
    let mut next_slot = Vec::new();
    for i in 0..k {
        let before = if i == 0 {
            Expr::bit(true)
        } else {
            x(&ge[i - 1])
        };
        let prev = if i == 0 { x(&si.k) } else { x(&slots[i - 1]) };
        next_slot.push(m.wire(
            &format!("sorter_slot_next_{i}"),
            Ty::u(w.k),
            Expr::mux(
                Expr::un(crate::ir::UnOp::LogicNot, &si.slot_valid).or(&ge[i]),
                &slots[i],
                Expr::mux(before, &si.k, prev),
            ),
        ));
    }
    let count_next = m.wire(
        "sorter_count_next",
        cnt_ty,
        Expr::bin(
            BinOp::Add,
            live,
            Expr::zext(&si.slot_valid, 1, shape.valid_w),
        ),
    );
    l.seq.push(Stmt::Comment(
        "sel_insert: stable insertion (a new key goes after every live key >= it)".into(),
    ));
    let mut insert = vec![Stmt::when(
        fresh,
        vec![set(&sorter.count, Expr::lit(cnt_ty, 0))],
    )];
    let mut placed = vec![set(&sorter.count, &count_next)];
    placed.extend(ins);
    insert.push(Stmt::when(&si.slot_valid, placed));
    insert.push(set(&sorter.nonzero, &nz_next));
    l.seq.push(Stmt::when(&si.valid, insert));
    l.seq.push(set(&commit.valid, x(&si.valid).and(&last_k)));
    l.seq.extend([
        set(&commit.u, &si.u),
        set(&commit.nonzero, &nz_next),
        set(&commit.mask, &si.mask),
        set(&commit.max, si_max),
    ]);
    l.seq
        .extend((0..k).map(|i| set(&commit.slots[i], &next_slot[i])));
    commit
}

/// `1 << at` in `width` bits.
fn one_hot(width: u32, at: &Sig) -> Expr {
    Expr::bin(BinOp::Shl, Expr::lit(Ty::u(width), 1), at)
}

/// `sel_commit`: the first `min(budget, valid)` entries (none when the output's
/// maximum score is 0), the phase flags, and the `selected` write.
fn sel_commit(l: &mut Lane, sc: Commit) -> Selected {
    let k = l.c.layer.k;
    let (w, t, shape) = (l.w, l.e.t, l.shape);
    let kk = shape.kk;
    let m = &mut l.m;
    let valid_count = m.wire(
        "sel_commit_valid_count",
        Ty::u(shape.valid_w),
        Expr::field(&sc.mask, kk, shape.valid_w),
    );
    m.sink(&sc.mask, 0, kk);
    // Entry i is taken when i < min(budget, valid). The row-parallel deep pipeline
    // splits that into `i < budget`, a per-update bit vector held in a register of the
    // lane, and `i < valid`, logic on the valid count's few bits: the top's budget
    // register, the min and K carry-chain compares were the 85F bench's critical path
    // (77.5 MHz; 87.4 split). The one-row deep lanes keep the old form for now: with
    // the split the `ecp5-85k` preset placed at 99.31 MHz, 0.07 ns short of its 100 MHz
    // on an unrelated path (the bridge's RX FIFO read), where it meets 100.0 without.
    let slot_bit = |m: &mut Module, i: usize, taken: &Sig| {
        m.wire(
            &format!("sel_commit_bit_{i}"),
            Ty::u(kk),
            Expr::Repeat(kk, Box::new(x(taken))).and(one_hot(kk, &sc.slots[i])),
        )
    };
    let mut terms = Vec::new();
    if l.c.retimed_commit() {
        let over: Vec<Expr> = (0..k)
            .rev()
            .map(|i| {
                let b = m.const_compare(
                    &format!("sel_commit_budget_over_{i}"),
                    &l.ctl.budget,
                    true,
                    i as i128,
                );
                x(&b)
            })
            .collect();
        let over = m.wire(
            "sel_commit_budget_over",
            Ty::u(k as u32),
            Expr::Concat(over),
        );
        let over = m.hold(&over);
        for i in 0..k {
            let v = m.const_compare(
                &format!("sel_commit_valid_over_{i}"),
                &valid_count,
                true,
                i as i128,
            );
            let taken = m.wire(
                &format!("sel_commit_taken_{i}"),
                Ty::BIT,
                Expr::bit_of(&over, i as u32).and(&v),
            );
            terms.push(slot_bit(m, i, &taken));
        }
    } else {
        let take = m.min("sel_commit_take", &l.ctl.budget, &valid_count);
        for i in 0..k {
            let idx = m.wire(
                &format!("sel_commit_index_{i}"),
                take.ty,
                Expr::lit(take.ty, i as i128),
            );
            let taken = m.cmp(&format!("sel_commit_taken_{i}"), &idx, BinOp::Lt, &take);
            terms.push(slot_bit(m, i, &taken));
        }
    }
    let any_score = m.wire(
        "sel_commit_positive",
        Ty::BIT,
        if l.shared {
            x(&sc.max)
        } else {
            Expr::bin(BinOp::Ne, &sc.max, Expr::lit(t.score, 0))
        },
    );
    let picked = m.wire(
        "sel_commit_selected",
        Ty::u(kk),
        Expr::Repeat(kk, Box::new(x(&any_score))).and(Expr::any(terms.iter().map(x).collect())),
    );
    // The selection leaves sel_commit at its last clock (a register after the OR of
    // the taken slots in the deep pipeline), with the flags and the `selected` write.
    let picked = m.cut(&picked);
    let ce = l.dd.sel_commit - 1;
    let picked = m.delay(&picked, ce);
    let valid = m.delay_valid(&sc.valid, ce);
    let [nonzero, u] = ends(m, ce, [&sc.nonzero, &sc.u]);
    let none = Expr::lit(Ty::u(kk), 0);
    let descent = m.wire(
        "flag_select_descent_now",
        Ty::BIT,
        x(&valid).and(Expr::bin(BinOp::Ne, x(&picked).and(&nonzero), none.clone())),
    );
    let any = m.wire(
        "flag_selected_any_now",
        Ty::BIT,
        x(&valid).and(Expr::bin(BinOp::Ne, &picked, none)),
    );
    m.assign(&l.ctl.flag_select_descent, &descent);
    m.assign(&l.ctl.flag_selected_any, &any);
    let pop = (0..k)
        .map(|i| Expr::zext(Expr::bit_of(&picked, i as u32), 1, w.budget))
        .reduce(|a, b| Expr::bin(BinOp::Add, a, b))
        .expect("K >= 1");
    let count = m.wire(
        "flag_selected_count_now",
        Ty::u(w.budget),
        Expr::mux(&valid, pop, Expr::lit(Ty::u(w.budget), 0)),
    );
    // Retimed, the popcount gets its own clock: the top's sum over the lanes and its
    // running count were the 85F bench's critical path (88.5 MHz) behind it.
    let count = if l.c.retimed_commit() {
        m.cut(&count)
    } else {
        count
    };
    m.assign(&l.ctl.flag_selected_count, &count);
    // sel_commit writes `selected` in its port block.
    Selected { valid, u, picked }
}
