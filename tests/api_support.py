"""Helpers for the JSON API's tests: a token made through the service, a client carrying it."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from workflow.service_layer import tokens
from workflow.service_layer.engine import Engine


def make_token(engine: Engine, name: str, role: str = "ib", schools: tuple[str, ...] = ("de-linde",)) -> str:
    """A new token's secret."""
    _, secret = tokens.add(engine, name=name, role=role, schools=schools, roles=engine.definition.roles,
                           known_schools=engine.config.schools, created_by="test")
    return secret


def api_client(app: Any, secret: str | None) -> TestClient:
    c = TestClient(app)
    if secret is not None:
        c.headers["Authorization"] = f"Bearer {secret}"
    return c
