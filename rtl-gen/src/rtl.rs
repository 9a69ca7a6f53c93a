//! A small typed RTL layer: every signal carries its width and signedness, and every
//! operation first brings both operands to one explicit type, so the emitted Verilog
//! never depends on Verilog's context-dependent width and signedness rules (a signed
//! comparison is always between two `signed` nets of equal width).
//!
//! The layer is SSA-like: each operation declares a named wire, so slices (which Verilog
//! allows only on names) are always legal and a waveform shows every intermediate.

use std::collections::BTreeMap;

use crate::ir::{BinOp, Expr, Lhs, Process, Stmt, UnOp};
pub use crate::ir::{Sig, Ty};

/// Port direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// `input wire`.
    Input,
    /// `output wire` (driven by an `assign`).
    Output,
    /// `output reg` (driven by a clocked block).
    OutputReg,
}

/// One declaration or statement of a module body, in creation order.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// `// text`.
    Comment(String),
    /// `localparam`.
    Param(Sig, Expr),
    /// `wire name = expr;`.
    Wire(Sig, Expr),
    /// `reg name;` (driven by a process).
    Reg(Sig),
    /// `wire name;` (driven by an instance).
    Net(Sig),
    /// A memory: its depth and its synthesis attribute.
    Mem(Sig, usize, MemAttr),
    /// `assign port = expr;`.
    Assign(String, Expr),
    /// An `always` block.
    Process(Process),
    /// An instance of another module.
    Instance(crate::ir::Instance),
}

/// The synthesis attribute a memory is declared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemAttr {
    None,
    /// `(* no_rw_check *)`: see [`Module::mem_no_rw_check`].
    NoRwCheck,
    /// `(* ram_style = "block" *)`: see [`Module::mem_block`].
    Block,
}

impl MemAttr {
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            MemAttr::None => "",
            MemAttr::NoRwCheck => "(* no_rw_check *) ",
            MemAttr::Block => "(* ram_style = \"block\" *) ",
        }
    }
}

/// A module under construction.
#[derive(Debug, Clone)]
pub struct Module {
    /// Module name.
    pub name: String,
    pub(crate) header: Vec<String>,
    ports: Vec<(Dir, Sig)>,
    items: Vec<Item>,
    used: BTreeMap<String, u32>,
    casts: BTreeMap<(String, u32, bool), Sig>,
    /// Whether [`Module::cut`] inserts a register (the `deep` pipeline) or nothing.
    pipelined: bool,
    /// Pipeline registers: (register, source, cleared on reset).
    pipes: Vec<(String, Expr, bool)>,
    delayed: BTreeMap<(String, u32), Sig>,
    /// Names whose value comes straight out of a register (registers, input ports, and
    /// casts and slices of them): a multiplier fed by one needs no register in front.
    registered: std::collections::BTreeSet<String>,
    /// The clock of every name ([`Sig::at`]), so that a wire written as Verilog text
    /// gets the clock of the names it reads.
    ats: BTreeMap<String, Option<u32>>,
    /// The shared pipeline's multiplier schedule ([`crate::shared`]): `at` is then the
    /// clock of the step from which a value can be read, and nothing is delayed.
    shared: Option<crate::schedule::Shared>,
    /// The largest magnitude of values known to stay below their type's: the
    /// `localparam`s ([`Module::param`]) and shared products (for the schedule's limbs).
    magnitudes: BTreeMap<String, u128>,
    /// Values of [`Module::konst`] wires and `localparam`s.
    values: BTreeMap<String, i128>,
}

impl Module {
    /// An empty module; `header` lines become the file's leading comment.
    pub fn new(name: &str, header: &[String]) -> Module {
        Module {
            name: name.into(),
            header: header.to_vec(),
            ports: Vec::new(),
            items: Vec::new(),
            used: BTreeMap::new(),
            casts: BTreeMap::new(),
            pipelined: false,
            pipes: Vec::new(),
            delayed: BTreeMap::new(),
            registered: Default::default(),
            ats: BTreeMap::new(),
            shared: None,
            magnitudes: BTreeMap::new(),
            values: BTreeMap::new(),
        }
    }

    /// Makes products go to at most `units` shared multipliers, in steps of `step`
    /// clocks (the shared pipeline; [`crate::shared`]).
    pub fn set_shared(&mut self, step: u32, units: usize) {
        self.shared = Some(crate::schedule::Shared::new(step, units));
    }

    /// Records that `a`'s magnitude never exceeds `largest` (the shared multipliers
    /// give it no more limbs than that needs).
    pub fn bound(&mut self, a: &Sig, largest: u128) {
        self.magnitudes.insert(a.name.clone(), largest);
    }

    /// The largest magnitude recorded for `a` ([`Module::bound`], `localparam` values).
    pub fn bound_of(&self, a: &Sig) -> Option<u128> {
        self.magnitudes.get(&a.name).copied()
    }

