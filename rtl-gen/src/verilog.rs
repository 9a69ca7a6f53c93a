//! The Verilog writer: the one place that turns the IR ([`crate::ir`]) into text.
//!
//! Verilog-2005, as the rest of the flow reads it: `always @(posedge clk)` with a
//! synchronous reset, `always @(*)` for combinational `reg`s, sized literals, and an
//! operand in parentheses whenever it is itself an operation (so a reader never needs
//! Verilog's precedence table).

use std::fmt::Write as _;

use crate::ir::Ty;
use crate::ir::{BinOp, Expr, Instance, Lhs, Process, Radix, Stmt, UnOp};
use crate::rtl::{Dir, Item, Module};

/// A literal's text.
pub fn literal(ty: Ty, value: i128, radix: Radix) -> String {
    let mask = if ty.width >= 127 {
        -1i128
    } else {
        (1i128 << ty.width) - 1
    };
    let bits = value & mask;
    let s = if ty.signed { "s" } else { "" };
    match radix {
        Radix::Hex => format!("{}'{s}h{bits:X}", ty.width),
        Radix::Bin => format!("{}'{s}b{bits:b}", ty.width),
        Radix::Dec => format!("{}'{s}d{bits}", ty.width),
        Radix::Plain => format!("{value}"),
    }
}

fn un_op(op: UnOp) -> &'static str {
    match op {
        UnOp::Neg => "-",
        UnOp::Not => "~",
        UnOp::LogicNot => "!",
        UnOp::OrReduce => "|",
        UnOp::AndReduce => "&",
    }
}

fn bin_op(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::And => "&",
        BinOp::Or => "|",
        BinOp::Xor => "^",
        BinOp::LogicAnd => "&&",
        BinOp::LogicOr => "||",
        BinOp::Eq => "==",
        BinOp::Ne => "!=",
        BinOp::Lt => "<",
        BinOp::Le => "<=",
        BinOp::Gt => ">",
        BinOp::Ge => ">=",
        BinOp::Shl => "<<",
        BinOp::Ashl => "<<<",
        BinOp::Shr => ">>",
    }
}

/// `x`, in parentheses when it is an operation.
fn operand(x: &Expr) -> String {
    match x {
        Expr::Bin(..) | Expr::Mux(..) => format!("({})", expr(x)),
        _ => expr(x),
    }
}

/// An expression's text.
pub fn expr(e: &Expr) -> String {
    match e {
        Expr::Name(n) => n.clone(),
        Expr::Lit { ty, value, radix } => literal(*ty, *value, *radix),
        Expr::Bit { of, i } => format!("{of}[{i}]"),
        Expr::Slice { of, hi, lo } => format!("{of}[{hi}:{lo}]"),
        Expr::Index { of, at } => format!("{of}[{}]", expr(at)),
        Expr::PartSelect { of, base, width } => format!("{of}[{} +: {width}]", expr(base)),
        Expr::Concat(xs) => format!("{{{}}}", xs.iter().map(expr).collect::<Vec<_>>().join(", ")),
        Expr::Repeat(n, x) => format!("{{{n}{{{}}}}}", expr(x)),
        Expr::Signed(x) => format!("$signed({})", expr(x)),
        Expr::Unsigned(x) => format!("$unsigned({})", expr(x)),
        Expr::Un(op, x) => format!("{}{}", un_op(*op), operand(x)),
        // A chain of one operator reads left to right without parentheses (Verilog's
        // binary operators group to the left).
        Expr::Bin(op, a, b) => {
            let left = match &**a {
                Expr::Bin(inner, ..) if inner == op => expr(a),
                _ => operand(a),
            };
            format!("{left} {} {}", bin_op(*op), operand(b))
        }
        // `?:` groups to the right: a multiplexer in the else arm needs no parentheses.
        Expr::Mux(c, a, b) => {
            let other = match **b {
                Expr::Mux(..) => expr(b),
                _ => operand(b),
            };
            format!("{} ? {} : {other}", operand(c), operand(a))
        }
    }
}

