"""Lambda bundles built with pip for the Lambda platform, without Docker.

A bundle is what the project's wheel would install, plus its core runtime dependencies:

* ``pip install --target`` of ``[project] dependencies`` from pyproject.toml less those the
  function never imports (``NOT_BUNDLED``: the CLI's Typer and Rich; Slack's Bolt in ingest), as binary wheels
  for the Lambda platform (Python 3.12, arm64: ``--platform manylinux2014_aarch64
  --implementation cp --python-version 3.12 --only-binary=:all:``), so it works from any
  machine with no Docker. No optional extra is installed: no torch, sentence-transformers,
  numpy or fugashi. https://docs.aws.amazon.com/lambda/latest/dg/python-package.html
* the project's packages as hatch builds its wheel: ``[tool.hatch.build.targets.wheel]``
  packages (``kotae`` and the function's own, ``bot`` or ``ingest``) and the force-included
  ``prompts/`` as ``kotae/_prompts`` (read from pyproject.toml, not repeated here).

boto3/botocore are bundled by default, as AWS recommends, so the code runs on the SDK version
it was tested with; ``-c kotae:bundleBoto3=false`` leaves them out (about 30 MB less) and uses
the runtime's copy. Dependencies are installed once per dependency set into
``infra/build/.deps-<hash>`` and copied into each bundle.

Two ways in: CDK local bundling (``assets.py``, used by ``cdk synth/deploy``) and
``infra/bundle.py`` (writes ``infra/build/bot`` and ``infra/build/ingest`` for
``-c kotae:assetDir=build`` from infra/). This module imports no CDK, so the script starts fast.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = PROJECT_ROOT / "infra" / "build"
# Lambda's Python 3.12 runtime on arm64 runs Amazon Linux 2023 (glibc 2.34).
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
PYTHON_VERSION = "3.12"
BUNDLES = {"bot": "bot", "ingest": "ingest"}  # bundle name -> its own top-level package
SHARED_PACKAGES = ("kotae",)
SDK_DISTRIBUTIONS = ("boto3", "botocore", "s3transfer")
# Runtime dependencies a function never imports: the CLI's (Typer, Rich) in both, Slack's in ingest.
# Leaving them out keeps pip from installing them and everything they pull in.
NOT_BUNDLED = {
    "bot": frozenset({"typer", "rich"}),
    "ingest": frozenset({"typer", "rich", "slack-bolt"}),
}


def requirement_name(requirement: str) -> str:
    """The distribution name of a PEP 508 requirement, normalized (``Slack_Bolt>=1`` -> ``slack-bolt``)."""
    name = re.split(r"[\s<>=!~;\[(]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Project:
    """What pyproject.toml says about the runtime: dependencies and the wheel's contents."""

    root: Path
    dependencies: tuple[str, ...]
    packages: tuple[str, ...]
    force_include: dict[str, str]

    @classmethod
    def read(cls, root: Path = PROJECT_ROOT) -> Project:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
        wheel = data.get("tool", {}).get("hatch", {}).get("build", {}).get("targets", {}).get("wheel", {})
        return cls(
            root=root,
            dependencies=tuple(data["project"]["dependencies"]),
            packages=tuple(wheel.get("packages", [])),
            force_include=dict(wheel.get("force-include", {})),
        )

    def dependencies_for(self, bundle: str) -> tuple[str, ...]:
        return tuple(d for d in self.dependencies if requirement_name(d) not in NOT_BUNDLED[bundle])

    def packages_for(self, bundle: str) -> list[str]:
        wanted = {*SHARED_PACKAGES, BUNDLES[bundle]}
        return [p for p in self.packages if p in wanted]


def _ignored(path: Path) -> bool:
    return "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo")


def dependency_key(project: Project, bundle: str, include_boto3: bool) -> str:
    dependencies = sorted(project.dependencies_for(bundle))
    spec = "\n".join([*PLATFORMS, PYTHON_VERSION, str(include_boto3), *dependencies])
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


def source_hash(project: Project, bundle: str, include_boto3: bool) -> str:
    """A hash of everything that goes into a bundle, so CDK rebuilds only when it changes."""
    digest = hashlib.sha256(f"{bundle}\n{dependency_key(project, bundle, include_boto3)}\n".encode())
    sources = [project.root / p for p in project.packages_for(bundle)]
    sources += [project.root / src for src in project.force_include]
    for source in sources:
        for path in sorted(source.rglob("*")) if source.is_dir() else [source]:
            if path.is_file() and not _ignored(path):
                digest.update(
                    str(path.relative_to(project.root)).encode() + b"\0" + path.read_bytes() + b"\0"
                )
    return digest.hexdigest()


def install_dependencies(project: Project, bundle: str, target: Path, include_boto3: bool) -> None:
    """Copy the platform's wheels of the bundle's runtime dependencies into ``target`` (cached)."""
    cache = BUILD_DIR / f".deps-{dependency_key(project, bundle, include_boto3)}"
    if not cache.is_dir():
        BUILD_DIR.mkdir(parents=True, exist_ok=True)
        staged = Path(tempfile.mkdtemp(dir=BUILD_DIR, prefix=".deps-tmp-"))
        try:
            platform_args = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
            command = [
                sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                "--no-compile", "--target", str(staged), *platform_args, "--implementation", "cp",
                "--python-version", PYTHON_VERSION, "--only-binary=:all:", *project.dependencies_for(bundle),
            ]  # fmt: skip
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise RuntimeError(f"pip could not install the Lambda dependencies:\n{result.stderr}")
            shutil.rmtree(staged / "bin", ignore_errors=True)  # console scripts, unused
            if not include_boto3:
                for item in list(staged.iterdir()):
                    if item.name.split("-")[0].lower() in SDK_DISTRIBUTIONS:
                        shutil.rmtree(item)
            staged.rename(cache)
        finally:
            shutil.rmtree(staged, ignore_errors=True)
    shutil.copytree(cache, target, dirs_exist_ok=True)


def build_bundle(
    bundle: str, out_dir: Path, *, include_boto3: bool = True, project: Project | None = None
) -> Path:
    """Write the ``bot`` or ``ingest`` bundle into ``out_dir`` (created, or filled if empty)."""
    if bundle not in BUNDLES:
        raise ValueError(f"unknown bundle {bundle!r}; expected one of {sorted(BUNDLES)}")
    project = project or Project.read()
    out_dir.mkdir(parents=True, exist_ok=True)
    install_dependencies(project, bundle, out_dir, include_boto3)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")
    for package in project.packages_for(bundle):
        shutil.copytree(project.root / package, out_dir / package, ignore=ignore, dirs_exist_ok=True)
    for source, dest in project.force_include.items():
        src = project.root / source
        if src.is_dir():
            shutil.copytree(src, out_dir / dest, ignore=ignore, dirs_exist_ok=True)
        else:
            (out_dir / dest).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, out_dir / dest)
    return out_dir
