//! DASH MPD -> the list of video representations with their init and segment URLs.
//!
//! Parsing is dash-mpd-core's; this module resolves what a player needs from it: the video
//! adaptation set's representations sorted by bandwidth (level 0 = lowest), `BaseURL`s, inherited
//! `SegmentTemplate` attributes (`$RepresentationID$`, `$Number$`/`$Number%05d$`, `$Bandwidth$`,
//! `$Time$`, `SegmentTimeline`) and `SegmentList`s, all resolved against the MPD's URL. It keeps the
//! shape of `neuralstream_media::manifest::Presentation` so the two can be swapped.

use crate::error::PlayerError;
use dash_mpd_core::{SegmentTemplate, SegmentTimeline, MPD};
use reqwest::Url;

/// One video representation (a ladder level).
#[derive(Debug, Clone, PartialEq)]
pub struct Representation {
    /// `@id`.
    pub id: String,
    /// `@bandwidth`, bit/s.
    pub bandwidth_bps: u64,
    /// Frame width, pixels (0 when not given).
    pub width: u32,
    /// Frame height, pixels (0 when not given).
    pub height: u32,
    /// `@codecs` (empty when not given).
    pub codecs: String,
    /// `@mimeType` (empty when not given).
    pub mime_type: String,
    /// Initialization segment, when the representation has one.
    pub init_url: Option<Url>,
    /// Media segments in playback order.
    pub segment_urls: Vec<Url>,
}

/// The playable video of an MPD.
#[derive(Debug, Clone, PartialEq)]
pub struct Presentation {
    /// Video representations, lowest bandwidth first.
    pub representations: Vec<Representation>,
    /// Nominal duration of one segment, seconds.
    pub segment_duration_s: f64,
}

impl Presentation {
    /// Number of segments every representation has (the smallest count, if they differ).
    pub fn num_segments(&self) -> usize {
        self.representations
            .iter()
            .map(|r| r.segment_urls.len())
            .min()
            .unwrap_or(0)
    }
}

