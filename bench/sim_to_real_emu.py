#!/usr/bin/env python3
"""Sim to real over emulated links (issue 22, item 4): helpers of bench/sim_to_real_emu.sh.

  prepare OUT SIM N        Pensieve's video as a DASH folder (OUT/pensieve, segments of exactly
                           video_size_* bytes, filler content, 900-byte init segments), N of
                           Pensieve's test traces evenly spread (OUT/traces/{all,cal,check}:
                           alternate traces into the calibration and the held-back half;
                           OUT/traces/batchK: 20 traces per emulation run) and the shared-link traces
                           (OUT/traces/shared: the first 5 of them with capacity x4, for 4 players).
  linkcheck OUT            Per emulated link (OUT/emu/run*/batch*/links/*/requests.csv): the trace
                           time at the player's first request and the payload fraction TCP achieved;
                           writes OUT/linkcheck.md and OUT/linkcheck.json (their quantiles).
  analyze OUT              Reads the emulations (every run's emulate.csv; a trace's QoE is its mean
                           over the runs) and every simulator setting OUT/sim/MODE-rttR-pfP (bench
                           results.csv, or the mean of its off*/ runs), reports the emulation's
                           run-to-run spread, fits the setting on the calibration half (least
                           squares of the per-rule relative gaps of mean QoE), checks it on the
                           held-back half (per-rule gap, Kendall tau), prints Markdown and writes
                           OUT/report.md.
Pure Python 3 (no packages).
"""
import csv, json, os, sys
from pathlib import Path

KBPS = [300, 750, 1200, 1850, 2850, 4300]
# Traces per emulation run (x 5 rules = 100 links at once, the size that finished 100 of 100).
BATCH_TRACES = 20


