"""Hold-out uplift on constructed data: no effect must not be called significant; a clear one must be."""

import math
from datetime import timedelta

import pytest
from scipy import stats as scipy_stats

from personalize.analytics.report import overview
from personalize.analytics.stats import Moments, newcombe_interval, welch_interval
from tests.analytics.conftest import T0, ev, purchase, rebuild, send, set_holdout_share, split_visitors

DAY = T0.date()


def visits(visitors, buys) -> list[dict]:
    """A page view for every visitor; `buys(i)` gives the i-th visitor's order value, or 0."""
    events = []
    for i, v in enumerate(visitors):
        events.append(ev("page_view", v, T0 - timedelta(hours=1)))
        value = buys(i)
        if value:
            events.append(purchase(v, T0, [("p1", 1, value)]))
    return events


def test_a_holdout_with_no_effect_is_not_called_significant(shop):
    set_holdout_share(shop, 0.5)
    personalized, held = split_visitors(shop, 600, 0.5, seed=11)
    # both groups buy with the same pattern: every 5th visitor, order values cycling 20..50
    same = lambda i: 20.0 + 5 * (i % 7) if i % 5 == 0 else 0  # noqa: E731
    send(shop, visits(personalized, same) + visits(held, same))
    rebuild(shop)
    u = overview(shop=shop, start=DAY, end=DAY)["uplift"]
    assert u.personalized.visitors == len(personalized) and u.holdout.visitors == len(held)
    assert u.per_visitor.low < 0 < u.per_visitor.high
    assert u.conversion.low < 0 < u.conversion.high
    assert not u.significant
    assert u.verdict.startswith("Not significant yet")
    inc = u.incremental_revenue
    assert inc.low < 0 < inc.high


def test_a_clear_effect_is_significant_and_sized(shop):
    set_holdout_share(shop, 0.5)
    personalized, held = split_visitors(shop, 600, 0.5, seed=12)
    send(
        shop,
        visits(personalized, lambda i: 60.0 if i % 3 == 0 else 0)
        + visits(held, lambda i: 30.0 if i % 10 == 0 else 0),
    )
    rebuild(shop)
    u = overview(shop=shop, start=DAY, end=DAY)["uplift"]
    p, h = u.personalized, u.holdout
    buyers_p, buyers_h = math.ceil(len(personalized) / 3), math.ceil(len(held) / 10)
    assert (p.buyers, h.buyers) == (buyers_p, buyers_h)
    assert p.conversion_rate == pytest.approx(buyers_p / len(personalized))
    assert (p.aov, h.aov) == (60.0, 30.0)
    rpv_p, rpv_h = 60.0 * buyers_p / len(personalized), 30.0 * buyers_h / len(held)
    assert (p.revenue_per_visitor, h.revenue_per_visitor) == (pytest.approx(rpv_p), pytest.approx(rpv_h))
    assert u.per_visitor.difference == pytest.approx(rpv_p - rpv_h)
    assert u.per_visitor.low > 0 and u.conversion.low > 0
    assert u.significant
    assert u.verdict.startswith("Personalization earns more")
    assert u.incremental_revenue.difference == pytest.approx((rpv_p - rpv_h) * len(personalized))


def test_without_a_holdout_there_is_no_verdict(shop):
    set_holdout_share(shop, 0)
    send(shop, visits(["a", "b", "c"], lambda i: 10.0))
    rebuild(shop)
    u = overview(shop=shop, start=DAY, end=DAY)["uplift"]
    assert u.holdout.visitors == 0 and u.per_visitor is None
    assert u.verdict.startswith("No hold-out group")


def test_welch_matches_scipy():
    a, b = [0, 0, 3, 10, 0, 7.5, 0, 1], [0, 2, 0, 0, 1]
    got = welch_interval(
        Moments(len(a), sum(a), sum(x * x for x in a)), Moments(len(b), sum(b), sum(x * x for x in b))
    )
    want = scipy_stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (got.low, got.high) == (pytest.approx(want.low), pytest.approx(want.high))


def test_newcombe_matches_the_published_example():
    # Newcombe (1998), Statistics in Medicine 17:873, table II example (56/70 vs 48/80): 0.0524 to 0.3339
    ci = newcombe_interval(56, 70, 48, 80)
    assert (round(ci.low, 4), round(ci.high, 4)) == (0.0524, 0.3339)
