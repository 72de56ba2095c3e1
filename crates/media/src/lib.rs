//! # neuralstream-media
//!
//! Real video in: packages a source file (or a deterministic synthetic source) into a DASH + HLS
//! ladder with FFmpeg, measures every segment's quality, and writes the project's video descriptor
//! (`video.json`, read by `neuralstream_data::load_video`). It also parses and validates MPDs
//! (`dash-mpd-core`) and HLS playlists (`m3u8-rs`) into one small model, [`manifest::Presentation`].
//!
//! **Key design decisions.** FFmpeg is driven as a program (Debian's `ffmpeg`), never linked. The
//! whole ladder is encoded in **one** FFmpeg run (the source is decoded once and `split`), with the
//! DASH muxer writing the HLS playlists over the same fMP4 segments; quality is measured in **one**
//! more run that decodes the source once and every rendition once ([`quality`]). Key frames sit
//! exactly at segment starts (`-force_key_frames` + fixed GOP, no scene cuts) and this is checked
//! on the output by byte position ([`verify`]). Output is built in a hidden `.NAME.partial` folder
//! and renamed into place only when complete ([`package`](mod@package)).
//!
//! Layout of a package folder: `manifest.mpd`, `master.m3u8` + `media_N.m3u8`, `init-N.m4s`,
//! `chunk-N-NNNNN.m4s` (N = representation id; video first, lowest bitrate first, then audio), and
//! `video.json`.

pub mod codec;
pub mod error;
pub mod ffmpeg;
pub mod ladder;
pub mod manifest;
pub mod package;
pub mod probe;
pub mod quality;
pub mod synthetic;
pub mod verify;

pub use error::MediaError;
pub use package::{package, Input, PackageOptions, Packaged};
