"""A/B variant results: per-variant rollups, the comparison with A, the overview table and the CSV."""

import csv
import io
import random
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum

from personalize.analytics.attribution import Line, attribute_order, click_from_event
from personalize.analytics.models import SourceDay
from personalize.analytics.report import NOT_SIGNIFICANT, overview
from personalize.analytics.rollups import day_bounds
from personalize.campaigns.models import Campaign
from personalize.events.models import Event, Order
from tests.analytics.conftest import T0, ev, purchase, rebuild, send, visitor_id
from tests.analytics.direct import direct_overview
from tests.dashboard.conftest import client_for

H = timedelta(hours=1)
DAY = T0.date()
RANGE = f"start={DAY}&end={DAY}"
COUNTS = ("impressions", "clicks", "conversions", "attributed_revenue")


def seen(visitor, ts, campaign, variant=None, type_="campaign_impression", **fields):
    """A campaign event as the snippet sends it; `variant=None` leaves properties.variant out."""
    properties = {"variant": variant} if variant else {}
    return ev(type_, visitor, ts, campaign_id=str(campaign), properties=properties, **fields)


def clicked(visitor, ts, campaign, variant=None, **fields):
    return seen(visitor, ts, campaign, variant, "campaign_click", **fields)


def counts(row):
    return tuple(row[c] for c in COUNTS)


def campaign_row(report, campaign):
    return next(r for r in report["campaigns"] if r["key"] == str(campaign))


@pytest.fixture
def spring(shop):
    """An A/B tested campaign: A bought 20 + 8 (one of them without a variant), B bought 15."""
    campaign = Campaign.objects.create(shop=shop, name="Spring", title="Spring sale")
    send(
        shop,
        [
            seen("a", T0 - 3 * H, campaign.id, "A"),
            clicked("a", T0 - 2 * H, campaign.id, "A"),  # a button: credits the whole order
            purchase("a", T0, [("p1", 2, 10.0)]),
            seen("b", T0 - 3 * H, campaign.id, "B"),
            seen("b", T0 - 3 * H, campaign.id, "B"),
            clicked("b", T0 - 2 * H, campaign.id, "B", product_id="p2"),  # credits p2 only
            purchase("b", T0, [("p2", 1, 15.0), ("p3", 1, 5.0)]),
            seen("c", T0 - 3 * H, campaign.id),  # an older snippet: no variant, so A
            clicked("c", T0 - 2 * H, campaign.id),
            purchase("c", T0, [("p4", 1, 8.0)]),
            seen("d", T0 - H, campaign.id, "B", "campaign_close"),  # a close is neither
        ],
    )
    rebuild(shop)
    return campaign


def test_it_counts_each_variant_and_credits_the_clicks_of_its_visitors(shop, spring):
    row = campaign_row(overview(shop=shop, start=DAY, end=DAY), spring.id)
    a, b = row["variants"]
    assert (a["variant"], a["original"], b["variant"], b["original"]) == ("A", True, "B", False)
    assert counts(a) == (2, 2, 2, Decimal("28"))
    assert counts(b) == (2, 1, 1, Decimal("15"))
    assert (a["ctr"], a["conversion_rate"], b["ctr"], b["conversion_rate"]) == (1.0, 1.0, 0.5, 0.5)
    assert a["revenue_share"] == 28 / 48 and a["name"] == b["name"] == "Spring"


def test_campaign_totals_are_unchanged_and_the_sum_of_their_variants(shop, spring):
    report = overview(shop=shop, start=DAY, end=DAY)
    row = campaign_row(report, spring.id)
    assert counts(row) == (4, 3, 3, Decimal("43"))
    assert counts(row) == tuple(sum(v[c] for v in row["variants"]) for c in COUNTS)
    # the campaign row is what the direct computation without variants gives
    want = direct_overview(shop, DAY, DAY, share=0.05)["sources"][("campaign", str(spring.id))]
    assert dict(zip(COUNTS, counts(row), strict=True)) == want
    assert report["totals"]["attributed_revenue"] == Decimal("43")


def test_events_without_a_variant_count_as_a_and_a_campaign_without_variants_gets_no_rows(shop):
    send(
        shop,
        [
            seen("a", T0 - H, 7),
            clicked("a", T0 - H, 7),
            seen("b", T0 - H, 7, "B"),
            seen("c", T0 - H, 8),
            clicked("c", T0 - H, 8),
            purchase("c", T0, [("p1", 1, 9.0)]),
        ],
    )
    rebuild(shop)
    report = overview(shop=shop, start=DAY, end=DAY)
    a, b = campaign_row(report, 7)["variants"]
    assert (a["variant"], a["impressions"], a["clicks"]) == ("A", 1, 1)
    assert (b["variant"], b["impressions"], b["clicks"]) == ("B", 1, 0)
    # campaign 8 was never A/B tested: its only variant is A, which would repeat the campaign's row
    assert campaign_row(report, 8)["variants"] == []
    stored = SourceDay.objects.for_shop(shop).get(kind="variant", key="8")
    assert (stored.variant, stored.clicks, stored.conversions, stored.attributed_revenue) == ("A", 1, 1, 9)


