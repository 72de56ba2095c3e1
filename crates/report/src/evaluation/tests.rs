//! Hand-computed numbers for two sessions: a simulated one with startup delay and two stalls, and
//! a served one with a repeated chunk report, decision times and no session end.

use super::output::{groups_csv, report_json, report_markdown, sessions_csv, write_report};
use super::*;

fn chunk(
    source: &str,
    session: &str,
    index: u32,
    bitrate_kbps: f64,
    size_bytes: u64,
    (start_ms, end_ms): (f64, f64),
    rebuffer_s: f64,
) -> EventRow {
    let mut r = EventRow::new(RowKind::Chunk, source, session);
    r.chunk = Some(index);
    r.level = Some(0);
    r.bitrate_kbps = Some(bitrate_kbps);
    r.size_bytes = Some(size_bytes);
    r.request_start_ms = Some(start_ms);
    r.response_end_ms = Some(end_ms);
    r.rebuffer_s = Some(rebuffer_s);
    r
}

fn decision(session: &str, index: u32, decision_us: f64, qoe: f64) -> EventRow {
    let mut r = EventRow::new(RowKind::Decision, "serve", session);
    r.algorithm = Some("robustmpc".into());
    r.chunk = Some(index);
    r.decision_us = Some(decision_us);
    r.qoe = Some(qoe);
    r
}

/// Session `bench/a` (bb): 4 chunks of 4 s, startup 0.5 s, stalls of 1 s and 2 s, 8000 bytes in
/// 700 ms, final QoE 5.5. Session `serve/b` (robustmpc): chunks 0 and 1 (chunk 1 reported twice),
/// startup 3 s, 2 MB in 2 s, decisions of 10 and 30 us with QoE so far 1.0 then 2.5, no end.
/// Session `serve/c`: a start and nothing else. One chunk row without an index.
fn rows() -> Vec<EventRow> {
    let mut start = EventRow::new(RowKind::Other, "bench", "a");
    start.algorithm = Some("bb".into());
    start.video = Some("v".into());
    let mut end = EventRow::new(RowKind::SessionEnd, "bench", "a");
    end.qoe = Some(5.5);
    let mut no_index = chunk("bench", "a", 9, 300.0, 1, (0.0, 1.0), 0.0);
    no_index.chunk = None;
    vec![
        start,
        chunk("bench", "a", 2, 1200.0, 2000, (400.0, 600.0), 1.0),
        chunk("bench", "a", 0, 300.0, 1000, (0.0, 100.0), 0.5),
        chunk("bench", "a", 1, 750.0, 3000, (100.0, 400.0), 0.0),
        chunk("bench", "a", 3, 750.0, 2000, (600.0, 700.0), 2.0),
        end,
        no_index,
        decision("b", 1, 10.0, 1.0),
        chunk("serve", "b", 0, 4300.0, 1_000_000, (0.0, 1000.0), 3.0),
        chunk("serve", "b", 1, 4300.0, 1_000_000, (1000.0, 2000.0), 0.0),
        chunk("serve", "b", 1, 4300.0, 1_000_000, (1000.0, 2000.0), 0.0),
        decision("b", 2, 30.0, 2.5),
        EventRow::new(RowKind::Other, "serve", "c"),
    ]
}

fn close(a: Option<f64>, b: f64) {
    let a = a.expect("a value");
    assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} != {b}");
}

