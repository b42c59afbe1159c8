"""The client-side rate limiter: sliding windows on a fake clock, the shared file across real processes,
429 blocks recorded for the next process, and the limits table against the official contract."""
from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import httpx
import pytest

from ansible_collections.ksef.credentials.plugins.module_utils import _ratelimit
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefApiError, KsefConfigError
from ansible_collections.ksef.credentials.plugins.module_utils._http import KsefHttp
from ansible_collections.ksef.credentials.plugins.module_utils._ratelimit import (
    NoopRateLimiter, SharedRateLimiter, create_limiter, earliest_slot, limits_for, minimal_span, state_path,
    window_lengths)

API = "https://api-test.ksef.mf.gov.pl/v2"
CONTRACT = Path("/work/shared/ksef-docs/open-api.json")


class FakeClock:
    """time.time and time.sleep in one: sleeping moves the clock."""

    def __init__(self, start=1_700_000_000.0):
        self.now = start
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def limiter(tmp_path, clock, profile="prd", context="Nip:5265877635", **kwargs):
    return SharedRateLimiter(API, context, profile=profile, directory=str(tmp_path), clock=clock, sleep=clock.sleep,
                             time_scale=kwargs.pop("time_scale", 1.0), **kwargs)


def send(lim, clock, operation, count, latency=0.0):
    """`count` requests one after another; returns the times they were sent."""
    times = []
    for _index in range(count):
        lim.acquire(operation)
        times.append(clock.now)
        clock.now += latency
        lim.completed(operation, 200)
    return times


def max_in_window(times, window):
    return max(sum(1 for t in times if start - window < t <= start) for start in times)


def test_limits_table_matches_the_official_contract():
    if not CONTRACT.exists():
        pytest.skip("the official open-api.json is not on this machine")
    contract = json.loads(CONTRACT.read_text(encoding="utf-8"))
    for operation, (per_second, per_minute, per_hour) in _ratelimit.PRODUCTION_LIMITS.items():
        method, template = operation.split(" ", 1)
        documented = contract["paths"][template][method.lower()]["x-rate-limits"]
        assert (documented.get("perSecond"), documented.get("perMinute"), documented.get("perHour")) == \
            (per_second, per_minute, per_hour), operation


def test_profiles_scale_and_default_and_off():
    assert limits_for("POST /tokens") == {"second": 10, "minute": 30, "hour": 120}
    assert limits_for("POST /tokens", "te") == {"second": 100, "minute": 300, "hour": 1200}
    assert limits_for("GET /something/new") == {"second": 10, "minute": 30, "hour": 120}
    assert limits_for("POST /auth/challenge") == {"second": 60}
    assert limits_for("POST /tokens", "off") == {}
    assert isinstance(create_limiter(API, "Nip:1", "off"), NoopRateLimiter)
    with pytest.raises(ValueError):
        SharedRateLimiter(API, "Nip:1", profile="fast")


def test_first_ten_go_at_once_then_the_second_window_paces(tmp_path):
    clock = FakeClock()
    lim = limiter(tmp_path, clock)
    times = send(lim, clock, "POST /tokens", 12)
    assert times[:10] == [times[0]] * 10
    assert times[10] - times[0] == pytest.approx(1.0 + _ratelimit.SAFETY_MARGIN)
    assert max_in_window(times, 1.0) == 10


def test_minute_and_hour_windows_are_never_exceeded_and_the_wait_is_minimal(tmp_path):
    clock = FakeClock()
    lim = limiter(tmp_path, clock)
    times = send(lim, clock, "GET /tokens", 125, latency=0.01)
    assert max_in_window(times, 1.0) <= 10
    assert max_in_window(times, 60.0) <= 30
    assert max_in_window(times, 3600.0) <= 120
    # The 31st waits for the 1st to leave the minute, the 121st for the 1st to leave the hour: no longer.
    assert times[30] - times[0] == pytest.approx(60.0 + 0.01 + _ratelimit.SAFETY_MARGIN)
    assert times[120] - times[0] == pytest.approx(3600.0 + 0.01 + _ratelimit.SAFETY_MARGIN)


def test_pacing_counts_from_when_the_answer_arrived(tmp_path):
    clock = FakeClock()
    lim = limiter(tmp_path, clock)
    times = send(lim, clock, "POST /tokens", 1, latency=0.3) + send(lim, clock, "POST /tokens", 10)
    # The first answer came 0.3 s after it was sent: the server may have counted it that late.
    assert times[10] - times[0] == pytest.approx(1.3 + _ratelimit.SAFETY_MARGIN)


