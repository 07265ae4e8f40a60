"""Who and what a call is for: the end user and tags sent with its usage record.

Set per client (wrap_openai), per scope (``with attribution(...)``, carried by contextvars across
threads started with copied contexts and across asyncio tasks) and per call (track); inner scopes
add tags to outer ones and override the user.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from typing import Dict, Iterator, List, Optional, Tuple

Attribution = Dict[str, object]  # {"user": str, "tags": {str: str}}

_current: contextvars.ContextVar[Optional[Attribution]] = contextvars.ContextVar(
    "cost_guardian_attribution", default=None
)

TAG_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_TAGS = 10
MAX_TAG_VALUE_LENGTH = 200
MAX_USER_LENGTH = 256


def merge(outer: Optional[Attribution], inner: Optional[Attribution]) -> Attribution:
    if not outer:
        return dict(inner or {})
    if not inner:
        return dict(outer)
    merged: Attribution = {}
    user = inner.get("user") or outer.get("user")
    if user:
        merged["user"] = user
    tags = {**(outer.get("tags") or {}), **(inner.get("tags") or {})}  # type: ignore[dict-item]
    if tags:
        merged["tags"] = tags
    return merged


def current() -> Optional[Attribution]:
    return _current.get()


@contextlib.contextmanager
def attribution(user: Optional[str] = None, tags: Optional[Dict[str, str]] = None) -> Iterator[None]:
    """Every call tracked inside the block carries this user and these tags."""
    inner: Attribution = {}
    if user is not None:
        inner["user"] = user
    if tags:
        inner["tags"] = dict(tags)
    token = _current.set(merge(_current.get(), inner))
    try:
        yield
    finally:
        _current.reset(token)


def clean(who: Attribution) -> Tuple[Attribution, List[str]]:
    """Keeps what the server accepts: one bad tag would get the whole record refused."""
    result: Attribution = {}
    dropped: List[str] = []
    user = who.get("user")
    if isinstance(user, str) and user.strip():
        result["user"] = user[:MAX_USER_LENGTH]
    tags = who.get("tags")
    if isinstance(tags, dict):
        kept: Dict[str, str] = {}
        for key, value in tags.items():
            ok = (
                isinstance(key, str)
                and TAG_KEY.match(key) is not None
                and isinstance(value, str)
                and 1 <= len(value) <= MAX_TAG_VALUE_LENGTH
                and len(kept) < MAX_TAGS
            )
            if ok:
                kept[key] = value
            else:
                dropped.append(str(key))
        if kept:
            result["tags"] = kept
    return result, dropped
