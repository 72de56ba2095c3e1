pub mod browser;
pub mod telemetry_files;
pub mod rt;
pub mod media;
