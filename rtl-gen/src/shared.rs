//! The shared pipeline's multipliers (`pipeline = "shared"`).
//!
//! The compact pipeline's stages, stepped once every `step_clocks` clocks (`adv`, the
//! last clock of a step). Within a step every stage's inputs hold still, so the
//! products its logic needs can be computed one after another, and the products of
//! every stage share a few multiplier units instead of each having its own. A unit
//! takes one 16 x 16 unsigned partial product per clock, in three registered steps:
//!
//! 1. `operands`: the operands of the product scheduled at this (phase, clock) are
//!    chosen, their magnitudes and the product's sign registered, with the limb pair;
//! 2. `multiply`: the two 16-bit limbs multiplied (one iCE40 `SB_MAC16`), registered;
//! 3. `sum`: the partial product shifted into place and added to (or, for a negative
//!    product, subtracted from) the running sum; on a product's last partial the sum
//!    is the exact product and goes to the product's register.
//!
//! A product's partials run on one unit in consecutive clocks; a product's register is
//! readable [`PRODUCT_CLOCKS`] clocks after its last partial is issued. The schedule is
//! made once, at generation, in the order the datapath asks for products (list
//! scheduling: each product at the earliest clock any unit has room for it after its
//! operands are ready), with the fewest units for which every product is ready by the
//! step's last clock ([`MAX_UNITS`] at most); it decides, for every unit, which operands
//! its multiplexers pass at each clock of each phase. A step too short for that is a
//! generation error naming the product that did not fit.

use crate::ir::{BinOp, Expr, Process, Stmt, UnOp};
use crate::ir::{Sig, Ty};
use crate::rtl::Module;

use crate::schedule::Product;
pub use crate::schedule::{LIMB, MAX_UNITS, PRODUCT_CLOCKS};

/// The product as the datapath reads it: bits `drop..kept` of its register `reg`,
/// extended (by sign when signed) to its type, zeros below `drop`.
pub(crate) fn product_wire(reg: &Sig, ty: Ty, kept: u32, drop: u32) -> Expr {
    let held = kept - drop;
    let slice = Expr::slice(reg, held - 1, 0);
    let ext = ty.width - kept;
    let mut parts = Vec::new();
    if ext > 0 {
        parts.push(if ty.signed {
            Expr::Repeat(ext, Box::new(Expr::bit_of(reg, held - 1)))
        } else {
            Expr::bits(ext, 0)
        });
    }
    parts.push(slice);
    if drop > 0 {
        parts.push(Expr::bits(drop, 0));
    }
    let body = Expr::concat(parts);
    if ty.signed {
        Expr::signed(body)
    } else {
        body
    }
}

/// Sets the phase (1 ACCUMULATE, 2 SELECT, 3 APPLY) whose stages ask for the products
/// that follow: products of different phases never run together, so they may take the
/// same clock of a unit. Does nothing outside the shared pipeline.
pub fn set_phase(m: &mut Module, phase: u8) {
    if let Some(sh) = m.schedule() {
        sh.phase = phase;
    }
}

/// Tells the schedule that nothing reads the `bits` lowest bits of the shared product
/// `p` (a rounding shift by `bits + 1`, a floor shift by `bits`): its register keeps
/// only the bits above them (the wire, written by [`emit_units`], reads zeros there).
/// Does nothing for other values. The caller guarantees `p` has no other reader.
pub fn product_low_unused(m: &mut Module, p: &Sig, bits: u32) {
    let Some(sh) = m.schedule() else {
        return;
    };
    if let Some(prod) = sh.products.iter_mut().find(|x| x.dest.name == p.name) {
        prod.drop = bits.min(prod.kept - 2);
    }
}

