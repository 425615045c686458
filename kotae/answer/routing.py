"""Which model answers a question: the light one, the strong one, or the one a channel pins.

The rule is a pure function of what ``prepare_context`` knows once the evidence is chosen
(README "Choosing the model" has it as a table). In order, the first that applies decides:

1. a record question the parser answered from the store: ``none`` (no model is asked);
2. a generator that is no language model (the extractive answerer): ``none``;
3. a channel profile's ``model_id``: ``pinned`` to it;
4. no evidence passed the gate and no tools are used: ``none`` (the model is not asked);
5. a channel profile's ``route`` (light or strong): that route;
6. ``KOTAE_ROUTING=off``: ``none``, the configured model (KOTAE_GENERATION_MODEL_ID), as before;
7. a record question Claude answers with tools: ``strong``;
8. more sources, more source text, a longer thread or a longer question than the light
   limits of :class:`RoutingPolicy`: ``strong``, naming the limit;
9. otherwise (one or two short sources, a short question and thread): ``light``.

Every Answer carries the route's name and reason, and the answer log keeps both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RouteName = Literal["light", "strong", "pinned", "none"]
ProfileRoute = Literal["light", "strong"]


@dataclass(frozen=True)
class Route:
    """The model chosen for one answer and why (the reason is logged verbatim)."""

    name: RouteName
    model_id: str
    reason: str


@dataclass(frozen=True)
class RouteSignals:
    """What the rule looks at: sizes in characters, counts of turns and sources."""

    question_chars: int
    history_turns: int = 0
    history_chars: int = 0
    sources: int = 0
    source_chars: int = 0
    tools: bool = False  # Claude answers a record question with the record and search tools
    store_records: bool = False  # the record parser answered from the store, without a model
    uses_llm: bool = True  # False for the extractive answerer: there is no model to choose
    pinned_model_id: str | None = None  # a channel profile's model_id
    profile_route: ProfileRoute | None = None  # a channel profile's route


@dataclass(frozen=True)
class RoutingPolicy:
    """The two models and the light limits. ``enabled`` is KOTAE_ROUTING=auto; when it is off,
    ``default_model_id`` (the configured generation model) answers unless a profile says else."""

    default_model_id: str
    light_model_id: str
    strong_model_id: str
    enabled: bool = False
    max_light_sources: int = 2
    max_light_source_chars: int = 2_000  # title + text of all sources: two short FAQ entries
    max_light_history_turns: int = 4  # two exchanges of a thread
    max_light_history_chars: int = 1_500
    max_light_question_chars: int = 400

    @classmethod
    def off(cls, model_id: str) -> RoutingPolicy:
        """No routing: every question goes to ``model_id`` (profiles may still pin or route)."""
        return cls(default_model_id=model_id, light_model_id=model_id, strong_model_id=model_id)


def choose_route(signals: RouteSignals, policy: RoutingPolicy) -> Route:
    """The route of one question under the rule in this module's docstring."""
    if signals.store_records:
        return Route("none", policy.default_model_id, "record query answered from the store, no model asked")
    if not signals.uses_llm:
        return Route("none", policy.default_model_id, "the extractive answerer has no model to choose")
    if signals.pinned_model_id:
        return Route("pinned", signals.pinned_model_id, "the channel profile pins model_id")
    if not signals.sources and not signals.tools:
        return Route("none", policy.default_model_id, "no evidence passed the gate, no model asked")
    if signals.profile_route == "light":
        return Route("light", policy.light_model_id, "the channel profile's route is light")
    if signals.profile_route == "strong":
        return Route("strong", policy.strong_model_id, "the channel profile's route is strong")
    if not policy.enabled:
        return Route("none", policy.default_model_id, "routing is off (KOTAE_ROUTING=off)")
    if signals.tools:
        return Route("strong", policy.strong_model_id, "record question answered with tools")
    too_big = _over_light_limits(signals, policy)
    if too_big:
        return Route("strong", policy.strong_model_id, too_big)
    plural = "s" if signals.sources > 1 else ""
    return Route(
        "light",
        policy.light_model_id,
        f"{signals.sources} short source{plural} ({signals.source_chars} chars), short question and thread",
    )


def _over_light_limits(signals: RouteSignals, policy: RoutingPolicy) -> str | None:
    """The first light limit the question exceeds, said as a reason; None within all of them."""
    checks = [
        (signals.sources, policy.max_light_sources, "sources"),
        (signals.source_chars, policy.max_light_source_chars, "chars of sources"),
        (signals.history_turns, policy.max_light_history_turns, "thread turns"),
        (signals.history_chars, policy.max_light_history_chars, "chars of thread"),
        (signals.question_chars, policy.max_light_question_chars, "chars of question"),
    ]
    for value, limit, what in checks:
        if value > limit:
            return f"{value} {what} (light takes at most {limit})"
    return None
