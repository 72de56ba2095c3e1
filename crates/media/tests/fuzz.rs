//! Fuzz targets of the manifest readers, which take a server's MPD or HLS playlists: arbitrary
//! bytes and mutated valid manifests (`NEURALSTREAM_FUZZ_ITERS` cases each; harness in
//! `crates/data/tests/support/mutate.rs`). Nothing may panic; every error names the manifest and
//! stays short; what is accepted stays within the manifest bounds.

#[path = "../../data/tests/support/mutate.rs"]
mod mutate;

use mutate::{config, inputs, MAX_MESSAGE_BYTES};
use neuralstream_media::manifest::{
    parse_hls, parse_mpd, Presentation, MAX_REPRESENTATIONS, MAX_SEGMENTS,
};
use neuralstream_media::MediaError;
use proptest::prelude::*;

/// FFmpeg's dash muxer output (trimmed): SegmentTemplate with @duration, video and audio.
const FFMPEG_MPD: &str = include_str!("fixtures/ffmpeg.mpd");

/// SegmentTimeline with inheritance and BaseURLs.
const TIMELINE_MPD: &str = include_str!("fixtures/timeline.mpd");

/// SegmentList addressing.
const LIST_MPD: &str = r#"<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT8S">
 <Period><AdaptationSet mimeType="video/mp4">
  <Representation id="a" bandwidth="100">
   <SegmentList timescale="1000" duration="4000"><Initialization sourceURL="i.mp4"/>
    <SegmentURL media="a.m4s"/><SegmentURL media="b.m4s"/></SegmentList>
  </Representation></AdaptationSet></Period></MPD>"#;

const MPD_TOKENS: &[&str] = &[
    r#" r="-1""#,
    r#" r="100000000""#,
    r#" d="0""#,
    r#" t="18446744073709551615""#,
    r#" timescale="0""#,
    r#" startNumber="18446744073709551615""#,
    r#" endNumber="0""#,
    r#" duration="PT100000000S""#,
    r#"mediaPresentationDuration="PT100000000S""#,
    "$Number%0999999999d$",
    "$RepresentationID$",
    "$Time$",
    "$$",
    "<Period/>",
    "</Period><Period>",
    r#"<S d="1" r="5"/>"#,
    r#"type="dynamic""#,
];

const MASTER: &str = "#EXTM3U
#EXT-X-VERSION:7
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"audio_2\",DEFAULT=YES,URI=\"media_2.m3u8\"
#EXT-X-STREAM-INF:BANDWIDTH=932168,RESOLUTION=426x240,CODECS=\"avc1.640015,mp4a.40.2\",AUDIO=\"a\"
media_1.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=532168,RESOLUTION=256x144,CODECS=\"avc1.64000c,mp4a.40.2\",AUDIO=\"a\"
media_0.m3u8
";

const MEDIA: &str = "#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:1
#EXT-X-MAP:URI=\"init-0.m4s\"
#EXTINF:4.000000,
chunk-0-00001.m4s
#EXTINF:4.000000,
chunk-0-00002.m4s
#EXTINF:2.000000,
chunk-0-00003.m4s
#EXT-X-ENDLIST
";

const HLS_TOKENS: &[&str] = &[
    "#EXT-X-ENDLIST\n",
    "#EXTINF:-1,\n",
    "#EXTINF:nan,\n",
    "#EXT-X-BYTERANGE:100@0\n",
    "#EXT-X-MAP:URI=\"other.m4s\"\n",
    "#EXT-X-STREAM-INF:BANDWIDTH=1\n",
    "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI=\"i.m3u8\"\n",
    "../../x",
    "https://h/x",
    "/abs",
];

/// What any accepted presentation must satisfy.
fn check_presentation(p: &Presentation) -> Result<(), TestCaseError> {
    prop_assert!(!p.representations.is_empty());
    prop_assert!(p.representations.len() + p.audio.len() <= MAX_REPRESENTATIONS);
    for r in p.representations.iter().chain(&p.audio) {
        prop_assert!(!r.segment_urls.is_empty() && r.segment_urls.len() <= MAX_SEGMENTS);
        prop_assert_eq!(r.segment_urls.len(), r.segment_durations_s.len());
    }
    Ok(())
}

/// An error must be short and name a manifest: `named` tells whether a source name is acceptable.
fn check_error(e: &MediaError, named: impl Fn(&str) -> bool) -> Result<(), TestCaseError> {
    let msg = e.to_string();
    prop_assert!(
        msg.len() <= MAX_MESSAGE_BYTES,
        "{} bytes: {}",
        msg.len(),
        msg
    );
    match e {
        MediaError::Manifest { source_name, .. } => {
            prop_assert!(named(source_name), "names {source_name:?}: {msg}")
        }
        other => prop_assert!(false, "not a manifest error: {other}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mpd(bytes in inputs(&[FFMPEG_MPD, TIMELINE_MPD, LIST_MPD], MPD_TOKENS)) {
        match parse_mpd(&String::from_utf8_lossy(&bytes), "fuzz.mpd") {
            Ok(p) => check_presentation(&p)?,
            Err(e) => check_error(&e, |name| name == "fuzz.mpd")?,
        }
    }

    #[test]
    fn hls(master in inputs(&[MASTER], HLS_TOKENS), media in inputs(&[MEDIA], HLS_TOKENS)) {
        let master_text = String::from_utf8_lossy(&master).into_owned();
        let media_text = String::from_utf8_lossy(&media).into_owned();
        let mut load = |_: &str| Ok(media_text.clone());
        match parse_hls(&master_text, "fuzz/master.m3u8", &mut load) {
            Ok(p) => check_presentation(&p)?,
            // The master, or a media playlist by the URI the master gives it: relative ones are
            // joined to the master's folder, absolute ones stand alone.
            Err(e) => check_error(&e, |name| {
                name.starts_with("fuzz/") || name.starts_with('/') || name.contains("://")
            })?,
        }
    }
}
