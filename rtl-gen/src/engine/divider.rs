//! The gate divider: the reciprocal of each output's gate mass, one quotient bit per
//! clock.

use lpn_cycle::format::bits_for;

use super::*;

/// The gate divider as [`gate_divider`] builds it, for the caller's clocked block.
pub struct GateDivider {
    /// What writes the result, for the clocked block's comment.
    pub comment: &'static str,
    /// Clocked assignments (outside reset).
    pub seq: Vec<Stmt>,
    /// Reset assignments.
    pub rst: Vec<Stmt>,
    /// Clocked blocks of their own (the shared pipeline's units, which decide a bit
    /// every clock, not only on `adv`; empty otherwise).
    pub blocks: Vec<Process>,
    /// `dividend >= divisor << Q` for the division starting this clock.
    pub overflow: Sig,
    /// A quotient is complete: write `recip` at `done_u` this clock.
    pub done: Expr,
    /// The output whose reciprocal is written.
    pub done_u: Expr,
    /// The reciprocal: 0 without valid slots, the format's maximum on overflow.
    pub recip: Expr,
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
    start: &Expr,
    (u, u_w): (&Expr, u32),
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
    let num = m.wire(
        "divider_dividend",
        Ty::u(wide),
        Expr::bin(
            BinOp::Shl,
            Expr::zext(count, valid_w, wide),
            Expr::int(shift.into()),
        ),
    );
    let den_wide = m.cast(divisor, Ty::u(wide));
    let overflow = m.wire(
        "divider_overflow",
        Ty::BIT,
        Expr::bin(
            BinOp::Ge,
            &num,
            Expr::bin(BinOp::Shl, &den_wide, Expr::int(q_bits.into())),
        ),
    );
    let empty = m.wire(
        "divider_empty",
        Ty::BIT,
        x(count).eq(Expr::lit(count.ty, 0)),
    );
    let zero = Expr::lit(Ty::u(q_bits), 0);
    let max = Expr::lit(Ty::u(q_bits), f.gate_recip.max_raw() as i128);
    if lpn_cycle::divider_units(c) == 0 {
        return pipelined_divider(
            m,
            q_bits,
            (den_w, wide),
            (start, u, u_w),
            (&num, &den_wide, &overflow, &empty),
            (zero, max),
        );
    }
    let units = lpn_cycle::divider_units(c);
    let (mut seq, mut rst) = (Vec::new(), Vec::new());
    let hi_w = num_w.saturating_sub(q_bits);
    let rem_ty = Ty::u(den_w);
    let low_ty = Ty::u(q_bits);
    let step = |m: &mut Module, name: &str, rem: &Sig, low: &Sig, den: &Sig| {
        let trial = m.wire(
            &format!("{name}_trial"),
            Ty::u(den_w + 1),
            Expr::Concat(vec![x(rem), Expr::bit_of(low, q_bits - 1)]),
        );
        let fits = m.wire(
            &format!("{name}_fits"),
            Ty::BIT,
            Expr::bin(BinOp::Ge, &trial, Expr::zext(den, den_w, den_w + 1)),
        );
        // When it fits, trial - divisor < divisor: the low bits hold it.
        let diff = m.wire(
            &format!("{name}_difference"),
            rem_ty,
            Expr::bin(BinOp::Sub, Expr::slice(&trial, den_w - 1, 0), den),
        );
        let next_rem = m.wire(
            &format!("{name}_next_remainder"),
            rem_ty,
            Expr::mux(&fits, &diff, Expr::slice(&trial, den_w - 1, 0)),
        );
        let next_low = m.wire(
            &format!("{name}_next_low"),
            low_ty,
            Expr::Concat(vec![Expr::slice(low, q_bits - 2, 0), x(&fits)]),
        );
        (next_rem, next_low)
    };
    // The first step, shared by the units, decides the first bit from the operands.
    // Dividend bits above the remainder's width are set only on overflow.
    let first_rem = m.wire(
        "div_first_remainder_in",
        rem_ty,
        if hi_w == 0 {
            Expr::lit(rem_ty, 0)
        } else if hi_w >= den_w {
            Expr::slice(&num, q_bits + den_w - 1, q_bits)
        } else {
            Expr::zext(Expr::slice(&num, q_bits + hi_w - 1, q_bits), hi_w, den_w)
        },
    );
    let first_low = m.wire("div_first_low_in", low_ty, Expr::slice(&num, q_bits - 1, 0));
    let (first_rem, first_low) = step(m, "div_first", &first_rem, &first_low, divisor);
    // Counts the bits left, from `q_bits - 1` down (found by `lpn fuzz`: with
    // `bits_for(q_bits - 1)`, a 17-bit reciprocal's 16 did not fit and generation panicked).
    let left_ty = Ty::u(bits_for(u64::from(q_bits)));
    // The unit each division starts in: `div_next`, one-hot, rotating.
    let unit_start: Vec<Expr> = if units == 1 {
        vec![start.clone()]
    } else {
        let next_ty = Ty::u(units as u32);
        let div_next = m.reg("div_next", next_ty);
        rst.push(set(&div_next, Expr::lit(next_ty, 1)));
        seq.push(Stmt::when(
            start.clone(),
            vec![set(
                &div_next,
                Expr::Concat(vec![
                    Expr::slice(&div_next, units as u32 - 2, 0),
                    Expr::bit_of(&div_next, units as u32 - 1),
                ]),
            )],
        ));
        (0..units)
            .map(|i| start.clone().and(Expr::bit_of(&div_next, i as u32)))
            .collect()
    };
    let mut done = Vec::new();
    // Shared pipeline: a unit starts and writes on `adv` (with the stages) but decides
    // its bits in every clock between, so all are decided before the step it writes in.
    let per_clock = c.pipeline == Pipeline::Shared;
    let mut blocks = Vec::new();
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
        let (next_rem, next_low) = step(m, &n, &drem, &dlow, &dden);
        let none_left = Expr::lit(left_ty, 0);
        let fin = m.wire(
            &format!("{n}_done"),
            Ty::BIT,
            x(&dv).and(x(&dl).eq(none_left.clone())),
        );
        // Per clock (shared pipeline): start and clear only on `adv`, a bit in any clock
        // with bits left; otherwise (a clock per step) the same without those terms.
        let (go, clear, bit) = if per_clock {
            (
                Expr::name("adv").and(unit_start[i].clone()),
                Expr::name("adv").and(&fin),
                x(&dv).and(Expr::bin(BinOp::Ne, &dl, none_left)),
            )
        } else {
            (unit_start[i].clone(), x(&fin), x(&dv))
        };
        let body = vec![Stmt::If(
            go,
            vec![
                set(&dv, Expr::bit(true)),
                set(&dl, Expr::lit(left_ty, i128::from(q_bits) - 1)),
                set(&du, u.clone()),
                set(&drem, &first_rem),
                set(&dlow, &first_low),
                set(&dden, divisor),
                set(&dovf, &overflow),
                set(&demp, &empty),
            ],
            vec![Stmt::If(
                clear,
                vec![set(&dv, Expr::bit(false))],
                vec![Stmt::when(
                    bit,
                    vec![
                        set(&dl, Expr::bin(BinOp::Sub, &dl, Expr::lit(left_ty, 1))),
                        set(&drem, &next_rem),
                        set(&dlow, &next_low),
                    ],
                )],
            )],
        )];
        let reset = set(&dv, Expr::bit(false));
        if per_clock {
            blocks.push(Process::Clocked {
                comment: Some(format!(
                    "{n}: starts and writes on `adv`, decides a quotient bit every clock between."
                )),
                reset: Some(("rst".into(), vec![reset])),
                enable: None,
                body,
            });
        } else {
            rst.push(reset);
            seq.extend(body);
        }
        done.push([fin, du, dlow, dovf, demp]);
    }
    // Units finish in different clocks (their divisions started K clocks apart), so the
    // write port takes the OR of the finished one's words.
    let any = |f: &dyn Fn(&[Sig; 5]) -> Expr| Expr::any(done.iter().map(f).collect());
    let done_w = m.wire("div_done", Ty::BIT, any(&|d| x(&d[0])));
    let done_u = m.wire(
        "div_done_u",
        Ty::u(u_w),
        any(&|d| Expr::Repeat(u_w, Box::new(x(&d[0]))).and(&d[1])),
    );
    let recip = any(&|d| {
        Expr::Repeat(q_bits, Box::new(x(&d[0]))).and(Expr::mux(
            &d[4],
            zero.clone(),
            Expr::mux(&d[3], max.clone(), &d[2]),
        ))
    });
    let recip = m.wire("div_recip", low_ty, recip);
    GateDivider {
        comment: "a unit whose quotient is complete writes gate_recip in its port block",
        seq,
        rst,
        blocks,
        overflow,
        done: x(&done_w),
        done_u: x(&done_u),
        recip: x(&recip),
    }
}

