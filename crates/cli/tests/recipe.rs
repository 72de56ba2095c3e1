//! `train --agnostic`'s default recipe (`distil`) through the real binary, at a tiny scale: ten
//! ladder-agnostic teachers, the fixed-ladder home teacher and the distilled student are written
//! where the docs say, `recipe.csv` lists every job, each job's flags remake its policy byte for
//! byte when run alone (so the recipe is the script it replaced), and the recipe's conditions are
//! enforced with messages that name the flag.

mod support;

use std::path::Path;
use std::process::Command;
use support::agnostic::{assert_ok, tensors, train_agnostic, TINY};

/// A tiny `pensieve` set (4 synthetic traces of one window each) in `dir/pensieve`.
fn pensieve_set(dir: &Path) -> String {
    let path = dir.join("pensieve");
    let out = Command::new(env!("CARGO_BIN_EXE_neuralstream"))
        .args(["traces", "--count", "4", "--seed", "5", "--out"])
        .arg(&path)
        .output()
        .unwrap();
    assert_ok(&out);
    format!("pensieve={},wide=synthetic-wide", path.display())
}

/// The tiny run's flags on `traces` (a `pensieve` set and the wide one), one DAgger round for the
/// home teacher.
fn tiny(traces: &str) -> Vec<&str> {
    let mut args = TINY.to_vec();
    args[1] = traces;
    args.extend(["--dagger-rounds", "1", "--dagger-sessions", "2"]);
    args
}

#[test]
fn the_recipe_trains_eleven_teachers_and_a_student_that_its_flags_remake_alone() {
    let dir = tempfile::tempdir().unwrap();
    let traces = pensieve_set(dir.path());
    let out = dir.path().join("recipe");
    let o = train_agnostic(&tiny(&traces), &out);
    assert_ok(&o);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(
        stdout.contains("ladder-agnostic policy (recipe distil, 11 teachers)")
            && stdout.contains("recipe.csv"),
        "{stdout}"
    );
    // Not a terminal: progress lines, and one line per finished job.
    assert!(
        stderr.contains("train: hB3 done in") && stderr.contains("train: FT done in"),
        "{stderr}"
    );
    let csv = std::fs::read_to_string(out.join("recipe.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 12, "{csv}");
    assert!(rows[11].starts_with("student,"), "{csv}");
    for name in [
        "A1", "hA1", "A2", "hA2", "B1", "hB1", "B2", "hB2", "B3", "hB3", "FT",
    ] {
        assert!(
            out.join("recipe")
                .join(name)
                .join("policy.safetensors")
                .is_file(),
            "{name} missing"
        );
        assert!(
            rows.iter().any(|r| r.starts_with(&format!("{name},"))),
            "{name} not in {csv}"
        );
    }
    // The teachers shared one optimum cache.
    assert!(
        std::fs::read_dir(out.join("recipe/optimum"))
            .unwrap()
            .count()
            > 0
    );
    // Each job's flags, with the command's own, remake its policy alone: a layout 3 teacher with
    // Pensieve windows, and the student from the recipe's teacher files.
    let flags_of = |job: &str| -> Vec<String> {
        let row = rows
            .iter()
            .find(|r| r.starts_with(&format!("{job},")))
            .unwrap();
        let quoted = row.split('"').nth(1).unwrap();
        let mut flags: Vec<String> = quoted.split(' ').map(str::to_owned).collect();
        let at = flags.iter().position(|f| f == "--out").unwrap();
        flags.truncate(at);
        flags
    };
    for (job, file) in [
        ("hB1", out.join("recipe/hB1/policy.safetensors")),
        ("student", out.join("policy.safetensors")),
    ] {
        let alone = dir.path().join(format!("alone-{job}"));
        let mut args = tiny(&traces);
        let flags = flags_of(job);
        args.extend(flags.iter().map(String::as_str));
        assert_ok(&train_agnostic(&args, &alone));
        assert!(
            tensors(&alone.join("policy.safetensors")) == tensors(&file),
            "{job} alone ({flags:?}) trained another network than the recipe's"
        );
    }
    // The student is ladder-agnostic and of the recipe's 2 x 128 shape; bench plays it on a ladder
    // of another number of levels than any it trained on.
    let bench = Command::new(env!("CARGO_BIN_EXE_neuralstream"))
        .args(["bench", "--synthetic-traces", "2", "--abr"])
        .arg(format!(
            "learned:{}",
            out.join("policy.safetensors").display()
        ))
        .arg("--out")
        .arg(dir.path().join("bench"))
        .output()
        .unwrap();
    assert_ok(&bench);
}

#[test]
fn the_recipe_refuses_flags_of_one_training_and_needs_pensieve_traces() {
    let dir = tempfile::tempdir().unwrap();
    let traces = pensieve_set(dir.path());
    let refused = |args: &[&str], out: &str| {
        let o = train_agnostic(args, &dir.path().join(out));
        assert!(!o.status.success(), "{args:?} was accepted");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let mut args = tiny(&traces);
    args.extend(["--agnostic-recipe", "distil", "--agnostic-rule-hints"]);
    let e = refused(&args, "hints");
    assert!(
        e.contains("--agnostic-rule-hints") && e.contains("--agnostic-recipe single"),
        "{e}"
    );
    let o = train_agnostic(&tiny(&traces), &dir.path().join("a+b"));
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("a+b") && e.contains("'+'"), "{e}");
    let mut args = TINY.to_vec();
    args.extend(["--agnostic-recipe", "distil"]);
    let e = refused(&args, "no-pensieve");
    assert!(
        e.contains("--agnostic-recipe distil needs Pensieve's training traces"),
        "{e}"
    );
    // Without --agnostic-recipe and without a pensieve set: one training, with a note.
    let o = train_agnostic(&TINY, &dir.path().join("single"));
    assert_ok(&o);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("--agnostic-recipe single"), "{stderr}");
    assert!(!dir.path().join("single/recipe.csv").exists());
}
