//! Writes the generated engine of a preset into a folder (for trying tools by hand).
fn main() {
    let mut a = std::env::args().skip(1);
    let (name, dir) = (
        a.next().unwrap_or("tiny".into()),
        a.next().unwrap_or("target/engine".into()),
    );
    let g = lpn_rtl::engine::generate(&lpn_cycle::HwConfig::load(&name).unwrap()).unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    for (n, t) in g.files {
        std::fs::write(format!("{dir}/{n}"), t).unwrap();
    }
}