/// The fully pipelined gate divider (`divider_units` 0): stages `div_0` ..
/// `div_{Q-1}`, stage `s` deciding quotient bit `Q-1-s`.
#[allow(clippy::type_complexity)]
fn pipelined_divider(
    m: &mut Module,
    q_bits: u32,
    (den_w, wide): (u32, u32),
    (start, u, u_w): (&Expr, &Expr, u32),
    (num, den_wide, overflow, empty): (&Sig, &Sig, &Sig, &Sig),
    (zero, max): (Expr, Expr),
) -> GateDivider {
    let (mut seq, mut rst) = (Vec::new(), Vec::new());
    let mut prev: Option<[Sig; 7]> = None;
    for s in 0..q_bits {
        let bit = q_bits - 1 - s;
        let dv = m.reg(&format!("div_{s}_valid"), Ty::BIT);
        let du = m.reg(&format!("div_{s}_u"), Ty::u(u_w));
        let drem = m.reg(&format!("div_{s}_remainder"), Ty::u(wide));
        let dden = m.reg(&format!("div_{s}_divisor"), Ty::u(wide));
        let dq = m.reg(&format!("div_{s}_quotient"), Ty::u(q_bits));
        let dovf = m.reg(&format!("div_{s}_overflow"), Ty::BIT);
        let demp = m.reg(&format!("div_{s}_empty"), Ty::BIT);
        rst.push(set(&dv, Expr::bit(false)));
        let (src_v, src_u, src_rem, src_den, src_q, src_ovf, src_emp) = match &prev {
            None => (
                start.clone(),
                u.clone(),
                num.clone(),
                den_wide.clone(),
                zero.clone(),
                x(overflow),
                x(empty),
            ),
            Some([v, pu, r, d, q, o, e]) => (x(v), x(pu), r.clone(), d.clone(), x(q), x(o), x(e)),
        };
        let shifted = m.wire(
            &format!("div_{s}_trial"),
            Ty::u(wide),
            Expr::bin(BinOp::Shl, &src_den, Expr::int(bit.into())),
        );
        // remainder >= divisor << bit, compared on the bits that can differ: those
        // below `bit` are 0 in the trial, and (without overflow, when the quotient is
        // kept) remainder < divisor << (bit + 1), so none is set above den_w + bit.
        let hi = (den_w + bit).min(wide - 1);
        let fits = m.wire(
            &format!("div_{s}_fits"),
            Ty::BIT,
            Expr::bin(
                BinOp::Ge,
                Expr::slice(&src_rem, hi, bit),
                Expr::slice(&src_den, hi - bit, 0),
            ),
        );
        let one = Expr::bin(
            BinOp::Shl,
            Expr::lit(Ty::u(q_bits), 1),
            Expr::int(bit.into()),
        );
        seq.extend([
            set(&dv, src_v),
            set(&du, src_u),
            set(&dden, &src_den),
            set(&dovf, src_ovf),
            set(&demp, src_emp),
            set(
                &drem,
                Expr::mux(&fits, Expr::bin(BinOp::Sub, &src_rem, &shifted), &src_rem),
            ),
            set(
                &dq,
                src_q.or(Expr::Repeat(q_bits, Box::new(x(&fits))).and(one)),
            ),
        ]);
        prev = Some([dv, du, drem, dden, dq, dovf, demp]);
    }
    let [dv, du, _, _, dq, dovf, demp] = prev.expect("Q >= 2");
    GateDivider {
        comment: "the last stage writes gate_recip in its port block",
        seq,
        rst,
        blocks: Vec::new(),
        overflow: overflow.clone(),
        done: x(&dv),
        done_u: x(&du),
        recip: Expr::mux(&demp, zero, Expr::mux(&dovf, max, &dq)),
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
        Expr::name("adv")
    });
    let div = gate_divider(&mut m, c, &x(&start), (&x(&u), 8), &count, &divisor);
    m.process(Process::Clocked {
        comment: None,
        reset: Some(("rst".into(), div.rst)),
        enable: en,
        body: div.seq,
    });
    for p in div.blocks {
        m.process(p);
    }
    let q_bits = c.formats.gate_recip.bits;
    for (name, expr, ty) in [
        ("done", div.done, Ty::BIT),
        ("done_u", div.done_u, Ty::u(8)),
        ("recip", div.recip, Ty::u(q_bits)),
    ] {
        let o = m.port(Dir::Output, name, ty);
        m.assign_expr(&o, expr);
    }
    m
}
