//! APPLY: `apply_plast`, `apply_step`, `apply_decay`, `apply_consol`, `apply_write` and
//! the gate divider, as the model's stages of the same names.

use super::divider::{gate_divider, GateDivider};
use super::lane::Lane;
use super::*;

stage_regs! {
    /// `apply_plast` (the model's `ApplyPlast`): the issued slot; its words are read.
    ApplyPlast("apply_plast") { valid, u, k, a }
}
stage_regs! {
    /// `apply_step` (`ApplyStep`): plasticity, reinforcement base, the output's word.
    ApplyStep("apply_step") {
        valid, u, k, a, syn, signal, q, base, slot_valid, selected, mask, selected_bits, bias
    }
}
stage_regs! {
    /// `apply_decay` (`ApplyDecay`): the stepped weight and the retention factors.
    ApplyDecay("apply_decay") {
        valid, u, k, a, syn, stepped, retain_w, retain_s, retain_l, base, slot_valid,
        selected, mask, selected_bits, bias
    }
}
stage_regs! {
    /// `apply_consol` (`ApplyConsol`): the new weight and trails.
    ApplyConsol("apply_consol") {
        valid, u, k, a, c, w, s, p, base, slot_valid, accepted, mask, selected_bits, bias
    }
}
stage_regs! {
    /// `apply_write` (`ApplyWrite`): the slot's new word and its gate mass term.
    ApplyWrite("apply_write") {
        valid, u, k, a, w, s, p, c, effective, slot_valid, mask, selected_bits, bias
    }
}

/// What APPLY writes: the `syn` word of every slot, and on the output's first slot
/// its `bias` and `last_accepted`; the divider writes `gate_recip`.
pub(super) struct Applied {
    /// `apply_write`'s registers.
    pub write: ApplyWrite,
    /// The slot's new `syn` word.
    pub syn_word: Expr,
    /// The output's first slot (write `bias` and `last_accepted`).
    pub per_output: Expr,
    /// The accepted bits of this update.
    pub accepted_bits: Sig,
    /// The gate divider (its `done`, `done_u`, `recip` write `gate_recip`).
    pub divider: GateDivider,
}

/// Builds APPLY.
pub(super) fn apply(l: &mut Lane) -> Applied {
    crate::shared::set_phase(&mut l.m, 3);
    l.m.comment(
        "APPLY: apply_plast, apply_step, apply_decay, apply_consol, apply_write, gate divider",
    );
    let plast = apply_plast(l);
    let step = apply_step(l, &plast);
    let decay = apply_decay(l, &step);
    let consol = apply_consol(l, &decay);
    let write = apply_write_regs(l, &consol);
    apply_write(l, write)
}

/// `apply_plast`'s values at its last clock.
struct Plast {
    valid: Sig,
    u: Sig,
    k: Sig,
    a: Sig,
    syn: Sig,
    signal: Sig,
    q: Sig,
    base: Sig,
    slot_valid: Sig,
    mask: Sig,
    selected: Sig,
    bias: Sig,
}

