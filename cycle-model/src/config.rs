//! The hardware configuration of the engine ([`HwConfig`]), its validation, the shipped
//! presets and the memory plan that checks a configuration against an FPGA family.

use lpn_golden::LearningConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::format::{bits_for, Format};
use crate::{Error, Result};

/// FPGA family a configuration targets; decides which memories exist and how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// No device limits (simulation only).
    Generic,
    /// Lattice iCE40 UltraPlus UP5K (iCEBreaker): 30 EBR of 4 kbit, 4 SPRAM of 256 kbit.
    Ice40Up5k,
    /// Lattice ECP5 LFE5U-25F: 56 EBR of 18 kbit.
    Ecp5_25k,
    /// Lattice ECP5 LFE5U-85F (ULX3S): 208 EBR of 18 kbit.
    Ecp5_85k,
}

impl Family {
    /// The name used in configs and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Generic => "generic",
            Family::Ice40Up5k => "ice40-up5k",
            Family::Ecp5_25k => "ecp5-25k",
            Family::Ecp5_85k => "ecp5-85k",
        }
    }
}

/// Which physical RAM holds a logical memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RamKind {
    /// Dual-port block RAM (EBR on iCE40 and ECP5).
    Block,
    /// iCE40 UltraPlus single-port SPRAM (16K x 16). Only for memories that see at most
    /// one access per cycle: scratch, nbr and the input memories (never `syn`, which is
    /// read and written in the same cycle during APPLY).
    Spram,
}

/// How deep the engine's pipeline is ([`crate::engine::StageDepths`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pipeline {
    /// One clock per stage: the fewest registers and cycles (about 30 MHz on ECP5).
    #[default]
    Compact,
    /// Registers after memory reads, multipliers and rounding adds, and wide products
    /// split into 18-bit partial products: more latency per phase and more flip-flops,
    /// for a clock three times faster.
    Deep,
    /// The compact pipeline's stages, advancing once every `step_clocks` clocks, with
    /// its products computed over those clocks by a few shared 16x16 multipliers (the
    /// iCE40 UP5K has 8 for the whole engine): `step_clocks` times the cycles, a
    /// fraction of the multipliers and logic.
    Shared,
}

impl Pipeline {
    /// The name used in configs.
    pub fn as_str(self) -> &'static str {
        match self {
            Pipeline::Compact => "compact",
            Pipeline::Deep => "deep",
            Pipeline::Shared => "shared",
        }
    }

    /// Whether this is the default, one-clock-per-stage pipeline.
    pub fn is_compact(&self) -> bool {
        *self == Pipeline::Compact
    }
}

/// Shape of the layer the engine updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerShape {
    /// Input units.
    pub inputs: usize,
    /// Output units.
    pub outputs: usize,
    /// Slots per output (`K = min(max_neighbors, inputs)`).
    pub k: usize,
}

/// Placement of the memories that could go to SPRAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryConfig {
    /// Per-slot signal/co-firing scratch.
    pub scratch: RamKind,
    /// Per-slot neighbour index and near-set.
    pub nbr: RamKind,
    /// Pre-synaptic activity (rows x inputs).
    pub pre: RamKind,
    /// Post-synaptic activity and error (rows x outputs).
    pub post_err: RamKind,
    /// ECP5: the flow moves the flip-flop behind each block RAM read port into the block,
    /// as its own output register (`lpn_flow::netlist`, docs/fpga.md). A physical
    /// choice only: the Verilog and the cycles are the same either way.
    #[serde(skip_serializing_if = "is_false")]
    pub block_output_register: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            scratch: RamKind::Block,
            nbr: RamKind::Block,
            pre: RamKind::Block,
            post_err: RamKind::Block,
            block_output_register: false,
        }
    }
}

/// Every fixed-point format of the engine. Accumulators are not listed: they are as wide
/// as the exact sum needs (see [`HwConfig::accumulator_bits`]), so they never round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Formats {
    /// Weights and biases (signed).
    pub weight: Format,
    /// Short and long pheromone trails, and the effective trail (unsigned).
    pub trail: Format,
    /// Consolidation (unsigned, holds 1.0).
    pub consolidation: Format,
    /// Pre- and post-synaptic activity (signed).
    pub activation: Format,
    /// Local error (signed).
    pub error: Format,
    /// Normalised, gated, clipped signal and the bias direction (signed).
    pub signal: Format,
    /// Normalised co-firing (unsigned).
    pub cofire: Format,
    /// Selection score `|signal| * (0.5 + P)` (unsigned).
    pub score: Format,
    /// Gate `g` in [0.5, 1.5] (unsigned).
    pub gate: Format,
    /// Per-output gate reciprocal `valid / mass` (unsigned).
    pub gate_recip: Format,
    /// `1 / rows` (unsigned, holds 1.0).
    pub rows_recip: Format,
    /// Plasticity `q` in [floor, 1] (unsigned, holds 1.0).
    pub plasticity: Format,
    /// Retention factors `1 - rate * q` (unsigned, holds 1.0).
    pub factor: Format,
    /// Consolidation maturity in [0, 1] (unsigned, holds 1.0).
    pub maturity: Format,
    /// Learning constants: learning rate, rates, strengths (unsigned).
    pub constant: Format,
}

