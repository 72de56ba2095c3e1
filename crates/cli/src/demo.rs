//! `neuralstream demo`: one command from nothing to a page in the browser. It packages a synthetic
//! clip (unless one is already there), starts the server with the web player and prints the URL.
//!
//! **Key design decision:** the demo goes through the documented command lines of `package` and
//! `serve`, never around them, so it behaves exactly like the commands a user would type (and that
//! the README and tests pin). `package` runs as a child process of this same executable (found with
//! `std::env::current_exe`; its progress bar shows as usual). `serve` runs *in this process*, its
//! flags parsed by the same clap definition as `neuralstream serve`, so Ctrl-C or SIGTERM reach the
//! server directly and stopping the demo can never leave an orphaned server behind.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Algorithms the demo server offers when `--abr` is not given (the first is the default).
pub const DEMO_ALGORITHMS: &str = "robustmpc,bba0,bb,bola-e,bola,dynamic,rate,festive";

/// Where `neuralstream train` writes its selected policy by default; the demo offers it when present.
pub const DEFAULT_POLICY: &str = "out/train/policy.safetensors";

/// Arguments of `neuralstream demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder for the demo: the clip is packaged into DIR/clip (reused when it is already there)
    /// and the server keeps its state (self-signed certificate) in DIR/serve.
    #[arg(long, default_value = "out/demo", value_name = "DIR")]
    pub out: PathBuf,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8443)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub bind: String,
    /// Comma-separated algorithms the page can choose from (the first is the default); add
    /// `learned:PATH` for a policy written by `neuralstream train`.
    #[arg(long, default_value = DEMO_ALGORITHMS, value_name = "LIST")]
    pub abr: String,
    /// Learned policy to offer as `learned:PATH` beside --abr; default out/train/policy.safetensors
    /// when that file exists (write it with `neuralstream train`).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Length of the synthetic clip, seconds (used only when packaging).
    #[arg(long, default_value_t = 60, value_name = "S")]
    pub seconds: u32,
    /// Package the clip again even if DIR/clip already holds one.
    #[arg(long)]
    pub repackage: bool,
    /// Folder of the built web player; default web/dist when it exists (build it with
    /// `cd web && npm ci && npm run build`).
    #[arg(long, value_name = "DIR")]
    pub web_root: Option<PathBuf>,
}

/// Runs `neuralstream demo`.
pub fn run(args: DemoArgs) -> Result<()> {
    let exe = std::env::current_exe().context("cannot find the neuralstream executable itself")?;
    let clip = args.out.join("clip");
    if args.repackage || !clip_is_packaged(&clip) {
        anyhow::ensure!(
            args.seconds >= 4,
            "--seconds must be at least 4 (one 4 s segment), got {}",
            args.seconds
        );
        say!(
            "packaging a {} s synthetic clip into {} ...",
            args.seconds,
            clip.display()
        );
        let status = Command::new(&exe)
            .args(package_args(args.seconds, &clip))
            .status()
            .with_context(|| format!("cannot run {} package", exe.display()))?;
        if !status.success() {
            bail!(
                "`neuralstream package --synthetic {} --out {}` failed ({status}); see its message above",
                args.seconds,
                clip.display()
            );
        }
    } else {
        say!(
            "using the clip already packaged in {} (--repackage to redo it)",
            clip.display()
        );
    }
    let web_root = match &args.web_root {
        Some(dir) => Some(dir.clone()),
        None => built_page(&exe),
    };
    let web_root = match web_root {
        Some(dir) => Some(dir),
        None => {
            say!(
                "note: the web player is not built here (no web/dist); the server will show a page \
                 saying how. Build it with: cd web && npm ci && npm run build"
            );
            None
        }
    };
    let policy = match &args.policy {
        Some(p) if !p.is_file() => bail!(
            "--policy {}: no such file; train one with `neuralstream train` (it writes {DEFAULT_POLICY})",
            p.display()
        ),
        Some(p) => Some(p.clone()),
        None if Path::new(DEFAULT_POLICY).is_file() => Some(PathBuf::from(DEFAULT_POLICY)),
        None => {
            say!(
                "note: no learned policy at {DEFAULT_POLICY}; the page offers the rule-based algorithms \
                 (train one with `neuralstream train`, or pass --policy FILE)"
            );
            None
        }
    };
    if args.policy.is_some() && names_a_policy(&args.abr) {
        say!(
            "note: --abr already names a learned policy, so --policy {} is not added",
            args.policy.as_deref().unwrap_or(Path::new("")).display()
        );
    }
    let serve = ServeCommand {
        media: clip,
        abr: algorithm_list(&args.abr, policy.as_deref()),
        port: args.port,
        bind: args.bind.clone(),
        state_dir: args.out.join("serve"),
        web_root,
    };
    let parsed = ServeCli::try_parse_from(serve.args())
        .context("internal error: the demo built `serve` flags that do not parse")?;
    say!("{}", banner(&serve.url()));
    crate::serve::run(*parsed.serve)
}

/// `neuralstream serve`'s flags, parsed from the command line the demo builds.
#[derive(Debug, Parser)]
#[command(name = "serve")]
struct ServeCli {
    #[command(flatten)]
    serve: Box<crate::serve::ServeArgs>,
}

/// The built web player: `web/dist` under the current folder, else the one of the checkout this
/// executable sits in (`<repo>/target/release/neuralstream` -> `<repo>/web/dist`), else the one of
/// the checkout it was compiled from.
fn built_page(exe: &Path) -> Option<PathBuf> {
    let here = PathBuf::from("web/dist");
    let beside_build = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .map(|repo| repo.join("web/dist"));
    let compiled_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/dist");
    std::iter::once(here)
        .chain(beside_build)
        .chain(std::iter::once(compiled_from))
        .find(|d| d.join("index.html").is_file())
}