/// `apply_plast`: the slot's plasticity and reinforcement base, and the output's bias
/// step.
fn apply_plast(l: &mut Lane) -> Plast {
    let issue = l.m.wire("apply_issue", Ty::BIT, issued(Phase::Apply));
    let (w, t, f, shape) = (l.w, l.e.t, &l.e.dp.f, l.shape);
    let r = ApplyPlast::declare(&mut l.m, Ty::BIT, Ty::u(w.u), Ty::u(w.k), Ty::u(w.a));
    let m = &mut l.m;
    let mem = &l.mem;
    let alias = |m: &mut Module, name: &str, src: &Sig| m.wire(name, src.ty, src);
    let syn = alias(m, "apply_plast_syn", &mem.syn.rd);
    let scr = alias(m, "apply_plast_scratch", &mem.scratch.rd);
    let mask = alias(m, "apply_plast_mask", &mem.mask.rd);
    let sel = alias(m, "apply_plast_selected", &mem.sel.rd);
    let bias = m.wire("apply_plast_bias", t.weight, Expr::signed(&mem.bias.rd));
    let bd = m.wire("apply_plast_bias_dir", t.signal, Expr::signed(&mem.bdir.rd));
    let ctl = &l.ctl;
    r.load(
        &mut l.rst,
        &mut l.seq,
        "apply_issue -> apply_plast (syn, scratch, mask, selected, bias, bias_dir read)",
        ApplyPlast {
            valid: x(&issue),
            u: x(&ctl.iss_u),
            k: x(&ctl.iss_k),
            a: x(&ctl.iss_a),
        },
    );
    let ram = l.ram_reg;
    let valid = m.delay_valid(&r.valid, ram);
    let [u, k, a, syn, scr, mask, sel, bias, bd] = ends(
        m,
        ram,
        [&r.u, &r.k, &r.a, &syn, &scr, &mask, &sel, &bias, &bd],
    );
    // apply_plast -> apply_step
    let c = m.wire(
        "apply_plast_c",
        t.consolidation,
        if shape.stores_c {
            Expr::field(&syn, shape.c_lo, f.consolidation.bits)
        } else {
            Expr::lit(t.consolidation, 0)
        },
    );
    let signal = m.wire(
        "apply_plast_signal",
        t.signal,
        Expr::signed(Expr::field(&scr, f.cofire.bits, f.signal.bits)),
    );
    let cofire = m.wire(
        "apply_plast_cofire",
        t.cofire,
        Expr::field(&scr, 0, f.cofire.bits),
    );
    let bits = m.wire(
        "apply_plast_mask_bits",
        Ty::u(shape.kk),
        Expr::field(&mask, 0, shape.kk),
    );
    let slot_valid = m.wire("apply_plast_slot_valid", Ty::BIT, bit(&bits, &k));
    let q = l.e.plasticity(m, &c, &slot_valid);
    let base = l.e.reinforcement_base(m, &cofire, &signal);
    // The output's bias step depends only on what was read with the slot and on the
    // descent flag, so it is computed here and carried; apply_write writes it on slot 0
    // (the model computes it there: the same value).
    let bias = l.e.bias_step(m, &bias, &bd, &l.ctl.descent);
    let pe = l.dd.apply_plast - 1;
    let valid = m.delay_valid(&valid, pe);
    let [u, k, a, syn, signal, q, base, slot_valid, mask, selected, bias] = ends(
        m,
        pe,
        [
            &u,
            &k,
            &a,
            &syn,
            &signal,
            &q,
            &base,
            &slot_valid,
            &mask,
            &sel,
            &bias,
        ],
    );
    Plast {
        valid,
        u,
        k,
        a,
        syn,
        signal,
        q,
        base,
        slot_valid,
        mask,
        selected,
        bias,
    }
}

/// `apply_step`: the weight step of a selected slot, and the retention factors.
fn apply_step(l: &mut Lane, pl: &Plast) -> ApplyStep {
    let (w, t, shape) = (l.w, l.e.t, l.shape);
    let r = ApplyStep::declare(
        &mut l.m,
        Ty::BIT,
        Ty::u(w.u),
        Ty::u(w.k),
        Ty::u(w.a),
        Ty::u(shape.syn_w),
        t.signal,
        pl.q.ty,
        pl.base.ty,
        Ty::BIT,
        Ty::BIT,
        shape.mask_ty(),
        Ty::u(shape.kk),
        t.weight,
    );
    r.load(
        &mut l.rst,
        &mut l.seq,
        "apply_plast -> apply_step (with the stepped bias)",
        ApplyStep {
            valid: x(&pl.valid),
            u: x(&pl.u),
            k: x(&pl.k),
            a: x(&pl.a),
            syn: x(&pl.syn),
            signal: x(&pl.signal),
            q: x(&pl.q),
            base: x(&pl.base),
            slot_valid: x(&pl.slot_valid),
            selected: bit(&pl.selected, &pl.k),
            mask: x(&pl.mask),
            selected_bits: x(&pl.selected),
            bias: x(&pl.bias),
        },
    );
    r
}

