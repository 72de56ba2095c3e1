//! What the tests that start `neuralstream serve --http` share: its address, read from the
//! `listening on` line it prints once it accepts connections, and a plain HTTP/1.1 client.
#![allow(dead_code)] // each test file uses its own part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::time::Duration;

/// Takes `serve`'s piped stdout and reads it up to the `listening on http://HOST:PORT/` line;
/// returns `HOST:PORT`. Panics (the test fails) if `serve` exits before printing it.
pub fn http_address(server: &mut Child) -> String {
    let stdout = server.stdout.take().expect("serve's stdout is piped");
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("serve's stdout reads");
        if let Some(u) = line.strip_prefix("listening on http://") {
            return u.trim().trim_end_matches('/').to_string();
        }
    }
    panic!("serve exited before printing its `listening on http://` line");
}

/// The `neuralstream` binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_neuralstream")
}

/// Runs `neuralstream ARGS`, asserting success (the failure shows both outputs); returns stdout.
pub fn run_ok(args: &[&str]) -> String {
    let out = std::process::Command::new(bin())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "neuralstream {}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A child process killed (SIGKILL, by PID) on drop.
pub struct Proc(pub Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One keep-alive HTTP/1.1 connection (the server runs `--http`).
pub struct Http {
    reader: BufReader<TcpStream>,
}

impl Http {
    /// Connects to `HOST:PORT` (30 s read timeout).
    pub fn connect(addr: &str) -> Http {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.set_nodelay(true).unwrap();
        Http {
            reader: BufReader::new(s),
        }
    }

    /// Sends one request with a JSON `body`; returns the status and the body of the answer.
    pub fn request(&mut self, method: &str, path: &str, body: &str) -> (u16, String) {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let s = self.reader.get_mut();
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body.as_bytes()).unwrap();
        let mut status_line = String::new();
        self.reader.read_line(&mut status_line).unwrap();
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap();
                }
            }
        }
        let mut buf = vec![0u8; len];
        self.reader.read_exact(&mut buf).unwrap();
        (status, String::from_utf8(buf).unwrap())
    }
}
