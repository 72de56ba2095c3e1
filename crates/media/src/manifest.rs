//! Reading DASH MPDs and HLS playlists into one small model, [`Presentation`], that a player, a
//! server or a test can use without knowing either format.
//!
//! MPDs are parsed with `dash-mpd-core` (the parse/serialize part of the `dash-mpd` crate, without
//! its downloader); HLS playlists with `m3u8-rs`. On top of them this module resolves what a player
//! needs: for each representation its bandwidth, resolution, codecs, the URL of its initialization
//! segment and the URLs and durations of all its media segments.
//!
//! Supported MPD addressing: `SegmentTemplate` with `@duration` or with a `SegmentTimeline`
//! (`$RepresentationID$`, `$Number$`, `$Number%05d$`, `$Bandwidth$`, `$Time$`, `$$`), inherited from
//! the Period or AdaptationSet and overridden per Representation, and `SegmentList`. `BaseURL`s are
//! joined from the MPD down to the Representation. Single-file `SegmentBase` (sidx) addressing,
//! multi-period and live (`type="dynamic"`) MPDs are rejected with a message saying so.
//! URLs are returned relative to the manifest's location, as written (no network access here).
//!
//! A manifest may come from an untrusted server, so every count derived from it is bounded before
//! anything is built for it: the manifest's size ([`MAX_MANIFEST_BYTES`]), periods (one), video and
//! audio representations ([`MAX_REPRESENTATIONS`]), segments per representation, whether listed,
//! repeated by a `SegmentTimeline` `@r` or implied by a duration ([`MAX_SEGMENTS`]), the length of
//! one URL ([`MAX_URL_BYTES`]) and of all of them ([`MAX_TOTAL_URL_BYTES`]). Beyond a bound the
//! manifest is refused with a message naming the bound; so a reader's memory stays below about
//! [`MAX_TOTAL_URL_BYTES`] plus the parsed document, whatever the manifest declares.

use crate::error::MediaError;
use dash_mpd_core as mpd;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Largest manifest text (an MPD, or one HLS playlist) read, bytes: 8 MiB. FFmpeg's MPD for a
/// two-hour ladder is about 5 KB, an HLS media playlist of 1800 segments about 150 KB.
pub const MAX_MANIFEST_BYTES: usize = 8 << 20;

/// Most video plus audio representations (HLS variants and audio renditions) in one presentation.
/// Real ladders have up to about 20.
pub const MAX_REPRESENTATIONS: usize = 64;

/// Most media segments of one representation: 100,000 (111 hours of 4 s segments, 28 hours of
/// 1 s ones). Checked before a `SegmentTimeline` repeat or a duration-derived count is expanded.
pub const MAX_SEGMENTS: usize = 100_000;

/// Longest URL of one segment (after template expansion and `BaseURL` joining), bytes.
pub const MAX_URL_BYTES: usize = 2048;

/// Most bytes of segment URLs in one presentation, all representations together: 64 MiB (a real
/// two-hour ladder needs about 1 MB).
pub const MAX_TOTAL_URL_BYTES: usize = 64 << 20;

/// Widest `%0<width>d` format in a URL template (the standard's examples use 5).
const MAX_FORMAT_WIDTH: usize = 32;

/// What is left of the presentation-wide bounds while its representations are built.
struct Budget {
    representations_left: usize,
    url_bytes_left: usize,
}

impl Budget {
    fn new() -> Self {
        Budget {
            representations_left: MAX_REPRESENTATIONS,
            url_bytes_left: MAX_TOTAL_URL_BYTES,
        }
    }

    /// Takes one representation from the budget.
    fn representation(&mut self) -> Result<(), String> {
        self.representations_left = self.representations_left.checked_sub(1).ok_or_else(|| {
            format!(
                "more than {MAX_REPRESENTATIONS} representations; a presentation may have at most                  {MAX_REPRESENTATIONS} video and audio representations together"
            )
        })?;
        Ok(())
    }

    /// Appends a segment to `out`, within the bounds on segments and URLs.
    fn push(
        &mut self,
        out: &mut Representation,
        url: String,
        duration_s: f64,
    ) -> Result<(), String> {
        check_segment_count(out.segment_urls.len() + 1)?;
        check_url(&url)?;
        self.url_bytes_left = self.url_bytes_left.checked_sub(url.len()).ok_or_else(|| {
            format!(
                "the segment URLs take more than {} MiB together; a presentation is limited to                  {} MiB of segment URLs",
                MAX_TOTAL_URL_BYTES >> 20,
                MAX_TOTAL_URL_BYTES >> 20
            )
        })?;
        out.segment_urls.push(url);
        out.segment_durations_s.push(duration_s);
        Ok(())
    }
}

/// Refuses a representation of more than [`MAX_SEGMENTS`] segments.
fn check_segment_count(count: usize) -> Result<(), String> {
    if count > MAX_SEGMENTS {
        return Err(format!(
            "more than {MAX_SEGMENTS} segments, the limit for one representation (the manifest may \
             declare a duration far longer than its video, or a SegmentTimeline @r far too large)"
        ));
    }
    Ok(())
}

/// Refuses a URL longer than [`MAX_URL_BYTES`].
fn check_url(url: &str) -> Result<(), String> {
    if url.len() > MAX_URL_BYTES {
        return Err(format!(
            "a segment URL is longer than {MAX_URL_BYTES} bytes (it starts '{}')",
            neuralstream_data::excerpt(url)
        ));
    }
    Ok(())
}

/// The start of a parser's message: MPD and HLS parsers quote the rest of the document (the HLS one
/// as a list of bytes), and a few lines of it are enough.
fn parser_message(text: &str) -> String {
    const MAX_CHARS: usize = 300;
    let mut short: String = text.chars().take(MAX_CHARS).collect();
    if text.chars().nth(MAX_CHARS).is_some() {
        short.push_str(" ...");
    }
    short
}

