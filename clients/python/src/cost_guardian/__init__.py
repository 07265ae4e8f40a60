"""cost_guardian: one line to track the cost of every OpenAI call in Cost Guardian.

    from cost_guardian import wrap_openai
    client = wrap_openai(OpenAI(), tracking_token=..., endpoint=..., ingest_key=...)
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from ._attribution import attribution
from ._client import Clock, CostGuardian, flush

__all__ = ["CostGuardian", "Clock", "attribution", "cost_guardian", "flush", "track", "wrap_openai"]

_shared: Dict[Tuple[str, str, str], CostGuardian] = {}


def cost_guardian(tracking_token: str, endpoint: str, ingest_key: str, **options: Any) -> CostGuardian:
    """The client for these connection options, created on first use: wrappers share its queue."""
    key = (endpoint, ingest_key, tracking_token)
    client = _shared.get(key)
    if client is None:
        client = _shared[key] = CostGuardian(tracking_token, endpoint, ingest_key, **options)
    return client


def wrap_openai(
    client: Any,
    *,
    tracking_token: str,
    endpoint: str,
    ingest_key: str,
    user: Optional[str] = None,
    tags: Optional[Dict[str, str]] = None,
    **options: Any,
) -> Any:
    """A copy of an OpenAI or AsyncOpenAI client whose chat, responses, completions, embeddings and
    Batch API result calls (streamed or not) are tracked. The original client is left as it was."""
    return cost_guardian(tracking_token, endpoint, ingest_key, **options).wrap_openai(client, user=user, tags=tags)


def track(
    response: Any,
    *,
    tracking_token: str,
    endpoint: str,
    ingest_key: str,
    user: Optional[str] = None,
    tags: Optional[Dict[str, str]] = None,
    event_id: Optional[str] = None,
    **options: Any,
) -> bool:
    """Tracks one response the app got from a provider itself. Never raises."""
    return cost_guardian(tracking_token, endpoint, ingest_key, **options).track(
        response, user=user, tags=tags, event_id=event_id
    )
