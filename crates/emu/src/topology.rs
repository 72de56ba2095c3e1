//! The namespaces, veth pairs and addresses of one run, and their teardown.
//!
//! Names: the server namespace is `nsemu-{id}-srv`, link `i`'s client namespace `nsemu-{id}-c{i}`,
//! its veth ends `nse{id}s{i}` (server side) and `nse{id}c{i}` (client side), where `id` is
//! [`run_id`]'s five base-36 characters, unique per run, so parallel runs never clash. Link `i` is
//! the /30 `10.(64 + i / 64).((i % 64) * 4).0`: the server side is `.1`, the client side `.2`.
//!
//! Every namespace is entered in a process-wide registry *before* it is created, so a failure
//! half-way, a panic or a signal tears down exactly what exists; a device is created directly as a
//! pair whose ends are moved into namespaces at once, so deleting the namespaces deletes every
//! device and qdisc too (and a root-namespace leftover, should the move fail, is deleted by name).

use crate::error::EmuError;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Prefix of every namespace this crate creates (what `emulate --cleanup` removes).
pub const NETNS_PREFIX: &str = "nsemu-";
/// Prefix of every veth device this crate creates.
const DEV_PREFIX: &str = "nse";
/// `gso_max_segs` of every shaped (server-side) device: each packet the TCP stack hands to the
/// token bucket is one segment, at most one full frame. With segmentation offload on, the stack
/// builds packets of several segments, sized for the sender's pacing rate (up to 64 kB). `tbf`
/// admits one whole when it fits the bucket of the moment, but when the trace's rate then falls,
/// the bucket shrinks with it, and a queued packet larger than the new bucket can never gather
/// enough tokens: the link sends nothing, with its queue full, until the rate rises again. Measured
/// on 4 players x 5 links at `--speed 1`: stalls of 2 to 14 s (and one to the end of the run) at
/// 6 to 19 Mbit/s, which TCP answered with retransmission timeouts backed off to 8 to 34 s, and the
/// players' 60 s read timeouts killed their connections (docs/sim_to_real.md, "Shared link in both").
/// With one segment per packet, the bucket's floor of two full frames always holds the packet at
/// the head of the queue.
pub const ONE_SEGMENT_PER_PACKET: &str = "1";
/// Links per run at most (addresses and device names are sized for it).
pub const MAX_LINKS: usize = 4096;

/// What this process created and has not removed yet: namespaces and root-namespace devices.
static REGISTRY: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn registry() -> std::sync::MutexGuard<'static, Vec<String>> {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

/// Five base-36 characters from the process id and the clock: unique per run on one machine.
pub fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut n =
        (u64::from(std::process::id()).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ nanos) % 36u64.pow(5);
    let mut s = String::new();
    for _ in 0..5 {
        s.push(char::from_digit((n % 36) as u32, 36).unwrap_or('0'));
        n /= 36;
    }
    s
}

/// Checks that this process is root and that `ip` and `tc` are on PATH, before anything is
/// created.
pub fn preflight() -> Result<(), EmuError> {
    if !is_root() {
        return Err(EmuError::NotRoot);
    }
    for tool in ["ip", "tc"] {
        if find_tool(tool).is_none() {
            return Err(EmuError::MissingTool(tool));
        }
    }
    Ok(())
}

/// The effective user id from `/proc/self/status` is 0.
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            == Some("0")
    })
}

