//! The media library: the packaged folders given with `--media`, their video descriptors and their
//! canonical roots (what path resolution checks every file against).

use crate::error::ServerError;
use neuralstream_core::qoe::CompiledQoe;
use neuralstream_core::{QoeModel, Video};
use neuralstream_protocol::VideoInfo;
use std::path::{Path, PathBuf};

/// One served video.
#[derive(Debug)]
pub struct Media {
    /// Media id: the folder's file name.
    pub name: String,
    /// Canonical path of the folder (symlinks resolved); every served file must lie under it.
    pub root: PathBuf,
    /// The descriptor (`video.json`): ladder and chunk sizes the session's algorithm sees.
    pub video: Video,
    /// The server's QoE model bound to this ladder.
    pub qoe: CompiledQoe,
    /// What `/api/v1/videos` says about it.
    pub info: VideoInfo,
}

/// Every served video, in `--media` order (the first is the default of decision requests).
#[derive(Debug, Default)]
pub struct MediaLibrary {
    items: Vec<Media>,
}

/// True for names usable in a URL path segment and a decision request without escaping.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

impl MediaLibrary {
    /// Loads every folder: checks it exists, reads its `video.json`, compiles the QoE model `qoe`
    /// (a `--qoe` spec) for that video: QoE_lin's stall penalty is the video's own top bitrate
    /// unless the spec gives one (`lin:4.3`), as in `bench`.
    pub fn load(dirs: &[PathBuf], qoe: &str) -> Result<Self, ServerError> {
        if dirs.is_empty() {
            return Err(ServerError::NoMedia);
        }
        let mut items: Vec<Media> = Vec::with_capacity(dirs.len());
        for dir in dirs {
            let media = Self::load_one(dir, qoe)?;
            if items.iter().any(|m| m.name == media.name) {
                return Err(ServerError::DuplicateMedia(media.name));
            }
            items.push(media);
        }
        Ok(MediaLibrary { items })
    }

    fn load_one(dir: &Path, qoe: &str) -> Result<Media, ServerError> {
        let bad = |reason: String| ServerError::Media {
            path: dir.to_path_buf(),
            reason,
        };
        let root = std::fs::canonicalize(dir)
            .map_err(|e| bad(format!("{e}; give a folder made by `neuralstream package`")))?;
        if !root.is_dir() {
            return Err(bad(
                "is not a folder; give a folder made by `neuralstream package`".into(),
            ));
        }
        let descriptor = root.join("video.json");
        if !descriptor.is_file() {
            return Err(bad(
                "has no video.json; package the video first: `neuralstream package INPUT --out DIR`"
                    .into(),
            ));
        }
        let video = neuralstream_data::load_video(&descriptor).map_err(|e| bad(e.to_string()))?;
        let name = root
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if !is_plain_name(&name) {
            return Err(bad(format!(
                "folder name '{name}' is served as /media/<name>/ and must use only letters, digits, '_', '.', '-'; rename the folder"
            )));
        }
        let compiled = QoeModel::for_video(qoe, &video)
            .and_then(|model| model.compile(&video))
            .map_err(|e| ServerError::Qoe(format!("media '{name}': {e}")))?;
        let exists = |file: &str| root.join(file).is_file();
        let info = VideoInfo {
            mpd: exists("manifest.mpd").then(|| format!("/media/{name}/manifest.mpd")),
            hls: exists("master.m3u8").then(|| format!("/media/{name}/master.m3u8")),
            descriptor: format!("/media/{name}/video.json"),
            levels: video.ladder.bitrates_kbps(),
            chunks: video.num_chunks(),
            chunk_duration_s: video.chunk_duration_s,
            name: name.clone(),
        };
        Ok(Media {
            name,
            root,
            video,
            qoe: compiled,
            info,
        })
    }

    /// The media named `name`.
    pub fn get(&self, name: &str) -> Option<&Media> {
        self.items.iter().find(|m| m.name == name)
    }

    /// Index of the media named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.items.iter().position(|m| m.name == name)
    }

    /// The media at `index`.
    pub fn at(&self, index: usize) -> &Media {
        &self.items[index]
    }

    /// Every media, in `--media` order.
    pub fn iter(&self) -> impl Iterator<Item = &Media> {
        self.items.iter()
    }

    /// Comma-separated names (for error messages).
    pub fn names(&self) -> String {
        self.items
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names() {
        assert!(is_plain_name("clip-1_a.v2"));
        assert!(!is_plain_name(".."));
        assert!(!is_plain_name("a b"));
        assert!(!is_plain_name(""));
    }

    #[test]
    fn missing_and_empty_folders_are_refused_with_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        let e = MediaLibrary::load(&[dir.path().join("nope")], "lin").unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
        let e = MediaLibrary::load(&[dir.path().to_path_buf()], "lin").unwrap_err();
        assert!(e.to_string().contains("video.json"), "{e}");
        let e = MediaLibrary::load(&[], "lin").unwrap_err();
        assert!(matches!(e, ServerError::NoMedia));
    }

    /// QoE_lin's stall penalty follows each served video's top bitrate (35 on a 35 Mbit/s ladder,
    /// 4.3 on Pensieve's), unless `--qoe` gives one.
    #[test]
    fn qoe_lin_penalty_is_each_videos_top_bitrate() {
        let dir = tempfile::tempdir().unwrap();
        let mut dirs = Vec::new();
        for (name, ladder) in [
            ("pensieve", neuralstream_core::Ladder::pensieve()),
            (
                "fast",
                neuralstream_core::Ladder::from_kbps(&[5000.0, 15000.0, 35000.0]),
            ),
        ] {
            let media = dir.path().join(name);
            std::fs::create_dir_all(&media).unwrap();
            let video = neuralstream_data::synthetic::synthetic_video(name, &ladder, 4, 4.0, 1);
            neuralstream_data::descriptor::write_descriptor(&media.join("video.json"), &video)
                .unwrap();
            dirs.push(media);
        }
        let lib = MediaLibrary::load(&dirs, "lin").unwrap();
        let penalties: Vec<f64> = lib.iter().map(|m| m.qoe.rebuffer_penalty).collect();
        assert_eq!(penalties, vec![4.3, 35.0]);
        let lib = MediaLibrary::load(&dirs, "lin:4.3").unwrap();
        assert!(lib.iter().all(|m| m.qoe.rebuffer_penalty == 4.3));
    }
}
