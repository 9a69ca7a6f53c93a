//! A small typed RTL layer: every signal carries its width and signedness, and every
//! operation first brings both operands to one explicit type, so the emitted Verilog
//! never depends on Verilog's context-dependent width and signedness rules (a signed
//! comparison is always between two `signed` nets of equal width).
//!
//! The layer is SSA-like: each operation declares a named wire, so slices (which Verilog
//! allows only on names) are always legal and a waveform shows every intermediate.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Width and signedness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ty {
    /// Bits.
    pub width: u32,
    /// Two's complement when true.
    pub signed: bool,
}

impl Ty {
    /// A signed type.
    pub const fn s(width: u32) -> Ty {
        Ty {
            width,
            signed: true,
        }
    }
    /// An unsigned type.
    pub const fn u(width: u32) -> Ty {
        Ty {
            width,
            signed: false,
        }
    }
    /// One bit.
    pub const BIT: Ty = Ty::u(1);

    /// Smallest value.
    pub fn min(&self) -> i128 {
        if self.signed {
            -(1i128 << (self.width - 1))
        } else {
            0
        }
    }
    /// Largest value.
    pub fn max(&self) -> i128 {
        if self.signed {
            (1i128 << (self.width - 1)) - 1
        } else {
            (1i128 << self.width) - 1
        }
    }
    /// Whether `v` is representable.
    pub fn holds(&self, v: i128) -> bool {
        v >= self.min() && v <= self.max()
    }
    /// The smallest type of the given signedness that holds every value in `[lo, hi]`.
    pub fn fitting(lo: i128, hi: i128, signed: bool) -> Ty {
        let signed = signed || lo < 0;
        let mut w = 1;
        loop {
            let t = Ty { width: w, signed };
            if t.holds(lo) && t.holds(hi) {
                return t;
            }
            w += 1;
        }
    }
    /// The declaration prefix: `signed [W-1:0]` or `[W-1:0]`.
    pub fn decl(&self) -> String {
        let range = if self.width == 1 {
            String::new()
        } else {
            format!("[{}:0]", self.width - 1)
        };
        match (self.signed, range.is_empty()) {
            (true, true) => "signed".into(),
            (true, false) => format!("signed {range}"),
            (false, _) => range,
        }
    }
    /// `kind [signed] [W-1:0] name`, e.g. `wire signed [7:0] x` (`kind` is `wire`, `reg`,
    /// `input  wire`, ...).
    pub fn declare(&self, kind: &str, name: &str) -> String {
        let decl = self.decl();
        let sep = if decl.is_empty() { "" } else { " " };
        format!("{kind}{sep}{decl} {name}")
    }

    /// A sized literal of this type (two's complement hex, `$signed` for signed types).
    pub fn lit(&self, v: i128) -> String {
        assert!(self.holds(v), "{v} does not fit {self:?}");
        let mask = if self.width >= 127 {
            -1i128
        } else {
            (1i128 << self.width) - 1
        };
        let bits = v & mask;
        if self.signed {
            format!("{}'sh{:X}", self.width, bits)
        } else {
            format!("{}'h{:X}", self.width, bits)
        }
    }
}

/// A named signal (port, wire, reg or localparam).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sig {
    /// Verilog name.
    pub name: String,
    /// Type.
    pub ty: Ty,
    /// When the value is valid, in clocks after its stage's input registers (0 for the
    /// registers themselves and logic on them; `n` after `n` pipeline registers inside the
    /// stage, [`Module::cut`]); `None` for values that do not change during a phase
    /// (constants, per-update control), which need no delay.
    pub at: Option<u32>,
}

impl Sig {
    /// A signal of `ty` called `name`, at the stage's input registers.
    pub fn named(name: &str, ty: Ty) -> Sig {
        Sig {
            name: name.into(),
            ty,
            at: Some(0),
        }
    }
}

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