/// Parses MPD text fetched from `mpd_url`.
pub fn parse_mpd(text: &str, mpd_url: &Url) -> Result<Presentation, PlayerError> {
    let err = |problem: String| PlayerError::Manifest {
        url: mpd_url.to_string(),
        problem,
    };
    let mpd: MPD =
        dash_mpd_core::parse(text).map_err(|e| err(format!("not a readable DASH MPD ({e})")))?;
    if mpd.mpdtype.as_deref() == Some("dynamic") {
        return Err(err(
            "is a live (type=\"dynamic\") MPD; this player plays static (on-demand) presentations"
                .into(),
        ));
    }
    let mut base = mpd_url.clone();
    if let Some(b) = mpd.base_url.first() {
        base = join(&base, &b.base).map_err(&err)?;
    }
    let period = mpd
        .periods
        .first()
        .ok_or_else(|| err("has no Period; package the video again".into()))?;
    if let Some(b) = period.BaseURL.first() {
        base = join(&base, &b.base).map_err(&err)?;
    }
    let total_s = period
        .duration
        .or(mpd.mediaPresentationDuration)
        .map(|d| d.as_secs_f64());
    let adaptation = period
        .adaptations
        .iter()
        .find(|a| dash_mpd_core::is_video_adaptation(a) && !a.representations.is_empty())
        .ok_or_else(|| {
            err("has no video AdaptationSet with a Representation (contentType=\"video\" or mimeType=\"video/...\"); package a video ladder with `neuralstream package`".into())
        })?;
    let mut aset_base = base.clone();
    if let Some(b) = adaptation.BaseURL.first() {
        aset_base = join(&aset_base, &b.base).map_err(&err)?;
    }
    let mut reps = Vec::new();
    let mut seg_duration_s: Option<f64> = None;
    for (i, r) in adaptation.representations.iter().enumerate() {
        let id = r.id.clone().unwrap_or_else(|| i.to_string());
        let bandwidth_bps = r.bandwidth.filter(|&b| b > 0).ok_or_else(|| {
            err(format!(
                "Representation '{id}' has no @bandwidth; every video representation needs one"
            ))
        })?;
        let mut rbase = aset_base.clone();
        if let Some(b) = r.BaseURL.first() {
            rbase = join(&rbase, &b.base).map_err(&err)?;
        }
        let (init_url, segment_urls, dur) = if let Some(t) = merge_templates(&[
            &period.SegmentTemplate,
            &adaptation.SegmentTemplate,
            &r.SegmentTemplate,
        ]) {
            from_template(&t, &id, bandwidth_bps, &rbase, total_s)
                .map_err(|p| err(format!("Representation '{id}': {p}")))?
        } else if let Some(list) = r.SegmentList.as_ref().or(adaptation.SegmentList.as_ref()) {
            let timescale = list.timescale.unwrap_or(1).max(1) as f64;
            let init = match list
                .Initialization
                .as_ref()
                .and_then(|i| i.sourceURL.as_ref())
            {
                Some(u) => Some(join(&rbase, u).map_err(&err)?),
                None => None,
            };
            let mut urls = Vec::new();
            for s in &list.segment_urls {
                let m = s.media.as_deref().ok_or_else(|| {
                    err(format!("Representation '{id}': a SegmentURL has no @media"))
                })?;
                urls.push(join(&rbase, m).map_err(&err)?);
            }
            (init, urls, list.duration.map(|d| d as f64 / timescale))
        } else {
            return Err(err(format!(
                "Representation '{id}' has neither SegmentTemplate nor SegmentList (SegmentBase byte-range addressing is not supported); package with segment files, e.g. `neuralstream package`"
            )));
        };
        if segment_urls.is_empty() {
            return Err(err(format!("Representation '{id}' lists no media segment")));
        }
        if seg_duration_s.is_none() {
            seg_duration_s = dur;
        }
        reps.push(Representation {
            id,
            bandwidth_bps,
            width: r.width.or(adaptation.width).unwrap_or(0) as u32,
            height: r.height.or(adaptation.height).unwrap_or(0) as u32,
            codecs: r
                .codecs
                .clone()
                .or(adaptation.codecs.clone())
                .unwrap_or_default(),
            mime_type: r
                .mimeType
                .clone()
                .or(adaptation.mimeType.clone())
                .unwrap_or_default(),
            init_url,
            segment_urls,
        });
    }
    reps.sort_by_key(|r| r.bandwidth_bps);
    if reps
        .windows(2)
        .any(|w| w[0].bandwidth_bps == w[1].bandwidth_bps)
    {
        return Err(err(
            "two video representations have the same @bandwidth; levels must have distinct bitrates"
                .into(),
        ));
    }
    let segment_duration_s = seg_duration_s
        .filter(|d| d.is_finite() && *d > 0.0)
        .ok_or_else(|| {
            err(
                "no segment duration (SegmentTemplate@duration or a SegmentTimeline) is given"
                    .into(),
            )
        })?;
    Ok(Presentation {
        representations: reps,
        segment_duration_s,
    })
}

fn join(base: &Url, rel: &str) -> Result<Url, String> {
    base.join(rel.trim())
        .map_err(|e| format!("cannot resolve '{rel}' against {base}: {e}"))
}

/// Attribute-wise inheritance: later (more specific) templates override earlier ones.
fn merge_templates(levels: &[&Option<SegmentTemplate>]) -> Option<SegmentTemplate> {
    let mut out: Option<SegmentTemplate> = None;
    for t in levels.iter().filter_map(|t| t.as_ref()) {
        let m = out.get_or_insert_with(SegmentTemplate::default);
        macro_rules! take {
            ($($f:ident),*) => { $( if t.$f.is_some() { m.$f = t.$f.clone(); } )* };
        }
        take!(
            media,
            initialization,
            startNumber,
            endNumber,
            duration,
            timescale,
            SegmentTimeline,
            Initialization
        );
    }
    out
}

type Addressing = (Option<Url>, Vec<Url>, Option<f64>);