fn lhs(l: &Lhs) -> String {
    match l {
        Lhs::Name(n) => n.clone(),
        Lhs::Word(n, at) => format!("{n}[{}]", expr(at)),
    }
}

/// Statements as lines indented by `ind` spaces; `op` is `<=` or `=`.
fn stmts(out: &mut String, body: &[Stmt], ind: usize, op: &str) {
    for s in body {
        stmt(out, s, ind, op);
    }
}

/// One statement on the line it starts (no indent, no newline) when it is a single
/// assignment: the form of one-line `if`s and `case` arms.
fn inline(s: &[Stmt], op: &str) -> Option<String> {
    match s {
        [Stmt::Set(l, r)] => Some(format!("{} {op} {};", lhs(l), expr(r))),
        _ => None,
    }
}

fn stmt(out: &mut String, s: &Stmt, ind: usize, op: &str) {
    let pad = " ".repeat(ind);
    match s {
        Stmt::Comment(t) => out.push_str(&format!("{pad}// {t}\n")),
        Stmt::Set(..) => out.push_str(&format!(
            "{pad}{}\n",
            inline(std::slice::from_ref(s), op).unwrap_or_default()
        )),
        Stmt::If(c, then, els) => {
            // An `if`/`else if`/`else` chain: its branches on one line each when every
            // branch is one assignment, else every branch a `begin`/`end` block.
            let mut branches: Vec<(Option<&Expr>, &[Stmt])> = vec![(Some(c), then)];
            let mut rest: &[Stmt] = els;
            loop {
                match rest {
                    [] => break,
                    [Stmt::If(c2, t2, e2)] => {
                        branches.push((Some(c2), t2));
                        rest = e2;
                    }
                    _ => {
                        branches.push((None, rest));
                        break;
                    }
                }
            }
            // A branch of one statement (not an `if`, whose `else` would be ambiguous)
            // needs no `begin`/`end`; one-line assignments stay on the branch's line.
            let single = |body: &[Stmt]| matches!(body, [s] if !matches!(s, Stmt::If(..)));
            let bare = branches.iter().all(|(_, body)| single(body));
            for (i, (cond, body)) in branches.iter().enumerate() {
                let head = match (i, cond) {
                    (0, Some(c)) => format!("if ({})", expr(c)),
                    (_, Some(c)) => format!("else if ({})", expr(c)),
                    (_, None) => "else".to_string(),
                };
                if bare {
                    let mut text = String::new();
                    stmt(&mut text, &body[0], ind, op);
                    out.push_str(&format!("{pad}{head} {}", &text[ind..]));
                } else {
                    let close = if i == 0 { "" } else { "end " };
                    out.push_str(&format!("{pad}{close}{head} begin\n"));
                    stmts(out, body, ind + 4, op);
                }
            }
            if !bare {
                out.push_str(&format!("{pad}end\n"));
            }
        }
        Stmt::Case(on, arms, default) => {
            out.push_str(&format!("{pad}case ({})\n", expr(on)));
            let arm = |out: &mut String, label: String, body: &[Stmt]| match inline(body, op) {
                Some(one) => out.push_str(&format!("{pad}    {label}: {one}\n")),
                None if body.is_empty() => out.push_str(&format!("{pad}    {label}: ;\n")),
                None => {
                    out.push_str(&format!("{pad}    {label}: begin\n"));
                    stmts(out, body, ind + 8, op);
                    out.push_str(&format!("{pad}    end\n"));
                }
            };
            for (labels, body) in arms {
                let label = labels.iter().map(expr).collect::<Vec<_>>().join(", ");
                arm(out, label, body);
            }
            arm(out, "default".into(), default);
            out.push_str(&format!("{pad}endcase\n"));
        }
    }
}

