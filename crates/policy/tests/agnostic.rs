//! The ladder-agnostic policy (feature layout 2, and 3 with rule hints): it plays ladders of 2 to 16
//! levels with one network, its file says its layout, fixed-ladder files still load, and bad input
//! (a ladder out of range, an unknown layout, NaN in an input) is an error that names it, never a
//! panic.

mod support;
use neuralstream_abr::{bba0::Bba0, mpc::Mpc};
use neuralstream_core::video::Ladder;
use neuralstream_core::{Abr, ChunkRecord, Observation, Video};
use neuralstream_data::synthetic::synthetic_video;
use neuralstream_nn::{Activation, Mlp};
use neuralstream_policy::agnostic::{rule_hints, HINTS_PER_LEVEL, PER_LEVEL};
use neuralstream_policy::{
    AgnosticAbr, AgnosticSpec, FeatureError, FeatureSpec, LearnedAbr, Policy, PolicyMeta,
};
use proptest::prelude::*;
use support::play;

fn ladder(levels: usize, bottom_kbps: f64, top_kbps: f64) -> Ladder {
    let kbps: Vec<f64> = (0..levels)
        .map(|i| {
            let f = if levels == 1 {
                1.0
            } else {
                i as f64 / (levels - 1) as f64
            };
            bottom_kbps * (top_kbps / bottom_kbps).powf(f)
        })
        .collect();
    Ladder::from_kbps(&kbps)
}

fn video(levels: usize, top_kbps: f64, chunk_s: f64) -> Video {
    synthetic_video(
        "v",
        &ladder(levels, top_kbps / 20.0, top_kbps),
        30,
        chunk_s,
        5,
    )
}

fn policy(seed: u64) -> AgnosticAbr {
    policy_of(AgnosticSpec::default(), seed)
}

fn policy_of(spec: AgnosticSpec, seed: u64) -> AgnosticAbr {
    let actor = Mlp::new(&[spec.row_len(), 32, 32, 1], Activation::Relu, seed);
    AgnosticAbr::new(
        actor,
        spec,
        PolicyMeta {
            qoe: "lin".into(),
            seed: Some(seed),
            ..PolicyMeta::default()
        },
    )
}

fn rec(level: usize, size_bytes: u64, delay_ms: f64) -> ChunkRecord {
    ChunkRecord {
        level,
        size_bytes,
        delay_ms,
        ..ChunkRecord::default()
    }
}

fn obs<'a>(video: &'a Video, history: &'a [ChunkRecord], buffer_s: f64) -> Observation<'a> {
    Observation {
        video,
        next_chunk: history.len(),
        total_chunks: video.num_chunks(),
        buffer_s,
        last_level: history.last().map_or(0, |r| r.level),
        history,
    }
}

#[test]
fn rows_share_the_context_and_describe_each_level() {
    let v = video(4, 4000.0, 2.0);
    let spec = AgnosticSpec::default();
    // 2 Mbit/s measured twice: 500 000 bytes in 2 s.
    let history = [rec(1, 500_000, 2000.0), rec(2, 500_000, 2000.0)];
    let mut rows = Vec::new();
    let levels = spec.write(&obs(&v, &history, 8.0), &mut rows).unwrap();
    assert_eq!(levels, 4);
    let (c, r) = (spec.context_len(), spec.row_len());
    assert_eq!(r, c + PER_LEVEL);
    assert_eq!(rows.len(), 4 * r);
    for l in 1..4 {
        assert_eq!(rows[..c], rows[l * r..l * r + c], "context of level {l}");
    }
    let h = spec.history_len;
    // Newest throughput, right-aligned: ln(2 Mbit/s); older entries missing (mask 0).
    assert!((rows[h - 1] - 2f32.ln()).abs() < 1e-6);
    assert_eq!(rows[4 * h - 1], 1.0); // delay / chunk duration = 2 s / 2 s
    assert_eq!(&rows[4 * h..5 * h], &[0., 0., 0., 0., 0., 0., 1., 1.]);
    // Level parts: bitrate relative to the last level's (2) and the switch distance.
    for l in 0..4 {
        let p = &rows[l * r + c..(l + 1) * r];
        let ratio = v.ladder.kbps(l) / v.ladder.kbps(2);
        assert!((p[2] as f64 - ratio.ln()).abs() < 1e-5, "level {l}");
        assert_eq!(p[3], (l as f32 - 2.0) / 4.0);
        assert_eq!(p[9], if l == 2 { 1.0 } else { 0.0 });
        // Download time at 2 Mbit/s over the 2 s chunk.
        let dl_s = v.chunk_bytes[l][2] as f64 * 8.0 / 2e6;
        assert!((p[0] as f64 - dl_s / 2.0).abs() < 1e-4, "level {l}");
    }
}