/// `apply_decay`: `apply_step`'s weight step and retention factors, taken over; the
/// decayed weight and the new trails.
fn apply_decay(l: &mut Lane, st: &ApplyStep) -> ApplyDecay {
    let (w, t, shape) = (l.w, l.e.t, l.shape);
    let m = &mut l.m;
    let weight = m.wire(
        "apply_step_w",
        t.weight,
        Expr::signed(Expr::field(&st.syn, 0, shape.wb)),
    );
    let steps = m.wire(
        "apply_step_steps",
        Ty::BIT,
        x(&st.selected).and(&l.ctl.accepted_any),
    );
    let stepped = l.e.weight_step(m, &weight, &st.signal, &st.q, &steps);
    let (rw, rs, rl) = l.e.retains(m, &st.q);
    let r = ApplyDecay::declare(
        m,
        Ty::BIT,
        Ty::u(w.u),
        Ty::u(w.k),
        Ty::u(w.a),
        Ty::u(shape.syn_w),
        t.weight,
        rw.ty,
        rs.ty,
        rl.ty,
        st.base.ty,
        Ty::BIT,
        Ty::BIT,
        shape.mask_ty(),
        Ty::u(shape.kk),
        t.weight,
    );
    let te = l.dd.apply_step - 1;
    // The per-output fields ride along like the model's `out` word.
    let [out_mask, out_selected, out_bias] = ends(m, te, [&st.mask, &st.selected_bits, &st.bias]);
    let valid = m.delay_valid(&st.valid, te);
    let [u, k, a, syn, stepped, rw, rs, rl, base, slot_valid, selected] = ends(
        m,
        te,
        [
            &st.u,
            &st.k,
            &st.a,
            &st.syn,
            &stepped,
            &rw,
            &rs,
            &rl,
            &st.base,
            &st.slot_valid,
            &st.selected,
        ],
    );
    r.load(
        &mut l.rst,
        &mut l.seq,
        "apply_step -> apply_decay",
        ApplyDecay {
            valid: x(&valid),
            u: x(&u),
            k: x(&k),
            a: x(&a),
            syn: x(&syn),
            stepped: x(&stepped),
            retain_w: x(&rw),
            retain_s: x(&rs),
            retain_l: x(&rl),
            base: x(&base),
            slot_valid: x(&slot_valid),
            selected: x(&selected),
            mask: x(&out_mask),
            selected_bits: x(&out_selected),
            bias: x(&out_bias),
        },
    );
    r
}

/// `apply_consol`: `apply_decay`'s new weight and trails taken over.
fn apply_consol(l: &mut Lane, d: &ApplyDecay) -> ApplyConsol {
    let (w, t, f, shape) = (l.w, l.e.t, &l.e.dp.f, l.shape);
    let m = &mut l.m;
    let ctl = &l.ctl;
    let decays = m.wire(
        "apply_decay_decays",
        Ty::BIT,
        x(&d.slot_valid).and(!x(&d.selected)).and(&ctl.accepted_any),
    );
    let accepted = m.wire(
        "apply_decay_accepted",
        Ty::BIT,
        x(&d.selected).and(&ctl.descent),
    );
    let weight = l.e.weight_decay(m, &d.stepped, &d.retain_w, &decays);
    let short = m.wire(
        "apply_decay_short",
        t.trail,
        if shape.stores_s {
            Expr::field(&d.syn, shape.s_lo, shape.tb)
        } else {
            Expr::lit(t.trail, 0)
        },
    );
    let long = m.wire(
        "apply_decay_long",
        t.trail,
        Expr::field(&d.syn, shape.p_lo, shape.tb),
    );
    // The stepped weight replaces the old one from here on.
    m.sink(&d.syn, 0, shape.wb);
    let (mode, valid) = (&ctl.mode, &d.slot_valid);
    let short = l.e.trail(
        m,
        "trail_short",
        &short,
        &d.retain_s,
        &d.base,
        false,
        mode,
        &accepted,
        valid,
    );
    let long = l.e.trail(
        m,
        "trail_long",
        &long,
        &d.retain_l,
        &d.base,
        true,
        mode,
        &accepted,
        valid,
    );
    let r = ApplyConsol::declare(
        m,
        Ty::BIT,
        Ty::u(w.u),
        Ty::u(w.k),
        Ty::u(w.a),
        t.consolidation,
        t.weight,
        t.trail,
        t.trail,
        d.base.ty,
        Ty::BIT,
        Ty::BIT,
        shape.mask_ty(),
        Ty::u(shape.kk),
        t.weight,
    );
    let de = l.dd.apply_decay - 1;
    // The per-output fields ride along like the model's `out` word.
    let [out_mask, out_selected, out_bias] = ends(m, de, [&d.mask, &d.selected_bits, &d.bias]);
    let c = m.wire(
        "apply_decay_consolidation",
        t.consolidation,
        if shape.stores_c {
            Expr::field(&d.syn, shape.c_lo, f.consolidation.bits)
        } else {
            Expr::lit(t.consolidation, 0)
        },
    );
    let v = m.delay_valid(&d.valid, de);
    let [u, k, a, c, weight, short, long, base, slot_valid, accepted] = ends(
        m,
        de,
        [
            &d.u,
            &d.k,
            &d.a,
            &c,
            &weight,
            &short,
            &long,
            &d.base,
            &d.slot_valid,
            &accepted,
        ],
    );
    r.load(
        &mut l.rst,
        &mut l.seq,
        "apply_decay -> apply_consol",
        ApplyConsol {
            valid: x(&v),
            u: x(&u),
            k: x(&k),
            a: x(&a),
            c: x(&c),
            w: x(&weight),
            s: x(&short),
            p: x(&long),
            base: x(&base),
            slot_valid: x(&slot_valid),
            accepted: x(&accepted),
            mask: x(&out_mask),
            selected_bits: x(&out_selected),
            bias: x(&out_bias),
        },
    );
    r
}