#[test]
fn sessions_match_hand_computed_numbers() {
    let e = evaluate(&rows(), &EvalConfig::default());
    assert_eq!(
        e.skipped,
        Skipped {
            sessions_without_chunks: 1,
            duplicate_chunks: 1,
            chunks_without_index: 1
        }
    );
    assert_eq!(e.sessions.len(), 2);
    let a = &e.sessions[0];
    assert_eq!((a.source.as_str(), a.session.as_str()), ("bench", "a"));
    assert_eq!((a.algorithm.as_str(), a.video.as_str()), ("bb", "v"));
    assert_eq!(a.chunks, 4);
    close(a.bitrate_mean_kbps, 750.0);
    close(a.startup_s, 0.5);
    assert_eq!((a.stall_s, a.stalls, a.play_s), (3.0, 2, 16.0));
    close(Some(a.buffering_ratio), 3.0 / 19.0);
    close(Some(a.stalls_per_hour), 7200.0 / 19.0);
    close(a.download_ms_mean, 175.0);
    close(a.throughput_kbps, 64_000.0 / 700.0);
    assert_eq!(a.network_class, "<1000 kbps");
    assert_eq!((a.decision_us_mean, a.decision_us_max), (None, None));
    close(a.qoe, 5.5);
    // Two stalls, mean length 1.5 s: 3.5 exp(-(0.225 + 0.19) 2) + 1.5 = 3.5 exp(-0.83) + 1.5.
    close(Some(a.mos), 3.5 * (-0.83f64).exp() + 1.5);
    assert!((a.mos - 3.026_172_502).abs() < 1e-9, "{}", a.mos);
    close(a.abandonment_pct, 0.0);
    assert_eq!((a.ssim_mean, a.vmaf_mean), (None, None));

    let b = &e.sessions[1];
    assert_eq!(
        (b.source.as_str(), b.algorithm.as_str()),
        ("serve", "robustmpc")
    );
    assert_eq!(b.video, UNKNOWN);
    assert_eq!((b.chunks, b.stalls, b.stall_s), (2, 0, 0.0));
    close(b.throughput_kbps, 8000.0);
    assert_eq!(b.network_class, ">=5000 kbps");
    close(b.decision_us_mean, 20.0);
    close(b.decision_us_max, 30.0);
    close(b.qoe, 2.5);
    assert_eq!(b.mos, 5.0);
    close(b.abandonment_pct, 5.8);
    // `bench/a` ended without a reason (a finished session), `serve/b` has no end yet.
    assert_eq!((a.end_reason.as_str(), a.abandoned()), (COMPLETED, false));
    assert_eq!((b.end_reason.as_str(), b.abandoned()), (UNKNOWN, false));
}

/// A served session with one chunk and `session_end` rows of `reasons` (`None`: no reason).
fn ended(session: &str, reasons: &[Option<&str>]) -> Vec<EventRow> {
    let mut rows = vec![chunk("serve", session, 0, 300.0, 1000, (0.0, 100.0), 0.0)];
    for r in reasons {
        let mut end = EventRow::new(RowKind::SessionEnd, "serve", session);
        end.end_reason = r.map(str::to_string);
        rows.push(end);
    }
    rows
}

#[test]
fn end_reasons_count_abandoned_sessions() {
    let rows: Vec<EventRow> = [
        ended("abandoned", &[Some("idle-timeout")]),
        ended("done", &[Some("completed")]),
        ended("v1-done", &[None]),
        ended("shutdown", &[Some("server-shutdown")]),
        ended("failed", &[Some("evicted")]),
        // Completed wins over any other end of the same id (a restarted session).
        ended("restarted", &[Some("idle-timeout"), Some("completed")]),
        ended("open", &[]),
    ]
    .concat();
    let e = evaluate(&rows, &EvalConfig::default());
    let reasons: Vec<(&str, &str, bool)> = e
        .sessions
        .iter()
        .map(|s| (s.session.as_str(), s.end_reason.as_str(), s.abandoned()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("abandoned", "idle-timeout", true),
            ("done", "completed", false),
            ("failed", "evicted", false),
            ("open", "unknown", false),
            ("restarted", "completed", false),
            ("shutdown", "server-shutdown", false),
            ("v1-done", "completed", false),
        ]
    );
    let all = e
        .groups
        .iter()
        .find(|g| g.algorithm == ALL && g.network_class == ALL);
    close(all.unwrap().abandoned_share, 1.0 / 7.0);
    let csv = sessions_csv(&e);
    assert!(csv
        .lines()
        .next()
        .unwrap()
        .ends_with(",satisfied,end_reason,abandoned"));
    assert!(csv.contains(",idle-timeout,1\n"), "{csv}");
    assert!(report_json(&e).contains("\"end_reason\": \"idle-timeout\", \"abandoned\": 1}"));
    assert!(groups_csv(&e)
        .lines()
        .next()
        .unwrap()
        .ends_with(",abandoned_share"));
    let md = report_markdown(&e, "test rows");
    assert!(
        md.contains("Session ends: 3 completed, 1 evicted, 1 idle-timeout (abandoned by the client), 1 server-shutdown, 1 unknown."),
        "{md}"
    );
    assert!(
        md.contains("| abandoned |") && md.contains("| 14.3% |"),
        "{md}"
    );
}

