pub mod browser;
pub mod telemetry_files;
