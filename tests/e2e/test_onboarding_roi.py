"""Onboarding to ROI in Chromium: sign up, create a shop, copy the tag, open a store page carrying it,
watch the install check turn green live, and find the visit on the ROI overview.

The tag the dashboard shows points at PUBLIC_BASE_URL, the e2e server's own address: the pasted tag
is byte for byte the copied one.
"""

import re
import uuid

import pytest

from personalize.demo.services import DEMO_EMAIL, DEMO_PASSWORD
from tests.e2e.test_storefront import wait_for

pytestmark = pytest.mark.e2e


def test_sign_up_install_the_tag_and_see_the_first_visit(server, tab):
    page = tab.page
    context = page.context
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)

    # sign up
    page.goto(server.url + "/signup/")
    page.get_by_label("Email").fill(f"merchant-{uuid.uuid4().hex[:8]}@example.com")
    page.get_by_label("Password").fill("Plum-Orchard-Sunrise-2026")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url("**/dashboard/shops/new/")
    tab.screenshot("onboarding-1-create-shop")

    # create the shop
    page.get_by_label("Shop name").fill("Roi Test Shop")
    page.get_by_label("Store domains").fill("127.0.0.1")
    page.get_by_role("button", name="Create shop").click()
    page.wait_for_url(re.compile(r".*/dashboard/shops/\d+/$"))
    shop_id = int(page.url.rstrip("/").rsplit("/", 1)[-1])
    check = page.locator("[data-install-check]")
    assert "Waiting for the first event" in check.inner_text()
    assert "install-check--ok" not in check.get_attribute("class")
    # the live card connects over the websocket (not the polling fallback)
    wait_for(lambda: page.locator("[data-live-mode]").inner_text() == "live", what="the websocket feed")

    # copy the tag
    page.get_by_role("button", name="Copy").click()
    page.locator(".copy-status", has_text="Copied.").wait_for()
    tag = page.evaluate("navigator.clipboard.readText()")
    assert tag == page.locator("#script-tag").inner_text()
    assert tag.startswith(f'<script async src="{server.url}/p.js" data-site-key="pk_')
    tab.screenshot("onboarding-2-install-check-waiting")

    # a store page carrying the pasted tag, in another tab
    store = context.new_page()
    store_errors = []
    store.on("pageerror", lambda e: store_errors.append(str(e)))
    store.route(
        server.url + "/my-store/",
        lambda route: route.fulfill(
            status=200,
            content_type="text/html",
            body=f"<!doctype html><html lang=en><head><meta charset=utf-8><title>My store</title>{tag}</head>"
            "<body><h1>Welcome to my store</h1></body></html>",
        ),
    )
    store.goto(server.url + "/my-store/")
    visitor = wait_for(
        lambda: store.evaluate("localStorage.getItem('pz_vid')"), what="the snippet's visitor id"
    )

    # the install check turns green on the dashboard, live, without a reload
    page.locator("[data-install-check].install-check--ok").wait_for(timeout=20_000)
    assert "Installed" in check.inner_text()
    assert "page view" in page.locator('[data-live="latest"]').inner_text()
    tab.screenshot("onboarding-3-install-check-green")

    # the ROI page shows the visit once the rollups are rebuilt (Celery beat does it every 5 minutes;
    # the e2e server runs no worker, so the same rebuild runs as the operator's command)
    server.manage("rebuild_analytics", "--shop", str(shop_id))
    page.goto(server.url + f"/dashboard/shops/{shop_id}/")
    assert page.locator('[data-total="visitors"]').inner_text() == "1"
    assert int(page.locator('[data-total="events"]').inner_text()) >= 1
    assert page.locator("#roi-days tbody tr").last.locator("td").first.inner_text() == "1"
    page.locator("canvas[data-roi-chart='revenue']").wait_for()
    wait_for(
        lambda: page.evaluate("!!window.Chart || document.querySelector('canvas').width > 0"), what="charts"
    )
    page.wait_for_timeout(1500)  # let the charts finish drawing before the screenshot
    tab.screenshot("roi-overview")
    assert visitor and not store_errors
    assert not tab.errors, tab.errors


def test_without_websockets_the_live_card_polls(server, tab):
    page = tab.page
    # a proxy that refuses websocket upgrades: every connection attempt is closed at once
    page.route_web_socket(re.compile(r".*/ws/.*"), lambda ws: ws.close())
    page.goto(server.url + "/login/")
    page.get_by_label("Email").fill(DEMO_EMAIL)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/dashboard/**")
    page.goto(server.url + f"/dashboard/shops/{server.shop_id}/")
    wait_for(lambda: page.locator("[data-live-mode]").inner_text() == "updating every 5 s", what="polling")
    latest = page.locator('[data-live="latest"]')
    wait_for(lambda: "visitor" in latest.inner_text(), what="the latest events from live.json")
    assert page.locator("[data-install-check]").count() == 0  # the demo shop is installed
    tab.screenshot("roi-overview-polling")
    assert not tab.errors, tab.errors
