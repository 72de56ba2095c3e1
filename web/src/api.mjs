// The server's listing endpoints (`GET /api/v1/videos`, `GET /api/v1/algorithms`), read tolerantly:
// the normalisers are pure and unit-tested, so a small change of shape on the server side shows up
// as a clear message on the page instead of an empty menu.

/** Value of the algorithm menu entry that leaves dash.js's own ABR rules in charge. */
export const DASHJS_DEFAULT = 'dashjs-default';

/**
 * Normalises the algorithm list: accepts `["bb", ...]`, `[{name, description}]`, or an object
 * `{algorithms: [...], default: "name"}`.
 * @returns {{algorithms: Array<{name:string, description:string}>, default: string|null}}
 */
export function normalizeAlgorithms(json) {
  const list = Array.isArray(json) ? json : (json && (json.algorithms || json.enabled)) || [];
  const algorithms = list
    .map((a) => (typeof a === 'string' ? { name: a, description: '' } : { name: String(a.name || a.id || ''), description: String(a.description || a.paper || '') }))
    .filter((a) => a.name);
  const def = json && !Array.isArray(json) && typeof json.default === 'string' ? json.default : null;
  return { algorithms, default: def && algorithms.some((a) => a.name === def) ? def : (algorithms[0] ? algorithms[0].name : null) };
}

/**
 * Normalises the video list: accepts `[...]` or `{videos: [...]}`; entries without a DASH manifest
 * (`mpd` null: HLS-only packages) are left out, since the page plays DASH.
 * @returns {Array<{name:string, mpd:string, levelsKbps:number[], chunks:number|null, chunkDurationS:number|null}>}
 */
export function normalizeVideos(json) {
  const list = Array.isArray(json) ? json : (json && json.videos) || [];
  return list
    .filter((v) => v && typeof v.name === 'string' && typeof v.mpd === 'string')
    .map((v) => ({
      name: v.name,
      mpd: v.mpd,
      levelsKbps: Array.isArray(v.levels) ? v.levels.map(Number) : Array.isArray(v.levels_kbps) ? v.levels_kbps.map(Number) : [],
      chunks: Number.isFinite(v.chunks) ? v.chunks : null,
      chunkDurationS: Number.isFinite(v.chunk_duration_s) && v.chunk_duration_s > 0 ? v.chunk_duration_s : null,
    }));
}

/** GETs JSON or throws an Error whose message says what failed and how to fix it. */
export async function getJson(url) {
  let res;
  try {
    res = await fetch(url, { headers: { accept: 'application/json' } });
  } catch (e) {
    throw new Error(`cannot reach ${url} (${e.message}); is \`neuralstream serve\` running?`);
  }
  const text = await res.text();
  if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}: ${text.slice(0, 300)}`);
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${url} did not return JSON (got: ${text.slice(0, 80)})`);
  }
}
