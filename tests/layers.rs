//! The layers point down only: config and model at the bottom, then fetch, parse, detect, store,
//! translate, publish, serve, the refresh of a feed, the pipeline that wires the stages, and the
//! commands and the daemon on top. A module may use its own layer and those below it, never one
//! above (ARCHITECTURE.md draws the same).

use std::path::Path;

/// Each top-level module of src/ and its layer (higher uses lower).
const LAYERS: &[(&str, usize)] = &[
    ("model", 0),
    ("text", 0),
    ("metrics", 0),
    ("lock", 0),
    ("config", 1),
    ("fetch", 2),
    ("schedule", 2),
    ("parse", 3),
    ("detect", 4),
    ("store", 5),
    ("translate", 6),
    ("publish", 7),
    ("serve", 8),
    ("refresh", 9),
    ("websub", 9),
    ("pipeline", 10),
    ("daemon", 11),
    ("cli", 11),
    ("cmd", 11),
    ("lib", 11),
    ("main", 11),
];

fn layer(module: &str) -> usize {
    LAYERS.iter().find(|(m, _)| *m == module).unwrap_or_else(|| panic!("src/{module}: give the new module a layer in tests/layers.rs")).1
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_module_uses_a_layer_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let used = regex::Regex::new(r"crate::([a-z_]+)").unwrap();
    let mut upward = Vec::new();
    for path in &all {
        let rel = path.strip_prefix(&src).unwrap();
        let module = rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        let text = std::fs::read_to_string(path).unwrap();
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim_start().starts_with("//")) {
            for c in used.captures_iter(line) {
                let dep = &c[1];
                if dep != module && layer(dep) > layer(&module) {
                    upward.push(format!("src/{}:{}: {module} (layer {}) uses {dep} (layer {})", rel.display(), n + 1, layer(&module), layer(dep)));
                }
            }
        }
    }
    assert!(upward.is_empty(), "imports pointing up:\n{}", upward.join("\n"));
}
