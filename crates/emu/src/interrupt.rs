//! Teardown on Ctrl-C, SIGTERM and panics: whatever ends the process, the namespaces it created
//! (and the processes inside them) go too.

use crate::topology::teardown_registered;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

static INSTALLED: Once = Once::new();
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Installs, once per process, a panic hook that tears down every registered namespace before the
/// previous hook runs, and a watcher thread that, on Ctrl-C or SIGTERM, tears them down and exits
/// with status 130.
pub fn install() {
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            for p in teardown_registered() {
                eprintln!("warning: emulation cleanup after a panic: {p}");
            }
            previous(info);
        }));
        std::thread::spawn(watch_signals);
    });
}

/// True once Ctrl-C or SIGTERM arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// After Ctrl-C or SIGTERM, blocks for good: the watcher is removing the links and then exits the
/// process with status 130, so the caller must not report a half-removed run meanwhile. Returns
/// at once otherwise.
pub fn park_if_interrupted() {
    while interrupted() {
        std::thread::park();
    }
}

fn watch_signals() {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        eprintln!(
            "warning: cannot watch for Ctrl-C; after one, run `neuralstream emulate --cleanup`"
        );
        return;
    };
    let name = rt.block_on(async {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            let _ = tokio::signal::ctrl_c().await;
            return "Ctrl-C";
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "Ctrl-C",
            _ = term.recv() => "SIGTERM",
        }
    });
    eprintln!("{name}: removing the emulated links");
    INTERRUPTED.store(true, Ordering::Relaxed);
    for p in teardown_registered() {
        eprintln!("warning: emulation cleanup: {p}");
    }
    std::process::exit(130);
}
