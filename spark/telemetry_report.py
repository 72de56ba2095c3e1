"""The evaluation report of NeuralStream telemetry at scale: a PySpark job (issue 19, item 6).

Reads the Parquet telemetry layout (`DIR/date=YYYY-MM-DD/hour=HH/part-*.parquet`, schema version 1
or 2, written by `--telemetry DIR` or `neuralstream telemetry consume`) and computes, formula for formula,
what `neuralstream report --telemetry DIR` computes (crates/report/src/evaluation): per session
quality, startup and decision latency, buffering ratio, stalls per hour, QoE and the satisfaction
estimate (Hoßfeld et al. 2011 stall MOS, Krishnan & Sitaraman 2012 abandonment) and how each session
ended (`end_reason`, abandoned or not), then the means per
algorithm, per network class and per both. It writes `report.json` in the Rust report's layout
(`compare.py` checks the two agree to 1e-9) plus `sessions.csv` and `groups.csv`.

Spark runs in local mode, bound to 127.0.0.1, with its web UI off:

    python spark/telemetry_report.py --telemetry out/telemetry --out out/spark-report
    python spark/telemetry_report.py --telemetry DIR --video media/talk/video.json --classes-kbps 1500,3000

Key design decision: everything is Spark SQL column expressions and group-bys (no Python UDFs), so
the same job scales from a laptop to a cluster; only the finished tables (one row per session and
per group) are collected to the driver to be written.
"""

import argparse
import csv
import json
import math
import os
import sys
import time
from pathlib import Path

# Defaults shared with crates/report/src/evaluation/mod.rs.
DEFAULT_CHUNK_S = 4.0
DEFAULT_CLASS_BOUNDS_KBPS = [1000.0, 2500.0, 5000.0]
UNKNOWN = "unknown"
ALL = "all"
# Schema versions this job reads (crates/telemetry: OLDEST_READABLE_VERSION to SCHEMA_VERSION);
# version 1 is version 2 without the last column, `end_reason`.
READABLE_VERSIONS = ("1", "2")
COMPLETED, ABANDONED_REASON = "completed", "idle-timeout"
VERSION_KEY = b"neuralstream.telemetry.version"

# Satisfaction model constants (crates/report/src/evaluation/satisfaction.rs, whose module doc
# cites the papers and says how each constant was checked against them).
MOS_SPAN, MOS_FLOOR, MOS_PER_STALL_S, MOS_PER_STALL = 3.50, 1.50, 0.15, 0.19
SATISFIED_MOS = 4.0
ABANDON_AFTER_S, ABANDON_PCT_PER_S = 2.0, 5.8

SESSION_COLUMNS = [
    "source", "session", "algorithm", "video", "network_class", "chunks", "bitrate_mean_kbps",
    "ssim_mean", "vmaf_mean", "startup_s", "stall_s", "stalls", "play_s", "buffering_ratio",
    "stalls_per_hour", "download_ms_mean", "throughput_kbps", "decision_us_mean",
    "decision_us_max", "qoe", "mos", "abandonment_pct", "satisfied", "end_reason", "abandoned",
]
GROUP_COLUMNS = [
    "algorithm", "network_class", "sessions", "bitrate_mean_kbps", "ssim_mean", "vmaf_mean",
    "startup_s_mean", "buffering_ratio_mean", "stalls_per_hour_mean", "decision_us_mean",
    "throughput_kbps_mean", "qoe_mean", "mos_mean", "satisfied_share", "abandonment_pct_mean",
    "abandoned_share",
]


class InputError(Exception):
    """Bad input, with the file named; printed without a traceback."""


