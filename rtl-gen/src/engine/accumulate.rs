//! ACCUMULATE: `acc_fetch`, `acc_mult`, `acc_sum`, then the normaliser `norm_mean`,
//! `norm_gate`, `norm_signal`, `norm_score`, one builder per stage, as the model's
//! stages of the same names.

use super::lane::Lane;
use super::*;

stage_regs! {
    /// `acc_fetch` (the model's `AccFetch`): the issued slot; its neighbour list is read.
    AccFetch("acc_fetch") { valid, u, k, r, a }
}
stage_regs! {
    /// `acc_mult` (`AccMult`): the slot; `pre` and `post_err` (and `syn`, `mask`,
    /// `gate_recip` for the last row) are read.
    AccMult("acc_mult") { valid, u, k, r, a }
}
stage_regs! {
    /// `acc_sum` (`AccSum`): the products and the words carried to the normaliser.
    AccSum("acc_sum") { valid, u, k, r, a, signal_product, cofire_product, err, syn, mask, recip }
}
stage_regs! {
    /// `norm_mean` (`NormMean`): the slot's exact sums.
    NormMean("norm_mean") { valid, u, k, a, sig_acc, co_acc, err_acc }
}
stage_regs! {
    /// `norm_gate` (`NormGate`): the means and the trails.
    NormGate("norm_gate") { valid, u, k, a, mean, cofire, effective, bias_dir, long, mask }
}
stage_regs! {
    /// `norm_signal` (`NormSignal`): the mean and its gate.
    NormSignal("norm_signal") { valid, u, k, a, mean, gate, cofire, bias_dir, long, slot_valid }
}
stage_regs! {
    /// `norm_score` (`NormScore`): the slot's signal and co-firing, scored.
    NormScore("norm_score") { valid, u, k, a, signal, cofire, bias_dir, long }
}

/// What ACCUMULATE leaves for the memory ports: read addresses and the writes of
/// `norm_score`.
pub(super) struct Accumulated {
    /// The slot address and output of `acc_fetch`'s last clock (`syn`, `mask` and
    /// `gate_recip` read addresses in the timed pipelines).
    pub fetch_a: Sig,
    /// See `fetch_a`.
    pub fetch_u: Sig,
    /// `acc_sum`'s slot address and output (the shared pipeline reads `syn` and `mask`
    /// with them).
    pub sum_a: Sig,
    /// See `sum_a`.
    pub sum_u: Sig,
    /// `norm_mean`'s output at its last clock (the shared pipeline's `gate_recip` read).
    pub mean_u: Sig,
    /// The `pre` and `post_err` read addresses.
    pub pre_addr: Option<Sig>,
    /// See `pre_addr`.
    pub post_err_addr: Sig,
    /// `norm_score`'s writes.
    pub score: ScoreWrites,
}

/// What `norm_score` writes: the slot's `scratch` word, and on the output's last slot
/// its `max_score` and `bias_dir`.
pub(super) struct ScoreWrites {
    /// The write's clock.
    pub valid: Sig,
    /// Output.
    pub u: Sig,
    /// Slot address.
    pub a: Sig,
    /// `{signal, cofire}`.
    pub scratch_word: Expr,
    /// The output's last slot (write `max_score` and `bias_dir`).
    pub per_output: Expr,
    /// The running maximum score after this slot.
    pub max_score: Sig,
    /// The held bias direction after this slot.
    pub bias_dir: Sig,
}

/// Builds ACCUMULATE.
pub(super) fn accumulate(l: &mut Lane) -> Accumulated {
    crate::shared::set_phase(&mut l.m, 1);
    l.m.comment(
        "ACCUMULATE: acc_fetch, acc_mult, acc_sum, norm_mean, norm_gate, norm_signal, norm_score",
    );
    let (fetch, nbr) = acc_fetch(l);
    let (mult, addrs) = acc_mult(l, &fetch, &nbr);
    let (sum, sums) = acc_sum(l, &mult);
    let mean = norm_mean(l, &sum, sums);
    let gate = norm_gate(l, &mean);
    let signal = norm_signal(l, &gate);
    let score = norm_score(l, &signal);
    Accumulated {
        fetch_a: addrs.slot_a,
        fetch_u: addrs.slot_u,
        sum_a: sum.a,
        sum_u: sum.u,
        mean_u: mean.u,
        pre_addr: addrs.pre,
        post_err_addr: addrs.post_err,
        score,
    }
}

