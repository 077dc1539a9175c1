"""The web app in a real browser: Debian's chromium driven by Playwright (never downloaded).

A real uvicorn serves the app on loopback with the scripted backend. Ann signs up, the OS
opens the first meeting, she answers and sees the reply stream in; Bob signs up in a separate
browser context and sees nothing of Ann's. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from os1.config import Config
from os1.server import create_app
from os1.testing import ScriptedBackend
from tests.server.conftest import PASSWORD, fast_settings

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() or shutil.which("chromium") is None,
    reason="Debian chromium is not installed (scripts/system-deps.sh installs it)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def base_url(config: Config) -> Iterator[str]:
    import uvicorn

    backend = ScriptedBackend(
        script=["I love that. Tell me more about what your days feel like lately?"],
        repeat_last=True,
        delay=0.03,
    )
    app = create_app(config, backend=backend, settings=fast_settings())
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def _sign_up(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.click("#auth-switch")
    page.fill("#auth-name", name)
    page.fill("#auth-password", PASSWORD)
    page.click("#auth-submit")


def test_sign_up_first_meeting_streamed_reply_and_a_second_user(base_url: str) -> None:
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            ann = browser.new_context(
                viewport={"width": 1280, "height": 820}, reduced_motion="reduce"
            )
            page = ann.new_page()
            page.on("request", lambda r: requests.append(r.url))
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(base_url)
            page.wait_for_selector("#welcome:not([hidden])")
            page.screenshot(path=str(ARTIFACTS / "01-welcome.png"))
            _sign_up(page, "Ann")
            greeting = page.locator(".msg.os").first
            greeting.wait_for()
            page.wait_for_function(
                "() => document.querySelector('.msg.os') && "
                "document.querySelector('.msg.os').textContent.includes('what should I call you')"
            )
            page.screenshot(path=str(ARTIFACTS / "02-first-meeting.png"))
            page.fill("#input", "I'm Ann")
            page.keyboard.press("Enter")
            page.wait_for_selector(".msg.you:not(.pending)")
            page.wait_for_function("() => document.querySelectorAll('.msg.os').length >= 2")
            page.wait_for_function(
                "() => !document.querySelector('.msg.streaming') && "
                "document.querySelectorAll('.msg.os')[1].textContent.includes('Ann')"
            )
            page.fill("#input", "Joe, please")
            page.keyboard.press("Enter")
            # the reply streams: we catch it mid-way, then complete
            page.wait_for_function("() => document.querySelectorAll('.msg.os').length >= 3")
            page.wait_for_function("() => !document.querySelector('.msg.streaming')")
            page.wait_for_timeout(700)  # let the entrance animations settle
            page.screenshot(path=str(ARTIFACTS / "03-conversation.png"))
            ann_text = page.evaluate("() => document.body.innerText")
            page.goto(base_url + "/#/identity")
            page.wait_for_selector("#view-identity:not([hidden])")
            page.screenshot(path=str(ARTIFACTS / "04-identity.png"))
            page.goto(base_url + "/#/settings")
            page.wait_for_selector("#voices button")
            page.screenshot(path=str(ARTIFACTS / "05-settings.png"), full_page=True)

            phone = browser.new_context(
                reduced_motion="reduce",
                viewport={"width": 390, "height": 780},
                device_scale_factor=2,
                is_mobile=True,
            )
            bob = phone.new_page()
            bob.on("request", lambda r: requests.append(r.url))
            bob.goto(base_url)
            bob.wait_for_selector("#welcome:not([hidden])")
            bob.screenshot(path=str(ARTIFACTS / "06-phone-welcome.png"))
            _sign_up(bob, "Bob")
            bob.wait_for_function(
                "() => document.querySelector('.msg.os') && "
                "document.querySelector('.msg.os').textContent.includes('what should I call you')"
            )
            bob.fill("#input", "Bob")
            bob.keyboard.press("Enter")
            bob.wait_for_function("() => document.querySelectorAll('.msg.os').length >= 2")
            bob.wait_for_function("() => !document.querySelector('.msg.streaming')")
            bob.wait_for_timeout(700)
            bob.screenshot(path=str(ARTIFACTS / "07-phone-second-user.png"))
            bob_text = bob.evaluate("() => document.body.innerText")
            history = bob.evaluate("() => fetch('/api/history').then(r => r.json())")
        finally:
            browser.close()
    assert "I'm Ann" in ann_text and "Ann" not in bob_text and "Joe, please" not in bob_text
    assert all("Ann" not in m["content"] for m in history)
    assert [m["content"] for m in history if m["role"] == "user"] == ["Bob"]
    assert all(u.startswith(base_url) or u.startswith("data:") for u in requests), requests
    assert [e for e in errors if "status of 401" not in e] == []  # the first /api/me is 401
