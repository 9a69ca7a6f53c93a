//! The cycle-accurate engine. One [`Engine::tick`] is one clock. The structure is the
//! RTL's: per lane the same memories, the same pipeline registers (named after their
//! stage, `docs/architecture.md`), one slot per lane per cycle in every phase.
//!
//! Phases of one update (U outputs per lane, K slots, R rows):
//! - ACCUMULATE, `G*U*K + accumulate drain` cycles (G = R, or with `row_parallel` P > 1
//!   `max(ceil(R / P), lanes)` groups of P rows): stages `acc_issue` (read `nbr`),
//!   `acc_fetch` (read `pre`, `post_err`; on the last row also `syn` and `outputs`),
//!   `acc_mult` (with P > 1 its adder tree over the group), `acc_sum` (exact
//!   accumulators), then the normaliser `norm_mean`,
//!   `norm_gate`, `norm_signal`, `norm_score` (write `scratch`, running max, bias
//!   direction).
//! - SELECT, `U*K + select drain`: `sel_issue` (read `scratch`, `syn`, `nbr`, `outputs`),
//!   `sel_key` (score, frontier, bonus), `sel_insert` (stable insertion sorter),
//!   `sel_commit` (top `min(budget, valid)`, descent test).
//! - APPLY, `U*K + write latency + divider`: `apply_issue` (read `syn`, `scratch`,
//!   `outputs`), `apply_plast`, `apply_step`, `apply_decay`, `apply_consol`,
//!   `apply_write` (write `syn`, gate mass, bias, accepted bits), then the gate divider:
//!   `div_operands` (deep pipeline only), then [`divider_units`] units `div_unit0..`
//!   taking the outputs' divisions in turn (compact) or stages `div_0..div_{Q-1}`
//!   (deep), one quotient bit per clock (Q = gate_recip bits), writing
//!   `outputs.gate_recip` Q clocks after the start.
//!
//! The shared pipeline (`pipeline = "shared"`) is the compact one stepped on the last
//! of every `step_clocks` clocks (every clock counts in the phase); its divider units
//! decide a bit every clock and write [`division_steps`] steps after the start. In the
//! lines above, a cycle is then a step.

use lpn_golden::Mode;
use serde::{Deserialize, Serialize};

use crate::arith::{Datapath, SatPoint, Saturations};
use crate::config::{HwConfig, Pipeline};
use crate::constants::mode_code;
use crate::image::{FixedState, StepInput, Wiring};
use crate::{Error, Result};

/// Clocks each pipeline stage takes from its input register to the next stage's (one
/// in the `compact` pipeline). One table for the model, which holds a stage's work in a
/// delay line this long, and for the generator, which places that many registers inside
/// the stage's logic (after memory reads, multipliers and rounding adds). Stages with a
/// feedback loop (`acc_sum`'s running sums, `sel_insert`'s sorter, `apply_write`'s gate
/// mass) always take one clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StageDepths {
    /// `acc_fetch`: the `pre` / `post_err` read address from the neighbour index.
    pub acc_fetch: u32,
    /// `acc_mult`: the two products.
    pub acc_mult: u32,
    /// `acc_mult`'s adder tree over the `row_parallel` rows' products (its clocks come
    /// after the products'): `log2 row_parallel` in the deep pipeline, 0 otherwise (the
    /// compact pipeline sums in the products' clock).
    pub acc_tree: u32,
    /// `acc_sum`: the running sums (one clock: feedback).
    pub acc_sum: u32,
    /// `norm_mean`: row means, bias direction, effective trail.
    pub norm_mean: u32,
    /// `norm_gate`: the gate.
    pub norm_gate: u32,
    /// `norm_signal`: the gated, clipped signal.
    pub norm_signal: u32,
    /// `norm_score`: the score, running maximum and `scratch` write.
    pub norm_score: u32,
    /// `sel_key`: score, frontier, bonus, key.
    pub sel_key: u32,
    /// `sel_insert`: the insertion sorter (one clock: feedback).
    pub sel_insert: u32,
    /// `sel_commit`: the selection and the descent test.
    pub sel_commit: u32,
    /// `apply_plast`: plasticity and reinforcement base.
    pub apply_plast: u32,
    /// `apply_step`: the learning step and the retention factors.
    pub apply_step: u32,
    /// `apply_decay`: weight decay and clip, the trails.
    pub apply_decay: u32,
    /// `apply_consol`: consolidation, the new effective trail.
    pub apply_consol: u32,
    /// `apply_write`: write-back, gate mass (one clock: feedback).
    pub apply_write: u32,
    /// `div_operands`: clocks between the gate mass and the start of its division in a
    /// divider unit: 0 computes `max(mass, 1)` and the first quotient bit in the clock
    /// the mass is summed; 1 registers the dividend and `max(mass, 1)` first.
    pub div_operands: u32,
    /// Registers on a memory's read path besides the block RAM's own read register
    /// (counted in the depth of the stage that reads it): 0, or (deep) the read
    /// address's register (it drives blocks spread over the device), a register beside
    /// each block RAM (its data comes 5.8 ns after the clock on ECP5), and, after the
    /// multiplexer over the blocks stacked in depth, one in the stage.
    pub ram_regs: u32,
}

impl StageDepths {
    /// The depths of a configuration's pipeline.
    pub fn of(c: &HwConfig) -> StageDepths {
        match c.pipeline {
            // The shared pipeline is the compact one stepped every `step_clocks` clocks.
            Pipeline::Compact | Pipeline::Shared => StageDepths {
                acc_fetch: 1,
                acc_mult: 1,
                acc_tree: 0,
                acc_sum: 1,
                norm_mean: 1,
                norm_gate: 1,
                norm_signal: 1,
                norm_score: 1,
                sel_key: 1,
                sel_insert: 1,
                sel_commit: 1,
                apply_plast: 1,
                apply_step: 1,
                apply_decay: 1,
                apply_consol: 1,
                apply_write: 1,
                div_operands: 0,
                ram_regs: 0,
            },
            // What the generator's registers need with every feature on (gate, bias,
            // short trail, consolidation; a configuration that needs fewer pads), and
            // apply_consol one more so that the write latency stays odd.
            Pipeline::Deep => StageDepths {
                acc_fetch: 4,
                acc_mult: 6,
                acc_tree: c.bank_bits(),
                acc_sum: 1,
                norm_mean: 4,
                norm_gate: 4,
                norm_signal: 3,
                norm_score: 3,
                sel_key: 6,
                sel_insert: 1,
                sel_commit: 2,
                apply_plast: 8,
                apply_step: 6,
                apply_decay: 5,
                apply_consol: 11,
                apply_write: 1,
                div_operands: 1,
                ram_regs: 3,
            },
        }
    }

    /// Clocks from a host read's address (`host_sel`, `host_lane`, `host_addr`) to its
    /// word on `host_rdata`: 1 is the block RAM's read register alone; with `ram_regs`,
    /// the memory's read path up to `<memory>_rd` (`ram_regs` clocks), then the selected
    /// word registered (the engine is idle while the host reads, so this costs nothing
    /// but the bridge's wait).
    pub fn host_read(&self) -> u32 {
        if self.ram_regs == 0 {
            1
        } else {
            self.ram_regs + 1
        }
    }

