//! The netlist IR: expressions, statements and processes as data.
//!
//! A [`crate::rtl::Module`] holds its wires as [`Expr`] trees and its clocked and
//! combinational blocks as [`Process`]es, so what a value reads, which names a block
//! drives, and which clock a wire belongs to are walks over data ([`Expr::reads`],
//! [`Stmt::reads`], [`Stmt::writes`]), not searches through text. Text is produced in
//! one place only, [`crate::verilog`].
//!
//! The shapes follow Verilog's own rules where they constrain what can be written:
//! slices and indexes apply to a declared name (Verilog allows no slice of an
//! expression), and every operand of an arithmetic or comparison operator is expected
//! to have been brought to one type by the builder ([`crate::rtl::Module`] does so), so
//! the writer never depends on Verilog's context-dependent widths.

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
    /// stage, [`crate::rtl::Module::cut`]); `None` for values that do not change during a phase
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

/// How a literal is written (the value is the same in every radix; the choice is for
/// the reader: hexadecimal for data, binary for single bits and zero padding, decimal
/// for enumerated values such as phases and selectors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Radix {
    /// `8'h3F`, `8'shC1` (two's complement bits).
    Hex,
    /// `1'b0`, `4'b0`.
    Bin,
    /// `2'd1`.
    Dec,
    /// An unsized integer (`3`): shift amounts.
    Plain,
}

