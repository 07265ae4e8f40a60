"""The queue between the app's calls and Cost Guardian, and its background sender thread.

Records (already serialised) wait in a bounded in-memory queue and are sent to POST /ingest/batch
in batches: when a batch is full, when the flush interval passes, or on flush(). A failed request
is retried, the whole batch, after an exponential backoff with jitter that never comes sooner than
the server's Retry-After. Every record carries an event_id, so a batch that was stored but whose
answer was lost is answered "duplicate" the second time: each record is stored once.

Contract: record() and track() never raise, never block on the network and never wait for the
sender; nothing here raises into the app.
"""

from __future__ import annotations

import atexit
import email.utils
import json
import logging
import os
import random as _random
import threading
import time
import urllib.error
import urllib.request
import uuid
import weakref
from collections import deque
from datetime import datetime, timezone
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

from ._attribution import Attribution, clean, current, merge
from ._observe import Observation, observe_response

log = logging.getLogger("cost_guardian")

SERVER_BATCH_MAX = 1000
MAX_RETRY_AFTER = 600.0


class Clock:
    """Time as the sender sees it; tests pass one they move by hand. `wait` is called with `condition` held."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def wait(self, condition: threading.Condition, timeout: Optional[float]) -> None:
        condition.wait(timeout)


def backoff_delay(attempt: int, base: float, cap: float, random: float) -> float:
    """Exponential backoff with equal jitter: half the delay fixed, half random."""
    exponential = min(cap, base * 2 ** max(0, attempt - 1))
    return exponential / 2 + exponential / 2 * random


def parse_retry_after(header: Optional[str]) -> Optional[float]:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), clamped."""
    if not header or not header.strip():
        return None
    text = header.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - time.time()
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


_live: "weakref.WeakSet[CostGuardian]" = weakref.WeakSet()
_atexit_installed = False


def _flush_all_at_exit() -> None:
    for client in list(_live):
        if client._atexit:
            client.flush(client._exit_timeout)


def flush(timeout: Optional[float] = None) -> int:
    """Flushes every client in this process; returns how many records are still unsent."""
    return sum(client.flush(timeout) for client in list(_live))


def _default_on_error() -> Callable[[Dict[str, Any]], None]:
    last: Dict[str, float] = {}

    def on_error(event: Dict[str, Any]) -> None:
        kind = event["kind"]
        key = f"rejected:{event.get('code')}" if kind == "rejected" else kind
        if kind == "retry" and event["attempt"] > 1:
            return
        now = time.monotonic()
        if kind != "recovered" and now - last.get(key, float("-inf")) < 60:
            return
        last[key] = now
        if kind == "retry":
            log.warning("cost-guardian: delivery failed (%s); records are kept and retried", event["message"])
        elif kind == "recovered":
            log.warning("cost-guardian: delivering again after %d failed attempts", event["attempts"])
        elif kind == "rejected":
            log.warning("cost-guardian: %d record(s) refused (%s): %s", event["count"], event["code"], event["reason"])
        else:
            log.warning("cost-guardian: queue full, records dropped")

    return on_error