def rust_number(x):
    """A bound as Rust's `{}` prints an f64: `1000` for 1000.0, `2500.5` for 2500.5."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else repr(float(x))


def class_labels(bounds):
    """The class names, lowest throughput first (crates/report's `network_class`)."""
    b = [rust_number(x) for x in bounds]
    return [f"<{b[0]} kbps"] + [f"{b[k - 1]}-{b[k]} kbps" for k in range(1, len(b))] + [f">={b[-1]} kbps"]


def telemetry_files(root):
    """The layout's files as its Rust reader lists them: date=/hour= folders, hidden names skipped."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        depth = len(Path(dirpath).relative_to(root).parts)
        if depth > 2:
            continue
        out += [Path(dirpath) / f for f in filenames if f.endswith(".parquet") and not f.startswith(".")]
    return sorted(out)


def varint(data, at):
    """A Thrift compact-protocol unsigned varint at `at`: (value, next offset)."""
    value, shift = 0, 0
    while at < len(data):
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7
    raise ValueError("truncated varint")


def check_version(path):
    """Refuses a file whose footer is not Parquet or whose schema version tag is not 1 or 2.

    The tag is a key-value pair of the Parquet footer (Thrift compact protocol): the key string,
    then field 2 (`value`, a binary: header byte 0x18), its varint length and its bytes. Spark does
    not expose footers' key-value metadata, so the footer is read here, as the Rust reader does.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        if size < 12:
            raise InputError(f"{path}: not a readable telemetry file: {size} bytes, too short for Parquet")
        f.seek(size - 8)
        tail = f.read(8)
        if tail[4:] != b"PAR1":
            raise InputError(f"{path}: not a readable telemetry file: no Parquet footer (PAR1)")
        footer_len = int.from_bytes(tail[:4], "little")
        if footer_len + 8 > size:
            raise InputError(f"{path}: not a readable telemetry file: footer of {footer_len} bytes in a {size}-byte file")
        f.seek(size - 8 - footer_len)
        footer = f.read(footer_len)
    found = "none"
    at = footer.find(VERSION_KEY)
    if at >= 0 and at + len(VERSION_KEY) < len(footer) and footer[at + len(VERSION_KEY)] == 0x18:
        try:
            n, start = varint(footer, at + len(VERSION_KEY) + 1)
            found = footer[start:start + min(n, 20)].decode("utf-8", "replace")
        except ValueError:
            pass
    if found not in READABLE_VERSIONS:
        raise InputError(
            f"{path}: telemetry schema version {found}, this job reads version "
            f"{READABLE_VERSIONS[0]} to {READABLE_VERSIONS[-1]}; "
            "read it with the NeuralStream build that wrote it, or re-export it"
        )


PENSIEVE_CHUNK_S = 4.0  # crates/data's PENSIEVE_CHUNK_S: Pensieve's video_size_* files carry no duration


def load_video(path):
    """(chunk duration s, [(metric, level, chunk, score)]) of a NeuralStream video.json, a folder
    holding one, or a folder of Pensieve's video_size_* files (4 s chunks, no quality tables)."""
    p = Path(path)
    if p.is_dir():
        if not (p / "video.json").is_file() and (p / "video_size_0").is_file():
            return PENSIEVE_CHUNK_S, []
        p = p / "video.json"
    try:
        d = json.loads(p.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as e:
        raise InputError(f"--video {p}: not a readable video.json: {e}") from None
    if not isinstance(d, dict) or d.get("format") != "neuralstream-video":
        raise InputError(f"--video {p}: field 'format' is not 'neuralstream-video'")
    scores = [
        (t["metric"], level, chunk, float(v))
        for t in d.get("quality", [])
        if t.get("metric") in ("ssim", "vmaf")
        for level, row in enumerate(t["scores"])
        for chunk, v in enumerate(row)
    ]
    return float(d["chunk_duration_s"]), scores


def spark_session():
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("neuralstream-telemetry-report")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def evaluate(spark, files, chunk_s, bounds, quality):
    """(sessions, groups, skipped) as lists of dicts, computed by Spark."""
    from pyspark.sql import functions as F

    # Files of version 1 lack `end_reason`: merge the schemas (their rows read it as null), and
    # add the column when no file has it.
    ev = spark.read.option("mergeSchema", "true").parquet(*[str(f) for f in files])
    if "end_reason" not in ev.columns:
        ev = ev.withColumn("end_reason", F.lit(None).cast("string"))
    key = ["source", "session"]
    names = ev.groupBy(*key).agg(F.min("algorithm").alias("algorithm"), F.min("video").alias("video"))

    chunks_all = ev.filter(F.col("kind") == "chunk")
    no_index = chunks_all.filter(F.col("chunk").isNull()).count()
    indexed = chunks_all.filter(F.col("chunk").isNotNull())
    # Repeated chunk rows of a session: one is kept (the layout's writers never repeat one; a
    # consumer de-duplicates on the event key, so repeats are identical).
    chunks = indexed.dropDuplicates(key + ["chunk"])
    duplicates = indexed.count() - chunks.count()
    if quality:
        q = spark.createDataFrame(quality, "metric string, qlevel long, qchunk long, score double")
        for metric in ("ssim", "vmaf"):
            qm = q.filter(F.col("metric") == metric).select(
                F.col("qlevel"), F.col("qchunk"), F.col("score").alias(metric)
            )
            chunks = chunks.join(
                qm,
                (chunks["level"].cast("long") == qm["qlevel"]) & (chunks["chunk"].cast("long") == qm["qchunk"]),
                "left",
            ).drop("qlevel", "qchunk")
    else:
        chunks = chunks.withColumn("ssim", F.lit(None).cast("double")).withColumn("vmaf", F.lit(None).cast("double"))

    rebuffer = F.coalesce(F.col("rebuffer_s"), F.lit(0.0))
    after_start = F.col("chunk") != 0
    download = F.when(
        F.col("size_bytes").isNotNull() & F.col("request_start_ms").isNotNull() & F.col("response_end_ms").isNotNull(),
        F.col("response_end_ms") - F.col("request_start_ms"),
    )
    per_chunks = chunks.withColumn("download_ms", download).groupBy(*key).agg(
        F.count(F.lit(1)).alias("chunks"),
        F.avg("bitrate_kbps").alias("bitrate_mean_kbps"),
        F.avg("ssim").alias("ssim_mean"),
        F.avg("vmaf").alias("vmaf_mean"),
        F.max(F.when(~after_start, rebuffer)).alias("startup_s"),
        F.sum(F.when(after_start, rebuffer).otherwise(F.lit(0.0))).alias("stall_s"),
        F.sum(F.when(after_start & (F.col("rebuffer_s") > 0), 1).otherwise(0)).alias("stalls"),
        F.avg("download_ms").alias("download_ms_mean"),
        F.sum("download_ms").alias("download_ms_sum"),
        F.sum(F.when(F.col("download_ms").isNotNull(), F.col("size_bytes").cast("double"))).alias("bytes"),
    )

    decisions = ev.filter(F.col("kind") == "decision")
    per_decisions = decisions.groupBy(*key).agg(
        F.avg("decision_us").alias("decision_us_mean"), F.max("decision_us").alias("decision_us_max")
    )
    # The end reason: `completed` wins and a session_end without a reason counts as completed
    # (it sorts first), else the first reason in alphabetical order; `unknown` without an end.
    end_qoe = (
        ev.filter(F.col("kind") == "session_end")
        .groupBy(*key)
        .agg(
            F.max("qoe").alias("end_qoe"),
            F.min(F.coalesce(F.col("end_reason"), F.lit(COMPLETED))).alias("end_reason"),
        )
    )
    with_qoe = decisions.filter(F.col("qoe").isNotNull() & F.col("chunk").isNotNull())
    last = with_qoe.groupBy(*key).agg(F.max("chunk").alias("last_chunk"))
    last_qoe = (
        with_qoe.join(last, key)
        .filter(F.col("chunk") == F.col("last_chunk"))
        .groupBy(*key)
        .agg(F.max("qoe").alias("decision_qoe"))
    )

    s = (
        per_chunks.join(names, key, "left")
        .join(per_decisions, key, "left")
        .join(end_qoe, key, "left")
        .join(last_qoe, key, "left")
    )
    play = F.col("chunks") * F.lit(chunk_s)
    watch = play + F.col("stall_s")
    throughput = F.when(F.col("download_ms_sum") > 0, 8.0 * F.col("bytes") / F.col("download_ms_sum"))
    labels = class_labels(bounds)
    cls = F.when(F.col("throughput_kbps").isNull() | F.isnan("throughput_kbps"), F.lit(UNKNOWN))
    for k, b in enumerate(bounds):
        cls = cls.when(F.col("throughput_kbps") < F.lit(b), F.lit(labels[k]))
    cls = cls.otherwise(F.lit(labels[-1]))
    mos = F.when(F.col("stalls") == 0, F.lit(MOS_SPAN + MOS_FLOOR)).otherwise(
        F.lit(MOS_SPAN)
        * F.exp(
            -(F.lit(MOS_PER_STALL_S) * (F.col("stall_s") / F.col("stalls")) + F.lit(MOS_PER_STALL))
            * F.col("stalls")
        )
        + F.lit(MOS_FLOOR)
    )
    abandonment = F.least(
        F.lit(ABANDON_PCT_PER_S) * F.greatest(F.col("startup_s") - F.lit(ABANDON_AFTER_S), F.lit(0.0)),
        F.lit(100.0),
    )
    s = (
        s.withColumn("algorithm", F.coalesce("algorithm", F.lit(UNKNOWN)))
        .withColumn("video", F.coalesce("video", F.lit(UNKNOWN)))
        .withColumn("play_s", play)
        .withColumn("buffering_ratio", F.col("stall_s") / watch)
        .withColumn("stalls_per_hour", F.col("stalls") * 3600.0 / watch)
        .withColumn("throughput_kbps", throughput)
        .withColumn("network_class", cls)
        .withColumn("qoe", F.coalesce("end_qoe", "decision_qoe"))
        .withColumn("mos", mos)
        .withColumn("abandonment_pct", F.when(F.col("startup_s").isNotNull(), abandonment))
        .withColumn("satisfied", F.when(F.col("mos") >= SATISFIED_MOS, 1).otherwise(0))
        .withColumn("end_reason", F.coalesce("end_reason", F.lit(UNKNOWN)))
        .withColumn("abandoned", F.when(F.col("end_reason") == ABANDONED_REASON, 1).otherwise(0))
    ).cache()

    aggregates = [
        F.count(F.lit(1)).alias("sessions"),
        F.avg("bitrate_mean_kbps").alias("bitrate_mean_kbps"),
        F.avg("ssim_mean").alias("ssim_mean"),
        F.avg("vmaf_mean").alias("vmaf_mean"),
        F.avg("startup_s").alias("startup_s_mean"),
        F.avg("buffering_ratio").alias("buffering_ratio_mean"),
        F.avg("stalls_per_hour").alias("stalls_per_hour_mean"),
        F.avg("decision_us_mean").alias("decision_us_mean"),
        F.avg("throughput_kbps").alias("throughput_kbps_mean"),
        F.avg("qoe").alias("qoe_mean"),
        F.avg("mos").alias("mos_mean"),
        F.avg(F.col("satisfied").cast("double")).alias("satisfied_share"),
        F.avg("abandonment_pct").alias("abandonment_pct_mean"),
        F.avg(F.col("abandoned").cast("double")).alias("abandoned_share"),
    ]
    both = s.groupBy("algorithm", "network_class").agg(*aggregates)
    per_algorithm = s.groupBy("algorithm").agg(*aggregates).withColumn("network_class", F.lit(ALL))
    per_class = s.groupBy("network_class").agg(*aggregates).withColumn("algorithm", F.lit(ALL))
    overall = s.groupBy().agg(*aggregates).withColumn("algorithm", F.lit(ALL)).withColumn("network_class", F.lit(ALL))
    groups = both.unionByName(per_algorithm).unionByName(per_class).unionByName(overall)

    order = labels + [UNKNOWN, ALL]
    session_rows = [r.asDict() for r in s.select(*SESSION_COLUMNS).collect()]
    # No session, no group (the overall aggregate of nothing is one row of nulls in Spark).
    group_rows = [r.asDict() for r in groups.collect()] if session_rows else []
    group_rows.sort(
        key=lambda g: (g["algorithm"] != ALL, g["algorithm"].encode(), order.index(g["network_class"]))
    )
    session_rows.sort(key=lambda r: (r["source"].encode(), r["session"].encode()))
    total_sessions = names.count()
    skipped = {
        "sessions_without_chunks": total_sessions - len(session_rows),
        "duplicate_chunks": duplicates,
        "chunks_without_index": no_index,
    }
    return session_rows, group_rows, skipped


def clean(value):
    """A JSON-ready value: ints stay ints, non-finite floats become None (the Rust report's null)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_outputs(out, chunk_s, bounds, sessions, groups, skipped):
    out.mkdir(parents=True, exist_ok=True)
    report = {
        "config": {"chunk_s": chunk_s, "class_bounds_kbps": bounds},
        "skipped": skipped,
        "sessions": [{k: clean(r[k]) for k in SESSION_COLUMNS} for r in sessions],
        "groups": [{k: clean(g[k]) for k in GROUP_COLUMNS} for g in groups],
    }
    (out / "report.json").write_text(json.dumps(report, indent=1, allow_nan=False) + "\n")
    for name, columns, rows in (("sessions.csv", SESSION_COLUMNS, report["sessions"]), ("groups.csv", GROUP_COLUMNS, report["groups"])):
        with open(out / name, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(columns)
            w.writerows([["" if r[k] is None else (repr(r[k]) if isinstance(r[k], float) else r[k]) for k in columns] for r in rows])


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--telemetry", required=True, type=Path, help="telemetry folder (Parquet layout)")
    p.add_argument("--out", type=Path, default=Path("out/spark-report"), help="output folder")
    p.add_argument("--video", help="video.json, a folder holding one, or Pensieve's video_size_* folder (chunk duration; SSIM/VMAF tables)")
    p.add_argument("--chunk-s", type=float, help="chunk duration, s (default: the video's, else 4)")
    p.add_argument("--classes-kbps", default="1000,2500,5000", help="network class bounds, kbit/s, increasing")
    a = p.parse_args(argv)
    try:
        a.bounds = [float(x) for x in a.classes_kbps.split(",")]
    except ValueError:
        p.error(f"--classes-kbps must be increasing numbers of kbit/s > 0 (e.g. 1000,2500,5000), got {a.classes_kbps}")
    if not a.bounds or any(not (math.isfinite(b) and b > 0) for b in a.bounds) or any(x >= y for x, y in zip(a.bounds, a.bounds[1:])):
        p.error(f"--classes-kbps must be increasing numbers of kbit/s > 0 (e.g. 1000,2500,5000), got {a.classes_kbps}")
    return a


def main(argv=None):
    a = parse_args(argv)
    started = time.monotonic()
    try:
        chunk_s, quality = (DEFAULT_CHUNK_S, [])
        if a.video:
            chunk_s, quality = load_video(a.video)
        if a.chunk_s is not None:
            chunk_s = a.chunk_s
        if not (math.isfinite(chunk_s) and chunk_s > 0):
            raise InputError(f"--chunk-s must be a number of seconds > 0, got {chunk_s}")
        files = telemetry_files(a.telemetry) if a.telemetry.is_dir() else []
        if not files:
            raise InputError(f"--telemetry {a.telemetry}: no telemetry files (date=*/hour=*/part-*.parquet)")
        for f in files:
            check_version(f)
        spark = spark_session()
        try:
            sessions, groups, skipped = evaluate(spark, files, chunk_s, a.bounds, quality)
        finally:
            spark.stop()
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    write_outputs(a.out, chunk_s, a.bounds, sessions, groups, skipped)
    print(f"{len(sessions)} sessions, {len(groups)} groups from {len(files)} files in {time.monotonic() - started:.1f} s; wrote {a.out}/report.json, sessions.csv, groups.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