/// `tool` on PATH (where every command here is looked up).
fn find_tool(tool: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// Runs `program args`; an error carries the command line and its stderr.
pub(crate) fn run(program: &str, args: &[&str]) -> Result<String, EmuError> {
    let command = format!("{program} {}", args.join(" "));
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| EmuError::Spawn {
            command: command.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(EmuError::Command {
            command,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One emulated link: a veth pair between the server namespace and its own client namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Index in the run.
    pub index: usize,
    /// The client namespace (players of this link run in it).
    pub client_ns: String,
    /// The veth end in the server namespace; its egress (server to players) is shaped.
    pub server_dev: String,
    /// The veth end in the client namespace; its egress carries the delay when netem exists.
    pub client_dev: String,
    /// The server's address on this link (players connect to it).
    pub server_ip: Ipv4Addr,
    /// The client side's address.
    pub client_ip: Ipv4Addr,
}

impl Link {
    fn new(id: &str, index: usize) -> Link {
        let a = 64 + (index / 64) as u8;
        let b = ((index % 64) * 4) as u8;
        Link {
            index,
            client_ns: format!("{NETNS_PREFIX}{id}-c{index}"),
            server_dev: format!("{DEV_PREFIX}{id}s{index}"),
            client_dev: format!("{DEV_PREFIX}{id}c{index}"),
            server_ip: Ipv4Addr::new(10, a, b, 1),
            client_ip: Ipv4Addr::new(10, a, b, 2),
        }
    }
}

/// The namespaces and links of one run; dropping it removes them all (and any process in them).
#[derive(Debug)]
pub struct Topology {
    /// The run's unique id (in every name).
    pub id: String,
    /// The server namespace.
    pub server_ns: String,
    /// The links, in order.
    pub links: Vec<Link>,
    /// True when the kernel has `netem` and a delay was asked for and added.
    pub netem: bool,
    /// True when the kernel has `netem` at all (checked in the server namespace).
    pub netem_available: bool,
    removed: bool,
}

impl Topology {
    /// Creates the server namespace and `links` links named after `id`. With `delay_ms > 0`
    /// (real milliseconds, one way) and netem in the kernel, each client end delays its egress by
    /// it. On any failure, what was created is removed before the error is returned.
    pub fn create(id: &str, links: usize, delay_ms: f64) -> Result<Topology, EmuError> {
        if links == 0 || links > MAX_LINKS {
            return Err(EmuError::Config(format!(
                "links must be between 1 and {MAX_LINKS}, got {links}"
            )));
        }
        if !(delay_ms.is_finite() && delay_ms >= 0.0) {
            return Err(EmuError::Config(format!(
                "the link delay must be >= 0 ms, got {delay_ms}"
            )));
        }
        preflight()?;
        let mut topo = Topology {
            id: id.to_string(),
            server_ns: format!("{NETNS_PREFIX}{id}-srv"),
            links: (0..links).map(|i| Link::new(id, i)).collect(),
            netem: false,
            netem_available: false,
            removed: false,
        };
        if let Err(e) = topo.build(delay_ms) {
            let registered = registry().clone();
            topo.links.retain(|l| registered.contains(&l.client_ns));
            topo.teardown();
            return Err(e);
        }
        Ok(topo)
    }

    fn build(&mut self, delay_ms: f64) -> Result<(), EmuError> {
        add_namespace(&self.server_ns)?;
        run("ip", &["-n", &self.server_ns, "link", "set", "lo", "up"])?;
        self.netem_available = netem_available(&self.server_ns);
        let delay = format!("{delay_ms}ms");
        for l in &self.links {
            add_namespace(&l.client_ns)?;
            run("ip", &["-n", &l.client_ns, "link", "set", "lo", "up"])?;
            registry().push(l.server_dev.clone());
            run(
                "ip",
                &[
                    "link",
                    "add",
                    &l.server_dev,
                    "netns",
                    &self.server_ns,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    &l.client_dev,
                    "netns",
                    &l.client_ns,
                ],
            )?;
            registry().retain(|n| n != &l.server_dev);
            // One TCP segment per packet on the shaped side (see [`ONE_SEGMENT_PER_PACKET`]).
            run(
                "ip",
                &[
                    "-n",
                    &self.server_ns,
                    "link",
                    "set",
                    &l.server_dev,
                    "gso_max_segs",
                    ONE_SEGMENT_PER_PACKET,
                ],
            )?;
            for (ns, dev, ip) in [
                (&self.server_ns, &l.server_dev, l.server_ip),
                (&l.client_ns, &l.client_dev, l.client_ip),
            ] {
                run(
                    "ip",
                    &["-n", ns, "addr", "add", &format!("{ip}/30"), "dev", dev],
                )?;
                run("ip", &["-n", ns, "link", "set", dev, "up"])?;
            }
            if delay_ms > 0.0 && self.netem_available {
                run(
                    "ip",
                    &[
                        "netns",
                        "exec",
                        &l.client_ns,
                        "tc",
                        "qdisc",
                        "add",
                        "dev",
                        &l.client_dev,
                        "root",
                        "netem",
                        "delay",
                        &delay,
                    ],
                )?;
            }
        }
        self.netem = delay_ms > 0.0 && self.netem_available;
        Ok(())
    }

    /// Sets TCP's congestion control (`reno`, `cubic`, `bbr`, ... as the kernel offers in
    /// `net.ipv4.tcp_available_congestion_control`) in every namespace of the run; the server's
    /// choice governs the downloads. Without this, a new namespace uses the kernel's default.
    pub fn set_congestion_control(&self, name: &str) -> Result<(), EmuError> {
        let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ok {
            return Err(EmuError::Config(format!(
                "--congestion-control must be a kernel algorithm name such as cubic or bbr, got '{name}'"
            )));
        }
        let setting = format!("net.ipv4.tcp_congestion_control={name}");
        for ns in self.namespaces() {
            run(
                "ip",
                &["netns", "exec", &ns, "sysctl", "-q", "-w", &setting],
            )?;
        }
        Ok(())
    }

    /// The congestion control TCP uses in the server namespace.
    pub fn congestion_control(&self) -> Result<String, EmuError> {
        let out = run(
            "ip",
            &[
                "netns",
                "exec",
                &self.server_ns,
                "sysctl",
                "-n",
                "net.ipv4.tcp_congestion_control",
            ],
        )?;
        Ok(out.trim().to_string())
    }

    /// `ip netns exec NS program`: a command that runs `program` inside namespace `ns`.
    pub fn command_in(ns: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]).arg(program);
        c
    }

    /// Every namespace of this run (server first).
    pub fn namespaces(&self) -> Vec<String> {
        std::iter::once(self.server_ns.clone())
            .chain(self.links.iter().map(|l| l.client_ns.clone()))
            .collect()
    }

    /// Removes everything (kills what runs inside first); returns what could not be removed.
    pub fn teardown(&mut self) -> Vec<String> {
        if self.removed {
            return Vec::new();
        }
        self.removed = true;
        let mut names = self.namespaces();
        names.extend(self.links.iter().map(|l| l.server_dev.clone()));
        // Claim them from the registry first: what the signal watcher or the panic hook took
        // already is theirs to remove, so the two never delete the same name.
        let claimed: Vec<String> = {
            let mut r = registry();
            let claimed = r.iter().filter(|n| names.contains(n)).cloned().collect();
            r.retain(|n| !names.contains(n));
            claimed
        };
        remove(&claimed)
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for p in self.teardown() {
            eprintln!("warning: emulation cleanup: {p}");
        }
    }
}

/// Registers `name`, then creates it; a name that could not be created (it exists: someone
/// else's) is unregistered again, so the teardown never removes what this run did not make.
fn add_namespace(name: &str) -> Result<(), EmuError> {
    registry().push(name.to_string());
    run("ip", &["netns", "add", name])
        .map(|_| ())
        .inspect_err(|_| {
            registry().retain(|n| n != name);
        })?;
    // The links are IPv4 only. With IPv6 on, each device's link-local address finishes
    // duplicate-address detection a second or two after the link comes up: an address change that
    // Chromium takes for a network change, aborting what it has in flight
    // (net::ERR_NETWORK_CHANGED) while a page loads. Off before any device exists, nothing changes
    // once the run starts.
    for setting in [
        "net.ipv6.conf.all.disable_ipv6=1",
        "net.ipv6.conf.default.disable_ipv6=1",
    ] {
        run(
            "ip",
            &["netns", "exec", name, "sysctl", "-q", "-w", setting],
        )?;
    }
    Ok(())
}

/// Tries a netem qdisc on the loopback of `ns` (and removes it).
fn netem_available(ns: &str) -> bool {
    let ok = run(
        "ip",
        &[
            "netns", "exec", ns, "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms",
        ],
    )
    .is_ok();
    if ok {
        let _ = run(
            "ip",
            &[
                "netns", "exec", ns, "tc", "qdisc", "del", "dev", "lo", "root",
            ],
        );
    }
    ok
}

/// Tears down everything this process registered (the panic hook and the signal watcher call it).
pub(crate) fn teardown_registered() -> Vec<String> {
    let names: Vec<String> = registry().drain(..).collect();
    remove(&names)
}

/// Removes namespaces (after killing the processes in them) and root-namespace devices by name;
/// names that no longer exist are skipped. Returns what could not be removed.
fn remove(names: &[String]) -> Vec<String> {
    let existing = existing_namespaces().unwrap_or_default();
    let namespaces: Vec<&String> = names.iter().filter(|n| existing.contains(n)).collect();
    let mut problems = Vec::new();
    kill_inside(&namespaces);
    for ns in namespaces {
        if let Err(e) = run("ip", &["netns", "del", ns]) {
            problems.push(e.to_string());
        }
    }
    let devices = root_devices().unwrap_or_default();
    for dev in names.iter().filter(|n| devices.contains(n)) {
        if let Err(e) = run("ip", &["link", "del", dev]) {
            problems.push(e.to_string());
        }
    }
    problems
}

/// Sends SIGTERM to every process inside `namespaces`, waits up to 3 s, then SIGKILL.
fn kill_inside(namespaces: &[&String]) {
    let pids = || -> Vec<String> {
        namespaces
            .iter()
            .filter_map(|ns| run("ip", &["netns", "pids", ns]).ok())
            .flat_map(|out| {
                out.split_whitespace()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut signal = "-TERM";
    loop {
        let left = pids();
        if left.is_empty() {
            return;
        }
        let mut args = vec![signal];
        args.extend(left.iter().map(String::as_str));
        let _ = run("kill", &args);
        if signal == "-KILL" {
            std::thread::sleep(Duration::from_millis(100));
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
        if Instant::now() > deadline {
            signal = "-KILL";
        }
    }
}

/// Names of the network namespaces (`ip netns list`).
pub fn existing_namespaces() -> Result<Vec<String>, EmuError> {
    // Lines are `NAME` or `NAME (id: N)`.
    Ok(run("ip", &["netns", "list"])?
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect())
}

/// Names of the devices in the root namespace (`ip -o link show`).
pub fn root_devices() -> Result<Vec<String>, EmuError> {
    // Lines are `N: NAME@PEER: <FLAGS> ...` or `N: NAME: ...`.
    Ok(run("ip", &["-o", "link", "show"])?
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect())
}

/// What of run `id` still exists: namespaces and root-namespace devices with `id` in their name.
pub fn leftovers(id: &str) -> Result<Vec<String>, EmuError> {
    let mut left: Vec<String> = existing_namespaces()?
        .into_iter()
        .filter(|n| n.starts_with(&format!("{NETNS_PREFIX}{id}-")))
        .collect();
    left.extend(
        root_devices()?
            .into_iter()
            .filter(|n| n.starts_with(&format!("{DEV_PREFIX}{id}"))),
    );
    Ok(left)
}

/// Removes every namespace whose name starts with `prefix` (default [`NETNS_PREFIX`]: all runs'
/// leftovers) and every root-namespace veth device of this crate's naming; returns the names
/// removed. For runs killed outright (SIGKILL), whose own teardown never ran.
pub fn cleanup_prefix(prefix: &str) -> Result<Vec<String>, EmuError> {
    if !prefix.starts_with(NETNS_PREFIX) {
        return Err(EmuError::Config(format!(
            "the cleanup prefix must start with `{NETNS_PREFIX}` (this harness's names), got `{prefix}`"
        )));
    }
    preflight()?;
    let mut names: Vec<String> = existing_namespaces()?
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .collect();
    let run_ids: Vec<String> = names
        .iter()
        .filter_map(|n| {
            n.strip_prefix(NETNS_PREFIX)?
                .split('-')
                .next()
                .map(str::to_string)
        })
        .collect();
    names.extend(root_devices()?.into_iter().filter(|d| {
        is_our_device(d)
            && (prefix == NETNS_PREFIX || run_ids.iter().any(|id| d[3..].starts_with(id.as_str())))
    }));
    let problems = remove(&names);
    if let Some(p) = problems.first() {
        return Err(EmuError::Config(format!("cleanup incomplete: {p}")));
    }
    Ok(names)
}

/// `nse` + five base-36 characters + `s` or `c` + digits.
fn is_our_device(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(DEV_PREFIX) else {
        return false;
    };
    let b = rest.as_bytes();
    b.len() > 6
        && b[..5]
            .iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
        && matches!(b[5], b's' | b'c')
        && b[6..].iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_linux_limits_and_addresses_do_not_overlap() {
        let id = run_id();
        assert_eq!(id.len(), 5);
        let last = Link::new(&id, MAX_LINKS - 1);
        assert!(last.server_dev.len() <= 15, "{}", last.server_dev);
        assert!(is_our_device(&last.server_dev) && is_our_device(&last.client_dev));
        assert!(!is_our_device("nsemuX") && !is_our_device("eth0"));
        let mut seen = std::collections::HashSet::new();
        for i in 0..MAX_LINKS {
            let l = Link::new(&id, i);
            assert!(
                seen.insert(l.server_ip) && seen.insert(l.client_ip),
                "link {i}"
            );
            assert_eq!(u32::from(l.server_ip) & !3, u32::from(l.client_ip) & !3);
        }
    }

    #[test]
    fn cleanup_refuses_a_foreign_prefix() {
        let e = cleanup_prefix("eth").unwrap_err().to_string();
        assert!(e.contains(NETNS_PREFIX), "{e}");
    }
}
