"""In-process stand-ins for the Slack Web API and for Lambda's Invoke (lazy listeners)."""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class SlackAPI:
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    url: str = ""
    counter: int = 0
    replies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # thread ts -> messages
    refuse: set[str] = field(default_factory=set)  # methods that answer ok=false, error "not_allowed"
    # Like a workspace or client without Slack's AI-app blocks: calls with stream chunks (or a
    # task_display_mode) answer "invalid_arguments"; blocks of these types, "invalid_blocks".
    refuse_chunks: bool = False
    refuse_blocks: set[str] = field(default_factory=set)
    bot_user_id: str = "UBOT"  # who auth.test says the token is (Bolt puts it in the context)
    bot_id: str = "BKOTAE"
    groups: dict[str, list[str]] = field(default_factory=dict)  # user group id -> member ids
    errors: dict[str, str] = field(default_factory=dict)  # method -> the error it answers
    channel_errors: dict[str, str] = field(default_factory=dict)  # channel -> the error calls there answer

    def called(self, method: str) -> list[dict[str, Any]]:
        return [args for name, args in self.calls if name == method]

    def streamed_text(self) -> str:
        """The text of the stream calls, as plain ``markdown_text`` or as markdown_text chunks."""
        parts = []
        for name, args in self.calls:
            if name in STREAM_METHODS:
                parts.append(args.get("markdown_text") or "")
                parts += [c["text"] for c in _listed(args.get("chunks")) if c["type"] == "markdown_text"]
        return "".join(parts)

    def chunks(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Every chunk the stream calls carried, in order (only those of this type, if given)."""
        sent = [c for name, args in self.calls if name in STREAM_METHODS for c in _listed(args.get("chunks"))]
        return [c for c in sent if kind is None or c["type"] == kind]

    def error(self, method: str, args: dict[str, Any]) -> str | None:
        """Why Slack would refuse this call, if it would."""
        if method in self.refuse:
            return "not_allowed"
        if method in self.errors:
            return self.errors[method]
        if str(args.get("channel")) in self.channel_errors:
            return self.channel_errors[str(args.get("channel"))]
        if {b.get("type") for b in _listed(args.get("blocks"))} & self.refuse_blocks:
            return "invalid_blocks"
        chunks = _listed(args.get("chunks"))
        if (chunks and method not in STREAM_METHODS) or any(c.get("type") not in CHUNK_TYPES for c in chunks):
            return "invalid_chunks"
        if self.refuse_chunks and ("chunks" in args or "task_display_mode" in args):
            return "invalid_arguments"
        return None

    def answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        """The method's own fields of a successful response."""
        if method == "views.open":
            view = _listed([args.get("view")])[0]
            return {"view": {**view, "id": f"V{self.counter:04d}"}}
        if method == "views.publish":
            view = _listed([args.get("view")])[0]
            return {"view": {**view, "id": f"VH{self.counter:04d}"}}
        if method == "auth.test":
            return {"user_id": self.bot_user_id, "bot_id": self.bot_id, "team_id": "T1"}
        if method == "conversations.replies":
            return replies_page(self.replies.get(args.get("ts", ""), []), args)
        if method == "views.update":
            view = _listed([args.get("view")])[0]
            return {"view": {**view, "id": args.get("view_id") or "V-updated"}}
        if method == "chat.getPermalink":
            ts = str(args.get("message_ts", "")).replace(".", "")
            return {"permalink": f"https://hoshizora.slack.com/archives/{args.get('channel')}/p{ts}"}
        if method == "usergroups.users.list":
            return {"users": self.groups.get(str(args.get("usergroup")), [])}
        return {}


STREAM_METHODS = {"chat.startStream", "chat.appendStream", "chat.stopStream"}
CHUNK_TYPES = {"markdown_text", "task_update", "plan_update", "blocks"}


def _listed(value: Any) -> list[dict[str, Any]]:
    """A JSON argument as sent: a list (JSON bodies) or its text (form-encoded bodies)."""
    if isinstance(value, str):
        value = json.loads(value)
    if isinstance(value, dict):
        return [value]
    return [v if isinstance(v, dict) else json.loads(v) for v in value or [] if v is not None]


def _flag(value: Any) -> bool:
    return str(value).lower() in ("1", "true")


def replies_page(thread: list[dict[str, Any]], args: dict[str, Any]) -> dict[str, Any]:
    """One page of conversations.replies as Slack documents it: the thread oldest first,
    only messages after ``oldest`` and before ``latest`` (``inclusive`` keeps those equal),
    at most ``limit`` (default 1000), with ``has_more`` and ``response_metadata.next_cursor``
    ("" on the last page) to continue from (https://docs.slack.dev/apis/web-api/pagination)."""
    inclusive = _flag(args.get("inclusive", False))
    oldest, latest = float(args.get("oldest") or 0), float(args.get("latest") or "inf")

    def within(message: dict[str, Any]) -> bool:
        ts = float(message["ts"])
        after = ts >= oldest if inclusive else ts > oldest
        before = ts <= latest if inclusive else ts < latest
        return after and before

    messages = [m for m in thread if within(m)]
    start = int(base64.b64decode(args["cursor"]).decode().split(":")[1]) if args.get("cursor") else 0
    limit = min(max(int(args.get("limit") or 1000), 1), 1000)
    more = start + limit < len(messages)
    cursor = base64.b64encode(f"next:{start + limit}".encode()).decode() if more else ""
    return {
        "messages": messages[start : start + limit],
        "has_more": more,
        "response_metadata": {"next_cursor": cursor},
    }


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@contextmanager
def slack_api() -> Iterator[SlackAPI]:
    state = SlackAPI()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            if self.headers.get("Content-Type", "").startswith("application/json"):
                args = json.loads(raw or "{}")
            else:
                args = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
            path, _, query = self.path.partition("?")
            args.update({k: v[0] for k, v in urllib.parse.parse_qs(query).items()})
            method = path.strip("/")
            ok = self.headers.get("Authorization", "").startswith("Bearer xoxb-")
            state.calls.append((method, args))
            state.counter += 1
            body = {"ok": ok, "ts": f"1700000000.{state.counter:06d}", "channel": args.get("channel")}
            if not ok:
                body["error"] = "invalid_auth"
            elif error := state.error(method, args):
                body.update(ok=False, error=error)
            else:
                body.update(state.answer(method, args))
            payload = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server, state.url = _serve(Handler)
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class LambdaAPI:
    """Receives Invoke(InvocationType=Event) and runs the function in a thread, as Lambda would."""

    target: Callable[[dict[str, Any]], Any]
    url: str = ""
    invocations: list[dict[str, Any]] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def wait(self) -> None:
        for thread in list(self.threads):
            thread.join(timeout=30)


@contextmanager
def lambda_api(target: Callable[[dict[str, Any]], Any]) -> Iterator[LambdaAPI]:
    state = LambdaAPI(target)

    def run(payload: dict[str, Any]) -> None:
        try:
            state.target(payload)
        except BaseException as exc:  # recorded for the test to see
            state.errors.append(exc)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            state.invocations.append(payload)
            thread = threading.Thread(target=run, args=(payload,))
            state.threads.append(thread)
            thread.start()
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server, state.url = _serve(Handler)
    try:
        yield state
    finally:
        state.wait()
        server.shutdown()
        server.server_close()
