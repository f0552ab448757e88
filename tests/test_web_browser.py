"""The collectors' pages in a real headless browser (Debian's chromium, driven by Selenium through
chromium-driver) against ``arrears serve WORKSPACE`` started as the README says: a collector
logs in, opens the worklist, opens the first account, records a promise and sees it on the page;
a debtor opens the payment link of an email the dispatcher really sent (the file sink's outbox),
promises a date on their own page, and the collector sees that promise in the account's timeline.

``.ci/run`` installs chromium and chromium-driver; without them the test is skipped on a
developer's machine and fails in CI (``CI=true``), where it must run. With
``ARREARS_SCREENSHOTS=DIR`` the pages are saved there as PNG (the ones in ``docs/images/``)."""

from __future__ import annotations

import email
import io
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from arrears.cli.app import main
from channels_support import SENDING_ENV, base_workspace, copy_workspace, engine_of, free_port
from serve_support import ARREARS, Server, answered
from test_web_app import PASSWORD, add_user


def _today() -> date:
    """The server's day: the workspace's time zone (America/New_York by default), not the UTC
    day, which is the next one for some hours of every day."""
    return datetime.now(UTC).astimezone(ZoneInfo("America/New_York")).date()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


@pytest.fixture
def browser() -> Iterator[object]:
    if CHROMIUM is None or DRIVER is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium and chromium-driver are required in CI (.ci/run installs them)")
        pytest.skip("chromium or chromedriver is not installed (apt-get install chromium "
                    "chromium-driver)")  # fmt: skip
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
        "--lang=en-US", "--window-size=1280,900",
    ):  # fmt: skip
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def server(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Server]:
    ws = copy_workspace(base_workspace(tmp_path_factory.mktemp("browser")), tmp_path / "ws")
    assert add_user(ws, monkeypatch, "maria", "collector") == 0
    assert add_user(ws, monkeypatch, "max", "manager") == 0  # and something in their inbox
    _something_to_approve(ws)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    port = free_port()
    # the day's messages, sent to the file sink, with the server's address in their links
    public = {"ARREARS_WEB_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    for key, value in {**SENDING_ENV, **public}.items():
        monkeypatch.setenv(key, value)
    assert main(["-w", str(ws), "dispatch"]) == 0
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ARREARS_")} | public
    proc = subprocess.Popen(  # the workspace as an argument, as the README shows it
        [ARREARS, "serve", str(ws), "--port", str(port)],
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    answered(proc, f"{base}/health")
    try:
        yield Server(base, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0].decode()
        assert f"log in at {base}/login" in output


def _screenshot(driver: object, name: str) -> None:
    folder = os.environ.get("ARREARS_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"web-{name}.png"))  # type: ignore[attr-defined]


def test_a_collector_logs_in_opens_an_account_and_records_a_promise(
    browser: object, server: Server
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    assert isinstance(browser, WebDriver)
    driver, wait = browser, WebDriverWait(browser, 20)
    driver.get(f"{server.base}/worklist")  # not logged in: the login page
    wait.until(shown.presence_of_element_located((By.ID, "username")))
    assert driver.current_url.startswith(f"{server.base}/login")
    # the labels name the fields (what a screen reader says)
    assert driver.find_element(By.CSS_SELECTOR, "label[for=password]").text == "Password"
    driver.find_element(By.ID, "username").send_keys("maria")
    driver.find_element(By.ID, "password").send_keys("not the password")
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    error = wait.until(shown.presence_of_element_located((By.ID, "login-error")))
    assert error.text == "Wrong username or password."
    _screenshot(driver, "login")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()

    table = wait.until(shown.presence_of_element_located((By.ID, "worklist")))
    assert driver.find_element(By.ID, "who").text == "maria"
    headers = [th.text for th in table.find_elements(By.CSS_SELECTOR, "thead th")]
    assert "Days past due" in headers and "Reason" in headers
    _screenshot(driver, "worklist")
    first = table.find_element(By.CSS_SELECTOR, "tbody tr a")
    debtor = first.text
    first.click()

    form = wait.until(shown.presence_of_element_located((By.ID, "promise-form")))
    assert debtor in driver.find_element(By.TAG_NAME, "h1").text
    form.find_element(By.ID, "amount").send_keys("321.09")
    due = (_today() + timedelta(days=14)).isoformat()
    driver.execute_script(  # a date input's typing order depends on the locale: set its value
        "arguments[0].value = arguments[1]", form.find_element(By.ID, "due_on"), due
    )
    form.find_element(By.ID, "note").send_keys("will pay after the audit")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    done = wait.until(shown.presence_of_element_located((By.ID, "done")))
    assert "recorded" in done.text
    rows = driver.find_elements(By.CSS_SELECTOR, "#activity tbody tr")
    promise = [r.text for r in rows if "promise.made" in r.text]
    assert promise, [r.text for r in rows]
    assert "user:maria" in promise[0] and "will pay after the audit" in promise[0]
    driver.set_window_size(1280, 1700)
    _screenshot(driver, "account")

    # the debtor opens the payment link of an email they were sent -------------------------------
    link = _payment_link(Path(str(server.proc.args[2])), server.base)  # type: ignore[index]
    driver.get(link)
    form = wait.until(shown.presence_of_element_located((By.ID, "promise-form")))
    debtor = driver.find_element(By.CSS_SELECTOR, "h1 .muted").text
    assert driver.find_element(By.ID, "invoices").is_displayed()
    assert driver.find_element(By.CSS_SELECTOR, "label[for=due_on]").text
    promised = (_today() + timedelta(days=9)).isoformat()
    amount = form.find_element(By.ID, "amount")
    amount.clear()
    amount.send_keys("1.00")
    driver.execute_script(
        "arguments[0].value = arguments[1]", form.find_element(By.ID, "due_on"), promised
    )
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    done = wait.until(shown.presence_of_element_located((By.ID, "done")))
    assert done.text  # thanks, in the debtor's language
    assert promised in driver.find_element(By.ID, "promises").text

    # the collector sees it in the account's timeline
    driver.get(f"{server.base}/accounts/{debtor}")
    timeline = wait.until(shown.presence_of_element_located((By.ID, "activity")))
    made = [r.text for r in timeline.find_elements(By.CSS_SELECTOR, "tbody tr")
            if "promise.made" in r.text]  # fmt: skip
    assert made and f"debtor:{debtor}" in made[0] and promised in made[0]
    if os.environ.get("ARREARS_SCREENSHOTS"):
        driver.set_window_size(1280, 1000)
        driver.get(f"{server.base}/accounts/{debtor}")
        _screenshot(driver, "account-top")


def _log_in(driver: object, base: str, user: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    assert isinstance(driver, WebDriver)
    driver.delete_all_cookies()
    driver.get(f"{base}/login")
    wait = WebDriverWait(driver, 20)
    wait.until(shown.presence_of_element_located((By.ID, "username"))).send_keys(user)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait.until(shown.presence_of_element_located((By.ID, "who")))


def test_a_debtor_accepts_a_plan_the_collector_sees_it_a_manager_approves_a_settlement(
    browser: object, server: Server
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import Select, WebDriverWait

    assert isinstance(browser, WebDriver)
    driver, wait = browser, WebDriverWait(browser, 20)
    ws = Path(str(server.proc.args[2]))  # type: ignore[index]
    # a debtor who was emailed a reminder and owes enough to spread over instalments
    link = next(
        found
        for found in _payment_links(ws, server.base)
        if 'id="plan-form"' in httpx.get(found, timeout=30).text
    )
    heading = re.search(r'<h1>[^<]*<span class="muted">([^<]+)</span>', httpx.get(link).text)
    assert heading
    debtor = heading.group(1)

    driver.set_window_size(1280, 1400)
    driver.get(link)
    form = wait.until(shown.presence_of_element_located((By.ID, "plan-form")))
    assert driver.find_element(By.CSS_SELECTOR, "label[for=plan-instalments]").text
    counts = Select(form.find_element(By.ID, "plan-instalments"))
    counts.select_by_index(len(counts.options) - 1)  # the most the policy allows
    chosen = counts.first_selected_option.text
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    schedule = wait.until(shown.presence_of_element_located((By.ID, "plan-quote")))
    rows = schedule.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert len(rows) == int(chosen)  # the schedule, before accepting
    _screenshot(driver, "debtor-plan")
    driver.find_element(By.CSS_SELECTOR, "#plan-accept-form button").click()
    wait.until(shown.presence_of_element_located((By.ID, "done")))
    plan = driver.find_element(By.CSS_SELECTOR, "table.your-plan")
    assert len(plan.find_elements(By.CSS_SELECTOR, "tbody tr")) == int(chosen)
    assert driver.find_elements(By.ID, "plan-form") == []
    driver.execute_script("window.scrollTo(0, 0)")
    _screenshot(driver, "debtor")

    # the collector sees the plan in the account's timeline and agreements
    _log_in(driver, server.base, "maria")
    driver.get(f"{server.base}/accounts/{debtor}")
    timeline = wait.until(shown.presence_of_element_located((By.ID, "activity")))
    accepted = [r.text for r in timeline.find_elements(By.CSS_SELECTOR, "tbody tr")
                if "plan.accepted" in r.text]  # fmt: skip
    assert accepted and f"debtor:{debtor}" in accepted[0]
    assert "active" in driver.find_element(By.ID, "plans").text
    # and works the calculator for another plan (beyond the policy: a manager would approve)
    form = driver.find_element(By.ID, "plan-form")
    form.find_element(By.ID, "plan-instalments").send_keys("12")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    beyond = wait.until(shown.presence_of_element_located((By.ID, "plan-beyond")))
    assert "manager" in beyond.text
    driver.execute_script("document.getElementById('plan-title').scrollIntoView()")
    _screenshot(driver, "account-plan")

    # a manager approves the settlement beyond the policy's limits from the inbox
    _log_in(driver, server.base, "max")
    driver.get(f"{server.base}/approvals")
    table = wait.until(shown.presence_of_element_located((By.ID, "approval-settlements")))
    _screenshot(driver, "approvals")
    waiting = table.find_element(By.CSS_SELECTOR, "tbody tr")
    who = waiting.find_element(By.CSS_SELECTOR, "a").text
    waiting.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    done = wait.until(shown.presence_of_element_located((By.ID, "done")))
    assert done.text.startswith("Approved")
    assert driver.find_elements(By.ID, "approval-settlements") == []
    driver.get(f"{server.base}/accounts/{who}")
    timeline = wait.until(shown.presence_of_element_located((By.ID, "activity")))
    assert "settlement.approved" in timeline.text and "user:max" in timeline.text


def _payment_links(ws: Path, base: str) -> Iterator[str]:
    """The payment links of the emails in the file sink's outbox, in order."""
    for path in sorted((ws / "outbox").rglob("*.eml")):
        message = email.message_from_bytes(path.read_bytes())
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                found = re.search(re.escape(base) + r"/pay/[A-Za-z0-9._-]+", payload.decode())
                if found:
                    yield found.group(0)


def _payment_link(ws: Path, base: str) -> str:
    """The payment link of the first email in the file sink's outbox that has one."""
    for found in _payment_links(ws, base):
        return found
    raise AssertionError("no email carries the debtor's page as its payment link")


def _something_to_approve(ws: Path) -> None:
    """A case waiting to enter the legal stage and a settlement beyond the policy's limits."""
    from sqlalchemy import select, update

    from arrears.store.schema import collection_case
    from arrears.store.schema import debtor as debtor_table

    with engine_of(ws).begin() as conn:
        cases = conn.execute(
            select(collection_case.c.id, debtor_table.c.external_id)
            .join(debtor_table, debtor_table.c.id == collection_case.c.debtor_id)
            .where(collection_case.c.closed_on.is_(None))
            .order_by(collection_case.c.id)
            .limit(2)
        ).all()
        conn.execute(
            update(collection_case)
            .where(collection_case.c.id == cases[0].id)
            .values(awaiting_approval="legal")
        )
    today = _today()
    offer = ["settlement", "offer", cases[1].external_id, "--discount", "40"]
    offer += ["--due", (today + timedelta(days=14)).isoformat(), "--on", today.isoformat()]
    assert main(["-w", str(ws), *offer]) == 0