impl Default for Formats {
    fn default() -> Self {
        Formats {
            weight: Format::signed(16, 12),
            trail: Format::unsigned(16, 12),
            consolidation: Format::unsigned(16, 15),
            activation: Format::signed(16, 12),
            error: Format::signed(16, 12),
            signal: Format::signed(16, 14),
            cofire: Format::unsigned(16, 12),
            score: Format::unsigned(20, 15),
            gate: Format::unsigned(16, 15),
            gate_recip: Format::unsigned(20, 12),
            rows_recip: Format::unsigned(18, 17),
            plasticity: Format::unsigned(16, 15),
            factor: Format::unsigned(18, 17),
            maturity: Format::unsigned(16, 15),
            constant: Format::unsigned(24, 20),
        }
    }
}

impl Formats {
    /// The `ice40-up5k` preset's formats: 15-bit weights, 14-bit trails, 12-bit
    /// activations, errors, signals, co-firing, gate and plasticity (and what follows
    /// from them); the rest as the defaults. Their LSBs are 2 (weights), 4 (trails) and
    /// 16 times (the 12-bit ones) the defaults'; the fixed-versus-float bounds in LSB of
    /// docs/architecture.md hold for them (measured in docs/fpga.md).
    pub fn narrow() -> Formats {
        Formats {
            weight: Format::signed(15, 11),
            trail: Format::unsigned(14, 10),
            activation: Format::signed(12, 8),
            error: Format::signed(12, 8),
            signal: Format::signed(12, 10),
            cofire: Format::unsigned(12, 8),
            score: Format::unsigned(16, 11),
            gate: Format::unsigned(12, 11),
            gate_recip: Format::unsigned(16, 8),
            plasticity: Format::unsigned(12, 11),
            factor: Format::unsigned(14, 13),
            maturity: Format::unsigned(12, 11),
            ..Formats::default()
        }
    }

    /// Every format with its config key, in a fixed order.
    pub fn named(&self) -> [(&'static str, Format); 15] {
        [
            ("weight", self.weight),
            ("trail", self.trail),
            ("consolidation", self.consolidation),
            ("activation", self.activation),
            ("error", self.error),
            ("signal", self.signal),
            ("cofire", self.cofire),
            ("score", self.score),
            ("gate", self.gate),
            ("gate_recip", self.gate_recip),
            ("rows_recip", self.rows_recip),
            ("plasticity", self.plasticity),
            ("factor", self.factor),
            ("maturity", self.maturity),
            ("constant", self.constant),
        ]
    }
}

/// The hardware configuration: what the engine is built for. Serialised as TOML or JSON;
/// every key except `layer` is optional and defaults as documented in
/// `docs/architecture.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HwConfig {
    /// Name shown in reports and in the header of generated files.
    pub name: String,
    /// Target FPGA family.
    pub family: Family,
    /// Layer shape.
    pub layer: LayerShape,
    /// Outputs processed in parallel; lane `l` owns outputs `l, l + lanes, ...`.
    pub lanes: usize,
    /// Largest batch (rows) one update may use; sizes the input memories.
    pub max_rows: usize,
    /// Whether the pheromone gate scales the signal (spec section 3).
    pub gate: bool,
    /// Whether outputs have a bias.
    pub bias: bool,
    /// Memory placement.
    pub memory: MemoryConfig,
    /// Pipeline depth (`compact` or `deep`). Not written when compact, so that files
    /// and fingerprints from before the key existed stay the same.
    #[serde(skip_serializing_if = "Pipeline::is_compact")]
    pub pipeline: Pipeline,
    /// Clocks per pipeline step of the shared pipeline (default
    /// [`DEFAULT_STEP_CLOCKS`]): every stage takes that many clocks, over which its
    /// products share the multipliers. Only for `pipeline = "shared"`; not written when
    /// absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_clocks: Option<u32>,
    /// Rows ACCUMULATE takes per clock (P): each lane reads P rows of a slot's `pre` and
    /// `post_err` at once from P banks (bank `row % P`) and sums their products in an
    /// adder tree, so ACCUMULATE issues `ceil(rows / P)` row groups per slot instead of
    /// `rows`. With P > 1 the lanes share one `pre` (no replica per lane), split by row
    /// group as well, and take the groups in turn: lane `l` reads group `(j + l) mod G`
    /// at a slot's issue `j`, `G = max(ceil(rows / P), lanes)` issues per slot
    /// ([`HwConfig::row_groups`]), so `lanes <= max_rows / P`, and `max_rows` is a power
    /// of two. A power of two dividing `max_rows`; 1 (the default,
    /// not written) is the one-row engine with a `pre` replica per lane.
    #[serde(skip_serializing_if = "is_one")]
    pub row_parallel: usize,
    /// Fixed-point formats.
    pub formats: Formats,
    /// The learning rule's constants (quantised once by [`crate::Constants`]).
    pub learning: LearningConfig,
}