#[test]
fn groups_are_means_over_their_sessions() {
    let e = evaluate(&rows(), &EvalConfig::default());
    let keys: Vec<(&str, &str)> = e
        .groups
        .iter()
        .map(|g| (g.algorithm.as_str(), g.network_class.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("all", "<1000 kbps"),
            ("all", ">=5000 kbps"),
            ("all", "all"),
            ("bb", "<1000 kbps"),
            ("bb", "all"),
            ("robustmpc", ">=5000 kbps"),
            ("robustmpc", "all"),
        ]
    );
    let all = &e.groups[2];
    assert_eq!(all.sessions, 2);
    close(all.bitrate_mean_kbps, (750.0 + 4300.0) / 2.0);
    close(all.startup_s_mean, 1.75);
    close(all.buffering_ratio_mean, 3.0 / 19.0 / 2.0);
    close(all.decision_us_mean, 20.0);
    close(all.qoe_mean, 4.0);
    close(all.mos_mean, (3.5 * (-0.83f64).exp() + 1.5 + 5.0) / 2.0);
    close(all.satisfied_share, 0.5);
    close(all.abandonment_pct_mean, 2.9);
    assert_eq!(all.ssim_mean, None);
    let bb = &e.groups[4];
    assert_eq!((bb.sessions, bb.decision_us_mean), (1, None));
    close(bb.satisfied_share, 0.0);
}

#[test]
fn network_classes_take_the_lower_bound_inclusive() {
    let b = DEFAULT_CLASS_BOUNDS_KBPS;
    assert_eq!(network_class(Some(999.9), &b), "<1000 kbps");
    assert_eq!(network_class(Some(1000.0), &b), "1000-2500 kbps");
    assert_eq!(network_class(Some(4999.0), &b), "2500-5000 kbps");
    assert_eq!(network_class(Some(5000.0), &b), ">=5000 kbps");
    assert_eq!(network_class(None, &b), UNKNOWN);
    assert_eq!(network_class(Some(f64::NAN), &b), UNKNOWN);
    assert_eq!(network_class(Some(1.5), &[0.5]), ">=0.5 kbps");
    assert_eq!(
        class_order(&b),
        [
            "<1000 kbps",
            "1000-2500 kbps",
            "2500-5000 kbps",
            ">=5000 kbps",
            "unknown",
            "all"
        ]
    );
}

#[test]
fn config_is_checked_naming_the_flag() {
    EvalConfig::default().validate().unwrap();
    let c = EvalConfig {
        chunk_s: 0.0,
        ..EvalConfig::default()
    };
    assert!(c.validate().unwrap_err().contains("--chunk-s"));
    let mut c = EvalConfig {
        class_bounds_kbps: vec![2000.0, 1000.0],
        ..EvalConfig::default()
    };
    assert!(c.validate().unwrap_err().contains("--classes-kbps"));
    c.class_bounds_kbps = vec![];
    assert!(c.validate().unwrap_err().contains("--classes-kbps"));
}

