"""Instruments an openai-python client (v1 and later, sync and async).

Every request of the SDK goes through ``client.request(cast_to, options, stream=...)``; the wrapper
replaces that one method on a copy of the client (``with_options()``, so the caller's client is left
as it was). Helpers built on create() (``chat.completions.stream()``, ``parse()``,
``responses.stream()``) are tracked too. A call that raises records nothing. ``with_raw_response``
and ``with_streaming_response`` return raw HTTP responses and are not tracked.
"""

from __future__ import annotations

import inspect
import json
import re
import threading
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

from ._attribution import Attribution, current, merge
from ._observe import as_dict, observe_batch_line, observe_response

if TYPE_CHECKING:
    from ._client import CostGuardian

CHAT = re.compile(r"(^|/)chat/completions$")
COMPLETIONS = re.compile(r"(^|/)completions$")
RESPONSES = re.compile(r"(^|/)responses$")
EMBEDDINGS = re.compile(r"(^|/)embeddings$")
FILE_CONTENT = re.compile(r"(^|/)files/[^/]+/content$")
TERMINAL_RESPONSE_EVENTS = {"response.completed", "response.incomplete", "response.failed"}

Plan = Dict[str, Any]  # kind ("call" | "file"), api, stream, injected, who


def _plan(options: Any, stream: bool, who: Attribution) -> Tuple[Optional[Plan], Any]:
    method = str(getattr(options, "method", "")).lower()
    path = str(getattr(options, "url", ""))
    if method == "get" and FILE_CONTENT.search(path):
        return {"kind": "file", "who": who}, options
    if method != "post":
        return None, options
    if CHAT.search(path):
        api = "chat"
    elif COMPLETIONS.search(path):
        api = "completions"
    elif RESPONSES.search(path):
        api = "responses"
    elif EMBEDDINGS.search(path):
        api = "embeddings"
    else:
        return None, options
    body = getattr(options, "json_data", None)
    injected = False
    if stream and api in ("chat", "completions") and isinstance(body, dict):
        stream_options = body.get("stream_options") if isinstance(body.get("stream_options"), dict) else {}
        if stream_options.get("include_usage") is not True:
            injected = True
            copy = getattr(options, "model_copy", None) or options.copy
            options = copy()
            options.json_data = {**body, "stream_options": {**stream_options, "include_usage": True}}
    return {"kind": "call", "api": api, "stream": stream, "injected": injected, "who": who}, options


def instrument(client: Any, guardian: "CostGuardian", attribution: Attribution) -> Any:
    copy = getattr(client, "with_options", None)
    original_request = getattr(client, "request", None)
    if not callable(copy) or not callable(original_request):
        raise TypeError("cost-guardian: wrap_openai needs an OpenAI or AsyncOpenAI client from openai v1 or later")
    tracked = copy()
    original = tracked.request

    if inspect.iscoroutinefunction(original):

        async def request(cast_to: Any, options: Any, *args: Any, **kwargs: Any) -> Any:
            plan, options = _plan(options, bool(kwargs.get("stream")), merge(attribution, current()))
            result = await original(cast_to, options, *args, **kwargs)
            return _observe(guardian, plan, result) if plan else result

    else:

        def request(cast_to: Any, options: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            plan, options = _plan(options, bool(kwargs.get("stream")), merge(attribution, current()))
            result = original(cast_to, options, *args, **kwargs)
            return _observe(guardian, plan, result) if plan else result

    tracked.request = request
    return tracked


def _observe(guardian: "CostGuardian", plan: Plan, result: Any) -> Any:
    try:
        if plan["kind"] == "file":
            content = getattr(result, "content", None)
            if isinstance(content, (bytes, bytearray)):
                threading.Thread(
                    target=_read_batch_output, args=(bytes(content), guardian, plan["who"]), daemon=True
                ).start()
            return result
        if plan["stream"]:
            return _wrap_stream(result, guardian, plan)
        observed = observe_response(result)
        if observed is None:
            guardian._count_untracked()
        else:
            observed["api"] = plan["api"]
            guardian.record(observed, plan["who"])
    except Exception:
        guardian._count_untracked()
    return result


def _read_batch_output(content: bytes, guardian: "CostGuardian", who: Attribution) -> None:
    first = True
    for raw in content.splitlines():
        text = raw.strip()
        if not text:
            continue
        try:
            line = json.loads(text)
        except ValueError:
            if first:
                return
            continue
        if first:
            first = False
            if not isinstance(line, dict) or not isinstance(line.get("custom_id"), str) or "response" not in line:
                return
        observed = observe_batch_line(line)
        if observed is not None:
            guardian.record(observed, who)


class _StreamTracker:
    """Reads usage off stream items; says which items the caller must not see."""

    def __init__(self, guardian: "CostGuardian", plan: Plan) -> None:
        self.guardian = guardian
        self.plan = plan
        self.recorded = False

    def _record(self, observed: Optional[Dict[str, Any]]) -> None:
        if self.recorded or observed is None:
            return
        self.recorded = True
        observed["api"] = self.plan["api"]
        self.guardian.record(observed, self.plan["who"])

    def visible(self, item: Any) -> bool:
        try:
            if self.plan["api"] == "responses":
                if getattr(item, "type", None) in TERMINAL_RESPONSE_EVENTS:
                    self._record(observe_response(getattr(item, "response", None)))
                return True
            usage = getattr(item, "usage", None)
            if usage is not None:
                self._record(observe_response(as_dict(item)))
                if self.plan["injected"] and getattr(item, "choices", None) == []:
                    return False
            if self.plan["injected"]:
                # As if the field had never been sent: to_dict()/to_json() match an unwrapped chunk.
                fields = getattr(item, "model_fields_set", None)
                if isinstance(fields, set):
                    fields.discard("usage")
        except Exception:
            pass
        return True

    def done(self) -> None:
        if not self.recorded:
            self.guardian._count_untracked()


def _wrap_stream(stream: Any, guardian: "CostGuardian", plan: Plan) -> Any:
    inner = getattr(stream, "_iterator", None)
    if inner is None:
        return stream
    tracker = _StreamTracker(guardian, plan)
    if hasattr(inner, "__anext__"):

        async def aiterate() -> Any:
            try:
                async for item in inner:
                    if tracker.visible(item):
                        yield item
            finally:
                tracker.done()

        stream._iterator = aiterate()
    else:

        def iterate() -> Any:
            try:
                for item in inner:
                    if tracker.visible(item):
                        yield item
            finally:
                tracker.done()

        stream._iterator = iterate()
    return stream
