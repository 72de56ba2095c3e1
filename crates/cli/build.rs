//! Records the commit the binary is built from, so that a checkpoint written by `train` names the
//! code that trained it wherever the binary later runs (the working directory may be any folder).
//!
//! Sets `NEURALSTREAM_GIT_COMMIT` to `git rev-parse HEAD` of this source tree, or "unknown" when
//! the tree is not a git checkout (a source tarball) or git is missing.

use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!s.is_empty()).then_some(s)
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let commit = git(dir, &["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=NEURALSTREAM_GIT_COMMIT={commit}");
    // Build again when HEAD moves: a commit on the branch changes the ref it points to.
    // `--git-path` finds each file also in worktrees, where branch refs live in the common dir.
    let mut watch = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    if let Some(head_ref) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        watch.push(head_ref);
    }
    for name in watch {
        if let Some(path) = git(dir, &["rev-parse", "--git-path", &name]) {
            let path = dir.join(path);
            // Only files that exist: a missing one would make cargo run this script every build.
            if path.is_file() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
