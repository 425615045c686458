"""The Serverless data-access policy grants each principal exactly what kotae sends.

Each role's part of kotae runs against the OpenSearch stand-in, which records every request; each
request is mapped to the data-access permission AWS documents for it ("Supported OpenSearch API
operations and permissions", https://docs.aws.amazon.com/opensearch-service/latest/developerguide/
serverless-genref.html#serverless-operations), and the synthesized policy must grant the role
that set: nothing missing (a 403 in production), nothing more. A request this table does not
know fails the test, so a new kind of request cannot reach production unreviewed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="needs the infra extra: pip install -e '.[infra]'")

from opensearchpy import OpenSearch, RequestsHttpConnection

from kotae.models import Filters
from kotae.providers.opensearch_queries import alias_actions, index_body
from kotae.providers.opensearch_store import OpenSearchStore
from kotae.records.query import RecordQuery
from tests.fakes import make_doc as doc
from tests.infra.conftest import logical_id, render, synth
from tests.standins.opensearch import OpenSearchStandIn, Recorded

ALIAS = "kotae-knowledge"
ADMIN = "arn:aws:iam::123456789012:role/ops"
INDEX = r"/(?!_)[^/]+"
# (method, path) -> permission, from the operations table; _aliases is read by its actions below.
OPERATIONS: list[tuple[str, str, str]] = [
    ("PUT", INDEX, "aoss:CreateIndex"),
    ("HEAD", INDEX, "aoss:DescribeIndex"),
    ("GET", INDEX + "/_mapping", "aoss:DescribeIndex"),
    ("PUT", INDEX + "/_mapping", "aoss:UpdateIndex"),
    ("POST", INDEX + "/_(search|count)", "aoss:ReadDocument"),
    ("POST", f"({INDEX})?/_bulk", "aoss:WriteDocument"),
    ("HEAD", "/_alias/[^/]+", "aoss:DescribeCollectionItems"),
    ("GET", "/_alias/[^/]+", "aoss:DescribeCollectionItems"),
]
# POST _aliases: "add" creates an index alias (aoss:CreateCollectionItems); "remove" takes it off
# an index, which updates and deletes alias items (aoss:UpdateCollectionItems and
# aoss:DeleteCollectionItems: "Update aliases", "Delete aliases").
ALIAS_ACTIONS = {
    "add": {"aoss:CreateCollectionItems"},
    "remove": {"aoss:UpdateCollectionItems", "aoss:DeleteCollectionItems"},
}
# Granted to operators beyond what kotae sends: they delete by hand the indexes a reindex leaves
# behind (DELETE <index>).
OPERATOR_EXTRAS = {"aoss:DeleteIndex"}


def permissions(request: Recorded) -> set[str]:
    """The data-access permissions one recorded request needs."""
    if request.method == "POST" and request.path == "/_aliases":
        return {p for action in request.json()["actions"] for op in action for p in ALIAS_ACTIONS[op]}
    found = {p for method, path, p in OPERATIONS if method == request.method and re.fullmatch(path, request.path)}
    assert found, f"no documented permission known for {request.method} {request.path}: extend OPERATIONS"
    return found


def needed(run: Callable[[OpenSearchStore, OpenSearchStandIn], None]) -> set[str]:
    """What ``run`` sends (outside its setup) needs, on a Serverless-like stand-in."""
    with OpenSearchStandIn(generated_ids=True) as server:
        client = OpenSearch(hosts=[server.url], connection_class=RequestsHttpConnection, max_retries=0)
        store = OpenSearchStore(client, ALIAS, 4, custom_ids=False, refresh=True)
        run(store, server)
        return {p for request in server.requests for p in permissions(request)}


@contextmanager
def unrecorded(server: OpenSearchStandIn) -> Iterator[None]:
    """Setup: what is sent inside is not the role's."""
    mark = len(server.requests)
    yield
    del server.requests[mark:]


def _knowledge(store: OpenSearchStore) -> None:
    store.ensure_index()
    record = doc("r", kind="record").model_copy(update={"facets": {"status": "failed"}})
    store.write("a", [doc("a", text="vpn setup")], {"a#0000": [1.0, 0.0, 0.0, 0.0]})
    store.write("r", [record], {})


def bot(store: OpenSearchStore, server: OpenSearchStandIn) -> None:
    """What the bot sends: retrieval, relevance statistics and record queries."""
    with unrecorded(server):
        _knowledge(store)
    store.lexical_search("vpn", 5, Filters())
    store.vector_search([1.0, 0.0, 0.0, 0.0], 5, Filters())
    store.term_frequencies(["vpn"], Filters(scopes=("public",)))
    store.facet_matches("record", ["failed"], Filters())
    store.facet_values("record", "status", Filters())
    store.query_records(RecordQuery(operation="group", group_by=["status"]), Filters())


