pub mod browser;
pub mod rt;