/// `acc_fetch`: the issued slot, and the neighbour index read with its address
/// (valid `ram_regs` clocks later).
fn acc_fetch(l: &mut Lane) -> (AccFetch, Sig) {
    let acc_issue = l.m.wire("acc_issue", Ty::BIT, issued(Phase::Accumulate));
    let w = l.w;
    let r = AccFetch::declare(
        &mut l.m,
        Ty::BIT,
        Ty::u(w.u),
        Ty::u(w.k),
        Ty::u(w.r),
        Ty::u(w.a),
    );
    let nbr = l.m.wire(
        "acc_fetch_nbr",
        Ty::u(w.nbr),
        Expr::field(&l.mem.nbr.rd, 0, w.nbr),
    );
    let ctl = &l.ctl;
    r.load(
        &mut l.rst,
        &mut l.seq,
        "acc_issue -> acc_fetch (nbr read)",
        AccFetch {
            valid: x(&acc_issue),
            u: x(&ctl.iss_u),
            k: x(&ctl.iss_k),
            r: x(&ctl.iss_r),
            a: x(&ctl.iss_a),
        },
    );
    let ram = l.ram_reg;
    let valid = l.m.delay_valid(&r.valid, ram);
    let [u, k, row, a, nbr] = ends(&mut l.m, ram, [&r.u, &r.k, &r.r, &r.a, &nbr]);
    (
        AccFetch {
            valid,
            u,
            k,
            r: row,
            a,
        },
        nbr,
    )
}

/// The read addresses `acc_fetch` presents at its last clock, with its slot.
struct Fetched {
    pre: Option<Sig>,
    post_err: Sig,
    slot_a: Sig,
    slot_u: Sig,
}

