"""Confidence intervals for the hold-out comparison. Django-free: numbers in, numbers out.

- Revenue per visitor and AOV: Welch's unequal-variance t interval on the difference of two means,
  from each group's n, sum and sum of squares (non-buyers count as zeros in revenue per visitor).
- Conversion rate: Newcombe's hybrid score interval (method 10 of Newcombe 1998), built from the
  two groups' Wilson score intervals; it behaves where the Wald interval fails (rates near 0, small n).
"""

import math
from dataclasses import dataclass

from scipy import stats

LEVEL = 0.95


@dataclass(frozen=True)
class Moments:
    """A sample summarised so that groups and days can be added up."""

    n: int = 0
    total: float = 0.0
    total_sq: float = 0.0

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def variance(self) -> float | None:
        """The sample variance (n - 1), never below 0 (float cancellation)."""
        if self.n < 2:
            return None
        return max(0.0, (self.total_sq - self.total * self.total / self.n) / (self.n - 1))


@dataclass(frozen=True)
class Interval:
    difference: float
    low: float
    high: float

    @property
    def significant(self) -> bool:
        """The interval excludes 0."""
        return self.low > 0 or self.high < 0


def welch_interval(a: Moments, b: Moments, level: float = LEVEL) -> Interval | None:
    """mean(a) - mean(b) with Welch's t interval; None when a group has fewer than two values."""
    if a.n < 2 or b.n < 2:
        return None
    difference = a.mean - b.mean
    va, vb = a.variance / a.n, b.variance / b.n
    se = math.sqrt(va + vb)
    if se == 0:
        return Interval(difference, difference, difference)
    df = (va + vb) ** 2 / ((va**2 / (a.n - 1) if va else 0.0) + (vb**2 / (b.n - 1) if vb else 0.0))
    half = stats.t.ppf(0.5 + level / 2, df) * se
    return Interval(difference, difference - half, difference + half)


def wilson_interval(successes: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    z = stats.norm.ppf(0.5 + level / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_interval(x1: int, n1: int, x2: int, n2: int, level: float = LEVEL) -> Interval | None:
    """x1/n1 - x2/n2 with Newcombe's hybrid score interval; None when a group is empty."""
    if n1 == 0 or n2 == 0:
        return None
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1, level)
    l2, u2 = wilson_interval(x2, n2, level)
    difference = p1 - p2
    low = difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Interval(difference, low, high)