#[derive(Debug, Clone)]
enum Item {
    Comment(String),
    Param(Sig, String),
    Wire(Sig, String),
    Reg(Sig),
    Net(Sig),
    /// A memory: its depth, and whether it is marked `no_rw_check`.
    Mem(Sig, usize, bool),
    Assign(String, String),
    Raw(String),
}

/// A module under construction.
#[derive(Debug, Clone)]
pub struct Module {
    /// Module name.
    pub name: String,
    header: Vec<String>,
    ports: Vec<(Dir, Sig)>,
    items: Vec<Item>,
    used: BTreeMap<String, u32>,
    casts: BTreeMap<(String, u32, bool), Sig>,
    /// Whether [`Module::cut`] inserts a register (the `deep` pipeline) or nothing.
    pipelined: bool,
    /// Pipeline registers: (register, source, cleared on reset).
    pipes: Vec<(String, String, bool)>,
    delayed: BTreeMap<(String, u32), Sig>,
    /// Names whose value comes straight out of a register (registers, input ports, and
    /// casts and slices of them): a multiplier fed by one needs no register in front.
    registered: std::collections::BTreeSet<String>,
    /// The clock of every name ([`Sig::at`]), so that a wire written as Verilog text
    /// gets the clock of the names it reads.
    ats: BTreeMap<String, Option<u32>>,
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

    /// The clock of a Verilog expression: that of the names it reads, which must agree
    /// (`None` when it reads only constants and per-update control).
    fn clock_of(&self, name: &str, rhs: &str) -> Option<u32> {
        let mut at: Option<u32> = None;
        for tok in strip_comments(rhs).split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if let Some(Some(t)) = self.ats.get(tok) {
                match at {
                    None => at = Some(*t),
                    Some(a) => assert_eq!(
                        a, *t,
                        "{name} = {rhs}: reads values of different clocks of its stage"
                    ),
                }
            }
        }
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
        self.pipes.push((s.name.clone(), a.name.clone(), false));
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
                    self.pipes.push((s.name.clone(), cur.name.clone(), reset));
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
    pub fn wire_across(&mut self, name: &str, ty: Ty, rhs: String) -> Sig {
        self.wire_at(name, ty, rhs, None)
    }

    /// A wire valid at `at`.
    fn wire_at(&mut self, name: &str, ty: Ty, rhs: String, at: Option<u32>) -> Sig {
        let s = Sig {
            name: self.fresh(name),
            ty,
            at,
        };
        if let Some(src) = wired_name(&rhs) {
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
        self.items.push(Item::Param(s.clone(), ty.lit(value)));
        self.born(&s);
        s
    }

    /// A wire driven by the Verilog expression `rhs`, which must already have type `ty`.
    /// It is valid at the clock of the names it reads ([`Sig::at`]; they must agree), or
    /// never changes when it reads none that do.
    pub fn wire(&mut self, name: &str, ty: Ty, rhs: String) -> Sig {
        let at = self.clock_of(name, &rhs);
        self.wire_at(name, ty, rhs, at)
    }

    /// A register (driven in a clocked block written with [`Module::raw`]).
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

    /// A `reg` driven by an `always @(*)` block written with [`Module::raw`], valid at
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

    /// `n` registers in a row behind the Verilog expression `src`, named `<base>_q`,
    /// `<base>_q2`, ...: each with the expression it takes every clock (the caller writes
    /// the clocked assignments where they belong). The last one is `src` of `n` clocks
    /// ago.
    pub fn reg_chain(&mut self, base: &str, ty: Ty, src: &str, n: u32) -> Vec<(Sig, String)> {
        let mut prev = src.to_string();
        (1..=n)
            .map(|i| {
                let suffix = if i == 1 { String::new() } else { i.to_string() };
                let q = self.reg(&format!("{base}_q{suffix}"), ty);
                let from = std::mem::replace(&mut prev, q.name.clone());
                (q, from)
            })
            .collect()
    }

    /// The clocked assignments of a [`Module::reg_chain`], one `    q <= from;` line
    /// each, for the caller's `always @(posedge clk)` block.
    pub fn chain_lines(chain: &[(Sig, String)]) -> String {
        chain
            .iter()
            .map(|(q, from)| format!("    {} <= {from};\n", q.name))
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
        self.mem_item(name, ty, depth, false)
    }

    /// A memory marked `(* no_rw_check *)`: the caller guarantees that a word read in
    /// the clock the same address is written is never used, so synthesis may map it to
    /// block RAM without the logic that would make that read return the old word.
    pub fn mem_no_rw_check(&mut self, name: &str, ty: Ty, depth: usize) -> Sig {
        self.mem_item(name, ty, depth, true)
    }

    fn mem_item(&mut self, name: &str, ty: Ty, depth: usize, no_rw_check: bool) -> Sig {
        let s = Sig {
            name: self.fresh(name),
            ty,
            at: Some(0),
        };
        self.born(&s);
        self.items.push(Item::Mem(s.clone(), depth, no_rw_check));
        s
    }

    /// Marks bits `[lo, lo + width)` of `a` as deliberately unread (a field of a word
    /// this stage does not need): an `_unused` wire reads them, which tells lint so.
    pub fn sink(&mut self, a: &Sig, lo: u32, width: u32) {
        if width == 0 {
            return;
        }
        let rhs = if a.ty.width == 1 {
            a.name.clone()
        } else if width == 1 {
            format!("{}[{lo}]", a.name)
        } else {
            format!("{}[{}:{lo}]", a.name, lo + width - 1)
        };
        let name = format!("{}_{lo}_unused", a.name);
        self.wire(&name, Ty::u(width), rhs);
    }

    /// `assign lhs = rhs;` (for output ports).
    pub fn assign(&mut self, lhs: &Sig, rhs: &Sig) {
        assert_eq!(lhs.ty, rhs.ty, "assign {} = {}", lhs.name, rhs.name);
        self.items
            .push(Item::Assign(lhs.name.clone(), rhs.name.clone()));
    }

    /// Verbatim Verilog (clocked blocks).
    pub fn raw(&mut self, text: String) {
        self.items.push(Item::Raw(text));
    }

    /// A constant as a wire of the smallest fitting type (or `ty` when given).
    pub fn konst(&mut self, name: &str, value: i128, signed: bool) -> Sig {
        let ty = Ty::fitting(value, value, signed);
        self.wire(name, ty, ty.lit(value))
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
                if w == 1 {
                    format!("{{{}{{{}}}}}", ty.width - w, a.name)
                } else {
                    format!("{{{}{{{}[{}]}}}}", ty.width - w, a.name, w - 1)
                }
            } else {
                format!("{}'b0", ty.width - w)
            };
            format!("{{{fill}, {}}}", a.name)
        } else if ty.width == w {
            a.name.clone()
        } else {
            // The dropped high bits go to an `_unused` wire: the caller guarantees they
            // carry nothing (the value fits), and the name tells lint so.
            let hi = if w - ty.width == 1 {
                format!("{}[{}]", a.name, w - 1)
            } else {
                format!("{}[{}:{}]", a.name, w - 1, ty.width)
            };
            self.wire(
                &format!("{}_hi_unused", base(&a.name)),
                Ty::u(w - ty.width),
                hi,
            );
            if ty.width == 1 {
                format!("{}[0]", a.name)
            } else {
                format!("{}[{}:0]", a.name, ty.width - 1)
            }
        };
        let rhs = if ty.signed {
            format!("$signed({body})")
        } else {
            format!("$unsigned({body})")
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
        self.wire(name, ty, format!("{} + {}", x.name, y.name))
    }

