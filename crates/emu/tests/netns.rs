//! The topology and shaper against the real kernel: namespaces, veths and a tbf whose rate follows
//! a trace, all gone after the drop. Needs root, `ip` and `tc`; skips with a note otherwise,
//! unless `NEURALSTREAM_REQUIRE_NETNS=1` (`.ci/run` sets it when it runs as root).

use neuralstream_core::Trace;
use neuralstream_emu::topology::leftovers;
use neuralstream_emu::{preflight, run_id, Shaper, ShaperConfig, Topology};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

fn can_run() -> bool {
    match preflight() {
        Ok(()) => true,
        Err(e) => {
            let required = std::env::var("NEURALSTREAM_REQUIRE_NETNS").is_ok_and(|v| v == "1");
            assert!(!required, "NEURALSTREAM_REQUIRE_NETNS=1 but: {e}");
            println!("note: skipping the network-namespace test: {e}");
            false
        }
    }
}

fn qdisc(ns: &str, dev: &str) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "tc", "qdisc", "show", "dev", dev])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn links_follow_their_traces_and_nothing_is_left_behind() {
    if !can_run() {
        return;
    }
    let id = run_id();
    let topo = Topology::create(&id, 2, 0.0).unwrap();
    assert_eq!(
        leftovers(&id).unwrap().len(),
        3,
        "server + 2 client namespaces"
    );
    // The client reaches the server over its link: a closed port answers with a reset.
    let l = &topo.links[1];
    let probe = Command::new("ip")
        .args(["netns", "exec", &l.client_ns, "bash", "-c"])
        .arg(format!("exec 3<>/dev/tcp/{}/9", l.server_ip))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&probe.stderr);
    assert!(said.contains("Connection refused"), "{said}");
    // The shaped end sends one TCP segment per packet, so every packet fits the smallest bucket.
    let details = Command::new("ip")
        .args([
            "-n",
            &topo.server_ns,
            "-d",
            "link",
            "show",
            "dev",
            &l.server_dev,
        ])
        .output()
        .unwrap();
    let details = String::from_utf8_lossy(&details.stdout);
    assert!(details.contains("gso_max_segs 1 "), "{details}");
    // 1 and then 3 Mbit/s at speed 10: the change is due 0.1 s after the start.
    let t = Arc::new(Trace::new("t", vec![0.0, 1.0, 2.0], vec![0.0, 1.0, 3.0]).unwrap());
    let links: Vec<(String, Arc<Trace>)> = topo
        .links
        .iter()
        .map(|l| (l.server_dev.clone(), t.clone()))
        .collect();
    let cfg = ShaperConfig {
        speed: 10.0,
        queue_bytes: 60_000,
    };
    let shaper = Shaper::start(&topo.server_ns, &links, &cfg).unwrap();
    let first = qdisc(&topo.server_ns, &topo.links[0].server_dev);
    assert!(
        first.contains("tbf") && first.contains("rate 10Mbit"),
        "{first}"
    );
    std::thread::sleep(Duration::from_millis(150));
    let second = qdisc(&topo.server_ns, &topo.links[0].server_dev);
    assert!(second.contains("rate 30Mbit"), "{second}");
    let stats = shaper.stop().unwrap();
    // Congestion control per run: reno is allowed in every namespace.
    topo.set_congestion_control("reno").unwrap();
    assert_eq!(topo.congestion_control().unwrap(), "reno");
    let e = topo
        .set_congestion_control("reno; rm")
        .unwrap_err()
        .to_string();
    assert!(e.contains("--congestion-control"), "{e}");
    assert!(stats.updates >= 2, "{stats:?}");
    drop(topo);
    assert_eq!(leftovers(&id).unwrap(), Vec::<String>::new());
}

#[test]
fn a_failed_creation_leaves_nothing() {
    if !can_run() {
        return;
    }
    let id = run_id();
    // The first client namespace exists already (someone else's): creation fails there and removes
    // what it made, never the clash.
    let clash = format!("{}{id}-c0", neuralstream_emu::NETNS_PREFIX);
    assert!(Command::new("ip")
        .args(["netns", "add", &clash])
        .status()
        .unwrap()
        .success());
    let e = Topology::create(&id, 2, 0.0).unwrap_err().to_string();
    assert!(e.contains("netns add"), "{e}");
    // Ours were removed, the clash (not ours) was kept; the test removes it itself.
    assert_eq!(leftovers(&id).unwrap(), vec![clash.clone()]);
    assert!(Command::new("ip")
        .args(["netns", "del", &clash])
        .status()
        .unwrap()
        .success());
}
