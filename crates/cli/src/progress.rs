//! Progress of the long commands (`train`, `bench`, `package`, `play`), one helper for all.
//!
//! On a terminal it is indicatif's bar, redrawn in place on stderr. Where stderr is not a terminal
//! (a log file, a pipe, CI) indicatif draws nothing, so a run logged to a file would say nothing
//! for minutes; there [`Progress`] prints a plain line instead (command, elapsed time, position,
//! the caller's message: for `train` the stage, iteration and validation score) at the first
//! update, then every [`LINE_EVERY_S`] seconds from a heartbeat thread (also while the command
//! sits in a long step that reports nothing), and once more when it finishes.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Seconds between two progress lines when stderr is not a terminal.
pub const LINE_EVERY_S: f64 = 5.0;

/// How often the heartbeat thread looks at the clock, ms.
const HEARTBEAT_POLL_MS: u64 = 200;

/// A progress display: a bar on a terminal, periodic lines elsewhere, nothing when hidden.
pub struct Progress {
    inner: Arc<Inner>,
}

struct Inner {
    /// Holds position, length and message; drawn only on a terminal.
    bar: ProgressBar,
    /// Plain-line state; `None` on a terminal or when hidden.
    lines: Option<Mutex<Lines>>,
    /// Set once finished: the heartbeat stops and no line follows.
    done: AtomicBool,
    /// The command's name, first on every line.
    command: &'static str,
    /// What the position counts (`sessions`, `chunks`); empty: the position is not printed.
    unit: &'static str,
}

struct Lines {
    started: Instant,
    last: Option<Instant>,
}

impl Progress {
    /// A display for `command` over `len` steps of `unit` (`unit` empty: the position is only
    /// for the bar, lines show the message alone), with indicatif's `template` on a terminal.
    pub fn new(command: &'static str, len: u64, unit: &'static str, template: &str) -> Self {
        Self::with_mode(
            command,
            len,
            unit,
            template,
            std::io::stderr().is_terminal(),
        )
    }

    /// A display that shows nothing (`play --quiet`).
    pub fn hidden() -> Self {
        Self::build("", "", ProgressBar::hidden(), None)
    }

    /// [`Progress::new`] with the terminal test made by the caller (lines when `terminal` is false).
    fn with_mode(
        command: &'static str,
        len: u64,
        unit: &'static str,
        template: &str,
        terminal: bool,
    ) -> Self {
        if terminal {
            let bar = ProgressBar::new(len);
            bar.set_style(ProgressStyle::with_template(template).expect("static template"));
            return Self::build(command, unit, bar, None);
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
        let lines = Lines {
            started: Instant::now(),
            last: None,
        };
        let progress = Self::build(command, unit, bar, Some(Mutex::new(lines)));
        let inner = Arc::clone(&progress.inner);
        std::thread::spawn(move || heartbeat(&inner));
        progress
    }

    fn build(
        command: &'static str,
        unit: &'static str,
        bar: ProgressBar,
        lines: Option<Mutex<Lines>>,
    ) -> Self {
        Progress {
            inner: Arc::new(Inner {
                bar,
                lines,
                done: AtomicBool::new(false),
                command,
                unit,
            }),
        }
    }

    /// Redraws the bar every 200 ms on a terminal (the lines have their own heartbeat).
    pub fn enable_steady_tick(&self) {
        if self.inner.lines.is_none() {
            self.inner
                .bar
                .enable_steady_tick(Duration::from_millis(HEARTBEAT_POLL_MS));
        }
    }

    /// Sets the position.
    pub fn set_position(&self, pos: u64) {
        self.inner.bar.set_position(pos);
        self.inner.first_line();
    }

    /// Sets the number of steps.
    pub fn set_length(&self, len: u64) {
        self.inner.bar.set_length(len);
    }

    /// Advances the position by `n`.
    pub fn inc(&self, n: u64) {
        self.inner.bar.inc(n);
        self.inner.first_line();
    }

    /// Sets the message shown after the bar (and on every line).
    pub fn set_message(&self, msg: impl Into<String>) {
        self.inner.bar.set_message(msg.into());
        self.inner.first_line();
    }

    /// Prints `msg` above the bar on a terminal, as its own line elsewhere.
    pub fn println(&self, msg: impl AsRef<str>) {
        if self.inner.bar.is_hidden() {
            eprintln!("{}", msg.as_ref());
        } else {
            self.inner.bar.println(msg.as_ref());
        }
    }

    /// Done: the bar stays drawn at its end; elsewhere a last line.
    pub fn finish(&self) {
        self.inner.bar.finish();
        self.inner.stop();
    }

    /// Done: the bar disappears; elsewhere a last line.
    pub fn finish_and_clear(&self) {
        self.inner.bar.finish_and_clear();
        self.inner.stop();
    }

    /// Stopped by an error: the bar stays where it was; elsewhere a last line.
    pub fn abandon(&self) {
        self.inner.bar.abandon();
        self.inner.stop();
    }

    /// The line that would be printed now (for tests), `None` on a terminal or when hidden.
    #[cfg(test)]
    fn line(&self) -> Option<String> {
        let lines = self.inner.lines.as_ref()?;
        let started = lines.lock().unwrap_or_else(|e| e.into_inner()).started;
        Some(self.inner.format_line(started.elapsed()))
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // The heartbeat thread holds the other reference; stop it without a last line.
        self.inner.done.store(true, Ordering::Relaxed);
    }
}

impl Inner {
    /// Prints the first line as soon as there is something to say.
    fn first_line(&self) {
        if let Some(lines) = &self.lines {
            let mut l = lines.lock().unwrap_or_else(|e| e.into_inner());
            if l.last.is_none() {
                self.print(&mut l);
            }
        }
    }