/// Refuses a manifest text larger than [`MAX_MANIFEST_BYTES`].
fn check_manifest_size(len_bytes: u64, name: &str) -> Result<(), MediaError> {
    if len_bytes > MAX_MANIFEST_BYTES as u64 {
        return Err(MediaError::manifest(
            name,
            format!(
                "the manifest is larger than {} MiB, the limit for an MPD or an HLS playlist",
                MAX_MANIFEST_BYTES >> 20
            ),
        ));
    }
    Ok(())
}

/// Reads a manifest file after checking its size.
fn read_manifest(path: &Path) -> Result<String, MediaError> {
    let meta = std::fs::metadata(path).map_err(|e| MediaError::io(path, e))?;
    check_manifest_size(meta.len(), &path.display().to_string())?;
    std::fs::read_to_string(path).map_err(|e| MediaError::io(path, e))
}

/// A video presentation: its video ladder and audio tracks with every segment's URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Presentation {
    /// Total duration, seconds (`mediaPresentationDuration`, or the sum of segment durations for HLS).
    pub duration_s: f64,
    /// Nominal duration of a video segment, seconds (the longest video segment).
    pub segment_duration_s: f64,
    /// Video representations, sorted by increasing bandwidth.
    pub representations: Vec<Representation>,
    /// Audio representations (empty when the presentation has no audio).
    pub audio: Vec<Representation>,
}

impl Presentation {
    /// Number of video segments (every video representation has the same count in a well-formed
    /// ladder; this is the first one's).
    pub fn segment_count(&self) -> usize {
        self.representations
            .first()
            .map_or(0, |r| r.segment_urls.len())
    }
}

/// One representation (rendition) and its segments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Representation {
    /// Representation id (MPD `@id`; for HLS, the media playlist's URI).
    pub id: String,
    /// Advertised bandwidth, bit/s.
    pub bandwidth_bps: u64,
    /// Frame width in pixels (0 for audio or when not given).
    pub width: u32,
    /// Frame height in pixels (0 for audio or when not given).
    pub height: u32,
    /// RFC 6381 codecs string, e.g. `avc1.64001f` (empty when not given).
    pub codecs: String,
    /// MIME type, e.g. `video/mp4` (empty when not given).
    pub mime_type: String,
    /// URL of the initialization segment, relative to the manifest; empty when there is none.
    pub init_url: String,
    /// URLs of the media segments in playback order, relative to the manifest.
    pub segment_urls: Vec<String>,
    /// Duration of each media segment, seconds (same length as `segment_urls`).
    pub segment_durations_s: Vec<f64>,
}

/// Reads and parses an MPD file (see [`parse_mpd`]).
pub fn read_mpd(path: &Path) -> Result<Presentation, MediaError> {
    parse_mpd(&read_manifest(path)?, &path.display().to_string())
}

/// Parses an MPD; `name` (file name or URL) is used in error messages.
pub fn parse_mpd(xml: &str, name: &str) -> Result<Presentation, MediaError> {
    let bad = |reason: String| MediaError::manifest(name, reason);
    check_manifest_size(xml.len() as u64, name)?;
    let doc = mpd::parse(xml).map_err(|e| {
        bad(format!(
            "not a valid MPD: {}",
            parser_message(&e.to_string())
        ))
    })?;
    if doc.mpdtype.as_deref() == Some("dynamic") {
        return Err(bad(
            "live MPDs (type=\"dynamic\") are not supported; package the video as VOD (type=\"static\")".into(),
        ));
    }
    let period = match doc.periods.as_slice() {
        [p] => p,
        [] => return Err(bad("the MPD has no Period".into())),
        ps => {
            return Err(bad(format!(
                "the MPD has {} Periods; only single-period presentations are supported",
                ps.len()
            )))
        }
    };
    let period_s = match (period.duration, doc.mediaPresentationDuration) {
        (Some(d), _) => d.as_secs_f64(),
        (None, Some(d)) => d.as_secs_f64() - period.start.map_or(0.0, |s| s.as_secs_f64()),
        (None, None) => {
            return Err(bad(
                "neither Period@duration nor MPD@mediaPresentationDuration is given".into(),
            ))
        }
    };
    let base = join_url(
        doc.base_url.first().map_or("", |b| b.base.as_str()),
        period.BaseURL.first().map_or("", |b| b.base.as_str()),
    );
    let mut video = Vec::new();
    let mut audio = Vec::new();
    let mut budget = Budget::new();
    for (ai, set) in period.adaptations.iter().enumerate() {
        let is_audio = mpd::is_audio_adaptation(&set);
        let is_video = !is_audio && mpd::is_video_adaptation(&set);
        if !is_audio && !is_video {
            continue; // subtitles, images, ...
        }
        let set_base = join_url(&base, set.BaseURL.first().map_or("", |b| b.base.as_str()));
        for (ri, rep) in set.representations.iter().enumerate() {
            budget.representation().map_err(bad)?;
            let what = format!(
                "AdaptationSet {} Representation {}",
                neuralstream_data::excerpt(&set.id.clone().unwrap_or_else(|| ai.to_string())),
                neuralstream_data::excerpt(&rep.id.clone().unwrap_or_else(|| ri.to_string()))
            );
            let r = representation(period, set, rep, &set_base, period_s, &mut budget)
                .map_err(|reason| bad(format!("{what}: {reason}")))?;
            if is_audio {
                audio.push(r);
            } else {
                video.push(r);
            }
        }
    }
    finish(video, audio, period_s, name)
}