impl Default for HwConfig {
    fn default() -> Self {
        preset("tiny").expect("the tiny preset exists")
    }
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

/// Most rows ACCUMULATE may take per clock (`row_parallel`): 2 x 64 products per lane
/// is already most of the ECP5-85F's 156 multipliers.
pub const MAX_ROW_PARALLEL: usize = 64;

/// Clocks per pipeline step of the shared pipeline when `step_clocks` is not given.
pub const DEFAULT_STEP_CLOCKS: u32 = 16;

/// Clocks a product takes in a shared multiplier unit of the shared pipeline: its
/// operands registered, multiplied, summed (`lpn_rtl::shared`).
pub const SHARED_PRODUCT_CLOCKS: u32 = 3;

/// Bounds of `step_clocks` for the shared pipeline: a step must leave a product its
/// [`SHARED_PRODUCT_CLOCKS`] and the stage registers their last clock.
pub const STEP_CLOCKS_RANGE: std::ops::RangeInclusive<u32> = SHARED_PRODUCT_CLOCKS + 1..=64;

/// Most lanes a configuration may have: far beyond what any device here holds (16 deep
/// lanes exceed the ECP5-85F; docs/fpga.md), and the generated Verilog, about 1 kB per
/// lane, stays small enough to write and lint.
pub const MAX_LANES: usize = 1024;

/// Names of the shipped presets.
pub const PRESETS: [&str; 4] = ["tiny", "ice40-up5k", "ecp5-25k", "ecp5-85k"];

/// A shipped configuration by name: `tiny` (the 16-input, 4-output regression layer, 2
/// lanes; fast tests), `ice40-up5k`, `ecp5-25k`, `ecp5-85k`.
pub fn preset(name: &str) -> Result<HwConfig> {
    let base = |family, (inputs, outputs, k), lanes, max_rows| HwConfig {
        name: name.to_string(),
        family,
        layer: LayerShape { inputs, outputs, k },
        lanes,
        max_rows,
        gate: true,
        bias: true,
        memory: MemoryConfig::default(),
        pipeline: Pipeline::Compact,
        step_clocks: None,
        row_parallel: 1,
        formats: Formats::default(),
        learning: LearningConfig::default(),
    };
    Ok(match name {
        "tiny" => base(Family::Generic, (16, 4, 8), 2, 32),
        // Sized by the memory plan (see docs/architecture.md, "Presets"): the synapse
        // state is read and written every APPLY cycle, so it lives in dual-port EBR; the
        // single-access memories go to SPRAM. Lanes are what the device's multipliers
        // allow (25 to 27 per lane on ECP5 with the deep pipeline; docs/fpga.md); the UP5K's 8
        // are fewer than a compact lane's 27, so it takes the shared pipeline.
        "ice40-up5k" => {
            let mut c = base(Family::Ice40Up5k, (128, 256, 8), 1, 2);
            // What fits its 5,280 logic cells (docs/fpga.md): 12-bit values, one
            // shared multiplier unit (40 clocks per step).
            c.pipeline = Pipeline::Shared;
            c.step_clocks = Some(40);
            c.formats = Formats::narrow();
            c.memory = MemoryConfig {
                scratch: RamKind::Spram,
                nbr: RamKind::Spram,
                pre: RamKind::Spram,
                post_err: RamKind::Block,
                block_output_register: false,
            };
            c
        }
        // ECP5 presets take the deep pipeline: twice the clock for 6 more multipliers
        // and about twice the flip-flops per lane (docs/fpga.md).
        "ecp5-25k" => HwConfig {
            pipeline: Pipeline::Deep,
            ..base(Family::Ecp5_25k, (256, 512, 8), 1, 8)
        },
        "ecp5-85k" => HwConfig {
            pipeline: Pipeline::Deep,
            ..base(Family::Ecp5_85k, (512, 4096, 8), 2, 2)
        },
        other => {
            return Err(Error::new(format!(
                "unknown preset `{other}` (presets: {})",
                PRESETS.join(", ")
            )))
        }
    })
}

impl HwConfig {
    /// Reads a configuration: a preset name, or a `.toml` / `.json` file. The result is
    /// validated.
    pub fn load(spec: &str) -> Result<HwConfig> {
        if PRESETS.contains(&spec) {
            return preset(spec);
        }
        let path = Path::new(spec);
        let ext = path.extension().and_then(|e| e.to_str());
        if !matches!(ext, Some("toml" | "json")) {
            return Err(Error::new(format!(
                "config {spec}: neither a preset ({}) nor a file ending in .toml or .json (the ending says how to read it)",
                PRESETS.join(", ")
            )));
        }
        let text =
            lpn_golden::input::read_text(path, lpn_golden::input::MAX_CONFIG_BYTES, "config")
                .map_err(|e| {
                    Error::new(format!("{e} (or give a preset: {})", PRESETS.join(", ")))
                })?;
        let config = Self::parse(&text, ext).map_err(|e| Error::new(format!("{spec}: {e}")))?;
        Ok(config)
    }