/// The `--abr` list of the server: `abr`, plus `learned:POLICY` unless it already names one.
fn algorithm_list(abr: &str, policy: Option<&Path>) -> String {
    match policy {
        Some(p) if !names_a_policy(abr) => format!("{abr},learned:{}", p.display()),
        _ => abr.to_string(),
    }
}

/// True when the comma-separated `--abr` list names a `learned:PATH` policy (prefix in any case).
fn names_a_policy(abr: &str) -> bool {
    abr.split(',')
        .any(|n| neuralstream_protocol::learned_policy_path(n.trim()).is_some())
}

/// True when `dir` holds a package made by `neuralstream package` (descriptor and manifest).
pub fn clip_is_packaged(dir: &Path) -> bool {
    dir.join("video.json").is_file() && dir.join("manifest.mpd").is_file()
}

/// Arguments of the `package` child.
fn package_args(seconds: u32, out: &Path) -> Vec<OsString> {
    vec![
        "package".into(),
        "--synthetic".into(),
        seconds.to_string().into(),
        "--out".into(),
        out.into(),
    ]
}

/// The `serve` child's command line.
#[derive(Debug, Clone, PartialEq)]
struct ServeCommand {
    media: PathBuf,
    abr: String,
    port: u16,
    bind: String,
    state_dir: PathBuf,
    web_root: Option<PathBuf>,
}

impl ServeCommand {
    /// The URL to open, or a pointer to the `listening on` line when the port is picked at start.
    fn url(&self) -> String {
        if self.port == 0 {
            "the URL on the `listening on` line below".into()
        } else {
            let host = if self.bind.contains(':') {
                format!("[{}]", self.bind)
            } else if self.bind == "0.0.0.0" {
                "127.0.0.1".into()
            } else {
                self.bind.clone()
            };
            format!("https://{host}:{}/", self.port)
        }
    }

    /// The command line (`serve` first, as a program name for clap).
    fn args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec![
            "serve".into(),
            "--media".into(),
            self.media.clone().into(),
            "--abr".into(),
            self.abr.clone().into(),
            "--port".into(),
            self.port.to_string().into(),
            "--bind".into(),
            self.bind.clone().into(),
            "--state-dir".into(),
            self.state_dir.clone().into(),
        ];
        if let Some(w) = &self.web_root {
            a.push("--web-root".into());
            a.push(w.clone().into());
        }
        a
    }
}

/// What the demo prints before the server starts.
fn banner(url: &str) -> String {
    format!(
        "\nStarting the NeuralStream demo server. Open {url} in Chromium, Chrome, Firefox or Edge, \
         pick an algorithm and press Play.\n  The certificate is self-signed: accept the browser's \
         warning once (the `certificate:` line below gives its SHA-256 fingerprint to compare).\n  \
         Stop with Ctrl-C.\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_serve_flags_parse_as_neuralstream_serve() {
        let s = ServeCommand {
            media: "out/demo/clip".into(),
            abr: "robustmpc,bb".into(),
            port: 8443,
            bind: "127.0.0.1".into(),
            state_dir: "out/demo/serve".into(),
            web_root: Some("web/dist".into()),
        };
        let parsed = ServeCli::try_parse_from(s.args()).unwrap();
        assert_eq!(parsed.serve.media, vec![PathBuf::from("out/demo/clip")]);
        assert_eq!(parsed.serve.port, Some(8443));
        assert_eq!(parsed.serve.web_root, Some(PathBuf::from("web/dist")));
        assert_eq!(s.url(), "https://127.0.0.1:8443/");
        let any = ServeCommand {
            bind: "0.0.0.0".into(),
            ..s.clone()
        };
        assert_eq!(any.url(), "https://127.0.0.1:8443/");
        let picked = ServeCommand { port: 0, ..s };
        assert!(picked.url().contains("listening on"));
    }

    #[test]
    fn serve_command_passes_every_flag() {
        let s = ServeCommand {
            media: "out/demo/clip".into(),
            abr: "bb,bola".into(),
            port: 0,
            bind: "127.0.0.1".into(),
            state_dir: "out/demo/serve".into(),
            web_root: Some("web/dist".into()),
        };
        let a: Vec<String> = s
            .args()
            .iter()
            .map(|x| x.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            a.join(" "),
            "serve --media out/demo/clip --abr bb,bola --port 0 --bind 127.0.0.1 --state-dir out/demo/serve --web-root web/dist"
        );
        let without = ServeCommand {
            web_root: None,
            ..s
        };
        assert!(!without.args().iter().any(|x| x == "--web-root"));
    }

    #[test]
    fn packaged_clip_needs_descriptor_and_manifest() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!clip_is_packaged(dir.path()));
        std::fs::write(dir.path().join("video.json"), "{}").unwrap();
        assert!(!clip_is_packaged(dir.path()));
        std::fs::write(dir.path().join("manifest.mpd"), "<MPD/>").unwrap();
        assert!(clip_is_packaged(dir.path()));
        assert_eq!(
            algorithm_list("bb,rate", Some(Path::new("p.safetensors"))),
            "bb,rate,learned:p.safetensors"
        );
        assert_eq!(
            algorithm_list("bb,learned:x", Some(Path::new("p"))),
            "bb,learned:x"
        );
        assert_eq!(
            algorithm_list("bb, Learned:x", Some(Path::new("p"))),
            "bb, Learned:x"
        );
        assert_eq!(algorithm_list("bb", None), "bb");
        let a = package_args(48, Path::new("x/clip"));
        assert_eq!(a[0], "package");
        assert_eq!(a[2], "48");
        assert!(banner("https://h/").contains("https://h/"));
    }
}
