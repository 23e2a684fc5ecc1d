"""An elder's profile draws what the sensors said: the 7-day activity heat-map counts the
seeded PIR motion per local hour and day; gas and battery histories are charts."""

from playwright.sync_api import expect

from tests.support.web_browser import screenshots
from tests.support.web_stack import WebStack
from tests.web.conftest import OpenPage


def test_the_activity_heatmap_renders_seeded_pir_data(stack: WebStack, signed_in: OpenPage) -> None:
    worker = signed_in("community_worker")
    page = worker.page
    worker.open(f"#/elders/{stack.world.elders['east_a']}")
    page.wait_for_selector(".profile[data-state=loaded]")

    cells = page.locator("svg.heatmap rect.cell").evaluate_all(
        "cells => cells.map(c => [c.dataset.day, Number(c.dataset.hour), Number(c.dataset.count)])"
    )
    assert len(cells) == 7 * 24
    days = sorted({day for day, _, _ in cells})
    assert len(days) == 7
    drawn = {(day, hour): count for day, hour, count in cells if count}
    # the seeded week, within the days the page shows (midnight may have passed since)
    seeded = {key: count for key, count in stack.activity.items() if key[0] in days}
    assert seeded, "no seeded motion falls in the last 7 days"
    assert drawn == seeded
    colours = page.locator("svg.heatmap rect.cell[data-count='0']").first.get_attribute("fill")
    busiest = max(seeded, key=lambda key: seeded[key])
    busy = page.locator(
        f"svg.heatmap rect.cell[data-day='{busiest[0]}'][data-hour='{busiest[1]}']"
    ).get_attribute("fill")
    assert busy != colours, "a busy hour looks like an empty one"

    charts = page.locator("svg.line-chart")
    expect(charts).to_have_count(2)  # gas LEL, battery
    assert all(
        int(points) > 0 for points in charts.evaluate_all("cs => cs.map(c => c.dataset.points)")
    )
    expect(page.locator(".devices li.device")).to_have_count(3)
    expect(page.locator(".contacts li").first).to_contain_text("刘网格员")
    screenshots(page, "elder-profile", full_page=True)