def many(campaign, variant, impressions, clicks):
    """`impressions` impressions of a variant, `clicks` of them clicked (one visitor each)."""
    events = []
    for n in range(impressions):
        visitor = f"{variant}-{n}"
        events.append(seen(visitor, T0 - 2 * H, campaign, variant))
        if n < clicks:
            events.append(clicked(visitor, T0 - H, campaign, variant))
    return events


def test_a_ctr_difference_without_a_real_effect_is_not_significant_and_a_large_one_is(shop):
    # A 10%, B 11% (noise at 400 impressions each), C 25%, D 2%
    send(shop, many(5, "A", 400, 40) + many(5, "B", 400, 44) + many(5, "C", 400, 100) + many(5, "D", 400, 8))
    rebuild(shop)
    a, b, c, d = campaign_row(overview(shop=shop, start=DAY, end=DAY), 5)["variants"]
    assert a["ctr_vs_original"] is None and a["verdict"] == ""
    assert b["ctr_vs_original"].difference == pytest.approx(0.01)
    assert b["ctr_vs_original"].low < 0 < b["ctr_vs_original"].high
    assert b["verdict"] == NOT_SIGNIFICANT
    assert c["ctr_vs_original"].difference == pytest.approx(0.15)
    assert c["ctr_vs_original"].low > 0.09
    assert c["verdict"] == "Clicked more often than A (significant at 95%)."
    assert d["ctr_vs_original"].high < 0
    assert d["verdict"] == "Clicked less often than A (significant at 95%)."


def test_a_variant_without_impressions_of_a_is_not_compared(shop):
    send(shop, [seen("a", T0, 6, "B"), clicked("a", T0, 6, "B"), clicked("b", T0, 6, "A")])
    rebuild(shop)
    a, b = campaign_row(overview(shop=shop, start=DAY, end=DAY), 6)["variants"]
    assert (a["impressions"], a["clicks"]) == (0, 1)
    assert b["ctr_vs_original"] is None
    assert b["verdict"].startswith("Not enough data yet")


def random_variant_history(shop, seed: int) -> None:
    """Four days of 150 visitors seeing and clicking campaigns 1 (A/B/C), 2 (A/B) and 3 (no variants,
    so no property), and buying; a visitor keeps one variant per campaign, as the snippet does, and
    some of A's events come without the property (sent before the campaign got variants)."""
    rng = random.Random(seed)
    events = []
    for _ in range(150):
        visitor = visitor_id(rng)
        mine = {1: rng.choice("ABC"), 2: rng.choice("AB"), 3: None}
        t = T0 - timedelta(days=2, hours=rng.uniform(0, 12))
        for _ in range(rng.randint(1, 12)):
            t += timedelta(minutes=rng.expovariate(1 / 240))
            campaign = rng.choice([1, 2, 3])
            variant = None if mine[campaign] == "A" and rng.random() < 0.3 else mine[campaign]
            product = f"p{rng.randint(1, 8)}"
            roll = rng.random()
            if roll < 0.4:
                events.append(seen(visitor, t, campaign, variant))
            elif roll < 0.55:
                fields = {"product_id": product} if rng.random() < 0.5 else {}
                events.append(clicked(visitor, t, campaign, variant, **fields))
            elif roll < 0.6:
                events.append(seen(visitor, t, campaign, variant, "campaign_close"))
            elif roll < 0.75:
                events.append(ev("product_view", visitor, t, product_id=product))
            else:
                items = [(f"p{rng.randint(1, 8)}", rng.randint(1, 3), rng.choice([4.5, 10.0, 19.99]))]
                if rng.random() < 0.5:
                    items.append((product, 1, 25.0))
                events.append(purchase(visitor, t, items))
    send(shop, events)


def direct_variants(shop, start, end) -> dict:
    """{(campaign id, variant): counts} straight from the raw events and orders, order by order."""
    since, _ = day_bounds(start)
    _, until = day_bounds(end)
    window = timedelta(hours=shop.attribution_window_hours)
    out = defaultdict(lambda: {"impressions": 0, "clicks": 0, "orders": set(), "revenue": Decimal(0)})
    for e in Event.objects.for_shop(shop).filter(ts__gte=since, ts__lt=until):
        if e.type in ("campaign_impression", "campaign_click"):
            variant = (e.properties or {}).get("variant") or "A"
            out[(e.campaign_id, variant)]["impressions" if e.type == "campaign_impression" else "clicks"] += 1
    for order in Order.objects.for_shop(shop).filter(ts__gte=since, ts__lt=until).prefetch_related("lines"):
        clicks = [
            click_from_event(
                type=e.type,
                ts=e.ts,
                product_id=e.product_id,
                campaign_id=e.campaign_id,
                widget=None,
                variant=(e.properties or {}).get("variant"),
            )
            for e in Event.objects.for_shop(shop)
            .filter(visitor_id=order.visitor_id, type="campaign_click", ts__lte=order.ts)
            .order_by("ts", "id")
        ]
        lines = [Line(li.product_id, li.price * li.quantity) for li in order.lines.all()]
        credited = attribute_order(ts=order.ts, lines=lines, clicks=clicks, window=window)
        for line, c in zip(lines, credited, strict=True):
            if c:
                out[(c.key, c.variant)]["orders"].add(order.order_id)
                out[(c.key, c.variant)]["revenue"] += line.value
    return {key: (s["impressions"], s["clicks"], len(s["orders"]), s["revenue"]) for key, s in out.items()}


