"""The installer in an elder's home: chooses the home, registers a smoke detector by its
ID, reads its MQTT credentials once, opens the installation check and watches the
device's messages arrive until the page says it is commissioned."""

from playwright.sync_api import expect

from core.types import DeviceType
from tests.support.web_browser import screenshots
from tests.support.web_stack import WebStack
from tests.web.conftest import OpenPage

DEVICE = "smk-0042"


def test_installer_registers_a_device_and_sees_it_commissioned(
    stack: WebStack, signed_in: OpenPage
) -> None:
    installer = signed_in("installer")
    page = installer.page
    page.fill("[data-step=elder] input.search", "李建国")
    page.click(f"button.pick[data-elder-id='{stack.world.elders['east_b']}']")
    page.check("input[name=device_type][value=smoke]")
    page.fill("input[name=device_id]", DEVICE)
    page.fill("input[name=room]", "厨房")
    page.click("button[data-action=register]")

    expect(page.locator("[data-cred=username]")).to_have_text(DEVICE)
    password = page.locator("[data-cred=password]").inner_text()
    assert len(password) >= 20
    page.click("button[data-action=start-check]")
    page.wait_for_selector("[data-check-status=waiting]")
    expect(page.locator("[data-evidence=self_test]")).to_have_class("waiting")

    # on site: the installer enters the credentials and presses the self-test button
    device = stack.device(DEVICE, DeviceType.SMOKE, password)
    device.start(heartbeats=False)
    try:
        device.heartbeat()
        expect(page.locator("[data-evidence=telemetry]")).to_have_class("seen")
        device.self_test()
        result = page.locator("[data-check-status=passed]")
        expect(result).to_be_visible()
        expect(result).to_contain_text("已启用")
        expect(result).to_have_attribute("data-device-state", "commissioned")
    finally:
        device.stop()
    state = stack.scalar("SELECT state FROM devices WHERE device_id = %s", DEVICE)
    assert state == "commissioned"
    screenshots(page, "installer-commissioned", full_page=True)