fn from_template(
    t: &SegmentTemplate,
    id: &str,
    bandwidth_bps: u64,
    base: &Url,
    total_s: Option<f64>,
) -> Result<Addressing, String> {
    let media = t
        .media
        .as_deref()
        .ok_or("its SegmentTemplate has no @media")?;
    let timescale = t.timescale.unwrap_or(1).max(1) as f64;
    let start = t.startNumber.unwrap_or(1);
    let init_name = t
        .initialization
        .clone()
        .or_else(|| t.Initialization.as_ref().and_then(|i| i.sourceURL.clone()));
    let init = match init_name {
        Some(name) => Some(join(base, &expand(&name, id, bandwidth_bps, None, None)?)?),
        None => None,
    };
    // (number, time) of every segment, and the nominal duration.
    let mut segs: Vec<(u64, u64)> = Vec::new();
    let duration_s;
    if let Some(SegmentTimeline { segments }) = &t.SegmentTimeline {
        let end_ticks = total_s.map(|s| (s * timescale).round() as u64);
        let mut time = 0u64;
        for (i, s) in segments.iter().enumerate() {
            if let Some(st) = s.t {
                time = st;
            }
            if s.d == 0 {
                return Err("a SegmentTimeline S element has d=0".into());
            }
            let repeats = match s.r {
                Some(r) if r < 0 => {
                    let until = segments.get(i + 1).and_then(|n| n.t).or(end_ticks).ok_or(
                        "a SegmentTimeline repeats to the end (r=-1) but the MPD gives no duration",
                    )?;
                    until.saturating_sub(time).div_ceil(s.d).saturating_sub(1)
                }
                Some(r) => r as u64,
                None => 0,
            };
            for _ in 0..=repeats {
                segs.push((start + segs.len() as u64, time));
                time += s.d;
            }
        }
        duration_s = segments.first().map(|s| s.d as f64 / timescale);
    } else {
        let d = t
            .duration
            .filter(|d| d.is_finite() && *d > 0.0)
            .ok_or("its SegmentTemplate has neither @duration nor a SegmentTimeline")?;
        let seg_s = d / timescale;
        let count = if let Some(end) = t.endNumber {
            end.saturating_sub(start) + 1
        } else {
            let total = total_s.ok_or(
                "the MPD gives no mediaPresentationDuration or Period@duration, so the number of segments is unknown",
            )?;
            // A tolerance of 1 ms keeps 60.0 / 4.0 at 15 segments despite rounding.
            ((total - 1e-3) / seg_s).ceil().max(1.0) as u64
        };
        for k in 0..count {
            segs.push((start + k, (k as f64 * d).round() as u64));
        }
        duration_s = Some(seg_s);
    }
    let mut urls = Vec::with_capacity(segs.len());
    for (number, time) in segs {
        urls.push(join(
            base,
            &expand(media, id, bandwidth_bps, Some(number), Some(time))?,
        )?);
    }
    Ok((init, urls, duration_s))
}