/// `apply_write`'s registers, taken from `apply_consol` with the new consolidation
/// state and the effective trail.
fn apply_write_regs(l: &mut Lane, cs: &ApplyConsol) -> ApplyWrite {
    let (w, t, shape) = (l.w, l.e.t, l.shape);
    let m = &mut l.m;
    let ctl = &l.ctl;
    let newc = l.e.consolidation(
        m,
        &cs.c,
        &cs.p,
        &cs.base,
        &ctl.mode,
        &cs.accepted,
        &ctl.consolidate,
        &cs.slot_valid,
    );
    let short = if shape.stores_s {
        cs.s.clone()
    } else {
        m.wire("apply_consol_short_dropped", t.trail, Expr::lit(t.trail, 0))
    };
    let eff = l.e.effective_trail(m, &short, &cs.p);
    let r = ApplyWrite::declare(
        m,
        Ty::BIT,
        Ty::u(w.u),
        Ty::u(w.k),
        Ty::u(w.a),
        t.weight,
        t.trail,
        t.trail,
        t.consolidation,
        eff.ty,
        Ty::BIT,
        shape.mask_ty(),
        Ty::u(shape.kk),
        t.weight,
    );
    let ce = l.dd.apply_consol - 1;
    // The per-output fields ride along like the model's `out` word.
    let [out_mask, out_selected, out_bias] = ends(m, ce, [&cs.mask, &cs.selected_bits, &cs.bias]);
    let v = m.delay_valid(&cs.valid, ce);
    let [u, k, a, weight, short, long, newc, eff, slot_valid] = ends(
        m,
        ce,
        [
            &cs.u,
            &cs.k,
            &cs.a,
            &cs.w,
            &short,
            &cs.p,
            &newc,
            &eff,
            &cs.slot_valid,
        ],
    );
    r.load(
        &mut l.rst,
        &mut l.seq,
        "apply_consol -> apply_write",
        ApplyWrite {
            valid: x(&v),
            u: x(&u),
            k: x(&k),
            a: x(&a),
            w: x(&weight),
            s: x(&short),
            p: x(&long),
            c: x(&newc),
            effective: x(&eff),
            slot_valid: x(&slot_valid),
            mask: x(&out_mask),
            selected_bits: x(&out_selected),
            bias: x(&out_bias),
        },
    );
    r
}

