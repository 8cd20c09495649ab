"""How a benchmark level's requests become its reported figures and the goodput."""

import pytest

from appliance.sizing.bench import RequestResult, goodput, percentile, summarise


def test_percentiles_interpolate_between_samples() -> None:
    assert percentile([10.0, 20.0, 30.0, 40.0], 50) == 25.0
    assert percentile([10.0, 20.0, 30.0, 40.0], 99) == pytest.approx(39.7)
    assert percentile([], 50) is None


def test_tpot_excludes_the_first_token() -> None:
    # 0.2 s to the first token, then 10 more tokens in 0.5 s: 50 ms per output token
    assert RequestResult(True, 0.7, 0.2, 11).tpot_s == pytest.approx(0.05)
    assert RequestResult(True, 0.7, 0.2, 1).tpot_s is None


def test_a_level_meets_the_target_only_without_failures() -> None:
    fast = [RequestResult(True, 1.1, 0.1, 101) for _ in range(4)]  # 10 ms/token: 100 tok/s
    level = summarise(4, fast, duration_s=2.0, min_tps=50)
    assert level.output_tps == pytest.approx(404 / 2.0)
    assert level.per_user_tps == pytest.approx(100)
    assert level.ttft_p50_ms == pytest.approx(100)
    assert level.meets_target
    failed = summarise(4, [*fast[:3], RequestResult(False, 0.1, error="HTTP 429: busy")], 2.0, 50)
    assert not failed.meets_target
    assert failed.errors == ("HTTP 429: busy",)


def test_goodput_is_the_highest_level_meeting_the_target() -> None:
    def level(concurrency: int, tpot_s: float):
        return summarise(concurrency, [RequestResult(True, 0.1 + 10 * tpot_s, 0.1, 11)], 1.0, 20)

    levels = (level(1, 0.01), level(4, 0.04), level(16, 0.08))  # 100, 25, 12.5 tok/s
    assert goodput(levels) == 4
    assert goodput((level(16, 0.08),)) is None
