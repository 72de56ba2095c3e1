//! A real Kafka-compatible broker for tests: `tansu` with memory storage on 127.0.0.1, started
//! and stopped by its PID. Shared by the telemetry crate's Kafka tests and the CLI's end-to-end
//! test (`#[path]`-included there).
//!
//! The binary is `$NEURALSTREAM_TANSU`, else `tansu` on `PATH`. Without one the tests skip with a
//! message, unless `NEURALSTREAM_REQUIRE_KAFKA=1` (CI), where its absence fails them.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The broker binary, or `None` (after printing why) when the test should skip.
pub fn tansu_binary() -> Option<PathBuf> {
    let required = std::env::var("NEURALSTREAM_REQUIRE_KAFKA").is_ok_and(|v| v == "1");
    let found = std::env::var_os("NEURALSTREAM_TANSU")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join("tansu"))
                    .find(|p| p.is_file())
            })
        });
    if found.is_none() {
        assert!(
            !required,
            "NEURALSTREAM_REQUIRE_KAFKA=1 but no tansu broker: set NEURALSTREAM_TANSU to its path \
             (.ci/run installs it) or put `tansu` on PATH"
        );
        eprintln!(
            "skipping: no tansu broker (set NEURALSTREAM_TANSU or put tansu on PATH; \
             NEURALSTREAM_REQUIRE_KAFKA=1 makes this a failure)"
        );
    }
    found
}

/// A running broker.
pub struct Broker {
    binary: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Broker {
    /// Starts a broker on a free port, or `None` when there is no binary (test skips).
    pub fn start() -> Option<Broker> {
        let binary = tansu_binary()?;
        let mut b = Broker {
            binary,
            port: free_port(),
            child: None,
        };
        b.spawn();
        Some(b)
    }

    /// `HOST:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let child = Command::new(&self.binary)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tansu");
        self.child = Some(child);
        let addr: SocketAddr = self.addr().parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not open {addr} within 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the broker (SIGKILL by PID) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops and starts the broker on the same port: with memory storage its log is gone.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// `tansu topic create NAME --partitions N` against this broker; panics if it fails.
    pub fn create_topic(&self, name: &str, partitions: u32) {
        if let Err(e) = self.try_create_topic(name, partitions) {
            panic!("{e}");
        }
    }

    /// `tansu topic create NAME --partitions N`; an error (e.g. it exists) as text.
    pub fn try_create_topic(&self, name: &str, partitions: u32) -> Result<(), String> {
        let out = Command::new(&self.binary)
            .args([
                "topic",
                "create",
                name,
                "--partitions",
                &partitions.to_string(),
            ])
            .args(["--broker", &format!("tcp://127.0.0.1:{}", self.port)])
            .output()
            .expect("run tansu topic create");
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "tansu topic create {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}