#[test]
fn quality_scores_and_a_missing_chunk_zero() {
    let mut rows: Vec<EventRow> = (1..3)
        .map(|i| {
            let mut r = chunk("play", "q", i, 1000.0, 0, (0.0, 0.0), 0.5);
            r.ssim = Some(0.9 + 0.02 * f64::from(i));
            r.vmaf = Some(80.0);
            r
        })
        .collect();
    rows[0].size_bytes = None;
    let e = evaluate(&rows, &EvalConfig::default());
    let s = &e.sessions[0];
    close(s.ssim_mean, 0.93);
    close(s.vmaf_mean, 80.0);
    assert_eq!(s.startup_s, None, "no chunk 0, no startup delay");
    assert_eq!(s.abandonment_pct, None);
    assert_eq!(s.throughput_kbps, None, "no download time");
    assert_eq!(s.network_class, UNKNOWN);
    assert_eq!(s.stalls, 2);
}

#[test]
fn tables_and_json_carry_exact_numbers() {
    let e = evaluate(&rows(), &EvalConfig::default());
    let csv = sessions_csv(&e);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("source,session,algorithm,video,network_class,chunks,"));
    assert!(
        lines[1].contains(&format!(",{},", 3.0 / 19.0)),
        "{}",
        lines[1]
    );
    assert!(lines[2].starts_with("serve,b,robustmpc,unknown,>=5000 kbps,2,"));
    assert_eq!(groups_csv(&e).lines().count(), 8);
    let json = report_json(&e);
    assert!(json.contains(&format!("\"buffering_ratio\": {}", 3.0 / 19.0)));
    assert!(json.contains("\"decision_us_mean\": null"));
    assert!(json.contains("\"class_bounds_kbps\": [1000, 2500, 5000]"));
    assert!(json.contains("\"sessions_without_chunks\": 1"));
    let md = report_markdown(&e, "test rows");
    assert!(md.contains("| bb | 1 | 750 |"), "{md}");
    assert!(md.contains("| robustmpc @ >=5000 kbps | 1 |"), "{md}");
    assert!(md.contains("Hoßfeld") && md.contains("Krishnan"), "{md}");
    assert!(md.contains("1 sessions without a chunk"), "{md}");
}

