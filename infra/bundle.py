#!/usr/bin/env python3
"""Build the Lambda bundles ahead of time: ``python infra/bundle.py [--out infra/build]``.

Writes ``<out>/bot`` and ``<out>/ingest`` with pip (no Docker; see kotae_infra/bundling.py);
then ``cdk deploy -c kotae:assetDir=build`` (run in infra/; the path is relative to the
working directory) uses them instead of bundling during synth.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kotae_infra.bundling import BUILD_DIR, BUNDLES, build_bundle


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BUILD_DIR, help="output directory (default: infra/build)")
    parser.add_argument("--no-boto3", action="store_true", help="leave boto3/botocore to the Lambda runtime")
    parser.add_argument("bundles", nargs="*", default=sorted(BUNDLES), help="bot, ingest (default: both)")
    args = parser.parse_args(argv)
    for name in args.bundles:
        target = args.out / name
        shutil.rmtree(target, ignore_errors=True)
        build_bundle(name, target, include_boto3=not args.no_boto3)
        print(f"built {target}")


if __name__ == "__main__":
    main()