/// A process's text (unindented; the module writer indents it).
pub fn process(p: &Process) -> String {
    let mut out = String::new();
    match p {
        Process::Clocked {
            comment,
            reset,
            enable,
            body,
        } => {
            if let Some(c) = comment {
                out.push_str(&format!("// {c}\n"));
            }
            let gate = enable.as_ref().map(|e| format!("if ({}) ", expr(e)));
            match (reset, &gate, inline(body, "<=")) {
                (None, None, Some(one)) => out.push_str(&format!("always @(posedge clk) {one}\n")),
                (None, _, _) => {
                    out.push_str(&format!(
                        "always @(posedge clk) {}begin\n",
                        gate.clone().unwrap_or_default()
                    ));
                    stmts(&mut out, body, 4, "<=");
                    out.push_str("end\n");
                }
                (Some((rst, clear)), _, _) => {
                    out.push_str(&format!(
                        "always @(posedge clk) begin\n    if ({rst}) begin\n"
                    ));
                    stmts(&mut out, clear, 8, "<=");
                    out.push_str(&format!(
                        "    end else {}begin\n",
                        gate.clone().unwrap_or_default()
                    ));
                    stmts(&mut out, body, 8, "<=");
                    out.push_str("    end\nend\n");
                }
            }
        }
        Process::AsyncReset {
            comment,
            reset,
            clear,
            body,
        } => {
            if let Some(c) = comment {
                out.push_str(&format!("// {c}\n"));
            }
            out.push_str(&format!("always @(posedge clk or posedge {reset}) begin\n"));
            stmt(
                &mut out,
                &Stmt::If(Expr::name(reset), clear.clone(), body.clone()),
                4,
                "<=",
            );
            out.push_str("end\n");
        }
        Process::Comb { comment, body } => {
            if let Some(c) = comment {
                out.push_str(&format!("// {c}\n"));
            }
            match inline(body, "=") {
                Some(one) => out.push_str(&format!("always @(*) {one}\n")),
                None => {
                    out.push_str("always @(*) begin\n");
                    stmts(&mut out, body, 4, "=");
                    out.push_str("end\n");
                }
            }
        }
    }
    out
}

