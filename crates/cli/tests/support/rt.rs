//! What the real-time tests through the binary (`rt_live.rs`, `rt_browser.rs`) share.
#![allow(dead_code)] // each test file uses its own part

use std::path::Path;

/// Writes three onl-emu traces of three `step_ms` steps each into `dir` (a family needs three
/// links to have a validation split): capacities 3000/1200/2500, 2000/800/3500 and
/// 1500/3000/900 kbit/s, no loss, 40 ms RTT.
pub fn onl_emu_traces(dir: &Path, step_ms: u32) {
    std::fs::create_dir_all(dir).unwrap();
    for (i, caps) in [[3000, 1200, 2500], [2000, 800, 3500], [1500, 3000, 900]]
        .iter()
        .enumerate()
    {
        let steps: Vec<String> = caps
            .iter()
            .map(|c| format!(r#"{{"duration": {step_ms}, "capacity": {c}, "loss": 0, "rtt": 40}}"#))
            .collect();
        let json = format!(
            r#"{{"uplink": {{"trace_pattern": [{}]}}}}"#,
            steps.join(",")
        );
        std::fs::write(dir.join(format!("link{i}.json")), json).unwrap();
    }
}