def test_operations_and_contexts_have_their_own_windows(tmp_path):
    clock = FakeClock()
    first = limiter(tmp_path, clock, context="Nip:1111111111")
    other = limiter(tmp_path, clock, context="Nip:2222222222")
    send(first, clock, "POST /tokens", 10)
    assert first.acquire("GET /tokens") == 0.0
    first.completed("GET /tokens", 200)
    assert other.acquire("POST /tokens") == 0.0
    assert first.acquire("POST /tokens") > 0.9


def test_public_operations_are_shared_by_every_context_of_the_host(tmp_path):
    clock = FakeClock()
    first = limiter(tmp_path, clock, context="Nip:1111111111")
    other = limiter(tmp_path, clock, context="Nip:2222222222")
    send(first, clock, "POST /auth/challenge", 60)
    assert other.acquire("POST /auth/challenge") > 0.9
    assert state_path(API, "public", str(tmp_path)).endswith("api-test.ksef.mf.gov.pl_public.json")


def test_time_scale_shortens_minutes_and_hours_but_not_seconds(tmp_path):
    assert window_lengths(60) == {"second": 1.0, "minute": 1.0, "hour": 60.0}
    clock = FakeClock()
    lim = limiter(tmp_path, clock, time_scale=12)  # a minute lasts 5 s
    times = send(lim, clock, "POST /tokens", 31)
    assert times[30] - times[0] == pytest.approx(5.0 + _ratelimit.SAFETY_MARGIN)


def test_time_scale_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KSEF_RATELIMIT_TIME_SCALE", "60")
    lim = SharedRateLimiter(API, "Nip:1", directory=str(tmp_path))
    assert lim.windows["hour"] == 60.0


@pytest.mark.parametrize("text", ["\uff16\uff10", "nan", "inf", "1e3", "0", "-2"])
def test_a_time_scale_not_written_with_the_ascii_digits_is_refused(tmp_path, monkeypatch, text):
    monkeypatch.setenv("KSEF_RATELIMIT_TIME_SCALE", text)
    with pytest.raises(KsefConfigError, match="KSEF_RATELIMIT_TIME_SCALE must be a positive number") as err:
        SharedRateLimiter(API, "Nip:1", directory=str(tmp_path))
    if text.startswith("\uff16"):
        assert "U+FF16 FULLWIDTH DIGIT SIX" in str(err.value)


def test_a_429_blocks_the_next_process_until_retry_after(tmp_path):
    clock = FakeClock()
    lim = limiter(tmp_path, clock)
    lim.acquire("DELETE /tokens/{referenceNumber}")
    lim.completed("DELETE /tokens/{referenceNumber}", 429, retry_after=30)
    later_process = limiter(tmp_path, clock)
    assert later_process.acquire("DELETE /tokens/{referenceNumber}") == pytest.approx(30.0)


def test_a_block_longer_than_the_client_waits_fails_with_the_time_left(tmp_path):
    clock = FakeClock()
    lim = limiter(tmp_path, clock)
    lim.acquire("POST /tokens")
    lim.completed("POST /tokens", 429, retry_after=900)
    with pytest.raises(KsefApiError, match="block ends in 900s, more than the 60s") as err:
        limiter(tmp_path, clock, max_block_wait=60).acquire("POST /tokens")
    assert err.value.status == 429 and not clock.sleeps