/// A unary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    /// `-x` (two's complement negation, same width).
    Neg,
    /// `~x` (bitwise not).
    Not,
    /// `!x` (logical not).
    LogicNot,
    /// `|x` (OR reduction).
    OrReduce,
    /// `&x` (AND reduction).
    AndReduce,
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `&`
    And,
    /// `|`
    Or,
    /// `^`
    Xor,
    /// `&&`
    LogicAnd,
    /// `||`
    LogicOr,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<<` by a constant.
    Shl,
    /// `<<<` by a constant (arithmetic; the same bits as `<<`).
    Ashl,
    /// `>>` by a constant.
    Shr,
}

impl BinOp {
    /// The comparison named by `op` (`<`, `<=`, `>`, `>=`, `==`, `!=`).
    pub fn compare(op: &str) -> Option<BinOp> {
        Some(match op {
            "<" => BinOp::Lt,
            "<=" => BinOp::Le,
            ">" => BinOp::Gt,
            ">=" => BinOp::Ge,
            "==" => BinOp::Eq,
            "!=" => BinOp::Ne,
            _ => return None,
        })
    }
}

/// An expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A declared name (port, wire, register, parameter).
    Name(String),
    /// A sized literal.
    Lit {
        /// Width and signedness.
        ty: Ty,
        /// The value (it must fit `ty`).
        value: i128,
        /// How it is written.
        radix: Radix,
    },
    /// `name[i]`.
    Bit {
        /// The vector.
        of: String,
        /// The bit.
        i: u32,
    },
    /// `name[hi:lo]`.
    Slice {
        /// The sliced name.
        of: String,
        /// Highest bit.
        hi: u32,
        /// Lowest bit.
        lo: u32,
    },
    /// `name[at]`: a memory word or a bit picked by a value.
    Index {
        /// The memory or vector.
        of: String,
        /// The address or bit index.
        at: Box<Expr>,
    },
    /// `name[base +: width]`.
    PartSelect {
        /// The vector.
        of: String,
        /// The lowest bit.
        base: Box<Expr>,
        /// Bits.
        width: u32,
    },
    /// `{a, b, ...}` (most significant first).
    Concat(Vec<Expr>),
    /// `{n{x}}`.
    Repeat(u32, Box<Expr>),
    /// `$signed(x)`.
    Signed(Box<Expr>),
    /// `$unsigned(x)`.
    Unsigned(Box<Expr>),
    /// A unary operation.
    Un(UnOp, Box<Expr>),
    /// A binary operation.
    Bin(BinOp, Box<Expr>, Box<Expr>),
    /// `c ? a : b`.
    Mux(Box<Expr>, Box<Expr>, Box<Expr>),
}

impl From<&Sig> for Expr {
    fn from(s: &Sig) -> Expr {
        Expr::Name(s.name.clone())
    }
}

impl From<Sig> for Expr {
    fn from(s: Sig) -> Expr {
        Expr::Name(s.name)
    }
}

impl Expr {
    /// A name.
    pub fn name(n: &str) -> Expr {
        Expr::Name(n.to_string())
    }
    /// A literal of `ty` in hexadecimal (`Ty::lit`'s form).
    pub fn lit(ty: Ty, value: i128) -> Expr {
        assert!(ty.holds(value), "{value} does not fit {ty:?}");
        Expr::Lit {
            ty,
            value,
            radix: Radix::Hex,
        }
    }
    /// An unsigned literal of `width` bits written in binary (`1'b1`, `4'b0`).
    pub fn bits(width: u32, value: i128) -> Expr {
        let ty = Ty::u(width);
        assert!(ty.holds(value), "{value} does not fit {ty:?}");
        Expr::Lit {
            ty,
            value,
            radix: Radix::Bin,
        }
    }
    /// An unsigned literal of `width` bits written in decimal (`2'd1`).
    pub fn dec(width: u32, value: i128) -> Expr {
        let ty = Ty::u(width);
        assert!(ty.holds(value), "{value} does not fit {ty:?}");
        Expr::Lit {
            ty,
            value,
            radix: Radix::Dec,
        }
    }
    /// An unsized integer (a shift amount).
    pub fn int(value: i128) -> Expr {
        Expr::Lit {
            ty: Ty::s(32),
            value,
            radix: Radix::Plain,
        }
    }
    /// One bit, 0 or 1.
    pub fn bit(on: bool) -> Expr {
        Expr::bits(1, i128::from(on))
    }
    /// `s[hi:lo]`; a one-bit signal is itself (Verilog allows no index on a scalar).
    pub fn slice(s: &Sig, hi: u32, lo: u32) -> Expr {
        assert!(hi >= lo && hi < s.ty.width, "{}[{hi}:{lo}]", s.name);
        if s.ty.width == 1 {
            return Expr::from(s);
        }
        Expr::Slice {
            of: s.name.clone(),
            hi,
            lo,
        }
    }
    /// Bits `[lo, lo + width)` of `s`.
    pub fn field(s: &Sig, lo: u32, width: u32) -> Expr {
        Expr::slice(s, lo + width - 1, lo)
    }
    /// Bit `i` of `s` (`s` itself when it is one bit wide).
    pub fn bit_of(s: &Sig, i: u32) -> Expr {
        assert!(i < s.ty.width, "{}[{i}]", s.name);
        if s.ty.width == 1 {
            return Expr::from(s);
        }
        Expr::Bit {
            of: s.name.clone(),
            i,
        }
    }
    /// `mem[at]`.
    pub fn index(of: &Sig, at: impl Into<Expr>) -> Expr {
        Expr::Index {
            of: of.name.clone(),
            at: Box::new(at.into()),
        }
    }
    /// `$signed(x)`.
    pub fn signed(x: impl Into<Expr>) -> Expr {
        Expr::Signed(Box::new(x.into()))
    }
    /// `$unsigned(x)`.
    pub fn unsigned(x: impl Into<Expr>) -> Expr {
        Expr::Unsigned(Box::new(x.into()))
    }
    /// `s` read as unsigned bits (`$unsigned(s)` for a signed signal).
    pub fn bits_of(s: &Sig) -> Expr {
        if s.ty.signed {
            Expr::unsigned(s)
        } else {
            Expr::from(s)
        }
    }
    /// `{parts}` (most significant first); the part itself when there is one.
    pub fn concat(mut parts: Vec<Expr>) -> Expr {
        if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Concat(parts)
        }
    }
    /// `x` of `from` bits zero-extended to `to` bits (`x` itself when not narrower).
    pub fn zext(x: impl Into<Expr>, from: u32, to: u32) -> Expr {
        let x = x.into();
        if to <= from {
            x
        } else {
            Expr::Concat(vec![Expr::bits(to - from, 0), x])
        }
    }
    /// A unary operation.
    pub fn un(op: UnOp, x: impl Into<Expr>) -> Expr {
        Expr::Un(op, Box::new(x.into()))
    }
    /// A binary operation.
    pub fn bin(op: BinOp, a: impl Into<Expr>, b: impl Into<Expr>) -> Expr {
        Expr::Bin(op, Box::new(a.into()), Box::new(b.into()))
    }
    /// `c ? a : b`.
    pub fn mux(c: impl Into<Expr>, a: impl Into<Expr>, b: impl Into<Expr>) -> Expr {
        Expr::Mux(Box::new(c.into()), Box::new(a.into()), Box::new(b.into()))
    }
    /// `self == b`.
    pub fn eq(self, b: impl Into<Expr>) -> Expr {
        Expr::bin(BinOp::Eq, self, b)
    }
    /// `self & b`, as a chain grouped to the left (`a & (b & c)` is `a & b & c`).
    pub fn and(self, b: impl Into<Expr>) -> Expr {
        Expr::chain(BinOp::And, self, b.into())
    }
    /// `self | b`, as a chain grouped to the left.
    pub fn or(self, b: impl Into<Expr>) -> Expr {
        Expr::chain(BinOp::Or, self, b.into())
    }
    /// `a op b` for an associative `op`, regrouped to the left so that a chain is one
    /// flat sequence of operands.
    fn chain(op: BinOp, a: Expr, b: Expr) -> Expr {
        match b {
            Expr::Bin(inner, b1, b2) if inner == op => {
                Expr::chain(op, Expr::chain(op, a, *b1), *b2)
            }
            b => Expr::bin(op, a, b),
        }
    }
    /// The OR of `xs` (`1'b0` when there are none).
    pub fn any(xs: Vec<Expr>) -> Expr {
        xs.into_iter()
            .reduce(|a, b| a.or(b))
            .unwrap_or_else(|| Expr::bit(false))
    }

    /// Calls `f` with every name the expression reads, in order (repeats included).
    pub fn reads(&self, f: &mut impl FnMut(&str)) {
        match self {
            Expr::Name(n) => f(n),
            Expr::Lit { .. } => {}
            Expr::Slice { of, .. } | Expr::Bit { of, .. } => f(of),
            Expr::Index { of, at } => {
                f(of);
                at.reads(f);
            }
            Expr::PartSelect { of, base, .. } => {
                f(of);
                base.reads(f);
            }
            Expr::Concat(xs) => xs.iter().for_each(|x| x.reads(f)),
            Expr::Repeat(_, x) | Expr::Signed(x) | Expr::Unsigned(x) | Expr::Un(_, x) => x.reads(f),
            Expr::Bin(_, a, b) => {
                a.reads(f);
                b.reads(f);
            }
            Expr::Mux(c, a, b) => {
                c.reads(f);
                a.reads(f);
                b.reads(f);
            }
        }
    }

    /// The one name this expression only re-wires, if it is that: the name itself, a
    /// slice or a bit of it, a sign or zero extension of it, or such a value under
    /// `$signed`/`$unsigned`. (A value re-wired from a register is as good as the
    /// register in front of a multiplier.)
    pub fn rewires(&self) -> Option<&str> {
        match self {
            Expr::Name(n) | Expr::Slice { of: n, .. } | Expr::Bit { of: n, .. } => Some(n),
            Expr::Signed(x) | Expr::Unsigned(x) | Expr::Repeat(_, x) => x.rewires(),
            Expr::Concat(xs) => {
                let mut name = None;
                for x in xs {
                    if matches!(x, Expr::Lit { .. }) {
                        continue;
                    }
                    match (name, x.rewires()) {
                        (_, None) => return None,
                        (None, Some(n)) => name = Some(n),
                        (Some(a), Some(b)) if a == b => {}
                        _ => return None,
                    }
                }
                name
            }
            _ => None,
        }
    }
}