    /// Cycles from the last ACCUMULATE issue to its last `scratch` write.
    pub fn accumulate_drain(&self) -> u64 {
        u64::from(
            self.acc_fetch
                + self.acc_mult
                + self.acc_tree
                + self.acc_sum
                + self.norm_mean
                + self.norm_gate
                + self.norm_signal
                + self.norm_score,
        )
    }

    /// Cycles from the last SELECT issue to its last commit.
    pub fn select_drain(&self) -> u64 {
        u64::from(self.sel_key + self.sel_insert + self.sel_commit)
    }

    /// Cycles from an APPLY issue to its `syn` write. Odd (checked by a test), so that a
    /// read and a write in the same cycle always hit different even/odd banks.
    pub fn apply_write_latency(&self) -> u64 {
        u64::from(
            self.apply_plast
                + self.apply_step
                + self.apply_decay
                + self.apply_consol
                + self.apply_write,
        )
    }
}

/// A pipeline stage's input register, `depth` clocks long: what is put in one clock is
/// taken `depth` clocks later (a delay line standing for the registers the RTL has
/// inside the stage's logic).
#[derive(Debug, Clone)]
struct Stage<T> {
    line: std::collections::VecDeque<Option<T>>,
    incoming: Option<T>,
}

impl<T> Stage<T> {
    fn new(depth: u32) -> Stage<T> {
        Stage {
            line: (0..depth.max(1)).map(|_| None).collect(),
            incoming: None,
        }
    }
    /// What entered `depth` clocks ago.
    fn take(&mut self) -> Option<T> {
        self.line.back_mut().and_then(Option::take)
    }
    /// Enters this clock.
    fn put(&mut self, x: Option<T>) {
        self.incoming = x;
    }
    fn clock(&mut self) {
        let out = self.line.pop_back();
        debug_assert!(
            out.is_none_or(|x| x.is_none()),
            "a stage's work was not taken"
        );
        self.line.push_front(self.incoming.take());
    }
    fn is_empty(&self) -> bool {
        self.incoming.is_none() && self.line.iter().all(Option::is_none)
    }
}

/// The update's phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Waiting for `start`.
    Idle,
    /// Row passes: signal and co-firing sums, normalisation.
    Accumulate,
    /// Scores, frontier, top-k, descent test.
    Select,
    /// Weight, trail, consolidation, bias updates; gate reciprocals.
    Apply,
    /// Finished; state readable.
    Done,
}

impl Phase {
    /// The phase's name in reports (`accumulate`, as serialised).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Accumulate => "accumulate",
            Phase::Select => "select",
            Phase::Apply => "apply",
            Phase::Done => "done",
        }
    }
}

/// Cycle counts of one update.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cycles {
    /// ACCUMULATE phase.
    pub accumulate: u64,
    /// SELECT phase.
    pub select: u64,
    /// APPLY phase (divider drain included).
    pub apply: u64,
    /// All phases.
    pub total: u64,
}

/// What one update did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UpdateReport {
    /// Cycles per phase.
    pub cycles: Cycles,
    /// Slots selected (before the descent test).
    pub selected: u64,
    /// Slots accepted (selected on a descent step).
    pub accepted: u64,
    /// Whether the step was a descent step.
    pub descent: bool,
}

/// The per-phase cycle formula: `((G + 2) * U * K + latency) * step_clocks`, with
/// `G = max(ceil(rows / P), lanes)` ACCUMULATE row groups per slot
/// ([`HwConfig::row_groups`]; `G = rows` when `row_parallel` is 1), latency = the three phases' drains
/// ([`phase_drains`]); `step_clocks` is 1 except in the shared pipeline
/// ([`HwConfig::step_clocks`]).
pub fn cycle_formula(c: &HwConfig, rows: usize) -> Cycles {
    let s = u64::from(c.step_clocks());
    let steps = step_formula(c, rows);
    Cycles {
        accumulate: steps.accumulate * s,
        select: steps.select * s,
        apply: steps.apply * s,
        total: steps.total * s,
    }
}

/// The cycle formula as text for reports: `(rows + 2) * U*K + latency` (with `rows`
/// as the row groups, `max(ceil(rows / P), lanes)`, when `row_parallel` is P > 1), in
/// brackets times `step_clocks` for the shared pipeline.
pub fn cycle_formula_text(c: &HwConfig) -> String {
    let groups = match (c.row_parallel, c.lanes) {
        (1, _) => "rows".to_string(),
        (p, 1) => format!("ceil(rows / {p})"),
        (p, l) => format!("max(ceil(rows / {p}), {l})"),
    };
    let f = format!(
        "({groups} + 2) * {} + {}",
        c.slots_per_lane(),
        pipeline_latency(c)
    );
    match c.step_clocks() {
        1 => f,
        s => format!("({f}) * {s}"),
    }
}

/// Pipeline steps per phase: [`cycle_formula`] before the clocks per step.
pub fn step_formula(c: &HwConfig, rows: usize) -> Cycles {
    let slots = c.slots_per_lane() as u64;
    let (acc_drain, sel_drain, apply_drain) = phase_drains(c);
    let accumulate = c.row_groups(rows) as u64 * slots + acc_drain;
    let select = slots + sel_drain;
    let apply = slots + apply_drain;
    Cycles {
        accumulate,
        select,
        apply,
        total: accumulate + select + apply,
    }
}

/// The cycles each phase runs after its last issue: the ACCUMULATE and SELECT drains,
/// and the APPLY write latency plus the divider (its operand registers and Q clocks,
/// one per quotient bit; [`StageDepths`]).
pub fn phase_drains(c: &HwConfig) -> (u64, u64, u64) {
    let d = StageDepths::of(c);
    (
        d.accumulate_drain(),
        d.select_drain(),
        d.apply_write_latency() + u64::from(d.div_operands) + division_steps(c),
    )
}

/// Pipeline steps from the start of a division to its reciprocal's write: Q (one
/// quotient bit per clock, a clock per step), or in the shared pipeline, whose divider
/// units decide a bit every clock and write on a step, `ceil(Q / step_clocks)`.
pub fn division_steps(c: &HwConfig) -> u64 {
    let q = u64::from(c.formats.gate_recip.bits);
    q.div_ceil(u64::from(c.step_clocks()))
}

/// Units of the gate divider: `ceil(Q / K)` in the compact pipeline; 0 in the deep one,
/// whose divider is pipelined (stages `div_0..div_{Q-1}`, one quotient bit each). A
/// division starts on each output's last slot, K clocks after the previous one, and
/// keeps its unit Q clocks (one quotient bit per clock), so that many units taken in
/// turn keep up with APPLY, at a fraction of a pipeline's registers and subtractors.
/// The deep pipeline keeps the stages: its ECP5 preset's 100 MHz was measured with them
/// (with units it placed at 97 MHz, the critical path elsewhere; docs/fpga.md). Either
/// writes the reciprocal Q clocks after the division starts. The shared pipeline's
/// units decide a bit every clock and write on the step after the last bit
/// ([`division_steps`] steps after the start), so `ceil(division_steps / K)` of them
/// keep up (one for the defaults).
pub fn divider_units(c: &HwConfig) -> usize {
    match c.pipeline {
        Pipeline::Compact | Pipeline::Shared => (division_steps(c) as usize).div_ceil(c.layer.k),
        Pipeline::Deep => 0,
    }
}