def test_a_torn_state_file_is_started_again(tmp_path):
    clock = FakeClock()
    path = Path(state_path(API, "Nip:5265877635", str(tmp_path)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"POST /tokens": {"sent": [1, 2')
    lim = limiter(tmp_path, clock)
    assert lim.acquire("POST /tokens") == 0.0
    lim.completed("POST /tokens", 200)
    assert json.loads(path.read_text())["POST /tokens"]["sent"] == [clock.now]


def test_old_requests_are_forgotten(tmp_path):
    clock = FakeClock()
    lim = limiter(tmp_path, clock)
    send(lim, clock, "GET /tokens", 5)
    clock.now += 3601
    send(lim, clock, "GET /tokens", 1)
    path = Path(state_path(API, "Nip:5265877635", str(tmp_path)))
    assert len(json.loads(path.read_text())["GET /tokens"]["sent"]) == 1
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_earliest_slot_and_minimal_span():
    windows = window_lengths(1)
    limits = {"second": 10, "minute": 30, "hour": 120}
    assert earliest_slot([], limits, windows, 5.0) == 5.0
    assert minimal_span(10, limits, windows) == 0.0
    assert minimal_span(11, limits, windows) == pytest.approx(1.0)
    assert minimal_span(31, limits, windows) == pytest.approx(60.0)
    assert minimal_span(121, limits, windows) == pytest.approx(3600.0)
    assert minimal_span(0, limits, windows) == 0.0


def _worker(directory, count, queue):
    lim = SharedRateLimiter(API, "Nip:5265877635", directory=directory, time_scale=1.0)
    sent = []
    for _index in range(count):
        lim.acquire("POST /tokens")
        sent.append(time.time())
        lim.completed("POST /tokens", 200)
    queue.put(sent)


def test_two_processes_share_one_window(tmp_path):
    """Two real processes, real clock: together they never put more than 10 requests in one second."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(str(tmp_path), 8, queue)) for _index in range(2)]
    for worker in workers:
        worker.start()
    times = sorted(queue.get(timeout=60) + queue.get(timeout=60))
    for worker in workers:
        worker.join(10)
    assert len(times) == 16
    assert max_in_window(times, 1.0) <= 10
    # 16 requests at 10/s need just over one second, and pacing should not waste much more.
    assert 1.0 <= times[-1] - times[0] < 3.0


def test_http_client_reports_answers_and_429_to_the_limiter(tmp_path):
    clock = FakeClock()
    lim = limiter(tmp_path, clock)
    answers = [httpx.Response(429, json={"status": {"code": 429}}, headers={"Retry-After": "7"}),
               httpx.Response(200, json={})]
    http = KsefHttp(API, transport=httpx.MockTransport(lambda request: answers.pop(0)), limiter=lim,
                    sleep=clock.sleep)
    http.request("GET", "/tokens")
    data = json.loads(Path(state_path(API, "Nip:5265877635", str(tmp_path))).read_text())
    assert len(data["GET /tokens"]["sent"]) == 2
    assert data["GET /tokens"]["blocked_until"] == pytest.approx(clock.now)  # 429 time + Retry-After
    assert lim.acquire("GET /tokens") == 0.0  # the client already waited the 7 s out
    assert sum(clock.sleeps) == pytest.approx(7.0)


def test_state_directory_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KSEF_RATELIMIT_DIR", str(tmp_path / "rl"))
    assert state_path("http://127.0.0.1:8080/v2", "Nip:5265877635") == os.path.join(
        str(tmp_path / "rl"), "127.0.0.1-8080_Nip-5265877635.json")


def test_an_optional_request_that_would_wait_longer_than_the_caller_accepts_is_not_sent(tmp_path):
    """Closing a session is worth max_retry_wait, not the rest of the hour: past that the session expires alone."""
    from ansible_collections.ksef.credentials.plugins.module_utils._ratelimit import PacingTooLongError

    clock = FakeClock()
    lim = limiter(tmp_path, clock)
    for _close in range(120):  # the production hour of DELETE /auth/sessions/current, used up
        lim.acquire("DELETE /auth/sessions/current")
        lim.completed("DELETE /auth/sessions/current", 204)
    slept = sum(clock.sleeps)
    with pytest.raises(PacingTooLongError, match=r"DELETE /auth/sessions/current would wait \d+s .*120 per hour") as err:
        lim.acquire("DELETE /auth/sessions/current", max_wait=60)
    assert err.value.wait > 60 and sum(clock.sleeps) == slept  # nothing slept, nothing reserved
    assert lim.acquire("DELETE /auth/sessions/current") > 60  # a caller that waits still gets the next slot


def fill_the_hour(lim, operation):
    """KSeF's production hour of `operation` used up (120 requests), paced as they would be."""
    for _request in range(120):
        lim.acquire(operation)
        lim.completed(operation, 204)


def test_any_request_that_would_wait_longer_than_max_retry_wait_fails_at_once_naming_what_decides(tmp_path):
    """Pacing is capped like a 429 block: a task never sleeps, with no output, past max_retry_wait for a free slot."""
    from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefTimeoutError
    from ansible_collections.ksef.credentials.plugins.module_utils._ratelimit import PacingTooLongError

    clock = FakeClock()
    lim = limiter(tmp_path, clock, max_pacing_wait=60)
    fill_the_hour(lim, "GET /tokens")  # within the hour: the minute windows paced it, each wait under 60 s
    assert max(clock.sleeps) < 60.0 + _ratelimit.SAFETY_MARGIN + 1e-9
    slept, reserved = sum(clock.sleeps), json.loads(Path(state_path(API, "Nip:5265877635", str(tmp_path))).read_text())
    with pytest.raises(PacingTooLongError) as err:
        lim.acquire("GET /tokens")
    message = str(err.value)
    assert isinstance(err.value, KsefTimeoutError) and err.value.operation == "GET /tokens" and not err.value.optional
    assert message.startswith("GET /tokens would wait %.0fs for KSeF's limits in this context (10 per second, "
                              "30 per minute, 120 per hour; rate_limits: prd), more than max_retry_wait (60s); "
                              "not sent" % err.value.wait)
    assert "raise max_retry_wait (up to 3600)" in message and "rate_limits: te" in message
    assert 3000 < err.value.wait <= 3600 + _ratelimit.SAFETY_MARGIN
    assert err.value.to_result() == {"operation": "GET /tokens"}
    # Nothing slept and nothing reserved: the next task of the run finds the window as it was.
    assert sum(clock.sleeps) == slept
    assert json.loads(Path(state_path(API, "Nip:5265877635", str(tmp_path))).read_text()) == reserved
    # Other operations of the context have windows of their own.
    assert lim.acquire("POST /tokens") == 0.0


def test_a_full_minute_fits_max_retry_wait_of_sixty_seconds(tmp_path):
    """The 31st request of a minute waits the minute out (60 s and the margin): the default max_retry_wait."""
    clock = FakeClock()
    lim = limiter(tmp_path, clock, max_pacing_wait=60)
    send(lim, clock, "GET /tokens", 31)
    assert sum(clock.sleeps) == pytest.approx(60.0 + _ratelimit.SAFETY_MARGIN)


def test_without_a_cap_pacing_waits_as_long_as_the_window_needs(tmp_path):
    clock = FakeClock()
    lim = limiter(tmp_path, clock)  # a limiter built without max_pacing_wait (benchmarks, tools)
    fill_the_hour(lim, "GET /tokens")
    assert lim.acquire("GET /tokens") > 3000


def test_the_http_client_sends_nothing_when_pacing_would_wait_too_long(tmp_path):
    from ansible_collections.ksef.credentials.plugins.module_utils._ratelimit import PacingTooLongError

    clock = FakeClock()
    lim = limiter(tmp_path, clock, max_pacing_wait=60)
    fill_the_hour(lim, "GET /tokens")
    seen = []
    http = KsefHttp(API, transport=httpx.MockTransport(lambda request: seen.append(request) or httpx.Response(200)),
                    limiter=lim, sleep=clock.sleep)
    with pytest.raises(PacingTooLongError, match="GET /tokens would wait"):
        http.request("GET", "/tokens")
    assert seen == [] and http.calls == {}


def test_room_and_left_read_the_shared_state_without_reserving(tmp_path):
    clock = FakeClock()
    lim = limiter(tmp_path, clock)
    status = "GET /permissions/operations/{referenceNumber}"
    assert lim.left(status) == (120, 120) and lim.room(status, 10) == 0.0
    send(lim, clock, status, 100, latency=30.0)  # 100 reads over 3000 s, each answered 30 s later
    assert lim.left(status) == (20, 120)
    assert lim.room(status, 9) == 0.0 and lim.room(status, 20) < 3  # 20 more fit the hour (10 a second)
    # The 21st waits until the first read of the hour leaves it: an hour after its answer (30 s), from now (3000 s).
    assert lim.room(status, 21) == pytest.approx(30 + 3600 - 3000 + _ratelimit.SAFETY_MARGIN, abs=0.01)
    assert lim.room(status, 21) > lim.room(status, 1) == 0.0
    assert lim.left(status) == (20, 120) and lim.room(status, 9) == 0.0  # asking reserved nothing
    other = limiter(tmp_path, clock)  # another process of the run reads the same state
    assert other.left(status) == (20, 120)
    assert NoopRateLimiter().room(status, 500) == 0.0 and NoopRateLimiter().left(status) is None