    /// Ends the heartbeat with a last line (once).
    fn stop(&self) {
        if self.done.swap(true, Ordering::Relaxed) {
            return;
        }
        if let Some(lines) = &self.lines {
            self.print(&mut lines.lock().unwrap_or_else(|e| e.into_inner()));
        }
    }

    fn print(&self, l: &mut Lines) {
        l.last = Some(Instant::now());
        eprintln!("{}", self.format_line(l.started.elapsed()));
    }

    /// `train [00:01:05] 12/48 sessions imitation #3: ...`.
    fn format_line(&self, elapsed: Duration) -> String {
        let s = elapsed.as_secs();
        let mut line = format!(
            "{} [{:02}:{:02}:{:02}]",
            self.command,
            s / 3600,
            s / 60 % 60,
            s % 60
        );
        if !self.unit.is_empty() {
            let len = self.bar.length().unwrap_or(0);
            line.push_str(&format!(" {}/{len} {}", self.bar.position(), self.unit));
        }
        let msg = self.bar.message();
        if !msg.is_empty() {
            line.push(' ');
            line.push_str(&msg);
        }
        line
    }
}

/// Prints a line every [`LINE_EVERY_S`] seconds until the display is finished or dropped.
fn heartbeat(inner: &Inner) {
    let Some(lines) = &inner.lines else { return };
    let every = Duration::from_secs_f64(LINE_EVERY_S);
    while !inner.done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(HEARTBEAT_POLL_MS));
        let mut l = lines.lock().unwrap_or_else(|e| e.into_inner());
        let due = l.last.map_or(l.started.elapsed(), |t| t.elapsed()) >= every;
        if due && !inner.done.load(Ordering::Relaxed) {
            inner.print(&mut l);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_names_the_command_elapsed_position_and_message() {
        let p = Progress::with_mode("bench", 48, "sessions", "{bar}", false);
        p.inc(3);
        p.set_message("robustmpc");
        let line = p.line().unwrap();
        assert!(line.starts_with("bench [00:00:0"), "{line}");
        assert!(line.ends_with(" 3/48 sessions robustmpc"), "{line}");
        p.finish_and_clear();
        // Without a unit only the message follows the time.
        let p = Progress::with_mode("train", 560, "", "{bar}", false);
        p.set_message("imitation #2: validation QoE 12.50");
        let line = p.line().unwrap();
        assert!(
            line.ends_with("] imitation #2: validation QoE 12.50"),
            "{line}"
        );
        // On a terminal, and when hidden, there are no lines.
        assert!(Progress::with_mode("x", 1, "", "{bar}", true)
            .line()
            .is_none());
        assert!(Progress::hidden().line().is_none());
    }
}
