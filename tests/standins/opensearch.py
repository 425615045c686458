"""An in-process OpenSearch stand-in: a real HTTP server on 127.0.0.1 speaking just enough of the
REST API, with the documented response shapes, for kotae's OpenSearch store.

It records every request (method, path, query, headers, body) so tests can assert on what was
sent, checks request bodies the way a cluster does (a bulk body must be NDJSON ending with a
newline, every action line one of index/create/update/delete, documents must fit the mapping,
vectors must have the mapped dimension; search, count, create-index and put-mapping bodies must
have the shapes the published API specification documents: opensearch_shapes and
opensearch_mapping; analysis components only from the installed plugins: opensearch_analysis),
and takes injected faults: the next matching
request can answer an HTTP error, drop the connection, or fail chosen bulk items.

    with OpenSearchStandIn() as server:
        client = OpenSearch(hosts=[server.url], connection_class=RequestsHttpConnection)
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.standins import opensearch_analysis as analysis
from tests.standins.opensearch_engine import ApiError, Index, index_not_found
from tests.standins.opensearch_mapping import CREATE_INDEX, Mapping

BULK_OPS = ("index", "create", "update", "delete")
# What Serverless answers for a custom id on a vector search collection (from memory of the
# service's message; the status and error type are what matter to the store).
NO_CUSTOM_ID = "Document ID is not supported in create/index operation request"


@dataclass
class Fault:
    """A misbehaviour for the next request whose method and path match (empty = any)."""

    path: str = ""
    method: str = ""
    status: int | None = None  # answer this HTTP status with an error body
    kind: str = "service_unavailable_exception"
    text: str | None = None  # a non-JSON body, as a proxy in front of the cluster answers
    drop: bool = False  # close the connection without answering
    # bulk: _id or chunk_id -> (status, type) or (status, type, reason)
    items: dict[str, tuple[int, str] | tuple[int, str, str]] = field(default_factory=dict)
    reason: str = "injected failure"  # the error reason of an HTTP error answer

    def matches(self, method: str, path: str) -> bool:
        return (not self.method or self.method == method) and self.path in path


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)

    def ndjson(self) -> list[Any]:
        return [json.loads(line) for line in self.body.splitlines() if line.strip()]


class OpenSearchStandIn:
    def __init__(self, *, generated_ids: bool = False, plugins: frozenset[str] = analysis.ALL_PLUGINS) -> None:
        # generated_ids: behave like a Serverless vector search collection (no custom _id).
        # plugins: the analysis plugins installed (frozenset() refuses kuromoji, opensearch_analysis).
        self.generated_ids, self.plugins = generated_ids, plugins
        self.indices: dict[str, Index] = {}
        self.aliases: dict[str, set[str]] = {}
        self.requests: list[Recorded] = []
        self.faults: deque[Fault] = deque()
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> OpenSearchStandIn:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.standin = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "use the stand-in as a context manager"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- test helpers ------------------------------------------------------------------------
    def fail(self, **kwargs: Any) -> Fault:
        fault = Fault(**kwargs)
        self.faults.append(fault)
        return fault

    def sent(self, fragment: str, method: str = "") -> list[Recorded]:
        return [r for r in self.requests if fragment in r.path and (not method or r.method == method)]

    def docs(self, target: str) -> dict[str, dict[str, Any]]:
        (index,) = self.resolve(target)
        return index.docs

    def resolve(self, target: str) -> list[Index]:
        if target in self.aliases:
            return [self.indices[name] for name in sorted(self.aliases[target])]
        if target in self.indices:
            return [self.indices[target]]
        raise index_not_found(target)

    # -- dispatch ----------------------------------------------------------------------------
    def handle(self, method: str, path: str, body: str) -> tuple[int, Any]:
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["_alias"] and len(parts) == 2 and method in ("GET", "HEAD"):
            names = sorted(self.aliases.get(parts[1], ()))
            if not names:
                return 404, {"error": f"alias [{parts[1]}] missing", "status": 404}
            return 200, {name: {"aliases": {parts[1]: {}}} for name in names}
        if parts == ["_aliases"] and method == "POST":
            return self.update_aliases(json.loads(body))
        if parts[-1:] == ["_bulk"] and method in ("POST", "PUT") and len(parts) <= 2:
            return self.bulk(parts[0] if len(parts) == 2 else None, body)
        if len(parts) == 1 and method == "PUT":
            return self.create_index(parts[0], json.loads(body or "{}"))
        if len(parts) == 1 and method == "HEAD":
            return (200 if parts[0] in self.indices or parts[0] in self.aliases else 404), None
        if len(parts) == 2 and parts[1] == "_mapping" and method == "GET":
            return 200, {i.name: {"mappings": i.mappings} for i in self.resolve(parts[0])}
        if len(parts) == 2 and parts[1] == "_mapping" and method in ("PUT", "POST"):
            for index in self.resolve(parts[0]):
                index.put_mapping(json.loads(body))
            return 200, {"acknowledged": True}
        if len(parts) == 2 and parts[1] in ("_search", "_count") and method in ("GET", "POST"):
            indices = self.resolve(parts[0])
            if len(indices) != 1:
                raise ApiError(400, "illegal_argument_exception", "stand-in searches one index only")
            request = json.loads(body or "{}")
            if parts[1] == "_count":
                shards = {"total": 1, "successful": 1, "skipped": 0, "failed": 0}
                return 200, {"count": indices[0].count(request), "_shards": shards}
            return 200, indices[0].search(request)
        raise ApiError(400, "illegal_argument_exception", f"no handler for [{method} {path}]")

    def create_index(self, name: str, body: dict[str, Any]) -> tuple[int, Any]:
        if name in self.indices or name in self.aliases:
            raise ApiError(400, "resource_already_exists_exception", f"index [{name}] already exists")
        CREATE_INDEX(body, "create index")
        mappings = body.get("mappings", {})
        settings = body.get("settings", {})
        analysis.check(settings, mappings, self.plugins)
        knn = any(p.get("type") == "knn_vector" for p in mappings.get("properties", {}).values())
        if knn and settings.get("index", {}).get("knn") is not True:
            raise ApiError(400, "illegal_argument_exception", "knn_vector fields need index.knn: true")
        self.indices[name] = Index(name, settings, Mapping(mappings))
        return 200, {"acknowledged": True, "shards_acknowledged": True, "index": name}

    def update_aliases(self, body: dict[str, Any]) -> tuple[int, Any]:
        aliases = {name: set(indices) for name, indices in self.aliases.items()}  # all or nothing
        for action in body["actions"]:
            ((op, spec),) = action.items()
            if spec["index"] not in self.indices:
                raise index_not_found(spec["index"])
            if op == "add":
                aliases.setdefault(spec["alias"], set()).add(spec["index"])
            elif op == "remove" and spec["index"] in aliases.get(spec["alias"], set()):
                aliases[spec["alias"]].discard(spec["index"])
            else:
                raise ApiError(404, "aliases_not_found_exception", f"aliases [{spec['alias']}] missing")
        self.aliases = {name: indices for name, indices in aliases.items() if indices}
        return 200, {"acknowledged": True}

    def bulk(self, target: str | None, body: str) -> tuple[int, Any]:
        if not body.endswith("\n"):
            raise ApiError(400, "illegal_argument_exception", "The bulk request must end with a newline")
        try:
            lines = deque(json.loads(line) for line in body.splitlines() if line.strip())
        except json.JSONDecodeError as exc:
            raise ApiError(400, "json_parse_exception", f"bulk body is not NDJSON: {exc}") from None
        actions = []  # the whole body is checked before anything is applied, as a cluster does
        while lines:
            action = lines.popleft()
            if not (isinstance(action, dict) and len(action) == 1 and next(iter(action)) in BULK_OPS):
                raise ApiError(400, "illegal_argument_exception", f"Malformed action/metadata line: {action}")
            ((op, meta),) = action.items()
            payload = None if op == "delete" else lines.popleft() if lines else None
            if op != "delete" and not isinstance(payload, dict):
                raise ApiError(400, "illegal_argument_exception", f"{op} action without a document line")
            actions.append((op, meta, payload))
        fault = self._take("POST", "/_bulk", items_only=True)
        items, errors = [], False
        for op, meta, payload in actions:
            doc_id = meta.get("_id")
            index_name = meta.get("_index") or target or ""
            result: dict[str, Any] = {"_index": index_name, "_id": doc_id}
            label = doc_id or ((payload or {}).get("doc") or payload or {}).get("chunk_id")
            try:
                if fault and label in fault.items:
                    status, kind, *reason = fault.items[label]
                    raise ApiError(status, kind, reason[0] if reason else f"injected failure for [{label}]")
                if self.generated_ids and (op == "update" or (op in ("index", "create") and doc_id)):
                    raise ApiError(400, "illegal_argument_exception", NO_CUSTOM_ID)
                (index,) = self.resolve(index_name)
                result["_index"] = index.name
                result["_id"], result["status"], result["result"] = index.apply(op, doc_id, payload)
                result["_version"] = 1
            except ApiError as exc:
                errors = True
                result["status"] = exc.status
                result["error"] = {"type": exc.kind, "reason": exc.reason}
            items.append({op: result})
        return 200, {"took": 1, "errors": errors, "items": items}

    def _take(self, method: str, path: str, *, items_only: bool = False) -> Fault | None:
        """The first queued fault matching this request (and of the right sort), removed."""
        for fault in list(self.faults):
            if fault.matches(method, path) and bool(fault.items) == items_only:
                self.faults.remove(fault)
                return fault
        return None


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _serve(self) -> None:
        standin: OpenSearchStandIn = self.server.standin  # type: ignore[attr-defined]
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else ""
        with standin.lock:
            standin.requests.append(
                Recorded(self.command, split.path, parse_qs(split.query), dict(self.headers.items()), body)
            )
            fault = standin._take(self.command, split.path)
            if fault is not None and fault.drop:
                self.close_connection = True
                return
            try:
                if fault is not None and fault.status is not None:
                    if fault.text is None:
                        raise ApiError(fault.status, fault.kind, fault.reason)
                    status, data = fault.status, fault.text.encode("utf-8")
                else:
                    status, payload = standin.handle(self.command, split.path, body)
                    data = b"" if payload is None else json.dumps(payload).encode("utf-8")
            except ApiError as exc:
                status, data = exc.status, json.dumps(exc.body()).encode("utf-8")
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                status, data = 400, json.dumps(ApiError(400, "parsing_exception", repr(exc)).body()).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve
