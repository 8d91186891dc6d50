"""The app in headless Chromium, end to end: the real server, a real test image, two questions (one in Chinese),
probabilities, gallery, citations, filters, the language toggle, and the chat back after a reload and a restart.

Chromium is Debian's (/usr/bin/chromium, installed by .ci/run); Playwright never downloads a browser.
Screenshots go to reports/screenshots/ (test artifacts); with DERMAGRAPH_UPDATE_SCREENSHOT=1 also to
docs/screenshot.png (the README's), so a test run leaves the working tree clean.
"""

import os
import re
import shutil

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from knowledge.taxonomy import CODES, display_name
from tests.ui.app_server import AppServer
from tests.ui.conftest import REPO, SCREENSHOTS
from ui.i18n import t

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TURN_TIMEOUT_MS = 180_000  # a full turn on 2 shared cores, the first one warming caches
CJK = re.compile(r"[\u4e00-\u9fff]")


def bot_messages(page: Page):
    return page.locator('#dg-chat [data-testid="bot"]')


def ask(page: Page, question: str, turn: int, image: str | None = None) -> str:
    """Type (and attach), send, and wait until the panels show this turn; returns the answer's text."""
    if image:
        page.set_input_files("#dg-input input[type=file]", image)
        expect(page.locator("#dg-input img")).to_be_visible(timeout=30_000)
    page.locator("#dg-input textarea").fill(question)
    page.locator("#dg-input textarea").press("Enter")
    expect(page.locator(f'#dg-probabilities [data-turn="{turn}"]')).to_have_count(1, timeout=TURN_TIMEOUT_MS)
    expect(bot_messages(page)).to_have_count(turn)
    return bot_messages(page).last.inner_text()


def choose(page: Page, dropdown_id: str, option: str) -> None:
    page.locator(f"#{dropdown_id} input").click()
    page.locator("ul[role='listbox'] li", has_text=option).first.click()


