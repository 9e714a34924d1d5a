"""Whether an input is an MLflow server address, without loading the HTTP client: urllib,
http and ssl cost 20-75 ms of start-up, paid only when a URI is given
(:mod:`curvediag.readers.mlflow_server` reads it)."""

from __future__ import annotations

SCHEMES = ("mlflow+http://", "mlflow+https://")


def is_server_uri(path: str) -> bool:
    return path.startswith(SCHEMES)