@pytest.mark.parametrize("seed", [1, 2])
def test_variant_rollups_equal_a_direct_computation_on_the_raw_events(shop, seed):
    random_variant_history(shop, seed)
    rebuild(shop)
    start, end = DAY - timedelta(days=2), DAY + timedelta(days=2)
    stored = (
        SourceDay.objects.for_shop(shop)
        .filter(kind="variant", day__gte=start, day__lte=end)
        .values_list("key", "variant")
        .annotate(*(Sum(c) for c in COUNTS))
    )
    got = {(key, variant): tuple(rest) for key, variant, *rest in stored}
    want = direct_variants(shop, start, end)
    assert got == want
    assert set(got) == {("1", "A"), ("1", "B"), ("1", "C"), ("2", "A"), ("2", "B"), ("3", "A")}
    assert sum(revenue for *_, revenue in got.values()) > 0

    report = overview(shop=shop, start=start, end=end)
    campaigns = {r["key"]: r for r in report["campaigns"]}
    assert [v["variant"] for v in campaigns["1"]["variants"]] == ["A", "B", "C"]
    assert campaigns["3"]["variants"] == []
    # the campaign rows are exactly what they were without variants, and each is its variants' sum
    direct = direct_overview(shop, start, end, share=0.05)["sources"]
    for key, row in campaigns.items():
        assert dict(zip(COUNTS, counts(row), strict=True)) == direct[("campaign", key)]
        assert counts(row) == tuple(
            sum(n[i] for (k, _), n in got.items() if k == key) for i in range(len(COUNTS))
        )


def test_another_shops_campaigns_never_appear(shop, other_shop, spring, alice):
    theirs = Campaign.objects.create(shop=other_shop, name="Theirs", title="x")
    send(
        other_shop,
        [
            seen("a", T0 - H, theirs.id, "B"),
            seen("a", T0 - H, spring.id, "C"),  # the same campaign id in another shop
            clicked("a", T0 - H, spring.id, "C"),
            purchase("a", T0, [("p1", 1, 99.0)]),
        ],
    )
    rebuild(other_shop)
    report = overview(shop=shop, start=DAY, end=DAY)
    assert [r["key"] for r in report["campaigns"]] == [str(spring.id)]
    row = campaign_row(report, spring.id)
    assert [v["variant"] for v in row["variants"]] == ["A", "B"]
    assert counts(row) == (4, 3, 3, Decimal("43"))
    body = client_for(alice).get(f"/dashboard/shops/{shop.id}/analytics/campaigns.csv?{RANGE}")
    assert "Theirs" not in body.content.decode() and "99.00" not in body.content.decode()


def test_the_campaigns_csv_has_the_variant_rows(shop, spring, alice):
    response = client_for(alice).get(f"/dashboard/shops/{shop.id}/analytics/campaigns.csv?{RANGE}")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    header = rows[0]
    assert header[:8] == [
        "key",
        "name",
        "impressions",
        "clicks",
        "ctr",
        "conversions",
        "attributed_revenue",
        "revenue_share",
    ]
    assert header[8:] == [
        "variant",
        "conversions_per_impression",
        "ctr_minus_a",
        "ctr_minus_a_ci_low",
        "ctr_minus_a_ci_high",
    ]
    key = str(spring.id)
    assert [r[:9] for r in rows[1:]] == [
        [key, "Spring", "4", "3", "0.750000", "3", "43.00", "0.895833", ""],
        [key, "Spring", "2", "2", "1.000000", "2", "28.00", "0.583333", "A"],
        [key, "Spring", "2", "1", "0.500000", "1", "15.00", "0.312500", "B"],
    ]
    assert rows[2][10:] == ["", "", ""]  # A is the baseline
    difference, low, high = map(float, rows[3][10:])
    assert difference == pytest.approx(-0.5) and low < difference < high


def test_the_overview_shows_a_row_per_variant_under_its_campaign(shop, spring, alice):
    html = client_for(alice).get(f"/dashboard/shops/{shop.id}/?{RANGE}").content.decode()
    assert '<th scope="col">CTR against variant A (95% confidence interval)</th>' in html
    campaign = html.index('<th scope="row">Spring</th>')
    a = html.index('data-variant="A"><th scope="row"><span class="visually-hidden">Spring, </span>variant A')
    b = html.index('data-variant="B"><th scope="row"><span class="visually-hidden">Spring, </span>variant B')
    assert campaign < a < b
    assert "the baseline" in html
    assert f"data-verdict>{NOT_SIGNIFICANT}</span>" in html
