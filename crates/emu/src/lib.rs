//! # neuralstream-emu
//!
//! Real TCP over an emulated link (issue 22, item 3): Linux network namespaces joined by veth pairs,
//! the server-to-player direction shaped by `tc` from a network trace, the model of Mahimahi's
//! trace-driven link in kernel queues that Pensieve's real-world tests used.
//!
//! One run builds one *server* namespace and one *client* namespace per link; link `i` is a veth
//! pair between them with its own /30. Each link's server side carries a token bucket (`tbf`) whose
//! rate follows that link's trace, changed at every trace sample by one long-lived
//! `tc -force -batch -` process ([`shaper`]), and whose byte limit is a drop-tail queue. A
//! propagation delay needs `netem`; where the kernel has it, it is added on the client side's
//! egress (so every round trip carries it once), and where it does not, [`Topology::netem`] says so
//! and the caller must say it too (nothing here fakes a delay).
//!
//! **Key design decision:** everything is done by the stock `ip` and `tc` commands, never by raw
//! netlink, and everything created is named from one run-unique prefix and recorded in a
//! process-wide registry. So whatever ends the run (the [`Topology`]'s drop, a panic, Ctrl-C or
//! SIGTERM through [`interrupt`]), the same teardown removes exactly what this process created:
//! it kills the processes left inside its namespaces (`ip netns pids`) and deletes the namespaces,
//! which takes their veths and qdiscs with them; [`cleanup_prefix`] does the same for leftovers
//! of a run that was killed outright.
//!
//! Time compression: at `speed` x, every trace rate is multiplied by `speed` and every sample lasts
//! `1/speed` of its real duration, so a player whose clock runs `speed` times faster sees the
//! trace's bytes per session second. Queue bytes are unchanged, so queueing delay in session
//! seconds is unchanged too; a real round-trip time shrinks by `speed` in session time.

pub mod error;
pub mod interrupt;
pub mod shaper;
pub mod topology;

pub use error::EmuError;
pub use shaper::{rate_schedule, RateStep, Shaper, ShaperConfig};
pub use topology::{cleanup_prefix, preflight, run_id, Link, Topology, NETNS_PREFIX};
