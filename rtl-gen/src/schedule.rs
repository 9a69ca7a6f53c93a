//! The shared pipeline's multiplier schedule as data: which unit computes each product
//! and in which clocks of a step (list scheduling, see [`crate::shared`], which builds
//! the units from it). The module builder ([`crate::rtl::Module`]) keeps one while a
//! shared lane is built.

use std::collections::BTreeSet;

use crate::ir::Sig;

/// Bits per limb: an iCE40 `SB_MAC16` multiplies two 16-bit unsigned values.
pub const LIMB: u32 = 16;

/// The most units a schedule may use.
pub const MAX_UNITS: usize = 32;

/// Clocks from a partial product's issue to the clock its sum can be read in (the
/// configuration's bound on `step_clocks` is made from the same constant).
pub const PRODUCT_CLOCKS: u32 = lpn_cycle::config::SHARED_PRODUCT_CLOCKS;

/// One product on a shared unit.
#[derive(Debug, Clone)]
pub(crate) struct Product {
    /// The product (exact, the type `a * b` has): a slice of its register.
    pub dest: Sig,
    /// Operands as the datapath gave them.
    pub a: Sig,
    pub b: Sig,
    /// Phase code (1 ACCUMULATE, 2 SELECT, 3 APPLY) of the stage it belongs to.
    pub phase: u8,
    /// Unit and the clock of the step its first partial is issued in.
    pub unit: usize,
    pub start: u32,
    /// Magnitude bits of each operand (at most their types' widths; fewer for
    /// constants and products of constants).
    pub mag: (u32, u32),
    /// Its register on the unit, `mul<unit>_r<index>`: its rank by width among the
    /// unit's products of its phase (set by [`emit_units`]).
    pub index: usize,
    /// Bits of the product that carry its value (the magnitude bound's, and a sign
    /// when signed).
    pub kept: u32,
    /// Low bits nobody reads ([`product_low_unused`]): the
    /// register holds bits `drop..kept`.
    pub drop: u32,
}

impl Product {
    /// Limbs of each operand's magnitude.
    pub fn limbs(&self) -> (u32, u32) {
        (self.mag.0.div_ceil(LIMB), self.mag.1.div_ceil(LIMB))
    }

    /// Partial products (clocks on its unit).
    pub fn partials(&self) -> u32 {
        let (la, lb) = self.limbs();
        la * lb
    }
}

/// The schedule of a module's shared multipliers.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    /// Clocks per step.
    pub step: u32,
    /// Units the schedule may use.
    pub max_units: usize,
    /// Phase of the products asked for now.
    pub phase: u8,
    /// Products in the order they were asked for.
    pub products: Vec<Product>,
    /// Per unit, the (phase, clock) issue slots taken.
    pub taken: Vec<BTreeSet<(u8, u32)>>,
    /// The first product that did not fit in a step.
    pub error: Option<String>,
}

impl Shared {
    /// An empty schedule for steps of `step` clocks on at most `max_units` units.
    pub fn new(step: u32, max_units: usize) -> Shared {
        Shared {
            step,
            max_units,
            phase: 0,
            products: Vec::new(),
            taken: Vec::new(),
            error: None,
        }
    }

    /// The last clock a partial may be issued in so that its sum is readable in the
    /// step's last clock (where the stage registers take it).
    fn last_issue(&self) -> Option<u32> {
        (self.step).checked_sub(1 + PRODUCT_CLOCKS)
    }

    /// Places `n` consecutive partials readable from clock `ready` on: (unit, first
    /// clock) at the earliest clock any unit has room, a new unit (while fewer than
    /// `max_units`) when that is earlier; `None` when nothing fits in the step.
    pub fn place(&mut self, ready: u32, n: u32) -> Option<(usize, u32)> {
        let last = self.last_issue()?;
        let phase = self.phase;
        let fits = |taken: &BTreeSet<(u8, u32)>, t: u32| {
            t + n - 1 <= last && (t..t + n).all(|c| !taken.contains(&(phase, c)))
        };
        let mut best: Option<(usize, u32)> = None;
        for (u, taken) in self.taken.iter().enumerate() {
            if let Some(t) = (ready..=last).find(|&t| fits(taken, t)) {
                if best.is_none_or(|(_, bt)| t < bt) {
                    best = Some((u, t));
                }
            }
        }
        let new_unit = self.taken.len() < self.max_units && ready + n - 1 <= last;
        let pick = match best {
            Some(p) if !(new_unit && ready < p.1) => p,
            _ if new_unit => {
                self.taken.push(BTreeSet::new());
                (self.taken.len() - 1, ready)
            }
            _ => return None,
        };
        for c in pick.1..pick.1 + n {
            self.taken[pick.0].insert((phase, c));
        }
        Some(pick)
    }

    /// Units the schedule needs.
    pub fn units(&self) -> usize {
        self.taken.len()
    }
}
