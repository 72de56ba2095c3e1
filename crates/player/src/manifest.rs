//! The player's view of a DASH MPD: the video ladder with every download resolved to a full URL.
//!
//! Reading the MPD (representations, bandwidths, codecs, `BaseURL`s, inherited `SegmentTemplate`s,
//! `SegmentTimeline`s, `SegmentList`s) is [`neuralstream_media::manifest::parse_mpd`]'s job, the
//! same reader the packager verifies its output with, so there is one MPD reader in the workspace.
//! What stays here is player-specific: resolving the init and segment URLs (which that reader
//! returns relative to the manifest) against the MPD's URL, and the checks playback needs beyond a
//! valid MPD (every level has a non-zero bandwidth, and bandwidths are distinct so levels are
//! ordered unambiguously).

use crate::error::PlayerError;
use neuralstream_media::manifest as mpd;
use neuralstream_media::MediaError;
use reqwest::Url;

/// One video representation (a ladder level) and its download list.
#[derive(Debug, Clone, PartialEq)]
pub struct Representation {
    /// The representation as the MPD describes it (`id`, `bandwidth_bps`, `width`, `height`,
    /// `codecs`, ...; its URLs there are relative to the MPD).
    pub info: mpd::Representation,
    /// Initialization segment, when the representation has one.
    pub init_url: Option<Url>,
    /// Media segments in playback order.
    pub segment_urls: Vec<Url>,
}

/// The playable video of an MPD.
#[derive(Debug, Clone, PartialEq)]
pub struct Presentation {
    /// Video representations, lowest bandwidth first (level 0 = lowest).
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

/// Parses MPD text fetched from `mpd_url` and resolves every download against `mpd_url`.
/// Errors are [`PlayerError::Manifest`] naming `mpd_url` and the element or attribute at fault.
pub fn parse_mpd(text: &str, mpd_url: &Url) -> Result<Presentation, PlayerError> {
    let err = |problem: String| PlayerError::Manifest {
        url: mpd_url.to_string(),
        problem,
    };
    let parsed = mpd::parse_mpd(text, mpd_url.as_str()).map_err(|e| match e {
        MediaError::Manifest { reason, .. } => err(reason),
        other => err(other.to_string()),
    })?;
    if let Some(r) = parsed.representations.iter().find(|r| r.bandwidth_bps == 0) {
        return Err(err(format!(
            "Representation '{}' has @bandwidth=\"0\"; every video representation needs its bit rate",
            r.id
        )));
    }
    // `parsed.representations` is sorted by bandwidth, so equal ones are neighbours.
    if let Some(w) = parsed
        .representations
        .windows(2)
        .find(|w| w[0].bandwidth_bps == w[1].bandwidth_bps)
    {
        return Err(err(format!(
            "video representations '{}' and '{}' have the same @bandwidth; levels must have distinct bitrates",
            w[0].id, w[1].id
        )));
    }
    let segment_duration_s = Some(parsed.segment_duration_s)
        .filter(|d| d.is_finite() && *d > 0.0)
        .ok_or_else(|| {
            err(
                "no positive segment duration (SegmentTemplate@duration, a SegmentTimeline or SegmentList@duration) is given"
                    .into(),
            )
        })?;
    let mut representations = Vec::with_capacity(parsed.representations.len());
    for info in parsed.representations {
        let resolve = |rel: &str| {
            resolve(mpd_url, rel).map_err(|p| err(format!("Representation '{}': {p}", info.id)))
        };
        let init_url = match info.init_url.as_str() {
            "" => None,
            rel => Some(resolve(rel)?),
        };
        let segment_urls = info
            .segment_urls
            .iter()
            .map(|rel| resolve(rel))
            .collect::<Result<Vec<_>, _>>()?;
        representations.push(Representation {
            info,
            init_url,
            segment_urls,
        });
    }
    Ok(Presentation {
        representations,
        segment_duration_s,
    })
}

/// Resolves a URL the media reader returned relative to the manifest against the MPD's URL.
fn resolve(mpd_url: &Url, rel: &str) -> Result<Url, String> {
    mpd_url
        .join(rel.trim())
        .map_err(|e| format!("cannot resolve '{rel}' against {mpd_url}: {e}"))
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
            (r0.info.id.as_str(), r0.info.bandwidth_bps, r0.info.height),
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
          <AdaptationSet mimeType="video/mp4"><BaseURL>
            v/ </BaseURL>
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
        assert!(e.contains("no video representation"), "{e}");
        let no_bw = r#"<MPD type="static" mediaPresentationDuration="PT8S"><Period><AdaptationSet contentType="video">
          <Representation id="v"><SegmentTemplate duration="4" media="$Number$.m4s"/></Representation>
          </AdaptationSet></Period></MPD>"#;
        let e = parse_mpd(no_bw, &url).unwrap_err().to_string();
        assert!(
            e.starts_with("manifest http://h/m.mpd: ")
                && e.contains("Representation v: missing @bandwidth"),
            "{e}"
        );
        let same_bw = FFMPEG_STYLE.replace("bandwidth=\"800000\"", "bandwidth=\"400000\"");
        let e = parse_mpd(&same_bw, &url).unwrap_err().to_string();
        assert!(e.contains("same @bandwidth"), "{e}");
        let zero_bw = FFMPEG_STYLE.replace("bandwidth=\"800000\"", "bandwidth=\"0\"");
        let e = parse_mpd(&zero_bw, &url).unwrap_err().to_string();
        assert!(e.contains("Representation '1' has @bandwidth=\"0\""), "{e}");
        let bad_template = FFMPEG_STYLE.replace("$Number%05d$", "$Numbr$");
        let e = parse_mpd(&bad_template, &url).unwrap_err().to_string();
        assert!(e.contains("unknown identifier $Numbr$"), "{e}");
    }
}