    /// `a - b`, exact (signed result).
    pub fn sub(&mut self, name: &str, a: &Sig, b: &Sig) -> Sig {
        let a = self.to_signed(a);
        let b = self.to_signed(b);
        let (x, y, ty) = self.common(&a, &b, 1);
        self.wire(name, ty, format!("{} - {}", x.name, y.name))
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
        self.wire(name, ty, format!("{} * {}", x.name, y.name))
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
            format!("-{}", wide.name),
        );
        let pick = self.wire(
            &format!("{name}_s"),
            Ty::s(w + 1),
            format!("{}[{}] ? {} : {}", a.name, w - 1, neg.name, wide.name),
        );
        self.cast(&pick, Ty::u(w))
    }

    /// A comparison (`<`, `<=`, `>`, `>=`, `==`, `!=`) as one bit, signed if either is.
    pub fn cmp(&mut self, name: &str, a: &Sig, op: &str, b: &Sig) -> Sig {
        let (x, y, _) = self.common(a, b, 0);
        self.wire(name, Ty::BIT, format!("{} {op} {}", x.name, y.name))
    }

    /// `c ? a : b` in the common type of `a` and `b`.
    pub fn mux(&mut self, name: &str, c: &Sig, a: &Sig, b: &Sig) -> Sig {
        assert_eq!(c.ty.width, 1);
        let v = self.align(&[c, a, b]);
        let (x, y, ty) = self.common(&v[1], &v[2], 0);
        self.wire(name, ty, format!("{} ? {} : {}", v[0].name, x.name, y.name))
    }

    /// `min(a, b)`.
    pub fn min(&mut self, name: &str, a: &Sig, b: &Sig) -> Sig {
        let lt = self.cmp(&format!("{name}_lt"), a, "<", b);
        self.mux(name, &lt, a, b)
    }

    /// `max(a, b)`.
    pub fn max(&mut self, name: &str, a: &Sig, b: &Sig) -> Sig {
        let gt = self.cmp(&format!("{name}_gt"), a, ">", b);
        self.mux(name, &gt, a, b)
    }

    /// `clamp(a, lo, hi)` into `ty` (which must hold both bounds; `lo <= hi`). Both
    /// comparisons look at `a`, side by side rather than one after the other (one carry
    /// chain deep); a bound `a`'s type cannot pass is not compared.
    pub fn clamp(&mut self, name: &str, a: &Sig, lo: i128, hi: i128, ty: Ty) -> Sig {
        assert!(lo <= hi, "{name}: clamp to [{lo}, {hi}]");
        let mut v = a.clone();
        if hi < a.ty.max() {
            let h = self.konst(&format!("{name}_max"), hi, false);
            let above = self.cmp(&format!("{name}_hi_gt"), a, ">", &h);
            v = self.mux(&format!("{name}_hi"), &above, &h, &v);
        }
        if lo > a.ty.min() {
            let l = self.konst(&format!("{name}_min"), lo, false);
            let below = self.cmp(&format!("{name}_lo_lt"), a, "<", &l);
            v = self.mux(&format!("{name}_lo"), &below, &l, &v);
        }
        self.cast(&v, ty)
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
            format!("{}[0]", a.name)
        } else {
            format!("{}[{}:0]", a.name, s.min(w) - 1)
        };
        self.wire(&format!("{name}_lo_unused"), Ty::u(s.min(w)), low);
        if s >= w {
            // Everything shifted out: 0, or the sign for a signed value.
            return if a.ty.signed {
                self.wire(name, Ty::s(1), format!("$signed({}[{}])", a.name, w - 1))
            } else {
                self.wire(name, Ty::u(1), "1'b0".into())
            };
        }
        let ty = Ty {
            width: w - s,
            signed: a.ty.signed,
        };
        let slice = if w - s == 1 {
            format!("{}[{}]", a.name, w - 1)
        } else {
            format!("{}[{}:{}]", a.name, w - 1, s)
        };
        let rhs = if a.ty.signed {
            format!("$signed({slice})")
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
        let op = if a.ty.signed { "<<<" } else { "<<" };
        let out = self.wire(name, ty, format!("{} {op} {s}", wide.name));
        if self.registered.contains(&wide.name) {
            self.registered.insert(out.name.clone());
        }
        out
    }

    /// Drops wires and parameters nothing reads (constants a configuration does not
    /// need, operations whose result is unused), and marks unread input ports with an
    /// `_unused` wire, so that `verilator -Wall` has nothing to say.
    fn pruned(&self) -> Vec<Item> {
        let mut items = self.items.clone();
        if !self.pipes.is_empty() {
            items.push(Item::Raw(self.pipe_block()));
        }
        loop {
            let mut used = std::collections::BTreeSet::new();
            let mut note = |text: &str| {
                let text = strip_comments(text);
                for tok in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                    if !tok.is_empty() {
                        used.insert(tok.to_string());
                    }
                }
            };
            for item in &items {
                match item {
                    Item::Param(_, v) => note(v),
                    Item::Wire(_, rhs) => note(rhs),
                    Item::Assign(l, r) => {
                        note(l);
                        note(r);
                    }
                    Item::Raw(t) => note(t),
                    Item::Comment(_) | Item::Reg(_) | Item::Net(_) | Item::Mem(..) => {}
                }
            }
            let before = items.len();
            items.retain(|item| match item {
                Item::Param(sig, _) | Item::Mem(sig, ..) => used.contains(&sig.name),
                Item::Wire(sig, _) => sig.name.contains("_unused") || used.contains(&sig.name),
                _ => true,
            });
            if items.len() == before {
                // Registers written but never read (fields a configuration does not use):
                // strip the left-hand sides of non-blocking assignments, then look again.
                let mut read = std::collections::BTreeSet::new();
                for item in &items {
                    let text = match item {
                        Item::Wire(_, rhs) => rhs.clone(),
                        Item::Assign(_, r) => r.clone(),
                        Item::Raw(t) => strip_lhs(&strip_comments(t)),
                        _ => String::new(),
                    };
                    for tok in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                        if !tok.is_empty() {
                            read.insert(tok.to_string());
                        }
                    }
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

    /// The clocked block of the pipeline registers inside stages ([`Module::cut`],
    /// [`Module::delay`]): each holds its source one clock later; valid bits clear on
    /// reset.
    fn pipe_block(&self) -> String {
        let mut s = String::from(
            "// Pipeline registers inside stages: each is its source one clock later.\nalways @(posedge clk) begin\n",
        );
        let (valid, data): (Vec<_>, Vec<_>) = self.pipes.iter().partition(|p| p.2);
        if !valid.is_empty() {
            let clear: String = valid
                .iter()
                .map(|(d, _, _)| format!("        {d} <= 1'b0;\n"))
                .collect();
            let set: String = valid
                .iter()
                .map(|(d, src, _)| format!("        {d} <= {src};\n"))
                .collect();
            s += &format!("    if (rst) begin\n{clear}    end else begin\n{set}    end\n");
        }
        for (d, src, _) in data {
            s += &format!("    {d} <= {src};\n");
        }
        s += "end";
        s
    }

    /// The module as Verilog-2005 text.
    pub fn emit(&self) -> String {
        let mut s = crate::comment_block(&self.header);
        let _ = writeln!(s, "`default_nettype none");
        let _ = writeln!(s, "module {} (", self.name);
        for (i, (dir, sig)) in self.ports.iter().enumerate() {
            let d = match dir {
                Dir::Input => "input  wire",
                Dir::Output => "output wire",
                Dir::OutputReg => "output reg ",
            };
            let comma = if i + 1 < self.ports.len() { "," } else { "" };
            let _ = writeln!(s, "    {}{comma}", sig.ty.declare(d, &sig.name));
        }
        let _ = writeln!(s, ");");
        // Declarations first (parameters, registers, memories), then wires and logic in
        // creation order, so that every name is declared before it is used.
        let items = self.pruned();
        let (decls, body): (Vec<&Item>, Vec<&Item>) = items.iter().partition(|i| {
            matches!(
                i,
                Item::Param(..) | Item::Reg(_) | Item::Net(_) | Item::Mem(..)
            )
        });
        for item in decls.into_iter().chain(body) {
            match item {
                Item::Comment(t) => {
                    let _ = writeln!(s, "    // {t}");
                }
                Item::Param(sig, v) => {
                    let _ = writeln!(s, "    localparam {} {} = {v};", sig.ty.decl(), sig.name);
                }
                Item::Wire(sig, rhs) => {
                    let _ = writeln!(s, "    {} = {rhs};", sig.ty.declare("wire", &sig.name));
                }
                Item::Reg(sig) => {
                    let _ = writeln!(s, "    {};", sig.ty.declare("reg", &sig.name));
                }
                Item::Net(sig) => {
                    let _ = writeln!(s, "    {};", sig.ty.declare("wire", &sig.name));
                }
                Item::Mem(sig, depth, no_rw_check) => {
                    let _ = writeln!(
                        s,
                        "    {}{} [0:{}];",
                        if *no_rw_check {
                            "(* no_rw_check *) "
                        } else {
                            ""
                        },
                        sig.ty.declare("reg", &sig.name),
                        depth - 1
                    );
                }
                Item::Assign(l, r) => {
                    let _ = writeln!(s, "    assign {l} = {r};");
                }
                Item::Raw(t) => {
                    for line in t.lines() {
                        let _ = writeln!(s, "    {line}");
                    }
                }
            }
        }
        let _ = writeln!(s, "endmodule");
        let _ = writeln!(s, "`default_nettype wire");
        s
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
        if sig.ty.signed {
            format!("$unsigned({})", sig.name)
        } else {
            sig.name.clone()
        },
    )
}

/// Verilog text without `//` comments (names in comments are not uses).
fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Verilog text with the left-hand sides of `<=` assignments removed (`name <=`,
/// `name[index] <=`, `{a, b} <=`), so that the rest holds only reads.
fn strip_lhs(text: &str) -> String {
    let mut out = String::new();
    for stmt in text.split(';') {
        match stmt.find("<=") {
            Some(at) => {
                // The target is the last `name`, `name[...]` or `{...}` before `<=`; keep
                // what precedes it (conditions) and what follows (the value).
                let head = &stmt[..at];
                let trimmed = head.trim_end();
                let cut = if trimmed.ends_with('}') {
                    trimmed.rfind('{').unwrap_or(trimmed.len())
                } else {
                    let mut end = trimmed.len();
                    if trimmed.ends_with(']') {
                        // Keep the index (it is read): drop only the memory name.
                        let open = trimmed.rfind('[').unwrap_or(end);
                        out.push_str(&trimmed[open..]);
                        out.push(' ');
                        end = open;
                    }
                    trimmed[..end]
                        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .map_or(0, |p| p + 1)
                };
                out.push_str(&head[..cut]);
                out.push(' ');
                out.push_str(&stmt[at + 2..]);
            }
            None => out.push_str(stmt),
        }
        out.push(';');
    }
    out
}

/// The one name `rhs` only re-wires (`x`, `x[7:0]`, `$signed(x[3])`, sign or zero
/// extension `{{4{x[7]}}, x}`), if it is that.
fn wired_name(rhs: &str) -> Option<&str> {
    if rhs.contains(['+', '-', '*', '?', '<', '>', '=', '&', '|', '^', '~', '!']) {
        return None;
    }
    let mut name: Option<&str> = None;
    for tok in
        rhs.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$' || c == '\''))
    {
        if tok.is_empty() || tok == "$signed" || tok == "$unsigned" || is_literal(tok) {
            continue;
        }
        if tok.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        match name {
            None => name = Some(tok),
            Some(n) if n == tok => {}
            Some(_) => return None,
        }
    }
    name
}

/// Whether `rhs` is a sized literal (`8'h3F`, `4'sh1`, `1'b0`).
fn is_literal(rhs: &str) -> bool {
    match rhs.split_once('\'') {
        Some((w, v)) => {
            !w.is_empty()
                && w.chars().all(|c| c.is_ascii_digit())
                && !v.is_empty()
                && v.chars().all(|c| c.is_ascii_alphanumeric())
        }
        None => false,
    }
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
        let lt = m.cmp("lt", &a, "<", &b);
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
            text.starts_with("// a header\n`default_nettype none\nmodule t (\n"),
            "{text}"
        );
    }
}
