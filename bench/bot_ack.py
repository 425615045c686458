"""Bot ack latency: process start -> HTTP 200 for a signed app_mention (cold), and warm acks.

The ack path is the real one: Bolt verifies the signature, acks, and starts the lazy listener
by invoking the function through boto3's Lambda client, here pointed (AWS_ENDPOINT_URL_LAMBDA)
at a local endpoint that accepts the invocation and does nothing. Cold: a fresh Python process
per run, timed from before its first import. Prints one JSON line with medians.

    python bench/bot_ack.py [--runs 7] [--warm 200]
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import time
started = time.perf_counter()
import json, sys
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

from bot.handler import handler
response = handler(event(), Context())
cold = time.perf_counter() - started
assert response["statusCode"] == 200, response
warm = []
for _ in range(int(sys.argv[1])):
    t = time.perf_counter(); handler(event(), Context()); warm.append(time.perf_counter() - t)
print(json.dumps({"cold": cold, "warm": warm}))
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--warm", type=int, default=200)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Accept)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    colds, warms = [], []
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
        for run in range(args.runs):
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", CHILD, str(args.warm if run == 0 else 0), f"Ev{run}"],
                env=env,
                capture_output=True,
                text=True,
                check=False,
                cwd=ROOT,
            )
            if done.returncode != 0:
                raise SystemExit(done.stderr[-2000:])
            wall = time.perf_counter() - started
            result = json.loads(done.stdout.strip().splitlines()[-1])
            colds.append({"in_process_s": result["cold"], "process_wall_s": wall})
            warms.extend(result["warm"])
    server.shutdown()
    print(
        json.dumps(
            {
                "bench": "bot_ack",
                "runs": args.runs,
                "cold_process_start_to_200_s_median": round(
                    statistics.median(c["process_wall_s"] for c in colds), 3
                ),
                "cold_first_import_to_200_s_median": round(
                    statistics.median(c["in_process_s"] for c in colds), 3
                ),
                "warm_ack_ms_median": round(statistics.median(warms) * 1000, 2),
                "warm_ack_ms_p95": round(sorted(warms)[int(len(warms) * 0.95) - 1] * 1000, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