/// `apply_write`: the `syn` write-back, the output's gate mass (a running sum over its
/// slots), its bias and accepted bits, and the divider's start on the output's last slot.
fn apply_write(l: &mut Lane, wr: ApplyWrite) -> Applied {
    let (w, shape) = (l.w, l.shape);
    let k = l.c.layer.k;
    let mut word = vec![Expr::bits_of(&wr.w), x(&wr.p)];
    if shape.stores_s {
        word.push(x(&wr.s));
    }
    if shape.stores_c {
        word.push(x(&wr.c));
    }
    word.reverse();
    let m = &mut l.m;
    let mass_ty = Ty::u(wr.effective.ty.width + bits_for(k as u64 + 1));
    let mass = m.reg("mass", mass_ty);
    let first = m.wire(
        "apply_write_first_slot",
        Ty::BIT,
        x(&wr.k).eq(Expr::lit(Ty::u(w.k), 0)),
    );
    let last = m.wire(
        "apply_write_last_slot",
        Ty::BIT,
        x(&wr.k).eq(Expr::lit(Ty::u(w.k), k as i128 - 1)),
    );
    let zero = m.wire("mass_zero", mass_ty, Expr::lit(mass_ty, 0));
    let base = m.mux("mass_base", &first, &zero, &mass);
    let skip = m.wire("mass_skip", wr.effective.ty, Expr::lit(wr.effective.ty, 0));
    let term = m.mux("mass_term", &wr.slot_valid, &wr.effective, &skip);
    let next = m.add("mass_sum", &base, &term);
    let next = m.cast(&next, mass_ty);
    let accepted_bits = m.wire(
        "apply_write_accepted_bits",
        Ty::u(shape.kk),
        Expr::Repeat(shape.kk, Box::new(x(&l.ctl.descent))).and(&wr.selected_bits),
    );
    // Divider operands: the valid count and max(mass, 1) (the dividend is the count
    // shifted, built in `gate_divider`).
    let cnt_ty = Ty::u(shape.valid_w);
    let count = m.wire(
        "apply_write_valid_count",
        cnt_ty,
        Expr::field(&wr.mask, shape.kk, shape.valid_w),
    );
    m.sink(&wr.mask, 0, shape.kk);
    // max(mass, 1) of an unsigned mass: bit 0 set when the mass is 0 (a zero test,
    // not a compare and a multiplexer in front of the divider's first compare).
    assert!(mass_ty.width >= 2 && !mass_ty.signed);
    let floor = |dm: &Sig| {
        Expr::Concat(vec![
            Expr::slice(dm, mass_ty.width - 1, 1),
            Expr::bit_of(dm, 0).or(x(dm).eq(Expr::lit(mass_ty, 0))),
        ])
    };
    // div_operands (deep): the valid count and max(mass, 1) registered, so that
    // neither the zero test nor the first compare follows the mass adder in one clock,
    // and the first compare starts from a register like every later one.
    let mut dsq: Vec<Stmt> = Vec::new();
    let last_write = x(&wr.valid).and(&last);
    let (d_count, den, d_valid, d_u) = match l.dd.div_operands {
        0 => (
            count.clone(),
            m.wire("divider_divisor_floor", mass_ty, floor(&next)),
            last_write,
            x(&wr.u),
        ),
        1 => {
            let ov = m.reg("div_operands_valid", Ty::BIT);
            let ou = m.reg("div_operands_u", Ty::u(w.u));
            let oc = m.reg("div_operands_count", cnt_ty);
            let om = m.reg("div_operands_divisor", mass_ty);
            l.rst.push(set(&ov, Expr::bit(false)));
            dsq.extend([
                set(&ov, last_write),
                set(&ou, &wr.u),
                set(&oc, &count),
                set(&om, floor(&next)),
            ]);
            (oc, om, x(&ov), x(&ou))
        }
        n => panic!(
            "div_operands = {n}: the generator registers the divider's operands at most once"
        ),
    };
    let divider = gate_divider(m, l.c, &d_valid, (&d_u, w.u), &d_count, &den);
    dsq.extend(divider.seq.iter().cloned());
    l.rst.extend(divider.rst.iter().cloned());
    for p in &divider.blocks {
        m.process(p.clone());
    }
    // apply_write is one clock deep (its gate mass is a running sum): nothing it writes
    // may come out of a pipeline register of its own.
    for s in [&next, &divider.overflow, &wr.bias] {
        assert!(s.at.unwrap_or(0) == 0, "{} is late in apply_write", s.name);
    }
    l.seq.push(Stmt::Comment(
        "apply_write: gate mass (syn, bias, last_accepted written in the port blocks)".into(),
    ));
    l.seq.push(Stmt::when(&wr.valid, vec![set(&mass, &next)]));
    l.seq
        .push(Stmt::Comment(format!("gate divider ({})", divider.comment)));
    l.seq.extend(dsq);
    Applied {
        syn_word: Expr::Concat(word),
        per_output: x(&wr.valid).and(&first),
        write: wr,
        accepted_bits,
        divider,
    }
}
