#!/usr/bin/env python3
"""Entry point of the CDK app: ``cdk synth`` / ``cdk deploy`` from infra/ (see cdk.json).

``python infra/app.py`` works too (with CDK_OUTDIR for the output directory); it reads the
defaults from infra/cdk.json itself, and ``-c`` values reach it from the CDK CLI.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kotae_infra.config import ContextError
from kotae_infra.stack import build_app


def main() -> None:
    try:
        app, _ = build_app()
    except ContextError as exc:
        sys.exit(f"error: {exc}")
    app.synth()


if __name__ == "__main__":
    main()