/// `acc_mult`: `acc_fetch` presents the `pre` and `post_err` addresses (input-major
/// `pre`, output-major `post_err`); the words arrive here and are multiplied.
fn acc_mult(l: &mut Lane, fetch: &AccFetch, nbr: &Sig) -> (AccSum, Fetched) {
    let (w, t, f) = (l.w, l.e.t, &l.e.dp.f);
    let r = AccMult::declare(
        &mut l.m,
        Ty::BIT,
        Ty::u(w.u),
        Ty::u(w.k),
        Ty::u(w.r),
        Ty::u(w.a),
    );
    let banks = l.c.row_parallel;
    let name = |base: &str, b: usize| {
        if banks == 1 {
            base.to_string()
        } else {
            format!("{base}_b{b}")
        }
    };
    let m = &mut l.m;
    let mem = &l.mem;
    // The shared `pre`'s words arrive on `pre_rd` as a memory's read register would:
    // `ram_regs` clocks after the address (one in the compact pipeline).
    let shared_rd = l.ctl.groups.as_ref().map(|g| {
        let at = l.ram_reg.saturating_sub(1);
        m.wire_at(
            "acc_mult_pre_rd",
            g.pre_rd.ty,
            Expr::from(&g.pre_rd),
            Some(at),
        )
    });
    // Per bank (row `r*P + b`): pre, post, err.
    let mut words = Vec::new();
    for b in 0..banks {
        let pre = m.wire(
            &name("acc_mult_pre", b),
            t.activation,
            Expr::signed(match &shared_rd {
                Some(rd) => Expr::field(rd, b as u32 * f.activation.bits, f.activation.bits),
                None => Expr::from(&mem.pre[b].rd),
            }),
        );
        let post = m.wire(
            &name("acc_mult_post", b),
            t.activation,
            Expr::signed(Expr::field(&mem.post_err[b].rd, 0, f.activation.bits)),
        );
        let err = m.wire(
            &name("acc_mult_err", b),
            t.error,
            Expr::signed(Expr::field(
                &mem.post_err[b].rd,
                f.activation.bits,
                f.error.bits,
            )),
        );
        words.extend([pre, post, err]);
    }
    let syn = m.wire("acc_mult_syn", Ty::u(l.shape.syn_w), &mem.syn.rd);
    let mask = m.wire("acc_mult_mask", l.shape.mask_ty(), &mem.mask.rd);
    let recip = m.wire("acc_mult_recip", t.gate_recip, &mem.recip.rd);
    // Addresses: input-major pre (input * max_rows + row), output-major post/err; with
    // P banks, row group r of every bank at (input or output) * max_rows / P + r.
    let (bank_rows, inputs, outputs) = (
        l.c.max_rows / banks,
        l.c.layer.inputs,
        l.c.outputs_per_lane(),
    );
    let rows_k = m.konst(
        if banks == 1 {
            "max_rows_words"
        } else {
            "bank_rows_words"
        },
        bank_rows as i128,
        false,
    );
    // (The lane's own `pre`; a shared one is read at the input and the group.)
    let pre_addr = (!l.c.shares_pre()).then(|| {
        let pa = m.mul("pre_row_base", nbr, &rows_k);
        let pa = m.add("pre_addr_sum", &pa, &fetch.r);
        m.cast(&pa, Ty::u(bits_for((bank_rows * inputs) as u64)))
    });
    let qa = m.mul("post_err_row_base", &fetch.u, &rows_k);
    let qa = m.add("post_err_addr_sum", &qa, &fetch.r);
    let pe_addr = m.cast(&qa, Ty::u(bits_for((bank_rows * outputs) as u64)));
    // The read addresses leave acc_fetch at its last clock, with the slot they belong to.
    let fe = l.dd.acc_fetch - 1;
    let pre_addr = pre_addr.map(|a| m.delay(&a, fe));
    let pe_addr = m.delay(&pe_addr, fe);
    let valid_end = m.delay_valid(&fetch.valid, fe);
    let [fu, fk, fr, fa] = ends(m, fe, [&fetch.u, &fetch.k, &fetch.r, &fetch.a]);
    if let Some(g) = &l.ctl.groups {
        // The shared `pre` is read at the input and the group (the engine's top routes
        // each group's banks to the lane reading it).
        let nbr_end = m.delay(nbr, fe);
        m.assign(&g.pre_ra, &nbr_end);
        m.assign(&g.pre_rg, &fr);
    }
    r.load(
        &mut l.rst,
        &mut l.seq,
        "acc_fetch -> acc_mult (pre, post_err read; on every row also syn, mask, gate_recip, used on the last)",
        AccMult {
            valid: x(&valid_end),
            u: x(&fu),
            k: x(&fk),
            r: x(&fr),
            a: x(&fa),
        },
    );
    let fetched = Fetched {
        pre: pre_addr,
        post_err: pe_addr,
        slot_a: fa,
        slot_u: fu,
    };
    // The words arrive `ram_regs` clocks after their address; the products.
    let m = &mut l.m;
    let ram = l.ram_reg;
    let valid = m.delay_valid(&r.valid, ram);
    let mut carried = vec![&r.u, &r.k, &r.r, &r.a];
    carried.extend(words.iter());
    carried.extend([&syn, &mask, &recip]);
    let arrived: Vec<Sig> = carried.iter().map(|s| m.delay(s, ram)).collect();
    let [u, k, row, a] = [0, 1, 2, 3].map(|i| arrived[i].clone());
    let n = arrived.len();
    let [syn, mask, recip] = [n - 3, n - 2, n - 1].map(|i| arrived[i].clone());
    // Per row: the two products; a row at or past `rows` adds 0: the last group's tail
    // when P does not divide `rows`, and whole groups when the lanes outnumber the
    // batch's groups. Row `r*P + b` exists iff `r < rows_group_last`, or `r` is that
    // group and `b <= rows_tail`.
    let s = l.c.bank_bits();
    let mut terms = Vec::new();
    for b in 0..banks {
        let (pre, post, err) = (
            &arrived[4 + 3 * b],
            &arrived[5 + 3 * b],
            &arrived[6 + 3 * b],
        );
        let sp = l.e.product(m, &name("signal_product", b), err, pre);
        let pre_abs = m.abs(&name("pre_abs", b), pre);
        let post_abs = m.abs(&name("post_abs", b), post);
        let cp =
            l.e.product(m, &name("cofire_product", b), &pre_abs, &post_abs);
        let Some(g) = &l.ctl.groups else {
            terms.push([sp, cp, err.clone()]);
            continue;
        };
        let ok = m.wire(
            &format!("acc_row_live_b{b}"),
            Ty::BIT,
            if b == 0 {
                Expr::bin(BinOp::Le, &row, &g.rows_last)
            } else {
                Expr::bin(BinOp::Lt, &row, &g.rows_last).or(x(&row).eq(&g.rows_last).and(
                    Expr::bin(BinOp::Ge, &g.tail, Expr::lit(Ty::u(s), b as i128)),
                ))
            },
        );
        let live = |m: &mut Module, v: &Sig| {
            let zero = m.wire(&format!("{}_none", v.name), v.ty, Expr::lit(v.ty, 0));
            m.mux(&format!("{}_live", v.name), &ok, v, &zero)
        };
        terms.push([live(m, &sp), live(m, &cp), live(m, err)]);
    }
    // The adder tree over the rows (exact), a register after each level (deep).
    let mut level = 0;
    while terms.len() > 1 {
        level += 1;
        terms = terms
            .chunks(2)
            .enumerate()
            .map(|(i, pair)| {
                let [a0, a1] = [&pair[0], &pair[1]];
                ["signal_product", "cofire_product", "err"]
                    .into_iter()
                    .enumerate()
                    .map(|(j, what)| {
                        let sum = m.add(&format!("{what}_l{level}_{i}"), &a0[j], &a1[j]);
                        m.cut(&sum)
                    })
                    .collect::<Vec<_>>()
                    .try_into()
                    .expect("three sums")
            })
            .collect();
    }
    let [sp, cp, err] = terms.pop().expect("at least one row");
    let me = l.dd.acc_mult + l.dd.acc_tree - 1;
    let valid = m.delay_valid(&valid, me);
    let [u, k, r, a, sp, cp, err, syn, mask, recip] = ends(
        m,
        me,
        [&u, &k, &row, &a, &sp, &cp, &err, &syn, &mask, &recip],
    );
    let out = AccSum {
        valid,
        u,
        k,
        r,
        a,
        signal_product: sp,
        cofire_product: cp,
        err,
        syn,
        mask,
        recip,
    };
    (out, fetched)
}