/// `!x` is `~x` (bitwise not).
impl std::ops::Not for Expr {
    type Output = Expr;
    fn not(self) -> Expr {
        Expr::un(UnOp::Not, self)
    }
}

/// The target of an assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lhs {
    /// A register (or a `reg` driven by combinational logic).
    Name(String),
    /// A memory word: `mem[addr]`.
    Word(String, Expr),
}

impl Lhs {
    /// The name driven.
    pub fn target(&self) -> &str {
        match self {
            Lhs::Name(n) | Lhs::Word(n, _) => n,
        }
    }
}

impl From<&Sig> for Lhs {
    fn from(s: &Sig) -> Lhs {
        Lhs::Name(s.name.clone())
    }
}

/// A statement of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stmt {
    /// `// text` (a line of its own).
    Comment(String),
    /// `lhs <= rhs;` in a clocked process, `lhs = rhs;` in a combinational one.
    Set(Lhs, Expr),
    /// `if (cond) ... else ...` (`else if` chains are an `If` alone in `els`).
    If(Expr, Vec<Stmt>, Vec<Stmt>),
    /// `case (on)` with its arms (labels, statements) and the default's statements.
    Case(Expr, Vec<(Vec<Expr>, Vec<Stmt>)>, Vec<Stmt>),
}