class CostGuardian:
    """One connection to Cost Guardian: a tracking token, a queue and its sender thread."""

    def __init__(
        self,
        tracking_token: str,
        endpoint: str,
        ingest_key: str,
        *,
        user: Optional[str] = None,
        tags: Optional[Dict[str, str]] = None,
        provider: Optional[str] = None,
        max_queue: int = 10_000,
        batch_size: int = 500,
        batch_bytes: int = 512 * 1024,
        flush_interval: float = 1.0,
        request_timeout: float = 10.0,
        retry_base: float = 0.5,
        retry_max: float = 30.0,
        flush_timeout: float = 10.0,
        exit_timeout: float = 5.0,
        atexit_flush: bool = True,
        on_error: Optional[Callable[[Dict[str, Any]], None]] = None,
        on_budget: Optional[Callable[[List[Dict[str, Any]]], None]] = None,
        clock: Optional[Clock] = None,
        random: Callable[[], float] = _random.random,
    ) -> None:
        for name, value in (("tracking_token", tracking_token), ("endpoint", endpoint), ("ingest_key", ingest_key)):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"cost-guardian: {name} is required")
        self.tracking_token = tracking_token
        self.endpoint = endpoint.rstrip("/")
        self._url = f"{self.endpoint}/ingest/batch"
        self._ingest_key = ingest_key
        self._defaults: Attribution = merge(None, {**({"user": user} if user else {}), **({"tags": tags} if tags else {})})
        self._provider = provider
        self._max_queue = max_queue
        self._batch_limit = max(1, min(SERVER_BATCH_MAX, batch_size))
        self._batch_bytes = batch_bytes
        self._flush_interval = flush_interval
        self._request_timeout = request_timeout
        self._retry_base = retry_base
        self._retry_max = retry_max
        self._flush_timeout = flush_timeout
        self._exit_timeout = exit_timeout
        self._atexit = atexit_flush
        self._on_error = on_error or _default_on_error()
        self._on_budget = on_budget
        self._clock = clock or Clock()
        self._random = random
        self._budgets: Dict[str, Dict[str, Any]] = {}
        self._warned_tags = False
        self._counts = {"delivered": 0, "duplicates": 0, "rejected": 0, "dropped": 0, "retries": 0, "untracked": 0}
        self._reset_state()
        _live.add(self)
        global _atexit_installed
        if not _atexit_installed:
            _atexit_installed = True
            atexit.register(_flush_all_at_exit)
        if hasattr(os, "register_at_fork"):
            ref = weakref.ref(self)
            os.register_at_fork(after_in_child=lambda: ref() and ref()._reset_state(keep_queue=True))  # type: ignore[union-attr]

    def _reset_state(self, keep_queue: bool = False) -> None:
        """Fresh lock and no thread: at start, and in a forked child (threads do not survive fork)."""
        self._cond = threading.Condition()
        if not keep_queue:
            self._queue: Deque[str] = deque()
        else:
            # The parent's request in flight is not the child's: its records go back first.
            self._queue = deque([*(self._in_flight or []), *self._queue])
        self._in_flight: Optional[List[str]] = None
        self._thread: Optional[threading.Thread] = None
        self._first_at = 0.0
        self._retry_at = 0.0
        self._attempt = 0
        self._flush_waiters = 0
        self._closed = False

    # The app's side ---------------------------------------------------------------------------

    def wrap_openai(self, client: Any, *, user: Optional[str] = None, tags: Optional[Dict[str, str]] = None) -> Any:
        """A copy of an openai-python client (OpenAI or AsyncOpenAI, v1 or later) whose calls are tracked."""
        from ._openai import instrument

        return instrument(client, self, merge(None, {**({"user": user} if user else {}), **({"tags": tags} if tags else {})}))

    def track(
        self,
        response: Any,
        *,
        user: Optional[str] = None,
        tags: Optional[Dict[str, str]] = None,
        event_id: Optional[str] = None,
        provider: Optional[str] = None,
        batch: bool = False,
    ) -> bool:
        """Tracks one response the app got itself (chat completion, response, embeddings, Anthropic message)."""
        try:
            observed = observe_response(response)
        except Exception:
            observed = None
        if observed is None:
            self._count_untracked()
            return False
        if event_id:
            observed["event_id"] = event_id
        if provider:
            observed["provider"] = provider
        if batch:
            observed["batch"] = True
        own: Attribution = {**({"user": user} if user else {}), **({"tags": tags} if tags else {})}
        return self.record(observed, merge(current(), own))

    def record(self, observation: Observation, who: Optional[Attribution] = None) -> bool:
        """Queues the record of one observed call. Never raises; False when it was not queued."""
        try:
            attribution, dropped = clean(merge(self._defaults, who))
            if dropped and not self._warned_tags:
                self._warned_tags = True
                log.warning("cost-guardian: tags %s dropped (keys: 1-64 of A-Z a-z 0-9 _ . -; values: 1-200 characters; at most 10)", dropped)
            record: Dict[str, Any] = {
                "tracking_token": self.tracking_token,
                "event_id": observation.get("event_id") or f"cg_{uuid.uuid4()}",
                "model": observation["model"],
                "timestamp": datetime.fromtimestamp(self._clock.time(), timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "api": observation["api"],
                "usage": observation["usage"],
            }
            provider = observation.get("provider") or self._provider
            if provider:
                record["provider"] = provider
            if observation.get("service_tier"):
                record["service_tier"] = observation["service_tier"]
            if observation.get("batch"):
                record["batch"] = True
            record.update(attribution)
            line = json.dumps(record, separators=(",", ":"))
        except Exception:
            self._count_untracked()
            return False
        with self._cond:
            if len(self._queue) + len(self._in_flight or []) >= self._max_queue:
                self._counts["dropped"] += 1
                event: Optional[Dict[str, Any]] = {"kind": "dropped", "count": 1}
            else:
                if not self._queue:
                    self._first_at = self._clock.monotonic()
                self._queue.append(line)
                event = None
                self._ensure_thread()
                self._cond.notify_all()
        if event:
            self._emit(event)
            return False
        return True

    def flush(self, timeout: Optional[float] = None) -> int:
        """Sends what is queued now; returns when nothing is left or after `timeout` seconds. Returns what is unsent."""
        timeout = self._flush_timeout if timeout is None else timeout
        with self._cond:
            if not self._queue and self._in_flight is None:
                return 0
            self._ensure_thread()
            deadline = self._clock.monotonic() + timeout
            self._flush_waiters += 1
            self._retry_at = 0.0
            self._cond.notify_all()
            try:
                while self._queue or self._in_flight is not None:
                    remaining = deadline - self._clock.monotonic()
                    if remaining <= 0:
                        break
                    self._clock.wait(self._cond, remaining)
                return len(self._queue) + len(self._in_flight or [])
            finally:
                self._flush_waiters -= 1

    async def aflush(self, timeout: Optional[float] = None) -> int:
        """flush() for asyncio code: waits in a worker thread, not on the event loop."""
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, self.flush, timeout)

    def stats(self) -> Dict[str, int]:
        with self._cond:
            return {"queued": len(self._queue) + len(self._in_flight or []), **self._counts}

    def last_budgets(self) -> List[Dict[str, Any]]:
        """Arrives with budgets: the last verdict per budget seen in an ingest answer (empty until then)."""
        with self._cond:
            return list(self._budgets.values())

    def close(self) -> None:
        """Stops the sender after what is queued is answered (or dropped after flush_timeout)."""
        self.flush()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        _live.discard(self)

    def _count_untracked(self) -> None:
        with self._cond:
            self._counts["untracked"] += 1

    def _emit(self, event: Dict[str, Any]) -> None:
        try:
            self._on_error(event)
        except Exception:
            log.exception("cost-guardian: on_error raised")

    # The sender thread ------------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="cost-guardian-sender", daemon=True)
            self._thread.start()

    def _take(self) -> List[str]:
        batch: List[str] = []
        size = 16
        while self._queue and len(batch) < self._batch_limit:
            line = self._queue[0]
            if batch and size + len(line) + 1 > self._batch_bytes:
                break
            size += len(line) + 1
            batch.append(self._queue.popleft())
        return batch

    def _next_batch(self) -> Optional[List[str]]:
        """Waits (holding the lock) until a batch is due; None when closed and empty."""
        while True:
            if not self._queue:
                self._cond.notify_all()
                if self._closed:
                    return None
                self._clock.wait(self._cond, None)
                continue
            now = self._clock.monotonic()
            if now < self._retry_at:
                self._clock.wait(self._cond, self._retry_at - now)
                continue
            due = self._first_at + self._flush_interval
            if len(self._queue) >= self._batch_limit or self._flush_waiters > 0 or self._closed or now >= due:
                batch = self._take()
                self._in_flight = batch
                return batch
            self._clock.wait(self._cond, due - now)

    def _run(self) -> None:
        while True:
            with self._cond:
                batch = self._next_batch()
            if batch is None:
                return
            try:
                outcome = self._send(batch)
            except Exception as error:  # never let the thread die
                outcome = ("retry", None, None, repr(error))
            events: List[Dict[str, Any]] = []
            with self._cond:
                self._finish(batch, outcome, events)
                self._cond.notify_all()
            for event in events:
                self._emit(event)

    def _send(self, batch: List[str]) -> Tuple[str, Optional[int], Any, str]:
        body = ('{"records":[' + ",".join(batch) + "]}").encode()
        request = urllib.request.Request(
            self._url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "X-Ingest-Key": self._ingest_key},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._request_timeout) as response:
                status, headers, text = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, headers, text = error.code, error.headers, error.read()
        except Exception as error:
            return ("retry", None, None, str(error))
        try:
            answer = json.loads(text)
        except ValueError as error:
            return ("retry", status, parse_retry_after(headers.get("Retry-After")), f"HTTP {status}: {error}")
        if status == 200 and isinstance(answer, dict) and isinstance(answer.get("results"), list) and len(answer["results"]) == len(batch):
            return ("answered", status, answer, "")
        message = f"HTTP {status}" + (f": {answer.get('message')}" if isinstance(answer, dict) and answer.get("message") else "")
        if status == 413:
            return ("too_large", status, None, message)
        if status == 400:
            return ("refused", status, None, message)
        return ("retry", status, parse_retry_after(headers.get("Retry-After")), message)

    def _finish(self, batch: List[str], outcome: Tuple[str, Optional[int], Any, str], events: List[Dict[str, Any]]) -> None:
        kind, status, detail, message = outcome
        self._in_flight = None
        retry_lines: List[str] = []
        failed = False
        retry_after: Optional[float] = None
        if kind == "answered":
            rejected: Dict[str, List[Any]] = {}
            for item in detail["results"]:
                state = item.get("status")
                if state == "created":
                    self._counts["delivered"] += 1
                elif state == "duplicate":
                    self._counts["duplicates"] += 1
                elif item.get("code") == "rate_limited" and 0 <= item.get("index", -1) < len(batch):
                    retry_lines.append(batch[item["index"]])
                else:
                    self._counts["rejected"] += 1
                    entry = rejected.setdefault(item.get("code") or "rejected", [0, item.get("reason") or ""])
                    entry[0] += 1
            for code, (count, reason) in rejected.items():
                events.append({"kind": "rejected", "count": count, "code": code, "reason": reason})
            if retry_lines:
                failed, message = True, "rate limited per tracking token"
            budgets = detail.get("budgets")
            if isinstance(budgets, list):
                verdicts = [b for b in budgets if isinstance(b, dict)]
                for verdict in verdicts:
                    self._budgets[str(verdict.get("id", verdict.get("name", "")))] = verdict
                if verdicts and self._on_budget:
                    try:
                        self._on_budget(verdicts)
                    except Exception:
                        log.exception("cost-guardian: on_budget raised")
        elif kind == "too_large":
            if len(batch) == 1:
                self._counts["rejected"] += 1
                events.append({"kind": "rejected", "count": 1, "code": "payload_too_large", "reason": message})
            else:
                self._batch_limit = max(1, (len(batch) + 1) // 2)
                retry_lines = batch
        elif kind == "refused":
            self._counts["rejected"] += len(batch)
            events.append({"kind": "rejected", "count": len(batch), "code": "invalid_request", "reason": message})
        else:
            retry_lines, failed, retry_after = batch, True, detail
        if retry_lines:
            self._queue.extendleft(reversed(retry_lines))
        now = self._clock.monotonic()
        if failed:
            self._attempt += 1
            self._counts["retries"] += 1
            delay = backoff_delay(self._attempt, self._retry_base, self._retry_max, self._random())
            if retry_after is not None:
                delay = max(delay, retry_after)
            self._retry_at = now + delay
            events.append({"kind": "retry", "attempt": self._attempt, "delay": delay, "status": status, "message": message})
        elif self._attempt > 0:
            events.append({"kind": "recovered", "attempts": self._attempt})
            self._attempt = 0
            self._retry_at = 0.0
        if self._queue:
            self._first_at = now