/// `acc_sum`'s running sums after this row, and whether it is the slot's last.
struct Sums {
    signal: Sig,
    cofire: Sig,
    err: Sig,
    last_row: Sig,
}

/// `acc_sum`: exact running sums over the rows; the accumulators are its registers.
fn acc_sum(l: &mut Lane, mult: &AccSum) -> (AccSum, Sums) {
    let (w, t) = (l.w, l.e.t);
    let r = AccSum::declare(
        &mut l.m,
        Ty::BIT,
        Ty::u(w.u),
        Ty::u(w.k),
        Ty::u(w.r),
        Ty::u(w.a),
        mult.signal_product.ty,
        mult.cofire_product.ty,
        mult.err.ty,
        Ty::u(l.shape.syn_w),
        l.shape.mask_ty(),
        t.gate_recip,
    );
    r.load(&mut l.rst, &mut l.seq, "acc_mult -> acc_sum", mult.exprs());
    let m = &mut l.m;
    let acc_sig = m.reg("acc_sig", t.acc);
    let acc_co = m.reg("acc_co", t.co_acc);
    let acc_err = m.reg("acc_err", t.err_sum);
    let first = m.wire(
        "acc_first",
        Ty::BIT,
        match &l.ctl.groups {
            Some(g) => x(&r.r).eq(&g.first),
            None => x(&r.r).eq(Expr::lit(Ty::u(w.r), 0)),
        },
    );
    // Each sum starts from 0 on the slot's first row.
    let mut running = |name: &str, acc: &Sig, term: &Sig| {
        let zero = m.wire(&format!("{name}_zero"), acc.ty, Expr::lit(acc.ty, 0));
        let base = m.mux(&format!("{name}_base"), &first, &zero, acc);
        let sum = m.add(&format!("{name}_sum"), &base, term);
        m.cast(&sum, acc.ty)
    };
    let signal = running("acc_sig", &acc_sig, &r.signal_product);
    let cofire = running("acc_co", &acc_co, &r.cofire_product);
    let err = running("acc_err", &acc_err, &r.err);
    let last_row = m.wire("acc_last_row", Ty::BIT, x(&r.r).eq(&l.ctl.groups_last));
    l.seq.push(Stmt::Comment(
        "acc_sum: running sums; the last row hands the slot to the normaliser".into(),
    ));
    l.seq.push(Stmt::when(
        &r.valid,
        vec![
            set(&acc_sig, &signal),
            set(&acc_co, &cofire),
            set(&acc_err, &err),
        ],
    ));
    (
        r,
        Sums {
            signal,
            cofire,
            err,
            last_row,
        },
    )
}

