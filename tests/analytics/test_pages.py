"""The overview page, its CSV export and the live feed's JSON: what members see, what strangers don't."""

import csv
import io
from datetime import timedelta

import pytest

from personalize.events.services import record_events
from tests.analytics.conftest import T0, click, ev, impression, purchase, rebuild, send, set_holdout_share
from tests.dashboard.conftest import client_for
from tests.factories import make_event

DAY = T0.date().isoformat()
RANGE = f"start={DAY}&end={DAY}"


def paths(shop_id):
    base = f"/dashboard/shops/{shop_id}/"
    return [
        base,
        base + f"?{RANGE}",
        *(base + f"analytics/{t}.csv?{RANGE}" for t in ("days", "widgets", "campaigns", "uplift")),
        base + "analytics/live.json",
    ]


@pytest.fixture
def history(shop):
    set_holdout_share(shop, 0.5)
    send(
        shop,
        [
            impression("a", T0 - timedelta(hours=2), "for_you"),
            click("a", T0 - timedelta(hours=1), "p1", "for_you"),
            purchase("a", T0, [("p1", 2, 15.0)]),
            ev("page_view", "b", T0),
            purchase("c", T0, [("p9", 1, 5.0)]),
            ev("campaign_impression", "b", T0, campaign_id="=HYPERLINK(1)"),
        ],
    )
    rebuild(shop)


def read_csv(response):
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_members_see_every_page(history, shop, alice, bob):
    for user in (alice, bob):
        client = client_for(user)
        for path in paths(shop.id):
            assert client.get(path).status_code == 200, path


def test_another_shops_user_gets_404_everywhere(history, shop, charlie, other_shop):
    client = client_for(charlie)
    for path in paths(shop.id):
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"Alice" not in response.content


def test_anonymous_visitors_are_sent_to_log_in(history, shop, client):
    for path in paths(shop.id):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), path


def test_the_overview_shows_the_ranges_numbers(history, shop, alice):
    html = client_for(alice).get(f"/dashboard/shops/{shop.id}/?{RANGE}").content.decode()
    assert 'data-total="revenue">GBP 35.00<' in html
    assert 'data-total="attributed_revenue">GBP 30.00<' in html
    assert "85.7% of revenue" in html
    assert "Welch" in html and "Newcombe" in html
    assert 'data-roi-chart="revenue"' in html and 'id="roi-days"' in html
    assert '<th scope="row">for_you</th>' in html
    assert "Install the script tag" not in html  # installed: the tag moves to the bottom
    assert '<code id="script-tag">' in html


def test_a_new_shop_shows_the_tag_and_a_waiting_install_check(shop, alice):
    html = client_for(alice).get(f"/dashboard/shops/{shop.id}/").content.decode()
    assert "Install the script tag" in html
    assert "data-install-check" in html and "Waiting for the first event" in html


def test_the_page_reads_a_bounded_number_of_queries(history, shop, alice, django_assert_max_num_queries):
    client = client_for(alice)
    with django_assert_max_num_queries(14):
        assert client.get(f"/dashboard/shops/{shop.id}/?start=2025-03-11&end={DAY}").status_code == 200


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("start=yesterday", "start"),
        ("end=2026-02-30", "end"),
        ("start=2026-03-02&end=2026-03-01", "start"),
        ("start=2020-01-01&end=2026-01-01", "start"),
    ],
)
def test_bad_ranges_are_refused_naming_the_field(history, shop, alice, query, field):
    client = client_for(alice)
    response = client.get(f"/dashboard/shops/{shop.id}/analytics/days.csv?{query}")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    page = client.get(f"/dashboard/shops/{shop.id}/?{query}")
    assert page.status_code == 400 and f"{field}: " in page.content.decode()


def test_an_unknown_table_is_refused(shop, alice):
    response = client_for(alice).get(f"/dashboard/shops/{shop.id}/analytics/orders.csv")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["table"]


def test_the_csv_export_holds_the_tables(history, shop, alice):
    client = client_for(alice)
    days = read_csv(client.get(f"/dashboard/shops/{shop.id}/analytics/days.csv?{RANGE}"))
    assert days == [
        ["day", "visitors", "events", "orders", "revenue", "attributed_orders", "attributed_revenue"],
        [DAY, "3", "6", "2", "35.00", "1", "30.00"],
    ]
    widgets = read_csv(client.get(f"/dashboard/shops/{shop.id}/analytics/widgets.csv?{RANGE}"))
    assert widgets[1] == ["for_you", "for_you", "1", "1", "1.000000", "1", "30.00", "0.857143"]
    campaigns = read_csv(client.get(f"/dashboard/shops/{shop.id}/analytics/campaigns.csv?{RANGE}"))
    # a campaign id that looks like a formula is defused for spreadsheets
    assert campaigns[1][:3] == ["'=HYPERLINK(1)", "campaign =HYPERLINK(1)", "1"]
    uplift = read_csv(client.get(f"/dashboard/shops/{shop.id}/analytics/uplift.csv?{RANGE}"))
    assert [row[0] for row in uplift] == [
        "metric",
        "visitors",
        "conversion_rate",
        "aov",
        "revenue_per_visitor",
        "incremental_revenue",
    ]
    assert int(uplift[1][1]) + int(uplift[1][2]) == 3


def test_the_live_json_snapshot(shop, alice, other_shop):
    record_events(shop=shop, batch=[make_event("page_view"), make_event("purchase", visitor_id="v-2")])
    record_events(shop=other_shop, batch=[make_event("page_view", visitor_id="someone-else")])
    data = client_for(alice).get(f"/dashboard/shops/{shop.id}/analytics/live.json").json()
    assert data["installed"] is True
    assert data["events_last_minute"] == 2 == sum(data["per_minute"])
    assert data["orders_today"] == 1 and data["revenue_today"] == "20.00"
    assert {e["visitor"] for e in data["latest"]} == {"v-1", "v-2"}
