#!/usr/bin/env python3
"""Scan both stacks' templates with checkov: ``python infra/scan.py --checkov <checkov>``.

Synthesizes the app twice with ``kotae:bundle=skip`` (Serverless search, and
``kotae:search=domain``), runs checkov on the two templates and compares every failed check
with infra/checkov-skips.toml, where each accepted finding names its check, the resources it
applies to (construct paths below the stack) and the reason. The scan fails on a failed check
that is not listed there, and on a listed resource that no longer fails (delete the entry).

checkov pins many packages, so it lives in a virtualenv of its own (see .ci/run and
infra/scan-requirements.txt); this script runs in the project's environment and calls it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")

SKIPS_FILE = Path(__file__).resolve().with_name("checkov-skips.toml")
DEFAULT_CHECKOV = Path(__file__).resolve().parent / ".venv-scan" / "bin" / "checkov"
# The two shapes of the stack; every other context value keeps its default (infra/cdk.json).
VARIANTS: dict[str, dict[str, str]] = {"serverless": {}, "domain": {"kotae:search": "domain"}}


@dataclass(frozen=True)
class Skip:
    """An accepted checkov finding: ``check`` on each of ``resources``, for ``reason``."""

    check: str
    resources: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Finding:
    """One failed check on one resource of one variant's template."""

    variant: str
    check: str
    resource: str  # construct path below the stack, e.g. Bot/Function/Resource
    title: str


def load_skips(path: Path = SKIPS_FILE) -> list[Skip]:
    """The skip list; raises ValueError naming the entry that lacks a check, resources or reason."""
    entries = tomllib.loads(path.read_text(encoding="utf-8")).get("skip", [])
    skips, seen = [], set()
    for number, entry in enumerate(entries, 1):
        check = str(entry.get("check", "")).strip()
        reason = " ".join(str(entry.get("reason", "")).split())
        resources = tuple(str(r).strip() for r in entry.get("resources", []))
        if not check.startswith("CKV") or not reason or not resources or not all(resources):
            raise ValueError(f"{path.name}: skip #{number} needs check, resources and reason")
        for resource in resources:
            if (check, resource) in seen:
                raise ValueError(f"{path.name}: {check} on {resource} is listed twice")
            seen.add((check, resource))
        skips.append(Skip(check, resources, reason))
    return skips


def compare(findings: Iterable[Finding], skips: list[Skip]) -> tuple[list[Finding], list[tuple[str, str]]]:
    """``(findings no skip covers, (check, resource) skips that matched no finding)``."""
    accepted = {(s.check, r) for s in skips for r in s.resources}
    findings = list(findings)
    unexpected = [f for f in findings if (f.check, f.resource) not in accepted]
    unused = sorted(accepted - {(f.check, f.resource) for f in findings})
    return unexpected, unused


def synthesize(outdir: Path) -> dict[str, tuple[Path, dict[str, str]]]:
    """Per variant: the template file and its resources' logical ids -> construct paths."""
    from aws_cdk import CfnResource
    from kotae_infra.stack import build_app

    written = {}
    for variant, context in VARIANTS.items():
        app, stack = build_app({"kotae:bundle": "skip", **context}, outdir=str(outdir / variant))
        app.synth()
        prefix = stack.node.path + "/"
        paths = {
            stack.get_logical_id(node): node.node.path.removeprefix(prefix)
            for node in stack.node.find_all()
            if CfnResource.is_cfn_resource(node)
        }
        written[variant] = (outdir / variant / stack.template_file, paths)
    return written


def run_checkov(checkov: str, templates: list[Path]) -> dict[str, Any]:
    """checkov's JSON report for the CloudFormation templates (no download, no other framework)."""
    command = [checkov, "--framework", "cloudformation", "--output", "json", "--compact", "--skip-download"]
    for template in templates:
        command += ["--file", str(template)]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise SystemExit(
            f"checkov gave no JSON report (exit {result.returncode}):\n{result.stderr}"
        ) from None
    if report.get("summary", {}).get("parsing_errors"):
        raise SystemExit(f"checkov could not parse a template: {report['summary']}")
    return report


def findings_of(report: dict[str, Any], written: dict[str, tuple[Path, dict[str, str]]]) -> list[Finding]:
    """The failed checks of the report, located by variant and construct path."""
    by_file = {template.resolve(): (variant, paths) for variant, (template, paths) in written.items()}
    found = []
    for failed in report["results"]["failed_checks"]:
        variant, paths = by_file[Path(failed["file_abs_path"]).resolve()]
        logical_id = failed["resource"].split(".", 1)[1]
        # A resource CDK did not make from a construct (none today) keeps its logical id.
        resource = paths.get(logical_id, logical_id)
        found.append(Finding(variant, failed["check_id"], resource, failed["check_name"]))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checkov", default=None, help=f"checkov executable (default: {DEFAULT_CHECKOV}, else PATH)"
    )
    parser.add_argument("--out", type=Path, help="write the templates here (default: a temporary directory)")
    args = parser.parse_args(argv)
    checkov = args.checkov or (str(DEFAULT_CHECKOV) if DEFAULT_CHECKOV.exists() else shutil.which("checkov"))
    if not checkov:
        sys.exit(
            "checkov not found: python3 -m venv infra/.venv-scan && "
            "infra/.venv-scan/bin/pip install -r infra/scan-requirements.txt"
        )
    skips = load_skips()
    with tempfile.TemporaryDirectory(prefix="kotae-scan-") as temporary:
        written = synthesize(args.out or Path(temporary))
        report = run_checkov(checkov, [template for template, _ in written.values()])
        findings = findings_of(report, written)

    unexpected, unused = compare(findings, skips)
    _print_report(report, written, findings, unexpected, unused)
    return 1 if unexpected or unused else 0


def _print_report(
    report: dict[str, Any],
    written: dict[str, tuple[Path, dict[str, str]]],
    findings: list[Finding],
    unexpected: list[Finding],
    unused: list[tuple[str, str]],
) -> None:
    print(f"checkov {report['summary'].get('checkov_version', '?')}, skip list {SKIPS_FILE.name}:")
    for variant, (template, _) in written.items():
        passed = [
            c
            for c in report["results"]["passed_checks"]
            if Path(c["file_abs_path"]).resolve() == template.resolve()
        ]
        failed = [f for f in findings if f.variant == variant]
        new = [f for f in unexpected if f.variant == variant]
        print(
            f"  {variant}: {len(passed)} passed, {len(failed)} failed "
            f"({len(failed) - len(new)} accepted, {len(new)} not)"
        )
    for f in unexpected:
        print(f"NEW  {f.check} {f.resource} ({f.variant}): {f.title}")
    for check, resource in unused:
        print(f"STALE {check} {resource}: no longer fails; delete it from {SKIPS_FILE.name}")
    if unexpected or unused:
        print(f"fix the resource, or accept the finding in infra/{SKIPS_FILE.name} with a reason")


if __name__ == "__main__":
    sys.exit(main())