def prepare(out, sim, n):
    out, sim = Path(out), Path(sim)
    media = out / 'pensieve'
    media.mkdir(parents=True, exist_ok=True)
    sizes = [[int(x) for x in (sim / f'video_size_{l}').read_text().split()] for l in range(6)]
    chunks = len(sizes[0])
    reps = ''
    for l, k in enumerate(KBPS):
        h = [144, 240, 360, 480, 720, 1080][l]
        reps += (f'   <Representation id="{l}" mimeType="video/mp4" codecs="avc1.64001e" bandwidth="{k * 1000}" '
                 f'width="{h * 16 // 9}" height="{h}">\n'
                 '    <SegmentTemplate timescale="1000" duration="4000" initialization="init-$RepresentationID$.m4s" '
                 'media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1"/>\n   </Representation>\n')
        (media / f'init-{l}.m4s').write_bytes(b'\x07' * 900)
        for c, b in enumerate(sizes[l]):
            (media / f'chunk-{l}-{c + 1:05d}.m4s').write_bytes(bytes([c % 251]) * b)
    (media / 'manifest.mpd').write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" '
        'profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static" '
        f'mediaPresentationDuration="PT{4 * chunks}S" minBufferTime="PT4S">\n <Period id="0" start="PT0S">\n'
        f'  <AdaptationSet id="0" contentType="video" segmentAlignment="true">\n{reps}  </AdaptationSet>\n'
        ' </Period>\n</MPD>\n')
    ladder = [{'bitrate_kbps': k, 'width': [144, 240, 360, 480, 720, 1080][l] * 16 // 9,
               'height': [144, 240, 360, 480, 720, 1080][l]} for l, k in enumerate(KBPS)]
    (media / 'video.json').write_text(json.dumps({'format': 'neuralstream-video', 'version': 1, 'name': 'pensieve',
                                                  'chunk_duration_s': 4.0, 'ladder': ladder, 'chunk_bytes': sizes}))
    names = sorted(p for p in (sim / 'cooked_test_traces').iterdir() if p.is_file())
    n = min(n, len(names))
    picked = [names[i * len(names) // n] for i in range(n)]
    for sub in ['all', 'cal', 'check', 'shared']:
        (out / 'traces' / sub).mkdir(parents=True, exist_ok=True)
    for i, p in enumerate(picked):
        text = p.read_text()
        (out / 'traces' / 'all' / p.name).write_text(text)
        batch = out / 'traces' / f'batch{i // BATCH_TRACES + 1}'
        batch.mkdir(exist_ok=True)
        (batch / p.name).write_text(text)
        (out / 'traces' / ('cal' if i % 2 == 0 else 'check') / p.name).write_text(text)
        if i < 5:
            rows = [l.split() for l in text.splitlines() if l.strip()]
            (out / 'traces' / 'shared' / p.name).write_text(''.join(f'{r[0]}\t{float(r[1]) * 4}\n' for r in rows))
    print(f'{len(picked)} traces ({len(picked[::2])} calibration, {len(picked[1::2])} held back), media {media}')


def read_csv(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def kendall_tau(a, b):
    keys = list(a)
    c = d = 0
    for i in range(len(keys)):
        for j in range(i + 1, len(keys)):
            x = (a[keys[i]] - a[keys[j]]) * (b[keys[i]] - b[keys[j]])
            c += x > 0
            d += x < 0
    pairs = len(keys) * (len(keys) - 1) / 2
    return (c - d) / pairs if pairs else float('nan')


def means(per_trace, traces):
    """per_trace: {(algo, trace): qoe} -> {algo: mean over traces}"""
    algos = sorted({a for a, _ in per_trace})
    return {a: sum(per_trace[(a, t)] for t in traces) / len(traces) for a in algos}


def read_emulation(out):
    """{run: {(algo, trace): qoe}} over OUT/emu/run*/batch*/emulate.csv, failed players left out,
    and the number of players that failed."""
    runs, failed = {}, 0
    for f in sorted(out.glob('emu/run*/batch*/emulate.csv')):
        run = runs.setdefault(f.parent.parent.name, {})
        for r in read_csv(f):
            if r['error']:
                failed += 1
            else:
                run[(r['algorithm'], r['trace'])] = float(r['qoe'])
    return runs, failed


def gaps(emu, sim, traces):
    e, s = means(emu, traces), means(sim, traces)
    return {a: (s[a] - e[a]) / abs(e[a]) for a in e}


def analyze(out):
    out = Path(out)
    runs, failed = read_emulation(out)
    algos = sorted({a for run in runs.values() for a, _ in run})
    # A run counts for a trace when every algorithm's session on it finished; a trace's emulated
    # QoE is the mean over the runs that count for it.
    ok = lambda run, t: all((a, t) in run for a in algos)
    names = lambda half: sorted(p.name for p in (out / 'traces' / half).iterdir())
    cal = [t for t in names('cal') if any(ok(r, t) for r in runs.values())]
    check = [t for t in names('check') if any(ok(r, t) for r in runs.values())]
    emu = {}
    for t in cal + check:
        good = [r for r in runs.values() if ok(r, t)]
        for a in algos:
            emu[(a, t)] = sum(r[(a, t)] for r in good) / len(good)
    say = (lines := []).append
    say(f'Emulation: {len(runs)} run(s), {len(cal) + len(check)} traces ({len(cal)} calibration, {len(check)} held '
        f'back) x {len(algos)} rules; {failed} player(s) failed (their trace counts from the other runs).\n')
    if len(runs) > 1:
        every = lambda traces: [t for t in traces if all(ok(r, t) for r in runs.values())]
        say('Run-to-run spread of the emulation (per-rule mean QoE of each run over the traces complete in every '
            'run; spread = (max - min) / mean):\n')
        say('| algorithm | half | ' + ' | '.join(runs) + ' | spread |')
        say('|---|---|' + '---|' * len(runs) + '---|')
        for a in algos:
            for half, traces in [('calibration', every(cal)), ('held back', every(check))]:
                m = [sum(run[(a, t)] for t in traces) / len(traces) for run in runs.values()]
                avg = sum(m) / len(m)
                say(f'| {a} | {half} | ' + ' | '.join(f'{x:.2f}' for x in m) + f' | {100 * (max(m) - min(m)) / abs(avg):.1f}% |')
        say('')

    sims = {}
    for d in sorted((out / 'sim').iterdir()):
        # One run, or one per trace offset (off*/): their mean per session.
        parts = [d] if (d / 'results.csv').is_file() else sorted(x for x in d.glob('off*') if x.is_dir())
        runs_ = [{(r['algorithm'], r['trace']): float(r['qoe']) for r in read_csv(x / 'results.csv')}
                 for x in parts if (x / 'results.csv').is_file()]
        if runs_ and len(runs_) == len(parts):
            sims[d.name] = {k: sum(r[k] for r in runs_) / len(runs_) for k in runs_[0]}
    cost = lambda k: sum(g * g for g in gaps(emu, sims[k], cal).values())
    worst = lambda k, traces: max(abs(g) for g in gaps(emu, sims[k], traces).values())
    tau = lambda k, traces: kendall_tau(means(emu, traces), means(sims[k], traces))
    best = min(sims, key=cost)
    modes = sorted({k.split('-rtt')[0] for k in sims})
    best_per_mode = {m: min((k for k in sims if k.startswith(m + '-rtt')), key=cost) for m in modes}
    default = 'pensieve-rtt80-pf0.95'
    physical = [k for k in sims if k.startswith('real+offsets-rtt80-pf0.95')]
    say(f'Simulator settings tried: {len(sims)} ({", ".join(modes)} x RTT x payload fraction); fitted on the '
        f'calibration half (least squares of the per-rule relative gaps of mean QoE): **{best}**.\n')
    say('| setting | why | calibration: worst gap | held back: worst gap | held back: Kendall tau |')
    say('|---|---|---|---|---|')
    rows = [(default, "Pensieve's constants")] + [(k, 'the emulation\'s own constants, not fitted') for k in physical]
    rows += [(k, f'best fit in mode {m}') for m, k in best_per_mode.items()]
    for k, why in rows:
        if k in sims:
            say(f'| {k} | {why}{" (overall fit)" if k == best else ""} | {100 * worst(k, cal):.1f}% | '
                f'{100 * worst(k, check):.1f}% | {tau(k, check):.2f} |')
    say('')
    rtts = sorted({int(k.split('-rtt')[1].split('-pf')[0]) for k in sims})
    pfs = sorted({k.split('-pf')[1] for k in sims}, key=float)
    say('Worst per-rule gap of mean QoE, calibration half / held-back half, over the whole grid:\n')
    say('| mode | payload fraction | ' + ' | '.join(f'RTT {r} ms' for r in rtts) + ' |')
    say('|---|---|' + '---|' * len(rtts))
    for m in modes:
        for pf in pfs:
            cells = [f'{m}-rtt{r}-pf{pf}' for r in rtts]
            say(f'| {m} | {pf} | ' + ' | '.join(f'{100 * worst(k, cal):.0f} / {100 * worst(k, check):.0f}' if k in sims else '-'
                                                 for k in cells) + ' |')
    say('')
    tables = [('before calibration (' + default + ')', default), ('after calibration (' + best + ')', best)]
    tables += [(f'the emulation\'s own constants ({k})', k) for k in physical]
    tables += [(f'best fit in mode {m} ({k})', k) for m, k in best_per_mode.items() if k != best]
    for title, key in tables:
        if key not in sims:
            continue
        say(f'**{title}**\n')
        say('| algorithm | calibration: emulation | simulator | gap | held back: emulation | simulator | gap |')
        say('|---|---|---|---|---|---|---|')
        ec, sc, ek, sk = means(emu, cal), means(sims[key], cal), means(emu, check), means(sims[key], check)
        for a in sorted(ek, key=lambda a: -ek[a]):
            say(f'| {a} | {ec[a]:.2f} | {sc[a]:.2f} | {100 * (sc[a] - ec[a]) / abs(ec[a]):+.1f}% | '
                f'{ek[a]:.2f} | {sk[a]:.2f} | {100 * (sk[a] - ek[a]) / abs(ek[a]):+.1f}% |')
        say(f'| Kendall tau | | | {tau(key, cal):.2f} | | | {tau(key, check):.2f} |\n')
    shared = out / 'emu-shared' / 'emulate.csv'
    sim_shared = out / 'sim-shared' / 'shared_players.csv'
    if shared.is_file() and sim_shared.is_file():
        emu_rows = read_csv(shared)
        sim_rows = read_csv(sim_shared)
        say('**Shared link** (4 robustmpc players per link, trace capacity x4; simulator: `bench --players 4`, '
            'allocator none, Pensieve\'s constants):\n')
        say('| trace | sim mean QoE per player | sim Jain QoE | emulated players finished | emulated mean QoE per player | emulated Jain QoE | emulated Jain bitrate |')
        say('|---|---|---|---|---|---|---|')
        ej = {l['trace']: l for l in json.loads((out / 'emu-shared' / 'emulate.json').read_text())['links']}
        for t in sorted({r['trace'] for r in sim_rows}):
            sq = [float(r['qoe']) for r in sim_rows if r['trace'] == t]
            eq = [float(r['qoe']) for r in emu_rows if r['trace'] == t and not r['error']]
            jain = lambda v: (sum(v) ** 2 / (len(v) * sum(x * x for x in v))) if v and any(v) else float('nan')
            l = ej.get(t, {})
            fmt = lambda x: f'{x:.3f}' if isinstance(x, float) and x == x else '-'
            say(f'| {t} | {sum(sq) / len(sq):.2f} | {fmt(jain(sq))} | {len(eq)} of {len([r for r in emu_rows if r["trace"] == t])} | '
                f'{(sum(eq) / len(eq)) if eq else float("nan"):.2f} | {fmt(l.get("jain_qoe"))} | {fmt(l.get("jain_bitrate"))} |')
    text = '\n'.join(lines) + '\n'
    (out / 'report.md').write_text(text)
    print(text)

def load_cooked(path):
    rows = [l.split() for l in Path(path).read_text().splitlines() if l.strip()]
    return [float(r[0]) for r in rows], [float(r[1]) for r in rows]


class TraceLink:
    """The simulator's link for a diagnostic: sample i holds over (t[i-1], t[i]], looping."""

    def __init__(self, t, bw):
        self.t, self.bw, self.d = t, bw, t[-1]
        self.cum = [0.0]
        for i in range(1, len(t)):
            self.cum.append(self.cum[-1] + bw[i] * (t[i] - t[i - 1]))

    def mbit_until(self, x):
        """Mbit the looping link carries from trace time 0 to x."""
        loops, r = divmod(x, self.d)
        lo, hi = 1, len(self.t) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if self.t[mid] < r:
                lo = mid + 1
            else:
                hi = mid
        return loops * self.cum[-1] + self.cum[lo - 1] + self.bw[lo] * (r - self.t[lo - 1])


def linkcheck(out):
    """Per emulated link: the trace time at the player's session start (the shaper starts before
    the players) and the payload fraction TCP achieved. For offsets 0..6 s, every media request of
    100 kB or more is set against the link's capacity over [sent, finish]; the offset where the
    bytes / capacity ratios agree best (least variance of their logarithms) is taken, and the
    link's payload fraction is all their bytes over all their capacity there."""
    import math
    out = Path(out)
    rows = []
    for req in sorted(out.glob('emu/run*/batch*/links/*/requests.csv')):
        reqs = [r for r in read_csv(req) if r['kind'] == 'media' and int(r['bytes']) >= 100_000]
        if len(reqs) < 5:
            continue
        link = TraceLink(*load_cooked(out / 'traces' / 'all' / reqs[0]['trace']))
        best = None
        for k in range(0, 121):
            o = k * 0.05
            caps = [(link.mbit_until(float(r['finish_s']) + o) - link.mbit_until(float(r['sent_s']) + o)) * 1e6 / 8
                    for r in reqs]
            if min(caps) <= 0:
                continue
            logs = [math.log(int(r['bytes']) / c) for r, c in zip(reqs, caps)]
            m = sum(logs) / len(logs)
            var = sum((x - m) ** 2 for x in logs) / len(logs)
            if best is None or var < best[0]:
                best = (var, o, sum(int(r['bytes']) for r in reqs) / sum(caps))
        if best:
            rows.append((req.parent.name, best[1], best[2], math.sqrt(best[0])))
    if not rows:
        print('no emulated links found')
        return
    offs = sorted(r[1] for r in rows)
    pfs = sorted(r[2] for r in rows)
    q = lambda v, f: v[min(len(v) - 1, int(f * len(v)))]
    text = (f'Link check over {len(rows)} emulated links (media requests >= 100 kB): trace time at the session start '
            f'p10/p50/p90 {q(offs, .1):.2f}/{q(offs, .5):.2f}/{q(offs, .9):.2f} s; payload fraction achieved '
            f'p10/p50/p90 {q(pfs, .1):.3f}/{q(pfs, .5):.3f}/{q(pfs, .9):.3f}\n')
    (out / 'linkcheck.md').write_text(text)
    (out / 'linkcheck.json').write_text(json.dumps({
        'links': len(rows), 'payload_fraction_p50': q(pfs, .5),
        'trace_offset_s_quantiles': {f'p{int(100 * f)}': round(q(offs, f), 2) for f in (.1, .3, .5, .7, .9)}}))
    print(text)


if __name__ == '__main__':
    if len(sys.argv) >= 5 and sys.argv[1] == 'prepare':
        prepare(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) >= 3 and sys.argv[1] == 'linkcheck':
        linkcheck(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == 'analyze':
        analyze(sys.argv[2])
    else:
        sys.exit(__doc__)
