//! `lpn prove`: the RTL's formal properties (`lpn_flow::formal`) with SymbiYosys, each
//! also run on its mutant, which must fail.

use std::fmt::Write as _;
use std::path::PathBuf;

use lpn_cycle::HwConfig;
use lpn_flow::formal::Property;

/// Runs the properties named (`all`, or a comma-separated list) on `config`; with
/// `mutants`, each also on its mutant; with `depth`, to that bound instead of each
/// property's own. The report, and whether every property held (and every mutant
/// failed).
pub fn run(
    config: &str,
    property: &str,
    mutants: bool,
    depth: Option<u64>,
) -> Result<(String, bool), String> {
    if depth == Some(0) {
        return Err("--depth 0 checks nothing: give at least 1".into());
    }
    let c = HwConfig::load(config).map_err(|e| e.to_string())?;
    let props: Vec<Property> = if property == "all" {
        Property::ALL.to_vec()
    } else {
        property
            .split(',')
            .map(|name| {
                Property::ALL
                    .into_iter()
                    .find(|p| p.name() == name)
                    .ok_or_else(|| {
                        format!(
                            "unknown property `{name}` (known: all, {})",
                            Property::ALL.map(|p| p.name()).join(", ")
                        )
                    })
            })
            .collect::<Result<_, _>>()?
    };
    let root = PathBuf::from("target").join("prove").join(&c.name);
    let mut s = String::new();
    let mut ok = true;
    for p in props {
        let _ = writeln!(s, "{}: {}", p.name(), p.statement());
        for mutant in if mutants {
            vec![false, true]
        } else {
            vec![false]
        } {
            let mut job = p.job(&c, mutant)?;
            let own = job.depth;
            if let Some(d) = depth {
                job.depth = d;
            }
            let dir = root.join(format!(
                "{}{}",
                p.name(),
                if mutant { "-mutant" } else { "" }
            ));
            let mut v = lpn_flow::formal::run(&job, &dir)?;
            if v.pass && job.depth < own {
                v.detail += &format!(" (--depth; the property's own is {own})");
            }
            let good = v.pass != mutant;
            ok &= good;
            let _ = writeln!(
                s,
                "  {:<8} {:<5} {} ({:.1} s){}",
                if mutant { "mutant" } else { "rtl" },
                if v.pass { "PASS" } else { "FAIL" },
                v.detail,
                v.seconds,
                if good { "" } else { "  <- unexpected" }
            );
        }
    }
    let _ = writeln!(
        s,
        "{}",
        if ok {
            format!(
                "config `{}`: every property holds{}",
                c.name,
                if mutants {
                    " and fails on its mutant"
                } else {
                    ""
                }
            )
        } else {
            format!(
                "config `{}`: a property does not hold, or a mutant passed (see above)",
                c.name
            )
        }
    );
    Ok((s, ok))
}