/// `norm_mean`'s values at its last clock.
struct Means {
    valid: Sig,
    u: Sig,
    k: Sig,
    a: Sig,
    mean: Sig,
    cofire: Sig,
    effective: Sig,
    bias_dir: Sig,
    long: Sig,
    mask: Sig,
    recip: Sig,
}

/// `norm_mean`: takes the slot on its last row; the row means, the effective trail
/// and (on the output's first slot) the bias direction.
fn norm_mean(l: &mut Lane, sum: &AccSum, sums: Sums) -> Means {
    let (w, t, f) = (l.w, l.e.t, &l.e.dp.f);
    let shape = l.shape;
    let r = NormMean::declare(
        &mut l.m,
        Ty::BIT,
        Ty::u(w.u),
        Ty::u(w.k),
        Ty::u(w.a),
        t.acc,
        t.co_acc,
        t.err_sum,
    );
    // Shared pipeline: `syn` and `mask` are read with acc_sum's address (the words
    // of its slot arrive as norm_mean's), the gate reciprocal with norm_mean's,
    // instead of at acc_fetch and then carried along: ACCUMULATE writes none of
    // them, so a later read gets the same word, without the registers. (The UP5K's
    // logic cells; the other pipelines keep their timed netlists.)
    let late = l.late;
    let m = &mut l.m;
    let mem = &l.mem;
    let carried = |m: &mut Module, name: &str, ty: Ty, rd: &Sig| {
        if late {
            m.wire(name, ty, rd)
        } else {
            m.reg(name, ty)
        }
    };
    let syn = carried(m, "norm_mean_syn", Ty::u(shape.syn_w), &mem.syn.rd);
    let mask = carried(m, "norm_mean_mask", shape.mask_ty(), &mem.mask.rd);
    // (Shared: read in norm_mean for norm_gate: nothing to carry.)
    let recip = carried(m, "norm_mean_recip", t.gate_recip, &mem.recip.rd);
    let mut moves = vec![
        (&r.u, x(&sum.u)),
        (&r.k, x(&sum.k)),
        (&r.a, x(&sum.a)),
        (&r.sig_acc, x(&sums.signal)),
        (&r.co_acc, x(&sums.cofire)),
        (&r.err_acc, x(&sums.err)),
    ];
    if !late {
        moves.extend([
            (&syn, x(&sum.syn)),
            (&mask, x(&sum.mask)),
            (&recip, x(&sum.recip)),
        ]);
    }
    l.rst.push(set(&r.valid, Expr::bit(false)));
    l.seq.push(set(&r.valid, x(&sum.valid).and(&sums.last_row)));
    l.seq.extend(moves.into_iter().map(|(d, s)| set(d, s)));
    // norm_mean -> norm_gate
    let short = m.wire(
        "norm_mean_short",
        t.trail,
        if shape.stores_s {
            Expr::field(&syn, shape.s_lo, shape.tb)
        } else {
            Expr::lit(t.trail, 0)
        },
    );
    let long = m.wire(
        "norm_mean_long",
        t.trail,
        Expr::field(&syn, shape.p_lo, shape.tb),
    );
    // The normaliser reads the trails only.
    m.sink(&syn, 0, shape.wb);
    if shape.stores_c {
        m.sink(&syn, shape.c_lo, f.consolidation.bits);
    }
    let rows_recip = &l.ctl.rows_recip;
    let mean = l.e.signal_mean(m, &r.sig_acc, rows_recip);
    let cof = l.e.cofire_mean(m, &r.co_acc, rows_recip);
    let eff = l.e.effective_trail(m, &short, &long);
    let bd = l.e.bias_direction(m, &r.err_acc, rows_recip);
    let first = m.wire(
        "norm_mean_first_slot",
        Ty::BIT,
        x(&r.k).eq(Expr::lit(Ty::u(w.k), 0)),
    );
    let zbd = m.wire("norm_mean_bias_dir_zero", t.signal, Expr::lit(t.signal, 0));
    let bd = m.mux("norm_mean_bias_dir", &first, &bd, &zbd);
    let ne = l.dd.norm_mean - 1;
    let valid = m.delay_valid(&r.valid, ne);
    let [u, k, a, mean, cofire, effective, bias_dir, long, mask, recip] = ends(
        m,
        ne,
        [
            &r.u, &r.k, &r.a, &mean, &cof, &eff, &bd, &long, &mask, &recip,
        ],
    );
    Means {
        valid,
        u,
        k,
        a,
        mean,
        cofire,
        effective,
        bias_dir,
        long,
        mask,
        recip,
    }
}

