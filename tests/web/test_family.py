"""A family member sees their own elder and nobody else's: not in their pages, not when
they type another elder's address into the app, not through the API."""

from playwright.sync_api import expect

from core.types import DeviceType
from tests.support.web_stack import WebStack
from tests.web.conftest import OpenPage


def test_a_family_member_cannot_see_another_elder(stack: WebStack, signed_in: OpenPage) -> None:
    own, other = stack.world.elders["east_a"], stack.world.elders["east_b"]
    other_alert = stranger_alert(stack)

    family = signed_in("family")
    page = family.page
    page.wait_for_selector(".family-elders [data-elder-id]")
    shown = page.locator(".family-elders [data-elder-id]").evaluate_all(
        "cards => cards.map(c => Number(c.dataset.elderId))"
    )
    assert shown == [own]
    expect(page.locator("main")).to_contain_text("王秀英")
    expect(page.locator("main")).not_to_contain_text("李建国")

    family.open(f"#/elders/{other}")
    expect(page.locator(".profile[data-state=not-found]")).to_contain_text("找不到")
    expect(page.locator("main")).not_to_contain_text("李建国")
    family.open(f"#/alerts/{other_alert}")
    expect(page.locator(".alert-detail .not-found")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("李建国")
    family.open(f"#/elders/{own}")  # their own elder's profile does open
    expect(page.locator(".profile[data-state=loaded] .elder-name")).to_have_text("王秀英")

    username = stack.world.usernames["family"]
    for path in (
        f"/elders/{other}",
        f"/elders/{other}/contacts",
        f"/elders/{other}/activity",
        f"/alerts/{other_alert}",
        "/devices/btn-east_b",
        "/devices/btn-east_b/readings?field=battery",
    ):
        assert stack.get(username, path).status_code == 404, path
    assert [e["id"] for e in stack.get(username, "/elders").json()] == [own]
    assert stack.get(username, "/alerts", elder_id=other).json() == []
    assert stack.get(username, f"/elders/{own}/activity").status_code == 200


def stranger_alert(stack: WebStack) -> int:
    """A real alert of the other elder: someone opened the cover of their button."""
    with stack.device("btn-east_b", DeviceType.EMERGENCY_BUTTON) as button:
        button.tamper()
    admin = stack.world.usernames["admin"]
    params = {"elder_id": stack.world.elders["east_b"], "rule": "tamper"}
    found = stack.wait_for(
        lambda: stack.get(admin, "/alerts", **params).json(), "the tamper alert to open"
    )
    return int(found[0]["id"])