#[test]
fn a_fast_network_on_a_fast_ladder_stays_in_range() {
    // 80 Mbit/s measured on a 100 Mbit/s ladder: log scales, nothing clamped to a wall.
    let v = video(6, 100_000.0, 4.0);
    let history = [rec(5, 40_000_000, 4000.0)];
    let mut rows = Vec::new();
    AgnosticSpec::default()
        .write(&obs(&v, &history, 20.0), &mut rows)
        .unwrap();
    let h = AgnosticSpec::default().history_len;
    assert!((rows[h - 1] - 80f32.ln()).abs() < 1e-5);
    assert!(rows.iter().all(|x| x.is_finite() && x.abs() <= 10.0));
}

#[test]
fn one_network_plays_every_ladder_size_and_round_trips_through_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agnostic.safetensors");
    let mut a = policy(7);
    a.save(&path).unwrap();
    let mut b = Policy::load(&path).unwrap();
    assert!(matches!(b, Policy::Agnostic(_)));
    assert_eq!(b.meta(), a.meta());
    for levels in [2, 5, 10, 16] {
        let v = video(levels, 8000.0, 4.0);
        assert!(b.fits_levels(levels) && b.check_video(&v).is_ok());
        let played = play(&mut a, &v, 3);
        assert!(played.iter().all(|&l| l < levels));
        assert_eq!(played, play(&mut b, &v, 3), "{levels} levels");
    }
}

#[test]
fn fixed_ladder_files_still_load_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fixed.safetensors");
    let spec = FeatureSpec::new(6);
    let mut fixed = LearnedAbr::new(
        Mlp::new(&[spec.len(), 16, 6], Activation::Relu, 2),
        spec,
        PolicyMeta::default(),
    );
    fixed.save(&path).unwrap();
    let mut loaded = Policy::load(&path).unwrap();
    assert!(matches!(loaded, Policy::Fixed(_)));
    let v = synthetic_video("p", &Ladder::pensieve(), 30, 4.0, 1);
    assert_eq!(play(&mut fixed, &v, 3), play(&mut loaded, &v, 3));
    let other = video(5, 5000.0, 4.0);
    let e = loaded.check_video(&other).unwrap_err();
    assert!(e.contains("6 levels") && e.contains("has 5"), "{e}");
    // The fixed-ladder loader refuses a ladder-agnostic file and says how to load it.
    let agnostic = dir.path().join("agnostic.safetensors");
    policy(1).save(&agnostic).unwrap();
    let e = LearnedAbr::load(&agnostic).unwrap_err().to_string();
    assert!(
        e.contains("agnostic.safetensors") && e.contains("Policy::load"),
        "{e}"
    );
}

#[test]
fn ladders_of_one_level_or_over_sixteen_are_refused_by_name() {
    let p = Policy::Agnostic(policy(1));
    for levels in [1, 17] {
        let v = video(levels, 4000.0, 4.0);
        let e = p.check_video(&v).unwrap_err();
        assert!(e.contains("2 to 16 levels") && e.contains("'v'"), "{e}");
        let mut rows = Vec::new();
        let e = AgnosticSpec::default()
            .write(&obs(&v, &[], 0.0), &mut rows)
            .unwrap_err();
        assert_eq!(
            e,
            FeatureError::Levels {
                video: "v".into(),
                levels
            }
        );
        // Played anyway, it falls back to the lowest level instead of panicking.
        let mut a = policy(1);
        assert_eq!(a.choose(&obs(&v, &[], 0.0)).level, 0);
    }
}