/// An instance's text (one line).
pub fn instance(i: &Instance) -> String {
    let conn = |xs: &[(String, Expr)]| {
        xs.iter()
            .map(|(p, e)| format!(".{p}({})", expr(e)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let params = if i.params.is_empty() {
        String::new()
    } else {
        format!(" #({})", conn(&i.params))
    };
    // A long port list one connection per line.
    if i.ports.len() > 6 {
        let ports: Vec<String> = i
            .ports
            .iter()
            .map(|(p, e)| format!("    .{p}({})", expr(e)))
            .collect();
        format!(
            "{}{params} {} (\n{}\n);\n",
            i.module,
            i.name,
            ports.join(",\n")
        )
    } else {
        format!("{}{params} {} ({});\n", i.module, i.name, conn(&i.ports))
    }
}

impl Module {
    /// The module as Verilog-2005 text ([`module`]).
    pub fn emit(&self) -> String {
        module(self)
    }
}

/// A module as Verilog-2005 text: header comment, ANSI ports, declarations, then wires
/// and processes in the order they were built (unread values pruned,
/// `Module::pruned`).
pub fn module(m: &Module) -> String {
    let mut s = crate::comment_block(&m.header);
    s += crate::TIMESCALE;
    let _ = writeln!(s, "`default_nettype none");
    let _ = writeln!(s, "module {} (", m.name);
    let ports = m.port_list();
    for (i, (dir, sig)) in ports.iter().enumerate() {
        let d = match dir {
            Dir::Input => "input  wire",
            Dir::Output => "output wire",
            Dir::OutputReg => "output reg ",
        };
        let comma = if i + 1 < ports.len() { "," } else { "" };
        let _ = writeln!(s, "    {}{comma}", sig.ty.declare(d, &sig.name));
    }
    let _ = writeln!(s, ");");
    // Declarations first (parameters, registers, memories), then wires and logic in
    // creation order, so that every name is declared before it is used.
    let items = m.pruned();
    let (decls, body): (Vec<&Item>, Vec<&Item>) = items.iter().partition(|i| {
        matches!(
            i,
            Item::Param(..) | Item::Reg(_) | Item::Net(_) | Item::Mem(..)
        )
    });
    let lines = |s: &mut String, t: &str| {
        for line in t.lines() {
            let _ = writeln!(s, "    {line}");
        }
    };
    for item in decls.into_iter().chain(body) {
        match item {
            Item::Comment(t) => {
                let _ = writeln!(s, "    // {t}");
            }
            Item::Param(sig, v) => {
                let _ = writeln!(
                    s,
                    "    localparam {} {} = {};",
                    sig.ty.decl(),
                    sig.name,
                    expr(v)
                );
            }
            Item::Wire(sig, rhs) => {
                let _ = writeln!(
                    s,
                    "    {} = {};",
                    sig.ty.declare("wire", &sig.name),
                    expr(rhs)
                );
            }
            Item::Reg(sig) => {
                let _ = writeln!(s, "    {};", sig.ty.declare("reg", &sig.name));
            }
            Item::Net(sig) => {
                let _ = writeln!(s, "    {};", sig.ty.declare("wire", &sig.name));
            }
            Item::Mem(sig, depth, attr) => {
                let _ = writeln!(
                    s,
                    "    {}{} [0:{}];",
                    attr.prefix(),
                    sig.ty.declare("reg", &sig.name),
                    depth - 1
                );
            }
            Item::Assign(l, r) => {
                let _ = writeln!(s, "    assign {l} = {};", expr(r));
            }
            Item::Process(p) => lines(&mut s, &process(p)),
            Item::Instance(i) => lines(&mut s, &instance(i)),
        }
    }
    let _ = writeln!(s, "endmodule");
    let _ = writeln!(s, "`default_nettype wire");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtl::Sig;

    #[test]
    fn operations_are_parenthesised_and_literals_sized() {
        let a = Sig::named("a", Ty::u(4));
        let e = Expr::name("v").and(Expr::name("phase").eq(Expr::dec(2, 1)));
        assert_eq!(expr(&e), "v & (phase == 2'd1)");
        assert_eq!(expr(&Expr::slice(&a, 3, 1)), "a[3:1]");
        assert_eq!(expr(&Expr::slice(&a, 3, 3)), "a[3:3]");
        assert_eq!(expr(&Expr::bit_of(&a, 2)), "a[2]");
        assert_eq!(expr(&Expr::zext(&a, 4, 6)), "{2'b0, a}");
        assert_eq!(expr(&Expr::lit(Ty::s(8), -1)), "8'shFF");
        let m = Expr::mux(
            Expr::name("c"),
            Expr::name("x"),
            Expr::mux(Expr::name("d"), Expr::name("y"), Expr::name("z")),
        );
        assert_eq!(expr(&m), "c ? x : d ? y : z");
    }

    #[test]
    fn clocked_blocks_with_reset_and_enable() {
        let p = Process::Clocked {
            comment: None,
            reset: Some((
                "rst".into(),
                vec![Stmt::set(Lhs::Name("v".into()), Expr::bit(false))],
            )),
            enable: Some(Expr::name("adv")),
            body: vec![Stmt::when(
                Expr::name("go"),
                vec![Stmt::set(Lhs::Name("v".into()), Expr::name("x"))],
            )],
        };
        assert_eq!(
            process(&p),
            "always @(posedge clk) begin\n    if (rst) begin\n        v <= 1'b0;\n    end else if (adv) begin\n        if (go) v <= x;\n    end\nend\n"
        );
    }
}
