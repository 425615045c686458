"""The routing rule (kotae.answer.routing): one row per branch, in the rule's order."""

from __future__ import annotations

import pytest

from kotae.answer.routing import RouteSignals, RoutingPolicy, choose_route

LIGHT, STRONG, DEFAULT = "jp.light-v1:0", "jp.strong-v1:0", "jp.default-v1:0"
AUTO = RoutingPolicy(default_model_id=DEFAULT, light_model_id=LIGHT, strong_model_id=STRONG, enabled=True)
OFF = RoutingPolicy(default_model_id=DEFAULT, light_model_id=LIGHT, strong_model_id=STRONG)
ONE_FAQ = {"question_chars": 30, "sources": 1, "source_chars": 300}


@pytest.mark.parametrize(
    ("signals", "policy", "expected"),
    [
        pytest.param(ONE_FAQ, AUTO, ("light", LIGHT, "1 short source (300 chars)"), id="one-short-faq"),
        pytest.param({**ONE_FAQ, "sources": 2, "source_chars": 2000, "history_turns": 4, "history_chars": 1500,
                      "question_chars": 400}, AUTO, ("light", LIGHT, "2 short sources"), id="at-every-limit"),
        pytest.param({**ONE_FAQ, "sources": 3}, AUTO, ("strong", STRONG, "3 sources (light takes at most 2)"),
                     id="many-sources"),
        pytest.param({**ONE_FAQ, "source_chars": 2001}, AUTO, ("strong", STRONG, "2001 chars of sources"),
                     id="long-sources"),
        pytest.param({**ONE_FAQ, "history_turns": 5}, AUTO, ("strong", STRONG, "5 thread turns"), id="long-thread"),
        pytest.param({**ONE_FAQ, "history_chars": 1501}, AUTO, ("strong", STRONG, "1501 chars of thread"),
                     id="wordy-thread"),
        pytest.param({**ONE_FAQ, "question_chars": 401}, AUTO, ("strong", STRONG, "401 chars of question"),
                     id="long-question"),
        pytest.param({**ONE_FAQ, "tools": True}, AUTO, ("strong", STRONG, "record question answered with tools"),
                     id="record-tools"),
        pytest.param({"question_chars": 9, "tools": True}, AUTO, ("strong", STRONG, "with tools"),
                     id="tools-need-no-evidence"),
        pytest.param({**ONE_FAQ, "store_records": True, "pinned_model_id": "x.m-v1:0"}, AUTO,
                     ("none", DEFAULT, "answered from the store"), id="store-records-before-all"),
        pytest.param({**ONE_FAQ, "uses_llm": False, "pinned_model_id": "x.m-v1:0"}, AUTO,
                     ("none", DEFAULT, "extractive"), id="no-language-model"),
        pytest.param({**ONE_FAQ, "sources": 9, "pinned_model_id": "x.m-v1:0", "profile_route": "light"}, AUTO,
                     ("pinned", "x.m-v1:0", "pins model_id"), id="pinned-wins-over-route-and-rule"),
        pytest.param({"question_chars": 30, "pinned_model_id": "x.m-v1:0"}, AUTO,
                     ("pinned", "x.m-v1:0", "pins"), id="pinned-without-evidence"),
        pytest.param({"question_chars": 30}, AUTO, ("none", DEFAULT, "no evidence"), id="no-evidence"),
        pytest.param({**ONE_FAQ, "profile_route": "light"}, OFF, ("light", LIGHT, "route is light"),
                     id="profile-light-with-routing-off"),
        pytest.param({**ONE_FAQ, "profile_route": "strong"}, AUTO, ("strong", STRONG, "route is strong"),
                     id="profile-strong"),
        pytest.param({**ONE_FAQ, "sources": 9, "profile_route": "light"}, AUTO, ("light", LIGHT, "route is light"),
                     id="profile-light-over-the-rule"),
        pytest.param({**ONE_FAQ, "sources": 9, "tools": True}, OFF, ("none", DEFAULT, "KOTAE_ROUTING=off"),
                     id="routing-off"),
    ],
)  # fmt: skip
def test_the_rule(signals: dict, policy: RoutingPolicy, expected: tuple[str, str, str]) -> None:
    route = choose_route(RouteSignals(**signals), policy)
    name, model_id, reason = expected
    assert (route.name, route.model_id) == (name, model_id)
    assert reason in route.reason


def test_routing_off_sends_every_question_to_one_model() -> None:
    policy = RoutingPolicy.off(DEFAULT)
    for signals in (ONE_FAQ, {**ONE_FAQ, "sources": 9}, {**ONE_FAQ, "profile_route": "strong"}):
        assert choose_route(RouteSignals(**signals), policy).model_id == DEFAULT


@pytest.mark.parametrize(
    ("settings", "variable"),
    [
        pytest.param({"routing": "sometimes"}, "KOTAE_ROUTING", id="unknown-mode"),
        pytest.param({"strong_model_id": "a sonnet please"}, "KOTAE_STRONG_MODEL_ID", id="strong-not-an-id"),
        pytest.param({"light_model_id": "-haiku"}, "KOTAE_LIGHT_MODEL_ID", id="light-not-an-id"),
    ],
)
def test_bad_routing_settings_stop_at_start(settings: dict, variable: str, tmp_path) -> None:
    from kotae.errors import ConfigError
    from kotae.settings import load_settings

    with pytest.raises(ConfigError, match=variable):
        load_settings(data_dir=tmp_path, **settings)


def test_routing_is_off_by_default_and_light_is_the_generation_model(tmp_path) -> None:
    from kotae.app import Kotae
    from kotae.settings import load_settings

    policy = Kotae(load_settings(data_dir=tmp_path, generation_model_id="us.anthropic.claude-haiku-4-5-20251001-v1:0")).routing
    assert not policy.enabled and policy.light_model_id == "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    assert policy.strong_model_id == "jp.anthropic.claude-sonnet-4-5-20250929-v1:0"


@pytest.mark.parametrize(
    ("profile", "route"),
    [
        pytest.param({"route": "strong"}, "strong", id="strong"),
        pytest.param({"route": "light"}, "light", id="light"),
        pytest.param({}, None, id="unset"),
    ],
)
def test_a_channel_profile_passes_its_route_on(profile: dict, route: str | None) -> None:
    from bot.profiles import ChannelProfile

    assert ChannelProfile.model_validate(profile).ask_options().route == route


def test_a_channel_profile_refuses_an_unknown_route() -> None:
    from pydantic import ValidationError

    from bot.profiles import ChannelProfile

    with pytest.raises(ValidationError, match="route"):
        ChannelProfile.model_validate({"route": "medium"})
