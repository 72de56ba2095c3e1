//! Online training through the real server (`serve --rt-train`, issue 21's bar): simulated
//! senders (rt's simulator, its controller answered over the WebSocket) stream minutes of
//! simulated time at full speed; the serving policy's validation score after is higher than the
//! deliberately weak one it started from, and a deliberately broken update is never swapped in
//! and is counted as rejected.

use futures_util::{SinkExt, StreamExt};
use neuralstream_nn::Mlp;
use neuralstream_rt::dataset::{DecisionMessage, IntervalReport};
use neuralstream_rt::dqn::DqnModel;
use neuralstream_rt::online::{
    fixed_action_model, pin_action, read_checkpoint_info, OnlineConfig, UpdateHook, CANDIDATE_FILE,
    POLICY_FILE,
};
use neuralstream_rt::{Controller, Decision, Feedback, LinkTrace, RtConfig};
use neuralstream_server::rt_train::{RtTrainConfig, RtTrainer};
use neuralstream_server::rt_ws::{RtLimits, RtServeConfig};
use neuralstream_server::{Running, ServerConfig, TlsMode};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A server with `gcc` and the model at `model` as `learned`, training it into `dir`.
async fn start(model: &Path, dir: &Path, hook: Option<UpdateHook>) -> Running {
    let mut cfg = ServerConfig::new(Vec::new(), vec!["bb".into()]);
    cfg.tls = TlsMode::Insecure;
    cfg.port = 0;
    cfg.rt = RtServeConfig {
        controllers: vec!["gcc".into(), format!("learned:{}", model.display())],
        dataset_dir: None,
        // Simulated senders run far faster than real time.
        limits: RtLimits {
            max_reports_per_s: 1e6,
            burst: 1e6,
            ..RtLimits::default()
        },
    };
    let mut train = RtTrainConfig::new(dir.to_path_buf());
    train.cpu_share = 1.0;
    train.epsilon = 0.3;
    train.online = OnlineConfig {
        learning_starts: 300,
        updates_per_transition: 1.0,
        evaluate_every: 400,
        target_update_every: 200,
        lr: 1e-3,
        after_update: hook,
        ..OnlineConfig::default()
    };
    cfg.rt_train = Some(train);
    neuralstream_server::start(cfg).await.unwrap()
}

fn trainer(server: &Running) -> &RtTrainer {
    server.state.rt.as_ref().unwrap().trainer().unwrap()
}

/// A simulated sender's controller: each report goes to the server, its answer is the decision.
struct Remote {
    ws: Ws,
    handle: tokio::runtime::Handle,
    seq: u64,
    applied: Decision,
}

impl Remote {
    fn answer(&mut self) -> Decision {
        let msg: DecisionMessage = self.handle.block_on(async {
            loop {
                match tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                    .await
                    .expect("an answer within 10 s")
                {
                    Some(Ok(Message::Text(t))) => break serde_json::from_str(t.as_str()).unwrap(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    other => panic!("expected a decision, got {other:?}"),
                }
            }
        });
        assert_eq!(msg.seq, self.seq);
        self.applied = msg.next.decision().expect("a valid height");
        self.applied
    }
}

impl Controller for Remote {
    fn name(&self) -> String {
        "remote".into()
    }
    fn start(&mut self, _source_fps: u32) -> Decision {
        self.answer()
    }
    fn on_feedback(&mut self, feedback: &Feedback) -> Decision {
        self.seq += 1;
        let report = IntervalReport::new(self.seq, feedback, &self.applied);
        let text = serde_json::to_string(&report).unwrap();
        self.handle
            .block_on(self.ws.send(Message::text(text)))
            .unwrap();
        self.answer()
    }
}

/// One simulated session over `link` at full speed; its number of reports.
async fn session(server: &Running, id: String, controller: &str, link: LinkTrace) -> u64 {
    let url = format!(
        "ws://{}/api/v1/rt/metrics?session={id}&controller={controller}&fps=60",
        server.addr
    );
    let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut remote = Remote {
            ws,
            handle,
            seq: 0,
            applied: Decision {
                target_bps: 1.0,
                resolution: neuralstream_rt::Resolution::P480,
                fps: 60,
            },
        };
        let cfg = RtConfig {
            duration_ms: link.duration_ms(),
            seed: id.len() as u64 * 31 + id.bytes().map(u64::from).sum::<u64>(),
            ..RtConfig::default()
        };
        neuralstream_rt::run_session(&link, &cfg, &mut remote).unwrap();
        let seq = remote.seq;
        remote.handle.block_on(remote.ws.close(None)).ok();
        seq
    })
    .await
    .unwrap()
}

/// Links the senders stream over (the validation scenario is the built-in one, not these).
fn links() -> Vec<LinkTrace> {
    let steps = [(7_000.0, 1500.0, 0.0, 50.0), (8_000.0, 4500.0, 0.0, 50.0)];
    vec![
        LinkTrace::constant(3000.0, 40.0, 15_000.0).unwrap(),
        LinkTrace::from_steps("up", "train", &steps).unwrap(),
    ]
}

/// A round: two learned sessions and one GCC session per link, concurrently; reports sent.
async fn round(server: &Running, round: usize) -> u64 {
    let mut tasks = Vec::new();
    for (i, link) in links().into_iter().enumerate() {
        for (j, controller) in ["learned", "learned", "gcc"].iter().enumerate() {
            let id = format!("r{round}-l{i}-{j}");
            tasks.push(session(server, id, controller, link.clone()));
        }
    }
    futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .sum()
}

