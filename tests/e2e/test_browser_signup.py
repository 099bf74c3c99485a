"""Signing up in a real browser with the code from the development channel, then signing in, Chinese, signing out."""

import logging
import random
import re
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from smartcare.demo.identifiers import make_resident_id
from smartcare.fhir import store
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import signup
from smartcare.platform.security.context import SYSTEM

SHOTS = Path("/tmp")
PASSWORD = "Maple-Harbour-Lantern-83"
CODE_LINE = re.compile(r"Verification code (\d{6}) for signup to sms (\d+)")


class Outbox(logging.Handler):
    """Keeps what the development channel writes to the log; the server runs in this process."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def code_for(self, phone: str) -> str:
        found = [m.group(1) for line in self.lines if (m := CODE_LINE.search(line)) and m.group(2) == phone]
        assert found, f"no code was logged for {phone}"
        return found[-1]


@pytest.fixture
def outbox(monkeypatch) -> Iterator[Outbox]:
    monkeypatch.setenv("SMARTCARE_VERIFICATION_KEY", "7e" * 32)
    handler = Outbox()
    logger = logging.getLogger("smartcare.verification")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def a_resident() -> tuple[str, date, str]:
    """A resident ID, its birth date and a mobile number no other test run has used."""
    rng = random.Random(uuid.uuid4().int)
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(20_000))
    resident_id = make_resident_id(address_code="330106", birth_date=born, sequence=rng.randrange(1000))
    return resident_id, born, f"139{rng.randrange(10**8):08d}"


def test_sign_up_sign_in_switch_to_chinese_and_sign_out(page, e2e_engine, outbox):
    resident_id, born, phone = a_resident()
    with unit_of_work(e2e_engine) as conn:
        record = store.create(conn, SYSTEM, {
            "resourceType": "Patient",
            "identifier": [{"system": signup.RESIDENT_ID_SYSTEM, "value": resident_id}],
            "name": [{"family": "陈", "given": ["静"]}],
            "birthDate": born.isoformat(),
            "telecom": [{"system": "phone", "value": phone}],
        })
    username = f"chen.{uuid.uuid4().hex[:8]}"

    page.goto("/login")
    page.get_by_role("link", name="Create an account").click()
    page.wait_for_url("**/signup")
    page.get_by_label("Mobile number", exact=True).fill(phone)
    page.get_by_label("Resident identity card number", exact=True).fill(resident_id)
    page.get_by_label("Family name", exact=True).fill("陈")
    page.get_by_label("Given name", exact=True).fill("静")
    page.get_by_label("Date of birth", exact=True).fill((born + timedelta(days=1)).isoformat())
    page.get_by_role("button", name="Send verification code").click()
    alert = page.get_by_role("alert")
    assert "does not match the one in your identity card number" in alert.inner_text()
    assert page.get_by_label("Date of birth", exact=True).get_attribute("aria-invalid") == "true"
    page.get_by_label("Date of birth", exact=True).fill(born.isoformat())
    page.get_by_role("button", name="Send verification code").click()
    page.wait_for_url("**/signup/verify")
    assert f"{phone[:3]}****{phone[-4:]}" in page.locator("main").inner_text()
    page.screenshot(path=str(SHOTS / "sc-signup-verify.png"), full_page=True)

    page.get_by_label("Verification code", exact=True).fill(outbox.code_for(phone))
    page.get_by_label("Choose a username", exact=True).fill(username)
    page.get_by_label("Choose a password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    assert page.locator("h1").inner_text() == "Your account is ready"

    page.get_by_role("link", name="Sign in").last.click()
    page.wait_for_url("**/login")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/app")
    assert "陈" in page.locator("main").inner_text(), f"the account opens {record.reference}"

    page.get_by_role("link", name="简体中文").click()
    page.wait_for_url("**/app?lang=zh-Hans")
    assert page.evaluate("document.documentElement.lang") == "zh-Hans"
    page.get_by_role("link", name="我的账户").click()
    page.wait_for_url("**/account")
    assert page.locator("h1").inner_text() == "我的账户"
    assert username in page.locator("main").inner_text()

    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url("**/")
    assert page.get_by_role("link", name="登录").is_visible()
    page.goto("/account")
    page.wait_for_url("**/login?next=/account")


@pytest.mark.parametrize("viewport", ["mobile", "desktop"])
def test_the_chinese_sign_up_form_fits_the_screen(browser, base_url, viewport):
    size = {"mobile": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}[viewport]
    context = browser.new_context(viewport=size, locale="zh-CN", base_url=base_url, is_mobile=viewport == "mobile",
                                  has_touch=viewport == "mobile", device_scale_factor=2 if viewport == "mobile" else 1)
    try:
        tab = context.new_page()
        tab.goto("/signup?lang=zh-Hans")
        assert tab.locator("h1").inner_text() == "创建您的 SmartCare 账户"
        widths = tab.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], "no sideways scrolling"
        tab.screenshot(path=str(SHOTS / f"sc-signup-{viewport}.png"), full_page=True)
        tab.get_by_role("button", name="获取验证码").click()
        assert "请输入手机号码或电子邮箱地址。" in tab.get_by_role("alert").inner_text()
        tab.screenshot(path=str(SHOTS / f"sc-signup-errors-{viewport}.png"), full_page=True)
        for field in ("phone", "email", "resident_id", "family", "given", "birth_date"):
            box = tab.locator(f"#{field}").bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"], field
            assert box["height"] >= 40, f"{field} is a comfortable touch target"
    finally:
        context.close()
