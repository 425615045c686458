"""Providers are registered by name and built from Settings; no if/elif over names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from kotae.errors import ConfigError
from kotae.settings import Settings

T = TypeVar("T")
Factory = Callable[[Settings], T]


class Registry(Generic[T]):
    """A named set of factories for one provider interface."""

    def __init__(self, kind: str, setting: str) -> None:
        self.kind = kind
        self.setting = setting
        self._factories: dict[str, Factory[T]] = {}

    def register(self, name: str) -> Callable[[Factory[T]], Factory[T]]:
        def decorator(factory: Factory[T]) -> Factory[T]:
            self._factories[name] = factory
            return factory

        return decorator

    def names(self) -> list[str]:
        return sorted(self._factories)

    def create(self, name: str, settings: Settings) -> T:
        try:
            factory = self._factories[name]
        except KeyError:
            raise ConfigError(
                f"KOTAE_{self.setting.upper()}={name!r} is not a known {self.kind}; "
                f"choose one of {', '.join(self.names())}"
            ) from None
        return factory(settings)
