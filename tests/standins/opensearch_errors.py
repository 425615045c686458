"""The error answers of the OpenSearch stand-in, in the documented body shape."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answered with the documented body: {"error": {"type", "reason"}, "status"}."""

    def __init__(self, status: int, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.kind, self.reason = status, kind, reason

    def body(self) -> dict[str, Any]:
        cause = {"type": self.kind, "reason": self.reason}
        return {"error": {"root_cause": [cause], **cause}, "status": self.status}


def index_not_found(name: str) -> ApiError:
    return ApiError(404, "index_not_found_exception", f"no such index [{name}]")
