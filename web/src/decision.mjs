// Client of the server's decision API (`POST /api/v1/sessions/{id}/decision`, schema in
// crates/protocol/src/lib.rs).
//
// Key design decision: dash.js asks its ABR rules synchronously (`getSwitchRequest` must return at
// once), while the server answers over the network. So every finished chunk is reported in the
// background and the rule applies the *latest answer it already has*. On a fast link the answer
// usually arrives before dash.js asks about the next chunk; when it does not, the level used is the
// one decided after the chunk before (one chunk stale). The page records, for every media request,
// which chunk the applied decision was made for, so the staleness is measured, not assumed.
// The alternative, running the policy in the page (WebAssembly), would be exact but would duplicate
// the server's algorithms in the browser.

/** Makes a session id the server accepts ([A-Za-z0-9_.-], at most 128 chars). */
export function newSessionId(random = Math.random) {
  const r = Math.floor(random() * 2 ** 48).toString(36);
  return `web-${Date.now().toString(36)}-${r}`;
}

/**
 * Builds a DecisionRequest body (project schema).
 * @param {{video?:string, algorithm?:string, lastChunk?:{index:number, level:number, sizeBytes:number,
 *          startMs:number, endMs:number}|null, bufferS:number, totalRebufferS:number}} r
 */
export function decisionRequest(r) {
  const body = {
    buffer_s: Math.max(0, Number.isFinite(r.bufferS) ? r.bufferS : 0),
    total_rebuffer_s: Math.max(0, r.totalRebufferS || 0),
  };
  if (r.video) body.video = r.video;
  if (r.algorithm) body.algorithm = r.algorithm;
  if (r.lastChunk) {
    const c = r.lastChunk;
    body.last_chunk = {
      index: c.index,
      level: c.level,
      size_bytes: Math.max(0, Math.round(c.sizeBytes)),
      request_start_ms: c.startMs,
      request_finish_ms: Math.max(c.endMs, c.startMs),
    };
    body.next_chunk = c.index + 1;
  } else {
    body.next_chunk = 0;
  }
  return body;
}

/** Reports chunks and keeps the latest decision; see the module comment. */
export class DecisionClient {
  /**
   * @param {{baseUrl?:string, sessionId:string, video:string, algorithm:string, fetch?:Function,
   *          now?:()=>number, onDecision?:(entry:object)=>void, onError?:(entry:object)=>void}} o
   */
  constructor(o) {
    this.baseUrl = o.baseUrl || '';
    this.sessionId = o.sessionId;
    this.video = o.video;
    this.algorithm = o.algorithm;
    this.fetch = o.fetch || ((...a) => globalThis.fetch(...a));
    this.now = o.now || (() => performance.now());
    this.onDecision = o.onDecision || (() => {});
    this.onError = o.onError || (() => {});
    /** Latest DecisionResponse (highest `chunk` received so far), or null. */
    this.latest = null;
    /** Every exchange: {chunkReported, sentMs, receivedMs, rttMs, response|error}. */
    this.log = [];
    this.inFlight = 0;
  }

  get url() {
    return `${this.baseUrl}/api/v1/sessions/${encodeURIComponent(this.sessionId)}/decision`;
  }

  /** POSTs one request body; the response, its text and its JSON (null when not JSON). */
  async post(body) {
    const res = await this.fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* the caller reports it */ }
    return { res, text, json };
  }

  /**
   * Sends one report; resolves to the response (or null on error). Never throws.
   * @param {Parameters<typeof decisionRequest>[0]} report
   */
  async report(report) {
    const body = decisionRequest({ ...report, video: this.video, algorithm: this.algorithm });
    const entry = { chunkReported: report.lastChunk ? report.lastChunk.index : null, request: body, sentMs: this.now() };
    this.log.push(entry);
    this.inFlight++;
    try {
      let { res, text, json } = await this.post(body);
      if (res.status === 404 && json && json.error && body.last_chunk) {
        // The server does not know this session (it restarted, or the request reached another
        // replica: docs/deploy.md, "Sessions and affinity"). The same request without the last
        // chunk's report starts it again there at the chunk about to be fetched, same id.
        const again = { ...body };
        delete again.last_chunk;
        entry.restarted = true;
        ({ res, text, json } = await this.post(again));
      }
      entry.receivedMs = this.now();
      entry.rttMs = entry.receivedMs - entry.sentMs;
      if (!res.ok || !json || typeof json.level !== 'number') {
        entry.error = (json && json.error) || `HTTP ${res.status}: ${text.slice(0, 200)}`;
        this.onError(entry);
        return null;
      }
      entry.response = json;
      // Answers can arrive out of order; keep the one for the latest chunk.
      if (!this.latest || json.chunk >= this.latest.chunk) this.latest = json;
      this.onDecision(entry);
      return json;
    } catch (e) {
      entry.receivedMs = this.now();
      entry.error = String(e && e.message ? e.message : e);
      this.onError(entry);
      return null;
    } finally {
      this.inFlight--;
    }
  }
}
