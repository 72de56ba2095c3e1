// The custom dash.js 5 ABR rule: applies the server's latest decision.
//
// Registered as a `qualitySwitchRules` rule while every built-in quality rule is switched off
// (abandonRequestsRule stays on: without it a download started at a high level runs to the end
// after the network drops, stalling for seconds; see docs in README). `getSwitchRequest` is
// synchronous, so it only reads `client.latest` (see decision.mjs for why and what it costs).

/** Names of dash.js 5's built-in ABR rules. */
export const BUILTIN_RULES = [
  'throughputRule', 'bolaRule', 'insufficientBufferRule', 'switchHistoryRule',
  'droppedFramesRule', 'abandonRequestsRule', 'l2ARule', 'loLPRule',
];

/**
 * dash.js settings for a mode.
 * @param {'server'|'dashjs'} mode "server": our rule decides; "dashjs": dash.js's own rules.
 * @param {number} bufferS buffer dash.js fills to, seconds
 */
export function playerSettings(mode, bufferS) {
  const streaming = {
    buffer: {
      // Re-downloading buffered chunks at a higher level after an up-switch would make the byte
      // and level accounting of a chunk ambiguous.
      fastSwitchEnabled: false,
      bufferTimeDefault: bufferS,
      bufferTimeAtTopQuality: bufferS,
      bufferTimeAtTopQualityLongForm: bufferS,
    },
    abr: { autoSwitchBitrate: { video: true, audio: true } },
  };
  if (mode === 'server') {
    streaming.abr.rules = Object.fromEntries(
      BUILTIN_RULES.map((r) => [r, { active: r === 'abandonRequestsRule' }]),
    );
  }
  return { streaming };
}

/**
 * Index of the representation for a server level: level 0 = lowest bandwidth, clamped to the
 * ladder the browser has (it may be shorter if some codecs are unplayable).
 */
export function levelToIndex(level, count) {
  if (!(count > 0)) return -1;
  return Math.min(Math.max(0, Math.floor(level)), count - 1);
}

/**
 * The server's ladder level (index into `ladderKbps`, lowest first) of a dash.js representation.
 * When the browser sees the same number of representations as the server's ladder, the rank is the
 * level; otherwise (some codecs unplayable) the level with the nearest bitrate.
 * @param {{id:string, bandwidth:number}} rep
 * @param {Array<{id:string, bandwidth:number}>} reps browser representations sorted by bandwidth
 * @param {number[]} ladderKbps server ladder, lowest first (may be empty: then the rank is used)
 */
export function ladderLevelOf(rep, reps, ladderKbps) {
  if (!rep) return -1;
  const rank = reps.findIndex((r) => String(r.id) === String(rep.id));
  if (!ladderKbps.length || reps.length === ladderKbps.length) return rank;
  const kbps = rep.bandwidth / 1000;
  let best = 0;
  for (let i = 1; i < ladderKbps.length; i++) {
    if (Math.abs(ladderKbps[i] - kbps) < Math.abs(ladderKbps[best] - kbps)) best = i;
  }
  return best;
}

/**
 * The representation to fetch for a server decision `{level, bitrate_kbps}`: the one at that rank
 * when the ladders match; otherwise the highest playable one at or below the decided bitrate
 * (the lowest when none is).
 * @param {Array<{bandwidth:number}>} reps browser representations sorted by bandwidth
 * @param {{level:number, bitrate_kbps?:number}} decision
 * @param {number[]} ladderKbps server ladder, lowest first
 */
export function representationFor(reps, decision, ladderKbps) {
  if (!reps.length) return null;
  if (!ladderKbps.length || reps.length === ladderKbps.length || !Number.isFinite(decision.bitrate_kbps)) {
    return reps[levelToIndex(decision.level, reps.length)];
  }
  const cap = decision.bitrate_kbps * 1000 * 1.01;
  let pick = reps[0];
  for (const r of reps) if (r.bandwidth <= cap) pick = r;
  return pick;
}

/**
 * Builds the rule class for dash.js's FactoryMaker.
 * @param {any} dashjs the global from dash.all.min.js
 * @param {{client: () => import('./decision.mjs').DecisionClient|null, ladderKbps?: () => number[],
 *          onApply?: (info:object)=>void}} hooks
 */
export function makeServerRule(dashjs, hooks) {
  function NeuralStreamRuleClass() {
    const context = this.context;
    const SwitchRequest = dashjs.FactoryMaker.getClassFactoryByName('SwitchRequest');
    function getSwitchRequest(rulesContext) {
      const sr = SwitchRequest(context).create(); // representation = null: no change
      if (rulesContext.getMediaType() !== 'video') return sr;
      const client = hooks.client();
      const latest = client && client.latest;
      if (!latest) return sr;
      const reps = rulesContext.getAbrController()
        .getPossibleVoRepresentationsFilteredBySettings(rulesContext.getMediaInfo(), true)
        .slice()
        .sort((a, b) => a.bandwidth - b.bandwidth);
      const target = representationFor(reps, latest, hooks.ladderKbps ? hooks.ladderKbps() : []);
      if (!target) return sr;
      const cur = rulesContext.getRepresentation();
      if (hooks.onApply) hooks.onApply({ decision: latest, representation: target });
      if (!cur || cur.id !== target.id) {
        sr.representation = target;
        sr.priority = SwitchRequest.PRIORITY.STRONG;
        sr.reason = { rule: 'NeuralStreamRule', chunk: latest.chunk, level: latest.level, algorithm: latest.algorithm };
      }
      return sr;
    }
    return { getSwitchRequest };
  }
  NeuralStreamRuleClass.__dashjs_factory_name = 'NeuralStreamRule';
  return dashjs.FactoryMaker.getClassFactory(NeuralStreamRuleClass);
}