/// The fixed pipeline latency of an update (cycles beyond `(G + 2) * U * K`).
pub fn pipeline_latency(c: &HwConfig) -> u64 {
    let (a, s, p) = phase_drains(c);
    a + s + p
}

/// Something that runs engine updates on a loaded layer: the cycle model ([`Engine`]),
/// or the hardware behind the host link (`lpn-host`'s board driver). The trainer
/// ([`crate::train::Trainer`]) drives either.
pub trait Accelerator {
    /// Loads wiring and state.
    fn load(&mut self, wiring: &Wiring, state: &FixedState) -> Result<()>;
    /// Runs one update on a batch.
    fn update(&mut self, input: &StepInput) -> Result<UpdateReport>;
    /// The learned state and the last update's selection bits.
    fn state(&mut self) -> Result<(FixedState, Vec<u8>)>;
    /// Saturations counted so far (the cycle model counts them; hardware does not).
    fn saturations(&self) -> Saturations {
        Saturations::default()
    }
}

impl Accelerator for Engine {
    fn load(&mut self, wiring: &Wiring, state: &FixedState) -> Result<()> {
        Engine::load(self, wiring, state)
    }
    fn update(&mut self, input: &StepInput) -> Result<UpdateReport> {
        Engine::update(self, input)
    }
    fn state(&mut self) -> Result<(FixedState, Vec<u8>)> {
        Ok((self.read_state(), self.selected()))
    }
    fn saturations(&self) -> Saturations {
        Engine::saturations(self)
    }
}

/// A word of the `syn` memory: the learned state of one slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Syn {
    w: i64,
    s: i64,
    p: i64,
    c: i64,
}

/// A word of the per-output `outputs` memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct OutWord {
    mask: u64,
    valid: u32,
    max_score: i64,
    selected: u64,
    last_accepted: u64,
    gate_recip: i64,
    bias_dir: i64,
    bias: i64,
}

/// A single-read-port, single-write-port memory that checks it is used as one.
#[derive(Debug, Clone)]
struct Ram<T> {
    words: Vec<T>,
    reads: u8,
    writes: u8,
}

impl<T: Copy + Default> Ram<T> {
    fn new(depth: usize) -> Self {
        Ram {
            words: vec![T::default(); depth],
            reads: 0,
            writes: 0,
        }
    }
    fn read(&mut self, a: usize) -> T {
        self.reads += 1;
        debug_assert!(self.reads <= 1, "two reads in one cycle");
        self.words[a]
    }
    fn write(&mut self, a: usize, v: T) {
        self.writes += 1;
        debug_assert!(self.writes <= 1, "two writes in one cycle");
        self.words[a] = v;
    }
    fn clock(&mut self) {
        self.reads = 0;
        self.writes = 0;
    }
}

// Pipeline registers: each holds what its stage consumes this cycle.
/// `r` is the row group: rows `r*P .. r*P + P` (P = `row_parallel`; 1 row when P = 1).
#[derive(Debug, Clone, Copy)]
struct AccFetch {
    u: usize,
    k: usize,
    r: usize,
    nbr: usize,
}
/// The group's words, one per bank (`pre[p]` is row `r*P + p`).
#[derive(Debug, Clone)]
struct AccMult {
    u: usize,
    k: usize,
    r: usize,
    pre: Vec<i64>,
    post: Vec<i64>,
    err: Vec<i64>,
    syn: Syn,
    out: OutWord,
}
#[derive(Debug, Clone, Copy)]
struct AccSum {
    u: usize,
    k: usize,
    r: usize,
    sig_product: i64,
    cofire_product: i64,
    err: i64,
    syn: Syn,
    out: OutWord,
}
#[derive(Debug, Clone, Copy)]
struct NormMean {
    u: usize,
    k: usize,
    sig_acc: i64,
    co_acc: i64,
    err_acc: i64,
    syn: Syn,
    out: OutWord,
}
#[derive(Debug, Clone, Copy)]
struct NormGate {
    u: usize,
    k: usize,
    mean: i64,
    cofire: i64,
    effective: i64,
    bias_dir: i64,
    long: i64,
    out: OutWord,
}
#[derive(Debug, Clone, Copy)]
struct NormSignal {
    u: usize,
    k: usize,
    mean: i64,
    gate: i64,
    cofire: i64,
    bias_dir: i64,
    long: i64,
    valid: bool,
    out: OutWord,
}
#[derive(Debug, Clone, Copy)]
struct NormScore {
    u: usize,
    k: usize,
    signal: i64,
    cofire: i64,
    bias_dir: i64,
    long: i64,
    out: OutWord,
}
#[derive(Debug, Clone, Copy)]
struct SelKey {
    u: usize,
    k: usize,
    signal: i64,
    long: i64,
    near: u64,
    out: OutWord,
}
#[derive(Debug, Clone, Copy)]
struct SelInsert {
    u: usize,
    k: usize,
    key: i64,
    valid: bool,
    nonzero: bool,
    out: OutWord,
}
#[derive(Debug, Clone)]
struct SelCommit {
    u: usize,
    order: Vec<(u8, i64)>,
    nonzero: u64,
    out: OutWord,
}
#[derive(Debug, Clone, Copy)]
struct ApplyPlast {
    u: usize,
    k: usize,
    syn: Syn,
    signal: i64,
    cofire: i64,
    out: OutWord,
}
#[derive(Debug, Clone, Copy)]
struct ApplyStep {
    u: usize,
    k: usize,
    syn: Syn,
    signal: i64,
    q: i64,
    base: i64,
    valid: bool,
    selected: bool,
    out: OutWord,
}
#[derive(Debug, Clone, Copy)]
struct ApplyDecay {
    u: usize,
    k: usize,
    syn: Syn,
    stepped: i64,
    retain_w: i64,
    retain_s: i64,
    retain_l: i64,
    base: i64,
    valid: bool,
    selected: bool,
    out: OutWord,
}
#[derive(Debug, Clone, Copy)]
struct ApplyConsol {
    u: usize,
    k: usize,
    c: i64,
    new: Syn,
    base: i64,
    valid: bool,
    selected: bool,
    out: OutWord,
}
#[derive(Debug, Clone, Copy)]
struct ApplyWrite {
    u: usize,
    k: usize,
    new: Syn,
    effective: i64,
    valid: bool,
    out: OutWord,
}
/// A division for the gate divider: the output, its operands and the flags that
/// override the quotient.
#[derive(Debug, Clone, Copy)]
struct DividerStart {
    u: usize,
    dividend: i128,
    divisor: i128,
    overflow: bool,
    empty: bool,
}

/// One stage register of the pipelined gate divider.
#[derive(Debug, Clone, Copy)]
struct DividerStage {
    u: usize,
    remainder: i128,
    divisor: i128,
    quotient: i64,
    overflow: bool,
    empty: bool,
}

/// One gate-divider unit: a restoring division, one quotient bit per clock, most
/// significant first, in shift-register form. `remainder` is the partial remainder;
/// `low` holds the dividend's low Q bits not yet brought down, and the quotient's bits
/// shift in behind them, so after Q steps `low` is the quotient.
#[derive(Debug, Clone, Copy)]
struct DividerUnit {
    u: usize,
    remainder: i128,
    low: i64,
    divisor: i128,
    overflow: bool,
    empty: bool,
    /// Quotient bits still to decide (shared pipeline: steps still to wait); 0: the
    /// result is written this step.
    left: u32,
}

