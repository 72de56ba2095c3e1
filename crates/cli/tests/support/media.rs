//! Fake DASH packages for the players' tests: segments of exactly the given sizes (filler bytes,
//! not decodable video), a manifest and the `video.json` descriptor, as `neuralstream package`
//! writes them. Shared by `stream.rs` and `emulate.rs`.
#![allow(dead_code)] // each test file uses its own part

use std::path::Path;

/// Writes a DASH folder `dir` (MPD, init and media segments, video.json) with `levels` levels of
/// `chunks` segments of `chunk_s` seconds; sizes are `chunk_bytes[level][chunk]`.
pub fn write_media(dir: &Path, name: &str, chunk_s: f64, kbps: &[f64], chunk_bytes: &[Vec<u64>]) {
    std::fs::create_dir_all(dir).unwrap();
    let chunks = chunk_bytes[0].len();
    let mut reps = String::new();
    for (l, k) in kbps.iter().enumerate() {
        let height = [144, 240, 360, 480, 720, 1080, 1440, 2160][l.min(7)];
        reps.push_str(&format!(
            r#"   <Representation id="{l}" mimeType="video/mp4" codecs="avc1.64001e" bandwidth="{}" width="{}" height="{height}">
    <SegmentTemplate timescale="1000" duration="{}" initialization="init-$RepresentationID$.m4s" media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1"/>
   </Representation>
"#,
            (k * 1000.0) as u64,
            height * 16 / 9,
            (chunk_s * 1000.0) as u64
        ));
        std::fs::write(dir.join(format!("init-{l}.m4s")), vec![7u8; 900]).unwrap();
        for (c, &b) in chunk_bytes[l].iter().enumerate() {
            std::fs::write(
                dir.join(format!("chunk-{l}-{:05}.m4s", c + 1)),
                vec![(c % 251) as u8; b as usize],
            )
            .unwrap();
        }
    }
    let total_s = chunk_s * chunks as f64;
    let mpd = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static" mediaPresentationDuration="PT{total_s}S" minBufferTime="PT4S">
 <Period id="0" start="PT0S">
  <AdaptationSet id="0" contentType="video" segmentAlignment="true">
{reps}  </AdaptationSet>
 </Period>
</MPD>
"#
    );
    std::fs::write(dir.join("manifest.mpd"), mpd).unwrap();
    let ladder: Vec<String> = kbps
        .iter()
        .enumerate()
        .map(|(l, k)| {
            let h = [144, 240, 360, 480, 720, 1080, 1440, 2160][l.min(7)];
            format!(
                r#"{{"bitrate_kbps": {k}, "width": {}, "height": {h}}}"#,
                h * 16 / 9
            )
        })
        .collect();
    let sizes: Vec<String> = chunk_bytes
        .iter()
        .map(|s| {
            format!(
                "[{}]",
                s.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
            )
        })
        .collect();
    let desc = format!(
        r#"{{"format": "neuralstream-video", "version": 1, "name": "{name}", "chunk_duration_s": {chunk_s},
  "ladder": [{}], "chunk_bytes": [{}]}}"#,
        ladder.join(", "),
        sizes.join(", ")
    );
    std::fs::write(dir.join("video.json"), desc).unwrap();
}

/// Pensieve's video (`video_size_0..5` in `sim`): 6 levels x 48 chunks of 4 s with exactly those
/// sizes, written as a DASH folder `dir` named `pensieve`.
pub fn pensieve_media(sim: &Path, dir: &Path) {
    let kbps = [300.0, 750.0, 1200.0, 1850.0, 2850.0, 4300.0];
    let sizes: Vec<Vec<u64>> = (0..6)
        .map(|l| {
            std::fs::read_to_string(sim.join(format!("video_size_{l}")))
                .unwrap()
                .split_whitespace()
                .map(|x| x.parse().unwrap())
                .collect()
        })
        .collect();
    write_media(dir, "pensieve", 4.0, &kbps, &sizes);
}

/// A small VBR video: 3 levels x `chunks` chunks of 4 s.
pub fn small_media(dir: &Path, chunks: usize) {
    let kbps = [300.0, 1200.0, 2850.0];
    let sizes: Vec<Vec<u64>> = kbps
        .iter()
        .map(|k| {
            (0..chunks)
                .map(|c| (k * 1000.0 * 4.0 / 8.0 * (0.8 + 0.4 * ((c * 7 % 5) as f64 / 4.0))) as u64)
                .collect()
        })
        .collect();
    write_media(dir, "clip", 4.0, &kbps, &sizes);
}
