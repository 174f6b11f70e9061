"""The page in a real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium)."""

from __future__ import annotations

import os
import shutil
import urllib.parse

import pytest


def _chromium() -> tuple[str, str]:
    """Paths of chromium and chromedriver; a skip (a failure under CI=true) without them."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        why = "Chromium is not installed (apt install chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why}; .ci/run installs it, CI must run the browser test")
        pytest.skip(why)
    return browser, driver


@pytest.fixture(scope="module")
def browser():
    path, driver_path = _chromium()
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = path
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,1000"):
        options.add_argument(arg)
    drv = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)  # no driver download
    drv.set_page_load_timeout(60)
    yield drv
    drv.quit()


def test_page_scores_a_variant_plots_it_and_keeps_a_permalink(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 120)
    browser.get(server.url + "/")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#hg option"))
    browser.find_element(By.ID, "variant").send_keys("chr22-20102090-T-C")  # rs885980, a donor gain in TRMT2A
    browser.find_element(By.ID, "distance").clear()
    browser.find_element(By.ID, "distance").send_keys("50")
    browser.find_element(By.ID, "submit").click()
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#scores tbody tr")))
    wait.until(lambda d: d.find_element(By.ID, "plot").get_attribute("data-ready") == "1")

    def shown() -> list[list[str]]:
        return [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
                for tr in browser.find_elements(By.CSS_SELECTOR, "#scores tbody tr")]

    status, api = server.get("/spliceai/?" + urllib.parse.urlencode({"hg": "37", "variant": "chr22-20102090-T-C",
                                                                       "distance": 50, "mask": 0}))
    assert status == 200
    expected = [[r["g_name"], r["t_id"] or "–", r["t_strand"], r["DS_AG"], r["DS_AL"], r["DS_DG"], r["DS_DL"],
                 str(r["DP_AG"]), str(r["DP_AL"]), str(r["DP_DG"]), str(r["DP_DL"])] for r in api["scores"]]
    assert shown() == expected
    assert browser.find_element(By.CSS_SELECTOR, "td.max").text == "0.67"  # the largest delta is highlighted
    assert browser.find_elements(By.CSS_SELECTOR, "#plot canvas")  # uPlot drew its canvas
    assert len(browser.find_elements(By.CSS_SELECTOR, "#plot .u-legend tr")) >= 5 or \
        browser.find_elements(By.CSS_SELECTOR, "#plot .u-series")  # REF/ALT acceptor/donor series

    csv = browser.execute_async_script("const done = arguments[0]; "
                                       "fetch(document.getElementById('csv').href).then(r => r.text()).then(done);")
    lines = csv.splitlines()
    assert lines[0] == "variant,genome,distance,mask,gene,transcript,strand,DS_AG,DS_AL,DS_DG,DS_DL,DP_AG,DP_AL,DP_DG,DP_DL"
    assert lines[1:] == [",".join(["22-20102090-T-C", "37", "50", "0", r[0], "", r[2], *r[3:]]) for r in expected]

    assert browser.save_screenshot(str(tmp_path / "serve_page.png"))  # a PNG of the page, to look at

    permalink = browser.find_element(By.ID, "permalink").get_attribute("href")
    query = urllib.parse.parse_qs(urllib.parse.urlparse(permalink).query)
    assert query == {"variant": ["chr22-20102090-T-C"], "hg": ["37"], "distance": ["50"], "mask": ["0"]}
    browser.get(server.url + "/about:blank")  # leave the page, then come back through the permalink
    browser.get(permalink)
    wait.until(lambda d: d.find_element(By.ID, "plot").get_attribute("data-ready") == "1")
    assert shown() == expected
    assert browser.find_element(By.ID, "status").text == ""


def test_page_shows_the_api_error(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server.url + "/?" + urllib.parse.urlencode({"variant": "22-20102090-A-C", "hg": "37"}))
    WebDriverWait(browser, 60).until(lambda d: "does not match" in d.find_element(By.ID, "status").text)
    assert browser.find_element(By.ID, "status").get_attribute("class") == "error"
    assert browser.find_element(By.ID, "result").get_attribute("hidden") is not None


def test_every_resource_is_served_locally_and_the_openapi_page_renders(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    for path, ready in (("/?variant=22-20102090-T-C&hg=37", "#plot canvas"), ("/docs", ".opblock")):
        browser.get(server.url + path)
        WebDriverWait(browser, 120).until(lambda d: d.find_elements(By.CSS_SELECTOR, ready))
        loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert loaded and all(u.startswith(server.url) for u in loaded), loaded  # no CDN, nothing remote
    operations = {e.text.split("\n")[0] for e in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert {"/spliceai/", "/spliceai/batch", "/health"} <= {o.replace("\u200b", "") for o in operations}


# ------------------------------------------------------------------------ the plot's axis and legend
def _plot(server, browser, variant: str = "chr22-20102090-T-C") -> None:
    """Open the page's permalink for ``variant`` (distance 50) and wait for uPlot's chart."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server.url + "/?" + urllib.parse.urlencode({"variant": variant, "hg": "37", "distance": 50, "mask": 0}))
    WebDriverWait(browser, 120).until(lambda d: d.find_element("id", "plot").get_attribute("data-ready") == "1")


