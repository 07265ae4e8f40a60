"""The sender's retry timing (pure functions)."""

from __future__ import annotations

import email.utils
import time

from cost_guardian._client import MAX_RETRY_AFTER, backoff_delay, parse_retry_after


def test_the_backoff_doubles_per_attempt_with_jitter_in_its_upper_half_up_to_the_cap():
    assert backoff_delay(1, 0.5, 30, 0.0) == 0.25
    assert backoff_delay(1, 0.5, 30, 0.999999) < 0.5
    assert backoff_delay(4, 0.5, 30, 0.5) == 3.0
    assert backoff_delay(30, 0.5, 30, 0.0) == 15.0


def test_retry_after_is_read_as_seconds_or_an_http_date_and_clamped():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert 18 <= parse_retry_after(email.utils.formatdate(time.time() + 20, usegmt=True)) <= 20
    assert parse_retry_after(email.utils.formatdate(time.time() - 20, usegmt=True)) == 0.0
    assert parse_retry_after("99999") == MAX_RETRY_AFTER
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
