//! Video descriptions: Pensieve's `video_size_*` folders and NeuralStream JSON descriptors.

use crate::descriptor::parse_descriptor;
use crate::error::DataError;
use neuralstream_core::video::Ladder;
use neuralstream_core::Video;
use std::path::Path;

/// Chunk duration of Pensieve's test video, seconds.
pub const PENSIEVE_CHUNK_S: f64 = 4.0;

/// Loads a video from `path`: a `.json` descriptor, a folder holding `video.json`, or a folder of
/// Pensieve `video_size_0..N` files.
pub fn load_video(path: &Path) -> Result<Video, DataError> {
    let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
    if meta.is_file() {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
        return parse_descriptor(path, &text);
    }
    let json = path.join("video.json");
    if json.is_file() {
        return load_video(&json);
    }
    if path.join("video_size_0").is_file() {
        return load_pensieve_video(path);
    }
    Err(DataError::other(
        path,
        "not a video: expected a video.json descriptor or a folder with video.json or Pensieve's video_size_0..N files",
    ))
}

/// Loads Pensieve's folder of `video_size_<level>` files (bytes per chunk, one integer per line).
///
/// Six files get Pensieve's ladder (300..4300 kbit/s); other counts get a ladder estimated from the
/// mean chunk size, since the files carry no bitrate.
pub fn load_pensieve_video(dir: &Path) -> Result<Video, DataError> {
    let mut levels: Vec<Vec<u64>> = Vec::new();
    loop {
        let f = dir.join(format!("video_size_{}", levels.len()));
        if !f.is_file() {
            break;
        }
        let text = std::fs::read_to_string(&f).map_err(|e| DataError::io(&f, e))?;
        let mut sizes = Vec::new();
        for (i, l) in text.lines().enumerate() {
            let l = l.trim();
            if l.is_empty() {
                continue;
            }
            let v: u64 = l.parse().map_err(|_| {
                DataError::parse(&f, i + 1, format!("'{l}' is not a whole number of bytes"))
            })?;
            if v == 0 {
                return Err(DataError::parse(
                    &f,
                    i + 1,
                    "a chunk of 0 bytes is not a chunk",
                ));
            }
            sizes.push(v);
        }
        if sizes.is_empty() {
            return Err(DataError::other(
                &f,
                "the file is empty; it must list one chunk size in bytes per line",
            ));
        }
        if let Some(first) = levels.first() {
            if first.len() != sizes.len() {
                return Err(DataError::other(
                    &f,
                    format!(
                    "has {} chunks but video_size_0 has {}; every level needs the same chunk count",
                    sizes.len(),
                    first.len()
                ),
                ));
            }
        }
        levels.push(sizes);
    }
    if levels.is_empty() {
        return Err(DataError::other(dir, "no video_size_0 file"));
    }
    let ladder = if levels.len() == 6 {
        Ladder::pensieve()
    } else {
        Ladder::from_kbps(
            &levels
                .iter()
                .map(|s| {
                    s.iter().sum::<u64>() as f64 / s.len() as f64 * 8.0 / PENSIEVE_CHUNK_S / 1000.0
                })
                .collect::<Vec<_>>(),
        )
    };
    let folder = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = format!("pensieve-video_size ({folder})");
    Video::new(name, PENSIEVE_CHUNK_S, ladder, levels, vec![]).map_err(|source| {
        DataError::Invalid {
            path: dir.to_path_buf(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pensieve_folder_errors_name_file_and_line() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("video_size_0"), "100\n200\n").unwrap();
        std::fs::write(d.path().join("video_size_1"), "300\nabc\n").unwrap();
        let e = load_video(d.path()).unwrap_err().to_string();
        assert!(
            e.ends_with("video_size_1:2: 'abc' is not a whole number of bytes"),
            "{e}"
        );
        std::fs::write(d.path().join("video_size_1"), "300\n").unwrap();
        let e = load_video(d.path()).unwrap_err().to_string();
        assert!(e.contains("has 1 chunks but video_size_0 has 2"), "{e}");
        std::fs::write(d.path().join("video_size_1"), "300\n400\n").unwrap();
        let v = load_video(d.path()).unwrap();
        assert_eq!(v.num_levels(), 2);
        assert_eq!(v.num_chunks(), 2);
    }
}
