"""Who may keep the knowledge: the knowledge editors of a channel, people or user groups.

Editors are Slack user ids (``U…``, ``W…``) or user-group ids (``S…``): a channel profile's
``editors`` when it names them, else ``KOTAE_KNOWLEDGE_EDITORS``. A user group's members come
from ``usergroups.users.list`` (scope ``usergroups:read``), cached for a few minutes per
process. With no editors configured nobody may save: saving writes to the team's knowledge, so
it is opt-in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from slack_sdk.errors import SlackApiError

GROUP_CACHE_SECONDS = 300.0


class GroupMembers:
    """Members of Slack user groups, cached for ``max_age`` seconds per group."""

    def __init__(self, max_age: float = GROUP_CACHE_SECONDS, clock: Any = time.monotonic) -> None:
        self.max_age, self._clock = max_age, clock
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def of(self, client: Any, group_id: str) -> frozenset[str]:
        """The group's members; an empty set when Slack cannot say (logged), so a lookup that
        fails never makes someone an editor."""
        now = self._clock()
        with self._lock:
            cached = self._cache.get(group_id)
            if cached and now - cached[0] < self.max_age:
                return cached[1]
        try:
            members = frozenset(client.usergroups_users_list(usergroup=group_id).get("users") or ())
        except SlackApiError as exc:
            from aws_lambda_powertools import Logger

            Logger(service="kotae-bot", child=True).warning(
                "cannot read a knowledge editors' user group",
                extra={"usergroup": group_id, "error": exc.response.get("error")},
            )
            return frozenset()
        with self._lock:
            self._cache[group_id] = (now, members)
        return members


GROUPS = GroupMembers()


def editor_ids(configured: Iterable[str], profile_editors: Iterable[str] | None) -> tuple[str, ...]:
    """The editors that apply: the profile's own list when it has one, else the setting's."""
    return tuple(profile_editors) if profile_editors is not None else tuple(configured)


def is_editor(
    client: Any, user_id: str | None, editors: Iterable[str], groups: GroupMembers = GROUPS
) -> bool:
    """Whether ``user_id`` is one of ``editors`` or a member of one of its user groups."""
    if not user_id:
        return False
    wanted = tuple(editors)
    if user_id in wanted:
        return True
    return any(user_id in groups.of(client, group) for group in wanted if group.startswith("S"))
