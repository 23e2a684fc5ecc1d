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


def test_installer_registers_a_ctwing_device_by_imei_and_reads_the_models_warning(
    stack: WebStack, signed_in: OpenPage
) -> None:
    """On a phone (360×740): an NB-IoT smoke detector behind CTWing is registered by its
    IMEI and gets no MQTT account; a Heiman HS1CG-E chosen from the catalogue switches
    the form to its Zigbee gateway and answers with its quirk and what to do."""
    page = signed_in("installer").page
    assert page.viewport_size == {"width": 360, "height": 740}

    def choose_home() -> None:
        page.fill("[data-step=elder] input.search", "李建国")
        page.click(f"button.pick[data-elder-id='{stack.world.elders['east_b']}']")

    choose_home()
    page.check("input[name=device_type][value=smoke]")
    page.fill("input[name=device_id]", "smk-nb-0042")
    page.select_option("select[name=transport]", "ctwing")
    expect(page.locator("input[name=zigbee_name]")).to_be_hidden()
    page.fill("input[name=imei]", "861234567890127")
    page.click("button[data-action=register]")
    expect(page.locator("[data-no-account=ctwing]")).to_contain_text("CTWing")
    expect(page.locator("[data-cred=password]")).to_have_count(0)
    # no model: the warning says its reports cannot be read, in the app's language
    expect(page.locator("[data-warning=unknown_model]")).to_contain_text("报警不会触发告警")
    stored = stack.scalar(
        "SELECT platform || ':' || imei FROM devices WHERE device_id = %s", "smk-nb-0042"
    )
    assert stored == "ctwing:861234567890127"

    page.click("[data-step=elder] button.ghost")  # another device in the same home
    choose_home()
    page.check("input[name=device_type][value=gas]")
    page.fill("input[name=device_id]", "gas-hs1cge-01")
    page.fill("input[name=model]", "HS1CG-E")
    expect(page.locator("select[name=transport]")).to_have_value("zigbee2mqtt")
    expect(page.locator("input[name=imei]")).to_be_hidden()
    page.fill("input[name=zigbee_name]", "厨房/燃气报警器2")
    page.click("button[data-action=register]")
    warning = page.locator("[data-code=z2m-external-converter-gas-bit1]")
    expect(warning).to_contain_text("HS1CG-E")
    expect(warning).to_contain_text("deploy/zigbee2mqtt/heiman-hs1cg-e.js")
    # the app speaks Chinese: the defect and what to do are in Chinese, not English
    expect(warning).to_contain_text("外部转换器")
    expect(warning).not_to_contain_text("stock Zigbee2MQTT reads bit 0")
    expect(page.locator("[data-no-account=gateway]")).to_be_visible()
    fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert fits, "the warning widens the phone's screen"
    screenshots(page, "installer-model-warning", full_page=True)

    # the converter is installed: the installer says so, and the warning goes
    warning.locator("button[data-action=mitigated]").click()
    expect(warning).to_have_count(0)
    listed = stack.scalar("SELECT mitigations FROM devices WHERE device_id = %s", "gas-hs1cge-01")
    assert listed == ["z2m-external-converter-gas-bit1"]
