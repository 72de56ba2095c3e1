#!/usr/bin/env python3
"""The `serve` command lines of the deployment files start the real binary.

Takes the container arguments of every rendered Kubernetes overlay's Deployment (with the
ConfigMap's values put in for `$(VAR)`, as the kubelet does) and of the Compose file's
`neuralstream` service (as `docker-compose config` interpolates it), maps the container paths to
local ones (media -> deploy/testdata/media/demo, TLS -> a fresh self-signed pair, state -> a
temporary folder, the port -> a free one on 127.0.0.1), runs the binary with them and requires its
`listening on` line within 20 s. A flag renamed or removed in `serve`, or a ConfigMap value it
refuses, fails here rather than in a cluster.

Usage: python3 deploy/args-test.py BIN
Needs: PyYAML, openssl, `kubectl` (or $KUBECTL), `docker-compose` (or `docker compose`).
Prints one line per command line and 'N passed, N failed'; exits 1 on any failure.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE_MEDIA = os.path.join(ROOT, "deploy", "testdata", "media", "demo")


def rendered_overlays():
    """(name, args) of each overlay's neuralstream container, ConfigMap values substituted."""
    kubectl = os.environ.get("KUBECTL", "kubectl")
    overlays = os.path.join(ROOT, "deploy", "k8s", "overlays")
    for name in sorted(os.listdir(overlays)):
        text = subprocess.run([kubectl, "kustomize", os.path.join(overlays, name)],
                              check=True, capture_output=True, text=True).stdout
        docs = [d for d in yaml.safe_load_all(text) if d]
        config = {}
        for d in docs:
            if d["kind"] == "ConfigMap":
                config.update(d.get("data", {}))
        for d in docs:
            if d["kind"] != "Deployment":
                continue
            for c in d["spec"]["template"]["spec"]["containers"]:
                if c["name"] != "neuralstream":
                    continue
                args = [re.sub(r"\$\((\w+)\)", lambda m: config[m.group(1)], a) for a in c["args"]]
                yield f"k8s/{name}", args


def compose_command():
    """('compose', args) of the Compose file's neuralstream service, interpolated."""
    compose = ["docker-compose"] if shutil.which("docker-compose") else ["docker", "compose"]
    env = dict(os.environ, GRAFANA_ADMIN_PASSWORD="args-test")
    text = subprocess.run(compose + ["-f", os.path.join(ROOT, "deploy", "compose.yaml"), "config"],
                          check=True, capture_output=True, text=True, env=env).stdout
    yield "compose", yaml.safe_load(text)["services"]["neuralstream"]["command"]


def localise(args, tmp):
    """The same command line with container paths and the listener mapped to this machine."""
    web = os.path.join(ROOT, "web", "dist")
    if not os.path.isdir(web):
        web = os.path.join(tmp, "web")
        os.makedirs(web, exist_ok=True)
    mapping = {
        "--media": lambda v: FIXTURE_MEDIA,
        "--tls-cert": lambda v: os.path.join(tmp, "tls", "tls.crt"),
        "--tls-key": lambda v: os.path.join(tmp, "tls", "tls.key"),
        "--state-dir": lambda v: os.path.join(tmp, "state"),
        "--web-root": lambda v: web,
        "--port": lambda v: "0",
        "--bind": lambda v: "127.0.0.1",
    }
    out, i = [], 0
    while i < len(args):
        a = args[i]
        flag, eq, value = a.partition("=")
        if flag in mapping:
            if not eq:  # `--flag value`
                i += 1
                value = args[i]
            out.append(f"{flag}={mapping[flag](value)}")
        else:
            out.append(a)
        i += 1
    return out


def starts(binary, args, tmp):
    """None when the server printed its `listening on` line within 20 s, else the reason."""
    log_path = os.path.join(tmp, "serve.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([binary] + args, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
    deadline = time.time() + 20
    seen = ""
    try:
        while time.time() < deadline:
            with open(log_path, encoding="utf-8", errors="replace") as f:
                seen = f.read()
            if "listening on" in seen:
                return None
            if proc.poll() is not None:
                with open(log_path, encoding="utf-8", errors="replace") as f:
                    seen = f.read()
                return f"exited {proc.returncode}: {seen.strip()[-600:]}"
            time.sleep(0.05)
        return f"no 'listening on' line in 20 s: {seen.strip()[-600:]}"
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: args-test.py BIN (the neuralstream binary)")
    binary = os.path.abspath(sys.argv[1])
    passed = failed = 0
    for name, args in list(rendered_overlays()) + list(compose_command()):
        with tempfile.TemporaryDirectory() as tmp:
            os.makedirs(os.path.join(tmp, "tls"))
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                            "-subj", "/CN=neuralstream",
                            "-addext", "subjectAltName=DNS:neuralstream,DNS:localhost",
                            "-keyout", os.path.join(tmp, "tls", "tls.key"),
                            "-out", os.path.join(tmp, "tls", "tls.crt")],
                           check=True, capture_output=True)
            if not args or args[0] != "serve":
                problem = f"the command is not `serve ...`: {args}"
            else:
                problem = starts(binary, localise(args, tmp), tmp)
        if problem is None:
            print(f"ok   {name}: neuralstream {' '.join(args)}")
            passed += 1
        else:
            print(f"FAIL {name}: neuralstream {' '.join(args)}\n     {problem}", file=sys.stderr)
            failed += 1
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or not passed else 0)


if __name__ == "__main__":
    main()
