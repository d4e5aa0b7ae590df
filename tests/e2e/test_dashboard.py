"""The dashboard in a real browser (Debian's chromium, driven by Playwright), keyless mode.

A real ``omium serve`` and worker on each runtime; every scenario watches the page change
without reloading it (a marker set on ``window`` must survive), as a person would see it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dashboard_browser import chromium, dashboard_gateway, shoot, unlabeled
from gateway_process import Gateway, cli
from playwright.sync_api import Browser, Page, expect

#: long enough for a worker on a loaded 2-core machine (the Kafka runtime included)
WAIT_MS = 60_000

# starting omium serve and a worker on Kafka, on a loaded machine, takes most of a minute
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module", params=["sqlite-file", "kafka"])
def dash(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    home = tmp_path_factory.mktemp("dashboard")
    with dashboard_gateway(request.param, home, request) as (gateway, _):
        yield gateway


@pytest.fixture  # one per test: a test that times out cannot take the next ones with it
def browser() -> Iterator[Browser]:
    with chromium() as found:
        yield found


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    opened.set_default_timeout(WAIT_MS)
    try:
        yield opened
    finally:
        context.close()


def mark(page: Page) -> None:
    """Set a marker that a reload would lose."""
    page.evaluate("window.__omiumMarker = 1")


def not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__omiumMarker") == 1, "the page was reloaded"


def test_list__a_run_appears_and_completes_live(dash: Gateway, page: Page) -> None:
    page.goto(dash.base + "/")
    expect(page.get_by_role("heading", name="Executions")).to_be_visible()
    mark(page)
    dash.submit("dash-live", slow_s=1.5)
    row = page.locator('tr[data-execution="dash-live"]')
    expect(row).to_be_visible()
    expect(row).to_have_attribute("data-status", "completed")
    not_reloaded(page)
    assert int(page.locator('[data-count="completed"]').inner_text()) >= 1
    shoot(page, f"executions-{dash.log_url.split(':')[0]}")


def test_execution__steps_checkpoints_state_and_diff(dash: Gateway, page: Page) -> None:
    dash.submit("dash-show", total=1)
    dash.wait("dash-show", lambda v: v["status"] == "completed")
    page.goto(dash.base + "/executions/dash-show")
    expect(page.locator("#summary")).to_have_attribute("data-status", "completed")
    bars = page.locator("svg.timeline g.bar")
    expect(bars).to_have_count(3)
    titles = bars.locator("title").all_text_contents()
    assert [t.split(" ")[0] for t in titles] == ["add", "wait", "double"]
    checkpoint = page.locator('details[id="cp-a1-0-add"]')
    checkpoint.locator("summary").click()
    state = checkpoint.locator(".cp-state")
    expect(state).to_contain_text("total")
    expect(state.locator("code").first).to_be_visible()
    page.get_by_label("Diff from").select_option("a1-0-add")
    page.get_by_label("to", exact=True).select_option("a1-2-double")
    page.get_by_role("button", name="Diff").click()
    changed = page.locator('#diff-out tr.changed[data-key="total"]')
    expect(changed).to_contain_text("2")
    expect(changed).to_contain_text("4")
    expect(page.locator("#events li").first).to_contain_text("execution.submitted")
    shoot(page, "execution")


def test_rollback__attempt_2_appears_on_the_timeline_without_reload(
    dash: Gateway, page: Page
) -> None:
    dash.submit("dash-back", total=1)
    dash.wait("dash-back", lambda v: v["status"] == "completed")
    page.goto(dash.base + "/executions/dash-back")
    mark(page)
    checkpoint = page.locator('details[id="cp-a1-0-add"]')
    checkpoint.locator("summary").click()
    checkpoint.get_by_text("Roll back to here…").click()
    checkpoint.get_by_label("Key 1").select_option("total")
    checkpoint.get_by_label("value").first.fill("10")
    checkpoint.get_by_role("button", name="Roll back to a1-0-add").click()
    expect(page.locator("#flash")).to_contain_text("attempt 2")
    expect(page.locator('svg.timeline text.lane[data-lane="2"]')).to_be_visible()
    summary = page.locator("#summary")
    expect(summary).to_have_attribute("data-attempt", "2")
    expect(summary).to_have_attribute("data-status", "completed")
    expect(page.locator("svg.timeline path.branch")).to_have_count(1)
    not_reloaded(page)
    body = dash.wait("dash-back", lambda v: v["attempt"] == 2)
    assert body["output"]["total"] == 20 and body["branches"][0]["overrides"] == {"total": 10}
    shoot(page, "execution-rolled-back")


def test_rollback__a_key_the_state_lacks_is_refused_with_its_keys(
    dash: Gateway, page: Page
) -> None:
    dash.submit("dash-typo", total=1)
    dash.wait("dash-typo", lambda v: v["status"] == "completed")
    page.goto(dash.base + "/executions/dash-typo")
    checkpoint = page.locator('details[id="cp-a1-0-add"]')
    checkpoint.locator("summary").click()
    checkpoint.get_by_text("Roll back to here…").click()
    # the rows offer the state's keys only; a forged key is refused by the server too
    checkpoint.get_by_label("Key 1").evaluate(
        "s => { s.add(new Option('totl', 'totl')); s.value = 'totl'; }"
    )
    checkpoint.get_by_label("value").first.fill("10")
    checkpoint.get_by_role("button", name="Roll back to a1-0-add").click()
    expect(page.locator("#flash")).to_contain_text("'totl' is not a key")
    assert dash.client.get("/api/v1/executions/dash-typo").json()["attempt"] == 1


def test_answer__a_waiting_run_through_its_form(dash: Gateway, page: Page) -> None:
    got = dash.client.post(
        "/api/v1/executions", json={"workflow": "support-desk", "execution_id": "dash-ask"}
    )
    assert got.status_code == 202, got.text
    # the run reaches its question after a few steps: on Kafka under `-n 2` that took
    # over 30 s in 2 of 5 full runs (whether the run or the page was late is not known
    # yet), so the page is opened once the API says the run waits
    dash.wait("dash-ask", lambda v: v["status"] == "waiting")
    page.goto(dash.base + "/executions/dash-ask")
    mark(page)
    answer = page.get_by_label("The run asks: Refund $120.00 to acme?")
    expect(answer).to_be_visible(timeout=10_000)
    shoot(page, "execution-waiting")
    answer.fill('{"approved": true}')
    page.get_by_role("button", name="Answer").click()
    expect(page.locator("#summary")).to_have_attribute("data-status", "completed")
    not_reloaded(page)
    done = dash.wait("dash-ask", lambda v: v["status"] == "completed")
    assert done["output"]["approved"] is True


def test_workflows__the_run_form_submits_and_opens_the_run(dash: Gateway, page: Page) -> None:
    page.goto(dash.base + "/workflows")
    form = page.locator("form.run").filter(has=page.locator('input[value="gw-flow"]'))
    form.get_by_label("Inputs (a JSON object)").fill('{"total": 5, "slow_s": 0.01}')
    form.get_by_label("Execution id (optional)").fill("dash-form")
    shoot(page, "workflows")
    form.get_by_role("button", name="Run gw-flow").click()
    page.wait_for_url("**/executions/dash-form")
    expect(page.locator("#summary")).to_have_attribute("data-status", "completed")
    assert dash.client.get("/api/v1/executions/dash-form").json()["output"]["total"] == 12


def test_pages__every_input_is_labelled_and_an_unknown_id_is_a_404_page(
    dash: Gateway, page: Page
) -> None:
    dash.submit("dash-labels", total=1)
    dash.wait("dash-labels", lambda v: v["status"] == "completed")
    for path in ("/", "/workflows", "/alerts", "/analytics", "/executions/dash-labels"):
        page.goto(dash.base + path)
        if path.startswith("/executions/"):
            checkpoint = page.locator('details[id="cp-a1-0-add"]')
            checkpoint.locator("summary").click()
            checkpoint.get_by_text("Roll back to here…").click()
            expect(checkpoint.get_by_label("Key 1")).to_be_visible()
        assert unlabeled(page) == [], path
    page.set_viewport_size({"width": 420, "height": 800})
    page.goto(dash.base + "/executions/dash-labels")
    shoot(page, "execution-narrow")
    missing = page.goto(dash.base + "/executions/no-such-run")
    assert missing is not None and missing.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.locator(".error-detail")).to_contain_text("no execution 'no-such-run'")


#: the left and right edges (px) of every step's bar, named by its step, and of two marks
_MEASURE = """svg => {
  const edges = e => { const r = e.getBoundingClientRect(); return [r.x, r.x + r.width]; };
  return {
    bars: [...svg.querySelectorAll("g.bar rect")].map(
      r => [r.querySelector("title").textContent.split(" ")[0], ...edges(r)]),
    marks: Object.fromEntries([".m-tool", ".m-handoff"].map(
      s => [s, edges(svg.querySelector(s))])),
  };
}"""


def test_timeline__llm_and_tool_calls_and_the_handoff_are_marks_on_their_steps(
    dash: Gateway, page: Page
) -> None:
    got = dash.client.post(
        "/api/v1/executions", json={"workflow": "support-desk", "execution_id": "dash-marks"}
    )
    assert got.status_code == 202, got.text
    dash.wait("dash-marks", lambda v: v["status"] == "waiting")
    page.goto(dash.base + "/executions/dash-marks")
    timeline = page.locator("svg.timeline")
    # triage asks the model, the billing agent reads invoices (a tool) and asks it again
    expect(timeline.locator(".m-llm")).to_have_count(2)
    expect(timeline.locator(".m-tool")).to_have_count(1)
    expect(timeline.locator(".m-handoff")).to_have_count(1)
    llm = timeline.locator(".m-llm title").all_text_contents()
    assert all("LLM call scripted-support" in t and "tokens" in t for t in llm), llm
    assert "in triage" in llm[0] and "in billing_agent" in llm[1]
    tool = timeline.locator(".m-tool title").text_content() or ""
    assert tool.startswith("tool call lookup_invoices in billing_agent"), tool
    handoff = timeline.locator(".m-handoff title").text_content() or ""
    assert handoff.startswith("handoff triage → billing_agent"), handoff
    # each mark sits on a bar of its step (the bar's <title> names the step; a step that
    # ran again has a bar per run). The timeline redraws as the waiting step's bar grows,
    # so bars and marks are measured in one go in the page, from one drawing.
    drawn = timeline.evaluate(_MEASURE)
    for selector, step in ((".m-tool", "billing_agent"), (".m-handoff", "billing_agent")):
        left, right = drawn["marks"][selector]
        middle = (left + right) / 2
        spans = [(x0, x1) for name, x0, x1 in drawn["bars"] if name == step]
        assert any(x0 - 6 <= middle <= x1 + 6 for x0, x1 in spans), (selector, middle, drawn)
    shoot(page, "execution-marks")


def test_alerts__a_looping_runs_alert_appears_live(dash: Gateway, page: Page) -> None:
    page.goto(dash.base + "/alerts")
    expect(page.get_by_role("heading", name="Alerts")).to_be_visible()
    mark(page)
    got = dash.client.post(
        "/api/v1/executions", json={"workflow": "looping-agent", "execution_id": "dash-loop"}
    )
    assert got.status_code == 202, got.text
    dash.wait("dash-loop", lambda v: v["status"] == "completed")
    if dash.log_url.startswith("kafka"):  # the worker evaluates the rules on the embedded log
        done = cli("alerts", "run", "--once", "--url", dash.log_url, home=dash.home)
        assert done.returncode == 0, done.stderr
    row = page.locator('tr[data-rule="tool-loop"][data-execution="dash-loop"]').first
    expect(row).to_be_visible()
    expect(row).to_contain_text("warning")
    not_reloaded(page)
    assert unlabeled(page) == []
    shoot(page, f"alerts-{dash.log_url.split(':')[0]}")
    row.get_by_role("link", name="dash-loop").click()
    page.wait_for_url("**/executions/dash-loop")
    expect(page.locator("svg.timeline .m-tool")).to_have_count(4)