/// Waits until the trainer has folded in `transitions` and its updates stop (it owes none).
async fn settle(server: &Running, transitions: u64) {
    let t = trainer(server);
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut last = (u64::MAX, 0);
    loop {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let now = (t.updates(), t.transitions());
        if now == last && now.1 >= transitions {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the trainer did not settle: {now:?}, expected {transitions} transitions"
        );
        last = now;
    }
}

async fn metrics(server: &Running) -> String {
    let mut out = String::new();
    server.state.rt.as_ref().unwrap().render(&mut out);
    out
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_sessions_train_a_policy_that_scores_higher_than_the_weak_start() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("weak.safetensors");
    // Always 480p, 30 fps, half of GCC's estimate: a deliberately weak, trainable start.
    fixed_action_model(0, 7).save(&model).unwrap();
    let ckpt = dir.path().join("online");
    let server = start(&model, &ckpt, None).await;
    let initial = trainer(&server).serving_score();
    let started = Instant::now();
    let (mut reports, mut sessions, mut simulated_s) = (0, 0, 0.0);
    for r in 0..5 {
        reports += round(&server, r).await;
        sessions += 6;
        simulated_s += 6.0 * 15.0;
        settle(&server, reports - sessions).await;
    }
    let text = metrics(&server).await;
    let t = trainer(&server);
    eprintln!(
        "{simulated_s} s simulated in {:.1} s: validation score {initial:.2} -> {:.2}, {} swaps, {} rejected, {} updates",
        started.elapsed().as_secs_f64(),
        t.serving_score(),
        t.swaps(),
        t.rejected(),
        t.updates()
    );
    assert!(
        simulated_s >= 6.0 * 60.0,
        "N live minutes of simulated time"
    );
    assert!(
        t.serving_score() > initial,
        "serving {} vs start {initial}",
        t.serving_score()
    );
    assert!(t.swaps() >= 1);
    assert_eq!(
        metric(&text, "neuralstream_rt_train_transitions_total"),
        (reports - sessions) as f64
    );
    assert_eq!(
        metric(&text, "neuralstream_rt_train_records_dropped_total"),
        0.0
    );
    assert_eq!(
        metric(&text, "neuralstream_rt_train_swaps_total"),
        t.swaps() as f64
    );
    assert_eq!(
        metric(
            &text,
            "neuralstream_rt_train_validation_score{policy=\"serving\"}"
        ),
        t.serving_score()
    );
    assert!(metric(&text, "neuralstream_rt_train_updates_total") >= 1000.0);
    assert!(metric(&text, "neuralstream_rt_train_busy_seconds_total") > 0.0);
    // The serving policy is on disk, whole, with its score.
    let served = DqnModel::load(&ckpt.join(POLICY_FILE)).unwrap();
    assert_eq!(served.meta.validation_onl_qoe, t.serving_score());
    let serving = t.serving();
    assert_eq!(served.q.named_params(), serving.q.named_params());
    assert!(
        read_checkpoint_info(&ckpt.join(POLICY_FILE))
            .unwrap()
            .accepted
    );
    assert!(ckpt.join(CANDIDATE_FILE).exists());
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_update_is_not_swapped_in_and_is_counted_as_rejected() {
    // Serving: 480p, 30 fps at GCC's own bitrate; every update is then broken.
    let breaks: [(&str, UpdateHook); 2] = [
        (
            "nan",
            UpdateHook(Arc::new(|q: &mut Mlp| {
                q.visit_params_mut(&mut |_, p, _| p[0] = f32::NAN)
            })),
        ),
        (
            "lowest",
            UpdateHook(Arc::new(|q: &mut Mlp| pin_action(q, 0))),
        ),
    ];
    for (name, hook) in breaks {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("gcc-like.safetensors");
        fixed_action_model(3, 7).save(&model).unwrap();
        let ckpt = dir.path().join("online");
        let server = start(&model, &ckpt, Some(hook)).await;
        let t = trainer(&server);
        let (before, serving) = (t.serving_score(), t.serving());
        let mut reports = round(&server, 0).await;
        reports += round(&server, 1).await;
        settle(&server, reports - 12).await;
        let text = metrics(&server).await;
        assert!(t.rejected() >= 1, "{name}: no evaluation\n{text}");
        assert_eq!(t.swaps(), 0, "{name}: a broken update was swapped in");
        assert_eq!(metric(&text, "neuralstream_rt_train_swaps_total"), 0.0);
        assert_eq!(
            metric(&text, "neuralstream_rt_train_rejected_total"),
            t.rejected() as f64
        );
        assert_eq!(
            metric(&text, "neuralstream_rt_train_evaluations_total"),
            t.rejected() as f64
        );
        assert!(Arc::ptr_eq(&t.serving(), &serving), "{name}");
        assert_eq!(t.serving_score(), before);
        assert!(!ckpt.join(POLICY_FILE).exists(), "{name}");
        let candidate = metric(
            &text,
            "neuralstream_rt_train_validation_score{policy=\"candidate\"}",
        );
        if name == "nan" {
            assert!(candidate.is_nan(), "a NaN network is never played");
        } else {
            assert!(candidate < before, "{candidate} vs {before}");
        }
        server.shutdown(Duration::from_secs(1)).await;
    }
}
