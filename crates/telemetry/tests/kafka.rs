//! The Kafka sink and consumer against a real broker (tansu, memory storage; skipped without
//! one unless NEURALSTREAM_REQUIRE_KAFKA=1).

mod support {
    pub mod tansu;
}

use neuralstream_telemetry::{
    consume, ConsumeOptions, Event, EventKind, KafkaTarget, ParquetLayout, SinkOptions, Source,
    Target, Telemetry,
};
use std::collections::HashSet;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
use support::tansu::Broker;

fn events(n: u32, session_prefix: &str) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let mut e = Event::new(
                EventKind::Chunk,
                Source::Bench,
                1_765_000_000_000 + i64::from(i),
                format!("{session_prefix}{}", i % 97),
            );
            e.chunk = Some(i);
            e.size_bytes = Some(1000 + u64::from(i));
            e.buffer_s = Some(4.0);
            e
        })
        .collect()
}

fn send(target: &Target, events: &[Event]) -> neuralstream_telemetry::Stats {
    let options = SinkOptions {
        queue_events: events.len() + 1,
        ..SinkOptions::default()
    };
    let t = Telemetry::start(target, options).unwrap();
    let h = t.handle();
    for e in events {
        h.emit(e.clone());
    }
    t.finish().unwrap()
}

fn consume_all(
    source: &KafkaTarget,
    out: &std::path::Path,
) -> neuralstream_telemetry::ConsumeStats {
    let mut o = ConsumeOptions::new(source.clone(), out);
    o.idle_exit = Some(Duration::from_secs(2));
    o.batch_events = 3000;
    consume(&o, &AtomicBool::new(false)).unwrap()
}

#[test]
fn topic_to_parquet_exactly_once_across_reruns_and_a_broker_restart() {
    let Some(mut broker) = Broker::start() else {
        return;
    };
    broker.create_topic("tel", 2);
    let source = KafkaTarget::parse(&format!("kafka://{}/tel", broker.addr())).unwrap();
    let target = Target::Kafka(source.clone());
    let first = events(5000, "a");
    let stats = send(&target, &first);
    assert_eq!(
        (stats.written, stats.dropped, stats.failed),
        (5000, 0, 0),
        "{stats:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let c = consume_all(&source, dir.path());
    assert_eq!((c.written, c.duplicates, c.rejected), (5000, 0, 0), "{c:?}");
    // A second run reads nothing new.
    let c = consume_all(&source, dir.path());
    assert_eq!(c.written, 0, "{c:?}");

    // The broker restarts with an empty log; a producer that retained its events sends them
    // again with new ones; the consumer notices the new log and skips what it already wrote.
    broker.restart();
    broker.create_topic("tel", 2);
    let mut all = first.clone();
    let second = events(3000, "b");
    all.extend(second.iter().cloned());
    // The new log holds the old events again (as a retaining producer re-sends them) and new ones.
    let stats = send(&target, &all);
    assert_eq!(stats.failed, 0, "{stats:?}");
    let c = consume_all(&source, dir.path());
    assert_eq!(c.written, 3000, "{c:?}");
    assert_eq!(c.duplicates, 5000, "{c:?}");
    assert!(c.log_resets >= 1, "{c:?}");

    let rows = ParquetLayout::new(dir.path()).read_all().unwrap();
    assert_eq!(rows.len(), all.len());
    let got: HashSet<_> = rows.iter().map(Event::key).collect();
    let want: HashSet<_> = all.iter().map(Event::key).collect();
    assert_eq!(got, want);
}

#[test]
fn records_of_another_version_or_garbage_are_counted_not_written() {
    let Some(broker) = Broker::start() else {
        return;
    };
    broker.create_topic("mixed", 1);
    let source = KafkaTarget::parse(&format!("kafka://{}/mixed", broker.addr())).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use rskafka::client::{
            partition::{Compression, UnknownTopicHandling},
            ClientBuilder,
        };
        let client = ClientBuilder::new(vec![broker.addr()])
            .build()
            .await
            .unwrap();
        let p = client
            .partition_client("mixed", 0, UnknownTopicHandling::Retry)
            .await
            .unwrap();
        let good = events(3, "g");
        let mut records: Vec<_> = good
            .iter()
            .map(|e| neuralstream_telemetry::kafka::to_record(e, 7))
            .collect();
        let mut other = records[0].clone();
        other.headers.insert("v".into(), b"9".to_vec());
        let mut garbage = records[0].clone();
        garbage.value = Some(b"{not json".to_vec());
        let mut nan = records[0].clone();
        nan.value =
            Some(br#"{"kind":"chunk","source":"serve","time_ms":-1,"session":"x"}"#.to_vec());
        records.extend([other, garbage, nan]);
        p.produce(records, Compression::NoCompression)
            .await
            .unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let c = consume_all(&source, dir.path());
    assert_eq!((c.records, c.written, c.rejected), (6, 3, 3), "{c:?}");
}
