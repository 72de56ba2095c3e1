// Which video representations of an MPD can this browser decode?
//
// dash.js drops an AdaptationSet whose codecs MediaSource cannot play without raising an error
// (HEVC on Chromium for Linux: audio plays, the picture stays black). So the page checks first and
// says why it cannot play. The MPD is parsed with the browser's DOMParser; the decision itself is a
// pure function (`playability`) so it is unit-tested without a browser.

/** Codec families by the first four characters of an RFC 6381 codec string. */
const FAMILIES = {
  avc1: 'H.264', avc3: 'H.264', vp09: 'VP9', vp8: 'VP8', av01: 'AV1',
  hvc1: 'HEVC', hev1: 'HEVC', mp4a: 'AAC', opus: 'Opus',
};

/** Human name of a codec string (e.g. "avc1.640028" -> "H.264"). */
export function codecFamily(codecs) {
  const head = String(codecs || '').split('.')[0].toLowerCase();
  return FAMILIES[head] || head || 'unknown';
}

/**
 * Video representations of an MPD document (a DOM Document from DOMParser).
 * @returns {Array<{id:string, mimeType:string, codecs:string, bandwidth:number, width:number, height:number}>}
 */
export function videoRepresentations(doc) {
  const out = [];
  for (const as of doc.getElementsByTagName('AdaptationSet')) {
    const asMime = as.getAttribute('mimeType') || '';
    const asType = as.getAttribute('contentType') || asMime.split('/')[0];
    for (const rep of as.getElementsByTagName('Representation')) {
      const mimeType = rep.getAttribute('mimeType') || asMime;
      const type = asType || mimeType.split('/')[0];
      if (type !== 'video' && !mimeType.startsWith('video/')) continue;
      out.push({
        id: rep.getAttribute('id') || '',
        mimeType: mimeType || 'video/mp4',
        codecs: rep.getAttribute('codecs') || as.getAttribute('codecs') || '',
        bandwidth: Number(rep.getAttribute('bandwidth') || 0),
        width: Number(rep.getAttribute('width') || as.getAttribute('width') || 0),
        height: Number(rep.getAttribute('height') || as.getAttribute('height') || 0),
      });
    }
  }
  return out;
}

/**
 * Decides whether the stream can play.
 * @param {ReturnType<typeof videoRepresentations>} reps
 * @param {(type:string)=>boolean} isTypeSupported usually MediaSource.isTypeSupported
 * @returns {{playable:boolean, supported:object[], unsupported:object[], message:string}}
 */
export function playability(reps, isTypeSupported) {
  if (!reps.length) {
    return { playable: false, supported: [], unsupported: [], message: 'The manifest has no video representation.' };
  }
  const supported = [];
  const unsupported = [];
  for (const r of reps) {
    const type = `${r.mimeType}; codecs="${r.codecs}"`;
    let ok = false;
    try { ok = !!isTypeSupported(type); } catch { ok = false; }
    (ok ? supported : unsupported).push({ ...r, type, family: codecFamily(r.codecs) });
  }
  const byFamily = new Map();
  for (const r of unsupported) {
    const list = byFamily.get(r.family) || new Set();
    list.add(r.codecs || 'no codecs attribute');
    byFamily.set(r.family, list);
  }
  const names = [...byFamily].map(([f, c]) => `${f} (${[...c].join(', ')})`).join(', ');
  if (!supported.length) {
    const hevc = unsupported.some((r) => r.family === 'HEVC');
    return {
      playable: false, supported, unsupported,
      message: `This browser cannot decode this stream's video: ${names}.` +
        (hevc ? ' Chromium on Linux has no HEVC decoder.' : '') +
        ' Package the clip with H.264, VP9 or AV1 (they play in Chromium, Firefox and Safari).',
    };
  }
  return {
    playable: true, supported, unsupported,
    message: unsupported.length
      ? `${unsupported.length} of ${reps.length} video representations use codecs this browser cannot decode (${names}); the player skips them.`
      : `All ${reps.length} video representations are playable (${[...new Set(supported.map((r) => r.family))].join(', ')}).`,
  };
}

/**
 * Picks the video to play first: the one asked for (if playable), else the first playable one.
 * @param {Array<{name:string}>} videos in server order
 * @param {Map<string, {playable:boolean}>} checks playability by video name (missing = unknown)
 * @param {string|null} wanted name from the URL (`?video=`), if any
 * @returns {{name:string|null, reason:string}}
 */
export function chooseVideo(videos, checks, wanted = null) {
  const ok = (v) => { const c = checks.get(v.name); return !c || c.playable; };
  const asked = wanted ? videos.find((v) => v.name === wanted) : null;
  if (asked && ok(asked)) return { name: asked.name, reason: `asked for ${asked.name}` };
  const first = videos.find(ok);
  if (first) {
    return {
      name: first.name,
      reason: asked ? `${asked.name} cannot play in this browser; playing ${first.name} instead` : `playing ${first.name}, the first playable package`,
    };
  }
  return { name: videos.length ? videos[0].name : null, reason: 'no video is playable in this browser' };
}
