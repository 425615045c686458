"""Lambda code assets: a pip bundle built during synth, a prebuilt directory, or a stub.

Local bundling (:class:`LocalPipBundling`) runs :func:`~kotae_infra.bundling.build_bundle` in
this process when CDK stages the asset; the Docker image BundlingOptions requires is never
pulled. The asset hash is computed from the bundle's inputs (sources, dependency list,
platform), so CDK skips bundling when cdk.out already holds that asset.
https://docs.aws.amazon.com/cdk/api/v2/python/aws_cdk/ILocalBundling.html
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from .bundling import Project, build_bundle, source_hash

STUB_ASSET = Path(__file__).resolve().parent / "stub_asset"


@jsii.implements(ILocalBundling)
class LocalPipBundling:
    """CDK local bundling: CDK calls ``try_bundle`` with the asset's output directory."""

    def __init__(self, bundle: str, include_boto3: bool) -> None:
        self.bundle, self.include_boto3 = bundle, include_boto3

    def try_bundle(self, output_dir: str, options: Any = None, **_: Any) -> bool:
        # Never return False: CDK would fall back to Docker, which this project does not use.
        build_bundle(self.bundle, Path(output_dir), include_boto3=self.include_boto3)
        return True


def lambda_code(bundle: str, *, mode: str, asset_dir: str, include_boto3: bool) -> lambda_.Code:
    """The function code: a prebuilt directory, the stub (tests, quick synth) or a pip bundle."""
    if asset_dir:
        return lambda_.Code.from_asset(str(Path(asset_dir) / bundle))
    if mode == "skip":
        # Synthesizes in a second with no pip run; the stub is not a working function.
        return lambda_.Code.from_asset(str(STUB_ASSET))
    project = Project.read()
    return lambda_.Code.from_asset(
        str(project.root),
        asset_hash=source_hash(project, bundle, include_boto3),
        asset_hash_type=AssetHashType.CUSTOM,
        bundling=BundlingOptions(
            image=DockerImage.from_registry("unused-local-bundling-only"),
            local=LocalPipBundling(bundle, include_boto3),
        ),
    )
