"""A real S3 HTTP API on loopback: moto's server mode (``moto[server]``), in memory."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from tests.harness.process import ServerProcess, missing

#: moto accepts any credentials; boto3 only wants some.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
REGION = "us-east-1"


class S3Server(ServerProcess):
    """``S3Server(workdir).start()``; ``settings_env(bucket)`` is what the example project needs."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, {**os.environ, **CREDENTIALS}, self._command)
        self.name = f"moto-s3-{self.port}"

    @staticmethod
    def _command(port: int) -> list[str]:
        try:
            import moto.server  # noqa: F401
        except ImportError:
            missing("moto[server] is not installed (pip install 'moto[server]')")
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def settings_env(self, bucket: str) -> dict[str, str]:
        """The example project's settings for this bucket (docs/deployment.md)."""
        return {
            **CREDENTIALS,
            "AWS_STORAGE_BUCKET_NAME": bucket,
            "AWS_S3_ENDPOINT_URL": self.endpoint,
            "AWS_S3_REGION_NAME": REGION,
        }