#[test]
fn nan_inputs_are_named_not_propagated() {
    let v = video(4, 4000.0, 4.0);
    let spec = AgnosticSpec::default();
    let mut rows = Vec::new();
    let e = spec.write(&obs(&v, &[], f64::NAN), &mut rows).unwrap_err();
    assert!(e.to_string().contains("buffer_s"), "{e}");
    let history = [rec(0, 100_000, 500.0), rec(0, 100_000, f64::NAN)];
    let e = spec.write(&obs(&v, &history, 4.0), &mut rows).unwrap_err();
    assert!(e.to_string().contains("history[1].delay_ms"), "{e}");
    let mut a = policy(3);
    assert_eq!(a.choose(&obs(&v, &history, 4.0)).level, 0);
}

#[test]
fn unknown_or_broken_layouts_are_refused_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.safetensors");
    let good = policy(1);
    let cases = [
        (
            r#"{"version":4,"history_len":8}"#,
            "unknown feature layout version 4",
        ),
        (
            r#"{"history_len":8}"#,
            "unknown feature layout version (none)",
        ),
        (
            r#"{"version":2,"history_len":8,"buffer_scale_s":60.0,"predict_chunks":9}"#,
            "predict_chunks",
        ),
        (
            r#"{"version":2,"history_len":8,"buffer_scale_s":NaN,"predict_chunks":5}"#,
            "learn.feature_spec",
        ),
        (
            r#"{"version":2,"history_len":4,"buffer_scale_s":60.0,"predict_chunks":3}"#,
            "needs a network of",
        ),
    ];
    for (json, needle) in cases {
        let mut md = neuralstream_policy::policy_metadata(&FeatureSpec::new(1), good.meta());
        md.insert(neuralstream_policy::META_FEATURES.into(), json.into());
        neuralstream_nn::save_safetensors(&path, &[("actor", good.actor())], None, &md).unwrap();
        let e = Policy::load(&path).unwrap_err().to_string();
        assert!(
            e.contains(needle) && e.contains("future.safetensors"),
            "{needle}: {e}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any ladder of 2 to 16 levels, chunks of 1 to 10 s and a top of 0.3 to 100 Mbit/s, any
    /// history: finite features within their clamps, and a level of the ladder.
    #[test]
    fn every_supported_ladder_gives_finite_features_and_a_valid_level(
        levels in 2usize..=16,
        chunk_s in 1.0f64..10.0,
        top_mbps in 0.3f64..100.0,
        delays in proptest::collection::vec(0.0f64..60_000.0, 0..12),
        buffer_s in 0.0f64..120.0,
        last in 0usize..16,
    ) {
        let v = video(levels, top_mbps * 1000.0, chunk_s);
        let level = last.min(levels - 1);
        let history: Vec<ChunkRecord> = delays
            .iter()
            .enumerate()
            .map(|(i, &d)| rec(level, v.chunk_bytes[level][i], d))
            .collect();
        let o = obs(&v, &history, buffer_s);
        let mut rows = Vec::new();
        let n = AgnosticSpec::default().write(&o, &mut rows).unwrap();
        prop_assert_eq!(n, levels);
        prop_assert!(rows.iter().all(|x| x.is_finite() && x.abs() <= 10.0), "{:?}", rows);
        let mut a = policy(9);
        prop_assert!(a.choose(&o).level < levels);
        let n = AgnosticSpec::with_rule_hints().write(&o, &mut rows).unwrap();
        prop_assert_eq!(n, levels);
        prop_assert!(rows.iter().all(|x| x.is_finite() && x.abs() <= 10.0), "{:?}", rows);
        let mut hinted = policy_of(AgnosticSpec::with_rule_hints(), 9);
        prop_assert!(hinted.choose(&o).level < levels);
    }

    /// Layout 3's RobustMPC hint replays only the last downloads into a fresh controller: it is
    /// the choice of a controller that saw the whole session, at any point of any session.
    #[test]
    fn the_rule_hints_are_the_rules_own_choices(
        levels in 2usize..=12,
        top_mbps in 0.5f64..40.0,
        steps in proptest::collection::vec((0usize..12, 50.0f64..20_000.0, 0.0f64..60.0), 0..30),
    ) {
        let v = video(levels, top_mbps * 1000.0, 4.0);
        let history: Vec<ChunkRecord> = steps
            .iter()
            .enumerate()
            .map(|(i, &(l, d, _))| rec(l.min(levels - 1), v.chunk_bytes[l.min(levels - 1)][i], d))
            .collect();
        let mut whole = Mpc::robust();
        for n in 0..=history.len() {
            let buffer_s = steps.get(n).map_or(10.0, |s| s.2);
            let o = obs(&v, &history[..n], buffer_s);
            // The controller bench plays sees every observation of the session in order.
            let expected_mpc = whole.choose(&o).level;
            let expected_bba = Bba0::default().choose(&o).level;
            prop_assert_eq!(rule_hints(&o), (expected_mpc, expected_bba), "after {} downloads", n);
        }
    }
}

#[test]
fn layout_3_marks_the_rules_choices_and_round_trips_through_its_file() {
    let v = video(6, 6000.0, 4.0);
    let spec = AgnosticSpec::with_rule_hints();
    assert_eq!(spec.version, neuralstream_policy::AGNOSTIC_HINTS_VERSION);
    // Six downloads at about 2 Mbit/s and a 30 s buffer: RobustMPC and BBA-0 both choose.
    let history: Vec<ChunkRecord> = (0..6)
        .map(|i| {
            rec(
                2,
                v.chunk_bytes[2][i],
                v.chunk_bytes[2][i] as f64 * 8.0 / 2000.0,
            )
        })
        .collect();
    let o = obs(&v, &history, 30.0);
    let (mpc, bba) = rule_hints(&o);
    let mut rows = Vec::new();
    assert_eq!(spec.write(&o, &mut rows).unwrap(), 6);
    let (c, r) = (spec.context_len(), spec.row_len());
    assert_eq!(r, c + PER_LEVEL + HINTS_PER_LEVEL);
    // Layout 2's part is unchanged by the hints.
    let mut plain = Vec::new();
    AgnosticSpec::default().write(&o, &mut plain).unwrap();
    let r2 = AgnosticSpec::default().row_len();
    for l in 0..6 {
        assert_eq!(
            rows[l * r..l * r + c + PER_LEVEL],
            plain[l * r2..(l + 1) * r2]
        );
        let hint = &rows[l * r + c + PER_LEVEL..(l + 1) * r];
        assert_eq!(hint[0], if l == mpc { 1.0 } else { 0.0 }, "level {l}");
        assert_eq!(hint[1], (l as f32 - mpc as f32) / 4.0, "level {l}");
        assert_eq!(hint[2], if l == bba { 1.0 } else { 0.0 }, "level {l}");
        assert_eq!(hint[3], (l as f32 - bba as f32) / 4.0, "level {l}");
    }
    // The file says layout 3, loads as such and plays the same levels.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hinted.safetensors");
    let mut a = policy_of(spec.clone(), 3);
    a.save(&path).unwrap();
    let Policy::Agnostic(mut b) = Policy::load(&path).unwrap() else {
        panic!("a layout 3 file loads as a ladder-agnostic policy")
    };
    assert_eq!(b.spec(), &spec);
    for levels in [2, 10, 16] {
        let v = video(levels, 8000.0, 4.0);
        assert_eq!(play(&mut a, &v, 3), play(&mut b, &v, 3), "{levels} levels");
    }
}
