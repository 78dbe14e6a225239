"""The status page in a real browser (Debian's chromium driven by selenium) against a
real worker: its REST API on a socket, the real broker, a file sink writing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from devstack.kafka import KafkaBroker
from offramp.rest.server import RestServer
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import make_worker

TOKEN = "status-page-token"
ROOT = Path(__file__).resolve().parents[3]
SCREENSHOT = ROOT / "build" / "test-artifacts" / "status-page.png"


@pytest.fixture
def rest(kafka: KafkaBroker) -> Iterator[RestServer]:
    worker: Worker = make_worker(kafka.bootstrap, **{"rest.auth.tokens": TOKEN})
    server = RestServer(worker).start()
    yield server
    server.stop()
    worker.shutdown()


@pytest.fixture
def api(rest: RestServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=rest.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    ) as client:
        yield client


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    """Headless chromium from Debian's packages (scripts/install-packages)."""
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1500,700")
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    try:
        yield driver
    finally:
        driver.quit()


def _state(api: httpx.Client, name: str) -> str:
    state: str = api.get(f"/connectors/{name}/status").json()["connector"]["state"]
    return state


def _wait(browser: WebDriver) -> WebDriverWait[WebDriver]:
    """The table is redrawn every 2 s: an element found just before a redraw is stale."""
    return WebDriverWait(browser, 30, ignored_exceptions=[StaleElementReferenceException])


def _cell(browser: WebDriver, name: str, column: int) -> str:
    found = browser.find_elements(
        By.CSS_SELECTOR, f'tr[data-connector="{name}"] td:nth-child({column})'
    )
    return found[0].text if found else ""


def _click(browser: WebDriver, selector: str) -> None:
    def clicked(b: WebDriver) -> bool:
        b.find_element(By.CSS_SELECTOR, selector).click()
        return True

    _wait(browser).until(clicked)


def _page_state(browser: WebDriver, name: str) -> str:
    cells = browser.find_elements(By.CSS_SELECTOR, f'tr[data-connector="{name}"] .connector-state')
    return cells[0].text if cells else ""


def test_status_page_logs_in_shows_state_and_pauses(
    rest: RestServer,
    api: httpx.Client,
    browser: WebDriver,
    tmp_path: Path,
    make_topic: Callable[..., str],
    unique: str,
) -> None:
    """Without a session the page answers 401 with a login form; after logging in with
    the worker's token it shows the connector RUNNING with what it wrote, and its Pause
    button pauses the connector (the REST API says PAUSED)."""
    topic = make_topic("ui", partitions=2)
    name = f"ui-{unique}"
    config = {
        "connector.class": "file",
        "topics": topic,
        "file": str(tmp_path / "out.jsonl"),
        "value.converter": "json",
        "value.converter.schemas.enable": "false",
        "batch.max.age.ms": "50",
    }
    assert api.put(f"/connectors/{name}/config", json=config).status_code == 201
    produce(
        rest.worker.config.bootstrap_servers,
        topic,
        [json.dumps({"n": i}).encode() for i in range(50)],
    )

    with httpx.Client(base_url=rest.url) as anonymous:
        page = anonymous.get("/ui")
        assert page.status_code == 401 and 'name="token"' in page.text
        assert anonymous.get("/ui/state").status_code == 401
        assert anonymous.post("/ui/login", data={"token": "wrong"}).status_code == 401

    browser.get(f"{rest.url}/ui")
    browser.find_element(By.NAME, "token").send_keys(TOKEN)
    browser.find_element(By.CSS_SELECTOR, "#login button").click()
    wait = _wait(browser)
    wait.until(lambda b: _page_state(b, name) == "RUNNING")
    wait.until(lambda b: _cell(b, name, 7) == "50")  # records written
    # Throughput shows from the second sample (every 5 s) on, lag with the statistics.
    wait.until(
        lambda b: bool(b.find_elements(By.CSS_SELECTOR, f'tr[data-connector="{name}"] polyline'))
    )
    more = [json.dumps({"n": i}).encode() for i in range(50, 250)]
    produce(rest.worker.config.bootstrap_servers, topic, more)
    wait.until(lambda b: _cell(b, name, 7) == "250" and _cell(b, name, 4) == "0")
    wait.until(lambda b: _cell(b, name, 5) not in ("", "\N{EN DASH}", "0.0"))  # records/s
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOT))
    print(f"status page screenshot: {SCREENSHOT}")

    _click(browser, f'tr[data-connector="{name}"] button[data-action="pause"]')
    wait_for(lambda: _state(api, name) == "PAUSED")
    wait.until(lambda b: _page_state(b, name) == "PAUSED")
    assert browser.find_elements(
        By.CSS_SELECTOR, f'tr[data-connector="{name}"] button[data-action="resume"]'
    )


def test_status_page_actions_refuse_cross_site_requests(
    rest: RestServer,
    api: httpx.Client,
    browser: WebDriver,
    tmp_path: Path,
    make_topic: Callable[..., str],
    unique: str,
) -> None:
    """The session cookie alone can't pause a connector: without the page's CSRF token,
    or from another Origin, the action is refused with 403 and nothing changes; the
    cookie opens nothing outside /ui."""
    name = f"ui-csrf-{unique}"
    config = {
        "connector.class": "file",
        "topics": make_topic("ui-csrf"),
        "file": str(tmp_path / "o"),
    }
    assert api.put(f"/connectors/{name}/config", json=config).status_code == 201
    wait_for(lambda: _state(api, name) == "RUNNING")
    browser.get(f"{rest.url}/ui")
    browser.find_element(By.NAME, "token").send_keys(TOKEN)
    browser.find_element(By.CSS_SELECTOR, "#login button").click()
    _wait(browser).until(lambda b: _page_state(b, name) == "RUNNING")
    cookie = {c["name"]: c["value"] for c in browser.get_cookies()}
    csrf = browser.find_element(By.CSS_SELECTOR, 'meta[name="csrf-token"]').get_attribute("content")
    assert cookie and csrf
    with httpx.Client(base_url=rest.url, cookies=cookie) as session:
        assert session.post(f"/ui/connectors/{name}/pause").status_code == 403
        cross_site = session.post(
            f"/ui/connectors/{name}/pause",
            headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"},
        )
        assert cross_site.status_code == 403
        assert session.get("/connectors").status_code == 401
        assert _state(api, name) == "RUNNING"
        same_site = session.post(f"/ui/connectors/{name}/pause", headers={"X-CSRF-Token": csrf})
        assert same_site.status_code == 202
    wait_for(lambda: _state(api, name) == "PAUSED")
