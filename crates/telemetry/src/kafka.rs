//! Kafka transport: the `kafka://HOST:PORT/TOPIC` target, the record form of an event, and the
//! producer that the sink's worker drives.
//!
//! Broker-agnostic by construction: only produce, fetch, list offsets, metadata and create-topic
//! requests (what `rskafka` speaks), one record per event, the session id as the record key.
//! Against Apache Kafka in production: `acks=all` (rskafka's produce always waits for all
//! in-sync replicas), replication factor 3 with `min.insync.replicas=2`, partitions by session
//! (the key), so one session's events stay ordered in one partition.
//!
//! **A log that vanishes.** A broker whose log does not survive a restart (tansu with memory
//! storage, as in CI) hands out offsets from 0 again. The producer notices (a produce answered
//! with an offset below the one it expected), and re-sends the events it retains (the last
//! `retain_events` it produced per partition); the consumer notices too (the record before its
//! offset is not the one it committed) and starts the partition again from its earliest offset,
//! de-duplicating what it already wrote. What the broker acknowledged and lost beyond the retained
//! window is lost: a durable broker (Kafka's replicated log) is the production answer.

use crate::error::TelemetryError;
use crate::event::{Event, SCHEMA_VERSION};
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;
use rskafka::BackoffConfig;
use std::collections::{BTreeMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::time::Duration;

/// Record header holding the schema version.
pub const VERSION_HEADER: &str = "v";

/// Record header holding the producer's log epoch (new at start and after each log reset).
pub const EPOCH_HEADER: &str = "epoch";

/// A Kafka topic on a broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaTarget {
    /// `HOST:PORT` of a bootstrap broker.
    pub broker: String,
    /// Topic name.
    pub topic: String,
}

impl std::fmt::Display for KafkaTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "kafka://{}/{}", self.broker, self.topic)
    }
}

impl KafkaTarget {
    /// Parses `kafka://HOST:PORT/TOPIC`.
    pub fn parse(spec: &str) -> Result<Self, TelemetryError> {
        let bad = |problem: &str| TelemetryError::BadTarget {
            spec: spec.to_string(),
            problem: problem.to_string(),
        };
        let rest = spec
            .strip_prefix("kafka://")
            .ok_or_else(|| bad("does not start with kafka://"))?;
        let (broker, topic) = rest
            .split_once('/')
            .ok_or_else(|| bad("no /TOPIC after the broker"))?;
        let (host, port) = broker
            .rsplit_once(':')
            .ok_or_else(|| bad("the broker has no :PORT"))?;
        if host.is_empty() || port.parse::<u16>().is_err() {
            return Err(bad(
                "the broker must be HOST:PORT with a port from 1 to 65535",
            ));
        }
        let topic_ok = !topic.is_empty()
            && topic.len() <= 249
            && topic
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !topic_ok {
            return Err(bad("the topic must be 1 to 249 of [A-Za-z0-9._-]"));
        }
        Ok(KafkaTarget {
            broker: broker.to_string(),
            topic: topic.to_string(),
        })
    }

    pub(crate) fn error(&self, action: &'static str, e: impl std::fmt::Display) -> TelemetryError {
        TelemetryError::Kafka {
            target: self.to_string(),
            action,
            message: e.to_string(),
        }
    }

    /// A client with a bounded retry inside rskafka (the callers retry on their own terms).
    pub(crate) async fn connect(&self) -> Result<Client, TelemetryError> {
        let backoff = BackoffConfig {
            init_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(500),
            base: 2.0,
            deadline: Some(Duration::from_secs(2)),
        };
        let build = ClientBuilder::new(vec![self.broker.clone()])
            .client_id("neuralstream-telemetry")
            .backoff_config(backoff)
            .build();
        match tokio::time::timeout(Duration::from_secs(5), build).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(self.error("connecting", e)),
            Err(_) => Err(self.error("connecting", "no answer within 5 s")),
        }
    }

    /// The topic's partition count, creating the topic with `create_partitions` when it is
    /// missing and `create_partitions > 0`.
    pub(crate) async fn partitions(
        &self,
        client: &Client,
        create_partitions: i32,
    ) -> Result<i32, TelemetryError> {
        for attempt in 0..2 {
            let topics = client
                .list_topics()
                .await
                .map_err(|e| self.error("listing topics", e))?;
            if let Some(t) = topics.iter().find(|t| t.name == self.topic) {
                if !t.partitions.is_empty() {
                    return Ok(t.partitions.len() as i32);
                }
            }
            if create_partitions <= 0 || attempt > 0 {
                break;
            }
            let controller = client
                .controller_client()
                .map_err(|e| self.error("finding the controller", e))?;
            // Another process may create it at the same time: an error here is checked by the
            // second listing.
            let _ = controller
                .create_topic(&self.topic, create_partitions, 1, 5_000)
                .await;
        }
        Err(self.error("finding the topic", "it does not exist"))
    }

    pub(crate) async fn partition_client(
        &self,
        client: &Client,
        partition: i32,
    ) -> Result<PartitionClient, TelemetryError> {
        client
            .partition_client(self.topic.clone(), partition, UnknownTopicHandling::Error)
            .await
            .map_err(|e| self.error("opening a partition", e))
    }
}

