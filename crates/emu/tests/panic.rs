//! A panic anywhere in a process that emulates removes its links: the hook `interrupt::install`
//! sets tears down every registered namespace before the panic unwinds. Its own test binary, so
//! the hook's teardown cannot reach another test's links. Needs root (see `netns.rs`).

use neuralstream_emu::topology::leftovers;
use neuralstream_emu::{interrupt, preflight, run_id, Topology};

#[test]
fn a_panic_removes_the_links() {
    if let Err(e) = preflight() {
        let required = std::env::var("NEURALSTREAM_REQUIRE_NETNS").is_ok_and(|v| v == "1");
        assert!(!required, "NEURALSTREAM_REQUIRE_NETNS=1 but: {e}");
        println!("note: skipping the panic-hook test: {e}");
        return;
    }
    interrupt::install();
    let id = run_id();
    let topo = Topology::create(&id, 2, 0.0).unwrap();
    assert_eq!(leftovers(&id).unwrap().len(), 3);
    let caught = std::panic::catch_unwind(|| panic!("a bug in the harness"));
    assert!(caught.is_err());
    // Gone at the panic, before the topology's own drop.
    assert_eq!(leftovers(&id).unwrap(), Vec::<String>::new());
    drop(topo);
}
