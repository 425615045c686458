"""Bot ack latency: process start -> HTTP 200 for a signed app_mention (cold), and warm acks,
for kotae's bot and for a bare Bolt-on-Lambda app (bench/bare_bolt.py) measured alongside it.

The ack path is the real one: Bolt verifies the signature, acks, and starts the lazy listener
by invoking the function through boto3's Lambda client, here pointed (AWS_ENDPOINT_URL_LAMBDA)
at a local endpoint that accepts the invocation and does nothing. Cold: a fresh Python process
per start, timed from just before it is spawned to the 200 (on the system-wide monotonic
clock, so neither the warm acks that follow nor the interpreter's exit count), and from before
its first import. Warm: repeated acks in the first measured process of each app.

Both apps run the same child script with the same signed event, environment and stand-ins,
and their starts are interleaved bare, kotae, kotae, bare, … so that drift on a shared machine
lands on both alike; a first pair of starts (--warmup) is not counted, so writing .pyc files
and filling the page cache fall on neither. The headline is the ratio of the two cold medians,
kotae / bare. Prints one JSON line.

    python bench/bot_ack.py [--runs 7] [--warm 200] [--warmup 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

APPS = {"bare": "bench.bare_bolt", "kotae": "bot.handler"}
"""The module whose handler(event, context) each measured app exposes."""

CHILD = r"""
import time
started = time.perf_counter()
import importlib, json, sys
from slack_sdk.signature import SignatureVerifier
body = json.dumps({"type": "event_callback", "team_id": "T1", "event_id": sys.argv[2],
    "event": {"type": "app_mention", "user": "U1", "text": "<@UBOT> VPN?", "ts": "1.0", "channel": "C1"}})

def event():
    ts = str(int(time.time()))
    sig = SignatureVerifier("bench-secret").generate_signature(timestamp=ts, body=body)
    return {"requestContext": {"http": {"method": "POST"}}, "isBase64Encoded": False, "body": body,
            "headers": {"content-type": "application/json", "x-slack-request-timestamp": ts, "x-slack-signature": sig}}

class Context:
    function_name = "kotae-bot"; aws_request_id = "r"
    invoked_function_arn = "arn:aws:lambda:ap-northeast-1:123456789012:function:kotae-bot"

handler = importlib.import_module(sys.argv[3]).handler
response = handler(event(), Context())
at_200 = time.monotonic()
cold = time.perf_counter() - started
assert response["statusCode"] == 200, response
warm = []
for _ in range(int(sys.argv[1])):
    t = time.perf_counter(); handler(event(), Context()); warm.append(time.perf_counter() - t)
print(json.dumps({"cold": cold, "at_200": at_200, "warm": warm}))
"""


class _Accept(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        return

    def do_POST(self) -> None:
        """Lambda Invoke: 202 and nothing else; Slack's auth.test (once per cold start): ok."""
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b""
        if self.path.startswith("/slack/auth.test"):
            body = json.dumps({"ok": True, "user_id": "UBOT", "bot_id": "B1", "team_id": "T1"}).encode()
        self.send_response(200 if body else 202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def start_order(pairs: int) -> list[str]:
    """bare, kotae, kotae, bare, bare, kotae, …: each app once per pair, and each first in every
    other pair, so a steady drift of the machine favours neither."""
    order: list[str] = []
    for pair in range(pairs):
        order += ["bare", "kotae"] if pair % 2 == 0 else ["kotae", "bare"]
    return order


def cold_start(app: str, warm: int, event_id: str, env: Mapping[str, str]) -> dict[str, Any]:
    """One fresh process of `app`: seconds from spawn and from first import to the 200, and the
    seconds of each of its `warm` acks after that."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(warm), event_id, APPS[app]],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(f"{app} ({APPS[app]}) failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "process_start_s": result["at_200"] - started,
        "first_import_s": result["cold"],
        "warm_s": result["warm"],
    }


def _p95(values: Sequence[float]) -> float:
    return sorted(values)[max(int(len(values) * 0.95) - 1, 0)]


def _figures(prefix: str, starts: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    warms = [w for start in starts for w in start["warm_s"]]
    out = {
        f"{prefix}cold_process_start_to_200_s_median": round(
            statistics.median(s["process_start_s"] for s in starts), 3
        ),
        f"{prefix}cold_first_import_to_200_s_median": round(
            statistics.median(s["first_import_s"] for s in starts), 3
        ),
    }
    if warms:
        out[f"{prefix}warm_ack_ms_median"] = round(statistics.median(warms) * 1000, 2)
        out[f"{prefix}warm_ack_ms_p95"] = round(_p95(warms) * 1000, 2)
    return out


def summarize(starts: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    """The JSON line: kotae's figures under the original keys, the bare app's under bare_…, and
    cold_ratio_to_bare = kotae's cold median / the bare app's, from unrounded medians."""
    kotae, bare = starts["kotae"], starts["bare"]
    ratio = statistics.median(s["process_start_s"] for s in kotae) / statistics.median(
        s["process_start_s"] for s in bare
    )
    return {
        "bench": "bot_ack",
        "runs": len(kotae),
        **_figures("", kotae),
        **_figures("bare_", bare),
        "cold_ratio_to_bare": round(ratio, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7, help="measured cold starts of each app")
    parser.add_argument("--warm", type=int, default=200, help="warm acks in each app's first process")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted starts of each app first")
    args = parser.parse_args()
    if args.runs < 1 or args.warm < 0 or args.warmup < 0:
        parser.error("--runs must be at least 1, --warm and --warmup at least 0")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Accept)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    starts: dict[str, list[dict[str, Any]]] = {app: [] for app in APPS}
    with tempfile.TemporaryDirectory() as data:
        env = {
            **os.environ,
            "SLACK_SIGNING_SECRET": "bench-secret",
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "AWS_ENDPOINT_URL_LAMBDA": f"http://127.0.0.1:{server.server_address[1]}",
            "KOTAE_SLACK_API_URL": f"http://127.0.0.1:{server.server_address[1]}/slack/",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "ap-northeast-1",
            "KOTAE_DATA_DIR": data,
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
        for i, app in enumerate(start_order(args.warmup + args.runs)):
            counted = i >= 2 * args.warmup
            warm = args.warm if counted and not starts[app] else 0
            start = cold_start(app, warm, f"Ev{i}", env)
            if counted:
                starts[app].append(start)
    server.shutdown()
    print(json.dumps({**summarize(starts), "warmup": args.warmup}))


if __name__ == "__main__":
    main()
