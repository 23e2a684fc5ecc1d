"""The on-call worker's phone: a button pressed in an elder's home appears within 2 s
without a reload, one tap acknowledges it, and the escalation stops there — while an
alert nobody acknowledged climbs to the family, as the policy says."""

import time

from playwright.sync_api import expect

from core.types import DeviceType
from tests.support.web_browser import screenshots
from tests.support.web_stack import FAMILY_PHONE, WebStack
from tests.web.conftest import OpenPage

ARRIVAL_LIMIT_S = 2.0
WORKER_PHONE = "+14155550101"
PAST_LEVEL_ONE = 4  # minutes: the first level of the elders' policy times out after 3


def card(elder: str) -> str:
    return f"article.alert-card[data-rule=emergency_call][data-elder='{elder}']"


def test_a_pressed_button_appears_live_and_one_tap_stops_the_escalation(
    stack: WebStack, signed_in: OpenPage
) -> None:
    worker = signed_in("community_worker")
    page = worker.page
    page.wait_for_selector(".alert-list[data-loaded=true]")
    worker.wait_live()
    page.evaluate("() => { window.sameDocument = true; }")  # gone if the page reloads

    with (
        stack.device("btn-east_a", DeviceType.EMERGENCY_BUTTON) as button,
        stack.device("btn-east_b", DeviceType.EMERGENCY_BUTTON) as other_button,
    ):
        pressed = time.monotonic()
        button.press()
        page.wait_for_selector(card("王秀英"), timeout=ARRIVAL_LIMIT_S * 1000)
        arrived = time.monotonic() - pressed
        other_button.press()  # nobody will acknowledge this one
        page.wait_for_selector(card("李建国"))

    assert arrived < ARRIVAL_LIMIT_S, f"the alert took {arrived:.2f} s to appear"
    assert page.evaluate("() => window.sameDocument") is True, "the page reloaded"
    banner = page.locator("#alarm")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("紧急告警")
    assert int(page.evaluate("() => document.body.dataset.beeps || '0'")) >= 2
    # newest critical first
    elders = page.locator("article.alert-card").evaluate_all("cs => cs.map(c => c.dataset.elder)")
    assert elders[:2] == ["李建国", "王秀英"]
    screenshots(page, "oncall-list")

    page.locator(card("王秀英")).locator("button[data-action=ack]").click()  # one tap
    expect(page.locator(card("王秀英"))).to_have_attribute("data-status", "acknowledged")
    mine = alert_of(stack, "王秀英")
    assert mine["status"] == "acknowledged"
    assert mine["acknowledged_by"] == f"user:{stack.world.usernames['community_worker']}"
    stack.twilio.wait_for(lambda: any("王秀英" in b for b in stack.sms_bodies(WORKER_PHONE)))

    try:
        stack.clock.advance(minutes=PAST_LEVEL_ONE)
        stack.twilio.wait_for(
            lambda: any("李建国" in b for b in stack.sms_bodies(FAMILY_PHONE)), timeout=10
        )
        assert not [b for b in stack.sms_bodies(FAMILY_PHONE) if "王秀英" in b]
        assert alert_of(stack, "王秀英")["level"] == 0
        assert alert_of(stack, "李建国")["level"] == 1
    finally:
        stack.clock.reset()

    page.click("#alarm button[data-action=alarm-ack]")  # the other one, from the banner
    expect(banner).to_be_hidden()
    page.locator(card("王秀英")).locator("a.card-link").click()
    page.wait_for_selector(".alert-detail[data-status=acknowledged]")
    timeline = page.locator(".timeline")
    expect(timeline.locator("[data-kind=acknowledged]")).to_contain_text("community-worker-east")
    expect(timeline.locator(".delivery[data-channel=sms]").first).to_contain_text("刘网格员")
    expect(page.locator(".calls a.call[href^='tel:+86']").first).to_be_visible()
    screenshots(page, "alert-detail", full_page=True)


def alert_of(stack: WebStack, elder: str) -> dict[str, object]:
    found = stack.get(stack.world.usernames["admin"], "/alerts", status="active").json()
    [alert] = [a for a in found if a["elder_name"] == elder and a["rule"] == "emergency_call"]
    return dict(alert)
