//! Running a plan in the partial folder: encode, check the manifests and every rendition's key
//! frames, measure quality, and write the video descriptor.

use super::{Event, PackageOptions, Packaged, Plan, DESCRIPTOR_NAME, HLS_NAME, MPD_NAME};
use crate::codec::Codec;
use crate::error::MediaError;
use crate::ffmpeg::{run_with_progress, shell_line, Tools};
use crate::manifest::{read_hls, read_mpd, Presentation};
use crate::quality::{self, Reference, Rendition};
use crate::verify::{check_rendition, RenditionLayout};
use neuralstream_core::video::{Ladder, Level, QualityTable};
use neuralstream_core::Video;
use neuralstream_data::descriptor::{VideoDescriptor, FORMAT, VERSION};
use std::path::Path;
use std::time::Instant;

/// Encodes, checks, measures and describes the package in `work` (see the module docs).
pub(super) fn run_in(
    opts: &PackageOptions,
    tools: &Tools,
    plan: &Plan,
    caps: &crate::ffmpeg::Capabilities,
    work: &Path,
    name: &str,
    on_event: &mut dyn FnMut(Event),
) -> Result<Packaged, MediaError> {
    // 1. Encode.
    on_event(Event::Stage {
        name: format!("encoding {} rungs ({})", plan.rungs.len(), plan.encoder),
        total_s: plan.source.duration_s,
    });
    let t = Instant::now();
    run_with_progress(
        &tools.ffmpeg,
        &plan.encode_args,
        work,
        "encoding the ladder",
        &mut |s| on_event(Event::Progress { done_s: s }),
    )?;
    let encode_s = t.elapsed().as_secs_f64();

    // 2. Check the manifests and files.
    on_event(Event::Stage {
        name: "checking segments and key frames".into(),
        total_s: 0.0,
    });
    if opts.codec == Codec::Hevc {
        patch_hevc_codecs(tools, work)?;
    }
    let mpd = read_mpd(&work.join(MPD_NAME))?;
    let hls = read_hls(&work.join(HLS_NAME))?;
    check_presentation(work, plan, &mpd, &hls, on_event)?;
    let mut layouts: Vec<RenditionLayout> = Vec::with_capacity(mpd.representations.len());
    for r in &mpd.representations {
        layouts.push(check_rendition(tools, work, &r.init_url, &r.segment_urls)?);
    }

    // 3. Quality.
    let vmaf = opts.measure_quality && opts.vmaf && caps.has_libvmaf;
    if opts.measure_quality && opts.vmaf && !caps.has_libvmaf {
        on_event(Event::Note(
            "this FFmpeg has no libvmaf filter: measuring SSIM and PSNR only (Debian's ffmpeg lacks it; pass --ffmpeg PATH to one built with --enable-libvmaf)".into(),
        ));
    }
    let mut quality_tables = Vec::new();
    let mut measure_command = None;
    let mut quality_s = 0.0;
    if opts.measure_quality {
        on_event(Event::Stage {
            name: format!(
                "measuring {} against the source",
                if vmaf {
                    "SSIM, PSNR, VMAF"
                } else {
                    "SSIM, PSNR"
                }
            ),
            total_s: plan.source.duration_s,
        });
        let reference = Reference {
            input_args: plan.reference_args.clone(),
            width: plan.source.width,
            height: plan.source.height,
        };
        let renditions: Vec<Rendition> = layouts
            .iter()
            .map(|l| Rendition {
                input: l.input.clone(),
                frame_segment: l.frame_segment.clone(),
                segments: l.segment_start_s.len(),
            })
            .collect();
        measure_command = Some(shell_line(
            &tools.ffmpeg,
            &quality::measure_args(&reference, &renditions, vmaf),
        ));
        let t = Instant::now();
        let scores = quality::measure(tools, &reference, &renditions, vmaf, work, &mut |s| {
            on_event(Event::Progress { done_s: s })
        })?;
        quality_s = t.elapsed().as_secs_f64();
        quality_tables.push(QualityTable {
            metric: "ssim".into(),
            scores: scores.iter().map(|s| s.ssim.clone()).collect(),
        });
        quality_tables.push(QualityTable {
            metric: "psnr_db".into(),
            scores: scores.iter().map(|s| s.psnr_db.clone()).collect(),
        });
        if vmaf {
            quality_tables.push(QualityTable {
                metric: "vmaf".into(),
                scores: scores.iter().map(|s| s.vmaf.clone()).collect(),
            });
        }
    }

    // 4. Descriptor.
    let chunk_bytes: Vec<Vec<u64>> = mpd
        .representations
        .iter()
        .map(|r| {
            r.segment_urls
                .iter()
                .map(|u| {
                    let p = work.join(u);
                    std::fs::metadata(&p)
                        .map(|m| m.len())
                        .map_err(|e| MediaError::io(p, e))
                })
                .collect()
        })
        .collect::<Result<_, _>>()?;
    let ladder = Ladder {
        levels: mpd
            .representations
            .iter()
            .zip(&plan.rungs)
            .map(|(r, rung)| Level {
                bitrate_kbps: f64::from(rung.bitrate_kbps),
                width: r.width,
                height: r.height,
            })
            .collect(),
    };
    let video =
        Video::new(name, plan.segment_s, ladder, chunk_bytes, quality_tables).map_err(|e| {
            MediaError::output(
                work.join(DESCRIPTOR_NAME),
                format!("inconsistent package: {e}"),
            )
        })?;
    let mut descriptor = VideoDescriptor::from_video(&video);
    debug_assert_eq!(
        (descriptor.format.as_str(), descriptor.version),
        (FORMAT, VERSION)
    );
    descriptor.source = Some(serde_json::json!({
        "tool": "neuralstream package",
        "input": plan.source_description,
        "source_width": plan.source.width,
        "source_height": plan.source.height,
        "source_fps": plan.source.fps,
        "duration_s": plan.source.duration_s,
        "codec": opts.codec.name(),
        "encoder": plan.encoder,
        "preset": plan.preset,
        "ffmpeg": caps.version,
        "audio": plan.audio,
        "skipped_rungs": plan.skipped.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
        "quality_reference": format!("source at {}x{} (renditions scaled up with bicubic)", plan.source.width, plan.source.height),
        "quality_metrics": quality::METRICS_DOC,
        "manifest": MPD_NAME,
        "hls": HLS_NAME,
        "representations": mpd.representations.iter().map(|r| serde_json::json!({
            "id": r.id, "codecs": r.codecs, "init": r.init_url, "segments": r.segment_urls,
        })).collect::<Vec<_>>(),
    }));
    let json = serde_json::to_string_pretty(&descriptor)
        .map_err(|e| MediaError::output(work.join(DESCRIPTOR_NAME), e.to_string()))?;
    let dpath = work.join(DESCRIPTOR_NAME);
    std::fs::write(&dpath, json).map_err(|e| MediaError::io(&dpath, e))?;
    Ok(Packaged {
        out: work.to_path_buf(),
        video,
        skipped: plan.skipped.clone(),
        encoder: plan.encoder,
        has_audio: plan.audio,
        encode_command: shell_line(&tools.ffmpeg, &plan.encode_args),
        measure_command,
        encode_s,
        quality_s,
        total_s: 0.0,
    })
}