#[test]
fn names_are_escaped_in_json_and_csv() {
    let mut r = chunk("play", "a\"b,c\n", 0, 1.0, 1, (0.0, 1.0), 0.0);
    r.algorithm = Some("x\\y".into());
    let e = evaluate(&[r], &EvalConfig::default());
    let json = report_json(&e);
    assert!(json.contains(r#""session": "a\"b,c\n""#), "{json}");
    assert!(json.contains(r#""algorithm": "x\\y""#), "{json}");
    assert!(sessions_csv(&e).contains("\"a\"\"b,c\n\""));
}

#[test]
fn files_are_written_and_empty_input_does_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let e = evaluate(&rows(), &EvalConfig::default());
    let paths = write_report(&e, dir.path(), "test").unwrap();
    for name in [
        "sessions.csv",
        "groups.csv",
        "report.json",
        "report.md",
        "satisfaction_cdf.png",
        "satisfaction_cdf.svg",
        "buffering_cdf.svg",
        "satisfied_by_class.png",
    ] {
        let p = dir.path().join(name);
        assert!(paths.contains(&p), "{name} not returned");
        assert!(std::fs::metadata(&p).unwrap().len() > 0, "{name} empty");
    }
    let empty = evaluate(&[], &EvalConfig::default());
    assert!(empty.sessions.is_empty() && empty.groups.is_empty());
    write_report(&empty, &dir.path().join("empty"), "nothing").unwrap();
}

#[test]
fn quality_comes_from_the_video_at_the_level_and_chunk_played() {
    use neuralstream_core::video::QualityTable;
    use neuralstream_core::Ladder;
    let ssim = QualityTable {
        metric: "ssim".into(),
        scores: (0..6)
            .map(|l| {
                (0..3)
                    .map(|c| 0.8 + 0.02 * l as f64 + 0.001 * c as f64)
                    .collect()
            })
            .collect(),
    };
    let video = Video::new(
        "q",
        4.0,
        Ladder::pensieve(),
        vec![vec![1000; 3]; 6],
        vec![ssim],
    )
    .unwrap();
    let mut rows: Vec<EventRow> = (0..4)
        .map(|c| {
            let mut r = chunk("play", "s", c, 300.0, 1, (0.0, 1.0), 0.0);
            r.level = Some(c);
            r
        })
        .collect();
    attach_quality(&mut rows, &video);
    assert_eq!(rows[2].ssim, Some(0.8 + 0.04 + 0.002));
    assert_eq!(rows[3].ssim, None, "chunk 3 is past the table");
    assert!(rows.iter().all(|r| r.vmaf.is_none()));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Chunk rows of a few sessions: (session, chunk, bitrate, bytes, download ms, stall s).
    fn sessions() -> impl Strategy<Value = Vec<EventRow>> {
        proptest::collection::vec(
            (
                0u8..4,
                0u32..20,
                0.0f64..10_000.0,
                0u64..5_000_000,
                0.0f64..10_000.0,
                prop_oneof![Just(0.0), 0.0f64..30.0],
            ),
            0..60,
        )
        .prop_map(|chunks| {
            chunks
                .into_iter()
                .map(|(s, c, kbps, bytes, ms, stall)| {
                    let mut r = chunk(
                        "play",
                        &format!("s{s}"),
                        c,
                        kbps,
                        bytes,
                        (5.0, 5.0 + ms),
                        stall,
                    );
                    r.algorithm = Some(format!("algo{}", s % 2));
                    r
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn metrics_stay_in_their_ranges_and_groups_count_every_session(rows in sessions()) {
            let e = evaluate(&rows, &EvalConfig::default());
            for s in &e.sessions {
                prop_assert!((0.0..1.0).contains(&s.buffering_ratio), "{}", s.buffering_ratio);
                prop_assert!(s.stalls_per_hour >= 0.0 && s.stalls_per_hour.is_finite());
                prop_assert!((satisfaction::MOS_FLOOR..=5.0).contains(&s.mos), "{}", s.mos);
                prop_assert!(s.abandonment_pct.is_none_or(|a| (0.0..=100.0).contains(&a)));
                prop_assert!(s.stalls <= s.chunks && s.play_s > 0.0);
                prop_assert!(s.throughput_kbps.is_none_or(|t| t.is_finite() && t >= 0.0));
            }
            let all = e.groups.iter().find(|g| g.algorithm == ALL && g.network_class == ALL);
            prop_assert_eq!(all.map_or(0, |g| g.sessions), e.sessions.len());
            let per_algorithm: usize = e.groups.iter()
                .filter(|g| g.algorithm != ALL && g.network_class == ALL)
                .map(|g| g.sessions)
                .sum();
            prop_assert_eq!(per_algorithm, e.sessions.len());
            let per_class: usize = e.groups.iter()
                .filter(|g| g.algorithm == ALL && g.network_class != ALL)
                .map(|g| g.sessions)
                .sum();
            prop_assert_eq!(per_class, e.sessions.len());
            let kept: usize = e.sessions.iter().map(|s| s.chunks).sum();
            prop_assert_eq!(kept + e.skipped.duplicate_chunks, rows.len());
        }

        #[test]
        fn row_order_does_not_matter_without_repeats(rows in sessions(), seed in 0u64..1000) {
            let mut seen = std::collections::HashSet::new();
            let unique: Vec<EventRow> = rows
                .into_iter()
                .filter(|r| seen.insert((r.session.clone(), r.chunk)))
                .collect();
            let mut shuffled = unique.clone();
            let n = shuffled.len();
            for i in 0..n {
                let j = (i as u64 * 7919 + seed) as usize % n;
                shuffled.swap(i, j);
            }
            let a = evaluate(&unique, &EvalConfig::default());
            let b = evaluate(&shuffled, &EvalConfig::default());
            prop_assert_eq!(a.sessions, b.sessions);
        }
    }
}
