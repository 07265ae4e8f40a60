"""Fixtures for the client's tests. They run against the real Cost Guardian and a fake OpenAI API
that test/python-client.test.ts starts and names in the environment (CG_URL, CG_INGEST_KEY,
CG_ADMIN_KEY, OPENAI_BASE_URL): run them with `npx vitest run test/python-client.test.ts`."""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any, Dict, List

import pytest

CG_URL = os.environ.get("CG_URL", "")
INGEST_KEY = os.environ.get("CG_INGEST_KEY", "")
ADMIN_KEY = os.environ.get("CG_ADMIN_KEY", "")
OPENAI_BASE_URL = os.environ.get("OPENAI_BASE_URL", "")

if not CG_URL:
    raise pytest.UsageError("run these tests through `npx vitest run test/python-client.test.ts`")


def admin(method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"{CG_URL}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"X-API-Key": ADMIN_KEY, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def new_token(label: str) -> Dict[str, Any]:
    return admin("POST", "/ingest/tokens", {"label": label})


def rows(token_id: int) -> List[Dict[str, Any]]:
    return admin("GET", f"/data?ingest_token_id={token_id}&limit=1000")["data"]


@pytest.fixture
def token(request: pytest.FixtureRequest) -> Dict[str, Any]:
    return new_token(f"py-{request.node.name}"[:60])
