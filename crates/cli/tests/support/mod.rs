pub mod agnostic;
pub mod browser;
pub mod media;
pub mod rt;
pub mod serve;
pub mod telemetry_files;
