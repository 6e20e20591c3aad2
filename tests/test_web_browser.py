"""The operator page in a real browser: Debian's headless Chromium, driven by
Selenium through Debian's chromedriver (nothing downloads a browser). A job
submitted through the page's form reaches ``done`` with its thumbnail, its
coordinate grid and its place on the sky map; the page updates itself in
place without losing what was typed; Retry works from a card; the pages fit
a 1280 px screen and a phone's."""
import os
import shutil
import tempfile

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from support import CORPUS, Env, WebServer

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SOLVE_TIMEOUT = 240
# Set to a folder to keep the screenshots (docs/ holds one of the page).
SCREENSHOTS = os.environ.get("ASTRO_JOBS_SCREENSHOTS")


@pytest.fixture
def browser(tmp_path):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="chromium-", dir=tmp_path)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_window_size(1280, 900)
    yield driver
    # The pages' Content-Security-Policy blocked nothing they use (no inline script
    # or style crept in).
    blocked = [e["message"] for e in driver.get_log("browser")
               if "Content Security Policy" in e["message"]]
    driver.quit()
    assert blocked == []
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def site(env, consumers):
    del env["ASTRO_EXTRACT_BIN"]  # the bundled extractor: a real thumbnail
    consumers(env)
    web = WebServer(Env(env))
    yield web
    web.stop()


def until(driver, condition, timeout, poll=0.5):
    """Wait for ``condition`` on a page that reloads itself or swaps its cards
    in place: an element found just before the swap is stale, so look again."""
    return WebDriverWait(driver, timeout, poll, ignored_exceptions=(
        StaleElementReferenceException,)).until(condition)


def image_loaded(driver, element):
    return driver.execute_script("return arguments[0].complete && "
                                 "arguments[0].naturalWidth > 0", element)


def fits_width(driver):
    return driver.execute_script("return document.documentElement.scrollWidth <= "
                                 "window.innerWidth")


def screenshot(driver, tmp_path, name, most=2400):
    """The whole page (up to ``most`` px tall), not only the window's part of it."""
    folder = SCREENSHOTS or str(tmp_path)
    size = driver.get_window_size()
    height = driver.execute_script("return document.documentElement.scrollHeight")
    # The window holds a little more than the page it shows.
    driver.set_window_size(size["width"], min(most, max(size["height"], height + 160)))
    try:
        assert driver.save_screenshot(os.path.join(folder, name))
    finally:
        driver.set_window_size(size["width"], size["height"])


def test_submit_through_the_page_and_see_the_job_done_with_its_thumbnail(browser, site,
                                                                          tmp_path, env,
                                                                          images):
    browser.get(site.url + "/")
    assert "astro-jobs" in browser.title
    browser.find_element(By.ID, "file").send_keys(str(CORPUS / "apod4.jpg"))
    browser.find_element(By.ID, "submit").click()
    WebDriverWait(browser, 10).until(lambda d: "/jobs/" in d.current_url)
    job_id = browser.current_url.rstrip("/").rsplit("/", 1)[1]
    # The job page reloads itself every 2 s until the job is terminal.
    until(browser, lambda d: d.find_element(By.ID, "state").text in (
        "done", "error", "cancelled"), SOLVE_TIMEOUT)
    assert browser.find_element(By.ID, "state").text == "done"
    assert browser.find_element(By.ID, "outcome").text == "solved"
    annotated = browser.find_element(By.ID, "annotated")
    WebDriverWait(browser, 10).until(lambda d: image_loaded(d, annotated))
    assert '"solved": true' in browser.find_element(By.ID, "result").text
    assert "Ursa Major" in browser.find_element(By.ID, "result").text
    solution = browser.find_element(By.CSS_SELECTOR, "dl.solution").text
    assert "Ursa Major" in solution and "Aladin Lite" in solution
    assert browser.find_element(By.LINK_TEXT, "corr.fits").get_attribute("href") \
        .endswith(f"/jobs/{job_id}/files/corr")
    new_fits = browser.find_element(By.LINK_TEXT, "new-image.fits").get_attribute("href")
    assert httpx.get(new_fits, timeout=60).content.startswith(b"SIMPLE  =")
    browser.find_element(By.ID, "grid-on").click()
    gridded = browser.find_element(By.ID, "annotated")
    assert gridded.get_attribute("src").endswith("/files/annotated_grid")
    WebDriverWait(browser, 10).until(lambda d: image_loaded(d, gridded))

    # A grey square has no stars: done, not solved, shown beside the solved one.
    blank = env.submit(images("blank"))
    assert env.wait(blank, SOLVE_TIMEOUT)["solved"] is False
    browser.get(site.url + "/")
    assert browser.find_element(By.CSS_SELECTOR, f'li[data-job="{blank}"] img.thumb.dim')
    card = browser.find_element(By.CSS_SELECTOR, f'li[data-job="{job_id}"]')
    thumb = card.find_element(By.CSS_SELECTOR, "img.thumb")
    WebDriverWait(browser, 10).until(lambda d: image_loaded(d, thumb))
    assert browser.execute_script("return arguments[0].naturalWidth", thumb) == 360
    assert "solved" in card.text and job_id[:8] in card.text
    counts = browser.find_element(By.CSS_SELECTOR, '.count[data-count="solved"]').text
    assert counts.split()[0] == "1"
    assert browser.find_element(By.CSS_SELECTOR, f'#skymap circle[data-job="{job_id}"]')
    assert browser.find_elements(By.CSS_SELECTOR, "#chart rect.bar-solved")
    assert fits_width(browser)
    screenshot(browser, tmp_path, "operator-page-1280.png")

    browser.set_window_size(390, 844)  # a phone
    browser.get(f"{site.url}/jobs/{job_id}")
    assert fits_width(browser)
    screenshot(browser, tmp_path, "job-page-phone.png")
    browser.get(site.url + "/")
    assert fits_width(browser)
    screenshot(browser, tmp_path, "operator-page-phone.png")


