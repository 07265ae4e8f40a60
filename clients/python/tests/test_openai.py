"""wrap_openai against the real openai package, a fake OpenAI API over HTTP/SSE and the real
Cost Guardian: every call kind stored once with the right buckets and cost, and the caller gets
what it would get unwrapped."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import openai
import pytest
from conftest import CG_URL, INGEST_KEY, OPENAI_BASE_URL, rows

from cost_guardian import CostGuardian, attribution

COST = {
    "gpt-4o-mini": (176 * 0.15 + 1024 * 0.075 + 40 * 0.6) / 1e6,
    "o4-mini": (464 * 1.1 + 1536 * 0.275 + 900 * 4.4) / 1e6,
    "gpt-4.1-mini": (952 * 0.4 + 2048 * 0.1 + 120 * 1.6) / 1e6,
    "text-embedding-3-small": 24 * 0.02 / 1e6,
}
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello"}]}


def fake(id: str, scenario: str = "") -> Dict[str, Any]:
    return {"extra_headers": {"x-fake-id": id, **({"x-fake-scenario": scenario} if scenario else {})}}


@pytest.fixture
def setup(token: Dict[str, Any]):
    guardian = CostGuardian(token["token"], CG_URL, INGEST_KEY, atexit_flush=False)
    raw = openai.OpenAI(base_url=OPENAI_BASE_URL, api_key="sk-test-not-a-real-key", max_retries=0)
    yield token, guardian, raw, guardian.wrap_openai(raw)
    guardian.close()


def flushed(guardian: CostGuardian) -> List[Dict[str, Any]]:
    assert guardian.flush(20) == 0
    return []


def test_chat_completion_is_stored_once_and_the_caller_gets_the_same_object(setup):
    token, guardian, raw, tracked = setup
    plain = raw.chat.completions.create(**CHAT, **fake("py-chat-1"))
    wrapped = tracked.chat.completions.create(**CHAT, **fake("py-chat-1"))
    assert wrapped.to_json() == plain.to_json()
    assert wrapped.model_fields_set == plain.model_fields_set
    assert wrapped._request_id == plain._request_id
    assert type(tracked) is type(raw)
    flushed(guardian)
    [row] = rows(token["id"])
    assert row["eventId"] == "chatcmpl-py-chat-1"
    assert row["model"] == "gpt-4o-mini-2024-07-18"
    assert (row["promptTokens"], row["cachedTokens"], row["completionTokens"]) == (1200, 1024, 40)
    assert row["serviceTier"] == "default"
    assert row["estimatedCostUSD"] == pytest.approx(COST["gpt-4o-mini"], abs=1e-12)
    assert guardian.stats() == {
        "queued": 0, "delivered": 1, "duplicates": 0, "rejected": 0, "dropped": 0, "retries": 0, "untracked": 0,
    }


def test_reasoning_tokens_and_cost(setup):
    token, guardian, raw, tracked = setup
    tracked.chat.completions.create(**{**CHAT, "model": "o4-mini"}, **fake("py-reason-1"))
    flushed(guardian)
    [row] = rows(token["id"])
    assert (row["promptTokens"], row["cachedTokens"], row["completionTokens"], row["reasoningTokens"]) == (2000, 1536, 900, 768)
    assert row["estimatedCostUSD"] == pytest.approx(COST["o4-mini"], abs=1e-12)


def test_streamed_chat_hides_the_usage_chunk_it_asked_for_and_is_stored_once(setup):
    token, guardian, raw, tracked = setup
    plain = [c.to_json() for c in raw.chat.completions.create(**CHAT, stream=True, **fake("py-s-1"))]
    wrapped = [c.to_json() for c in tracked.chat.completions.create(**CHAT, stream=True, **fake("py-s-1"))]
    assert wrapped == plain
    assert not any('"usage"' in c for c in plain)
    with tracked.chat.completions.stream(**CHAT, **fake("py-s-2")) as helper:
        final = helper.get_final_completion()
    assert final.choices[0].message.content == "Hello! How can I help?"
    flushed(guardian)
    found = {r["eventId"]: r for r in rows(token["id"])}
    assert sorted(found) == ["chatcmpl-py-s-1", "chatcmpl-py-s-2"]
    assert found["chatcmpl-py-s-1"]["estimatedCostUSD"] == pytest.approx(COST["gpt-4o-mini"], abs=1e-12)


def test_a_stream_the_caller_asked_usage_of_keeps_its_usage_chunk(setup):
    token, guardian, raw, tracked = setup
    params = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    plain = [c.to_json() for c in raw.chat.completions.create(**params, **fake("py-u-1"))]
    wrapped = [c.to_json() for c in tracked.chat.completions.create(**params, **fake("py-u-1"))]
    assert wrapped == plain
    assert '"prompt_tokens": 1200' in wrapped[-1]
    flushed(guardian)
    assert [r["eventId"] for r in rows(token["id"])] == ["chatcmpl-py-u-1"]


def test_a_stream_cut_before_its_usage_chunk_fails_as_unwrapped_and_stores_nothing(setup):
    token, guardian, raw, tracked = setup

    def failure(client):
        seen = []
        try:
            for chunk in client.chat.completions.create(**CHAT, stream=True, **fake("py-cut-1", "cut-before-usage")):
                seen.append(chunk.to_json())
        except Exception as error:  # the same error either way
            return seen, f"{type(error).__name__}: {error}"
        return seen, "none"

    plain = failure(raw)
    assert failure(tracked) == plain
    assert plain[1] != "none"
    flushed(guardian)
    assert rows(token["id"]) == []
    assert guardian.stats()["untracked"] == 1


def test_a_429_reaches_the_caller_unchanged_and_stores_nothing(setup):
    token, guardian, raw, tracked = setup
    with pytest.raises(openai.RateLimitError) as plain:
        raw.chat.completions.create(**CHAT, **fake("py-rl", "rate-limited"))
    with pytest.raises(openai.RateLimitError) as wrapped:
        tracked.chat.completions.create(**CHAT, **fake("py-rl", "rate-limited"))
    assert str(wrapped.value) == str(plain.value)
    assert wrapped.value.status_code == 429
    flushed(guardian)
    assert rows(token["id"]) == []


def test_responses_plain_and_streamed_are_stored_from_their_final_event(setup):
    token, guardian, raw, tracked = setup
    params = {"model": "gpt-4.1-mini", "input": "Say hello"}
    plain = raw.responses.create(**params, **fake("py-r-1"))
    wrapped = tracked.responses.create(**params, **fake("py-r-1"))
    assert wrapped.to_json() == plain.to_json()
    assert wrapped.output_text == plain.output_text
    plain_events = [e.to_json() for e in raw.responses.create(**params, stream=True, **fake("py-r-2"))]
    wrapped_events = [e.to_json() for e in tracked.responses.create(**params, stream=True, **fake("py-r-2"))]
    assert wrapped_events == plain_events
    flushed(guardian)
    found = rows(token["id"])
    assert sorted(r["eventId"] for r in found) == ["resp_py-r-1", "resp_py-r-2"]
    for row in found:
        assert (row["promptTokens"], row["cachedTokens"], row["completionTokens"]) == (3000, 2048, 120)
        assert row["estimatedCostUSD"] == pytest.approx(COST["gpt-4.1-mini"], abs=1e-12)


def test_embeddings_are_stored_under_their_request_id(setup):
    token, guardian, raw, tracked = setup
    params = {"model": "text-embedding-3-small", "input": "hello"}
    plain = raw.embeddings.create(**params, **fake("py-e-1"))
    wrapped = tracked.embeddings.create(**params, **fake("py-e-1"))
    assert wrapped.to_json() == plain.to_json()
    flushed(guardian)
    [row] = rows(token["id"])
    assert row["eventId"] == plain._request_id
    assert row["promptTokens"] == 24
    assert row["estimatedCostUSD"] == pytest.approx(COST["text-embedding-3-small"], abs=1e-14)


def test_batch_results_read_with_files_content_are_stored_once_per_request(setup):
    token, guardian, raw, tracked = setup
    # test/python-client.test.ts serves this file: two chat completions and one failed request.
    plain = raw.files.content("file-py-batch").content
    wrapped = tracked.files.content("file-py-batch").content
    assert wrapped == plain
    tracked.files.content("file-py-batch")
    import time

    deadline = time.monotonic() + 20
    while guardian.stats()["queued"] + guardian.stats()["delivered"] < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    flushed(guardian)
    found = rows(token["id"])
    assert sorted(r["eventId"] for r in found) == ["chatcmpl-py-b1", "chatcmpl-py-b2"]
    for row in found:
        assert row["batch"] is True
        assert row["estimatedCostUSD"] == pytest.approx(COST["gpt-4o-mini"] / 2, abs=1e-12)


def test_the_async_client_is_tracked_plain_and_streamed(setup):
    token, guardian, _, _ = setup
    raw = openai.AsyncOpenAI(base_url=OPENAI_BASE_URL, api_key="sk-test", max_retries=0)
    tracked = guardian.wrap_openai(raw)

    async def main():
        plain = await raw.chat.completions.create(**CHAT, **fake("py-a-1"))
        wrapped = await tracked.chat.completions.create(**CHAT, **fake("py-a-1"))
        assert wrapped.to_json() == plain.to_json()
        plain_chunks = [c.to_json() async for c in await raw.chat.completions.create(**CHAT, stream=True, **fake("py-a-2"))]
        wrapped_chunks = [c.to_json() async for c in await tracked.chat.completions.create(**CHAT, stream=True, **fake("py-a-2"))]
        assert wrapped_chunks == plain_chunks
        assert await guardian.aflush(20) == 0

    asyncio.run(main())
    assert sorted(r["eventId"] for r in rows(token["id"])) == ["chatcmpl-py-a-1", "chatcmpl-py-a-2"]


def test_user_and_tags_from_the_wrapper_the_context_and_track(setup):
    token, guardian, raw, _ = setup
    tracked = guardian.wrap_openai(raw, user="service", tags={"team": "search"})
    tracked.chat.completions.create(**CHAT, **fake("py-at-1"))
    with attribution(user="u-42", tags={"feature": "chat"}):
        tracked.chat.completions.create(**CHAT, **fake("py-at-2"))
    response = raw.chat.completions.create(**CHAT, **fake("py-at-3"))
    assert guardian.track(response, user="u-7", tags={"feature": "manual", "bad key!": "x"})
    flushed(guardian)
    found = {r["eventId"]: r for r in rows(token["id"])}
    assert (found["chatcmpl-py-at-1"]["user"], found["chatcmpl-py-at-1"]["tags"]) == ("service", {"team": "search"})
    assert (found["chatcmpl-py-at-2"]["user"], found["chatcmpl-py-at-2"]["tags"]) == ("u-42", {"team": "search", "feature": "chat"})
    assert (found["chatcmpl-py-at-3"]["user"], found["chatcmpl-py-at-3"]["tags"]) == ("u-7", {"feature": "manual"})