/// `a * b`, exact, from a shared multiplier unit: a register valid from the clock of
/// the step the schedule gives it.
pub fn mul(m: &mut Module, name: &str, a: &Sig, b: &Sig) -> Sig {
    // A signed operand goes first, so that a unit whose second operands are all
    // unsigned needs no magnitude logic for them.
    let (a, b) = if b.ty.signed && !a.ty.signed {
        (b, a)
    } else {
        (a, b)
    };
    let signed = a.ty.signed || b.ty.signed;
    let bits = |t: Ty| t.width + u32::from(signed && !t.signed);
    let ty = Ty {
        width: bits(a.ty) + bits(b.ty),
        signed,
    };
    // A learning constant needs only the bits of its value (most are far below their
    // format's 24), a product of such values no more than theirs: every limb saved is
    // a clock of a unit.
    let (big_a, big_b) = (m.largest(a), m.largest(b));
    if big_a == 0 || big_b == 0 {
        // A constant 0 (a feature weighted out, such as `short_weight = 0`).
        let z = m.wire_at(name, ty, Expr::lit(ty, 0), None);
        m.bound(&z, 0);
        return z;
    }
    let mag_of = |v: u128| (128 - v.leading_zeros()).max(1);
    let mag = (mag_of(big_a), mag_of(big_b));
    let ready = a.at.unwrap_or(0).max(b.at.unwrap_or(0));
    let sh = m.schedule().expect("a shared product on a shared module");
    let phase = sh.phase;
    let n = mag.0.div_ceil(LIMB) * mag.1.div_ceil(LIMB);
    let (unit, start) = match sh.place(ready, n) {
        Some(p) => p,
        None => {
            if sh.error.is_none() {
                sh.error = Some(format!(
                    "step_clocks = {}: the product `{name}` ({n} partial products of 16 x 16 bits, operands readable from clock {ready}) cannot be ready by the step's last clock; raise step_clocks",
                    sh.step
                ));
            }
            (0, 0)
        }
    };
    let ready_at = start + n - 1 + PRODUCT_CLOCKS;
    // The register keeps the bits the product's magnitude bound needs (and a sign),
    // often far fewer than its type's: the wire extends them. Which register holds it
    // is decided, and the wire written, once every product is known (`emit_units`).
    let big = big_a.saturating_mul(big_b);
    let kept = ((128 - big.leading_zeros()) + u32::from(signed)).clamp(2, ty.width);
    let dest = m.wire_at(name, ty, Expr::lit(ty, 0), Some(ready_at));
    m.mark_registered(&dest);
    if let Some(big) = big_a.checked_mul(big_b) {
        m.bound(&dest, big);
    }
    let sh = m.schedule().expect("shared");
    if sh.error.is_none() {
        sh.products.push(Product {
            dest: dest.clone(),
            a: a.clone(),
            b: b.clone(),
            phase,
            unit,
            start,
            mag,
            index: 0,
            kept,
            drop: 0,
        });
    }
    dest
}

/// The phases' names, for comments.
fn phase_name(p: u8) -> &'static str {
    match p {
        1 => "ACCUMULATE",
        2 => "SELECT",
        _ => "APPLY",
    }
}

/// Emits the shared multiplier units the schedule needs: `slot` is `{phase, step
/// clock}`, `sub_bits` the width of the step clock. Returns the number of units (one
/// `SB_MAC16` each on iCE40).
pub fn emit_units(m: &mut Module, slot: &Sig, sub_bits: u32) -> usize {
    let Some(mut sh) = m.schedule().cloned() else {
        return 0;
    };
    // Registers: phases never run together, so on each unit the widest product of
    // each phase shares the first register, the next widest the second, and so on (a
    // register is as wide as its widest product, loaded from that unit's sum alone);
    // then every product's wire reads its register.
    for u in 0..sh.units() {
        for phase in 1..=3u8 {
            let mut mine: Vec<usize> = (0..sh.products.len())
                .filter(|&i| sh.products[i].unit == u && sh.products[i].phase == phase)
                .collect();
            mine.sort_by_key(|&i| std::cmp::Reverse(sh.products[i].kept - sh.products[i].drop));
            for (rank, &i) in mine.iter().enumerate() {
                sh.products[i].index = rank;
            }
        }
    }
    for p in &sh.products {
        let reg = Sig::named(
            &format!("mul{}_r{}", p.unit, p.index),
            Ty::u(p.kept - p.drop),
        );
        m.rewire(&p.dest, product_wire(&reg, p.dest.ty, p.kept, p.drop));
    }
    for u in 0..sh.units() {
        let ps: Vec<&Product> = sh.products.iter().filter(|p| p.unit == u).collect();
        emit_unit(m, u, &ps, slot, sub_bits);
    }
    sh.units()
}

