//! The contract between a host and the LPN engine, derived from the configuration
//! alone (no Verilog is generated to learn it):
//!
//! - the host memory map: the selectors ([`sel`]), the width of every memory's host
//!   word ([`word_bits`]), the engine's signal widths ([`Widths`]) and the memories a host
//!   can reach ([`host_memories`]);
//! - [`hostmap`]: which host words hold the layer, a batch and the learned state;
//! - [`protocol`]: the framed UART protocol (constants, CRC, frames, [`protocol::Link`]).
//!
//! The generator (`lpn-rtl`) builds the engine's host port and the bridge from these;
//! the host driver (`lpn-host`) talks to them.
#![warn(missing_docs)]

pub mod hostmap;
pub mod protocol;

use lpn_cycle::arith::Datapath;
use lpn_cycle::format::bits_for;
use lpn_cycle::layout::SynLayout;
use lpn_cycle::HwConfig;
use serde::Serialize;

/// Host memory selectors (`host_sel`).
pub mod sel {
    /// Synapse word `{C?, S?, P, w}` at slot address `u*K + k` of a lane.
    pub const SYN: u64 = 0;
    /// `{near, nbr}` at slot address.
    pub const NBR: u64 = 1;
    /// Pre-synaptic activity at `input*max_rows + row` (written to every lane's replica).
    pub const PRE: u64 = 2;
    /// `{err, post}` at `u*max_rows + row`.
    pub const POST_ERR: u64 = 3;
    /// `{valid_count, mask}` of local output `u`.
    pub const MASK: u64 = 4;
    /// Gate reciprocal of local output `u`.
    pub const RECIP: u64 = 5;
    /// Bias of local output `u`.
    pub const BIAS: u64 = 6;
    /// Accepted bits of the last update, local output `u`.
    pub const LAST_ACCEPTED: u64 = 7;
    /// Selected bits of the last update, local output `u` (read only).
    pub const SELECTED: u64 = 8;
}

/// Bits of a host word of each memory, indexed by selector ([`sel`]).
pub fn word_bits(c: &HwConfig, dp: &Datapath) -> [u32; 9] {
    let f = &dp.f;
    let k = c.layer.k as u32;
    [
        c.syn_bits(),
        bits_for(c.layer.inputs as u64) + k,
        f.activation.bits,
        f.activation.bits + f.error.bits,
        k + bits_for(u64::from(k) + 1),
        f.gate_recip.bits,
        f.weight.bits,
        k,
        k,
    ]
}

/// Widths of the engine's control and host signals.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Widths {
    /// Local output index.
    pub u: u32,
    /// Slot index within an output.
    pub k: u32,
    /// Row index.
    pub r: u32,
    /// Slot address within a lane.
    pub a: u32,
    /// Input index.
    pub nbr: u32,
    /// Budget (1..=K).
    pub budget: u32,
    /// Rows register (1..=max_rows).
    pub rows: u32,
    /// Lane index.
    pub lane: u32,
    /// Host address.
    pub host_addr: u32,
    /// Host data.
    pub host_data: u32,
    /// Phase cycle counter.
    pub t: u32,
}

impl Widths {
    /// The widths of a configuration.
    pub fn new(c: &HwConfig, dp: &Datapath) -> Widths {
        let u = c.outputs_per_lane();
        let k = c.layer.k;
        let nbr = bits_for(c.layer.inputs as u64);
        let words = word_bits(c, dp);
        let depths = [u * k, c.max_rows * c.layer.inputs, c.max_rows * u, u];
        let longest = (c.max_rows + 2) * u * k + 64;
        Widths {
            u: bits_for(u as u64),
            k: bits_for(k as u64),
            r: bits_for(c.max_rows as u64),
            a: bits_for((u * k) as u64),
            nbr,
            budget: bits_for(k as u64 + 1),
            rows: bits_for(c.max_rows as u64 + 1),
            lane: bits_for(c.lanes as u64),
            host_addr: depths
                .iter()
                .map(|&d| bits_for(d as u64))
                .max()
                .unwrap_or(1),
            host_data: words.into_iter().max().unwrap_or(1),
            t: bits_for(longest as u64),
        }
    }
}

/// A memory the host can reach.
#[derive(Debug, Clone, Serialize)]
pub struct HostMemory {
    /// `host_sel` value.
    pub sel: u64,
    /// Name.
    pub name: &'static str,
    /// Word layout, most significant field first.
    pub layout: String,
    /// Address.
    pub address: &'static str,
    /// Words per lane (addresses `0..depth`).
    pub depth: usize,
    /// Bits per word (a host word with higher bits set is refused by the bridge).
    pub bits: u32,
    /// Readable.
    pub readable: bool,
    /// Writable.
    pub writable: bool,
}

/// The memories a host can reach through the engine's host port, by selector.
pub fn host_memories(c: &HwConfig, dp: &Datapath) -> Vec<HostMemory> {
    let f = &dp.f;
    let w = Widths::new(c, dp);
    let (u, uk) = (c.outputs_per_lane(), c.slots_per_lane());
    let bits = word_bits(c, dp);
    vec![
        HostMemory {
            sel: sel::SYN,
            name: "syn",
            layout: SynLayout::new(c).describe(c),
            address: "u*K + k",
            depth: uk,
            bits: bits[sel::SYN as usize],
            readable: true,
            writable: true,
        },
        HostMemory {
            sel: sel::NBR,
            name: "nbr",
            layout: format!("near u{}, input u{}", c.layer.k, w.nbr),
            address: "u*K + k",
            depth: uk,
            bits: bits[sel::NBR as usize],
            readable: true,
            writable: true,
        },
        HostMemory {
            sel: sel::PRE,
            name: "pre",
            layout: format!("pre s{}", f.activation.bits),
            address: "input*max_rows + row (all lanes)",
            depth: c.layer.inputs * c.max_rows,
            bits: bits[sel::PRE as usize],
            readable: false,
            writable: true,
        },
        HostMemory {
            sel: sel::POST_ERR,
            name: "post_err",
            layout: format!("err s{}, post s{}", f.error.bits, f.activation.bits),
            address: "u*max_rows + row",
            depth: u * c.max_rows,
            bits: bits[sel::POST_ERR as usize],
            readable: false,
            writable: true,
        },
        HostMemory {
            sel: sel::MASK,
            name: "mask",
            layout: format!("valid_count u{}, mask u{}", w.budget, c.layer.k),
            address: "u",
            depth: u,
            bits: bits[sel::MASK as usize],
            readable: true,
            writable: true,
        },
        HostMemory {
            sel: sel::RECIP,
            name: "gate_recip",
            layout: format!("gate_recip u{}", f.gate_recip.bits),
            address: "u",
            depth: u,
            bits: bits[sel::RECIP as usize],
            readable: true,
            writable: true,
        },
        HostMemory {
            sel: sel::BIAS,
            name: "bias",
            layout: format!("bias s{}", f.weight.bits),
            address: "u",
            depth: u,
            bits: bits[sel::BIAS as usize],
            readable: true,
            writable: true,
        },
        HostMemory {
            sel: sel::LAST_ACCEPTED,
            name: "last_accepted",
            layout: format!("accepted u{}", c.layer.k),
            address: "u",
            depth: u,
            bits: bits[sel::LAST_ACCEPTED as usize],
            readable: true,
            writable: true,
        },
        HostMemory {
            sel: sel::SELECTED,
            name: "selected",
            layout: format!("selected u{}", c.layer.k),
            address: "u",
            depth: u,
            bits: bits[sel::SELECTED as usize],
            readable: true,
            writable: false,
        },
    ]
}