/// One lane: its memories and pipeline registers.
#[derive(Debug, Clone)]
struct Lane {
    /// The lane's number: with a shared `pre` it reads row group `(j + index) mod G` at
    /// a slot's issue `j`.
    index: usize,
    syn: Ram<Syn>,
    scratch: Ram<(i64, i64)>,
    nbr: Ram<(u32, u64)>,
    /// `post_err` in `row_parallel` banks: bank `row % P` holds `{post, err}` of local
    /// output `u`, row `row` at `u * max_rows / P + row / P`.
    post_err: Vec<Ram<(i64, i64)>>,
    outputs: Ram<OutWord>,
    /// `outputs` has a second, write-only port for the divider's result.
    recip_writes: Vec<(usize, i64)>,

    acc_fetch: Stage<AccFetch>,
    acc_mult: Stage<AccMult>,
    acc_sum: Stage<AccSum>,
    sig_acc: i64,
    co_acc: i64,
    err_acc: i64,
    norm_mean: Stage<NormMean>,
    norm_gate: Stage<NormGate>,
    norm_signal: Stage<NormSignal>,
    norm_score: Stage<NormScore>,
    running_max: i64,
    bias_dir: i64,

    sel_key: Stage<SelKey>,
    sel_insert: Stage<SelInsert>,
    sorter: Vec<(u8, i64)>,
    nonzero: u64,
    sel_commit: Stage<SelCommit>,

    apply_plast: Stage<ApplyPlast>,
    apply_step: Stage<ApplyStep>,
    apply_decay: Stage<ApplyDecay>,
    apply_consol: Stage<ApplyConsol>,
    apply_write: Stage<ApplyWrite>,
    mass: i64,
    /// The divider's operand registers (`div_operands` of them, 0 or 1).
    div_operands: Vec<Option<DividerStart>>,
    /// The pipelined divider's stages `div_0..div_{Q-1}` (when [`divider_units`] is 0).
    div_stages: Vec<Option<DividerStage>>,
    /// The divider units ([`divider_units`]); a division starts in `div_next`, and the
    /// next one in the unit after it.
    div_units: Vec<Option<DividerUnit>>,
    div_next: usize,
    /// Shared pipeline: a unit decides every quotient bit in the clocks of the steps
    /// after its start (all of them before its write), not one bit per step.
    div_per_clock: bool,
    /// Steps from a division's start to its write ([`division_steps`]).
    div_steps: u32,
}

/// The cycle-accurate sparse-trail update engine.
#[derive(Debug, Clone)]
pub struct Engine {
    config: HwConfig,
    dp: Datapath,
    lanes: Vec<Lane>,
    /// Pre-synaptic activity, input-major (`input * max_rows + row`); per lane a
    /// replica in hardware, in `row_parallel` banks (bank `row % P`) read at once.
    pre: Vec<i64>,
    // Host-written registers.
    rows: usize,
    rows_recip: i64,
    budget: usize,
    mode: Mode,
    consolidate: bool,
    // Control.
    phase: Phase,
    /// Steps into the current phase.
    t: u64,
    /// Clocks into the current step (shared pipeline).
    sub: u32,
    cycles: Cycles,
    // Flags raised during the update.
    bias_nonzero: bool,
    select_descent: bool,
    selected_any: bool,
    descent: bool,
    selected_count: u64,
    /// The lanes' registered counts of selected slots, added to `selected_count` a
    /// clock after their commit ([`HwConfig::retimed_commit`]).
    selected_count_q: u64,
    loaded: bool,
    sat: Saturations,
    /// Which optional `syn` fields exist (see [`HwConfig::stores_short`]).
    stores_short: bool,
    stores_consolidation: bool,
}

