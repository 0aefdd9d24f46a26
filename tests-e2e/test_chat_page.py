"""The chat page in a real browser: headless Chromium (Debian's `chromium`, which
deploy/local/bootstrap.sh installs) driven by Playwright on the gateway's demo page. A visitor
types a message and sees the workflow's reply appear: widget.js started a session, signed the
message with Web Crypto and rendered the reply from the event stream."""

from __future__ import annotations

import os
import shutil

import pytest
from playwright.async_api import async_playwright
from workflows import greeting_workflow

pytestmark = pytest.mark.e2e
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = os.path.exists(CHROMIUM)


async def test_a_visitor_writes_on_the_page_and_sees_the_reply(stack, http, api, tenant) -> None:
    if not HAVE_CHROMIUM:
        pytest.fail(f"no Chromium at {CHROMIUM}: deploy/local/bootstrap.sh installs Debian's")
    await api.activate(greeting_workflow())
    created = await http.post("/v1/channels/widgets", json={}, headers=tenant.headers)
    assert created.status_code == 201, created.text
    page_url = created.json()["demo_url"] + "&name=Grace"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = await browser.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            await page.goto(page_url)
            status = page.locator("[data-connectflo=status]")
            await status.filter(has_text="online").wait_for(timeout=15_000)
            await page.fill("[data-connectflo=input]", "is my parcel on its way?")
            await page.click("[data-connectflo=send]")
            visitor = page.locator("[data-connectflo=visitor]")
            await visitor.filter(has_text="is my parcel on its way?").wait_for(timeout=5_000)
            reply = page.locator("[data-connectflo=bot]")
            await reply.first.wait_for(timeout=30_000)
            assert await reply.first.inner_text() == "Hello Grace, about: is my parcel on its way?"
            assert "cf-failed" not in (await visitor.first.get_attribute("class") or "")

            await page.reload()  # the transcript stays; the stream resumes after the reply
            await status.filter(has_text="online").wait_for(timeout=15_000)
            assert await page.locator("[data-connectflo=bot]").count() == 1
            assert problems == []
        finally:
            await browser.close()