def test_the_app_end_to_end_in_chromium(chromium, server_var, mel_record, dataset, split):
    nv_record = next(r for r in dataset if split[r.image_id] == "test" and r.dx == "nv")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    server = AppServer(server_var).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="en-GB")
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server.url)
            expect(page.locator("#dg-disclaimer")).to_contain_text("not a diagnosis", timeout=60_000)

            # 0. what cannot be sent is said beside the input, and nothing is added to the chat or lost from the box
            box = page.locator("#dg-input textarea")
            for _ in range(2):
                box.press("Enter")  # empty
                expect(page.locator(".toast-body").last).to_contain_text(t("empty_input", "en"), timeout=30_000)
                page.wait_for_timeout(1500)  # the event's chain (saving the tab) ends before the next submit counts
            box.fill("x" * 5000)
            box.press("Enter")
            expect(page.locator(".toast-body").last).to_contain_text("5,000", timeout=30_000)
            page.wait_for_timeout(1500)
            expect(box).to_have_value("x" * 5000)
            box.fill("")
            page.set_input_files("#dg-input input[type=file]", str(REPO / "tests" / "data" / "bad_inputs" / "zero_bytes.jpg"))
            box.fill("and this?")
            box.press("Enter")
            expect(page.locator(".toast-body").last).to_contain_text("cannot be used as an image", timeout=30_000)
            page.wait_for_timeout(1500)
            expect(page.locator('#dg-chat [data-testid="user"]')).to_have_count(0)  # no broken picture in the chat
            expect(bot_messages(page)).to_have_count(0)
            page.locator("#dg-input button[aria-label*='Remove'], #dg-input .thumbnail-item button").first.click()
            box.fill("")

            # 1. an image and an English question
            answer = ask(page, "What is this lesion?", 1, str(mel_record.image_path))
            assert "Estimate (not a diagnosis)" in answer and "[P]" in answer
            expect(page.locator("#dg-probabilities .dg-bar-row")).to_have_count(len(CODES))
            expect(page.locator("#dg-probabilities .dg-top")).to_have_count(3)
            for code in CODES:
                expect(page.locator("#dg-probabilities")).to_contain_text(display_name(code, "en"))
            expect(page.locator("#dg-risk .dg-risk")).to_be_visible()
            expect(page.locator("#dg-overlay img")).to_be_visible()
            expect(page.locator("#dg-gallery img")).to_have_count(10)
            expect(page.locator("#dg-cases-status")).to_contain_text("one image each")
            expect(page.locator("#dg-thread-images img")).to_have_count(1)  # the consultation's images, to ask about again

            # 1b. the heat map replaces the outline, with its note; the outline comes back
            outline_src = page.locator("#dg-overlay img").get_attribute("src")
            page.locator("#dg-layer label").nth(1).click()
            expect(page.locator("#dg-layer-note")).to_contain_text("not an outline of the lesion", timeout=60_000)
            expect(page.locator("#dg-overlay img")).to_have_attribute("src", re.compile(r"\.heat-\w+\.overlay\.png"))
            page.locator("#dg-layer label").first.click()
            expect(page.locator("#dg-layer-note")).not_to_contain_text("not an outline", timeout=30_000)
            expect(page.locator("#dg-overlay img")).to_have_attribute("src", outline_src)

            # 2. a citation marker opens its source; a gallery case opens its details
            page.locator('#dg-chat [data-testid="bot"] a[href*="#cite-"]').filter(has_text=re.compile(r"K\d")).first.click()
            expect(page.locator("#dg-source-text")).to_contain_text(t("passage_from", "en", doc_id="")[:30], timeout=30_000)
            page.locator("#dg-gallery .thumbnail-item").nth(1).click()
            expect(page.locator("#dg-case-details")).to_contain_text("Confirmed by", timeout=30_000)
            expect(page.locator("#dg-case-image img")).to_be_visible()
            page.locator("#dg-chat [role='log']").evaluate("log => { log.scrollTop = 0; }")  # the question and the answer's start
            page.screenshot(path=str(SCREENSHOTS / "app_en.png"), full_page=True)
            if os.environ.get("DERMAGRAPH_UPDATE_SCREENSHOT") == "1":  # the README's picture changes only when asked
                shutil.copyfile(SCREENSHOTS / "app_en.png", REPO / "docs" / "screenshot.png")

            # 3. a follow-up in Chinese is answered in Chinese, its bold headings rendered
            answer_zh = ask(page, "为什么不是黑色素瘤？", 2)
            assert CJK.search(answer_zh) and display_name("mel", "zh") in answer_zh and "**" not in answer_zh

            # 4. a filter re-queries the gallery: only histopathology-confirmed cases
            choose(page, "dg-f-dx-type", "histopathology")
            expect(page.locator("#dg-cases-status")).to_contain_text("filtered", timeout=60_000)
            page.locator("#dg-gallery .thumbnail-item").first.click()
            expect(page.locator("#dg-case-details")).to_contain_text("Confirmed by: histopathology", timeout=30_000)

            # 5. the language toggle switches labels and panels
            page.locator("#dg-language label").filter(has_text="中文").click()
            expect(page.locator("#dg-disclaimer")).to_contain_text("并非诊断", timeout=30_000)
            expect(page.locator("#dg-probabilities")).to_contain_text(display_name("mel", "zh"))
            expect(page.locator("#dg-search-button")).to_have_text(t("search_button", "zh"))
            expect(page.locator("#dg-case-details")).to_contain_text("确诊方式：组织病理学")  # the shown case, redrawn
            page.screenshot(path=str(SCREENSHOTS / "app_zh.png"), full_page=True)

            # 5b. the consultation as a PDF, in the interface's language
            page.locator("#dg-report").click()
            expect(page.locator("#dg-report-file a").first).to_have_attribute("href", re.compile(r"dermagraph-report-zh\.pdf"),
                                                                             timeout=120_000)

            # 6. the tab's consultation survives a reload and a server restart
            answers = bot_messages(page).count()
            page.reload()
            expect(bot_messages(page)).to_have_count(answers, timeout=60_000)
            expect(page.locator("#dg-disclaimer")).to_contain_text("并非诊断")
            server.stop()
            server = AppServer(server_var, port=server.port).start()
            page.reload()
            expect(bot_messages(page)).to_have_count(answers, timeout=60_000)
            expect(page.locator("#dg-probabilities .dg-bar-row")).to_have_count(len(CODES), timeout=30_000)
            expect(page.locator("#dg-gallery img")).to_have_count(10)

            # 7. a new consultation starts empty: no chat, no panels, no old search text, no old report
            page.locator("#dg-search textarea").fill("blue-white veil")
            page.locator("#dg-new").click()
            expect(bot_messages(page)).to_have_count(0, timeout=30_000)
            expect(page.locator("#dg-probabilities .dg-bar-row")).to_have_count(0)
            expect(page.locator("#dg-search textarea")).to_have_value("")
            expect(page.locator("#dg-report-file")).to_be_hidden()

            # 8. a batch (the interface is in Chinese now): two images and an unreadable file, a table and a CSV
            broken = server_var.parent / "broken.jpg"
            broken.write_bytes(b"\x00" * 64)
            page.locator("#dg-batch").get_by_text(t("batch", "zh")).click()
            page.set_input_files("#dg-batch-files input[type=file]", [str(mel_record.image_path), str(nv_record.image_path),
                                                                       str(broken)])
            expect(page.locator("#dg-batch-files")).to_contain_text("broken", timeout=30_000)
            page.locator("#dg-batch-run").click()
            expect(page.locator("#dg-batch-status")).to_contain_text("3 张图像", timeout=TURN_TIMEOUT_MS)
            expect(page.locator("#dg-batch-table")).to_contain_text(t("batch_accepted", "zh"))
            expect(page.locator("#dg-batch-table")).to_contain_text("broken.jpg")
            expect(page.locator("#dg-batch-table")).to_contain_text(t("batch_col_tier", "zh"))
            expect(page.locator("#dg-batch-csv a").first).to_have_attribute("href", re.compile(r"results\.csv"))

            # 9. two images of one lesion compared (the same image twice: nothing changed)
            page.locator("#dg-compare").get_by_text(t("compare", "zh")).click()
            page.set_input_files("#dg-compare-before input[type=file]", str(mel_record.image_path))
            page.set_input_files("#dg-compare-after input[type=file]", str(mel_record.image_path))
            expect(page.locator("#dg-compare-after img")).to_be_visible(timeout=30_000)
            page.locator("#dg-compare-run").click()
            expect(page.locator("#dg-compare-result")).to_contain_text("没有测量特征的变化", timeout=TURN_TIMEOUT_MS)
            expect(page.locator("#dg-compare-result")).to_contain_text(t("compare_tier", "zh"))

            # 10. a photograph that is not dermoscopy: refused with its reason, and not shown as a lesion outline
            ood = REPO / "evals" / "data" / "ood" / "coffee_cup.png"
            page.set_input_files("#dg-input input[type=file]", str(ood))
            expect(page.locator("#dg-input img")).to_be_visible(timeout=30_000)
            page.locator("#dg-input textarea").fill("这是什么？")
            page.locator("#dg-input textarea").press("Enter")
            expect(bot_messages(page)).to_have_count(1, timeout=TURN_TIMEOUT_MS)
            expect(bot_messages(page).last).to_contain_text("皮肤镜图像", timeout=TURN_TIMEOUT_MS)
            expect(page.locator("#dg-overlay img")).to_have_count(0)
            assert not errors, errors
            browser.close()
    finally:
        server.stop()