/// One unit: the operand multiplexers (by `{phase, step clock}`), the magnitudes and
/// the product's sign, the 16 x 16 partial product, and the running sum loaded into
/// each product's register on its last partial.
fn emit_unit(m: &mut Module, u: usize, ps: &[&Product], slot: &Sig, sub_bits: u32) {
    let key = |phase: u8, clock: u32| {
        Expr::lit(slot.ty, (i128::from(phase) << sub_bits) | i128::from(clock))
    };
    let lim = |n: u32| Ty::u(lpn_cycle::format::bits_for(u64::from(n)));
    let wa = ps.iter().map(|p| p.mag.0).max().unwrap_or(1);
    let wb = ps.iter().map(|p| p.mag.1).max().unwrap_or(1);
    let (la, lb) = (wa.div_ceil(LIMB), wb.div_ceil(LIMB));
    // The sum is exact in magnitude bits plus a sign, and as wide as every product's
    // register (which takes its low bits).
    let aw = ps
        .iter()
        .map(|p| (p.mag.0 + p.mag.1 + 1).max(p.kept))
        .max()
        .unwrap_or(0)
        .max(2 * LIMB + 1);
    let n = format!("mul{u}");
    m.comment(&format!(
        "Shared multiplier unit {u}: {} products; operands (magnitudes of up to {wa} x {wb} bits), 16 x 16 partial products, sums.",
        ps.len()
    ));
    // Operands as signed values one bit wider than their magnitudes, or, when no
    // product on the unit has a signed one, as the magnitudes themselves.
    let signed_a = ps.iter().any(|p| p.a.ty.signed);
    let signed_b = ps.iter().any(|p| p.b.ty.signed);
    let op_ty = |signed: bool, w: u32| if signed { Ty::s(w + 1) } else { Ty::u(w) };
    let a_in = m.comb(&format!("{n}_a_in"), op_ty(signed_a, wa), Some(0));
    let b_in = m.comb(&format!("{n}_b_in"), op_ty(signed_b, wb), Some(0));
    let li_in = m.comb(&format!("{n}_li_in"), lim(la), Some(0));
    let lj_in = m.comb(&format!("{n}_lj_in"), lim(lb), Some(0));
    let first_in = m.comb(&format!("{n}_first_in"), Ty::BIT, Some(0));
    let regs = ps.iter().map(|p| p.index + 1).max().unwrap_or(0);
    let held: Vec<Sig> = (0..regs)
        .map(|i| {
            let width = ps
                .iter()
                .filter(|p| p.index == i)
                .map(|p| p.kept - p.drop)
                .max()
                .unwrap_or(1);
            m.reg(&format!("{n}_r{i}"), Ty::u(width))
        })
        .collect();
    // The multiplexers take each operand once, with the clocks of every partial
    // product that reads it.
    type Source = (Sig, Vec<Expr>, Vec<String>);
    let mut a_src: Vec<Source> = Vec::new();
    let mut b_src: Vec<Source> = Vec::new();
    let mut ctl_arms = Vec::new();
    let mut loads = Vec::new();
    let sum = Sig::named(&format!("{n}_sum"), Ty::u(aw));
    for p in ps {
        let (pa, pb) = p.limbs();
        let xa = m.cast(&p.a, a_in.ty);
        let xb = m.cast(&p.b, b_in.ty);
        let clocks: Vec<Expr> = (0..p.partials())
            .map(|i| key(p.phase, p.start + i))
            .collect();
        let what = format!(
            "{} (clocks {}..{} of {})",
            p.dest.name,
            p.start,
            p.start + p.partials() - 1,
            phase_name(p.phase)
        );
        for (src, x) in [(&mut a_src, &xa), (&mut b_src, &xb)] {
            match src.iter_mut().find(|(s, _, _)| s.name == x.name) {
                Some((_, labels, uses)) => {
                    labels.extend(clocks.iter().cloned());
                    uses.push(what.clone());
                }
                None => src.push((x.clone(), clocks.clone(), vec![what.clone()])),
            }
        }
        for i in 0..pa {
            for j in 0..pb {
                let idx = i * pb + j;
                ctl_arms.push((
                    vec![key(p.phase, p.start + idx)],
                    vec![
                        Stmt::set(&li_in, Expr::lit(li_in.ty, i.into())),
                        Stmt::set(&lj_in, Expr::lit(lj_in.ty, j.into())),
                        Stmt::set(&first_in, Expr::bit(idx == 0)),
                    ],
                ));
            }
        }
        // The product's bits `drop..kept`, below the register's others (which only a
        // wider product of another phase reads).
        let reg = &held[p.index];
        let bits = p.kept - p.drop;
        let value = if bits == aw {
            Expr::from(&sum)
        } else {
            Expr::slice(&sum, p.kept - 1, p.drop)
        };
        loads.push(Stmt::Comment(p.dest.name.clone()));
        loads.push(Stmt::when(
            Expr::from(slot).eq(key(p.phase, p.start + p.partials() - 1 + 2)),
            vec![Stmt::set(reg, Expr::zext(value, bits, reg.ty.width))],
        ));
    }
    for (port, src) in [(&a_in, &a_src), (&b_in, &b_src)] {
        let arms = src
            .iter()
            .map(|(s, labels, uses)| {
                (
                    labels.clone(),
                    vec![Stmt::Comment(uses.join(", ")), Stmt::set(port, s)],
                )
            })
            .collect();
        m.process(Process::comb(vec![
            Stmt::set(port, Expr::lit(port.ty, 0)),
            Stmt::Case(Expr::from(slot), arms, Vec::new()),
        ]));
    }
    m.process(Process::comb(vec![
        Stmt::set(&li_in, Expr::lit(li_in.ty, 0)),
        Stmt::set(&lj_in, Expr::lit(lj_in.ty, 0)),
        Stmt::set(&first_in, Expr::bit(false)),
        Stmt::Case(Expr::from(slot), ctl_arms, Vec::new()),
    ]));
    // Operands: magnitudes and the product's sign, registered.
    let mag_a = magnitude(m, &n, "a", &a_in, signed_a, wa);
    let mag_b = magnitude(m, &n, "b", &b_in, signed_b, wb);
    let reg = |m: &mut Module, name: &str, ty: Ty| m.reg(&format!("{n}_{name}"), ty);
    let a_q = reg(m, "a_q", Ty::u(la * LIMB));
    let b_q = reg(m, "b_q", Ty::u(lb * LIMB));
    let neg_q = reg(m, "neg_q", Ty::BIT);
    let li_q = reg(m, "li_q", li_in.ty);
    let lj_q = reg(m, "lj_q", lj_in.ty);
    let first_q = reg(m, "first_q", Ty::BIT);
    let p_q = reg(m, "product_q", Ty::u(2 * LIMB));
    let neg_q2 = reg(m, "neg_q2", Ty::BIT);
    let first_q2 = reg(m, "first_q2", Ty::BIT);
    let sh_ty = Ty::u(lpn_cycle::format::bits_for(u64::from(la + lb - 1)));
    let sh_q2 = reg(m, "shift_q2", sh_ty);
    let acc = reg(m, "acc", Ty::u(aw));
    // Limb `idx` of a register of `l` limbs: bits `16 * idx` up.
    let limb = |q: &Sig, l: u32, idx: &Sig| {
        if l == 1 {
            Expr::from(q)
        } else {
            Expr::PartSelect {
                of: q.name.clone(),
                base: Box::new(Expr::Concat(vec![Expr::from(idx), Expr::bits(4, 0)])),
                width: LIMB,
            }
        }
    };
    let x = m.wire_across(&format!("{n}_x"), Ty::u(LIMB), limb(&a_q, la, &li_q));
    let y = m.wire_across(&format!("{n}_y"), Ty::u(LIMB), limb(&b_q, lb, &lj_q));
    let placed = Expr::zext(&p_q, 2 * LIMB, aw);
    let term = m.wire_across(
        &format!("{n}_term"),
        Ty::u(aw),
        if la + lb == 2 {
            placed
        } else {
            Expr::bin(
                BinOp::Shl,
                placed,
                Expr::Concat(vec![Expr::from(&sh_q2), Expr::bits(4, 0)]),
            )
        },
    );
    let term_neg = m.wire_across(
        &format!("{n}_term_neg"),
        Ty::u(aw),
        Expr::un(UnOp::Neg, &term),
    );
    let sum = m.wire_across(
        &sum.name,
        Ty::u(aw),
        Expr::bin(
            BinOp::Add,
            Expr::mux(&first_q2, Expr::lit(Ty::u(aw), 0), &acc),
            Expr::mux(&neg_q2, &term_neg, &term),
        ),
    );
    let pad = |mag: &Sig, l: u32| Expr::zext(mag, mag.ty.width, l * LIMB);
    let sign = match (signed_a, signed_b) {
        (true, true) => Expr::bin(BinOp::Xor, Expr::bit_of(&a_in, wa), Expr::bit_of(&b_in, wb)),
        (true, false) => Expr::bit_of(&a_in, wa),
        (false, true) => Expr::bit_of(&b_in, wb),
        (false, false) => Expr::bit(false),
    };
    let shift = if la + lb == 2 {
        Expr::bit(false)
    } else {
        Expr::bin(
            BinOp::Add,
            Expr::zext(&li_q, li_q.ty.width, sh_ty.width),
            Expr::zext(&lj_q, lj_q.ty.width, sh_ty.width),
        )
    };
    let mut body = vec![
        Stmt::Comment("operands".into()),
        Stmt::set(&a_q, pad(&mag_a, la)),
        Stmt::set(&b_q, pad(&mag_b, lb)),
        Stmt::set(&neg_q, sign),
        Stmt::set(&li_q, &li_in),
        Stmt::set(&lj_q, &lj_in),
        Stmt::set(&first_q, &first_in),
        Stmt::Comment("multiply".into()),
        Stmt::set(&p_q, Expr::bin(BinOp::Mul, &x, &y)),
        Stmt::set(&neg_q2, &neg_q),
        Stmt::set(&first_q2, &first_q),
        Stmt::set(&sh_q2, shift),
        Stmt::Comment("sum".into()),
        Stmt::set(&acc, &sum),
    ];
    body.extend(loads);
    m.process(Process::clocked(body));
}

/// A unit's operand magnitude `<unit>_<side>_mag` (`w` bits) from its multiplexed
/// operand: the absolute value of a signed operand, the operand itself when unsigned.
fn magnitude(m: &mut Module, unit: &str, side: &str, input: &Sig, signed: bool, w: u32) -> Sig {
    let name = format!("{unit}_{side}_mag");
    if !signed {
        return m.wire_across(&name, Ty::u(w), input);
    }
    let neg = m.wire_across(
        &format!("{unit}_{side}_neg"),
        Ty::s(w + 1),
        Expr::un(UnOp::Neg, input),
    );
    let mag = m.wire_across(
        &name,
        Ty::u(w),
        Expr::mux(
            Expr::bit_of(input, w),
            Expr::slice(&neg, w - 1, 0),
            Expr::slice(input, w - 1, 0),
        ),
    );
    m.wire_across(
        &format!("{unit}_{side}_neg_unused"),
        Ty::BIT,
        Expr::bit_of(&neg, w),
    );
    mag
}
