//! What is being played: the MPD's video representations and, from `video.json` beside it, every
//! chunk's size at every level (which look-ahead algorithms such as MPC need).

use crate::error::PlayerError;
use crate::http::{get, get_optional};
use crate::manifest::{media_name, parse_mpd, Presentation};
use neuralstream_core::{Ladder, Level, Video};
use reqwest::{Client, Url};
use std::path::Path;

/// A presentation ready to stream: level `i` of `video` is `presentation.representations[i]`.
#[derive(Debug, Clone)]
pub struct Media {
    /// The MPD's URL.
    pub mpd_url: Url,
    /// The parsed MPD (video only, lowest bandwidth first).
    pub presentation: Presentation,
    /// The video as algorithms see it (ladder, chunk duration, chunk sizes).
    pub video: Video,
    /// True when chunk sizes came from `video.json`; false when estimated from the MPD.
    pub sizes_from_descriptor: bool,
    /// Media name (the folder the MPD is in), sent as `video` to the decision API.
    pub name: Option<String>,
    /// Things the person should know (estimated sizes, mismatches); printed by the CLI.
    pub notes: Vec<String>,
}

/// Fetches and parses the MPD at `mpd_url` and the `video.json` next to it when there is one.
pub async fn load_media(client: &Client, mpd_url: &Url) -> Result<Media, PlayerError> {
    let mpd_bytes = get(client, mpd_url).await?;
    let text = String::from_utf8(mpd_bytes).map_err(|_| PlayerError::Manifest {
        url: mpd_url.to_string(),
        problem: "is not UTF-8 text; is the URL really an .mpd?".into(),
    })?;
    let head = text.trim_start_matches('\u{feff}').trim_start();
    if head.starts_with("#EXTM3U") {
        return Err(PlayerError::Manifest {
            url: mpd_url.to_string(),
            problem: "is an HLS playlist; `play` reads DASH: use the folder's manifest.mpd \
                      (GET /api/v1/videos lists each video's mpd)"
                .into(),
        });
    }
    if !head.starts_with('<') {
        let head: String = head.chars().take(60).collect();
        return Err(PlayerError::Manifest {
            url: mpd_url.to_string(),
            problem: format!(
                "is not an MPD (XML); it starts with {head:?}. Point play at a manifest.mpd \
                 (GET /api/v1/videos lists them)"
            ),
        });
    }
    let presentation = parse_mpd(&text, mpd_url)?;
    let desc_url = mpd_url
        .join("video.json")
        .map_err(|e| PlayerError::BadUrl {
            url: mpd_url.to_string(),
            reason: format!("cannot form the video.json URL: {e}"),
        })?;
    let descriptor = get_optional(client, &desc_url)
        .await?
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    media_from_parts(
        mpd_url.clone(),
        presentation,
        descriptor.as_deref(),
        &desc_url,
    )
}

/// Combines a parsed MPD with the descriptor text (when found); checks that they match.
pub fn media_from_parts(
    mpd_url: Url,
    presentation: Presentation,
    descriptor: Option<&str>,
    desc_url: &Url,
) -> Result<Media, PlayerError> {
    let derr = |problem: String| PlayerError::Descriptor {
        url: desc_url.to_string(),
        problem,
    };
    let reps = &presentation.representations;
    let segments = presentation.num_segments();
    let mut notes = Vec::new();
    let name = media_name(&mpd_url);
    let (video, from_descriptor) = match descriptor {
        Some(text) => {
            let v =
                neuralstream_data::descriptor::parse_descriptor(Path::new(desc_url.as_str()), text)
                    .map_err(|e| derr(e.to_string()))?;
            if v.num_levels() != reps.len() {
                return Err(derr(format!(
                    "describes {} levels but the MPD has {} video representations; package the video again so both come from the same run",
                    v.num_levels(),
                    reps.len()
                )));
            }
            for (l, (level, rep)) in v.ladder.levels.iter().zip(reps).enumerate() {
                let mpd_kbps = rep.info.bandwidth_bps as f64 / 1000.0;
                if (level.bitrate_kbps - mpd_kbps).abs() > 0.25 * mpd_kbps {
                    notes.push(format!(
                        "level {l}: video.json says {} kbps, the MPD's representation '{}' says {mpd_kbps} kbps; levels are matched by rank",
                        level.bitrate_kbps, rep.info.id
                    ));
                }
            }
            if (v.chunk_duration_s - presentation.segment_duration_s).abs()
                > 0.01 * presentation.segment_duration_s
            {
                notes.push(format!(
                    "video.json chunk duration {} s differs from the MPD's segment duration {} s; using video.json's",
                    v.chunk_duration_s, presentation.segment_duration_s
                ));
            }
            let n = v.num_chunks().min(segments);
            if v.num_chunks() != segments {
                notes.push(format!(
                    "video.json lists {} chunks, the MPD {segments} segments; playing {n}",
                    v.num_chunks()
                ));
            }
            let v = if n < v.num_chunks() {
                let mut quality = v.quality.clone();
                for q in &mut quality {
                    for s in &mut q.scores {
                        s.truncate(n);
                    }
                }
                let sizes = v.chunk_bytes.iter().map(|s| s[..n].to_vec()).collect();
                Video::new(
                    v.name.clone(),
                    v.chunk_duration_s,
                    v.ladder.clone(),
                    sizes,
                    quality,
                )
                .map_err(|e| derr(e.to_string()))?
            } else {
                v
            };
            (v, true)
        }
        None => {
            notes.push(format!(
                "no video.json next to the MPD ({desc_url}); chunk sizes are estimated as bandwidth x segment duration, so look-ahead algorithms (MPC) see nominal sizes"
            ));
            let d = presentation.segment_duration_s;
            let ladder = Ladder {
                levels: reps
                    .iter()
                    .map(|r| Level {
                        bitrate_kbps: r.info.bandwidth_bps as f64 / 1000.0,
                        width: r.info.width,
                        height: r.info.height,
                    })
                    .collect(),
            };
            let sizes = reps
                .iter()
                .map(|r| {
                    vec![((r.info.bandwidth_bps as f64 * d / 8.0).round() as u64).max(1); segments]
                })
                .collect();
            let v = Video::new(
                name.clone().unwrap_or_else(|| "mpd".into()),
                d,
                ladder,
                sizes,
                vec![],
            )
            .map_err(|e| PlayerError::Manifest {
                url: mpd_url.to_string(),
                problem: e.to_string(),
            })?;
            (v, false)
        }
    };
    Ok(Media {
        mpd_url,
        presentation,
        video,
        sizes_from_descriptor: from_descriptor,
        name,
        notes,
    })
}