@pytest.fixture
def stand_in_site(env, consumers):
    consumers(env)
    web = WebServer(Env(env))
    yield web
    web.stop()


def card_of(driver, job_id):
    found = driver.find_elements(By.CSS_SELECTOR, f'li[data-job="{job_id}"]')
    return found[0] if found else None


@pytest.mark.parametrize("width", [1280, 390])
def test_the_page_updates_in_place_keeping_the_form_and_retry_works(
        browser, stand_in_site, env, images, width, tmp_path):
    browser.set_window_size(width, 900)
    browser.get(stand_in_site.url + "/")
    chosen = images("ok", "-chosen")
    browser.find_element(By.ID, "file").send_keys(str(chosen))
    browser.find_element(By.ID, "scale_low").send_keys("1.5")
    browser.execute_script("window.notReloaded = true")

    job_id = env.submit(images("unsolved"))
    # page.js swaps the job in within a poll period or two: no reload.
    until(browser, lambda d: card_of(d, job_id), 20, 0.25)
    until(browser, lambda d: card_of(d, job_id).get_attribute("data-outcome") == "unsolved",
          20, 0.25)
    assert browser.execute_script("return window.notReloaded === true")
    assert browser.find_element(By.ID, "scale_low").get_attribute("value") == "1.5"
    assert browser.find_element(By.ID, "file").get_attribute("value").endswith("ok-chosen.png")
    count = browser.find_element(By.CSS_SELECTOR, '.count[data-count="unsolved"]').text
    assert count.split()[0] == "1"
    card = card_of(browser, job_id)
    assert "No match among the stars found." in card.text
    thumb = card.find_element(By.CSS_SELECTOR, "img.thumb.dim")
    WebDriverWait(browser, 10).until(lambda d: image_loaded(d, thumb))
    for figure in ("skymap", "chart", "consumers"):
        assert browser.find_element(By.ID, figure).is_displayed()
    assert browser.find_element(By.CSS_SELECTOR, "#chart rect.bar-unsolved")
    assert fits_width(browser)

    card.find_element(By.CSS_SELECTOR, "button.retry").click()
    WebDriverWait(browser, 10).until(lambda d: d.current_url.endswith(f"/jobs/{job_id}"))
    assert env.wait(job_id)["attempts"] == 2
    # The job page reloads itself until the job ends: unsolved again, said first.
    until(browser, lambda d: d.find_element(By.ID, "headline").text
          == "Not solved: No match among the stars found.", 20, 0.25)