    /// Parses TOML (`ext == Some("toml")`) or JSON text and validates it. `layer` is
    /// required (every other key defaults to the `tiny` preset's value): a config that
    /// leaves it out would otherwise silently describe `tiny`'s 16 -> 4 layer.
    pub fn parse(text: &str, ext: Option<&str>) -> Result<HwConfig> {
        /// Only whether `layer` is there; other keys are skipped without being built.
        #[derive(Deserialize)]
        struct Keys {
            layer: Option<serde::de::IgnoredAny>,
        }
        // The config first, so that a malformed file's error names HwConfig's fields.
        let (config, keys): (HwConfig, Keys) = if ext == Some("toml") {
            let e = |e: toml::de::Error| Error::new(one_line(&e.to_string()));
            (
                toml::from_str(text).map_err(e)?,
                toml::from_str(text).map_err(e)?,
            )
        } else {
            let e = |e: serde_json::Error| Error::new(lpn_golden::scenario::json_error(&e));
            (
                serde_json::from_str(text).map_err(e)?,
                serde_json::from_str(text).map_err(e)?,
            )
        };
        if keys.layer.is_none() {
            return Err(Error::new(
                "layer: missing (every config names its layer: inputs, outputs and k)",
            ));
        }
        config.validate()?;
        Ok(config)
    }

    /// Clocks per pipeline step: `step_clocks` (or its default) for the shared
    /// pipeline, 1 for the others.
    pub fn step_clocks(&self) -> u32 {
        match self.pipeline {
            Pipeline::Shared => self.step_clocks.unwrap_or(DEFAULT_STEP_CLOCKS),
            Pipeline::Compact | Pipeline::Deep => 1,
        }
    }

    /// Outputs per lane (`ceil(outputs / lanes)`); lanes with fewer outputs idle.
    pub fn outputs_per_lane(&self) -> usize {
        self.layer.outputs.div_ceil(self.lanes.max(1))
    }

    /// Row groups ACCUMULATE issues per slot for a batch of `rows`: `rows` when
    /// `row_parallel` is 1, else `max(ceil(rows / P), lanes)` (the lanes take the shared
    /// `pre`'s groups in turn, each a different one every clock).
    pub fn row_groups(&self, rows: usize) -> usize {
        match self.row_parallel {
            0 | 1 => rows,
            p => rows.div_ceil(p).max(self.lanes),
        }
    }

    /// Whether the lanes share one `pre`, taking its row groups in turn
    /// (`row_parallel > 1`), rather than each keeping a replica.
    pub fn shares_pre(&self) -> bool {
        self.row_parallel > 1
    }

    /// Whether SELECT's commit takes its row-parallel timing: the budget compare held as
    /// a per-update bit vector in the lane, and each lane's count of selected slots
    /// registered before the top sums the lanes into `selected_count` (so the top's
    /// count trails the commit by one clock, which the model holds in the same
    /// register). Deep row-parallel pipelines only: the one-row deep presets keep the
    /// netlist their clock was measured on (docs/fpga.md).
    pub fn retimed_commit(&self) -> bool {
        self.pipeline == Pipeline::Deep && self.row_parallel > 1
    }

    /// Bits that pick a row's bank (`log2 row_parallel`).
    pub fn bank_bits(&self) -> u32 {
        self.row_parallel.max(1).trailing_zeros()
    }

    /// Slot addresses per lane: `outputs_per_lane * K`.
    pub fn slots_per_lane(&self) -> usize {
        self.outputs_per_lane() * self.layer.k
    }

    /// Whether the engine keeps the short trail: only when it can affect learning
    /// (`short_weight > 0`); otherwise it is neither stored nor reported (reads as 0).
    pub fn stores_short(&self) -> bool {
        self.learning.short_weight > 0.0
    }

    /// Whether the engine keeps consolidation: only when it is on
    /// (`consolidation_strength > 0`); otherwise it is 0 by the rule itself.
    pub fn stores_consolidation(&self) -> bool {
        self.learning.consolidation_strength > 0.0
    }

    /// Bits of one `syn` word ([`SynLayout`]).
    pub fn syn_bits(&self) -> u32 {
        SynLayout::new(self).bits
    }

    /// Synapses (slots) of the layer.
    pub fn synapses(&self) -> usize {
        self.layer.outputs * self.layer.k
    }

    /// Width of the exact signal accumulator: error x activation products summed over
    /// `max_rows` rows.
    pub fn accumulator_bits(&self) -> u32 {
        self.formats.error.bits + self.formats.activation.bits + bits_for(self.max_rows as u64)
    }

    /// Width of a selection key (score plus frontier bonus).
    pub fn key_bits(&self) -> u32 {
        self.formats.score.bits + 1
    }

