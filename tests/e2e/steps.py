"""Steps the browser tests share: signing in, and opening a tab of its own (own cookies) on the live server."""


def sign_in(page, username: str, password: str) -> None:
    """Sign in on the login page as a user would, and wait for the page that follows."""
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def new_tab(browser, base_url: str, **options):
    """A page in a new browser context (English locale, no cookies) on the live server."""
    return browser.new_context(locale="en-US", base_url=base_url, **options).new_page()
