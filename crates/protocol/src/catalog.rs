//! What `GET /api/v1/videos` and `GET /api/v1/algorithms` answer.

use serde::{Deserialize, Serialize};

/// One served video, as `GET /api/v1/videos` lists it. Paths are absolute on the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoInfo {
    /// Media id: the packaged folder's name; what a decision request's `video` names.
    pub name: String,
    /// DASH manifest path (`/media/<name>/manifest.mpd`), if the folder has one.
    pub mpd: Option<String>,
    /// HLS master playlist path (`/media/<name>/master.m3u8`), if the folder has one.
    pub hls: Option<String>,
    /// Video descriptor path (`/media/<name>/video.json`): ladder and every chunk's size.
    pub descriptor: String,
    /// Ladder, kbps, lowest first.
    pub levels: Vec<f64>,
    /// Number of chunks.
    pub chunks: usize,
    /// Duration of one chunk, seconds.
    #[serde(default)]
    pub chunk_duration_s: f64,
}

/// One algorithm a client may ask for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlgorithmInfo {
    /// Name to send as `algorithm` in a decision request.
    pub name: String,
    /// One line saying what it is.
    pub description: String,
}

/// Answer of `GET /api/v1/algorithms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlgorithmList {
    /// Algorithm used when a request names none.
    pub default: String,
    /// Every algorithm this server enables.
    pub algorithms: Vec<AlgorithmInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn video_info_round_trips() {
        let v = VideoInfo {
            name: "clip".into(),
            mpd: Some("/media/clip/manifest.mpd".into()),
            hls: None,
            descriptor: "/media/clip/video.json".into(),
            levels: vec![300.0, 750.0],
            chunks: 48,
            chunk_duration_s: 4.0,
        };
        let text = serde_json::to_string(&v).unwrap();
        assert_eq!(serde_json::from_str::<VideoInfo>(&text).unwrap(), v);
    }
}
