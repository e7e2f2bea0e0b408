"""Pop-ups, exit intent, consent, a strict Content-Security-Policy and layout stability, in Chromium.

Pages that are not the demo store (a consent shop, a CSP-locked page) are served to the browser by
Playwright's router at the server's own origin: they stand for a merchant's page, while the tag,
the snippet and every API call go to the real server.
"""

import json

import pytest

from tests.e2e.test_storefront import CARDS, DIALOG, events_of, visitor_id, wait_for

pytestmark = pytest.mark.e2e


CLS_PROBE = """
window.__cls = 0;
new PerformanceObserver(list => {
  for (const entry of list.getEntries()) if (!entry.hadRecentInput) window.__cls += entry.value;
}).observe({type: 'layout-shift', buffered: true});
"""


def leave_through_the_top(page) -> None:
    page.mouse.move(640, 200)
    page.mouse.move(640, 5, steps=4)
    page.mouse.move(640, -20, steps=2)


def test_the_exit_intent_overlay_shows_once_when_the_pointer_leaves_through_the_top(server, tab):
    page = tab.page
    # A returning visitor: the welcome pop-up (new visitors, after 4 s) must not take the session's
    # budget first when a loaded machine makes two page loads last that long.
    page.goto(server.url + "/demo/")
    visitor_id(page)
    # A page of the same origin without the snippet, where the session ends as 30 idle minutes would.
    blank = "<!doctype html><link rel=icon href='data:,'><title>elsewhere</title>"
    page.route(server.url + "/elsewhere", lambda route: route.fulfill(body=blank, content_type="text/html"))
    page.goto(server.url + "/elsewhere")
    page.evaluate("localStorage.removeItem('pz_s')")
    page.goto(server.url + "/demo/")
    page.goto(server.url + "/demo/cart/")  # the overlay wants two page views
    dialog = page.locator(DIALOG)

    def left_and_shown() -> bool:
        # The snippet arms exit intent once its campaigns chunk and config arrived, which a loaded
        # machine delays past the page's load event: the pointer leaves again until it is armed.
        leave_through_the_top(page)
        return dialog.is_visible()

    wait_for(left_and_shown, what="the exit-intent overlay")
    assert dialog.get_attribute("aria-modal") == "true"
    title_id = dialog.get_attribute("aria-labelledby")
    assert page.locator(f"[data-pz-campaign] #{title_id}").inner_text() == "Before you go…"
    campaign = page.locator("[data-pz-campaign]").get_attribute("data-pz-campaign")
    dialog.locator(".k").first.wait_for()  # its embedded for_you block
    # focus moved into the dialog; Esc closes it and gives focus back
    assert page.evaluate("document.activeElement.matches('[data-pz-campaign]')")
    page.keyboard.press("Escape")
    dialog.wait_for(state="detached")
    # never again: not on this page, not after the next page view (the budget is spent, and it was closed)
    leave_through_the_top(page)
    page.goto(server.url + "/demo/")
    page.wait_for_timeout(1000)
    leave_through_the_top(page)
    page.wait_for_timeout(500)
    assert page.locator(DIALOG).count() == 0
    vid = visitor_id(page)

    def overlay_events():
        kinds = ("campaign_impression", "campaign_close")
        found = [e for e in events_of(server, vid, *kinds) if e["campaign_id"] == campaign]
        return found if any(e["type"] == "campaign_close" for e in found) else None

    shown = wait_for(overlay_events, what="the overlay's close event")
    assert sorted(e["type"] for e in shown) == ["campaign_close", "campaign_impression"]
    assert not tab.errors


def test_the_welcome_popup_traps_focus_and_its_cta_counts_as_a_click(server, tab):
    page = tab.page
    page.goto(server.url + "/demo/")
    dialog = page.locator(DIALOG)
    dialog.wait_for(timeout=10_000)  # after its 4 s delay
    assert "WELCOME10" in dialog.inner_text()
    for _ in range(6):  # Tab cycles inside the dialog
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.matches('[data-pz-campaign]')")
    vid = visitor_id(page)
    dialog.get_by_role("link", name="Start shopping").click()
    page.wait_for_url(server.url + "/demo/")
    clicks = wait_for(lambda: events_of(server, vid, "campaign_click"), what="campaign_click")
    assert len(clicks) == 1
    assert not tab.errors


