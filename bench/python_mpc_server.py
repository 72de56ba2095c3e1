#!/usr/bin/env python3
"""Comparison decision server: Python's http.server running RobustMPC, the way Pensieve-style systems
serve decisions (Pensieve's rl_server/mpc_server.py: http.server + test/mpc.py's look-ahead).

It speaks the same request body as NeuralStream's decision API (project schema, see
/api/v1/openapi.json) so one wrk script drives both servers. One RobustMPC state per session id.
Standard library only. Usage: python_mpc_server.py VIDEO_JSON PORT
"""
import itertools
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HORIZON = 5
REBUF_PENALTY = 4.3
VIDEO = json.load(open(sys.argv[1]))
BITRATES = [lvl["bitrate_kbps"] for lvl in VIDEO["ladder"]]
SIZES = VIDEO["chunk_bytes"]  # [level][chunk]
CHUNKS = len(SIZES[0])
CHUNK_S = VIDEO["chunk_duration_s"]
COMBOS = list(itertools.product(range(len(BITRATES)), repeat=HORIZON))
SESSIONS = {}


def robust_mpc(s, last_chunk, buffer_s):
    """Pensieve test/mpc.py: harmonic mean of the last 5 throughputs, discounted by the max of the
    last 5 relative errors, then the best 5-chunk plan by exhaustive enumeration."""
    size, level, delay_ms = last_chunk["size_bytes"], last_chunk["level"], last_chunk["request_finish_ms"] - last_chunk["request_start_ms"]
    s["tput"].append(size / max(delay_ms, 1.0) / 1000.0)  # MB/s
    if s["ests"]:
        s["errors"].append(abs(s["ests"][-1] - s["tput"][-1]) / s["tput"][-1])
    else:
        s["errors"].append(0.0)
    past = s["tput"][-5:]
    harmonic = 1.0 / (sum(1.0 / p for p in past) / len(past))
    future = harmonic / (1.0 + max(s["errors"][-5:]))
    s["ests"].append(harmonic)
    last_index = last_chunk["index"]
    length = min(HORIZON, CHUNKS - last_index - 1)
    if length <= 0:
        return level
    best, best_reward = 0, -1e18
    for full in COMBOS:
        combo = full[:length]
        buf, rebuf, bitrate_sum, smooth, last_q = buffer_s, 0.0, 0.0, 0.0, level
        for pos, q in enumerate(combo):
            t = SIZES[q][last_index + pos + 1] / 1e6 / future
            if buf < t:
                rebuf += t - buf
                buf = 0.0
            else:
                buf -= t
            buf += CHUNK_S
            bitrate_sum += BITRATES[q]
            smooth += abs(BITRATES[q] - BITRATES[last_q])
            last_q = q
        reward = bitrate_sum / 1000.0 - REBUF_PENALTY * rebuf - smooth / 1000.0
        if reward >= best_reward:
            best, best_reward = combo[0], reward
    return best


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        sid = self.path.split("/")[4]
        s = SESSIONS.setdefault(sid, {"tput": [], "ests": [], "errors": []})
        c = body.get("last_chunk")
        level = 1 if c is None else robust_mpc(s, c, body["buffer_s"])
        out = json.dumps({"session": sid, "level": level, "bitrate_kbps": BITRATES[level]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Handler).serve_forever()