/// The partition of a session: a stable hash of its id (FNV-1a, the same in every process).
pub fn partition_of(session: &str, partitions: i32) -> i32 {
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    session.hash(&mut h);
    (h.finish() % partitions.max(1) as u64) as i32
}

struct Fnv(u64);
impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The record of an event: key = session, value = JSON, headers = version and epoch.
pub fn to_record(event: &Event, epoch: u64) -> Record {
    let mut headers = BTreeMap::new();
    headers.insert(
        VERSION_HEADER.to_string(),
        SCHEMA_VERSION.to_string().into_bytes(),
    );
    headers.insert(EPOCH_HEADER.to_string(), epoch.to_string().into_bytes());
    Record {
        key: Some(event.session.as_bytes().to_vec()),
        value: Some(serde_json::to_vec(event).expect("an event always serialises")),
        headers,
        timestamp: chrono::DateTime::from_timestamp_millis(event.time_ms).unwrap_or_default(),
    }
}

/// The event of a record, checked: version header, JSON of an [`Event`], valid values.
/// `origin` names the record (`topic/partition@offset`) in errors.
pub fn from_record(record: &Record, origin: &str) -> Result<Event, TelemetryError> {
    let version = record
        .headers
        .get(VERSION_HEADER)
        .map(|v| String::from_utf8_lossy(v).into_owned());
    // Version 1 records are version 2's JSON without `end_reason`, which deserialises as `None`.
    crate::schema::check_version(version.as_deref(), origin)?;
    let value = record.value.as_deref().unwrap_or_default();
    let event: Event = serde_json::from_slice(value).map_err(|e| TelemetryError::Corrupt {
        origin: origin.to_string(),
        problem: e.to_string(),
    })?;
    event.validate()?;
    Ok(event)
}

/// The epoch header of a record (0 when missing).
pub fn epoch_of(record: &Record) -> u64 {
    record
        .headers
        .get(EPOCH_HEADER)
        .and_then(|v| std::str::from_utf8(v).ok()?.parse().ok())
        .unwrap_or(0)
}

/// A fresh epoch: time and process id mixed, never 0.
pub(crate) fn new_epoch() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    let mut h = Fnv(nanos);
    std::process::id().hash(&mut h);
    h.finish().max(1)
}

/// The producer side: one connection, one partition client per partition, the retained window
/// and the offsets it expects next.
pub(crate) struct Producer {
    target: KafkaTarget,
    create_partitions: i32,
    retain_events: usize,
    epoch: u64,
    client: Option<(Client, Vec<PartitionClient>)>,
    expected_next: Vec<Option<i64>>,
    retained: Vec<VecDeque<Event>>,
    /// Log resets seen (the broker handed out lower offsets than before).
    pub(crate) log_resets: u64,
}

impl Producer {
    pub(crate) fn new(target: KafkaTarget, create_partitions: i32, retain_events: usize) -> Self {
        Producer {
            target,
            create_partitions,
            retain_events,
            epoch: new_epoch(),
            client: None,
            expected_next: Vec::new(),
            retained: Vec::new(),
            log_resets: 0,
        }
    }

    async fn ensure_connected(&mut self) -> Result<(), TelemetryError> {
        if self.client.is_some() {
            return Ok(());
        }
        let client = self.target.connect().await?;
        // A topic that vanished with a restarted broker comes back with the partitions it had.
        let known = self.retained.len() as i32;
        let create = if known > 0 {
            known
        } else {
            self.create_partitions
        };
        let n = self.target.partitions(&client, create).await?;
        let mut parts = Vec::with_capacity(n as usize);
        for p in 0..n {
            parts.push(self.target.partition_client(&client, p).await?);
        }
        if self.retained.len() != n as usize {
            self.retained = (0..n).map(|_| VecDeque::new()).collect();
            self.expected_next = vec![None; n as usize];
        }
        self.client = Some((client, parts));
        Ok(())
    }

    /// Produces `events` (each partition's in one request), once. On error the connection is
    /// dropped (the next call reconnects) and nothing is retained; the caller retries.
    pub(crate) async fn produce(&mut self, events: &[Event]) -> Result<(), TelemetryError> {
        self.ensure_connected().await?;
        let n = self.retained.len() as i32;
        let mut by_partition: Vec<Vec<&Event>> = vec![Vec::new(); n as usize];
        for e in events {
            by_partition[partition_of(&e.session, n) as usize].push(e);
        }
        for (p, batch) in by_partition.iter().enumerate() {
            if batch.is_empty() {
                continue;
            }
            if let Err(e) = self.produce_partition(p, batch).await {
                self.client = None;
                return Err(e);
            }
        }
        Ok(())
    }