/// `norm_gate`: the gate from the effective trail and the output's reciprocal, and
/// whether the slot is valid.
fn norm_gate(l: &mut Lane, mean: &Means) -> NormSignal {
    let (w, t) = (l.w, l.e.t);
    let shape = l.shape;
    let r = NormGate::declare(
        &mut l.m,
        Ty::BIT,
        Ty::u(w.u),
        Ty::u(w.k),
        Ty::u(w.a),
        mean.mean.ty,
        mean.cofire.ty,
        mean.effective.ty,
        mean.bias_dir.ty,
        t.trail,
        shape.mask_ty(),
    );
    let recip = if l.late {
        l.m.wire("norm_gate_recip", t.gate_recip, &l.mem.recip.rd)
    } else {
        l.m.reg("norm_gate_recip", t.gate_recip)
    };
    r.load(
        &mut l.rst,
        &mut l.seq,
        "norm_mean -> norm_gate",
        NormGate {
            valid: x(&mean.valid),
            u: x(&mean.u),
            k: x(&mean.k),
            a: x(&mean.a),
            mean: x(&mean.mean),
            cofire: x(&mean.cofire),
            effective: x(&mean.effective),
            bias_dir: x(&mean.bias_dir),
            long: x(&mean.long),
            mask: x(&mean.mask),
        },
    );
    // The timed pipelines read the reciprocal a stage early and carry it.
    if !l.late {
        l.seq.push(set(&recip, &mean.recip));
    }
    // norm_gate -> norm_signal
    let m = &mut l.m;
    let gate = l.e.gate(m, &r.effective, &recip);
    let bits = m.wire(
        "norm_gate_mask_bits",
        Ty::u(shape.kk),
        Expr::field(&r.mask, 0, shape.kk),
    );
    let slot_valid = m.wire("norm_gate_slot_valid", Ty::BIT, bit(&bits, &r.k));
    m.sink(&r.mask, shape.kk, shape.valid_w);
    let ge = l.dd.norm_gate - 1;
    let valid = m.delay_valid(&r.valid, ge);
    let [u, k, a, mean, gate, cofire, bias_dir, long, slot_valid] = ends(
        m,
        ge,
        [
            &r.u,
            &r.k,
            &r.a,
            &r.mean,
            &gate,
            &r.cofire,
            &r.bias_dir,
            &r.long,
            &slot_valid,
        ],
    );
    NormSignal {
        valid,
        u,
        k,
        a,
        mean,
        gate,
        cofire,
        bias_dir,
        long,
        slot_valid,
    }
}

