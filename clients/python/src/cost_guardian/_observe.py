"""Reads the provider's raw usage object, resolved model, service tier and response id from an
openai-python response (a pydantic model) or a plain dict."""

from __future__ import annotations

from typing import Any, Dict, Optional

Observation = Dict[str, Any]  # event_id?, model, usage, api, service_tier?, batch?


def as_dict(value: Any) -> Any:
    """The JSON the provider sent, for an SDK model: only the fields it set."""
    if value is None or isinstance(value, (dict, list, str, int, float, bool)):
        return value
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(exclude_unset=True, mode="json")
    return None


API_BY_OBJECT = {
    "chat.completion": "chat",
    "chat.completion.chunk": "chat",
    "text_completion": "completions",
    "response": "responses",
    "list": "embeddings",
}


def observe_response(body: Any, fallback_id: Optional[str] = None) -> Optional[Observation]:
    """Undefined (None) when the body carries no usage (a background response still queued)."""
    if body is None:
        return None
    if not isinstance(body, dict):
        request_id = getattr(body, "_request_id", None)
        body = as_dict(body)
        fallback_id = fallback_id or request_id
    if not isinstance(body, dict):
        return None
    usage = body.get("usage")
    model = body.get("model")
    if not isinstance(usage, dict) or not isinstance(model, str) or not model:
        return None
    api = API_BY_OBJECT.get(str(body.get("object")))
    if api is None:
        if body.get("type") == "message" and "input_tokens" in usage:
            api = "anthropic"
        else:
            return None
    observed: Observation = {"model": model, "usage": usage, "api": api}
    event_id = body.get("id") if isinstance(body.get("id"), str) and body.get("id") else fallback_id
    if event_id:
        observed["event_id"] = event_id
    tier = body.get("service_tier")
    if isinstance(tier, str) and tier:
        observed["service_tier"] = tier
    if api == "anthropic":
        observed["provider"] = "anthropic"
    return observed


def observe_batch_line(line: Any) -> Optional[Observation]:
    """One line of a Batch API output file; None for anything else."""
    if not isinstance(line, dict) or not isinstance(line.get("custom_id"), str):
        return None
    response = line.get("response")
    if not isinstance(response, dict) or response.get("status_code") != 200:
        return None
    observed = observe_response(response.get("body"), line.get("id") or response.get("request_id"))
    if observed is not None:
        observed["batch"] = True
    return observed
