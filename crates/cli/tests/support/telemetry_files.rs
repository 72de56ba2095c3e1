//! What the report tests (`report.rs`, `report_spark.rs`) share: a telemetry file rewritten to
//! claim another schema version.
#![allow(dead_code)] // each test file uses its own part

/// The bytes of a telemetry Parquet file whose footer's schema-version value (one digit after
/// the key and the Thrift string header) reads `version` instead.
pub fn with_schema_version(file: &[u8], version: u8) -> Vec<u8> {
    let key = b"neuralstream.telemetry.version\x18\x01";
    let at = file
        .windows(key.len())
        .position(|w| w == key)
        .expect("the version tag of a telemetry file");
    let mut out = file.to_vec();
    out[at + key.len()] = version;
    out
}
