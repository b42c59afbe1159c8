"""The emulator's request limits on a controlled clock: windows, profiles, blocks, escalation, the 429."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from ksef_emulator.ratelimit import (
    DEFAULT_LIMITS,
    RateLimiter,
    limit_detail,
    limits_for,
    too_many_requests,
)

CONTRACT = Path("/work/shared/ksef-docs/open-api.json")
TOKENS = {"perSecond": 10, "perMinute": 30, "perHour": 120}
OP = "POST /tokens"
KEY = "5265877635|127.0.0.1"


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


def burst(limiter, n, op=OP, key=KEY, limits=None):
    limits = TOKENS if limits is None else limits
    return [limiter.check(op, key, limits) for _attempt in range(n)]


def test_prd_allows_exactly_the_per_second_limit_then_refuses(clock):
    limiter = RateLimiter("prd", clock=clock)
    assert burst(limiter, 10) == [None] * 10
    retry_after = limiter.check(OP, KEY, TOKENS)
    assert retry_after == 1


def test_te_profile_is_ten_times_prd(clock):
    limiter = RateLimiter("te", clock=clock)
    assert burst(limiter, 100) == [None] * 100
    assert limiter.check(OP, KEY, TOKENS) is not None


def test_off_profile_never_limits(clock):
    limiter = RateLimiter("off", clock=clock)
    assert burst(limiter, 5000) == [None] * 5000


def test_unknown_profile_and_bad_time_scale_are_refused():
    with pytest.raises(ValueError, match="profile"):
        RateLimiter("dev")
    with pytest.raises(ValueError, match="time scale"):
        RateLimiter("prd", time_scale=0)


def test_per_minute_window_slides_rather_than_resetting_on_the_minute(clock):
    limiter = RateLimiter("prd", clock=clock)
    # 30 requests spread over 30 s (1 per second never breaches the per-second threshold).
    for _attempt in range(30):
        assert limiter.check(OP, KEY, TOKENS) is None
        clock.advance(1)
    # At t=30 s the window still holds all 30: the 31st is refused until the first one is 60 s old.
    retry_after = limiter.check(OP, KEY, TOKENS)
    assert retry_after == 30
    clock.advance(30)
    assert limiter.check(OP, KEY, TOKENS) is None
    # Only one slot freed: the next request is again over the per-minute limit (second breach).
    assert limiter.check(OP, KEY, TOKENS) is not None


def test_per_hour_limit_applies_in_parallel(clock):
    limiter = RateLimiter("prd", clock=clock)
    # 30 per minute, 4 minutes: 120 accepted, never breaching second or minute thresholds.
    for _attempt in range(120):
        assert limiter.check(OP, KEY, TOKENS) is None
        clock.advance(2.01)
    denial = limiter.check_request(OP, KEY, TOKENS)
    assert denial is not None and denial.window == "perHour" and denial.limit == 120
    # The first request leaves the hour window 3600 s after it was made.
    assert denial.retry_after == pytest.approx(3600 - 120 * 2.01, abs=1)


def test_time_scale_compresses_minutes_and_hours_but_not_seconds(clock):
    limiter = RateLimiter("prd", time_scale=60, clock=clock)
    assert limiter.window_seconds("perSecond") == 1.0
    assert limiter.window_seconds("perMinute") == 1.0
    assert limiter.window_seconds("perHour") == 60.0
    # The hour threshold is now reachable in about a minute of real time.
    for _attempt in range(120):
        assert limiter.check(OP, KEY, TOKENS) is None
        clock.advance(0.11)
    denial = limiter.check_request(OP, KEY, TOKENS)
    assert denial is not None and denial.window == "perHour"
    assert 1 <= denial.retry_after <= 60 - 120 * 0.11 + 1


def test_retry_after_is_whole_real_seconds_rounded_up(clock):
    limiter = RateLimiter("prd", time_scale=12, clock=clock)  # a minute lasts 5 s
    for _attempt in range(30):
        assert limiter.check(OP, KEY, TOKENS) is None
        clock.advance(0.125)
    # First accepted at t0, now t0 + 3.75: it leaves the 5 s window in 1.25 s -> Retry-After 2.
    denial = limiter.check_request(OP, KEY, TOKENS)
    assert denial.window == "perMinute"
    assert denial.retry_after == 2
    assert isinstance(denial.retry_after, int)


def test_refused_requests_neither_count_nor_extend_the_block(clock):
    limiter = RateLimiter("prd", clock=clock)
    burst(limiter, 10)
    assert limiter.check(OP, KEY, TOKENS) == 1
    for _attempt in range(50):
        clock.advance(0.01)
        assert limiter.check(OP, KEY, TOKENS) == 1
    clock.advance(0.51)  # the block (1 s from the first request) is over
    assert limiter.check(OP, KEY, TOKENS) is None


def test_repeated_breaches_double_the_block_within_an_hour(clock):
    limiter = RateLimiter("prd", clock=clock)
    per_second = {"perSecond": 10}  # so every breach is the same per-second one
    blocks = []
    for _attempt in range(4):
        burst(limiter, 10, limits=per_second)
        retry_after = limiter.check(OP, KEY, per_second)
        blocks.append(retry_after)
        clock.advance(retry_after)
        assert limiter.check(OP, KEY, per_second) is None
        clock.advance(1)  # let the per-second window empty before the next burst
    assert blocks == [1, 2, 4, 8]


def test_escalation_stops_doubling_at_sixty_four_times(clock):
    limiter = RateLimiter("prd", clock=clock)
    per_second = {"perSecond": 10}
    blocks = []
    for _bit in range(8):
        burst(limiter, 10, limits=per_second)
        retry_after = limiter.check(OP, KEY, per_second)
        blocks.append(retry_after)
        clock.advance(retry_after + 1)
    assert blocks == [1, 2, 4, 8, 16, 32, 64, 64]


def test_block_never_exceeds_an_hour_and_escalation_is_forgotten_after_an_hour(clock):
    limiter = RateLimiter("prd", time_scale=2400, clock=clock)  # an hour lasts 1.5 s
    per_second = {"perSecond": 10}
    burst(limiter, 10, limits=per_second)
    assert limiter.check(OP, KEY, per_second) == 1
    clock.advance(1)
    burst(limiter, 10, limits=per_second)
    # The second breach would wait 2 s; the one-hour cap makes it 1.5 s (announced as 2).
    assert limiter.check(OP, KEY, per_second) == 2
    clock.advance(1.51)
    assert limiter.check(OP, KEY, per_second) is None
    # More than an hour after the last breach the next one starts from scratch again.
    clock.advance(2)
    burst(limiter, 10, limits=per_second)
    assert limiter.check(OP, KEY, per_second) == 1


def test_each_operation_and_each_key_has_its_own_counter(clock):
    limiter = RateLimiter("prd", clock=clock)
    burst(limiter, 10)
    assert limiter.check(OP, KEY, TOKENS) is not None
    assert limiter.check("GET /tokens", KEY, TOKENS) is None
    assert limiter.check(OP, "1111111111|127.0.0.1", TOKENS) is None
    assert limiter.check(OP, "5265877635|10.0.0.2", TOKENS) is None


def test_reset_forgets_counters_and_blocks(clock):
    limiter = RateLimiter("prd", clock=clock)
    burst(limiter, 11)
    limiter.reset()
    assert burst(limiter, 10) == [None] * 10


def test_switching_profile_at_runtime(clock):
    limiter = RateLimiter("off", clock=clock)
    burst(limiter, 50)
    limiter.set_profile("prd")
    limiter.reset()
    burst(limiter, 10)
    assert limiter.check(OP, KEY, TOKENS) is not None


def test_any_subset_of_thresholds(clock):
    limiter = RateLimiter("prd", clock=clock)
    public = {"perSecond": 60}
    assert burst(limiter, 60, op="POST /auth/challenge", key="|127.0.0.1", limits=public) == [None] * 60
    assert limiter.check("POST /auth/challenge", "|127.0.0.1", public) == 1


@pytest.mark.parametrize(("limits", "retry_after", "window"), [
    ({"perSecond": 0, "perMinute": 30, "perHour": 120}, 1, "perSecond"),
    ({"perSecond": 10, "perMinute": 0, "perHour": 120}, 60, "perMinute"),
    ({"perSecond": 0, "perMinute": 30, "perHour": 0}, 3600, "perHour"),
])
def test_a_limit_of_zero_refuses_every_request_and_leaves_no_block(clock, limits, retry_after, window):
    """A context's limit of 0 (/testdata/rate-limits) once made the limiter index an empty list."""
    limiter = RateLimiter("prd", clock=clock)
    for _attempt in range(3):
        denial = limiter.check_request(OP, KEY, limits, absolute=True)
        assert denial is not None and (denial.retry_after, denial.limit, denial.window) == (retry_after, 0, window)
        assert denial.detail.startswith("Przekroczono limit 0 żądań na ")
    # Nothing was recorded: the documented limits apply at once again.
    assert burst(limiter, 10) == [None] * 10


