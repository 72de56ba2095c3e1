pub mod browser;
pub mod media;