    /// Bits of a slot index within an output.
    pub fn slot_bits(&self) -> u32 {
        bits_for(self.layer.k as u64)
    }

    /// Checks everything the engine relies on and that the memories fit the family
    /// ([`HwConfig::memory_plan`]); the message names the key.
    pub fn validate(&self) -> Result<()> {
        self.validate_structure()?;
        self.memory_plan().check()
    }

    /// [`HwConfig::validate`] without the device fit: what generating and simulating the
    /// engine need (a lane sweep builds configurations the plan rejects, so the tools
    /// can give their own verdict).
    pub fn validate_structure(&self) -> Result<()> {
        let fail = |m: String| Err(Error::new(m));
        let LayerShape { inputs, outputs, k } = self.layer;
        if inputs == 0 || outputs == 0 {
            return fail("layer: inputs and outputs must be at least 1".into());
        }
        if inputs > 1 << 20 || outputs > 1 << 20 {
            return fail("layer: at most 2^20 inputs and outputs".into());
        }
        if k == 0 {
            return fail("layer.k must be at least 1".into());
        }
        if k > inputs {
            return fail(format!(
                "layer.k = {k} does not fit: only {inputs} inputs (K = min(max_neighbors, inputs))"
            ));
        }
        if k > 64 {
            return fail(format!(
                "layer.k = {k}: at most 64 slots per output (selection and frontier words are 64 bits)"
            ));
        }
        if self.lanes == 0 {
            return fail("lanes must be at least 1".into());
        }
        if self.lanes > MAX_LANES {
            return fail(format!(
                "lanes = {}: at most {MAX_LANES} (the generated Verilog grows with the lanes; 16 deep lanes already exceed the ECP5-85F)",
                self.lanes
            ));
        }
        if self.lanes > outputs {
            return fail(format!(
                "lanes = {} exceeds the {outputs} outputs (a lane processes whole outputs)",
                self.lanes
            ));
        }
        if self.max_rows == 0 || self.max_rows > 4096 {
            return fail(format!(
                "max_rows must be in 1..=4096, got {}",
                self.max_rows
            ));
        }
        let p = self.row_parallel;
        if p == 0 || !p.is_power_of_two() || p > MAX_ROW_PARALLEL {
            return fail(format!(
                "row_parallel must be a power of two in 1..={MAX_ROW_PARALLEL}, got {p}"
            ));
        }
        if self.max_rows % p != 0 {
            return fail(format!(
                "row_parallel = {p} must divide max_rows = {} (each bank holds max_rows / row_parallel rows of an input)",
                self.max_rows
            ));
        }
        if p > 1 && self.pipeline == Pipeline::Shared {
            return fail(
                "row_parallel > 1 needs pipeline = \"compact\" or \"deep\" (the shared pipeline's multiplier schedule takes one row per step)"
                    .into(),
            );
        }
        if p > 1 && self.lanes > self.max_rows / p {
            return fail(format!(
                "lanes = {} with row_parallel = {p}: at most max_rows / row_parallel = {} lanes (the lanes share pre and each reads a different group of {p} rows every clock)",
                self.lanes,
                self.max_rows / p
            ));
        }
        if p > 1 && !self.max_rows.is_power_of_two() {
            return fail(format!(
                "max_rows = {} must be a power of two with row_parallel = {p} (the host address's row bits pick the shared pre's bank)",
                self.max_rows
            ));
        }
        if p > 1 && (self.memory.pre == RamKind::Spram || self.memory.post_err == RamKind::Spram) {
            return fail(format!(
                "row_parallel = {p} keeps pre and post_err in {p} banks each; memory.pre and memory.post_err must be \"block\" (a bank would take a whole SPRAM)"
            ));
        }
        if self.memory.block_output_register
            && !matches!(self.family, Family::Ecp5_25k | Family::Ecp5_85k)
        {
            return fail(format!(
                "memory.block_output_register is an ECP5 block RAM option; family {} has none",
                self.family.as_str()
            ));
        }
        for (name, f) in self.formats.named() {
            f.check(name).map_err(Error::new)?;
        }
        let f = &self.formats;
        for (name, fmt, signed) in [
            ("weight", f.weight, true),
            ("activation", f.activation, true),
            ("error", f.error, true),
            ("signal", f.signal, true),
            ("trail", f.trail, false),
            ("consolidation", f.consolidation, false),
            ("cofire", f.cofire, false),
            ("score", f.score, false),
            ("gate", f.gate, false),
            ("gate_recip", f.gate_recip, false),
            ("rows_recip", f.rows_recip, false),
            ("plasticity", f.plasticity, false),
            ("factor", f.factor, false),
            ("maturity", f.maturity, false),
            ("constant", f.constant, false),
        ] {
            if fmt.signed != signed {
                return fail(format!(
                    "formats.{name} must be {}",
                    if signed { "signed" } else { "unsigned" }
                ));
            }
        }
        for (name, fmt) in [
            ("consolidation", f.consolidation),
            ("rows_recip", f.rows_recip),
            ("plasticity", f.plasticity),
            ("factor", f.factor),
            ("maturity", f.maturity),
        ] {
            if fmt.max_raw() < fmt.one() {
                return fail(format!("formats.{name} ({fmt}) must hold 1.0"));
            }
        }
        if f.gate.max_value() < 1.5 {
            return fail(format!("formats.gate ({}) must hold 1.5", f.gate));
        }
        if f.gate.frac == 0 {
            return fail("formats.gate needs at least one fraction bit (it holds 0.5)".into());
        }

        match (self.pipeline, self.step_clocks) {
            (Pipeline::Shared, Some(n)) if !STEP_CLOCKS_RANGE.contains(&n) => {
                return fail(format!(
                    "step_clocks must be in {}..={} (a shared multiplier takes {SHARED_PRODUCT_CLOCKS} clocks per product), got {n}",
                    STEP_CLOCKS_RANGE.start(),
                    STEP_CLOCKS_RANGE.end()
                ))
            }
            (Pipeline::Compact | Pipeline::Deep, Some(_)) => {
                return fail(
                    "step_clocks is a setting of pipeline = \"shared\" (the other pipelines step every clock)"
                        .into(),
                )
            }
            _ => {}
        }

        if self.pipeline == Pipeline::Deep {
            // The deep pipeline's stages (`StageDepths`) are timed for products of the
            // default formats' widths: a wider operand needs one more limb, its product
            // one more clock, and the schedule no longer holds (found by `lpn fuzz`).
            let default = Formats::default().named();
            for ((name, f), (_, d)) in self.formats.named().into_iter().zip(default) {
                if f.bits > d.bits {
                    return fail(format!(
                        "formats.{name} = {} bits: the deep pipeline takes at most {} (its stages are timed for the default formats' products; use pipeline = \"compact\" for wider ones)",
                        f.bits, d.bits
                    ));
                }
            }
            // It builds every memory from block RAM with registers behind it
            // (`StageDepths::ram_regs`); SPRAM's single port and timing are the compact
            // one's.
            let m = &self.memory;
            for (name, kind) in [
                ("scratch", m.scratch),
                ("nbr", m.nbr),
                ("pre", m.pre),
                ("post_err", m.post_err),
            ] {
                if kind == RamKind::Spram {
                    return fail(format!(
                        "memory.{name} = \"spram\" needs pipeline = \"compact\" (the deep pipeline builds every memory from block RAM)"
                    ));
                }
            }
        }

        let l = &self.learning;
        l.validate()
            .map_err(|e| Error::new(format!("learning.{e}")))?;
        let need = |name: &str, fmt: Format, value: f64, what: &str| -> Result<()> {
            if fmt.max_value() < value {
                return Err(Error::new(format!(
                    "formats.{name} ({fmt}, max {}) is too narrow for {what} = {value}",
                    fmt.max_value()
                )));
            }
            Ok(())
        };
        need(
            "weight",
            f.weight,
            l.weight_clip + l.learning_rate * l.signal_clip,
            "weight_clip + learning_rate * signal_clip",
        )?;
        need("signal", f.signal, l.signal_clip, "signal_clip")?;
        need("trail", f.trail, l.max_pheromone, "max_pheromone")?;
        need("cofire", f.cofire, 4.0, "the reinforcement cap")?;
        need(
            "score",
            f.score,
            l.signal_clip * (0.5 + l.max_pheromone),
            "signal_clip * (0.5 + max_pheromone)",
        )?;
        if l.min_pheromone < 0.0 || f.trail.q(l.min_pheromone) == 0 {
            return fail(format!(
                "learning.min_pheromone = {} must be positive and at least half an LSB of formats.trail ({})",
                l.min_pheromone, f.trail
            ));
        }
        need(
            "gate_recip",
            f.gate_recip,
            2.0 / l.min_pheromone,
            "2 / min_pheromone",
        )?;
        if l.consolidation_strength > 0.0 && f.plasticity.q(l.consolidation_lr_floor) <= 0 {
            return fail(format!(
                "learning.consolidation_lr_floor = {} must be positive in hardware (a slot with q = 0 would make the descent test need the full sum)",
                l.consolidation_lr_floor
            ));
        }
        if l.consolidation_lr_floor > 1.0 {
            return fail("learning.consolidation_lr_floor must be at most 1".into());
        }
        crate::Constants::new(self)?;
        Ok(())
    }

