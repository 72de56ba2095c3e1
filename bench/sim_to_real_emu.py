#!/usr/bin/env python3
"""Sim to real over emulated links (issue 22, item 4): helpers of bench/sim_to_real_emu.sh.

  prepare OUT SIM N        Pensieve's video as a DASH folder (OUT/pensieve, segments of exactly
                           video_size_* bytes, filler content), N of Pensieve's test traces evenly
                           spread (OUT/traces/{all,cal,check}: alternate traces into the calibration
                           and the held-back half) and the shared-link traces (OUT/traces/shared: the
                           first 5 of them with capacity x4, for 4 players).
  analyze OUT              Reads OUT/emu (emulate.csv) and every OUT/sim/rtt*-pf* (bench results.csv),
                           fits the simulator's RTT and payload fraction on the calibration half
                           (least squares on per-algorithm mean QoE, relative), checks on the held-back
                           half (per-algorithm gap, Kendall tau), prints Markdown, writes OUT/report.md.
Pure Python 3 (no packages).
"""
import csv, json, os, sys
from pathlib import Path

KBPS = [300, 750, 1200, 1850, 2850, 4300]


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
    step = max(1, len(names) // n)
    picked = names[::step][:n]
    for sub in ['all', 'cal', 'check', 'shared']:
        (out / 'traces' / sub).mkdir(parents=True, exist_ok=True)
    for i, p in enumerate(picked):
        text = p.read_text()
        (out / 'traces' / 'all' / p.name).write_text(text)
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


def analyze(out):
    out = Path(out)
    cal = sorted(p.name for p in (out / 'traces' / 'cal').iterdir())
    check = sorted(p.name for p in (out / 'traces' / 'check').iterdir())
    emu = {(r['algorithm'], r['trace']): float(r['qoe']) for r in read_csv(out / 'emu' / 'emulate.csv')}
    sims = {}
    for d in sorted((out / 'sim').iterdir()):
        if (d / 'results.csv').is_file():
            sims[d.name] = {(r['algorithm'], r['trace']): float(r['qoe']) for r in read_csv(d / 'results.csv')}
    lines = []
    say = lines.append

    def err(sim, traces):
        e, s = means(emu, traces), means(sim, traces)
        return sum(((s[a] - e[a]) / abs(e[a])) ** 2 for a in e)

    default = 'rtt80-pf0.95'
    best = min(sims, key=lambda k: err(sims[k], cal))
    say(f'Simulator settings tried: {len(sims)} ({", ".join(sims)}); fitted on the calibration half: **{best}**.\n')
    for title, key in [('before calibration (Pensieve\'s constants: ' + default + ')', default), ('after calibration (' + best + ')', best)]:
        if key not in sims:
            continue
        for half, traces in [('calibration half', cal), ('held-back half', check)]:
            e, s = means(emu, traces), means(sims[key], traces)
            tau = kendall_tau(e, s)
            say(f'**{title}, {half}** ({len(traces)} traces): Kendall tau {tau:.2f}\n')
            say('| algorithm | emulation mean QoE | simulator mean QoE | gap | gap % |')
            say('|---|---|---|---|---|')
            for a in sorted(e, key=lambda a: -e[a]):
                say(f'| {a} | {e[a]:.2f} | {s[a]:.2f} | {s[a] - e[a]:+.2f} | {100 * (s[a] - e[a]) / abs(e[a]):+.1f}% |')
            say('')
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


if __name__ == '__main__':
    if len(sys.argv) >= 5 and sys.argv[1] == 'prepare':
        prepare(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) >= 3 and sys.argv[1] == 'analyze':
        analyze(sys.argv[2])
    else:
        sys.exit(__doc__)