def test_concurrent_checks_never_admit_more_than_the_limit(clock):
    limiter = RateLimiter("prd", clock=clock)
    results = []
    lock = threading.Lock()

    def worker():
        for _attempt in range(20):
            outcome = limiter.check(OP, KEY, TOKENS)
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=worker) for _attempt in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(None) == 10
    assert len(results) == 160


def test_limits_for_reads_the_contract_and_falls_back_to_the_default():
    contract = json.loads(CONTRACT.read_text())
    assert limits_for("GET /sessions", contract) == {"perSecond": 5, "perMinute": 10, "perHour": 60}
    assert limits_for("POST /auth/challenge", contract) == {"perSecond": 60}
    assert limits_for("POST /tokens", contract) == TOKENS
    assert limits_for("GET /not-in-the-contract", contract) == DEFAULT_LIMITS
    assert limits_for("PATCH /tokens", contract) == DEFAULT_LIMITS


@pytest.mark.parametrize("limit,window,retry_after,expected", [
    (20, "perMinute", 30, "Przekroczono limit 20 żądań na minutę. Spróbuj ponownie po 30 sekundach."),
    (10, "perSecond", 1, "Przekroczono limit 10 żądań na sekundę. Spróbuj ponownie po 1 sekundzie."),
    (1200, "perHour", 2, "Przekroczono limit 1200 żądań na godzinę. Spróbuj ponownie po 2 sekundach."),
    (24, "perMinute", 5, "Przekroczono limit 24 żądania na minutę. Spróbuj ponownie po 5 sekundach."),
])
def test_limit_detail_speaks_like_the_documentation(limit, window, retry_after, expected):
    assert limit_detail(limit, window, retry_after) == expected


def test_too_many_requests_json_shape():
    response = too_many_requests(30, "Przekroczono limit 20 żądań na minutę.", problem_details=False)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "30"
    assert response.headers["content-type"].startswith("application/json")
    assert json.loads(response.body) == {
        "status": {"code": 429, "description": "Too Many Requests",
                   "details": ["Przekroczono limit 20 żądań na minutę."]}}


def test_too_many_requests_problem_details_shape():
    response = too_many_requests(3, "detail", problem_details=True, instance="/v2/tokens")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.headers["content-type"].startswith("application/problem+json")
    body = json.loads(response.body)
    assert set(body) == {"title", "status", "instance", "detail", "timestamp", "traceId"}
    assert body["status"] == 429 and body["title"] == "Too Many Requests"
    assert body["instance"] == "/v2/tokens" and body["detail"] == "detail"
    assert body["timestamp"].endswith("+00:00")