    /// The memories this configuration needs and what the family offers.
    pub fn memory_plan(&self) -> MemoryPlan {
        MemoryPlan::new(self)
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One logical memory of the engine, per lane unless `copies` says otherwise.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryUse {
    /// Name as in `docs/architecture.md` and the model.
    pub name: &'static str,
    /// Words.
    pub depth: usize,
    /// Bits per word.
    pub width: u32,
    /// How many memories of this shape: one per lane (each lane keeps its own `pre`
    /// replica), times the `row_parallel` banks for `post_err`; the shared `pre` of
    /// `row_parallel > 1` is `max_rows` banks of one row.
    pub copies: usize,
    /// Physical RAM kind.
    pub kind: RamKind,
    /// Blocks of that kind the copies take on the target family.
    pub blocks: usize,
}

/// The memory budget of a configuration on its family.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryPlan {
    /// Target family.
    pub family: Family,
    /// Every memory.
    pub memories: Vec<MemoryUse>,
    /// Block RAMs used and available (EBR).
    pub block_used: usize,
    /// Block RAMs available (`usize::MAX` for generic).
    pub block_available: usize,
    /// SPRAMs used.
    pub spram_used: usize,
    /// SPRAMs available.
    pub spram_available: usize,
}

/// Block RAM shapes (depth, width) of a family.
fn block_shapes(family: Family) -> &'static [(usize, u32)] {
    match family {
        Family::Ice40Up5k => &[(256, 16), (512, 8), (1024, 4), (2048, 2)],
        Family::Ecp5_25k | Family::Ecp5_85k | Family::Generic => &[
            (512, 36),
            (1024, 18),
            (2048, 9),
            (4096, 4),
            (8192, 2),
            (16384, 1),
        ],
    }
}

/// The block RAM shape (depth, width) a `depth` x `width` memory is built from: the
/// fewest blocks, then the fewest blocks stacked in depth (each extra one is a read
/// multiplexer input), then the fewest side by side. The memory plan counts blocks with
/// it, and the deep pipeline's generator splits memories into blocks of exactly this
/// shape.
pub fn block_shape(family: Family, depth: usize, width: u32) -> (usize, u32) {
    let cost = |&(d, w): &(usize, u32)| {
        let banks = depth.div_ceil(d);
        let slices = (width as usize).div_ceil(w as usize);
        (banks * slices, banks, slices)
    };
    block_shapes(family)
        .iter()
        .copied()
        .min_by_key(cost)
        .expect("every family has block shapes")
}

fn blocks_for(family: Family, kind: RamKind, depth: usize, width: u32) -> usize {
    match kind {
        RamKind::Spram => depth.div_ceil(16384) * (width as usize).div_ceil(16),
        RamKind::Block => {
            let (d, w) = block_shape(family, depth, width);
            depth.div_ceil(d) * (width as usize).div_ceil(w as usize)
        }
    }
}

impl MemoryPlan {
    fn new(c: &HwConfig) -> MemoryPlan {
        let f = &c.formats;
        let lanes = c.lanes;
        let per_lane = c.slots_per_lane();
        let u = c.outputs_per_lane();
        let k = c.layer.k as u32;
        let syn_width = c.syn_bits();
        let nbr_bits = bits_for(c.layer.inputs as u64);
        let mut memories = Vec::new();
        let mut add = |name, depth, width, copies, kind| {
            let blocks = copies * blocks_for(c.family, kind, depth, width);
            memories.push(MemoryUse {
                name,
                depth,
                width,
                copies,
                kind,
                blocks,
            });
        };
        // The synapse state is read and written in the same cycle during APPLY, so it
        // always needs a dual-port block RAM.
        add("syn", per_lane, syn_width, lanes, RamKind::Block);
        add(
            "scratch",
            per_lane,
            f.signal.bits + f.cofire.bits,
            lanes,
            c.memory.scratch,
        );
        add("nbr", per_lane, nbr_bits + k, lanes, c.memory.nbr);
        // Every lane reads a different input each cycle: with one row per clock each
        // lane keeps its own replica; with P rows per clock the lanes share one, in
        // max_rows banks of a row each (a lane reads the P banks of a row group, each
        // lane a different group).
        let banks = c.row_parallel.max(1);
        if c.shares_pre() {
            add(
                "pre",
                c.layer.inputs,
                f.activation.bits,
                c.max_rows,
                c.memory.pre,
            );
        } else {
            add(
                "pre",
                c.max_rows * c.layer.inputs,
                f.activation.bits,
                lanes,
                c.memory.pre,
            );
        }
        add(
            "post_err",
            c.max_rows / banks * u,
            f.activation.bits + f.error.bits,
            lanes * banks,
            c.memory.post_err,
        );
        // Per-output words, one memory per writer as the RTL has them (each takes its
        // own blocks: counting them as one wide memory under-counted by 4 blocks per
        // lane at 512 outputs per lane, found by place and route).
        add(
            "mask",
            u,
            k + bits_for(u64::from(k) + 1),
            lanes,
            RamKind::Block,
        );
        add("gate_recip", u, f.gate_recip.bits, lanes, RamKind::Block);
        add("max_score", u, f.score.bits, lanes, RamKind::Block);
        add("bias_dir", u, f.signal.bits, lanes, RamKind::Block);
        add("selected", u, k, lanes, RamKind::Block);
        add("last_accepted", u, k, lanes, RamKind::Block);
        if c.bias {
            add("bias", u, f.weight.bits, lanes, RamKind::Block);
        }
        let (block_available, spram_available) = match c.family {
            Family::Generic => (usize::MAX, usize::MAX),
            Family::Ice40Up5k => (30, 4),
            Family::Ecp5_25k => (56, 0),
            Family::Ecp5_85k => (208, 0),
        };
        let block_used = memories
            .iter()
            .filter(|m| m.kind == RamKind::Block)
            .map(|m| m.blocks)
            .sum();
        let spram_used = memories
            .iter()
            .filter(|m| m.kind == RamKind::Spram)
            .map(|m| m.blocks)
            .sum();
        MemoryPlan {
            family: c.family,
            memories,
            block_used,
            block_available,
            spram_used,
            spram_available,
        }
    }

