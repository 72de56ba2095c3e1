//! Finding and running FFmpeg and ffprobe: capability checks, progress from `-progress pipe:1`, and
//! the last lines of stderr when a run fails.

use crate::error::MediaError;
use std::collections::{BTreeSet, VecDeque};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Environment variable that names the ffmpeg executable (overridden by `--ffmpeg`).
pub const FFMPEG_ENV: &str = "NEURALSTREAM_FFMPEG";
/// Environment variable that names the ffprobe executable (overridden by `--ffprobe`).
pub const FFPROBE_ENV: &str = "NEURALSTREAM_FFPROBE";
/// How many stderr lines a failure message shows.
const TAIL_LINES: usize = 15;

/// The FFmpeg executables to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    /// The ffmpeg program (a path, or a name looked up on PATH).
    pub ffmpeg: PathBuf,
    /// The ffprobe program.
    pub ffprobe: PathBuf,
}

/// What the ffmpeg found can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// First line of `ffmpeg -version`.
    pub version: String,
    /// Names of the video and audio encoders it has (`libx264`, `libsvtav1`, `aac`, ...).
    pub encoders: BTreeSet<String>,
    /// Whether the `libvmaf` filter is available.
    pub has_libvmaf: bool,
}

impl Tools {
    /// Chooses the executables: the explicit paths if given, else `$NEURALSTREAM_FFMPEG` /
    /// `$NEURALSTREAM_FFPROBE`, else `ffmpeg` / `ffprobe` on PATH. When only ffmpeg is given as a path,
    /// an `ffprobe` beside it is preferred over the one on PATH.
    pub fn locate(ffmpeg: Option<&Path>, ffprobe: Option<&Path>) -> Self {
        let env = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let ffmpeg = ffmpeg
            .map(Path::to_path_buf)
            .or_else(|| env(FFMPEG_ENV))
            .unwrap_or_else(|| PathBuf::from("ffmpeg"));
        let ffprobe = ffprobe
            .map(Path::to_path_buf)
            .or_else(|| env(FFPROBE_ENV))
            .or_else(|| {
                let sibling = ffmpeg.parent()?.join("ffprobe");
                sibling.is_file().then_some(sibling)
            })
            .unwrap_or_else(|| PathBuf::from("ffprobe"));
        Tools { ffmpeg, ffprobe }
    }

    /// Runs `ffmpeg -version`, `-encoders` and `-filters` to learn what this FFmpeg can do; fails
    /// with an installation hint when ffmpeg cannot be started.
    pub fn capabilities(&self) -> Result<Capabilities, MediaError> {
        let version = capture(
            &self.ffmpeg,
            &["-hide_banner", "-version"],
            "checking its version",
        )?;
        let version = version.lines().next().unwrap_or("").trim().to_string();
        let encoders = capture(
            &self.ffmpeg,
            &["-hide_banner", "-encoders"],
            "listing encoders",
        )?;
        let encoders = encoders
            .lines()
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                let flags = it.next()?;
                let name = it.next()?;
                (flags.len() == 6 && (flags.starts_with('V') || flags.starts_with('A')))
                    .then(|| name.to_string())
            })
            .collect();
        let filters = capture(
            &self.ffmpeg,
            &["-hide_banner", "-filters"],
            "listing filters",
        )?;
        let has_libvmaf = filters
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some("libvmaf"));
        // ffprobe is needed too: fail now rather than after a long encode.
        capture(
            &self.ffprobe,
            &["-hide_banner", "-version"],
            "checking its version",
        )?;
        Ok(Capabilities {
            version,
            encoders,
            has_libvmaf,
        })
    }
}

/// Runs `program args`, returns its stdout; a failure carries the last stderr lines.
pub fn capture(program: &Path, args: &[&str], task: &str) -> Result<String, MediaError> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| missing(program, e))?;
    if !out.status.success() {
        return Err(MediaError::ToolFailed {
            program: program.display().to_string(),
            task: task.to_string(),
            status: out.status.to_string(),
            tail: tail_of(&String::from_utf8_lossy(&out.stderr)),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn missing(program: &Path, e: std::io::Error) -> MediaError {
    MediaError::ToolMissing {
        program: program.display().to_string(),
        reason: e.to_string(),
    }
}

fn tail_of(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n");
    if tail.is_empty() {
        "(no output on stderr)".into()
    } else {
        tail
    }
}

/// Runs ffmpeg with `-progress pipe:1` already among `args`, in `cwd`, calling `on_progress` with
/// the media time written so far (seconds) as FFmpeg reports it. On failure the error holds the last
/// lines FFmpeg wrote to stderr.
pub fn run_with_progress(
    program: &Path,
    args: &[String],
    cwd: &Path,
    task: &str,
    on_progress: &mut dyn FnMut(f64),
) -> Result<(), MediaError> {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| missing(program, e))?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let collector = std::thread::spawn(move || {
        let mut tail: VecDeque<String> = VecDeque::new();
        let mut reader = BufReader::new(stderr);
        let mut buf = Vec::new();
        // Read raw lines: FFmpeg may print bytes that are not UTF-8.
        while reader
            .read_until(b'\n', &mut buf)
            .map(|n| n > 0)
            .unwrap_or(false)
        {
            let line = String::from_utf8_lossy(&buf).trim_end().to_string();
            buf.clear();
            if line.is_empty() {
                continue;
            }
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line);
        }
        tail.into_iter().collect::<Vec<_>>().join("\n")
    });
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if let Some(us) = line.trim().strip_prefix("out_time_us=") {
                    if let Ok(us) = us.parse::<i64>() {
                        on_progress(us.max(0) as f64 / 1e6);
                    }
                }
            }
        }
    }
    // Drain anything left (not expected) so the child never blocks on a full pipe.
    let _ = reader.read_to_end(&mut Vec::new());
    let status = child.wait().map_err(|e| missing(program, e))?;
    let tail = collector.join().unwrap_or_default();
    if !status.success() {
        return Err(MediaError::ToolFailed {
            program: program.display().to_string(),
            task: task.to_string(),
            status: status.to_string(),
            tail: if tail.is_empty() {
                "(no output on stderr)".into()
            } else {
                tail
            },
        });
    }
    Ok(())
}

/// Quotes one argument for a POSIX shell, only when needed.
pub fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

/// A command line as a shell would be given it.
pub fn shell_line(program: &Path, args: &[String]) -> String {
    std::iter::once(shell_quote(&program.display().to_string()))
        .chain(args.iter().map(|a| shell_quote(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("-c:v"), "-c:v");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("$x'y"), "'$x'\\''y'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn missing_program_says_how_to_install() {
        let tools = Tools::locate(Some(Path::new("/nonexistent/ffmpeg")), None);
        let e = tools.capabilities().unwrap_err().to_string();
        assert!(e.contains("apt-get install ffmpeg"), "{e}");
        assert!(e.contains("/nonexistent/ffmpeg"), "{e}");
    }

    #[test]
    fn failure_shows_last_lines() {
        let e = capture(
            Path::new("sh"),
            &["-c", "echo one >&2; echo two >&2; exit 3"],
            "testing",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("while testing") && e.ends_with("one\ntwo"),
            "{e}"
        );
        let mut seen = Vec::new();
        let args: Vec<String> = ["-c", "echo out_time_us=2500000; echo bad >&2; exit 1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let e = run_with_progress(Path::new("sh"), &args, Path::new("."), "x", &mut |s| {
            seen.push(s)
        })
        .unwrap_err()
        .to_string();
        assert_eq!(seen, [2.5]);
        assert!(e.ends_with("bad"), "{e}");
    }
}
