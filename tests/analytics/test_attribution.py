"""Attribution on constructed data with known answers, through the collect service and the rollups."""

from datetime import date, timedelta
from decimal import Decimal

from personalize.analytics.attribution import CAMPAIGN, WIDGET, Click, Line, attribute_order
from personalize.analytics.report import overview
from tests.analytics.conftest import T0, click, ev, impression, purchase, rebuild, send

H = timedelta(hours=1)
DAY = T0.date()


def report(shop, start=DAY, end=DAY):
    return overview(shop=shop, start=start, end=end)


def by_key(rows):
    return {r["key"]: r for r in rows}


def test_it_attributes_only_the_clicked_product_of_the_same_visitor(shop):
    send(
        shop,
        [
            impression("alice", T0 - 3 * H),
            impression("alice", T0 - 3 * H),
            click("alice", T0 - 2 * H, "p1"),
            purchase("alice", T0, [("p1", 2, 10.0), ("p2", 1, 5.0)]),
            click("dave", T0 - 2 * H, "p3"),  # dave clicked p3 ...
            purchase("erin", T0, [("p3", 1, 7.0)]),  # ... erin bought it: not attributed
        ],
    )
    rebuild(shop)
    r = report(shop)
    assert r["totals"]["revenue"] == Decimal("32")
    assert r["totals"]["orders"] == 2
    assert r["totals"]["attributed_revenue"] == Decimal("20")
    assert r["totals"]["attributed_orders"] == 1
    assert r["totals"]["attributed_share"] == 20 / 32
    similar = by_key(r["widgets"])["similar"]
    assert (similar["impressions"], similar["clicks"], similar["conversions"]) == (2, 2, 1)
    assert similar["ctr"] == 1.0
    assert similar["attributed_revenue"] == Decimal("20")
    assert similar["revenue_share"] == 20 / 32


def test_it_counts_a_click_exactly_at_the_window_edge_and_not_one_second_before(shop):
    window = timedelta(hours=shop.attribution_window_hours)
    assert window == timedelta(hours=24)
    send(
        shop,
        [
            click("in", T0 - window, "p1"),
            purchase("in", T0, [("p1", 1, 10.0)]),
            click("out", T0 - window - timedelta(seconds=1), "p1"),
            purchase("out", T0, [("p1", 1, 10.0)]),
            purchase("after", T0, [("p1", 1, 10.0)]),
            click("after", T0 + timedelta(seconds=1), "p1"),  # a click after the purchase earns nothing
        ],
    )
    rebuild(shop)
    r = report(shop)
    assert r["totals"]["attributed_revenue"] == Decimal("10")
    assert r["totals"]["attributed_orders"] == 1


def test_it_follows_the_shops_attribution_window(shop):
    shop.attribution_window_hours = 2
    shop.save(update_fields=["attribution_window_hours"])
    send(
        shop,
        [
            click("a", T0 - 3 * H, "p1"),
            purchase("a", T0, [("p1", 1, 10.0)]),
            click("b", T0 - H, "p1"),
            purchase("b", T0, [("p1", 1, 10.0)]),
        ],
    )
    rebuild(shop)
    assert report(shop)["totals"]["attributed_revenue"] == Decimal("10")


def test_a_click_yesterday_attributes_a_purchase_after_midnight(shop):
    midnight = T0.replace(hour=0)
    send(shop, [click("a", midnight - H, "p1"), purchase("a", midnight + H, [("p1", 1, 12.5)])])
    rebuild(shop)
    r = report(shop, DAY - timedelta(days=1), DAY)
    assert [d["attributed_revenue"] for d in r["days"]] == [Decimal(0), Decimal("12.5")]
    assert r["days"][0]["events"] == 1 and r["days"][1]["orders"] == 1


def test_the_last_click_wins_and_a_campaign_call_to_action_credits_the_rest_of_the_order(shop):
    send(
        shop,
        [
            ev("campaign_impression", "c", T0 - 2 * H, campaign_id="7"),
            ev("campaign_click", "c", T0 - 90 * timedelta(minutes=1), campaign_id="7"),
            click("c", T0 - 3 * H, "p3", widget="similar"),  # older than the for_you click below
            click("c", T0 - 30 * timedelta(minutes=1), "p3", widget="for_you"),
            purchase("c", T0, [("p3", 1, 30.0), ("p4", 2, 5.0)]),
        ],
    )
    rebuild(shop)
    r = report(shop)
    widgets, campaigns = by_key(r["widgets"]), by_key(r["campaigns"])
    assert widgets["for_you"]["attributed_revenue"] == Decimal("30")
    assert widgets["similar"]["attributed_revenue"] == Decimal(0)
    assert widgets["similar"]["conversions"] == 0
    assert campaigns["7"]["attributed_revenue"] == Decimal("10")
    assert (campaigns["7"]["impressions"], campaigns["7"]["clicks"], campaigns["7"]["conversions"]) == (
        1,
        1,
        1,
    )
    # every line is credited once: the sources add up to the total
    assert r["totals"]["attributed_revenue"] == Decimal("40") == r["totals"]["revenue"]


def test_an_order_sent_twice_counts_once(shop):
    order = purchase("a", T0, [("p1", 1, 10.0)], order_id="o-same")
    again = dict(order, event_id="1b4e28ba-2fa1-11d2-883f-0016d3cca427")
    send(shop, [click("a", T0 - H, "p1"), order, again])
    rebuild(shop)
    r = report(shop)
    assert r["totals"]["orders"] == 1
    assert r["totals"]["attributed_revenue"] == Decimal("10")


def test_attribute_order_prefers_a_product_click_over_a_call_to_action_at_the_same_instant():
    clicks = [Click(T0 - H, CAMPAIGN, "9", ""), Click(T0 - H, WIDGET, "cart", "p1")]
    got = attribute_order(
        ts=T0, lines=[Line("p1", Decimal(1)), Line("p2", Decimal(1))], clicks=clicks, window=24 * H
    )
    assert got == [clicks[1], clicks[0]]


def test_days_without_data_are_zeros(shop):
    r = overview(shop=shop, start=date(2026, 1, 1), end=date(2026, 1, 3))
    assert [d["revenue"] for d in r["days"]] == [0, 0, 0]
    assert r["totals"]["attributed_share"] is None
    assert r["widgets"] == [] and r["campaigns"] == []
