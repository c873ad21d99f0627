"""The client-side rate limit (cluster/limits.py) with a fake clock: bursts pass at once, then requests are
spaced at 1/qps, in turn; and its flags as the command line takes them."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from reconciler.cli.main import main
from reconciler.cluster.limits import Bucket


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


@pytest.mark.parametrize(
    ("qps", "burst", "calls", "waits"),
    [
        (10.0, 3, 5, [0, 0, 0, 0.1, 0.1]),  # three at once, then one every 100 ms
        (50.0, 1, 3, [0, 0.02, 0.02]),
        (0.0, 1, 3, [0, 0, 0]),  # no limit
    ],
)
def test_a_burst_passes_then_requests_are_spaced(qps: float, burst: int, calls: int, waits: list[float]) -> None:
    clock = Clock()
    bucket = Bucket(qps, burst, clock, clock.sleep)
    assert [round(bucket.take(), 6) for _ in range(calls)] == waits


def test_tokens_come_back_with_time_up_to_the_burst() -> None:
    clock = Clock()
    bucket = Bucket(10.0, 2, clock, clock.sleep)
    bucket.take(), bucket.take()
    clock.now += 10  # a long pause refills the bucket, but only to the burst
    assert [round(bucket.take(), 6) for _ in range(3)] == [0, 0, 0.1]


@pytest.mark.parametrize(("flag", "value"), [("--qps", "-1"), ("--qps", "fast"), ("--burst", "0")])
def test_bad_rate_flags_are_usage_errors(flag: str, value: str) -> None:
    result = CliRunner().invoke(main, ["--dry-run", "--offline", flag, value])
    assert result.exit_code == 2 and flag in result.output