/// Sorts, validates and wraps representations.
fn finish(
    mut video: Vec<Representation>,
    mut audio: Vec<Representation>,
    duration_s: f64,
    name: &str,
) -> Result<Presentation, MediaError> {
    if video.is_empty() {
        return Err(MediaError::manifest(
            name,
            "no video representation found; an ABR presentation needs at least one",
        ));
    }
    video.sort_by_key(|r| r.bandwidth_bps);
    audio.sort_by_key(|r| r.bandwidth_bps);
    for r in video.iter().chain(&audio) {
        if r.segment_urls.is_empty() {
            return Err(MediaError::manifest(
                name,
                format!(
                    "representation '{}' has no media segment",
                    neuralstream_data::excerpt(&r.id)
                ),
            ));
        }
    }
    let segment_duration_s = video
        .iter()
        .flat_map(|r| r.segment_durations_s.iter().copied())
        .fold(0.0, f64::max);
    Ok(Presentation {
        duration_s,
        segment_duration_s,
        representations: video,
        audio,
    })
}

/// The merged SegmentTemplate attributes of a representation (Representation overrides
/// AdaptationSet overrides Period).
fn merged_template(layers: [Option<&mpd::SegmentTemplate>; 3]) -> Option<mpd::SegmentTemplate> {
    let mut out: Option<mpd::SegmentTemplate> = None;
    for t in layers.into_iter().flatten() {
        out = Some(match out {
            None => t.clone(),
            Some(parent) => mpd::SegmentTemplate {
                media: t.media.clone().or(parent.media),
                initialization: t.initialization.clone().or(parent.initialization),
                startNumber: t.startNumber.or(parent.startNumber),
                endNumber: t.endNumber.or(parent.endNumber),
                duration: t.duration.or(parent.duration),
                timescale: t.timescale.or(parent.timescale),
                presentationTimeOffset: t.presentationTimeOffset.or(parent.presentationTimeOffset),
                Initialization: t.Initialization.clone().or(parent.Initialization),
                SegmentTimeline: t.SegmentTimeline.clone().or(parent.SegmentTimeline),
                ..t.clone()
            },
        });
    }
    out
}

fn representation(
    period: &mpd::Period,
    set: &mpd::AdaptationSet,
    rep: &mpd::Representation,
    set_base: &str,
    period_s: f64,
    budget: &mut Budget,
) -> Result<Representation, String> {
    let id = rep
        .id
        .clone()
        .ok_or("missing @id (needed for $RepresentationID$ and to tell renditions apart)")?;
    let bandwidth_bps = rep
        .bandwidth
        .ok_or("missing @bandwidth; every Representation must advertise its bit rate")?;
    let base = join_url(
        set_base,
        rep.BaseURL.first().map_or("", |b| b.base.as_str()),
    );
    let dim = |v: Option<u64>| u32::try_from(v.unwrap_or(0)).unwrap_or(0);
    let mut out = Representation {
        id: id.clone(),
        bandwidth_bps,
        width: dim(rep.width.or(set.width)),
        height: dim(rep.height.or(set.height)),
        codecs: rep
            .codecs
            .clone()
            .or(set.codecs.clone())
            .unwrap_or_default(),
        mime_type: rep
            .mimeType
            .clone()
            .or(set.mimeType.clone())
            .unwrap_or_default(),
        init_url: String::new(),
        segment_urls: Vec::new(),
        segment_durations_s: Vec::new(),
    };
    let vars = TemplateVars {
        id: &id,
        bandwidth: bandwidth_bps,
    };
    let template = merged_template([
        period.SegmentTemplate.as_ref(),
        set.SegmentTemplate.as_ref(),
        rep.SegmentTemplate.as_ref(),
    ]);
    let list = rep
        .SegmentList
        .as_ref()
        .or(set.SegmentList.as_ref())
        .or(period.SegmentList.as_ref());
    if let Some(t) = template {
        let media = t.media.as_deref().ok_or("SegmentTemplate has no @media")?;
        let init = t
            .initialization
            .clone()
            .or_else(|| t.Initialization.as_ref().and_then(|i| i.sourceURL.clone()));
        if let Some(init) = init {
            out.init_url = join_url(&base, &expand(&init, &vars, 0, 0)?);
            check_url(&out.init_url)?;
        }
        let timescale = t.timescale.unwrap_or(1).max(1) as f64;
        let start_number = t.startNumber.unwrap_or(1);
        if let Some(timeline) = &t.SegmentTimeline {
            let pto = t.presentationTimeOffset.unwrap_or(0);
            let end_time = pto as f64 + period_s * timescale;
            let mut time: u64 = pto;
            let mut number = start_number;
            for s in &timeline.segments {
                if s.d == 0 {
                    return Err("SegmentTimeline has an S with d=0".into());
                }
                if let Some(t0) = s.t {
                    time = t0;
                }
                let repeats = match s.r {
                    Some(r) if r < 0 => {
                        // Repeat until the end of the period (bounded below, before the loop).
                        let left = (end_time - time as f64) / s.d as f64;
                        (left.ceil() - 1.0).clamp(0.0, MAX_SEGMENTS as f64) as u64
                    }
                    r => r.unwrap_or(0) as u64,
                };
                // Refuse an @r beyond the bound before expanding any of it.
                let count = usize::try_from(repeats).unwrap_or(usize::MAX);
                check_segment_count(
                    out.segment_urls
                        .len()
                        .saturating_add(count)
                        .saturating_add(1),
                )?;
                for _ in 0..=repeats {
                    let url = join_url(&base, &expand(media, &vars, number, time)?);
                    budget.push(&mut out, url, s.d as f64 / timescale)?;
                    time = time.checked_add(s.d).ok_or(OVERFLOW)?;
                    number = number.checked_add(1).ok_or(OVERFLOW)?;
                }
            }
        } else {
            let d = t.duration.ok_or(
                "SegmentTemplate has neither @duration nor a SegmentTimeline; cannot list segments",
            )?;
            if !(d.is_finite() && d > 0.0) {
                return Err(format!(
                    "SegmentTemplate@duration must be positive, got {d}"
                ));
            }
            let seg_s = d / timescale;
            // Counted as f64 and checked against the bound before any segment is built.
            let count = match t.endNumber {
                Some(end) if end >= start_number => (end - start_number) as f64 + 1.0,
                _ => ((period_s / seg_s) - 1e-9).ceil().max(0.0),
            };
            check_segment_count(if count > MAX_SEGMENTS as f64 {
                usize::MAX
            } else {
                count as usize
            })?;
            for k in 0..count as u64 {
                let number = start_number.checked_add(k).ok_or(OVERFLOW)?;
                let time = (k as f64 * d).round() as u64;
                let url = join_url(&base, &expand(media, &vars, number, time)?);
                let left = period_s - k as f64 * seg_s;
                budget.push(&mut out, url, seg_s.min(left).max(0.0))?;
            }
        }
    } else if let Some(list) = list {
        if let Some(init) = list
            .Initialization
            .as_ref()
            .and_then(|i| i.sourceURL.clone())
        {
            out.init_url = join_url(&base, &init);
            check_url(&out.init_url)?;
        }
        let timescale = list.timescale.unwrap_or(1).max(1) as f64;
        let seg_s = list.duration.map(|d| d as f64 / timescale);
        check_segment_count(list.segment_urls.len())?;
        for (k, u) in list.segment_urls.iter().enumerate() {
            let media = u
                .media
                .as_deref()
                .ok_or(format!("SegmentURL {k} has no @media"))?;
            let left = period_s - k as f64 * seg_s.unwrap_or(0.0);
            let duration_s =
                seg_s.map_or(period_s / list.segment_urls.len() as f64, |s| s.min(left));
            budget.push(&mut out, join_url(&base, media), duration_s)?;
        }
    } else {
        return Err("no SegmentTemplate or SegmentList; single-file SegmentBase (sidx) addressing is not supported".into());
    }
    Ok(out)
}

