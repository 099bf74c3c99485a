"""Signing in and out in a real browser, in Chinese, with screenshots of the login and account pages."""

import uuid
from pathlib import Path

from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users

SHOTS = Path("/tmp")
PASSWORD = "Jade-River-Compass-77"


def test_sign_in_and_out_in_chinese(page, e2e_engine):
    username = f"dr.li.{uuid.uuid4().hex[:8]}"
    with unit_of_work(e2e_engine) as conn:
        users.create_user(conn, username=username, password=PASSWORD, role="doctor", locale="zh-Hans",
                          fhir_ref="Practitioner/dr-li", organization="Organization/city-hospital")
    page.goto("/")
    page.get_by_role("link", name="简体中文").click()
    page.wait_for_url("**/?lang=zh-Hans")
    page.get_by_role("link", name="登录").click()
    page.wait_for_url("**/login")
    assert page.locator("h1").inner_text() == "登录 SmartCare"

    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("Wrong-password-123")
    page.get_by_role("button", name="登录").click()
    assert page.get_by_role("alert").inner_text() == "用户名或密码错误。"
    assert page.get_by_label("用户名").input_value() == username
    page.screenshot(path=str(SHOTS / "sc-login.png"), full_page=True)

    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    # A doctor lands on the workstation, in the language saved with the account.
    page.wait_for_url("**/workstation")
    assert page.locator("h1").inner_text() == "医生工作站"
    page.get_by_role("link", name="我的账户").click()
    page.wait_for_url("**/account")
    assert page.evaluate("document.documentElement.lang") == "zh-Hans"
    assert page.locator("h1").inner_text() == "我的账户"
    main = page.locator("main").inner_text()
    assert username in main and "医生" in main and "Practitioner/dr-li" in main and "最近登录记录" in main
    assert "登录被拒绝" in main and "已登录" in main
    assert page.evaluate("document.cookie").find("sc_session") == -1, "the session cookie is HttpOnly"
    page.screenshot(path=str(SHOTS / "sc-account.png"), full_page=True)

    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url("**/")
    assert page.get_by_role("link", name="登录").is_visible()
    page.goto("/account")
    page.wait_for_url("**/login?next=/account")