impl Stmt {
    /// `lhs <= rhs` (or `=`).
    pub fn set(lhs: impl Into<Lhs>, rhs: impl Into<Expr>) -> Stmt {
        Stmt::Set(lhs.into(), rhs.into())
    }
    /// `if (cond) then`.
    pub fn when(cond: impl Into<Expr>, then: Vec<Stmt>) -> Stmt {
        Stmt::If(cond.into(), then, Vec::new())
    }

    /// Calls `f` with every name the statement reads (right-hand sides, conditions,
    /// memory addresses), not the names it drives.
    pub fn reads(&self, f: &mut impl FnMut(&str)) {
        match self {
            Stmt::Comment(_) => {}
            Stmt::Set(lhs, rhs) => {
                if let Lhs::Word(_, at) = lhs {
                    at.reads(f);
                }
                rhs.reads(f);
            }
            Stmt::If(c, a, b) => {
                c.reads(f);
                a.iter().chain(b).for_each(|s| s.reads(f));
            }
            Stmt::Case(on, arms, default) => {
                on.reads(f);
                for (labels, body) in arms {
                    labels.iter().for_each(|l| l.reads(f));
                    body.iter().for_each(|s| s.reads(f));
                }
                default.iter().for_each(|s| s.reads(f));
            }
        }
    }

    /// Calls `f` with every name the statement drives.
    pub fn writes(&self, f: &mut impl FnMut(&str)) {
        match self {
            Stmt::Comment(_) => {}
            Stmt::Set(lhs, _) => f(lhs.target()),
            Stmt::If(_, a, b) => a.iter().chain(b).for_each(|s| s.writes(f)),
            Stmt::Case(_, arms, default) => arms
                .iter()
                .flat_map(|(_, body)| body)
                .chain(default)
                .for_each(|s| s.writes(f)),
        }
    }
}

/// An instance of another module: `module #(.P(v), ...) name (.port(expr), ...);`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The instantiated module.
    pub module: String,
    /// The instance name.
    pub name: String,
    /// Parameter overrides, in order.
    pub params: Vec<(String, Expr)>,
    /// Port connections, in order (an output connects to a declared net).
    pub ports: Vec<(String, Expr)>,
}