    /// Fails when the memories do not fit the family.
    pub fn check(&self) -> Result<()> {
        if self.spram_used > 0 && self.family != Family::Ice40Up5k {
            return Err(Error::new(format!(
                "memory: SPRAM exists only on the iCE40 UltraPlus, not on {}",
                self.family.as_str()
            )));
        }
        if let Some(m) = self
            .memories
            .iter()
            .find(|m| m.kind == RamKind::Spram && m.depth > 16384)
        {
            return Err(Error::new(format!(
                "memory: {} has {} words; an SPRAM memory holds at most 16384 (use block RAM for it)",
                m.name, m.depth
            )));
        }
        if self.spram_used > self.spram_available {
            return Err(Error::new(format!(
                "memory: needs {} SPRAM blocks, {} has {} ({})",
                self.spram_used,
                self.family.as_str(),
                self.spram_available,
                self.describe(RamKind::Spram)
            )));
        }
        if self.block_used > self.block_available {
            return Err(Error::new(format!(
                "memory: needs {} block RAMs, {} has {} ({}); use fewer outputs, rows or lanes",
                self.block_used,
                self.family.as_str(),
                self.block_available,
                self.describe(RamKind::Block)
            )));
        }
        Ok(())
    }

    fn describe(&self, kind: RamKind) -> String {
        self.memories
            .iter()
            .filter(|m| m.kind == kind && m.blocks > 0)
            .map(|m| format!("{} {}", m.name, m.blocks))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A field of a packed word: lowest bit and width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Field {
    /// Lowest bit.
    pub lo: u32,
    /// Width.
    pub bits: u32,
}

impl Field {
    fn mask(&self) -> u64 {
        if self.bits >= 64 {
            u64::MAX
        } else {
            (1u64 << self.bits) - 1
        }
    }

    /// `value` placed in the field (two's complement bits of a signed value).
    pub fn put(&self, value: i64) -> u64 {
        ((value as u64) & self.mask()) << self.lo
    }

    /// The field of `word`, sign-extended when `signed`.
    pub fn get(&self, word: u64, signed: bool) -> i64 {
        let raw = (word >> self.lo) & self.mask();
        if signed && self.bits < 64 && (raw >> (self.bits - 1)) & 1 == 1 {
            (raw | !self.mask()) as i64
        } else {
            raw as i64
        }
    }

    /// The Verilog part-select of this field of `name`.
    pub fn of(&self, name: &str) -> String {
        format!("{name}[{}:{}]", self.lo + self.bits - 1, self.lo)
    }
}

/// The bit layout of a `syn` word: weight lowest, then the long trail, then the short
/// trail and consolidation when the configuration stores them. The one definition that
/// the generator, the co-simulation and the manifest use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SynLayout {
    /// Weight (signed).
    pub weight: Field,
    /// Long trail.
    pub long: Field,
    /// Short trail, if stored.
    pub short: Option<Field>,
    /// Consolidation, if stored.
    pub consolidation: Option<Field>,
    /// Word width.
    pub bits: u32,
}

impl SynLayout {
    /// The layout of a configuration.
    pub fn new(c: &HwConfig) -> SynLayout {
        let f = &c.formats;
        let mut at = 0;
        let mut take = |bits: u32| {
            let field = Field { lo: at, bits };
            at += bits;
            field
        };
        let weight = take(f.weight.bits);
        let long = take(f.trail.bits);
        let short = c.stores_short().then(|| take(f.trail.bits));
        let consolidation = c.stores_consolidation().then(|| take(f.consolidation.bits));
        SynLayout {
            weight,
            long,
            short,
            consolidation,
            bits: at,
        }
    }

    /// Human-readable layout, most significant field first.
    pub fn describe(&self, c: &HwConfig) -> String {
        let f = &c.formats;
        let mut parts = Vec::new();
        if self.consolidation.is_some() {
            parts.push(format!("consolidation u{}", f.consolidation.bits));
        }
        if self.short.is_some() {
            parts.push(format!("short u{}", f.trail.bits));
        }
        parts.push(format!("long u{}", f.trail.bits));
        parts.push(format!("weight s{}", f.weight.bits));
        parts.join(", ")
    }
}
