"""axe-core (npm, from frontend/node_modules) on every page, anonymous and signed in as each role:
no violations of WCAG 2.1 A/AA rules."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page

from server.catalogue import Role
from server.settings import ROOT
from tests.browser.conftest import sign_in
from tests.conftest import add_person

pytestmark = pytest.mark.browser

AXE = ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
S = "heart-failure-2026"
PASSWORD = "a-long-test-password"
ANONYMOUS = ["/", "/login", "/register", "/no/such/page"]
PAGES: dict[Role, tuple[str, list[str]]] = {
    Role.ATTENDEE: ("grace@example.org", [
        "/", f"/sessions/{S}/disclosure", f"/sessions/{S}", "/hall", "/hall/meridian", "/transcript",
        f"/sessions/{S}/claim", f"/sessions/{S}/evaluation", f"/sessions/{S}/faculty", "/no/such/page"]),
    Role.MODERATOR: ("sam.reyes@demo.rounds", [f"/sessions/{S}/moderate", f"/sessions/{S}"]),
    Role.FACULTY: ("ana.okafor@demo.rounds", ["/studio", f"/studio/{S}"]),
    Role.EXHIBITOR: ("pat.lee@demo.rounds", ["/exhibitor"]),
    Role.ORGANIZER: ("organizer@demo.rounds", ["/organizer", "/organizer/credit"]),
}
RUN = """async () => {
  const result = await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
                                           resultTypes: ["violations"] });
  return { passes: result.passes.length,
           violations: result.violations.map((v) => `${v.id}: ${v.help} -> ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`) };
}"""


async def violations(page: Page, base: str, path: str) -> list[str]:
    await page.goto(base + path)
    acknowledge = page.locator("#acknowledge")
    if path.endswith("/disclosure") is False and await acknowledge.count():
        await acknowledge.click()  # the accredited session's disclosure comes first
        await page.wait_for_url(base + path)
    await page.wait_for_load_state("networkidle")
    assert "/login" not in page.url or path in ANONYMOUS, f"{path} sent us to {page.url}"
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate(RUN)
    assert result["passes"] > 5  # axe really ran its rules here
    return [f"{path}: {v}" for v in result["violations"]]


async def test_axe_finds_no_violations_on_any_page(server: TestServer, browser: Browser) -> None:
    base = str(server.make_url("")).rstrip("/")
    found: list[str] = []
    # axe is injected as an inline script, which the pages' CSP (script-src 'self') refuses: the
    # audit is of the markup, so it runs with the CSP bypassed.
    context = await browser.new_context(bypass_csp=True)
    page = await context.new_page()
    for path in ANONYMOUS:
        found += await violations(page, base, path)
    await context.close()
    for role, (email, paths) in PAGES.items():
        await add_person(server.app, email, role, password=PASSWORD)
        context = await browser.new_context(permissions=["camera", "microphone"], bypass_csp=True)
        context.set_default_timeout(15_000)
        page = await context.new_page()
        await sign_in(page, base, email, PASSWORD, "/")
        for path in paths:
            found += [f"[{role.value}] {v}" for v in await violations(page, base, path)]
        await context.close()
    assert not found, "\n".join(found)