/// Expands a DASH URL template (ISO/IEC 23009-1 5.3.9.4.4).
fn expand(
    template: &str,
    id: &str,
    bandwidth_bps: u64,
    number: Option<u64>,
    time: Option<u64>,
) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 8);
    let mut rest = template;
    while let Some(open) = rest.find('$') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after
            .find('$')
            .ok_or_else(|| format!("template '{template}' has an unmatched '$'"))?;
        let ident = &after[..close];
        rest = &after[close + 1..];
        if ident.is_empty() {
            out.push('$');
            continue;
        }
        let (name, fmt) = match ident.find('%') {
            Some(p) => (&ident[..p], Some(&ident[p..])),
            None => (ident, None),
        };
        let value: u64 = match name {
            "RepresentationID" => {
                out.push_str(id);
                continue;
            }
            "Number" => number.ok_or_else(|| format!("$Number$ is not allowed in '{template}'"))?,
            "Time" => time.ok_or_else(|| format!("$Time$ is not allowed in '{template}'"))?,
            "Bandwidth" => bandwidth_bps,
            other => {
                return Err(format!(
                    "template '{template}' uses unknown identifier ${other}$"
                ))
            }
        };
        match fmt {
            None => out.push_str(&value.to_string()),
            Some(f) => {
                // %0Nd
                let width: usize = f
                    .strip_prefix("%0")
                    .and_then(|w| w.strip_suffix('d'))
                    .and_then(|w| w.parse().ok())
                    .ok_or_else(|| {
                        format!("template '{template}': unsupported format '{f}' (expected %0Nd)")
                    })?;
                out.push_str(&format!("{value:0width$}"));
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Name of the media folder an MPD URL points into (`.../media/<name>/manifest.mpd` -> `<name>`).
pub fn media_name(mpd_url: &Url) -> Option<String> {
    let segs: Vec<&str> = mpd_url.path_segments()?.filter(|s| !s.is_empty()).collect();
    (segs.len() >= 2).then(|| segs[segs.len() - 2].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FFMPEG_STYLE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static" mediaPresentationDuration="PT1M0.0S" maxSegmentDuration="PT4.0S" minBufferTime="PT8.0S">
 <Period id="0" start="PT0.0S">
  <AdaptationSet id="0" contentType="video" startWithSAP="1" segmentAlignment="true">
   <Representation id="1" mimeType="video/mp4" codecs="avc1.64001e" bandwidth="800000" width="640" height="360">
    <SegmentTemplate timescale="1000000" duration="4000000" initialization="init-$RepresentationID$.m4s" media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1"/>
   </Representation>
   <Representation id="0" mimeType="video/mp4" codecs="avc1.640015" bandwidth="400000" width="426" height="240">
    <SegmentTemplate timescale="1000000" duration="4000000" initialization="init-$RepresentationID$.m4s" media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1"/>
   </Representation>
  </AdaptationSet>
  <AdaptationSet id="1" contentType="audio">
   <Representation id="5" mimeType="audio/mp4" codecs="mp4a.40.2" bandwidth="128000">
    <SegmentTemplate timescale="1000000" duration="4000000" initialization="init-$RepresentationID$.m4s" media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1"/>
   </Representation>
  </AdaptationSet>
 </Period>
</MPD>"#;

    #[test]
    fn ffmpeg_template_resolves_sorted_levels_and_urls() {
        let url = Url::parse("https://127.0.0.1:8443/media/clip/manifest.mpd").unwrap();
        let p = parse_mpd(FFMPEG_STYLE, &url).unwrap();
        assert_eq!(p.representations.len(), 2);
        assert_eq!(p.segment_duration_s, 4.0);
        assert_eq!(p.num_segments(), 15);
        let r0 = &p.representations[0];
        assert_eq!(
            (r0.id.as_str(), r0.bandwidth_bps, r0.height),
            ("0", 400_000, 240)
        );
        assert_eq!(
            r0.init_url.as_ref().unwrap().as_str(),
            "https://127.0.0.1:8443/media/clip/init-0.m4s"
        );
        assert_eq!(
            r0.segment_urls[14].as_str(),
            "https://127.0.0.1:8443/media/clip/chunk-0-00015.m4s"
        );
        assert_eq!(media_name(&url).as_deref(), Some("clip"));
    }

    #[test]
    fn timeline_and_time_template() {
        let mpd = r#"<MPD type="static" mediaPresentationDuration="PT10S"><Period>
          <AdaptationSet mimeType="video/mp4"><BaseURL>v/</BaseURL>
           <SegmentTemplate timescale="10" initialization="$RepresentationID$/init.mp4" media="$RepresentationID$/$Time$.m4s">
            <SegmentTimeline><S t="0" d="40" r="1"/><S d="20"/></SegmentTimeline></SegmentTemplate>
           <Representation id="a" bandwidth="1000"/></AdaptationSet></Period></MPD>"#;
        let url = Url::parse("http://h/x/m.mpd").unwrap();
        let p = parse_mpd(mpd, &url).unwrap();
        let urls: Vec<_> = p.representations[0]
            .segment_urls
            .iter()
            .map(|u| u.path().to_string())
            .collect();
        assert_eq!(urls, ["/x/v/a/0.m4s", "/x/v/a/40.m4s", "/x/v/a/80.m4s"]);
        assert_eq!(p.segment_duration_s, 4.0);
    }

    #[test]
    fn errors_say_what_is_missing() {
        let url = Url::parse("http://h/m.mpd").unwrap();
        let e = parse_mpd("<html>", &url).unwrap_err().to_string();
        assert!(e.contains("http://h/m.mpd") && e.contains("MPD"), "{e}");
        let audio_only = r#"<MPD type="static" mediaPresentationDuration="PT8S"><Period><AdaptationSet contentType="audio">
          <Representation id="a" bandwidth="1000" mimeType="audio/mp4"><SegmentTemplate duration="4" media="$Number$.m4s"/></Representation>
          </AdaptationSet></Period></MPD>"#;
        let e = parse_mpd(audio_only, &url).unwrap_err().to_string();
        assert!(e.contains("no video AdaptationSet"), "{e}");
        let no_bw = r#"<MPD type="static" mediaPresentationDuration="PT8S"><Period><AdaptationSet contentType="video">
          <Representation id="v"><SegmentTemplate duration="4" media="$Number$.m4s"/></Representation>
          </AdaptationSet></Period></MPD>"#;
        let e = parse_mpd(no_bw, &url).unwrap_err().to_string();
        assert!(e.contains("@bandwidth"), "{e}");
        assert!(expand("a$Foo$", "x", 1, Some(1), None).is_err());
        assert_eq!(expand("$$x$Bandwidth$", "x", 7, None, None).unwrap(), "$x7");
    }
}