    async fn produce_partition(
        &mut self,
        p: usize,
        batch: &[&Event],
    ) -> Result<(), TelemetryError> {
        let records: Vec<Record> = batch.iter().map(|e| to_record(e, self.epoch)).collect();
        let offsets = self.send(p, records).await?;
        let first = offsets.first().copied().unwrap_or(0);
        let next = offsets.last().map(|o| o + 1);
        if self.expected_next[p].is_some_and(|want| first < want) {
            // The log restarted (a broker restart takes every partition's): new epoch, and what
            // the logs lost of our retained windows goes again, every partition's, since a
            // partition that gets no new event would never show its loss. `expected_next[p]`
            // changes only once this succeeded, so a failure here is detected again on retry.
            self.log_resets += 1;
            self.epoch = new_epoch();
            for q in 0..self.retained.len() {
                let again: Vec<Record> = self.retained[q]
                    .iter()
                    .map(|e| to_record(e, self.epoch))
                    .collect();
                if again.is_empty() {
                    continue;
                }
                let resent = self.send(q, again).await?;
                self.expected_next[q] = resent.last().map(|o| o + 1);
            }
            if self.retained[p].is_empty() {
                self.expected_next[p] = next;
            }
        } else {
            self.expected_next[p] = next;
        }
        let kept = &mut self.retained[p];
        kept.extend(batch.iter().map(|e| (*e).clone()));
        while kept.len() > self.retain_events {
            kept.pop_front();
        }
        Ok(())
    }

    async fn send(&self, p: usize, records: Vec<Record>) -> Result<Vec<i64>, TelemetryError> {
        let Some((_, parts)) = &self.client else {
            return Err(self.target.error("producing", "not connected"));
        };
        let mut out = Vec::with_capacity(records.len());
        // Requests of at most CHUNK records keep each under brokers' default 1 MiB message limit.
        const CHUNK: usize = 2000;
        let mut records = records;
        while !records.is_empty() {
            let rest = records.split_off(records.len().min(CHUNK));
            let sent = tokio::time::timeout(
                Duration::from_secs(10),
                parts[p].produce(records, Compression::NoCompression),
            )
            .await
            .map_err(|_| self.target.error("producing", "no answer within 10 s"))?
            .map_err(|e| self.target.error("producing", e))?;
            out.extend(sent);
            records = rest;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, Source};

    #[test]
    fn targets_parse_and_bad_ones_say_why() {
        let t = KafkaTarget::parse("kafka://127.0.0.1:9092/telemetry").unwrap();
        assert_eq!(t.broker, "127.0.0.1:9092");
        assert_eq!(t.topic, "telemetry");
        assert_eq!(t.to_string(), "kafka://127.0.0.1:9092/telemetry");
        for bad in [
            "kafka://host/t",
            "kafka://host:x/t",
            "kafka://h:1/",
            "kafka://h:1/a b",
            "http://h:1/t",
        ] {
            let msg = KafkaTarget::parse(bad).unwrap_err().to_string();
            assert!(msg.contains(bad), "{msg}");
        }
    }

    #[test]
    fn records_round_trip_and_other_versions_are_refused() {
        let mut e = Event::new(EventKind::Chunk, Source::Serve, 123, "sess");
        e.chunk = Some(7);
        let mut r = to_record(&e, 42);
        assert_eq!(from_record(&r, "t/0@0").unwrap(), e);
        assert_eq!(epoch_of(&r), 42);
        r.headers.insert(VERSION_HEADER.into(), b"9".to_vec());
        let msg = from_record(&r, "t/0@5").unwrap_err().to_string();
        assert!(msg.contains("t/0@5") && msg.contains("version 9"), "{msg}");
        // A version-1 record (no `end_reason` in its JSON) still reads.
        let mut end = Event::new(EventKind::SessionEnd, Source::Serve, 5, "s");
        end.qoe = Some(1.5);
        let mut old = to_record(&end, 1);
        old.headers.insert(VERSION_HEADER.into(), b"1".to_vec());
        assert_eq!(from_record(&old, "t/0@1").unwrap(), end);
        end.end_reason = Some(crate::event::EndReason::IdleTimeout);
        let new = to_record(&end, 1);
        assert!(String::from_utf8_lossy(new.value.as_deref().unwrap())
            .contains(r#""end_reason":"idle-timeout""#));
        assert_eq!(from_record(&new, "t/0@2").unwrap(), end);
        r.headers.insert(VERSION_HEADER.into(), b"1".to_vec());
        r.value = Some(br#"{"kind":"chunk","source":"serve","time_ms":-4,"session":"s"}"#.to_vec());
        assert!(from_record(&r, "t/0@6")
            .unwrap_err()
            .to_string()
            .contains("time_ms"));
        r.value = Some(b"not json".to_vec());
        assert!(from_record(&r, "t/0@7")
            .unwrap_err()
            .to_string()
            .contains("t/0@7"));
    }

    #[test]
    fn partitions_are_stable_and_in_range() {
        for n in 1..8 {
            for s in ["a", "session-1", "zzz"] {
                let p = partition_of(s, n);
                assert!((0..n).contains(&p));
                assert_eq!(p, partition_of(s, n));
            }
        }
    }
}