impl Instance {
    /// An instance of `module` whose ports are `ports`, each connected to the signal of
    /// the same name unless `renames` connects it to something else.
    pub fn of<'a>(
        module: &str,
        name: &str,
        ports: impl IntoIterator<Item = &'a str>,
        renames: &[(&str, Expr)],
    ) -> Instance {
        let ports = ports
            .into_iter()
            .map(|p| {
                let e = renames
                    .iter()
                    .find(|(q, _)| *q == p)
                    .map_or_else(|| Expr::name(p), |(_, e)| e.clone());
                (p.to_string(), e)
            })
            .collect();
        Instance {
            module: module.into(),
            name: name.into(),
            params: Vec::new(),
            ports,
        }
    }

    /// Calls `f` with every name the connections name (inputs read and output nets).
    pub fn reads(&self, f: &mut impl FnMut(&str)) {
        for (_, e) in self.params.iter().chain(&self.ports) {
            e.reads(f);
        }
    }
}

/// A process: an `always` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Process {
    /// `always @(posedge clk)`: on `reset` (the reset signal and what it sets), else,
    /// in clocks where `enable` holds (when given), `body`.
    Clocked {
        /// A comment line above the block.
        comment: Option<String>,
        /// The synchronous reset: its signal and the statements it runs instead of
        /// the body.
        reset: Option<(String, Vec<Stmt>)>,
        /// The clock enable.
        enable: Option<Expr>,
        /// The statements of every enabled clock.
        body: Vec<Stmt>,
    },
    /// `always @(posedge clk or posedge <reset>)`: on `reset` the `clear` statements, else
    /// `body` (a reset synchroniser's first flip-flops, asserted at once).
    AsyncReset {
        /// A comment line above the block.
        comment: Option<String>,
        /// The asynchronous reset.
        reset: String,
        /// What the reset sets.
        clear: Vec<Stmt>,
        /// The statements of every other clock.
        body: Vec<Stmt>,
    },
    /// `always @(*)`: `body`, which sets every target on every path.
    Comb {
        /// A comment line above the block.
        comment: Option<String>,
        /// The statements.
        body: Vec<Stmt>,
    },
}

impl Process {
    /// A clocked block without reset or enable.
    pub fn clocked(body: Vec<Stmt>) -> Process {
        Process::Clocked {
            comment: None,
            reset: None,
            enable: None,
            body,
        }
    }
    /// A combinational block.
    pub fn comb(body: Vec<Stmt>) -> Process {
        Process::Comb {
            comment: None,
            body,
        }
    }
    /// The same process with a comment line above it.
    pub fn commented(mut self, text: &str) -> Process {
        match &mut self {
            Process::Clocked { comment, .. }
            | Process::AsyncReset { comment, .. }
            | Process::Comb { comment, .. } => *comment = Some(text.to_string()),
        }
        self
    }

    /// Calls `f` with every name the process reads.
    pub fn reads(&self, f: &mut impl FnMut(&str)) {
        match self {
            Process::Clocked {
                reset,
                enable,
                body,
                ..
            } => {
                f("clk");
                if let Some((r, stmts)) = reset {
                    f(r);
                    stmts.iter().for_each(|s| s.reads(f));
                }
                if let Some(e) = enable {
                    e.reads(f);
                }
                body.iter().for_each(|s| s.reads(f));
            }
            Process::AsyncReset {
                reset, clear, body, ..
            } => {
                f("clk");
                f(reset);
                clear.iter().chain(body).for_each(|s| s.reads(f));
            }
            Process::Comb { body, .. } => body.iter().for_each(|s| s.reads(f)),
        }
    }

    /// Calls `f` with every name the process drives.
    pub fn writes(&self, f: &mut impl FnMut(&str)) {
        match self {
            Process::Clocked { reset, body, .. } => {
                if let Some((_, stmts)) = reset {
                    stmts.iter().for_each(|s| s.writes(f));
                }
                body.iter().for_each(|s| s.writes(f));
            }
            Process::AsyncReset { clear, body, .. } => {
                clear.iter().chain(body).for_each(|s| s.writes(f))
            }
            Process::Comb { body, .. } => body.iter().for_each(|s| s.writes(f)),
        }
    }
}