def test_every_x_axis_label_fits_inside_the_plot_canvas(server, browser):
    """Issue 20, item 3: the last x label (20,102,140) was cut at the canvas edge ('20,102,14')."""
    _plot(server, browser)
    # uPlot's own geometry, in canvas pixels: each tick label is centred on its tick (axes[0]._splits /
    # _values are the ticks and the strings uPlot drew, in the vendored 1.6.32)
    labels = browser.execute_script("""
        const u = chart, ax = u.axes[0];
        u.ctx.save(); u.ctx.font = ax.font[0];
        const out = ax._splits.map((v, i) => {
          const w = u.ctx.measureText(ax._values[i]).width, c = u.valToPos(v, "x", true);
          return [ax._values[i], c - w / 2, c + w / 2];
        });
        u.ctx.restore();
        return [u.ctx.canvas.width, out];""")
    width, ticks = labels
    assert ticks[-1][0] == browser.execute_script("return (20102140).toLocaleString()")  # pos + distance
    assert len(ticks) == 11
    for text, left, right in ticks:
        assert 0 <= left and right <= width, (text, left, right, width)


def test_the_legend_lists_the_variant_line_and_hides_it_on_click(server, browser, tmp_path):
    """Issue 20, item 3: the green variant line (and the grey exon boundaries) had no legend entry."""
    from selenium.webdriver.common.by import By

    _plot(server, browser)
    entries = browser.find_elements(By.CSS_SELECTOR, "#plot .u-legend .u-series")
    labels = [e.find_element(By.CSS_SELECTOR, ".u-label").text.rstrip(":") for e in entries]
    assert labels == ["position", "REF acceptor", "ALT acceptor", "REF donor", "ALT donor", "variant", "exon boundary"]
    variant = entries[5]
    pos = browser.execute_script("return (20102090).toLocaleString()")
    assert variant.find_element(By.CSS_SELECTOR, ".u-value").text == f"{pos} T>C"
    marker = variant.find_element(By.CSS_SELECTOR, ".u-marker").value_of_css_property("border-color")
    assert marker == "rgb(34, 170, 34)"  # the colour the line is drawn in (#2a2)

    def around_variant() -> list[list[int]]:
        """RGBA of the canvas 2 px either side of the variant's x, half-way up the plot area."""
        return browser.execute_script("""
            const u = chart, x = Math.round(u.valToPos(current.pos, "x", true));
            const y = Math.round(u.bbox.top + u.bbox.height / 2), px = u.ctx.getImageData(x - 2, y, 5, 1).data;
            return [0, 1, 2, 3, 4].map((i) => Array.from(px.slice(4 * i, 4 * i + 4)));""")

    green = [34, 170, 34, 255]
    assert green in around_variant()
    variant.find_element(By.CSS_SELECTOR, ".u-label").click()  # uPlot toggles the series; the hook follows it
    assert "u-off" in variant.get_attribute("class")
    assert green not in around_variant()
    assert browser.find_element(By.ID, "plot").screenshot(str(tmp_path / "serve_plot.png"))
