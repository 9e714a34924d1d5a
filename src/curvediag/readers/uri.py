"""Whether an input is an MLflow server address, without loading the HTTP client: urllib,
http and ssl cost 20-75 ms of start-up, paid only when a URI is given
(:mod:`curvediag.readers.mlflow_server` reads it)."""

from __future__ import annotations

SCHEMES = ("mlflow+http://", "mlflow+https://")
#: what MLflow itself prints -- the address ``mlflow server`` listens at, ``MLFLOW_TRACKING_URI``, a UI link
#: (``http://HOST:PORT/#/experiments/ID/runs/RUN_ID``) -- is read as a server too
PLAIN = ("http://", "https://")


def is_server_uri(path: str) -> bool:
    """A string check (no import): ``mlflow+http(s)://...`` or the plain ``http(s)://...`` MLflow prints."""
    return path.startswith(SCHEMES) or path.startswith(PLAIN)