def ingest(store: OpenSearchStore, server: OpenSearchStandIn) -> None:
    """What ingest sends: its first cold start, stream records, and a later cold start whose
    index lacks a field this kotae maps."""
    store.ensure_index()  # no alias yet: <alias>-v1 and the alias are made
    store.write("a", [doc("a", text="vpn")], {"a#0000": [1.0, 0.0, 0.0, 0.0]}, version="1")
    store.advance_version("a", "2")
    store.delete("b", version="1")
    with unrecorded(server):  # the alias on an index made before the "tokens" field
        old = index_body(4)
        del old["mappings"]["properties"]["tokens"]
        store.client.indices.create(index=f"{ALIAS}-v0", body=old)
        store.client.indices.update_aliases(body=alias_actions(ALIAS, f"{ALIAS}-v0", [f"{ALIAS}-v1"]))
    store.ensure_index()  # the alias exists: its index gets the missing field


def operator(store: OpenSearchStore, server: OpenSearchStandIn) -> None:
    """What `kotae reindex` and `kotae backfill` send (a new index filled, the alias moved), and
    `kotae search` checking the result."""
    with unrecorded(server):
        _knowledge(store)
    store.reindex(4, lambda target: target.write("a", [doc("a")], {"a#0000": [0.0, 1.0, 0.0, 0.0]}))
    store.write("b", [doc("b")], {"b#0000": [0.0, 0.0, 1.0, 0.0]})
    store.count()
    store.lexical_search("hello", 5, Filters())
    store.facet_matches("record", ["failed"], Filters())


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Principal -> every data-access permission the synthesized policy grants it."""
    stack, _, data = synth({"kotae:searchAdminPrincipals": ADMIN}, tmp_path_factory.mktemp("cdk"))
    (access,) = [r["Properties"] for r in data["Resources"].values() if r["Type"] == "AWS::OpenSearchServerless::AccessPolicy"]
    granted: dict[str, set[str]] = {}
    for rule in json.loads(render(access["Policy"])):
        for principal in rule["Principal"]:
            granted.setdefault(principal, set()).update(p for r in rule["Rules"] for p in r["Permission"])
    roles = {name: f"<{logical_id(stack, getattr(stack, name).function.role)}.Arn>" for name in ("bot", "ingest")}
    return {"bot": granted[roles["bot"]], "ingest": granted[roles["ingest"]], "operator": granted[ADMIN]}


def test_the_bot_is_granted_exactly_what_it_sends(policy: dict[str, set[str]]) -> None:
    assert policy["bot"] == needed(bot) == {"aoss:DescribeIndex", "aoss:ReadDocument"}


def test_ingest_is_granted_exactly_what_it_sends(policy: dict[str, set[str]]) -> None:
    sent = needed(ingest)
    assert {"aoss:CreateCollectionItems", "aoss:UpdateIndex", "aoss:WriteDocument"} <= sent
    assert policy["ingest"] == sent


def test_operators_are_granted_what_a_reindex_sends_and_index_deletion(policy: dict[str, set[str]]) -> None:
    sent = needed(operator)
    assert {"aoss:UpdateCollectionItems", "aoss:DeleteCollectionItems"} <= sent  # the alias moved
    assert policy["operator"] == sent | OPERATOR_EXTRAS


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        pytest.param("POST", "/_aliases", {"actions": [{"add": {"index": "i", "alias": "a"}}]},
                     {"aoss:CreateCollectionItems"}, id="alias-created"),
        pytest.param("POST", "/_aliases", {"actions": [{"remove": {"index": "i", "alias": "a"}},
                                                       {"add": {"index": "j", "alias": "a"}}]},
                     {"aoss:CreateCollectionItems", "aoss:UpdateCollectionItems", "aoss:DeleteCollectionItems"},
                     id="alias-moved"),
        pytest.param("HEAD", "/_alias/a", None, {"aoss:DescribeCollectionItems"}, id="alias-exists"),
        pytest.param("POST", "/a/_count", {}, {"aoss:ReadDocument"}, id="count"),
        pytest.param("POST", "/_bulk", None, {"aoss:WriteDocument"}, id="bulk-without-index"),
    ],
)
def test_requests_map_to_the_documented_permissions(method: str, path: str, body: Any, expected: set[str]) -> None:
    assert permissions(Recorded(method, path, {}, {}, json.dumps(body))) == expected


def test_an_unknown_request_is_not_let_through() -> None:
    with pytest.raises(AssertionError, match="extend OPERATIONS"):
        permissions(Recorded("DELETE", "/kotae-knowledge-v1", {}, {}, ""))