/// Checks DASH and HLS against the plan and each other: one representation per rung, the same
/// segment count everywhere, the same segment files in both manifests, audio when planned.
fn check_presentation(
    dir: &Path,
    plan: &Plan,
    mpd: &Presentation,
    hls: &Presentation,
    on_event: &mut dyn FnMut(Event),
) -> Result<(), MediaError> {
    let mpd_path = dir.join(MPD_NAME);
    let bad = |reason: String| MediaError::output(&mpd_path, reason);
    if mpd.representations.len() != plan.rungs.len() {
        return Err(bad(format!(
            "has {} video representations, expected {} (one per rung)",
            mpd.representations.len(),
            plan.rungs.len()
        )));
    }
    let count = mpd.segment_count();
    for r in mpd.representations.iter() {
        if r.segment_urls.len() != count {
            return Err(bad(format!(
                "representation {} has {} segments, representation {} has {}; renditions must be aligned",
                mpd.representations[0].id,
                count,
                r.id,
                r.segment_urls.len()
            )));
        }
        for u in std::iter::once(&r.init_url).chain(&r.segment_urls) {
            if !dir.join(u).is_file() {
                return Err(bad(format!("lists {u}, which FFmpeg did not write")));
            }
        }
    }
    let expected = (plan.source.duration_s / plan.segment_s - 1e-3)
        .ceil()
        .max(1.0) as usize;
    if count != expected {
        on_event(Event::Note(format!(
            "{count} segments per rendition where {:.2} s / {} s suggests {expected}",
            plan.source.duration_s, plan.segment_s
        )));
    }
    if plan.audio && mpd.audio.is_empty() {
        return Err(bad(
            "has no audio adaptation set although the source has audio".into(),
        ));
    }
    let files = |p: &Presentation| -> Vec<Vec<String>> {
        p.representations
            .iter()
            .map(|r| {
                std::iter::once(r.init_url.clone())
                    .chain(r.segment_urls.iter().cloned())
                    .collect()
            })
            .collect()
    };
    if files(mpd) != files(hls) {
        return Err(MediaError::output(
            dir.join(HLS_NAME),
            "does not list the same segment files as the MPD",
        ));
    }
    Ok(())
}

/// FFmpeg 5.1 writes HEVC's codecs string as a bare `hvc1`, which players reject; replaces it with
/// the full RFC 6381 string (`hvc1.1.6.L<level>.90`: Main profile, main tier) in the MPD and the HLS
/// master playlist.
fn patch_hevc_codecs(tools: &Tools, dir: &Path) -> Result<(), MediaError> {
    let mpd_path = dir.join(MPD_NAME);
    let mpd = read_mpd(&mpd_path)?;
    let mut xml = std::fs::read_to_string(&mpd_path).map_err(|e| MediaError::io(&mpd_path, e))?;
    let hls_path = dir.join(HLS_NAME);
    let mut m3u8 = std::fs::read_to_string(&hls_path).map_err(|e| MediaError::io(&hls_path, e))?;
    for r in &mpd.representations {
        if r.codecs != "hvc1" {
            continue;
        }
        let first = r.segment_urls.first().cloned().unwrap_or_default();
        let input = crate::verify::concat_input(&r.init_url, &[first]);
        let out = crate::probe::probe_video_stream(tools, &input, dir, "stream=level", "csv=p=0")?;
        let level: u32 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(120);
        let full = format!("hvc1.1.6.L{level}.90");
        let tag = format!("<Representation id=\"{}\"", r.id);
        if let Some(start) = xml.find(&tag) {
            let end = start + xml[start..].find('>').unwrap_or(0);
            let head = xml[start..end].replace("codecs=\"hvc1\"", &format!("codecs=\"{full}\""));
            xml.replace_range(start..end, &head);
        }
        // In the master playlist the variant line precedes its URI `media_<id>.m3u8`.
        let uri = format!("media_{}.m3u8", r.id);
        let lines: Vec<String> = m3u8.lines().map(str::to_string).collect();
        let mut patched = lines.clone();
        for i in 1..lines.len() {
            if lines[i].trim() == uri && lines[i - 1].starts_with("#EXT-X-STREAM-INF") {
                patched[i - 1] = lines[i - 1].replace("CODECS=\"hvc1", &format!("CODECS=\"{full}"));
            }
        }
        m3u8 = patched.join("\n") + "\n";
    }
    std::fs::write(&mpd_path, xml).map_err(|e| MediaError::io(&mpd_path, e))?;
    std::fs::write(&hls_path, m3u8).map_err(|e| MediaError::io(&hls_path, e))?;
    Ok(())
}
