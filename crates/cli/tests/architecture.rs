//! ARCHITECTURE.md's code map is checked against the real dependency graph: for every crate row,
//! none of the crates in its "must never depend on" column may appear among its *normal*
//! dependencies, direct or transitive (dev-dependencies are allowed: tests may use anything).
//! The table is parsed from the document itself, so the document and this test cannot drift.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

const PREFIX: &str = "neuralstream-";

/// Short crate name (`sim`) -> the short names of every workspace crate among its normal
/// dependencies, direct or transitive, on this platform (`cargo tree`, which reads the lock file
/// and needs no network).
fn reachable(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["tree", "--workspace", "--offline", "--no-dedupe"])
        .args(["-e", "normal", "--prefix", "depth", "--format", "{p}"])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current = String::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // "<depth><name> v<version> (<path>)", e.g. "0neuralstream-sim v0.1.0 (/repo/crates/sim)".
        let depth_end = line.find(|c: char| !c.is_ascii_digit()).unwrap_or(0);
        let (depth, package) = line.split_at(depth_end);
        let Some(name) = package
            .split_whitespace()
            .next()
            .and_then(|n| n.strip_prefix(PREFIX))
        else {
            continue;
        };
        if depth == "0" {
            current = name.to_owned();
            graph.entry(current.clone()).or_default();
        } else if !depth.is_empty() {
            graph.get_mut(&current).unwrap().insert(name.to_owned());
        }
    }
    graph
}

/// `(crate, forbidden)` for every code-map row naming a `crates/X` folder.
fn code_map(doc: &str, all: &BTreeSet<String>) -> Vec<(String, BTreeSet<String>)> {
    assert!(
        doc.contains("| crate | owns | must never depend on |"),
        "ARCHITECTURE.md's code map lost its header `| crate | owns | must never depend on |`"
    );
    let mut rows = Vec::new();
    for line in doc.lines() {
        let Some(rest) = line.strip_prefix("| `crates/") else {
            continue;
        };
        let name = rest.split('`').next().unwrap().to_owned();
        let never = line
            .trim_end()
            .trim_end_matches('|')
            .rsplit('|')
            .next()
            .unwrap();
        let forbidden: BTreeSet<String> = if never.contains("every other") {
            // "every other NeuralStream crate", with the exceptions named after "but" (a parenthesis
            // after them only gives examples).
            let allowed: BTreeSet<&str> = never
                .split(" but ")
                .nth(1)
                .map(|s| s.split('(').next().unwrap())
                .map(|s| s.split(|c: char| !c.is_alphanumeric()).collect())
                .unwrap_or_default();
            all.iter()
                .filter(|c| **c != name && !allowed.contains(c.as_str()))
                .cloned()
                .collect()
        } else {
            never
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| all.contains(*w) && *w != name)
                .map(str::to_owned)
                .collect()
        };
        // A cell that names nothing would forbid nothing and pass silently: only "—" (top of the
        // graph) may.
        assert!(
            !forbidden.is_empty() || never.trim().starts_with('—'),
            "the code map row of {name} forbids no crate this test recognises: {never:?}"
        );
        rows.push((name, forbidden));
    }
    rows
}

#[test]
fn no_crate_depends_on_what_architecture_md_forbids() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let doc = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let graph = reachable(&root);
    let all: BTreeSet<String> = graph.keys().cloned().collect();
    let rows = code_map(&doc, &all);
    let mapped: BTreeSet<String> = rows.iter().map(|(c, _)| c.clone()).collect();
    assert_eq!(
        mapped, all,
        "every workspace crate needs a row in ARCHITECTURE.md's code map"
    );
    let mut violations = Vec::new();
    for (name, forbidden) in &rows {
        let bad: Vec<_> = graph[name].intersection(forbidden).collect();
        if !bad.is_empty() {
            violations.push(format!("{name} depends (maybe transitively) on {bad:?}"));
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
    // The check can fail: the server must not reach the simulator, which learn does.
    assert!(graph["learn"].contains("sim"));
    assert!(rows
        .iter()
        .any(|(c, f)| c == "server" && f.contains("sim") && f.contains("learn")));
}

/// Longest function `crates/cli/src` may hold, in lines from its signature to its closing brace.
/// The CLI parses flags, calls the libraries and reports errors (ARCHITECTURE.md: "No domain
/// logic"); a function longer than this is doing a library's work. Before issue 15, `train::run`
/// alone was over 400 lines.
const MAX_CLI_FUNCTION_LINES: usize = 140;

/// `(file:line name, lines)` of every function with a body in `source`, as rustfmt lays it out:
/// the body ends at the first `}` line at the signature's own indentation.
fn function_lengths(file: &str, source: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = source.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let indent = &line[..line.len() - line.trim_start().len()];
        let rest = line.trim_start();
        let rest = rest
            .strip_prefix("pub(crate) ")
            .or_else(|| rest.strip_prefix("pub "))
            .unwrap_or(rest);
        let Some(signature) = rest.strip_prefix("fn ") else {
            i += 1;
            continue;
        };
        let name: String = signature
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if line.ends_with('}') {
            out.push((format!("{file}:{} {name}", i + 1), 1));
            i += 1;
            continue;
        }
        // The signature ends at the line that opens the body (or declares without one).
        let mut j = i;
        while j < lines.len() && !lines[j].ends_with('{') && !lines[j].ends_with(';') {
            j += 1;
        }
        if j == lines.len() || lines[j].ends_with(';') {
            i = j + 1;
            continue;
        }
        let close = format!("{indent}}}");
        let end = (j + 1..lines.len())
            .find(|&k| lines[k] == close)
            .unwrap_or(lines.len() - 1);
        out.push((format!("{file}:{} {name}", i + 1), end - i + 1));
        i = end + 1;
    }
    out
}

#[test]
fn the_cli_holds_no_long_function() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut too_long = Vec::new();
    let mut seen = 0;
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let source = std::fs::read_to_string(&path).unwrap();
            for (function, lines) in function_lengths(&name, &source) {
                seen += 1;
                if lines > MAX_CLI_FUNCTION_LINES {
                    too_long.push(format!("{function}: {lines} lines"));
                }
            }
        }
    }
    assert!(
        seen > 20,
        "found only {seen} functions in {}",
        src.display()
    );
    assert!(
        too_long.is_empty(),
        "functions in crates/cli/src longer than {MAX_CLI_FUNCTION_LINES} lines (move the domain \
         logic into the library that owns the data):\n{}",
        too_long.join("\n")
    );
}

#[test]
fn function_lengths_are_measured_from_signature_to_closing_brace() {
    let source = "fn a() {\n    1;\n}\n\npub fn b(\n    x: u8,\n) -> u8 {\n    x\n}\n\
                  trait T {\n    fn c(&self);\n    fn d(&self) {\n        e();\n    }\n}\n\
                  fn f() -> u8 { 1 }\n";
    let got = function_lengths("f.rs", source);
    assert_eq!(
        got,
        vec![
            ("f.rs:1 a".to_owned(), 3),
            ("f.rs:5 b".to_owned(), 5),
            ("f.rs:12 d".to_owned(), 3),
            ("f.rs:16 f".to_owned(), 1)
        ]
    );
    // The limit catches the train::run this test was written against (over 400 lines).
    let long = format!("pub fn run() {{\n{}}}\n", "    step();\n".repeat(420));
    assert!(function_lengths("train.rs", &long)[0].1 > MAX_CLI_FUNCTION_LINES);
}
