"""The machine the benchmarks ran on, for BENCHMARKS.md: CPU, cores, memory, OS, Python, packages.

Figures mean little without the machine. Parsing is split from reading (/proc, /sys, package
metadata) so the parsers can be tested on made-up text.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PACKAGES = ("torch", "sentence-transformers", "slack-bolt", "boto3", "numpy")


def parse_cpuinfo(text: str) -> dict[str, Any]:
    """CPU model (x86 'model name', else ARM 'Hardware'/'CPU part') and logical processor count."""
    fields: dict[str, str] = {}
    processors = 0
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "processor":
            processors += 1
        fields.setdefault(key, value.strip())
    model = fields.get("model name") or fields.get("Hardware") or fields.get("cpu model")
    return {"model": model or None, "processors": processors or None}


def parse_meminfo(text: str) -> int | None:
    """MemTotal in bytes."""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            number, _, unit = line.split(":", 1)[1].strip().partition(" ")
            return int(number) * (1024 if unit.strip().lower() == "kb" else 1)
    return None


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def machine_info() -> dict[str, Any]:
    """The machine the figures came from: CPU, cores, memory, OS, Python, key packages."""
    cpu = parse_cpuinfo(_read("/proc/cpuinfo"))
    limit = _read("/sys/fs/cgroup/memory.max").strip()
    return {
        "cpu": cpu["model"] or platform.processor() or platform.machine(),
        "logical_cpus": cpu["processors"] or os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_bytes": parse_meminfo(_read("/proc/meminfo")),
        "memory_limit_bytes": int(limit) if limit.isdigit() else None,
        "os": f"{platform.system()} {platform.release()} ({platform.platform()})",
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "packages": package_versions(),
    }
