"""The operator page in a real browser: Debian's headless Chromium, driven by
Selenium through Debian's chromedriver (nothing downloads a browser). A job
submitted through the page's form reaches ``done`` with its thumbnail, and
the page fits a 1280 px screen and a phone's."""
import os
import shutil
import tempfile

import pytest
from selenium import webdriver
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
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_window_size(1280, 900)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def site(env, consumers):
    del env["ASTRO_EXTRACT_BIN"]  # the bundled extractor: a real thumbnail
    consumers(env)
    web = WebServer(Env(env))
    yield web
    web.stop()


def image_loaded(driver, element):
    return driver.execute_script("return arguments[0].complete && "
                                 "arguments[0].naturalWidth > 0", element)


def fits_width(driver):
    return driver.execute_script("return document.documentElement.scrollWidth <= "
                                 "window.innerWidth")


def screenshot(driver, tmp_path, name):
    folder = SCREENSHOTS or str(tmp_path)
    assert driver.save_screenshot(os.path.join(folder, name))


def test_submit_through_the_page_and_see_the_job_done_with_its_thumbnail(browser, site,
                                                                          tmp_path):
    browser.get(site.url + "/")
    assert "astro-jobs" in browser.title
    browser.find_element(By.ID, "file").send_keys(str(CORPUS / "apod4.jpg"))
    browser.find_element(By.ID, "submit").click()
    WebDriverWait(browser, 10).until(lambda d: "/jobs/" in d.current_url)
    job_id = browser.current_url.rstrip("/").rsplit("/", 1)[1]
    # The job page reloads itself every 2 s until the job is terminal.
    WebDriverWait(browser, SOLVE_TIMEOUT, 0.5).until(
        lambda d: d.find_element(By.ID, "state").text in ("done", "error", "cancelled"))
    assert browser.find_element(By.ID, "state").text == "done"
    annotated = browser.find_element(By.ID, "annotated")
    WebDriverWait(browser, 10).until(lambda d: image_loaded(d, annotated))
    assert '"solved": true' in browser.find_element(By.ID, "result").text
    assert "Ursa Major" in browser.find_element(By.ID, "result").text
    assert "Ursa Major" in browser.find_element(By.CSS_SELECTOR, "dl.solution").text

    browser.get(site.url + "/")
    card = browser.find_element(By.CSS_SELECTOR, f'li[data-job="{job_id}"]')
    thumb = card.find_element(By.CSS_SELECTOR, "img.thumb")
    WebDriverWait(browser, 10).until(lambda d: image_loaded(d, thumb))
    assert browser.execute_script("return arguments[0].naturalWidth", thumb) == 360
    assert "done" in card.text and "solved" in card.text
    counts = browser.find_element(By.CSS_SELECTOR, ".count.state-done").text
    assert counts.split()[0] == "1"
    assert fits_width(browser)
    screenshot(browser, tmp_path, "operator-page-1280.png")

    browser.set_window_size(390, 844)  # a phone
    browser.get(f"{site.url}/jobs/{job_id}")
    assert fits_width(browser)
    screenshot(browser, tmp_path, "job-page-phone.png")
    browser.get(site.url + "/")
    assert fits_width(browser)
    screenshot(browser, tmp_path, "operator-page-phone.png")
