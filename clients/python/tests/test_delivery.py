"""Delivery when Cost Guardian misbehaves, with the sender's clock driven by the test: an outage
of 30 s, a full queue, and the flush at interpreter exit."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any, Dict, List, Optional

from conftest import CG_URL, INGEST_KEY, rows

from cost_guardian import Clock, CostGuardian

SENDER = "cost-guardian-sender"


class ManualClock(Clock):
    """Time moves only in advance(); the sender's waits end when it is notified or time moves."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.generation = 0
        self.parked_at = -1
        self._conditions: set = set()

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return time.time()

    def wait(self, condition: threading.Condition, timeout: Optional[float]) -> None:
        self._conditions.add(condition)
        if threading.current_thread().name == SENDER:
            self.parked_at = self.generation
        condition.wait()

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.generation += 1
        for condition in list(self._conditions):
            with condition:
                condition.notify_all()

    def settle(self) -> None:
        """Waits (in real time, generously) until the sender has acted on the last advance and parked."""
        deadline = time.monotonic() + 20
        while self.parked_at != self.generation:
            assert time.monotonic() < deadline, "the sender did not settle"
            time.sleep(0.002)


class Front:
    """Cost Guardian behind a switch: up, refuse (drop the connection), unavailable (503 +
    Retry-After: 7), lost-answer (stored by the service, answer dropped)."""

    def __init__(self, clock: ManualClock) -> None:
        self.mode = "up"
        self.attempts: List[Dict[str, Any]] = []
        front = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                mode = front.mode
                front.attempts.append({"at": clock.now, "mode": mode})
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if mode == "refuse":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if mode == "unavailable":
                    payload = b'{"status":"error","code":"unavailable","message":"busy","requestId":"r"}'
                    self.send_response(503)
                    self.send_header("Retry-After", "7")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                request = urllib.request.Request(
                    f"{CG_URL}{self.path}",
                    data=body,
                    method="POST",
                    headers={"Content-Type": "application/json", "X-Ingest-Key": self.headers["X-Ingest-Key"]},
                )
                with urllib.request.urlopen(request, timeout=30) as answer:
                    payload = answer.read()
                if mode == "lost-answer":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def completion(id: str) -> Dict[str, Any]:
    return {
        "id": id,
        "object": "chat.completion",
        "model": "gpt-4o-mini-2024-07-18",
        "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
        "service_tier": "default",
    }


def test_cost_guardian_down_for_30_seconds_then_back_every_record_is_stored_exactly_once(token):
    clock = ManualClock()
    front = Front(clock)
    events: List[Dict[str, Any]] = []
    client = CostGuardian(
        token["token"], front.url, INGEST_KEY, clock=clock, random=lambda: 0.5, atexit_flush=False,
        batch_size=25, on_error=events.append,
    )
    front.mode = "lost-answer"
    for n in range(20):
        client.track(completion(f"py-outage-{n}"))
    clock.advance(1.0)
    clock.settle()
    assert client.stats()["retries"] == 1 and client.stats()["queued"] == 20
    start, calls = clock.now, 20
    while clock.now - start < 30:
        front.mode = "refuse" if len(front.attempts) % 2 == 0 else "unavailable"
        client.track(completion(f"py-outage-{calls}"))
        calls += 1
        clock.advance(0.25)
        clock.settle()
    assert len([a for a in front.attempts if a["mode"] in ("refuse", "unavailable")]) >= 3
    for attempt, following in zip(front.attempts, front.attempts[1:]):
        if attempt["mode"] == "unavailable":
            assert following["at"] - attempt["at"] >= 7
    front.mode = "up"
    while client.stats()["queued"] > 0:
        clock.advance(1.0)
        clock.settle()
    found = sorted(r["eventId"] for r in rows(token["id"]))
    assert found == sorted(f"py-outage-{n}" for n in range(calls))
    stats = client.stats()
    assert (stats["delivered"], stats["duplicates"], stats["dropped"], stats["rejected"]) == (calls - 20, 20, 0, 0)
    assert events[-1]["kind"] == "recovered"
    front.close()


def test_a_full_queue_drops_new_records_and_counts_them(token):
    clock = ManualClock()
    front = Front(clock)
    front.mode = "refuse"
    events: List[Dict[str, Any]] = []
    client = CostGuardian(
        token["token"], front.url, INGEST_KEY, clock=clock, atexit_flush=False, max_queue=5, on_error=events.append,
    )
    accepted = [client.track(completion(f"py-overflow-{n}")) for n in range(8)]
    assert accepted == [True] * 5 + [False] * 3
    assert client.stats()["dropped"] == 3
    assert [e["kind"] for e in events].count("dropped") == 3
    front.mode = "up"
    while client.stats()["queued"] > 0:
        clock.advance(1.0)
        clock.settle()
    assert sorted(r["eventId"] for r in rows(token["id"])) == [f"py-overflow-{n}" for n in range(5)]
    front.close()


def test_records_still_queued_when_the_interpreter_exits_are_flushed_by_atexit(token):
    script = f"""
from cost_guardian import wrap_openai
import openai
client = wrap_openai(
    openai.OpenAI(base_url={os.environ['OPENAI_BASE_URL']!r}, api_key="sk-test", max_retries=0),
    tracking_token={token['token']!r}, endpoint={CG_URL!r}, ingest_key={INGEST_KEY!r}, flush_interval=3600,
)
for n in range(6):
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{{"role": "user", "content": "hi"}}],
        extra_headers={{"x-fake-id": f"py-exit-{{n}}"}},
    )
print("queued", __import__("cost_guardian").cost_guardian({token['token']!r}, {CG_URL!r}, {INGEST_KEY!r}).stats()["queued"])
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "queued 6"
    assert sorted(r["eventId"] for r in rows(token["id"])) == [f"chatcmpl-py-exit-{n}" for n in range(6)]