/// Message for segment numbers or times beyond 64 bits.
const OVERFLOW: &str = "segment numbers or times overflow 64 bits; check @startNumber, S@t and S@d";

struct TemplateVars<'a> {
    id: &'a str,
    bandwidth: u64,
}

/// Expands a DASH URL template (ISO/IEC 23009-1 §5.3.9.4.4).
fn expand(
    full_template: &str,
    vars: &TemplateVars<'_>,
    number: u64,
    time: u64,
) -> Result<String, String> {
    let template_excerpt = neuralstream_data::excerpt(full_template);
    let template = &*template_excerpt;
    let mut out = String::with_capacity(template.len() + 8);
    let mut rest = full_template;
    while let Some(start) = rest.find('$') {
        if out.len() > MAX_URL_BYTES {
            break; // refused below, without expanding the rest
        }
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after
            .find('$')
            .ok_or_else(|| format!("unterminated '$' in template '{template}'"))?;
        let ident = &after[..end];
        rest = &after[end + 1..];
        if ident.is_empty() {
            out.push('$');
            continue;
        }
        let (name, format) = match ident.find('%') {
            Some(p) => (&ident[..p], Some(&ident[p..])),
            None => (ident, None),
        };
        let value = match name {
            "RepresentationID" => {
                if format.is_some() {
                    return Err(format!(
                        "$RepresentationID$ takes no format in '{template}'"
                    ));
                }
                out.push_str(vars.id);
                continue;
            }
            "Number" => number,
            "Bandwidth" => vars.bandwidth,
            "Time" => time,
            other => {
                return Err(format!(
                    "unknown identifier ${other}$ in template '{template}'"
                ))
            }
        };
        match format {
            None => out.push_str(&value.to_string()),
            Some(f) => {
                // Only %0<width>d (and %d) are allowed by the standard.
                let width = f
                    .strip_prefix('%')
                    .and_then(|f| f.strip_suffix('d'))
                    .map(|w| w.trim_start_matches('0'))
                    .ok_or_else(|| format!("unsupported format '{f}' in template '{template}'"))?;
                let width: usize = if width.is_empty() {
                    0
                } else {
                    width
                        .parse()
                        .map_err(|_| format!("bad width '{f}' in template '{template}'"))?
                };
                if width > MAX_FORMAT_WIDTH {
                    return Err(format!(
                        "format '{f}' in template '{template}' is wider than {MAX_FORMAT_WIDTH} digits"
                    ));
                }
                out.push_str(&format!("{value:0width$}"));
            }
        }
    }
    out.push_str(rest);
    check_url(&out)?;
    Ok(out)
}

/// Resolves `rel` against `base` (a URL or path prefix ending at a directory or a file): absolute
/// references (`scheme://...` or `/...`) are kept, relative ones are appended to `base`'s directory.
pub fn join_url(base: &str, rel: &str) -> String {
    if rel.is_empty() {
        return base.to_string();
    }
    if rel.contains("://") || rel.starts_with('/') || base.is_empty() {
        return rel.to_string();
    }
    match base.rfind('/') {
        Some(p) => format!("{}{}", &base[..=p], rel),
        None => rel.to_string(),
    }
}

/// One variant of an HLS master playlist.
#[derive(Debug, Clone, PartialEq)]
struct Variant {
    uri: String,
    bandwidth_bps: u64,
    width: u32,
    height: u32,
    codecs: String,
}

