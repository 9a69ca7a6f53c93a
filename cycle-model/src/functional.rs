//! A plain, unscheduled implementation of one engine update: the same datapath
//! functions ([`crate::arith`]) applied in loops over outputs and slots, with an
//! ordinary stable sort for selection. It shares the arithmetic with the [`Engine`] but
//! none of its scheduling (lanes, pipeline registers, memories, insertion sorter), so
//! tests that compare the two check the engine's bookkeeping.
//!
//! [`Engine`]: crate::Engine

use lpn_golden::Mode;

use crate::arith::{Datapath, Saturations};
use crate::constants::mode_code;
use crate::image::{FixedState, StepInput, Wiring};

/// The state after one update, the selected slots and whether it was a descent step.
pub fn update(
    w: &Wiring,
    s: &FixedState,
    input: &StepInput,
    dp: &Datapath,
    stores_short: bool,
) -> (FixedState, Vec<u8>, bool) {
    let (outputs, k, inputs) = (w.outputs, w.k, w.inputs);
    let mut sat = Saturations::default();
    let recips = s.gate_recips(w, dp, &mut sat);
    let rr = dp.rows_recip(input.rows);
    let n = outputs * k;
    let (mut sig, mut co, mut score) = (vec![0; n], vec![0; n], vec![0; n]);
    let mut bias_dir = vec![0; outputs];
    for o in 0..outputs {
        let err_sum: i64 = (0..input.rows).map(|r| input.err[r * outputs + o]).sum();
        bias_dir[o] = dp.bias_direction(err_sum, rr);
        for j in 0..k {
            let i = o * k + j;
            let nb = w.neighbors[i] as usize;
            let (mut a, mut c) = (0i64, 0i64);
            for r in 0..input.rows {
                let x = input.pre[r * inputs + nb];
                a += dp.signal_product(input.err[r * outputs + o], x);
                c += dp.cofire_product(x, input.post[r * outputs + o]);
            }
            let valid = w.mask[i] != 0;
            let g = dp.gate(dp.effective_trail(s.short[i], s.long[i]), recips[o]);
            sig[i] = dp.signal(dp.signal_mean(a, rr), g, valid);
            co[i] = if valid {
                dp.cofire_mean(c, rr, &mut sat)
            } else {
                0
            };
            score[i] = dp.score(sig[i], s.long[i], &mut sat);
        }
    }
    let mut selected = vec![0u8; n];
    let mut descent = bias_dir.iter().any(|&b| b != 0);
    for o in 0..outputs {
        let slots: Vec<usize> = (0..k).filter(|&j| w.mask[o * k + j] != 0).collect();
        let max = slots.iter().map(|&j| score[o * k + j]).max().unwrap_or(0);
        if max <= 0 {
            continue;
        }
        let recent = (0..k).fold(0u64, |a, j| {
            a | (u64::from(s.last_accepted[o * k + j] & w.mask[o * k + j]) << j)
        });
        let mut keyed: Vec<(usize, i64)> = slots
            .iter()
            .map(|&j| {
                let frontier = recent == 0 || w.near[o * k + j] & recent != 0;
                let bonus = if input.mode == Mode::NeighborFollow && frontier {
                    dp.bonus(max)
                } else {
                    0
                };
                (j, score[o * k + j] + bonus)
            })
            .collect();
        keyed.sort_by_key(|&(_, key)| std::cmp::Reverse(key)); // stable: equal keys keep slot order
        for &(j, _) in keyed.iter().take(input.budget.min(slots.len())) {
            selected[o * k + j] = 1;
            descent |= sig[o * k + j] != 0;
        }
    }
    let accepted_any = descent && selected.iter().any(|&x| x != 0);
    let mc = mode_code(input.mode);
    let mut out = s.clone();
    for i in 0..n {
        let valid = w.mask[i] != 0;
        let sel = selected[i] != 0;
        let acc = sel && descent;
        let q = dp.plasticity(s.consolidation[i], valid);
        let base = dp.reinforcement_base(co[i], sig[i]);
        let stepped = dp.weight_step(s.weight[i], sig[i], q, sel && accepted_any, &mut sat);
        out.weight[i] = dp.weight_decay(
            stepped,
            dp.retain(dp.k.synapse_decay, q),
            valid && !sel && accepted_any,
        );
        out.short[i] = if !stores_short {
            0
        } else {
            dp.trail(
                s.short[i],
                dp.retain(dp.k.short_evaporation, q),
                base,
                dp.k.short_reinforcement[mc],
                acc,
                valid,
            )
        };
        out.long[i] = dp.trail(
            s.long[i],
            dp.retain(dp.k.long_evaporation, q),
            base,
            dp.k.long_reinforcement[mc],
            acc,
            valid,
        );
        out.consolidation[i] = dp.consolidation(
            s.consolidation[i],
            out.long[i],
            base,
            dp.k.consolidation_growth[mc],
            acc,
            input.consolidate,
            valid,
        );
        out.last_accepted[i] = u8::from(acc);
    }
    for ((b, &old), &bd) in out.bias.iter_mut().zip(&s.bias).zip(&bias_dir) {
        *b = dp.bias_step(old, bd, descent);
    }
    (out, selected, descent)
}
