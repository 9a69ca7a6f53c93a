//! Which host words hold what: the layer, a batch and the learned state as accesses of
//! the engine's host port (`host_sel`, lane, address, word). One description for every
//! host: the Verilator co-simulation harness (`lpn_flow::cosim`) and the board driver
//! (`lpn-host`), which groups consecutive addresses into bursts.

use lpn_cycle::arith::{Datapath, Saturations};
use lpn_cycle::{FixedState, HwConfig, StepInput, Wiring};

use lpn_cycle::layout::{Field, SynLayout};

use crate::{sel, Widths};

/// One word of a host memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Access {
    /// Memory selector ([`crate::sel`]).
    pub sel: u64,
    /// Lane.
    pub lane: usize,
    /// Address within the lane's memory.
    pub addr: usize,
}

/// A host write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostWrite {
    /// Where.
    pub at: Access,
    /// The word.
    pub word: u64,
}

/// A word of `bits` bits starting at bit 0 (host words that are one value).
fn whole(bits: u32) -> Field {
    Field { lo: 0, bits }
}

/// Lane and local index of output `o`.
fn place(c: &HwConfig, o: usize) -> (usize, usize) {
    (o % c.lanes, o / c.lanes)
}

/// Outputs of lane `l`, in local order.
fn lane_outputs(c: &HwConfig, outputs: usize, l: usize) -> impl Iterator<Item = usize> {
    (l..outputs).step_by(c.lanes)
}

/// The writes that load a layer (wiring and state), lane by lane and memory by memory in
/// address order. Checks the wiring and state against the configuration first.
pub fn layer_writes(
    c: &HwConfig,
    wiring: &Wiring,
    initial: &FixedState,
) -> Result<Vec<HostWrite>, String> {
    let dp = Datapath::new(c).map_err(|e| e.to_string())?;
    wiring.check(c).map_err(|e| e.to_string())?;
    initial.check(wiring, &dp).map_err(|e| e.to_string())?;
    let w = Widths::new(c, &dp);
    let k = c.layer.k;
    let layout = SynLayout::new(c);
    let mut sat = Saturations::default();
    let recips = initial.gate_recips(wiring, &dp, &mut sat);
    let mut out = Vec::new();
    let mut put = |sel: u64, lane: usize, addr: usize, word: u64| {
        out.push(HostWrite {
            at: Access { sel, lane, addr },
            word,
        })
    };
    for l in 0..c.lanes {
        for o in lane_outputs(c, wiring.outputs, l) {
            let u = place(c, o).1;
            for j in 0..k {
                put(sel::SYN, l, u * k + j, initial.syn_word(&layout, o * k + j));
            }
        }
        for o in lane_outputs(c, wiring.outputs, l) {
            let u = place(c, o).1;
            for j in 0..k {
                let i = o * k + j;
                put(
                    sel::NBR,
                    l,
                    u * k + j,
                    (wiring.near[i] << w.nbr) | wiring.neighbors[i] as u64,
                );
            }
        }
        let per_output: [(u64, &dyn Fn(usize) -> u64); 4] = [
            (sel::MASK, &|o| {
                wiring.mask_bits(o) | (u64::from(wiring.valid_count(o)) << k)
            }),
            (sel::RECIP, &|o| recips[o] as u64),
            (sel::BIAS, &|o| whole(dp.f.weight.bits).put(initial.bias[o])),
            (sel::LAST_ACCEPTED, &|o| {
                (0..k).fold(0u64, |acc, j| {
                    let i = o * k + j;
                    acc | u64::from(initial.last_accepted[i] & wiring.mask[i]) << j
                })
            }),
        ];
        for (s, word) in per_output {
            for o in lane_outputs(c, wiring.outputs, l) {
                put(s, l, place(c, o).1, word(o));
            }
        }
    }
    Ok(out)
}

/// The writes that load one update's batch (`pre` for every lane at once, then
/// `post_err` lane by lane), after checking it against the configuration.
pub fn batch_writes(c: &HwConfig, input: &StepInput) -> Result<Vec<HostWrite>, String> {
    let dp = Datapath::new(c).map_err(|e| e.to_string())?;
    input.check(c, &dp).map_err(|e| e.to_string())?;
    let f = &dp.f;
    let (inputs, outputs, max_rows) = (c.layer.inputs, c.layer.outputs, c.max_rows);
    let mut out = Vec::new();
    for j in 0..inputs {
        for r in 0..input.rows {
            out.push(HostWrite {
                at: Access {
                    sel: sel::PRE,
                    lane: 0,
                    addr: j * max_rows + r,
                },
                word: whole(f.activation.bits).put(input.pre[r * inputs + j]),
            });
        }
    }
    let err_field = Field {
        lo: f.activation.bits,
        bits: f.error.bits,
    };
    for l in 0..c.lanes {
        for o in lane_outputs(c, outputs, l) {
            let u = place(c, o).1;
            for r in 0..input.rows {
                // {err, post}: post in the low bits.
                let word = whole(f.activation.bits).put(input.post[r * outputs + o])
                    | err_field.put(input.err[r * outputs + o]);
                out.push(HostWrite {
                    at: Access {
                        sel: sel::POST_ERR,
                        lane: l,
                        addr: u * max_rows + r,
                    },
                    word,
                });
            }
        }
    }
    Ok(out)
}

/// The reads that fetch the learned state of `outputs` outputs after an update: per lane
/// the `syn` words, then `bias`, `last_accepted` and `selected` (the order
/// [`decode_state`] takes the words in).
pub fn state_reads(c: &HwConfig, outputs: usize) -> Vec<Access> {
    let k = c.layer.k;
    let mut out = Vec::new();
    for l in 0..c.lanes {
        let n = lane_outputs(c, outputs, l).count();
        out.extend((0..n * k).map(|addr| Access {
            sel: sel::SYN,
            lane: l,
            addr,
        }));
        for s in [sel::BIAS, sel::LAST_ACCEPTED, sel::SELECTED] {
            out.extend((0..n).map(|addr| Access {
                sel: s,
                lane: l,
                addr,
            }));
        }
    }
    out
}

/// The state and selection bits from the words of [`state_reads`], in that order.
pub fn decode_state(
    c: &HwConfig,
    outputs: usize,
    words: &[u64],
) -> Result<(FixedState, Vec<u8>), String> {
    let want = state_reads(c, outputs).len();
    if words.len() != want {
        return Err(format!("expected {want} state words, got {}", words.len()));
    }
    let dp = Datapath::new(c).map_err(|e| e.to_string())?;
    let layout = SynLayout::new(c);
    let k = c.layer.k;
    let mut st = FixedState::zeros(outputs, k);
    let mut selected = vec![0u8; outputs * k];
    let mut it = words.iter().copied();
    let mut next = || it.next().unwrap_or(0);
    for l in 0..c.lanes {
        let outs: Vec<usize> = lane_outputs(c, outputs, l).collect();
        for &o in &outs {
            for j in 0..k {
                st.set_syn_word(&layout, next(), o * k + j);
            }
        }
        for &o in &outs {
            st.bias[o] = whole(dp.f.weight.bits).get(next(), true);
        }
        for &o in &outs {
            let w = next();
            for j in 0..k {
                st.last_accepted[o * k + j] = ((w >> j) & 1) as u8;
            }
        }
        for &o in &outs {
            let w = next();
            for j in 0..k {
                selected[o * k + j] = ((w >> j) & 1) as u8;
            }
        }
    }
    Ok((st, selected))
}