/// Reads an HLS master playlist and the media playlists it points to, from files (see [`parse_hls`]).
pub fn read_hls(master: &Path) -> Result<Presentation, MediaError> {
    let text = read_manifest(master)?;
    let dir = master.parent().unwrap_or(Path::new(""));
    parse_hls(&text, &master.display().to_string(), &mut |uri| {
        read_manifest(&dir.join(uri))
    })
}

/// Parses an HLS master playlist; `load` returns the text of a media playlist given its URI relative
/// to the master. Variants become [`Presentation::representations`] (codecs are taken from the
/// variant's `CODECS`, whose first entry is the video codec), `EXT-X-MEDIA` audio renditions with a
/// URI become [`Presentation::audio`]. Segment and `EXT-X-MAP` URIs are returned relative to the
/// master playlist. I-frame-only variants are ignored.
pub fn parse_hls(
    master: &str,
    name: &str,
    load: &mut dyn FnMut(&str) -> Result<String, MediaError>,
) -> Result<Presentation, MediaError> {
    let bad = |reason: String| MediaError::manifest(name, reason);
    check_manifest_size(master.len() as u64, name)?;
    let pl = m3u8_rs::parse_playlist_res(master.as_bytes()).map_err(|e| {
        bad(format!(
            "not a valid HLS playlist: {}",
            parser_message(&format!("{e:?}"))
        ))
    })?;
    let m3u8_rs::Playlist::MasterPlaylist(pl) = pl else {
        return Err(bad(
            "this is a media playlist; give the master playlist (the one with #EXT-X-STREAM-INF)"
                .into(),
        ));
    };
    let variants: Vec<Variant> = pl
        .variants
        .iter()
        .filter(|v| !v.is_i_frame)
        .map(|v| Variant {
            uri: v.uri.clone(),
            bandwidth_bps: v.bandwidth,
            width: v
                .resolution
                .map_or(0, |r| u32::try_from(r.width).unwrap_or(0)),
            height: v
                .resolution
                .map_or(0, |r| u32::try_from(r.height).unwrap_or(0)),
            codecs: v.codecs.clone().unwrap_or_default(),
        })
        .collect();
    let audio_uris: Vec<&String> = pl
        .alternatives
        .iter()
        .filter(|a| a.media_type == m3u8_rs::AlternativeMediaType::Audio)
        .filter_map(|a| a.uri.as_ref())
        .collect();
    // Both lists are refused whole, before any media playlist is loaded.
    let mut budget = Budget::new();
    for _ in 0..variants.len() + audio_uris.len() {
        budget.representation().map_err(bad)?;
    }
    let mut video = Vec::new();
    let mut duration_s: f64 = 0.0;
    for v in variants {
        let r = media_representation(&v.uri, v.bandwidth_bps, name, load, &mut budget)?;
        duration_s = duration_s.max(r.segment_durations_s.iter().sum());
        video.push(Representation {
            width: v.width,
            height: v.height,
            codecs: v.codecs.split(',').next().unwrap_or("").trim().to_string(),
            mime_type: "video/mp4".into(),
            ..r
        });
    }
    let mut audio = Vec::new();
    for uri in audio_uris {
        let r = media_representation(uri, 0, name, load, &mut budget)?;
        audio.push(Representation {
            mime_type: "audio/mp4".into(),
            ..r
        });
    }
    finish(video, audio, duration_s, name)
}