impl Engine {
    /// An engine for a configuration (validated here).
    pub fn new(config: &HwConfig) -> Result<Engine> {
        config.validate()?;
        let dp = Datapath::new(config)?;
        let per_lane = config.slots_per_lane();
        let u = config.outputs_per_lane();
        let depths = StageDepths::of(config);
        let lane = Lane {
            index: 0,
            syn: Ram::new(per_lane),
            scratch: Ram::new(per_lane),
            nbr: Ram::new(per_lane),
            post_err: vec![
                Ram::new(u * config.max_rows / config.row_parallel);
                config.row_parallel
            ],
            outputs: Ram::new(u),
            recip_writes: Vec::new(),
            acc_fetch: Stage::new(depths.acc_fetch),
            acc_mult: Stage::new(depths.acc_mult + depths.acc_tree),
            acc_sum: Stage::new(depths.acc_sum),
            sig_acc: 0,
            co_acc: 0,
            err_acc: 0,
            norm_mean: Stage::new(depths.norm_mean),
            norm_gate: Stage::new(depths.norm_gate),
            norm_signal: Stage::new(depths.norm_signal),
            norm_score: Stage::new(depths.norm_score),
            running_max: 0,
            bias_dir: 0,
            sel_key: Stage::new(depths.sel_key),
            sel_insert: Stage::new(depths.sel_insert),
            sorter: Vec::with_capacity(config.layer.k),
            nonzero: 0,
            sel_commit: Stage::new(depths.sel_commit),
            apply_plast: Stage::new(depths.apply_plast),
            apply_step: Stage::new(depths.apply_step),
            apply_decay: Stage::new(depths.apply_decay),
            apply_consol: Stage::new(depths.apply_consol),
            apply_write: Stage::new(depths.apply_write),
            mass: 0,
            div_operands: vec![None; depths.div_operands as usize],
            div_stages: vec![
                None;
                if divider_units(config) == 0 {
                    config.formats.gate_recip.bits as usize
                } else {
                    0
                }
            ],
            div_units: vec![None; divider_units(config)],
            div_next: 0,
            div_per_clock: config.pipeline == Pipeline::Shared,
            div_steps: division_steps(config) as u32,
        };
        Ok(Engine {
            config: config.clone(),
            dp,
            lanes: (0..config.lanes)
                .map(|index| Lane {
                    index,
                    ..lane.clone()
                })
                .collect(),
            pre: vec![0; config.layer.inputs * config.max_rows],
            rows: 1,
            rows_recip: 0,
            budget: 1,
            mode: Mode::Warmup,
            consolidate: false,
            phase: Phase::Idle,
            t: 0,
            sub: 0,
            cycles: Cycles::default(),
            bias_nonzero: false,
            select_descent: false,
            selected_any: false,
            descent: false,
            selected_count: 0,
            selected_count_q: 0,
            loaded: false,
            sat: Saturations::default(),
            stores_short: config.stores_short(),
            stores_consolidation: config.stores_consolidation(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &HwConfig {
        &self.config
    }

    /// The datapath (formats and constants).
    pub fn datapath(&self) -> &Datapath {
        &self.dp
    }

    /// Saturation counters since the engine was built.
    pub fn saturations(&self) -> Saturations {
        self.sat
    }

    /// Where output `o` lives: (lane, local index).
    fn place(&self, o: usize) -> (usize, usize) {
        (o % self.config.lanes, o / self.config.lanes)
    }

    /// Loads wiring and state (host writes while idle). Gate reciprocals are computed
    /// by the host with the divider's function.
    pub fn load(&mut self, wiring: &Wiring, state: &FixedState) -> Result<()> {
        self.require_idle()?;
        wiring.check(&self.config)?;
        state.check(wiring, &self.dp)?;
        let k = self.config.layer.k;
        let recips = state.gate_recips(wiring, &self.dp, &mut self.sat);
        for lane in &mut self.lanes {
            lane.outputs.words.fill(OutWord::default());
            lane.syn.words.fill(Syn::default());
            lane.nbr.words.fill((0, 0));
        }
        for (o, &recip) in recips.iter().enumerate() {
            let (l, u) = self.place(o);
            let lane = &mut self.lanes[l];
            let mut last = 0u64;
            for j in 0..k {
                let i = o * k + j;
                // Fields the configuration does not store read as 0.
                lane.syn.words[u * k + j] = Syn {
                    w: state.weight[i],
                    s: if self.stores_short { state.short[i] } else { 0 },
                    p: state.long[i],
                    c: if self.stores_consolidation {
                        state.consolidation[i]
                    } else {
                        0
                    },
                };
                lane.nbr.words[u * k + j] = (wiring.neighbors[i], wiring.near[i]);
                last |= u64::from(state.last_accepted[i] & wiring.mask[i]) << j;
            }
            lane.outputs.words[u] = OutWord {
                mask: wiring.mask_bits(o),
                valid: wiring.valid_count(o),
                last_accepted: last,
                gate_recip: recip,
                bias: state.bias[o],
                ..OutWord::default()
            };
        }
        self.loaded = true;
        Ok(())
    }

    /// Writes one update's inputs and control registers (host writes while idle).
    pub fn load_inputs(&mut self, input: &StepInput) -> Result<()> {
        self.require_idle()?;
        input.check(&self.config, &self.dp)?;
        let (inputs, outputs, max_rows, p) = (
            self.config.layer.inputs,
            self.config.layer.outputs,
            self.config.max_rows,
            self.config.row_parallel,
        );
        for r in 0..input.rows {
            for j in 0..inputs {
                self.pre[j * max_rows + r] = input.pre[r * inputs + j];
            }
            for o in 0..outputs {
                let (l, u) = self.place(o);
                self.lanes[l].post_err[r % p].words[(u * max_rows + r) / p] =
                    (input.post[r * outputs + o], input.err[r * outputs + o]);
            }
        }
        self.rows = input.rows;
        self.rows_recip = self.dp.rows_recip(input.rows);
        self.budget = input.budget;
        self.mode = input.mode;
        self.consolidate = input.consolidate;
        Ok(())
    }

    fn require_idle(&self) -> Result<()> {
        if self.busy() {
            return Err(Error::new(
                "the engine is busy (wait for the update to finish)",
            ));
        }
        Ok(())
    }

    /// Starts an update (the `start` pulse).
    pub fn start(&mut self) -> Result<()> {
        self.require_idle()?;
        if !self.loaded {
            return Err(Error::new("no layer loaded"));
        }
        self.phase = Phase::Accumulate;
        self.t = 0;
        self.sub = 0;
        self.cycles = Cycles::default();
        self.bias_nonzero = false;
        self.select_descent = false;
        self.selected_any = false;
        self.descent = false;
        self.selected_count = 0;
        self.selected_count_q = 0;
        Ok(())
    }

    /// Whether an update is running.
    pub fn busy(&self) -> bool {
        matches!(self.phase, Phase::Accumulate | Phase::Select | Phase::Apply)
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Runs a started update to completion.
    pub fn run(&mut self) -> UpdateReport {
        while self.busy() {
            self.tick();
        }
        self.report()
    }

    /// Loads inputs, starts and runs one update.
    pub fn update(&mut self, input: &StepInput) -> Result<UpdateReport> {
        self.load_inputs(input)?;
        self.start()?;
        Ok(self.run())
    }

    /// The report of the last update.
    pub fn report(&self) -> UpdateReport {
        let accepted = if self.descent { self.selected_count } else { 0 };
        UpdateReport {
            cycles: self.cycles,
            selected: self.selected_count,
            accepted,
            descent: self.descent,
        }
    }

    /// Reads the learned state back (host reads while idle).
    pub fn read_state(&self) -> FixedState {
        let (outputs, k) = (self.config.layer.outputs, self.config.layer.k);
        let mut s = FixedState::zeros(outputs, k);
        for o in 0..outputs {
            let (l, u) = self.place(o);
            let lane = &self.lanes[l];
            let word = lane.outputs.words[u];
            s.bias[o] = word.bias;
            for j in 0..k {
                let syn = lane.syn.words[u * k + j];
                let i = o * k + j;
                s.weight[i] = syn.w;
                s.short[i] = syn.s;
                s.long[i] = syn.p;
                s.consolidation[i] = syn.c;
                s.last_accepted[i] = ((word.last_accepted >> j) & 1) as u8;
            }
        }
        s
    }

    /// Per slot, 1 where the last update selected it (before the descent test).
    pub fn selected(&self) -> Vec<u8> {
        let (outputs, k) = (self.config.layer.outputs, self.config.layer.k);
        let mut v = vec![0; outputs * k];
        for o in 0..outputs {
            let (l, u) = self.place(o);
            let sel = self.lanes[l].outputs.words[u].selected;
            for j in 0..k {
                v[o * k + j] = ((sel >> j) & 1) as u8;
            }
        }
        v
    }

    /// The gate reciprocal the engine holds for every output.
    pub fn gate_recips(&self) -> Vec<i64> {
        (0..self.config.layer.outputs)
            .map(|o| {
                let (l, u) = self.place(o);
                self.lanes[l].outputs.words[u].gate_recip
            })
            .collect()
    }

    /// Issue counts of the current phase.
    fn issue_len(&self) -> u64 {
        let slots = self.config.slots_per_lane() as u64;
        match self.phase {
            Phase::Accumulate => self.config.row_groups(self.rows) as u64 * slots,
            Phase::Select | Phase::Apply => slots,
            Phase::Idle | Phase::Done => 0,
        }
    }

    /// Steps of the current phase.
    fn phase_len(&self) -> u64 {
        let f = step_formula(&self.config, self.rows);
        match self.phase {
            Phase::Accumulate => f.accumulate,
            Phase::Select => f.select,
            Phase::Apply => f.apply,
            Phase::Idle | Phase::Done => 0,
        }
    }

    /// One clock. In the shared pipeline the stages step on the last of every
    /// `step_clocks` clocks (the clocks before it are the shared multipliers' work);
    /// every clock counts.
    pub fn tick(&mut self) {
        if !self.busy() {
            return;
        }
        match self.phase {
            Phase::Accumulate => self.cycles.accumulate += 1,
            Phase::Select => self.cycles.select += 1,
            Phase::Apply => self.cycles.apply += 1,
            Phase::Idle | Phase::Done => {}
        }
        self.cycles.total += 1;
        self.sub += 1;
        if self.sub < self.config.step_clocks() {
            return;
        }
        self.sub = 0;
        let k = self.config.layer.k;
        let issue = (self.t < self.issue_len()).then_some(self.t as usize);
        let ctl = Control {
            rows: self.rows,
            groups: self.config.row_groups(self.rows),
            row_parallel: self.config.row_parallel,
            max_rows: self.config.max_rows,
            rows_recip: self.rows_recip,
            budget: self.budget,
            mode: self.mode,
            consolidate: self.consolidate,
            descent: self.descent,
            accepted_any: self.descent && self.selected_any,
            k,
            stores_short: self.stores_short,
        };
        let mut flags = Flags::default();
        for lane in &mut self.lanes {
            match self.phase {
                Phase::Accumulate => {
                    lane.accumulate(&ctl, issue, &self.pre, &self.dp, &mut flags, &mut self.sat)
                }
                Phase::Select => lane.select(&ctl, issue, &self.dp, &mut flags, &mut self.sat),
                Phase::Apply => lane.apply(&ctl, issue, &self.dp, &mut self.sat),
                Phase::Idle | Phase::Done => {}
            }
            lane.clock();
        }
        self.bias_nonzero |= flags.bias_nonzero;
        self.select_descent |= flags.select_descent;
        self.selected_any |= flags.selected_any;
        if self.config.retimed_commit() {
            self.selected_count +=
                std::mem::replace(&mut self.selected_count_q, flags.selected_count);
        } else {
            self.selected_count += flags.selected_count;
        }
        self.t += 1;
        if self.t == self.phase_len() {
            debug_assert!(
                self.lanes.iter().all(Lane::drained),
                "phase ended with work in flight"
            );
            self.t = 0;
            self.phase = match self.phase {
                Phase::Accumulate => Phase::Select,
                Phase::Select => {
                    // The descent test (spec step 5): every term of D is <= 0 and computed
                    // exactly, so D < 0 iff a selected slot has a non-zero signal (q > 0 is
                    // guaranteed by validation) or a bias direction is non-zero.
                    self.descent = self.select_descent || self.bias_nonzero;
                    Phase::Apply
                }
                Phase::Apply | Phase::Idle | Phase::Done => Phase::Done,
            };
        }
    }
}

/// Control registers every lane sees.
struct Control {
    rows: usize,
    /// ACCUMULATE's row groups per slot and rows per group (P).
    groups: usize,
    row_parallel: usize,
    max_rows: usize,
    rows_recip: i64,
    budget: usize,
    mode: Mode,
    consolidate: bool,
    descent: bool,
    accepted_any: bool,
    k: usize,
    stores_short: bool,
}

impl Control {
    /// The row group lane `lane` reads first for a slot: with a shared `pre` (P > 1)
    /// the lanes start at different groups (`lane < groups`, checked by validation).
    fn first_group(&self, lane: usize) -> usize {
        if self.row_parallel > 1 {
            lane
        } else {
            0
        }
    }

    /// The row group lane `lane` reads last for a slot: the one before its first.
    fn last_group(&self, lane: usize) -> usize {
        (self.first_group(lane) + self.groups - 1) % self.groups
    }
}

/// Flags lanes raise in one cycle (ORed / summed across lanes).
#[derive(Default)]
struct Flags {
    bias_nonzero: bool,
    select_descent: bool,
    selected_any: bool,
    selected_count: u64,
}

impl Lane {
    fn clock(&mut self) {
        self.acc_fetch.clock();
        self.acc_mult.clock();
        self.acc_sum.clock();
        self.norm_mean.clock();
        self.norm_gate.clock();
        self.norm_signal.clock();
        self.norm_score.clock();
        self.sel_key.clock();
        self.sel_insert.clock();
        self.sel_commit.clock();
        self.apply_plast.clock();
        self.apply_step.clock();
        self.apply_decay.clock();
        self.apply_consol.clock();
        self.apply_write.clock();
        self.syn.clock();
        self.scratch.clock();
        self.nbr.clock();
        for bank in &mut self.post_err {
            bank.clock();
        }
        self.outputs.clock();
        for (u, r) in self.recip_writes.drain(..) {
            self.outputs.words[u].gate_recip = r;
        }
    }

    fn drained(&self) -> bool {
        self.acc_fetch.is_empty()
            && self.acc_mult.is_empty()
            && self.acc_sum.is_empty()
            && self.norm_mean.is_empty()
            && self.norm_gate.is_empty()
            && self.norm_signal.is_empty()
            && self.norm_score.is_empty()
            && self.sel_key.is_empty()
            && self.sel_insert.is_empty()
            && self.sel_commit.is_empty()
            && self.apply_plast.is_empty()
            && self.apply_step.is_empty()
            && self.apply_decay.is_empty()
            && self.apply_consol.is_empty()
            && self.apply_write.is_empty()
            && self.div_operands.iter().all(Option::is_none)
            && self.div_stages.iter().all(Option::is_none)
            && self.div_units.iter().all(Option::is_none)
    }

    /// One ACCUMULATE cycle; stages run last to first so each reads the register its
    /// predecessor wrote in the previous cycle.
    fn accumulate(
        &mut self,
        ctl: &Control,
        issue: Option<usize>,
        pre: &[i64],
        dp: &Datapath,
        flags: &mut Flags,
        sat: &mut Saturations,
    ) {
        let k = ctl.k;
        // norm_score: score, running max, scratch write, bias direction.
        if let Some(x) = self.norm_score.take() {
            let score = dp.score(x.signal, x.long, sat);
            self.scratch.write(x.u * k + x.k, (x.signal, x.cofire));
            self.running_max = if x.k == 0 {
                score
            } else {
                self.running_max.max(score)
            };
            if x.k == 0 {
                self.bias_dir = x.bias_dir;
                flags.bias_nonzero |= x.bias_dir != 0;
            }
            if x.k == k - 1 {
                // The word read on this slot's last row; nothing else writes it meanwhile.
                let mut word = x.out;
                word.max_score = self.running_max;
                word.bias_dir = self.bias_dir;
                self.outputs.write(x.u, word);
            }
        }
        // norm_signal: gated, clipped signal.
        self.norm_score
            .put(self.norm_signal.take().map(|x| NormScore {
                u: x.u,
                k: x.k,
                signal: dp.signal(x.mean, x.gate, x.valid),
                cofire: if x.valid { x.cofire } else { 0 },
                bias_dir: x.bias_dir,
                long: x.long,
                out: x.out,
            }));
        // norm_gate: the slot's gate from its effective trail and the output's reciprocal.
        self.norm_signal.put(self.norm_gate.take().map(|x| {
            let valid = (x.out.mask >> x.k) & 1 != 0;
            NormSignal {
                u: x.u,
                k: x.k,
                mean: x.mean,
                gate: dp.gate(x.effective, x.out.gate_recip),
                cofire: x.cofire,
                bias_dir: x.bias_dir,
                long: x.long,
                valid,
                out: x.out,
            }
        }));
        // norm_mean: row means (the one multiplication by 1/R) and the effective trail.
        self.norm_gate.put(self.norm_mean.take().map(|x| NormGate {
            u: x.u,
            k: x.k,
            mean: dp.signal_mean(x.sig_acc, ctl.rows_recip),
            cofire: dp.cofire_mean(x.co_acc, ctl.rows_recip, sat),
            effective: dp.effective_trail(x.syn.s, x.syn.p),
            bias_dir: if x.k == 0 {
                dp.bias_direction(x.err_acc, ctl.rows_recip)
            } else {
                0
            },
            long: x.syn.p,
            out: x.out,
        }));
        // acc_sum: exact running sums over the row groups of one slot.
        if let Some(x) = self.acc_sum.take() {
            let first = x.r == ctl.first_group(self.index);
            self.sig_acc = if first { 0 } else { self.sig_acc } + x.sig_product;
            self.co_acc = if first { 0 } else { self.co_acc } + x.cofire_product;
            self.err_acc = if first { 0 } else { self.err_acc } + x.err;
            if x.r == ctl.last_group(self.index) {
                self.norm_mean.put(Some(NormMean {
                    u: x.u,
                    k: x.k,
                    sig_acc: self.sig_acc,
                    co_acc: self.co_acc,
                    err_acc: self.err_acc,
                    syn: x.syn,
                    out: x.out,
                }));
            }
        }
        // acc_mult: the two products of every row of the group, summed (exact). Rows at
        // or past `rows` (the last group's tail) read stale words: their `pre` and `err`
        // count as 0.
        self.acc_sum.put(self.acc_mult.take().map(|x| {
            let (mut sig, mut co, mut err) = (0, 0, 0);
            for p in 0..ctl.row_parallel {
                if x.r * ctl.row_parallel + p < ctl.rows {
                    sig += dp.signal_product(x.err[p], x.pre[p]);
                    co += dp.cofire_product(x.pre[p], x.post[p]);
                    err += x.err[p];
                }
            }
            AccSum {
                u: x.u,
                k: x.k,
                r: x.r,
                sig_product: sig,
                cofire_product: co,
                err,
                syn: x.syn,
                out: x.out,
            }
        }));
        // acc_fetch: activity reads (a row of each bank); on the last group the slot's
        // state and output word.
        self.acc_mult.put(self.acc_fetch.take().map(|x| {
            let p_count = ctl.row_parallel;
            let bank_words = ctl.max_rows / p_count;
            let (post, err) = self
                .post_err
                .iter_mut()
                .map(|bank| bank.read(x.u * bank_words + x.r))
                .unzip();
            let row0 = x.r * p_count;
            let last = x.r == ctl.last_group(self.index);
            AccMult {
                u: x.u,
                k: x.k,
                r: x.r,
                pre: (0..p_count)
                    .map(|p| pre[x.nbr * ctl.max_rows + row0 + p])
                    .collect(),
                post,
                err,
                syn: if last {
                    self.syn.read(x.u * k + x.k)
                } else {
                    Syn::default()
                },
                out: if last {
                    self.outputs.read(x.u)
                } else {
                    OutWord::default()
                },
            }
        }));
        // acc_issue: slot-major, row groups innermost; with a shared `pre` each lane
        // starts at its own group and wraps, so that no two lanes read one group.
        self.acc_fetch.put(issue.map(|i| {
            let g = ctl.groups;
            let (u, k_, j) = (i / (k * g), (i / g) % k, i % g);
            let r = if ctl.row_parallel > 1 {
                (j + self.index) % g
            } else {
                j
            };
            let (nbr, _) = self.nbr.read(u * k + k_);
            AccFetch {
                u,
                k: k_,
                r,
                nbr: nbr as usize,
            }
        }));
    }

    /// One SELECT cycle.
    fn select(
        &mut self,
        ctl: &Control,
        issue: Option<usize>,
        dp: &Datapath,
        flags: &mut Flags,
        sat: &mut Saturations,
    ) {
        let k = ctl.k;
        // sel_commit: the first min(budget, valid) entries of the sorted list.
        if let Some(x) = self.sel_commit.take() {
            let take = ctl.budget.min(x.out.valid as usize);
            let selected = if x.out.max_score > 0 {
                x.order
                    .iter()
                    .take(take)
                    .fold(0u64, |acc, &(slot, _)| acc | 1 << slot)
            } else {
                0
            };
            let mut word = x.out;
            word.selected = selected;
            self.outputs.write(x.u, word);
            flags.select_descent |= selected & x.nonzero != 0;
            flags.selected_any |= selected != 0;
            flags.selected_count += u64::from(selected.count_ones());
        }
        // sel_insert: stable insertion (a new key goes after every key >= it).
        if let Some(x) = self.sel_insert.take() {
            if x.k == 0 {
                self.sorter.clear();
                self.nonzero = 0;
            }
            if x.valid {
                let at = self
                    .sorter
                    .iter()
                    .position(|&(_, key)| x.key > key)
                    .unwrap_or(self.sorter.len());
                self.sorter.insert(at, (x.k as u8, x.key));
            }
            self.nonzero |= u64::from(x.nonzero) << x.k;
            if x.k == k - 1 {
                self.sel_commit.put(Some(SelCommit {
                    u: x.u,
                    order: self.sorter.clone(),
                    nonzero: self.nonzero,
                    out: x.out,
                }));
            }
        }
        // sel_key: score plus the frontier bonus in neighbor-follow mode.
        self.sel_insert.put(self.sel_key.take().map(|x| {
            let valid = (x.out.mask >> x.k) & 1 != 0;
            let score = dp.score(x.signal, x.long, sat);
            let recent = x.out.last_accepted & x.out.mask;
            let frontier = valid && (recent == 0 || x.near & recent != 0);
            let bonus = if ctl.mode == Mode::NeighborFollow && frontier && x.out.max_score > 0 {
                dp.bonus(x.out.max_score)
            } else {
                0
            };
            SelInsert {
                u: x.u,
                k: x.k,
                key: score + bonus,
                valid,
                nonzero: x.signal != 0,
                out: x.out,
            }
        }));
        // sel_issue.
        self.sel_key.put(issue.map(|i| {
            let (u, k_) = (i / k, i % k);
            let a = u * k + k_;
            let (signal, _) = self.scratch.read(a);
            let (_, near) = self.nbr.read(a);
            SelKey {
                u,
                k: k_,
                signal,
                long: self.syn.read(a).p,
                near,
                out: self.outputs.read(u),
            }
        }));
    }

    /// Starts a division in the first stage or the next unit, deciding its first
    /// quotient bit.
    fn start_division(&mut self, x: DividerStart, q_bits: u32) {
        if let Some(first) = self.div_stages.first_mut() {
            let mut stage = DividerStage {
                u: x.u,
                remainder: x.dividend,
                divisor: x.divisor,
                quotient: 0,
                overflow: x.overflow,
                empty: x.empty,
            };
            stage_step(&mut stage, q_bits as usize - 1);
            *first = Some(stage);
            return;
        }
        let units = self.div_units.len();
        let slot = &mut self.div_units[self.div_next];
        // Divisions start K clocks apart (an output's last slot) and a unit is busy Q
        // clocks, so with ceil(Q / K) units in turn the next one is always free.
        debug_assert!(
            slot.is_none(),
            "divider unit {} started while busy",
            self.div_next
        );
        let mut unit = DividerUnit {
            u: x.u,
            remainder: x.dividend >> q_bits,
            low: (x.dividend & ((1i128 << q_bits) - 1)) as i64,
            divisor: x.divisor,
            overflow: x.overflow,
            empty: x.empty,
            left: q_bits - 1,
        };
        divide_step(&mut unit, q_bits);
        if self.div_per_clock {
            // The other bits come in the clocks before the write, which comes
            // `div_steps` steps after this one.
            for _ in 1..q_bits {
                divide_step(&mut unit, q_bits);
            }
            unit.left = self.div_steps - 1;
        }
        *slot = Some(unit);
        self.div_next = (self.div_next + 1) % units;
    }

    /// One APPLY cycle.
    fn apply(&mut self, ctl: &Control, issue: Option<usize>, dp: &Datapath, sat: &mut Saturations) {
        let k = ctl.k;
        let mc = mode_code(ctl.mode);
        let stores_short = ctl.stores_short;
        // Divider: a complete quotient (the last stage's, or a unit's) is written; the
        // other stages and units decide their next bit; then the operand register
        // (deep) starts a division.
        let q_bits = dp.f.gate_recip.bits;
        let recip = |quotient: i64, overflow: bool, empty: bool, sat: &mut Saturations| {
            if empty {
                0
            } else if overflow {
                sat.count(SatPoint::GateRecip);
                dp.f.gate_recip.max_raw()
            } else {
                quotient
            }
        };
        let stages = self.div_stages.len();
        if let Some(x) = self.div_stages.last_mut().and_then(Option::take) {
            let value = recip(x.quotient, x.overflow, x.empty, sat);
            self.recip_writes.push((x.u, value));
        }
        for s in (1..stages).rev() {
            if let Some(mut x) = self.div_stages[s - 1].take() {
                stage_step(&mut x, stages - 1 - s);
                self.div_stages[s] = Some(x);
            }
        }
        for slot in &mut self.div_units {
            let Some(x) = slot else { continue };
            if x.left > 0 {
                if !self.div_per_clock {
                    divide_step(x, q_bits);
                }
                x.left -= 1;
                continue;
            }
            let value = recip(x.low, x.overflow, x.empty, sat);
            self.recip_writes.push((x.u, value));
            *slot = None;
        }
        if let Some(x) = self.div_operands.last_mut().and_then(Option::take) {
            self.start_division(x, q_bits);
        }
        for s in (1..self.div_operands.len()).rev() {
            self.div_operands[s] = self.div_operands[s - 1].take();
        }
        // apply_write: state write-back, gate mass, bias and accepted bits.
        if let Some(x) = self.apply_write.take() {
            self.syn.write(x.u * k + x.k, x.new);
            self.mass =
                if x.k == 0 { 0 } else { self.mass } + if x.valid { x.effective } else { 0 };
            if x.k == 0 {
                let mut word = x.out;
                word.bias = dp.bias_step(word.bias, word.bias_dir, ctl.descent);
                word.last_accepted = if ctl.descent { word.selected } else { 0 };
                self.outputs.write(x.u, word);
            }
            if x.k == k - 1 {
                let (dividend, divisor) = dp.divider_operands(x.out.valid, self.mass);
                let start = DividerStart {
                    u: x.u,
                    dividend,
                    divisor,
                    overflow: dividend >= divisor << q_bits,
                    empty: x.out.valid == 0,
                };
                match self.div_operands.first_mut() {
                    Some(reg) => *reg = Some(start),
                    None => self.start_division(start, q_bits),
                }
            }
        }
        // apply_consol: consolidation from the new long trail; effective trail for the gate.
        self.apply_write.put(self.apply_consol.take().map(|x| {
            let accepted = x.selected && ctl.descent;
            let c = dp.consolidation(
                x.c,
                x.new.p,
                x.base,
                dp.k.consolidation_growth[mc],
                accepted,
                ctl.consolidate,
                x.valid,
            );
            let new = Syn {
                c,
                s: if stores_short { x.new.s } else { 0 },
                ..x.new
            };
            ApplyWrite {
                u: x.u,
                k: x.k,
                new,
                effective: dp.effective_trail(new.s, new.p),
                valid: x.valid,
                out: x.out,
            }
        }));
        // apply_decay: weight decay and clip, both trails.
        self.apply_consol.put(self.apply_decay.take().map(|x| {
            let accepted = x.selected && ctl.descent;
            let decays = x.valid && !x.selected && ctl.accepted_any;
            ApplyConsol {
                u: x.u,
                k: x.k,
                c: x.syn.c,
                new: Syn {
                    w: dp.weight_decay(x.stepped, x.retain_w, decays),
                    s: dp.trail(
                        x.syn.s,
                        x.retain_s,
                        x.base,
                        dp.k.short_reinforcement[mc],
                        accepted,
                        x.valid,
                    ),
                    p: dp.trail(
                        x.syn.p,
                        x.retain_l,
                        x.base,
                        dp.k.long_reinforcement[mc],
                        accepted,
                        x.valid,
                    ),
                    c: 0,
                },
                base: x.base,
                valid: x.valid,
                selected: x.selected,
                out: x.out,
            }
        }));
        // apply_step: the learning step and the three retention factors.
        self.apply_decay
            .put(self.apply_step.take().map(|x| ApplyDecay {
                u: x.u,
                k: x.k,
                syn: x.syn,
                stepped: dp.weight_step(
                    x.syn.w,
                    x.signal,
                    x.q,
                    x.selected && ctl.accepted_any,
                    sat,
                ),
                retain_w: dp.retain(dp.k.synapse_decay, x.q),
                retain_s: dp.retain(dp.k.short_evaporation, x.q),
                retain_l: dp.retain(dp.k.long_evaporation, x.q),
                base: x.base,
                valid: x.valid,
                selected: x.selected,
                out: x.out,
            }));
        // apply_plast: plasticity and reinforcement base.
        self.apply_step.put(self.apply_plast.take().map(|x| {
            let valid = (x.out.mask >> x.k) & 1 != 0;
            ApplyStep {
                u: x.u,
                k: x.k,
                syn: x.syn,
                signal: x.signal,
                q: dp.plasticity(x.syn.c, valid),
                base: dp.reinforcement_base(x.cofire, x.signal),
                valid,
                selected: (x.out.selected >> x.k) & 1 != 0,
                out: x.out,
            }
        }));
        // apply_issue.
        self.apply_plast.put(issue.map(|i| {
            let (u, k_) = (i / k, i % k);
            let a = u * k + k_;
            let (signal, cofire) = self.scratch.read(a);
            ApplyPlast {
                u,
                k: k_,
                syn: self.syn.read(a),
                signal,
                cofire,
                out: self.outputs.read(u),
            }
        }));
    }
}

/// One stage of the pipelined restoring divider: decides quotient bit `bit`.
fn stage_step(x: &mut DividerStage, bit: usize) {
    let shifted = x.divisor << bit;
    if x.remainder >= shifted {
        x.remainder -= shifted;
        x.quotient |= 1 << bit;
    }
}

/// One restoring-division step of a unit: bring down the dividend's next bit, subtract the
/// divisor if it fits, shift the quotient bit in.
fn divide_step(x: &mut DividerUnit, q_bits: u32) {
    let trial = (x.remainder << 1) | i128::from((x.low >> (q_bits - 1)) & 1);
    let fits = trial >= x.divisor;
    if fits {
        x.remainder = trial - x.divisor;
    } else {
        x.remainder = trial;
    }
    x.low = ((x.low << 1) & ((1i64 << q_bits) - 1)) | i64::from(fits);
}
