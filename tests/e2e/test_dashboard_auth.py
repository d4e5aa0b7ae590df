"""The dashboard with API keys, in a real browser: login, roles, CSRF, tenants.

Once a key exists every page wants a session: the login form turns a key into an
HttpOnly, SameSite=Strict cookie. A viewer sees no action and the server refuses its
POSTs anyway; a POST without the form's CSRF token is refused whoever sends it; another
tenant's run is the same 404 page as a run that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dashboard_browser import chromium, dashboard_gateway, shoot, unlabeled
from gateway_process import Gateway
from playwright.sync_api import Browser, BrowserContext, Page, expect

WAIT_MS = 60_000

# starting omium serve and a worker on Kafka, on a loaded machine, takes most of a minute
pytestmark = pytest.mark.timeout(300)
KEYS = (("a", "operator"), ("a", "viewer"), ("b", "operator"))


class Keyed:
    def __init__(self, gateway: Gateway, keys: dict[str, str]) -> None:
        self.gateway, self.keys, self.base = gateway, keys, gateway.base


@pytest.fixture(scope="module", params=["sqlite-file", "kafka"])
def keyed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Keyed]:
    home = tmp_path_factory.mktemp("dashboard-keys")
    with dashboard_gateway(request.param, home, request, keys=KEYS) as (gateway, keys):
        found = Keyed(gateway, keys)
        for who, execution_id in (("a-operator", "run-of-a"), ("b-operator", "run-of-b")):
            got = gateway.client.post(
                "/api/v1/executions",
                json={"workflow": "gw-flow", "execution_id": execution_id},
                headers={"Authorization": f"Bearer {keys[who]}"},
            )
            assert got.status_code == 202, got.text
        yield found


@pytest.fixture  # one per test: a test that times out cannot take the next ones with it
def browser() -> Iterator[Browser]:
    with chromium() as found:
        yield found


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    opened = browser.new_context(viewport={"width": 1280, "height": 800})
    opened.set_default_timeout(WAIT_MS)
    try:
        yield opened
    finally:
        opened.close()


def login(context: BrowserContext, keyed: Keyed, who: str, then: str = "/") -> Page:
    page = context.new_page()
    page.goto(keyed.base + then)
    expect(page).to_have_url(f"{keyed.base}/login?next={then}")
    assert unlabeled(page) == []
    page.get_by_label("API key").fill(keyed.keys[who])
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(keyed.base + then)
    return page


def csrf(context: BrowserContext) -> str:
    return next(c["value"] for c in context.cookies() if c["name"] == "omium_csrf")


def test_login__a_session_cookie_that_scripts_cannot_read(
    keyed: Keyed, context: BrowserContext
) -> None:
    page = context.new_page()
    page.goto(keyed.base + "/login")
    shoot(page, "login")
    page.get_by_label("API key").fill("om_wrong_key")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("unknown or revoked")
    page = login(context, keyed, "a-operator")
    cookies = {c["name"]: c for c in context.cookies()}
    session = cookies["omium_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert cookies["omium_csrf"]["httpOnly"] and cookies["omium_csrf"]["sameSite"] == "Strict"
    assert "omium_session" not in page.evaluate("document.cookie")
    expect(page.locator('tr[data-execution="run-of-a"]')).to_be_visible()
    expect(page.locator('tr[data-execution="run-of-b"]')).to_have_count(0)
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(keyed.base + "/login")
    page.goto(keyed.base + "/executions/run-of-a")
    expect(page).to_have_url(f"{keyed.base}/login?next=/executions/run-of-a")


def test_viewer__sees_no_action_and_its_posts_are_refused(
    keyed: Keyed, context: BrowserContext
) -> None:
    keyed.gateway.client.headers["Authorization"] = f"Bearer {keyed.keys['a-operator']}"
    keyed.gateway.wait("run-of-a", lambda v: v["status"] == "completed")
    page = login(context, keyed, "a-viewer", "/executions/run-of-a")
    expect(page.locator("#summary")).to_have_attribute("data-status", "completed")
    checkpoint = page.locator('details[id="cp-a1-0-add"]')
    checkpoint.locator("summary").click()
    expect(checkpoint.locator(".cp-state")).to_contain_text("total")
    assert page.locator("form[data-action]").count() == 0
    assert page.get_by_text("Roll back to here").count() == 0
    shoot(page, "execution-viewer")
    page.goto(keyed.base + "/workflows")
    expect(page.get_by_role("heading", name="gw-flow")).to_be_visible()
    assert page.locator("form.run").count() == 0
    token = csrf(context)
    refused = page.request.post(
        keyed.base + "/executions/run-of-a/rollback",
        form={"csrf": token, "checkpoint": "a1-0-add"},
        max_redirects=0,
    )
    assert refused.status == 403 and "needs operator" in refused.text()
    submit = page.request.post(
        keyed.base + "/workflows/run", form={"csrf": token, "workflow": "gw-flow"}
    )
    assert submit.status == 403
    assert keyed.gateway.client.get("/api/v1/executions/run-of-a").json()["attempt"] == 1


def test_csrf__a_post_without_the_forms_token_is_refused(
    keyed: Keyed, context: BrowserContext
) -> None:
    page = login(context, keyed, "a-operator")
    for form in ({}, {"csrf": "forged"}):
        got = page.request.post(
            keyed.base + "/workflows/run",
            form={**form, "workflow": "gw-flow", "execution_id": "forged-run"},
            max_redirects=0,
        )
        assert got.status == 403 and "CSRF" in got.text(), got.text()
    assert keyed.gateway.client.get("/api/v1/executions/forged-run").status_code == 404
    # the same form with the token goes through (the refusal was the token, not the form)
    ok = page.request.post(
        keyed.base + "/workflows/run",
        form={"csrf": csrf(context), "workflow": "gw-flow", "execution_id": "real-run"},
        max_redirects=0,
    )
    assert ok.status == 303 and ok.headers["location"] == "/executions/real-run"


def test_tenants__another_tenants_run_is_the_404_page_of_a_missing_one(
    keyed: Keyed, context: BrowserContext
) -> None:
    page = login(context, keyed, "a-operator")
    theirs = page.goto(keyed.base + "/executions/run-of-b")
    assert theirs is not None and theirs.status == 404
    detail = page.locator(".error-detail").inner_text()
    shoot(page, "not-found")
    missing = page.goto(keyed.base + "/executions/no-such-run")
    assert missing is not None and missing.status == 404
    assert page.locator(".error-detail").inner_text() == detail.replace("run-of-b", "no-such-run")
    for fragment in ("/live", "/checkpoints/a1-0-add", "/diff?a=a1-0-add&b=a1-2-double"):
        got = page.request.get(f"{keyed.base}/ui/executions/run-of-b{fragment}")
        assert got.status == 404, fragment
    stream = page.request.get(f"{keyed.base}/ui/executions/run-of-b/stream")
    assert stream.status == 404


def test_analytics__the_tenants_numbers_and_not_anothers(keyed: Keyed, browser: Browser) -> None:
    gateway = keyed.gateway
    as_a = {"Authorization": f"Bearer {keyed.keys['a-operator']}"}
    as_b = {"Authorization": f"Bearer {keyed.keys['b-operator']}"}
    runs = (
        (as_a, {"workflow": "gw-flow", "execution_id": "a-fails", "inputs": {"total": "x"}}),
        (as_b, {"workflow": "support-desk", "execution_id": "b-desk"}),  # LLM calls
    )
    for headers, body in runs:
        got = gateway.client.post("/api/v1/executions", json=body, headers=headers)
        assert got.status_code == 202, got.text
    gateway.client.headers.update(as_a)
    gateway.wait("a-fails", lambda v: v["status"] == "failed")
    gateway.client.headers.update(as_b)
    gateway.wait("b-desk", lambda v: v["status"] == "waiting")
    pages = {}
    for who in ("a-viewer", "b-operator"):  # any role reads analytics
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(WAIT_MS)
        page = login(context, keyed, who, "/analytics")
        expect(page.get_by_role("heading", name="Top failing workflows")).to_be_visible()
        pages[who] = page
    a, b = pages["a-viewer"], pages["b-operator"]
    failed = gateway.client.get("/api/v1/analytics/failures", headers=as_a).json()
    [mine] = [r for r in failed if r["key"] == "gw-flow"]
    row = a.locator('#failing tr[data-key="gw-flow"]')
    expect(row).to_contain_text(f"{mine['failed']}")
    expect(row).to_contain_text("TypeError")
    expect(a.locator('#models tr[data-key="scripted-support"]')).to_have_count(0)
    expect(a.locator("svg.chart")).to_have_count(2)
    assert unlabeled(a) == []
    shoot(a, "analytics")
    expect(b.locator('#models tr[data-key="scripted-support"]')).to_contain_text("2")
    # per agent (the store records none for these runs): b's page counts b's 2 LLM calls,
    # a's page a's own 0
    for page, calls in ((b, "2"), (a, "0")):
        expect(page.locator("#agents tbody tr").first.locator("td").nth(5)).to_have_text(calls)
    expect(b.locator('#failing tr[data-key="gw-flow"]')).to_have_count(0)
    assert gateway.client.get("/api/v1/analytics/cost", headers=as_a).json() == []
    for page in pages.values():
        page.context.close()