/// Loads one media playlist and lists its segments relative to the master.
fn media_representation(
    uri: &str,
    bandwidth_bps: u64,
    master_name: &str,
    load: &mut dyn FnMut(&str) -> Result<String, MediaError>,
    budget: &mut Budget,
) -> Result<Representation, MediaError> {
    let media_name = join_url(master_name, &neuralstream_data::excerpt(uri));
    let bad = |reason: String| MediaError::manifest(media_name.clone(), reason);
    check_url(uri).map_err(bad)?;
    let text = load(uri)?;
    check_manifest_size(text.len() as u64, &media_name)?;
    let pl = m3u8_rs::parse_media_playlist_res(text.as_bytes()).map_err(|e| {
        bad(format!(
            "not a valid HLS media playlist: {}",
            parser_message(&format!("{e:?}"))
        ))
    })?;
    if !pl.end_list {
        return Err(bad(
            "no #EXT-X-ENDLIST: live playlists are not supported; package the video as VOD".into(),
        ));
    }
    check_segment_count(pl.segments.len()).map_err(bad)?;
    let mut out = Representation {
        id: uri.to_string(),
        bandwidth_bps,
        width: 0,
        height: 0,
        codecs: String::new(),
        mime_type: String::new(),
        init_url: String::new(),
        segment_urls: Vec::with_capacity(pl.segments.len()),
        segment_durations_s: Vec::with_capacity(pl.segments.len()),
    };
    for (k, s) in pl.segments.iter().enumerate() {
        if s.byte_range.is_some() {
            return Err(bad(format!(
                "segment {k} uses #EXT-X-BYTERANGE; byte-range addressing is not supported"
            )));
        }
        if let Some(map) = &s.map {
            let u = join_url(uri, &map.uri);
            check_url(&u).map_err(bad)?;
            if !out.init_url.is_empty() && out.init_url != u {
                return Err(bad(format!(
                    "segment {k} changes #EXT-X-MAP; one initialization segment per rendition is supported"
                )));
            }
            out.init_url = u;
        }
        budget
            .push(&mut out, join_url(uri, &s.uri), f64::from(s.duration))
            .map_err(bad)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An MPD as FFmpeg 5.1's dash muxer writes it (trimmed), SegmentTemplate with @duration.
    const FFMPEG_MPD: &str = include_str!("../tests/fixtures/ffmpeg.mpd");

    #[test]
    fn a_body_that_is_not_an_mpd_is_not_echoed_whole() {
        let json = format!("{{\"name\": \"clip\", \"pad\": \"{}\"}}", "x".repeat(8000));
        let e = parse_mpd(&json, "https://h/media/clip/video.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a valid MPD"), "{e}");
        assert!(e.contains("video.json"), "{e}");
        assert!(e.len() < 600, "{} bytes: {e}", e.len());
    }

    #[test]
    fn ffmpeg_template_with_duration() {
        let p = parse_mpd(FFMPEG_MPD, "m.mpd").unwrap();
        assert_eq!(p.representations.len(), 2);
        let r0 = &p.representations[0];
        assert_eq!((r0.id.as_str(), r0.bandwidth_bps), ("0", 400_000));
        assert_eq!((r0.width, r0.height), (256, 144));
        assert_eq!(r0.codecs, "avc1.64000c");
        assert_eq!(r0.mime_type, "video/mp4");
        assert_eq!(r0.init_url, "init-0.m4s");
        assert_eq!(
            r0.segment_urls,
            [
                "chunk-0-00001.m4s",
                "chunk-0-00002.m4s",
                "chunk-0-00003.m4s"
            ]
        );
        assert_eq!(r0.segment_durations_s, [4.0, 4.0, 2.0]);
        assert_eq!(p.segment_count(), 3);
        assert_eq!(p.segment_duration_s, 4.0);
        assert_eq!(p.duration_s, 10.0);
        assert_eq!(p.audio.len(), 1);
        assert_eq!(p.audio[0].init_url, "init-2.m4s");
    }

    #[test]
    fn timeline_inheritance_and_base_url() {
        let xml = include_str!("../tests/fixtures/timeline.mpd");
        let p = parse_mpd(xml, "t.mpd").unwrap();
        let lo = &p.representations[0];
        assert_eq!(lo.id, "lo");
        assert_eq!(lo.codecs, "vp09.00.40.08");
        assert_eq!(lo.init_url, "https://cdn.example/v/low/lo/init.mp4");
        assert_eq!(
            lo.segment_urls,
            [
                "https://cdn.example/v/low/n005.m4s",
                "https://cdn.example/v/low/n006.m4s",
                "https://cdn.example/v/low/n007.m4s"
            ]
        );
        let hi = &p.representations[1];
        assert_eq!(
            hi.segment_urls[2],
            "https://cdn.example/v/hi/122880-2000000.m4s"
        );
        assert_eq!(hi.segment_durations_s, [4.0, 4.0, 2.0]);
        assert!(p.audio.is_empty());
    }

    #[test]
    fn timeline_negative_repeat_fills_the_period() {
        let xml = r#"<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT10S">
 <Period><AdaptationSet contentType="video">
  <Representation id="a" bandwidth="1" mimeType="video/mp4">
   <SegmentTemplate timescale="1" media="s$Number$.m4s"><SegmentTimeline><S t="0" d="4" r="-1"/></SegmentTimeline></SegmentTemplate>
  </Representation></AdaptationSet></Period></MPD>"#;
        let p = parse_mpd(xml, "t.mpd").unwrap();
        assert_eq!(
            p.representations[0].segment_urls,
            ["s1.m4s", "s2.m4s", "s3.m4s"]
        );
    }

    #[test]
    fn segment_list() {
        let xml = r#"<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT8S">
 <Period><AdaptationSet mimeType="video/mp4">
  <Representation id="a" bandwidth="100">
   <SegmentList timescale="1000" duration="4000"><Initialization sourceURL="i.mp4"/>
    <SegmentURL media="a.m4s"/><SegmentURL media="b.m4s"/></SegmentList>
  </Representation></AdaptationSet></Period></MPD>"#;
        let p = parse_mpd(xml, "l.mpd").unwrap();
        let r = &p.representations[0];
        assert_eq!(r.init_url, "i.mp4");
        assert_eq!(r.segment_urls, ["a.m4s", "b.m4s"]);
        assert_eq!(r.segment_durations_s, [4.0, 4.0]);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let e = parse_mpd("<html/>", "x.mpd").unwrap_err().to_string();
        assert!(e.starts_with("x.mpd: "), "{e}");
        let no_bw = FFMPEG_MPD.replace(" bandwidth=\"400000\"", "");
        let e = parse_mpd(&no_bw, "m.mpd").unwrap_err().to_string();
        assert!(e.contains("Representation 0: missing @bandwidth"), "{e}");
        let live = FFMPEG_MPD.replace("type=\"static\"", "type=\"dynamic\"");
        let e = parse_mpd(&live, "m.mpd").unwrap_err().to_string();
        assert!(e.contains("live MPDs"), "{e}");
        let base = r#"<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT8S">
 <Period><AdaptationSet mimeType="video/mp4"><Representation id="a" bandwidth="1"><BaseURL>v.mp4</BaseURL>
 <SegmentBase indexRange="800-900"/></Representation></AdaptationSet></Period></MPD>"#;
        let e = parse_mpd(base, "b.mpd").unwrap_err().to_string();
        assert!(e.contains("SegmentBase"), "{e}");
        let bad_template = FFMPEG_MPD.replace("$Number%05d$", "$Numbr$");
        let e = parse_mpd(&bad_template, "m.mpd").unwrap_err().to_string();
        assert!(e.contains("unknown identifier $Numbr$"), "{e}");
    }

    #[test]
    fn template_expansion() {
        let v = TemplateVars {
            id: "v1",
            bandwidth: 42,
        };
        assert_eq!(
            expand(
                "$RepresentationID$_$Number%05d$_$Time$_$Bandwidth$$$.m4s",
                &v,
                7,
                90
            )
            .unwrap(),
            "v1_00007_90_42$.m4s"
        );
        assert!(expand("$Number", &v, 1, 0).is_err());
        assert_eq!(join_url("a/b/manifest.mpd", "c.m4s"), "a/b/c.m4s");
        assert_eq!(join_url("http://x/y/", "/abs.m4s"), "/abs.m4s");
    }

    const MASTER: &str = "#EXTM3U
#EXT-X-VERSION:7
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"group_A1\",NAME=\"audio_2\",DEFAULT=YES,URI=\"media_2.m3u8\"
#EXT-X-STREAM-INF:BANDWIDTH=932168,RESOLUTION=426x240,CODECS=\"avc1.640015,mp4a.40.2\",AUDIO=\"group_A1\"
media_1.m3u8

#EXT-X-STREAM-INF:BANDWIDTH=532168,RESOLUTION=256x144,CODECS=\"avc1.64000c,mp4a.40.2\",AUDIO=\"group_A1\"
media_0.m3u8
";

    fn media(rep: &str, n: usize) -> String {
        let mut s = format!(
            "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-MAP:URI=\"init-{rep}.m4s\"\n"
        );
        for k in 1..=n {
            s += &format!("#EXTINF:4.000000,\n#EXT-X-PROGRAM-DATE-TIME:2026-11-25T11:17:55.000+0000\nchunk-{rep}-{k:05}.m4s\n");
        }
        s + "#EXT-X-ENDLIST\n"
    }

    #[test]
    fn hls_master_and_media() {
        let mut load = |uri: &str| -> Result<String, MediaError> {
            let rep = &uri["media_".len()..uri.len() - ".m3u8".len()];
            Ok(media(rep, 3))
        };
        let p = parse_hls(MASTER, "hls/master.m3u8", &mut load).unwrap();
        assert_eq!(p.representations.len(), 2);
        let r0 = &p.representations[0];
        assert_eq!(r0.bandwidth_bps, 532_168);
        assert_eq!((r0.width, r0.height), (256, 144));
        assert_eq!(r0.codecs, "avc1.64000c");
        assert_eq!(r0.init_url, "init-0.m4s");
        assert_eq!(r0.segment_urls[2], "chunk-0-00003.m4s");
        assert_eq!(p.segment_count(), 3);
        assert_eq!(p.duration_s, 12.0);
        assert_eq!(p.audio[0].init_url, "init-2.m4s");

        let mut live = |_: &str| Ok(media("0", 2).replace("#EXT-X-ENDLIST\n", ""));
        let e = parse_hls(MASTER, "m.m3u8", &mut live)
            .unwrap_err()
            .to_string();
        assert!(e.contains("live playlists"), "{e}");
        let e = parse_hls(&media("0", 1), "m.m3u8", &mut load)
            .unwrap_err()
            .to_string();
        assert!(e.contains("master playlist"), "{e}");
    }
    /// A one-representation MPD around `inner` (the Representation's addressing) and `mpd_attrs`.
    fn mpd_with(duration: &str, inner: &str) -> String {
        format!(
            r#"<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="{duration}">
 <Period><AdaptationSet contentType="video" mimeType="video/mp4">
  <Representation id="a" bandwidth="1">{inner}</Representation></AdaptationSet></Period></MPD>"#
        )
    }

    fn mpd_err(xml: &str) -> String {
        let e = parse_mpd(xml, "m.mpd").unwrap_err().to_string();
        assert!(e.starts_with("m.mpd: "), "{e}");
        assert!(e.len() < 600, "{} bytes: {e}", e.len());
        e
    }

    #[test]
    fn a_huge_declared_duration_is_refused_before_building_urls() {
        // Issue 16 finding 2: PT100000000S at 4 s per segment would be 25 million URLs.
        let t = r#"<SegmentTemplate timescale="1" duration="4" media="s$Number$.m4s"/>"#;
        let e = mpd_err(&mpd_with("PT100000000S", t));
        assert!(e.contains("more than 100000 segments"), "{e}");
        // Just under the bound still works: 100,000 segments of 1 s.
        let t1 = r#"<SegmentTemplate timescale="1" duration="1" media="s$Number$.m4s"/>"#;
        let p = parse_mpd(&mpd_with("PT100000S", t1), "m.mpd").unwrap();
        assert_eq!(p.segment_count(), MAX_SEGMENTS);
        assert!(mpd_err(&mpd_with("PT100001S", t1)).contains("more than 100000 segments"));
        // endNumber beyond the bound, and at the edge of 64 bits.
        for end in ["200000", "18446744073709551615"] {
            let t = format!(
                r#"<SegmentTemplate timescale="1" duration="4" startNumber="0" endNumber="{end}" media="s$Number$.m4s"/>"#
            );
            assert!(mpd_err(&mpd_with("PT8S", &t)).contains("more than 100000 segments"));
        }
    }

    #[test]
    fn timeline_repeats_are_bounded() {
        let timeline = |s: &str| {
            format!(
                r#"<SegmentTemplate timescale="1" media="s$Time$.m4s"><SegmentTimeline>{s}</SegmentTimeline></SegmentTemplate>"#
            )
        };
        let e = mpd_err(&mpd_with(
            "PT8S",
            &timeline(r#"<S t="0" d="4" r="100000000"/>"#),
        ));
        assert!(e.contains("more than 100000 segments"), "{e}");
        // r=-1 fills the period: a huge period is bounded the same way.
        let e = mpd_err(&mpd_with(
            "PT100000000S",
            &timeline(r#"<S t="0" d="4" r="-1"/>"#),
        ));
        assert!(e.contains("more than 100000 segments"), "{e}");
        // Several S elements add up.
        let e = mpd_err(&mpd_with(
            "PT8S",
            &timeline(r#"<S t="0" d="1" r="60000"/><S d="1" r="60000"/>"#),
        ));
        assert!(e.contains("more than 100000 segments"), "{e}");
        // Times beyond 64 bits are an error, not a wrap.
        let e = mpd_err(&mpd_with(
            "PT8S",
            &timeline(r#"<S t="18446744073709551614" d="4" r="2"/>"#),
        ));
        assert!(e.contains("overflow"), "{e}");
    }

    #[test]
    fn representations_and_periods_are_bounded() {
        let reps: String = (0..=MAX_REPRESENTATIONS)
            .map(|k| format!(r#"<Representation id="r{k}" bandwidth="{}"/>"#, k + 1))
            .collect();
        let xml = format!(
            r#"<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT8S">
 <Period><AdaptationSet contentType="video" mimeType="video/mp4">
 <SegmentTemplate timescale="1" duration="4" media="$RepresentationID$-$Number$.m4s"/>{reps}</AdaptationSet></Period></MPD>"#
        );
        let e = mpd_err(&xml);
        assert!(e.contains("more than 64 representations"), "{e}");
        let two = FFMPEG_MPD.replace(" </Period>", " </Period><Period id=\"1\"/>");
        assert!(mpd_err(&two).contains("2 Periods; only single-period"));
    }

    #[test]
    fn urls_and_manifests_are_bounded_in_length() {
        let long = "x".repeat(MAX_URL_BYTES);
        let t = format!(r#"<SegmentTemplate timescale="1" duration="4" media="{long}$Number$"/>"#);
        let e = mpd_err(&mpd_with("PT8S", &t));
        assert!(e.contains("longer than 2048 bytes"), "{e}");
        // A template format as wide as memory.
        let t = r#"<SegmentTemplate timescale="1" duration="4" media="$Number%0999999999999d$"/>"#;
        let e = mpd_err(&mpd_with("PT8S", t));
        assert!(e.contains("wider than 32 digits"), "{e}");
        // $RepresentationID$ repeated: refused once the URL is too long, not after expanding all.
        let t = format!(
            r#"<SegmentTemplate timescale="1" duration="4" media="{}"/>"#,
            "$RepresentationID$".repeat(100_000)
        );
        let xml =
            mpd_with("PT8S", &t).replace(r#"id="a""#, &format!(r#"id="{}""#, "i".repeat(1000)));
        assert!(mpd_err(&xml).contains("longer than 2048 bytes"));
        let huge = format!("{}{}", FFMPEG_MPD, " ".repeat(MAX_MANIFEST_BYTES));
        assert!(mpd_err(&huge).contains("larger than 8 MiB"));
    }

    #[test]
    fn segment_urls_are_bounded_together() {
        // Two representations of 20,000 segments with 1.9 KB URLs: 76 MB of URLs.
        let long = "u".repeat(1900);
        let xml = format!(
            r#"<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT20000S">
 <Period><AdaptationSet contentType="video" mimeType="video/mp4">
 <SegmentTemplate timescale="1" duration="1" media="{long}$RepresentationID$-$Number$"/>
 <Representation id="a" bandwidth="1"/><Representation id="b" bandwidth="2"/></AdaptationSet></Period></MPD>"#
        );
        let e = mpd_err(&xml);
        assert!(e.contains("more than 64 MiB together"), "{e}");
    }

    #[test]
    fn segment_lists_are_bounded() {
        let urls = "<SegmentURL media=\"s.m4s\"/>".repeat(MAX_SEGMENTS + 1);
        let xml = mpd_with(
            "PT8S",
            &format!("<SegmentList duration=\"1\">{urls}</SegmentList>"),
        );
        assert!(mpd_err(&xml).contains("more than 100000 segments"));
    }

    #[test]
    fn hls_parse_errors_do_not_echo_the_playlist() {
        // m3u8-rs's error lists every remaining byte of the input.
        let junk = format!("dd\n{}", "\u{fffd}d\n".repeat(5000));
        let e = parse_hls(&junk, "h.m3u8", &mut |_| Ok(String::new()))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("h.m3u8: not a valid HLS playlist"), "{e}");
        assert!(e.len() < 600, "{} bytes", e.len());
        let mut junk_media = |_: &str| Ok(junk.clone());
        let e = parse_hls(MASTER, "h.m3u8", &mut junk_media)
            .unwrap_err()
            .to_string();
        assert!(e.len() < 600, "{} bytes", e.len());
    }

    #[test]
    fn hls_counts_are_bounded() {
        // Too many variants: refused before any media playlist is loaded.
        let mut master = String::from("#EXTM3U\n");
        for k in 0..=MAX_REPRESENTATIONS {
            master += &format!("#EXT-X-STREAM-INF:BANDWIDTH={}\nm{k}.m3u8\n", k + 1);
        }
        let mut loads = 0;
        let mut load = |_: &str| -> Result<String, MediaError> {
            loads += 1;
            Ok(media("0", 1))
        };
        let e = parse_hls(&master, "h.m3u8", &mut load)
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than 64 representations"), "{e}");
        assert_eq!(loads, 0);
        // Too many segments in a media playlist.
        let lean = format!(
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n{}#EXT-X-ENDLIST\n",
            "#EXTINF:4,\nc.m4s\n".repeat(MAX_SEGMENTS + 1)
        );
        let mut many = |_: &str| Ok(lean.clone());
        let e = parse_hls(MASTER, "h.m3u8", &mut many)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("more than 100000 segments") && e.len() < 600,
            "{e}"
        );
        // A media playlist larger than the manifest bound.
        let mut huge = |_: &str| {
            Ok(format!(
                "{}{}",
                media("0", 1),
                "#\n".repeat(MAX_MANIFEST_BYTES / 2 + 1)
            ))
        };
        let e = parse_hls(MASTER, "h.m3u8", &mut huge)
            .unwrap_err()
            .to_string();
        assert!(e.contains("larger than 8 MiB"), "{e}");
    }
}