@pytest.fixture(scope="module")
def consent_shop(server):
    created = json.loads(server.manage("create_shop", "--name", "Consent shop", "--domain", "127.0.0.1"))
    server.python(
        "from personalize.shops.models import Shop\n"
        "from personalize.campaigns.services import update_snippet_settings\n"
        f"update_snippet_settings(shop=Shop.objects.get(id={created['shop_id']}), consent_required=True)"
    )
    return created


def merchant_page(tab, server, path: str, body: str, *, site_key: str, headers: dict | None = None) -> None:
    """Serve a merchant's page at the server's origin (the tag and APIs stay real), then open it."""
    html = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Merchant page</title>"
        f'<script async src="/p.js" data-site-key="{site_key}"></script></head><body>{body}</body></html>'
    )
    tab.page.route(
        server.url + path,
        lambda route: route.fulfill(status=200, content_type="text/html", body=html, headers=headers or {}),
    )
    tab.page.goto(server.url + path)


def test_with_consent_required_nothing_is_stored_or_sent_before_consent(server, tab, consent_shop):
    page = tab.page
    sent = []
    page.on("request", lambda r: sent.append(r.url) if "/api/v1/collect" in r.url else None)
    merchant_page(tab, server, "/merchant/consent.html", "<h1>Hello</h1>", site_key=consent_shop["site_key"])
    page.wait_for_function("typeof pz === 'function' && pz._m")  # the snippet is running
    page.evaluate("pz('track', 'search', {query: 'before consent'})")
    page.wait_for_timeout(2500)
    assert sent == []
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('pz'))") == []
    assert page.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('pz'))") == []
    assert page.context.cookies() == []

    page.evaluate("pz('consent', true)")
    vid = wait_for(lambda: page.evaluate("localStorage.getItem('pz_vid')"), what="a stored visitor id")
    vid = json.loads(vid)
    owner = type(server)(
        server.url, server.env, consent_shop["shop_id"], consent_shop["site_key"], consent_shop["secret_key"]
    )
    stored = wait_for(lambda: events_of(owner, vid, "search", "page_view"), what="events after consent")
    assert {e["type"] for e in stored} == {"page_view", "search"}
    assert not tab.errors


def test_blocks_render_styled_under_a_strict_content_security_policy(server, tab):
    page = tab.page
    violations = []
    page.expose_function("__violation", lambda v: violations.append(v))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => "
        "window.__violation(e.violatedDirective + ' ' + e.blockedURI))"
    )
    policy = (
        "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'"
    )
    merchant_page(
        tab,
        server,
        "/merchant/csp.html",
        '<div data-pz-widget="trending" data-pz-limit="4"></div>',
        site_key=server.site_key,
        headers={"Content-Security-Policy": policy},
    )
    page.locator(CARDS.format("trending")).first.wait_for()
    card = page.locator(CARDS.format("trending")).first
    assert card.evaluate("c => getComputedStyle(c).display") == "flex"  # the block's own stylesheet applies
    assert violations == []
    assert not tab.errors


@pytest.mark.parametrize("path", ["/demo/", "product"])
def test_the_demo_pages_do_not_shift_while_blocks_load(server, tab, path):
    page = tab.page
    page.add_init_script(CLS_PROBE)
    if path == "product":
        page.goto(server.url + "/demo/")
        path = page.locator(".card-title a").first.get_attribute("href")
    page.goto(server.url + path)
    blocks = page.locator("[data-pz-widget]")
    for n in range(blocks.count()):
        blocks.nth(n).scroll_into_view_if_needed()
        blocks.nth(n).locator(".k").first.wait_for()
    page.wait_for_timeout(500)
    assert page.evaluate("window.__cls") == 0
    assert not tab.errors
    visitor_id(page)  # the visitor was tracked on the way