    /// Whether products go to shared multipliers.
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Why the schedule failed, if it did (a product that cannot be ready by the
    /// step's last clock).
    pub fn shared_error(&self) -> Option<String> {
        self.shared.as_ref().and_then(|s| s.error.clone())
    }

    /// The shared multipliers' schedule ([`crate::shared`]), when products go there.
    pub(crate) fn schedule(&mut self) -> Option<&mut crate::schedule::Shared> {
        self.shared.as_mut()
    }

    /// The largest magnitude `a` can have: its recorded bound ([`Module::bound`]), or
    /// its type's.
    pub(crate) fn largest(&self, a: &Sig) -> u128 {
        self.magnitudes
            .get(&a.name)
            .copied()
            .unwrap_or(if a.ty.signed {
                1u128 << (a.ty.width - 1)
            } else {
                (1u128 << a.ty.width) - 1
            })
    }

    /// Marks `a` as coming straight out of a register.
    pub(crate) fn mark_registered(&mut self, a: &Sig) {
        self.registered.insert(a.name.clone());
    }

    /// Replaces the value of the wire `a` (a shared product, once its register is
    /// known).
    pub(crate) fn rewire(&mut self, a: &Sig, value: Expr) {
        if let Some(Item::Wire(_, v)) = self
            .items
            .iter_mut()
            .find(|i| matches!(i, Item::Wire(sig, _) if sig.name == a.name))
        {
            *v = value;
        }
    }

    /// Makes [`Module::cut`] insert registers (the `deep` pipeline).
    pub fn set_pipelined(&mut self, on: bool) {
        self.pipelined = on;
    }

    /// Whether [`Module::cut`] inserts registers.
    pub fn pipelined(&self) -> bool {
        self.pipelined
    }

    /// `a` as a value that does not change during a phase (per-update control such as
    /// the mode or the row count): it needs no delay to meet later values.
    pub fn invariant(&mut self, a: &Sig) -> Sig {
        self.ats.insert(a.name.clone(), None);
        Sig {
            at: None,
            ..a.clone()
        }
    }

    /// Records a new name's clock.
    fn born(&mut self, s: &Sig) {
        self.ats.insert(s.name.clone(), s.at);
    }

    /// The clock of an expression: that of the names it reads, which must agree
    /// (`None` when it reads only constants and per-update control).
    fn clock_of(&self, name: &str, rhs: &Expr) -> Option<u32> {
        let mut at: Option<u32> = None;
        let shared = self.shared.is_some();
        rhs.reads(&mut |n| {
            if let Some(Some(t)) = self.ats.get(n) {
                match at {
                    None => at = Some(*t),
                    // Shared: values hold still for the whole step; the latest counts.
                    Some(a) if shared => at = Some(a.max(*t)),
                    Some(a) => assert_eq!(
                        a, *t,
                        "{name} = {rhs:?}: reads values of different clocks of its stage"
                    ),
                }
            }
        });
        at
    }

    /// Whether `a` comes straight out of a register (or never changes).
    pub fn is_registered(&self, a: &Sig) -> bool {
        a.at.is_none() || self.registered.contains(&a.name)
    }

    /// A pipeline register after `a` when the module is pipelined and `a` comes out of
    /// logic, else `a` itself.
    pub fn cut_logic(&mut self, a: &Sig) -> Sig {
        if self.is_registered(a) {
            a.clone()
        } else {
            self.cut(a)
        }
    }

    /// A register after `a`, a per-update value that comes out of logic, when the
    /// module is pipelined (else `a` itself): it takes that logic off the paths into
    /// multipliers. Per-update control changes only when an update starts, so the
    /// register's clock of lag is never seen by a reader that runs clocks after the
    /// start (the caller's obligation: APPLY's constants by mode are).
    pub fn hold(&mut self, a: &Sig) -> Sig {
        if !self.pipelined {
            return a.clone();
        }
        assert!(a.at.is_none(), "{} changes within a phase", a.name);
        let s = Sig {
            name: self.fresh(&format!("{}_held", base(&a.name))),
            ty: a.ty,
            at: None,
        };
        self.items.push(Item::Reg(s.clone()));
        self.born(&s);
        self.registered.insert(s.name.clone());
        self.pipes.push((s.name.clone(), Expr::from(a), false));
        s
    }

    /// A pipeline register after `a` when the module is pipelined, else `a` itself.
    pub fn cut(&mut self, a: &Sig) -> Sig {
        match a.at {
            Some(at) if self.pipelined => self.delay(a, at + 1),
            _ => a.clone(),
        }
    }

    /// `a` delayed by registers until it is valid at clock `at` of its stage (`a` itself
    /// when it already is, or does not change during a phase). Registers are shared: a
    /// value delayed twice to the same clock is one chain.
    pub fn delay(&mut self, a: &Sig, at: u32) -> Sig {
        self.delay_with(a, at, false)
    }

    /// [`Module::delay`] for a valid bit: the registers are cleared on reset.
    pub fn delay_valid(&mut self, a: &Sig, at: u32) -> Sig {
        self.delay_with(a, at, true)
    }

    fn delay_with(&mut self, a: &Sig, at: u32, reset: bool) -> Sig {
        let Some(from) = a.at else {
            return a.clone();
        };
        if self.shared.is_some() {
            // Shared: a stage's values hold still until the step's last clock, where
            // the next stage takes them; the schedule makes every product ready by then.
            return a.clone();
        }
        assert!(
            from <= at,
            "{} is valid at clock {from} of its stage, later than {at}",
            a.name
        );
        let mut cur = a.clone();
        for n in from + 1..=at {
            let key = (a.name.clone(), n);
            cur = match self.delayed.get(&key) {
                Some(s) => s.clone(),
                None => {
                    let name = self.fresh(&format!("{}_p{n}", base(&a.name)));
                    let s = Sig {
                        name,
                        ty: a.ty,
                        at: Some(n),
                    };
                    self.items.push(Item::Reg(s.clone()));
                    self.born(&s);
                    self.registered.insert(s.name.clone());
                    self.pipes.push((s.name.clone(), Expr::from(&cur), reset));
                    self.delayed.insert(key, s.clone());
                    s
                }
            };
        }
        cur
    }

    /// Operands brought to the latest clock among them (registers on the earlier ones).
    fn align(&mut self, xs: &[&Sig]) -> Vec<Sig> {
        let at = xs.iter().filter_map(|x| x.at).max();
        xs.iter()
            .map(|x| match at {
                Some(t) => self.delay(x, t),
                None => (*x).clone(),
            })
            .collect()
    }

    /// A wire that joins values of different stages (a memory port's address or data,
    /// chosen by phase): it has no clock of its own and must not feed a stage's logic.
    pub fn wire_across(&mut self, name: &str, ty: Ty, rhs: impl Into<Expr>) -> Sig {
        self.wire_at(name, ty, rhs.into(), None)
    }

    /// A wire valid at `at`.
    pub(crate) fn wire_at(&mut self, name: &str, ty: Ty, rhs: Expr, at: Option<u32>) -> Sig {
        let s = Sig {
            name: self.fresh(name),
            ty,
            at,
        };
        if let Some(src) = rhs.rewires() {
            if self.registered.contains(src) {
                self.registered.insert(s.name.clone());
            }
        }
        self.born(&s);
        self.items.push(Item::Wire(s.clone(), rhs));
        s
    }

    fn fresh(&mut self, base: &str) -> String {
        let n = self.used.entry(base.to_string()).or_insert(0);
        *n += 1;
        if *n == 1 {
            base.to_string()
        } else {
            format!("{base}_{}", *n - 1)
        }
    }

    /// Ports in declaration order.
    pub fn ports(&self) -> &[(Dir, Sig)] {
        &self.ports
    }

    /// Declares a port.
    pub fn port(&mut self, dir: Dir, name: &str, ty: Ty) -> Sig {
        let s = Sig {
            name: self.fresh(name),
            ty,
            at: Some(0),
        };
        if dir == Dir::Input {
            self.registered.insert(s.name.clone());
        }
        self.born(&s);
        self.ports.push((dir, s.clone()));
        s
    }

    /// A comment line in the body.
    pub fn comment(&mut self, text: &str) {
        self.items.push(Item::Comment(text.into()));
    }

    /// A `localparam` holding `value`.
    pub fn param(&mut self, name: &str, ty: Ty, value: i128) -> Sig {
        let s = Sig {
            name: self.fresh(name),
            ty,
            at: None,
        };
        self.items
            .push(Item::Param(s.clone(), Expr::lit(ty, value)));
        self.born(&s);
        self.magnitudes.insert(s.name.clone(), value.unsigned_abs());
        self.values.insert(s.name.clone(), value);
        s
    }

    /// A wire driven by `rhs`, which must already have type `ty`. It is valid at the
    /// clock of the names it reads ([`Sig::at`]; they must agree), or never changes when
    /// it reads none that do.
    pub fn wire(&mut self, name: &str, ty: Ty, rhs: impl Into<Expr>) -> Sig {
        let rhs = rhs.into();
        let at = self.clock_of(name, &rhs);
        self.wire_at(name, ty, rhs, at)
    }

    /// A register (driven by a [`Module::process`]).
    pub fn reg(&mut self, name: &str, ty: Ty) -> Sig {
        let s = Sig {
            name: self.fresh(name),
            ty,
            at: Some(0),
        };
        self.registered.insert(s.name.clone());
        self.born(&s);
        self.items.push(Item::Reg(s.clone()));
        s
    }

    /// A `reg` driven by an `always @(*)` [`Module::process`], valid at
    /// clock `at` of its stage (it comes out of logic: a multiplexer of registers).
    pub fn comb(&mut self, name: &str, ty: Ty, at: Option<u32>) -> Sig {
        let s = Sig {
            name: self.fresh(name),
            ty,
            at,
        };
        self.born(&s);
        self.items.push(Item::Reg(s.clone()));
        s
    }

    /// `n` registers in a row behind `src`, named `<base>_q`, `<base>_q2`, ...: each with
    /// the value it takes every clock (the caller puts the assignments,
    /// [`Module::chain_stmts`], in the clocked process where they belong). The last one
    /// is `src` of `n` clocks ago.
    pub fn reg_chain(
        &mut self,
        base: &str,
        ty: Ty,
        src: impl Into<Expr>,
        n: u32,
    ) -> Vec<(Sig, Expr)> {
        let mut prev = src.into();
        (1..=n)
            .map(|i| {
                let suffix = if i == 1 { String::new() } else { i.to_string() };
                let q = self.reg(&format!("{base}_q{suffix}"), ty);
                let from = std::mem::replace(&mut prev, Expr::from(&q));
                (q, from)
            })
            .collect()
    }

    /// The clocked assignments of a [`Module::reg_chain`], `q <= from` each.
    pub fn chain_stmts(chain: &[(Sig, Expr)]) -> Vec<Stmt> {
        chain
            .iter()
            .map(|(q, from)| Stmt::set(q, from.clone()))
            .collect()
    }

    /// A wire driven by a module instance's output (declared, not assigned).
    pub fn net(&mut self, name: &str, ty: Ty) -> Sig {
        let s = Sig {
            name: self.fresh(name),
            ty,
            at: Some(0),
        };
        self.born(&s);
        self.items.push(Item::Net(s.clone()));
        s
    }

    /// A memory `reg [W-1:0] name [0:depth-1]`.
    pub fn mem(&mut self, name: &str, ty: Ty, depth: usize) -> Sig {
        self.mem_item(name, ty, depth, MemAttr::None)
    }

    /// A memory marked `(* ram_style = "block" *)`: synthesis puts it in block RAM even
    /// when it has so few words that it would otherwise become flip-flops and
    /// multiplexers.
    pub fn mem_block(&mut self, name: &str, ty: Ty, depth: usize) -> Sig {
        self.mem_item(name, ty, depth, MemAttr::Block)
    }

    /// A memory marked `(* no_rw_check *)`: the caller guarantees that a word read in
    /// the clock the same address is written is never used, so synthesis may map it to
    /// block RAM without the logic that would make that read return the old word.
    pub fn mem_no_rw_check(&mut self, name: &str, ty: Ty, depth: usize) -> Sig {
        self.mem_item(name, ty, depth, MemAttr::NoRwCheck)
    }

    fn mem_item(&mut self, name: &str, ty: Ty, depth: usize, attr: MemAttr) -> Sig {
        let s = Sig {
            name: self.fresh(name),
            ty,
            at: Some(0),
        };
        self.born(&s);
        self.items.push(Item::Mem(s.clone(), depth, attr));
        s
    }

    /// Marks bits `[lo, lo + width)` of `a` as deliberately unread (a field of a word
    /// this stage does not need): an `_unused` wire reads them, which tells lint so.
    pub fn sink(&mut self, a: &Sig, lo: u32, width: u32) {
        if width == 0 {
            return;
        }
        let rhs = if width == 1 {
            Expr::bit_of(a, lo)
        } else {
            Expr::field(a, lo, width)
        };
        let name = format!("{}_{lo}_unused", a.name);
        self.wire(&name, Ty::u(width), rhs);
    }

    /// `assign lhs = rhs;` (for output ports).
    pub fn assign(&mut self, lhs: &Sig, rhs: &Sig) {
        assert_eq!(lhs.ty, rhs.ty, "assign {} = {}", lhs.name, rhs.name);
        self.items
            .push(Item::Assign(lhs.name.clone(), Expr::from(rhs)));
    }

    /// `assign lhs = rhs;` for an output port driven by an expression of its type.
    pub fn assign_expr(&mut self, lhs: &Sig, rhs: impl Into<Expr>) {
        self.items.push(Item::Assign(lhs.name.clone(), rhs.into()));
    }

    /// An `always` block.
    pub fn process(&mut self, p: Process) {
        self.items.push(Item::Process(p));
    }

    /// An instance of another module.
    pub fn instance(&mut self, i: crate::ir::Instance) {
        self.items.push(Item::Instance(i));
    }

    /// An instance of `child` named `name`: its port map is derived from `child`'s ports,
    /// each connected to this module's signal of the same name unless `renames` connects
    /// it to something else.
    ///
    /// # Panics
    /// When a rename names no port of `child`, or a port connected by name has no
    /// signal of that name and width here: both are generator bugs, which would
    /// otherwise leave an implicit net for lint to find later.
    pub fn instance_of(&mut self, child: &Module, name: &str, renames: &[(&str, Expr)]) {
        let ports: Vec<(&str, u32)> = child
            .ports
            .iter()
            .map(|(_, s)| (s.name.as_str(), s.ty.width))
            .collect();
        self.instance_of_ports(&child.name, &ports, name, renames);
    }

    /// [`Module::instance_of`] for a module known by its name and its ports' names and
    /// widths (one generated elsewhere, such as the engine under a board top).
    pub fn instance_of_ports(
        &mut self,
        module: &str,
        ports: &[(&str, u32)],
        name: &str,
        renames: &[(&str, Expr)],
    ) {
        for (r, _) in renames {
            assert!(
                ports.iter().any(|(p, _)| p == r),
                "{name}: `{r}` is not a port of {module}"
            );
        }
        for &(p, width) in ports {
            if renames.iter().any(|(r, _)| *r == p) {
                continue;
            }
            let here = self.declared(p);
            assert!(
                here.is_some_and(|t| t.width == width),
                "{name}: port `{p}` ({width} bits) of {module} has no signal of that name and width in {} ({here:?})",
                self.name
            );
        }
        self.instance(crate::ir::Instance::of(
            module,
            name,
            ports.iter().map(|(p, _)| *p),
            renames,
        ));
    }

    /// The type of the port, wire, register, net or memory word declared as `name`.
    fn declared(&self, name: &str) -> Option<Ty> {
        let port = self.ports.iter().map(|(_, s)| s);
        let items = self.items.iter().filter_map(|i| match i {
            Item::Param(s, _) | Item::Wire(s, _) | Item::Reg(s) | Item::Net(s) => Some(s),
            Item::Mem(s, _, _) => Some(s),
            _ => None,
        });
        port.chain(items).find(|s| s.name == name).map(|s| s.ty)
    }

    /// A constant as a wire of the smallest fitting type (or `ty` when given).
    pub fn konst(&mut self, name: &str, value: i128, signed: bool) -> Sig {
        let ty = Ty::fitting(value, value, signed);
        let k = self.wire(name, ty, Expr::lit(ty, value));
        self.values.insert(k.name.clone(), value);
        k
    }

    /// `a` converted to `ty`: sign- or zero-extension (by `a`'s signedness), or dropping
    /// high bits when `ty` is narrower (the caller guarantees the value fits).
    pub fn cast(&mut self, a: &Sig, ty: Ty) -> Sig {
        if a.ty == ty {
            return a.clone();
        }
        let key = (a.name.clone(), ty.width, ty.signed);
        if let Some(done) = self.casts.get(&key) {
            return done.clone();
        }
        let w = a.ty.width;
        let body = if ty.width > w {
            let fill = if a.ty.signed {
                Expr::Repeat(ty.width - w, Box::new(Expr::bit_of(a, w - 1)))
            } else {
                Expr::bits(ty.width - w, 0)
            };
            Expr::Concat(vec![fill, Expr::from(a)])
        } else if ty.width == w {
            Expr::from(a)
        } else {
            // The dropped high bits go to an `_unused` wire: the caller guarantees they
            // carry nothing (the value fits), and the name tells lint so.
            let hi = if w - ty.width == 1 {
                Expr::bit_of(a, w - 1)
            } else {
                Expr::slice(a, w - 1, ty.width)
            };
            self.wire(
                &format!("{}_hi_unused", base(&a.name)),
                Ty::u(w - ty.width),
                hi,
            );
            if ty.width == 1 {
                Expr::bit_of(a, 0)
            } else {
                Expr::slice(a, ty.width - 1, 0)
            }
        };
        let rhs = if ty.signed {
            Expr::signed(body)
        } else {
            Expr::unsigned(body)
        };
        let out = self.wire(&format!("{}_c", base(&a.name)), ty, rhs);
        self.casts.insert(key, out.clone());
        out
    }

    /// Both operands in one type wide enough for both and for `extra` more bits.
    fn common(&mut self, a: &Sig, b: &Sig, extra: u32) -> (Sig, Sig, Ty) {
        let v = self.align(&[a, b]);
        let (a, b) = (&v[0], &v[1]);
        let signed = a.ty.signed || b.ty.signed;
        let bits = |t: Ty| t.width + u32::from(signed && !t.signed);
        let ty = Ty {
            width: bits(a.ty).max(bits(b.ty)) + extra,
            signed,
        };
        (self.cast(a, ty), self.cast(b, ty), ty)
    }

    /// `a + b`, exact.
    pub fn add(&mut self, name: &str, a: &Sig, b: &Sig) -> Sig {
        let (x, y, ty) = self.common(a, b, 1);
        self.wire(name, ty, Expr::bin(BinOp::Add, &x, &y))
    }

    /// `a - b`, exact (signed result).
    pub fn sub(&mut self, name: &str, a: &Sig, b: &Sig) -> Sig {
        let a = self.to_signed(a);
        let b = self.to_signed(b);
        let (x, y, ty) = self.common(&a, &b, 1);
        self.wire(name, ty, Expr::bin(BinOp::Sub, &x, &y))
    }

    /// `a * b`, exact.
    pub fn mul(&mut self, name: &str, a: &Sig, b: &Sig) -> Sig {
        let v = self.align(&[a, b]);
        let (a, b) = (&v[0], &v[1]);
        let signed = a.ty.signed || b.ty.signed;
        let a = if signed { self.to_signed(a) } else { a.clone() };
        let b = if signed { self.to_signed(b) } else { b.clone() };
        let ty = Ty {
            width: a.ty.width + b.ty.width,
            signed,
        };
        let x = self.cast(&a, ty);
        let y = self.cast(&b, ty);
        self.wire(name, ty, Expr::bin(BinOp::Mul, &x, &y))
    }

    /// `a` as a signed value (one more bit if it was unsigned).
    pub fn to_signed(&mut self, a: &Sig) -> Sig {
        if a.ty.signed {
            a.clone()
        } else {
            self.cast(a, Ty::s(a.ty.width + 1))
        }
    }

    /// `|a|` as an unsigned value of the same width.
    pub fn abs(&mut self, name: &str, a: &Sig) -> Sig {
        if !a.ty.signed {
            return a.clone();
        }
        let w = a.ty.width;
        let wide = self.cast(a, Ty::s(w + 1));
        let neg = self.wire(
            &format!("{name}_neg"),
            Ty::s(w + 1),
            Expr::un(UnOp::Neg, &wide),
        );
        let pick = self.wire(
            &format!("{name}_s"),
            Ty::s(w + 1),
            Expr::mux(Expr::bit_of(a, w - 1), &neg, &wide),
        );
        self.cast(&pick, Ty::u(w))
    }

    /// A comparison (`<`, `<=`, `>`, `>=`, `==`, `!=`) as one bit, signed if either is.
    pub fn cmp(&mut self, name: &str, a: &Sig, op: BinOp, b: &Sig) -> Sig {
        if self.shared.is_some() {
            if let Some(c) = self.cmp_constant(name, a, op, b) {
                return c;
            }
        }
        let (x, y, _) = self.common(a, b, 0);
        self.wire(name, Ty::BIT, Expr::bin(op, &x, &y))
    }

    /// `c ? a : b` in the common type of `a` and `b`.
    pub fn mux(&mut self, name: &str, c: &Sig, a: &Sig, b: &Sig) -> Sig {
        assert_eq!(c.ty.width, 1);
        let v = self.align(&[c, a, b]);
        let (x, y, ty) = self.common(&v[1], &v[2], 0);
        self.wire(name, ty, Expr::mux(&v[0], &x, &y))
    }

    /// `min(a, b)`.
    pub fn min(&mut self, name: &str, a: &Sig, b: &Sig) -> Sig {
        let lt = self.cmp(&format!("{name}_lt"), a, BinOp::Lt, b);
        self.mux(name, &lt, a, b)
    }

    /// `max(a, b)`.
    pub fn max(&mut self, name: &str, a: &Sig, b: &Sig) -> Sig {
        let gt = self.cmp(&format!("{name}_gt"), a, BinOp::Gt, b);
        self.mux(name, &gt, a, b)
    }

    /// `clamp(a, lo, hi)` into `ty` (which must hold both bounds; `lo <= hi`). Both
    /// comparisons look at `a`, side by side rather than one after the other (one carry
    /// chain deep); a bound `a`'s type cannot pass is not compared.
    pub fn clamp(&mut self, name: &str, a: &Sig, lo: i128, hi: i128, ty: Ty) -> Sig {
        assert!(lo <= hi, "{name}: clamp to [{lo}, {hi}]");
        let mut v = a.clone();
        // Shared pipeline (the UP5K's): a compare with a constant as logic on `a`'s
        // bits, not a carry chain (a chain's cells hold nothing else and cost a logic
        // cell per bit).
        let lut = self.shared.is_some();
        if hi < a.ty.max() {
            let h = self.konst(&format!("{name}_max"), hi, false);
            let above = if lut {
                self.const_compare(&format!("{name}_hi_gt"), a, true, hi)
            } else {
                self.cmp(&format!("{name}_hi_gt"), a, BinOp::Gt, &h)
            };
            v = self.mux(&format!("{name}_hi"), &above, &h, &v);
        }
        if lo > a.ty.min() {
            let l = self.konst(&format!("{name}_min"), lo, false);
            let below = if lut {
                self.const_compare(&format!("{name}_lo_lt"), a, false, lo)
            } else {
                self.cmp(&format!("{name}_lo_lt"), a, BinOp::Lt, &l)
            };
            v = self.mux(&format!("{name}_lo"), &below, &l, &v);
        }
        self.cast(&v, ty)
    }

    /// An ordering compare of a value with a constant ([`Module::konst`] or a
    /// `localparam`, on either side) as [`Module::const_compare`] logic, or a constant
    /// bit when the constant lies outside the value's range; `None` for other compares.
    fn cmp_constant(&mut self, name: &str, a: &Sig, op: BinOp, b: &Sig) -> Option<Sig> {
        let known = |s: &Sig| self.values.get(&s.name).copied();
        // As `x op k` with the constant on the right.
        let (x, op, k) = match (known(a), known(b)) {
            (None, Some(k)) => (a, op, k),
            (Some(k), None) => {
                let flipped = match op {
                    BinOp::Lt => BinOp::Gt,
                    BinOp::Le => BinOp::Ge,
                    BinOp::Gt => BinOp::Lt,
                    BinOp::Ge => BinOp::Le,
                    _ => return None,
                };
                (b, flipped, k)
            }
            _ => return None,
        };
        // Strict forms: x >= k is x > k - 1, x <= k is x < k + 1.
        let (above, bound) = match op {
            BinOp::Gt => (true, k),
            BinOp::Ge => (true, k - 1),
            BinOp::Lt => (false, k),
            BinOp::Le => (false, k + 1),
            _ => return None,
        };
        let (lo, hi) = (x.ty.min(), x.ty.max());
        let always = |m: &mut Module, v: bool| Some(m.wire(name, Ty::BIT, Expr::bit(v)));
        match (above, bound) {
            (true, b) if b < lo => always(self, true),
            (true, b) if b >= hi => always(self, false),
            (false, b) if b > hi => always(self, true),
            (false, b) if b <= lo => always(self, false),
            _ => Some(self.const_compare(name, x, above, bound)),
        }
    }

    /// `a > k` (`above`) or `a < k` for a constant `k` within `a`'s range, as AND/OR
    /// logic on `a`'s bits: from the least significant bit up, a bit where `k` has a 1
    /// must be set for `a > k` (an AND with the lower bits' verdict), a bit where it has
    /// a 0 decides on its own when set (an OR); for `a < k` the same with the bits
    /// inverted. A signed `a` is compared as unsigned with its sign bit flipped.
    pub fn const_compare(&mut self, name: &str, a: &Sig, above: bool, k: i128) -> Sig {
        assert!(
            a.ty.min() <= k && k <= a.ty.max(),
            "{name}: {k} outside {:?}",
            a.ty
        );
        let w = a.ty.width;
        let offset = if a.ty.signed { 1i128 << (w - 1) } else { 0 };
        let kk = (k + offset) as u128;
        let mut g: Option<Expr> = None; // None: constant false
        for i in 0..w {
            let raw = Expr::bit_of(a, i);
            let flip = a.ty.signed && i == w - 1;
            // The bit as it counts for the verdict: set when it pushes `a` above
            // (`above`) or below `k`.
            let bit = if flip != above { raw } else { !raw };
            let k_bit = (kk >> i) & 1 == 1;
            // above: k 1 -> bit & g, k 0 -> bit | g; below: k 0 -> bit & g, k 1 -> bit | g.
            let and = k_bit == above;
            g = match (and, g) {
                (true, None) => None,
                (true, Some(x)) => Some(Expr::bin(BinOp::And, bit, x)),
                (false, None) => Some(bit),
                (false, Some(x)) => Some(Expr::bin(BinOp::Or, bit, x)),
            };
        }
        self.wire(name, Ty::BIT, g.unwrap_or_else(|| Expr::bit(false)))
    }

    /// `(a + 2^(s-1)) >> s` (round half up); arithmetic for signed values.
    pub fn round_shift(&mut self, name: &str, a: &Sig, s: u32) -> Sig {
        if s == 0 {
            return a.clone();
        }
        let half = self.konst(&format!("{name}_half"), 1i128 << (s - 1), false);
        let sum = self.add(&format!("{name}_sum"), a, &half);
        self.shift_right(name, &sum, s)
    }

    /// `a >> s` (floor; arithmetic for signed values): the high bits as a slice, the
    /// dropped low bits to an `_unused` wire.
    pub fn shift_right(&mut self, name: &str, a: &Sig, s: u32) -> Sig {
        if s == 0 {
            return a.clone();
        }
        let w = a.ty.width;
        let low = if s == 1 {
            Expr::bit_of(a, 0)
        } else {
            Expr::slice(a, s.min(w) - 1, 0)
        };
        self.wire(&format!("{name}_lo_unused"), Ty::u(s.min(w)), low);
        if s >= w {
            // Everything shifted out: 0, or the sign for a signed value.
            return if a.ty.signed {
                self.wire(name, Ty::s(1), Expr::signed(Expr::bit_of(a, w - 1)))
            } else {
                self.wire(name, Ty::u(1), Expr::bit(false))
            };
        }
        let ty = Ty {
            width: w - s,
            signed: a.ty.signed,
        };
        let slice = if w - s == 1 {
            Expr::bit_of(a, w - 1)
        } else {
            Expr::slice(a, w - 1, s)
        };
        let rhs = if a.ty.signed {
            Expr::signed(slice)
        } else {
            slice
        };
        self.wire(name, ty, rhs)
    }

    /// `a << s` (exact, wider).
    pub fn shift_left(&mut self, name: &str, a: &Sig, s: u32) -> Sig {
        if s == 0 {
            return a.clone();
        }
        let ty = Ty {
            width: a.ty.width + s,
            signed: a.ty.signed,
        };
        let wide = self.cast(a, ty);
        let op = if a.ty.signed { BinOp::Ashl } else { BinOp::Shl };
        let out = self.wire(name, ty, Expr::bin(op, &wide, Expr::int(s.into())));
        if self.registered.contains(&wide.name) {
            self.registered.insert(out.name.clone());
        }
        out
    }

    /// Drops wires and parameters nothing reads (constants a configuration does not
    /// need, operations whose result is unused), and marks unread input ports and
    /// registers with an `_unused` wire, so that `verilator -Wall` has nothing to say.
    pub(crate) fn pruned(&self) -> Vec<Item> {
        let mut items = self.items.clone();
        if !self.pipes.is_empty() {
            items.push(Item::Process(self.pipe_process()));
        }
        loop {
            let mut used = std::collections::BTreeSet::new();
            for item in &items {
                reads_of(item, true, &mut |n| {
                    used.insert(n.to_string());
                });
            }
            let before = items.len();
            items.retain(|item| match item {
                Item::Param(sig, _) | Item::Mem(sig, ..) => used.contains(&sig.name),
                Item::Wire(sig, _) => sig.name.contains("_unused") || used.contains(&sig.name),
                _ => true,
            });
            if items.len() == before {
                // Registers written but never read (fields a configuration does not use).
                let mut read = std::collections::BTreeSet::new();
                for item in &items {
                    reads_of(item, false, &mut |n| {
                        read.insert(n.to_string());
                    });
                }
                let outputs: std::collections::BTreeSet<&str> =
                    self.ports.iter().map(|(_, p)| p.name.as_str()).collect();
                let idle: Vec<Item> = items
                    .iter()
                    .filter_map(|i| match i {
                        Item::Reg(sig)
                            if !read.contains(&sig.name)
                                && !outputs.contains(sig.name.as_str()) =>
                        {
                            Some(unused_sink(sig))
                        }
                        _ => None,
                    })
                    .collect();
                items.extend(idle);
                let unread: Vec<Item> = self
                    .ports
                    .iter()
                    .filter(|(d, p)| *d == Dir::Input && !used.contains(&p.name))
                    .map(|(_, p)| unused_sink(p))
                    .collect();
                items.extend(unread);
                return items;
            }
        }
    }

    /// The clocked process of the pipeline registers inside stages ([`Module::cut`],
    /// [`Module::delay`]): each holds its source one clock later; valid bits clear on
    /// reset.
    fn pipe_process(&self) -> Process {
        let (valid, data): (Vec<_>, Vec<_>) = self.pipes.iter().partition(|p| p.2);
        let set =
            |(d, src, _): &&(String, Expr, bool)| Stmt::set(Lhs::Name(d.clone()), src.clone());
        let mut body = Vec::new();
        if !valid.is_empty() {
            let clear = valid
                .iter()
                .map(|(d, _, _)| Stmt::set(Lhs::Name(d.clone()), Expr::bit(false)))
                .collect();
            body.push(Stmt::If(
                Expr::name("rst"),
                clear,
                valid.iter().map(set).collect(),
            ));
        }
        body.extend(data.iter().map(set));
        Process::clocked(body)
            .commented("Pipeline registers inside stages: each is its source one clock later.")
    }

    /// Ports in declaration order, with their direction.
    pub(crate) fn port_list(&self) -> &[(Dir, Sig)] {
        &self.ports
    }
}

/// Calls `f` with the names `item` reads; `lhs_reads` counts the names assignments
/// drive as read too (a wire or parameter is kept when anything names it; a register is
/// unread only when nothing but its own assignment names it).
fn reads_of(item: &Item, lhs_reads: bool, f: &mut impl FnMut(&str)) {
    match item {
        Item::Param(_, v) | Item::Wire(_, v) => v.reads(f),
        Item::Assign(l, r) => {
            if lhs_reads {
                f(l);
            }
            r.reads(f);
        }
        Item::Process(p) => {
            p.reads(f);
            if lhs_reads {
                p.writes(f);
            }
        }
        Item::Instance(i) => i.reads(f),
        Item::Comment(_) | Item::Reg(_) | Item::Net(_) | Item::Mem(..) => {}
    }
}

/// `wire [w-1:0] <name>_unused = <name>;` (unsigned): tells lint that a register or an
/// input nothing reads is unread on purpose.
fn unused_sink(sig: &Sig) -> Item {
    Item::Wire(
        Sig {
            name: format!("{}_unused", sig.name),
            ty: Ty::u(sig.ty.width),
            at: sig.at,
        },
        Expr::bits_of(sig),
    )
}

/// The name without a numeric `_N` suffix, for derived names.
fn base(name: &str) -> &str {
    match name.rsplit_once('_') {
        Some((b, n)) if n.chars().all(|c| c.is_ascii_digit()) && !b.is_empty() => b,
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_declarations() {
        assert_eq!(Ty::s(8).lit(-1), "8'shFF");
        assert_eq!(Ty::s(8).lit(5), "8'sh5");
        assert_eq!(Ty::u(4).lit(15), "4'hF");
        assert_eq!(Ty::s(16).decl(), "signed [15:0]");
        assert_eq!(Ty::u(1).decl(), "");
        assert_eq!(Ty::fitting(-5, 3, false), Ty::s(4));
        assert_eq!(Ty::fitting(0, 255, false), Ty::u(8));
    }

    #[test]
    fn mixed_signedness_is_made_explicit() {
        let mut m = Module::new("t", &[]);
        let a = m.port(Dir::Input, "a", Ty::s(8));
        let b = m.port(Dir::Input, "b", Ty::u(8));
        let lt = m.cmp("lt", &a, BinOp::Lt, &b);
        assert_eq!(lt.ty, Ty::BIT);
        let y = m.port(Dir::Output, "y", Ty::BIT);
        m.assign(&y, &lt);
        let text = m.emit();
        // b becomes a 9-bit signed net by zero extension before the signed comparison.
        assert!(
            text.contains("wire signed [8:0] b_c = $signed({1'b0, b});"),
            "{text}"
        );
        assert!(
            text.contains("wire signed [8:0] a_c = $signed({{1{a[7]}}, a});"),
            "{text}"
        );
        assert!(text.contains("wire lt = a_c < b_c;"), "{text}");
    }

    #[test]
    fn unread_wires_are_pruned_and_unread_inputs_marked() {
        let mut m = Module::new("t", &["a header".into()]);
        let a = m.port(Dir::Input, "a", Ty::s(8));
        let _b = m.port(Dir::Input, "b", Ty::u(4));
        let dead = m.add("dead", &a, &a);
        let _deader = m.add("deader", &dead, &a);
        let y = m.port(Dir::Output, "y", Ty::s(8));
        m.assign(&y, &a);
        let text = m.emit();
        assert!(!text.contains("dead"), "{text}");
        assert!(text.contains("wire [3:0] b_unused = b;"), "{text}");
        assert!(
            text.starts_with(
                "// a header\n`timescale 1ns / 1ps\n`default_nettype none\nmodule t (\n"
            ),
            "{text}"
        );
    }
}