/// `norm_signal`: the gated signal, and the co-firing of valid slots.
fn norm_signal(l: &mut Lane, gated: &NormSignal) -> NormScore {
    let (w, t) = (l.w, l.e.t);
    let r = NormSignal::declare(
        &mut l.m,
        Ty::BIT,
        Ty::u(w.u),
        Ty::u(w.k),
        Ty::u(w.a),
        gated.mean.ty,
        gated.gate.ty,
        gated.cofire.ty,
        gated.bias_dir.ty,
        t.trail,
        Ty::BIT,
    );
    r.load(
        &mut l.rst,
        &mut l.seq,
        "norm_gate -> norm_signal",
        gated.exprs(),
    );
    // norm_signal -> norm_score
    let m = &mut l.m;
    let signal = l.e.signal(m, &r.mean, &r.gate, &r.slot_valid);
    let cty = r.cofire.ty;
    let zero = m.wire("norm_signal_cofire_zero", cty, Expr::lit(cty, 0));
    let cofire = m.mux("norm_signal_cofire_masked", &r.slot_valid, &r.cofire, &zero);
    let se = l.dd.norm_signal - 1;
    let valid = m.delay_valid(&r.valid, se);
    let [u, k, a, signal, cofire, bias_dir, long] = ends(
        m,
        se,
        [&r.u, &r.k, &r.a, &signal, &cofire, &r.bias_dir, &r.long],
    );
    NormScore {
        valid,
        u,
        k,
        a,
        signal,
        cofire,
        bias_dir,
        long,
    }
}

/// `norm_score`: the slot's score, the output's running maximum and held bias
/// direction (its own state), and the writes of `scratch`, `max_score`, `bias_dir`.
fn norm_score(l: &mut Lane, sig: &NormScore) -> ScoreWrites {
    let (w, t) = (l.w, l.e.t);
    let r = NormScore::declare(
        &mut l.m,
        Ty::BIT,
        Ty::u(w.u),
        Ty::u(w.k),
        Ty::u(w.a),
        t.signal,
        sig.cofire.ty,
        sig.bias_dir.ty,
        t.trail,
    );
    r.load(
        &mut l.rst,
        &mut l.seq,
        "norm_signal -> norm_score",
        sig.exprs(),
    );
    let m = &mut l.m;
    let score = l.e.score(m, &r.signal, &r.long);
    // The running maximum and the held bias direction are this stage's own state,
    // read and written at its last clock.
    let running_max = m.reg("running_max", t.score);
    let bias_dir_reg = m.reg("bias_dir_hold", t.signal);
    let running_max = m.invariant(&running_max);
    let bias_dir_reg = m.invariant(&bias_dir_reg);
    let sce = l.dd.norm_score - 1;
    let score = m.delay(&score, sce);
    let valid = m.delay_valid(&r.valid, sce);
    let [u, k, a, signal, cofire, bias_dir] = ends(
        m,
        sce,
        [&r.u, &r.k, &r.a, &r.signal, &r.cofire, &r.bias_dir],
    );
    let first = m.wire(
        "norm_score_first_slot",
        Ty::BIT,
        x(&k).eq(Expr::lit(Ty::u(w.k), 0)),
    );
    let last = m.wire(
        "norm_score_last_slot",
        Ty::BIT,
        x(&k).eq(Expr::lit(Ty::u(w.k), l.c.layer.k as i128 - 1)),
    );
    let mx = m.max("running_max_cmp", &running_max, &score);
    let mx = m.cast(&mx, t.score);
    let max_score = m.mux("running_max_next", &first, &score, &mx);
    let held = m.mux("bias_dir_next", &first, &bias_dir, &bias_dir_reg);
    let nz = m.wire(
        "flag_bias_nonzero_now",
        Ty::BIT,
        x(&valid)
            .and(&first)
            .and(Expr::bin(BinOp::Ne, &bias_dir, Expr::lit(t.signal, 0))),
    );
    m.assign(&l.ctl.flag_bias_nonzero, &nz);
    l.seq.push(Stmt::Comment(
        "norm_score: running maximum, bias direction (memory writes in the port blocks)".into(),
    ));
    l.seq.push(Stmt::when(
        &valid,
        vec![set(&running_max, &max_score), set(&bias_dir_reg, &held)],
    ));
    ScoreWrites {
        scratch_word: Expr::Concat(vec![Expr::bits_of(&signal), x(&cofire)]),
        per_output: x(&valid).and(&last),
        valid,
        u,
        a,
        max_score,
        bias_dir: held,
    }
}
