//! Post-synthesis netlist passes on Yosys's JSON, between synthesis and place and route.
//!
//! [`absorb_bram_output_registers`]: on ECP5, the deep pipeline registers every block
//! RAM's read data in a fabric flip-flop beside the block (`ram_regs`,
//! docs/architecture.md). The block's data arrives 5.8 ns after the clock, and on a full
//! device nextpnr places that flip-flop tens of rows away, so the path was the limit of
//! the 85F builds (docs/fpga.md). DP16KD has a register of its own on each read port
//! (`REGMODE_x = "OUTREG"`, 0.96 ns clock to output), but Yosys 0.23's ECP5 memory
//! library never uses it. This pass moves those flip-flops into the blocks. The logic
//! is unchanged: the same register, one clock after the read, inside the block.
//!
//! The netlist is read into [`Json`], which keeps every object's key order: nextpnr
//! places in the order the netlist lists cells and nets, so the rewrite changes the
//! absorbed cells and nothing else.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// A JSON value whose objects keep their key order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as serde_json reads it.
    Number(serde_json::Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, in file order.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The value of `key` in an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(o) => o.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value of `key` in an object, to change.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        match self {
            Json::Object(o) => o.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A string's text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// An object's entries.
    pub fn entries(&self) -> &[(String, Json)] {
        match self {
            Json::Object(o) => o,
            _ => &[],
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Json;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
                Ok(Json::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
                Ok(Json::Number(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
                Ok(Json::Number(n.into()))
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Json, E> {
                serde_json::Number::from_f64(n)
                    .map(Json::Number)
                    .ok_or_else(|| E::custom("a non-finite number"))
            }
            fn visit_str<E>(self, s: &str) -> Result<Json, E> {
                Ok(Json::String(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<Json, E> {
                Ok(Json::String(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Json, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(Json::Array(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Json, A::Error> {
                let mut v = Vec::new();
                while let Some(kv) = a.next_entry()? {
                    v.push(kv);
                }
                Ok(Json::Object(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Number(n) => n.serialize(s),
            Json::String(t) => s.serialize_str(t),
            Json::Array(v) => {
                let mut q = s.serialize_seq(Some(v.len()))?;
                for x in v {
                    q.serialize_element(x)?;
                }
                q.end()
            }
            Json::Object(o) => {
                let mut m = s.serialize_map(Some(o.len()))?;
                for (k, v) in o {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
    }
}

/// What [`absorb_bram_output_registers`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutputRegisters {
    /// DP16KD read ports with a used output.
    pub read_ports: usize,
    /// Of those, ports now registered in the block (`REGMODE_x = "OUTREG"`).
    pub registered: usize,
    /// Fabric flip-flops taken into the blocks.
    pub flip_flops: usize,
}

/// A bit of a net: Yosys numbers nets from 2 and writes constants as strings.
fn net_bits(v: &Json) -> Vec<Option<u64>> {
    match v {
        Json::Array(a) => a
            .iter()
            .map(|b| match b {
                Json::Number(n) => n.as_u64(),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether a connection is the constant `c` (`["0"]` or `["1"]`).
fn is_const(v: Option<&Json>, c: &str) -> bool {
    matches!(v, Some(Json::Array(a)) if a.len() == 1 && a[0].as_str() == Some(c))
}

fn param<'a>(cell: &'a Json, key: &str) -> Option<&'a str> {
    cell.get("parameters")?.get(key)?.as_str()
}

/// Moves the flip-flop behind each ECP5 block RAM read port into the block.
///
/// A port `x` of a `DP16KD` cell qualifies when it is not registered yet
/// (`REGMODE_x = "NOREG"`), its output enable `OCEx` is 1 and its reset `RSTx` is 0, and
/// every used output bit `DOxN` drives exactly one input: the `DI` of a `TRELLIS_FF`
/// clocked by `CLKx` (same net, not inverted) with no clock enable, its set/reset tied
/// to 0 and GSR disabled. That flip-flop is the plain register the block's own output
/// register is (updated every clock, no reset), so the port's bits take the
/// flip-flops' `Q` nets, the flip-flops go, and the port becomes `OUTREG`. A port with
/// any other use of its data is left as it is.
pub fn absorb_bram_output_registers(netlist: &mut Json) -> OutputRegisters {
    let mut done = OutputRegisters::default();
    let Some(Json::Object(modules)) = netlist.get_mut("modules") else {
        return done;
    };
    for (_, module) in modules.iter_mut() {
        absorb_in_module(module, &mut done);
    }
    done
}

/// A read port to register in its block: the cell, the port letter, and each data pin
/// with the flip-flop it drives.
struct Absorb {
    cell: usize,
    port: char,
    taken: Vec<(String, usize)>,
}

/// What reads a net bit: a flip-flop's data input (by cell index) or anything else.
#[derive(Clone, Copy)]
enum Reader {
    Data(usize),
    Other,
}

fn absorb_in_module(module: &mut Json, done: &mut OutputRegisters) {
    // Every cell input and module output that reads a net bit.
    let mut readers: HashMap<u64, Vec<Reader>> = HashMap::new();
    let cells = module.get("cells").map(Json::entries).unwrap_or(&[]);
    if !cells
        .iter()
        .any(|(_, c)| c.get("type").and_then(Json::as_str) == Some("DP16KD"))
    {
        return;
    }
    for (i, (_, c)) in cells.iter().enumerate() {
        let dirs = c.get("port_directions");
        for (port, bits) in c.get("connections").map(Json::entries).unwrap_or(&[]) {
            let dir = dirs.and_then(|d| d.get(port)).and_then(Json::as_str);
            if dir != Some("output") {
                let r = if port == "DI" {
                    Reader::Data(i)
                } else {
                    Reader::Other
                };
                for b in net_bits(bits).into_iter().flatten() {
                    readers.entry(b).or_default().push(r);
                }
            }
        }
    }
    // The module's own output ports read nets too.
    for (_, p) in module.get("ports").map(Json::entries).unwrap_or(&[]) {
        if p.get("direction").and_then(Json::as_str) != Some("input") {
            for b in p
                .get("bits")
                .map(net_bits)
                .unwrap_or_default()
                .into_iter()
                .flatten()
            {
                readers.entry(b).or_default().push(Reader::Other);
            }
        }
    }
    let mut plan: Vec<Absorb> = Vec::new();
    for (i, (_, c)) in cells.iter().enumerate() {
        if c.get("type").and_then(Json::as_str) != Some("DP16KD") {
            continue;
        }
        let conn = c.get("connections");
        for x in ['A', 'B'] {
            let mut taken = Vec::new();
            let mut used = false;
            let mut ok = true;
            for n in 0..18 {
                let pin = format!("DO{x}{n}");
                let Some(bits) = conn.and_then(|k| k.get(&pin)) else {
                    continue;
                };
                for b in net_bits(bits) {
                    let Some(b) = b else { continue };
                    let r = readers.get(&b).map(Vec::as_slice).unwrap_or(&[]);
                    used |= !r.is_empty();
                    match r {
                        [] => {}
                        [Reader::Data(ff)] => {
                            if plain_register_on(
                                &cells[*ff].1,
                                conn.and_then(|k| k.get(&format!("CLK{x}"))),
                            ) {
                                taken.push((pin.clone(), *ff));
                            } else {
                                ok = false;
                            }
                        }
                        _ => ok = false,
                    }
                }
            }
            if !used {
                continue;
            }
            done.read_ports += 1;
            if ok
                && param(c, &format!("REGMODE_{x}")) == Some("NOREG")
                && is_const(conn.and_then(|k| k.get(&format!("OCE{x}"))), "1")
                && is_const(conn.and_then(|k| k.get(&format!("RST{x}"))), "0")
            {
                plan.push(Absorb {
                    cell: i,
                    port: x,
                    taken,
                });
            }
        }
    }
    // Apply: the pins take the flip-flops' outputs, the ports their register.
    let mut gone = HashSet::new();
    let Some(Json::Object(cells)) = module.get_mut("cells") else {
        return;
    };
    for Absorb {
        cell: i,
        port: x,
        taken,
    } in &plan
    {
        for (pin, ff) in taken {
            let q = cells[*ff]
                .1
                .get("connections")
                .and_then(|k| k.get("Q"))
                .cloned();
            if let (Some(q), Some(slot)) = (
                q,
                cells[*i]
                    .1
                    .get_mut("connections")
                    .and_then(|k| k.get_mut(pin)),
            ) {
                *slot = q;
                gone.insert(*ff);
            }
        }
        if let Some(mode) = cells[*i]
            .1
            .get_mut("parameters")
            .and_then(|p| p.get_mut(&format!("REGMODE_{x}")))
        {
            *mode = Json::String("OUTREG".into());
        }
        done.registered += 1;
    }
    done.flip_flops += gone.len();
    let mut index = 0;
    cells.retain(|_| {
        let keep = !gone.contains(&index);
        index += 1;
        keep
    });
}

/// Reads Yosys's netlist `from`, moves the block RAM output registers into the blocks
/// ([`absorb_bram_output_registers`]) and writes the result to `to` (through a temporary
/// file renamed into place).
pub fn absorb_in_file(from: &Path, to: &Path) -> Result<OutputRegisters, String> {
    let text = std::fs::read_to_string(from)
        .map_err(|e| format!("cannot read the netlist {}: {e}", from.display()))?;
    let mut n: Json = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a Yosys JSON netlist: {e}", from.display()))?;
    drop(text);
    let done = absorb_bram_output_registers(&mut n);
    let body = serde_json::to_vec(&n).map_err(|e| e.to_string())?;
    let tmp = to.with_extension("json.tmp");
    std::fs::write(&tmp, body)
        .and_then(|()| std::fs::rename(&tmp, to))
        .map_err(|e| format!("cannot write the netlist {}: {e}", to.display()))?;
    Ok(done)
}

/// Whether `ff` is a `TRELLIS_FF` that registers its input every clock of `clk` with no
/// enable, no set or reset and GSR disabled.
fn plain_register_on(ff: &Json, clk: Option<&Json>) -> bool {
    let conn = ff.get("connections");
    ff.get("type").and_then(Json::as_str) == Some("TRELLIS_FF")
        && param(ff, "CEMUX").map(str::trim) == Some("1")
        && param(ff, "CLKMUX") == Some("CLK")
        && param(ff, "GSR") == Some("DISABLED")
        && is_const(conn.and_then(|k| k.get("LSR")), "0")
        && clk.is_some()
        && conn.and_then(|k| k.get("CLK")) == clk
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module with one DP16KD whose port B bits 0 and 1 drive `ffs` (name, CEMUX, LSR,
    /// CLK net, D net) and, optionally, another reader of bit 1's net.
    fn netlist(ffs: &[(&str, &str, &str, u64, u64)], extra_reader: bool) -> Json {
        let mut cells = serde_json::Map::new();
        cells.insert(
            "ram".into(),
            serde_json::json!({
                "type": "DP16KD",
                "parameters": {"REGMODE_A": "NOREG", "REGMODE_B": "NOREG"},
                "port_directions": {"CLKB": "input", "OCEB": "input", "RSTB": "input",
                                    "DOB0": "output", "DOB1": "output"},
                "connections": {"CLKB": [2], "OCEB": ["1"], "RSTB": ["0"], "DOB0": [10], "DOB1": [11]}
            }),
        );
        for (name, ce, lsr, clk, d) in ffs {
            cells.insert(
                (*name).into(),
                serde_json::json!({
                    "type": "TRELLIS_FF",
                    "parameters": {"CEMUX": ce, "CLKMUX": "CLK", "GSR": "DISABLED", "LSRMUX": "LSR", "REGSET": "RESET"},
                    "port_directions": {"CLK": "input", "DI": "input", "LSR": "input", "Q": "output"},
                    "connections": {"CLK": [clk], "DI": [d], "LSR": [lsr], "Q": [d + 10]}
                }),
            );
        }
        if extra_reader {
            cells.insert(
                "lut".into(),
                serde_json::json!({
                    "type": "LUT4",
                    "port_directions": {"A": "input", "Z": "output"},
                    "connections": {"A": [11], "Z": [40]}
                }),
            );
        }
        let v = serde_json::json!({"modules": {"top": {"ports": {}, "cells": cells}}});
        serde_json::from_str(&v.to_string()).unwrap()
    }

    fn cell<'a>(n: &'a Json, name: &str) -> Option<&'a Json> {
        n.get("modules")?.get("top")?.get("cells")?.get(name)
    }

    #[test]
    fn a_plain_register_behind_every_bit_moves_into_the_block() {
        let mut n = netlist(
            &[("ff0", "1", "0", 2, 10), ("ff1", "1 ", "0", 2, 11)],
            false,
        );
        let done = absorb_bram_output_registers(&mut n);
        assert_eq!(
            done,
            OutputRegisters {
                read_ports: 1,
                registered: 1,
                flip_flops: 2
            }
        );
        let ram = cell(&n, "ram").unwrap();
        assert_eq!(param(ram, "REGMODE_B"), Some("OUTREG"));
        assert_eq!(param(ram, "REGMODE_A"), Some("NOREG"));
        let conn = ram.get("connections").unwrap();
        assert_eq!(net_bits(conn.get("DOB0").unwrap()), [Some(20)]);
        assert_eq!(net_bits(conn.get("DOB1").unwrap()), [Some(21)]);
        assert!(cell(&n, "ff0").is_none() && cell(&n, "ff1").is_none());
        // The order of what is left is the file's.
        let text = serde_json::to_string(&n).unwrap();
        assert!(text.find("\"type\":\"DP16KD\"").is_some());
    }

    #[test]
    fn any_other_use_of_the_data_leaves_the_port_alone() {
        for (ffs, extra) in [
            // A clock enable, a reset, another clock.
            (
                vec![("ff0", "1", "0", 2, 10), ("ff1", "CE", "0", 2, 11)],
                false,
            ),
            (
                vec![("ff0", "1", "0", 2, 10), ("ff1", "1", "1", 2, 11)],
                false,
            ),
            (
                vec![("ff0", "1", "0", 2, 10), ("ff1", "1", "0", 3, 11)],
                false,
            ),
            // A bit read by logic as well as by its flip-flop.
            (
                vec![("ff0", "1", "0", 2, 10), ("ff1", "1", "0", 2, 11)],
                true,
            ),
        ] {
            let mut n = netlist(&ffs, extra);
            let before = n.clone();
            let done = absorb_bram_output_registers(&mut n);
            assert_eq!(
                (done.read_ports, done.registered, done.flip_flops),
                (1, 0, 0)
            );
            assert_eq!(n, before);
        }
    }

    #[test]
    fn key_order_survives_a_round_trip() {
        let text = r#"{"z":1,"a":{"y":[1,"x"],"b":null},"m":true}"#;
        let v: Json = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), text);
    }
}
