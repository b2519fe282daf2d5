"""Open every chapter of a built book in headless Chromium (Debian's chromium + chromedriver,
driven by Selenium): the page loads without console errors, its figures load, and its audio
players play sources that exist.

Run by ``nox -s tests`` on the book built from the smoke-executed notebooks; the site folder is
``$TWOSTEP_SITE`` (the HTML output folder of a Jupyter Book build).
"""

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("TWOSTEP_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("TWOSTEP_CHROMEDRIVER", shutil.which("chromedriver") or "/usr/bin/chromedriver")


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"CI runs the browser test, but {reason}")
    pytest.skip(reason)


def toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [c["file"] for c in part.get("chapters", [])]
    pages += [c["file"] for c in toc.get("chapters", [])]
    return pages


@pytest.fixture(scope="session")
def site() -> Path:
    path = Path(os.environ.get("TWOSTEP_SITE", ROOT / "_build" / "html"))
    if not (path / "index.html").is_file():
        _unavailable(f"no built book at {path} (set TWOSTEP_SITE)")
    return path


@pytest.fixture(scope="session")
def base_url(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
        _unavailable(f"Chromium ({CHROMIUM}) or chromedriver ({CHROMEDRIVER}) is not installed "
                     "(Debian: apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-quic", "--autoplay-policy=no-user-gesture-required", "--window-size=1280,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _open(browser, url):
    browser.get_log("browser")  # drop what earlier pages logged
    browser.get(url)
    browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "if (document.readyState === 'complete') done(); else window.addEventListener('load', () => done());"
    )


@pytest.mark.parametrize("page", toc_pages())
def test_chapter_loads_with_its_figures_and_audio(browser, base_url, page):
    _open(browser, f"{base_url}/{page}.html")
    assert "404" not in browser.title and browser.find_element("css selector", "main h1")
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    # Resources on other hosts (MathJax's CDN) cannot load on an offline machine; that is the
    # machine's network, not the book. Everything else, local files and scripts, must be clean.
    offline = [e for e in severe if e.get("source") == "network" and not e["message"].startswith(base_url)]
    errors = [e for e in severe if e not in offline]
    assert not errors, f"console errors on {page}: {errors}"
    if offline:
        print(f"{page}: external resources not reachable from this machine: {[e['message'][:90] for e in offline]}")
    images = browser.execute_script(
        "return Array.from(document.querySelectorAll('main img')).map(i => [i.currentSrc.slice(0, 80), i.complete, i.naturalWidth]);"
    )
    assert all(complete and width > 0 for _, complete, width in images), f"images that did not load on {page}: {images}"
    if page.startswith("book/executed/") and Path(page).name not in {"claims", "parameters"}:
        assert images, f"{page} shows no figure"
    audio = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const players = Array.from(document.querySelectorAll('main audio'));
        Promise.all(players.map(a => new Promise(resolve => {
            const src = a.currentSrc || (a.querySelector('source') || {}).src || '';
            a.muted = true;
            a.play().then(() => setTimeout(() => { resolve([src.slice(0, 40), a.error === null, a.currentTime > 0, a.duration]); a.pause(); }, 400))
                    .catch(err => resolve([src.slice(0, 40), false, false, String(err)]));
        }))).then(done);
        """
    )
    for src, ok, advanced, duration in audio:
        assert ok and advanced, f"audio player on {page} does not play (source {src!r}, duration {duration})"
    if Path(page).name == "clarinet_hmm":
        assert len(audio) >= 4, "the clarinet chapter has players for real audio and each model"


# A table cell squeezed into a narrow column runs to a strip of a few words a line: in the 1280-pixel
# window a cell of the claims page of more than twice this many characters must hold at least this
# many a line on average (a cell that is long because it has many lines is fine), and no column of
# text be narrower.
MIN_CHARS_PER_LINE = 20  # the new layout holds 25 to 29 in its narrowest cells; the old one 12 to 15
READABLE_COLUMN_PX = 120


def test_claims_page_table_is_readable_at_a_glance(browser, base_url):
    """The claims page's tables (the summary and any open details) in the 1280 x 900 window: every
    cell of more than twice MIN_CHARS_PER_LINE characters holds at least that many a line (lines counted
    from its text's line boxes), no column that holds text is narrower than READABLE_COLUMN_PX, and
    no table runs past the window's right edge."""
    _open(browser, f"{base_url}/book/executed/claims.html")
    tables = browser.execute_script(
        """
        const lines = cell => {  // the height of the cell's contents (not of its row) in its lines
            const range = document.createRange();
            range.selectNodeContents(cell);
            return Math.round(range.getBoundingClientRect().height / parseFloat(getComputedStyle(cell).lineHeight));
        };
        return Array.from(document.querySelectorAll('main table')).filter(t => t.offsetParent !== null).map(t => {
            const columns = [];
            for (const row of t.rows) {
                Array.from(row.cells).forEach((cell, i) => {
                    const c = columns[i] || (columns[i] = {chars: 0, width: 0, perLine: Infinity});
                    const chars = cell.innerText.trim().length;
                    c.chars = Math.max(c.chars, chars);
                    c.width = Math.max(c.width, cell.getBoundingClientRect().width);
                    if (chars > 2 * arguments[0]) c.perLine = Math.min(c.perLine, chars / Math.max(1, lines(cell)));
                });
            }
            return {columns: columns, right: t.getBoundingClientRect().right,
                    room: document.documentElement.clientWidth, head: t.rows[0].innerText.replace(/\s+/g, ' ').slice(0, 60)};
        });
        """, MIN_CHARS_PER_LINE
    )
    assert tables, "the claims page shows no table"
    for table in tables:
        strips = [(i, round(c["perLine"])) for i, c in enumerate(table["columns"])
                  if c["perLine"] is not None and c["perLine"] < MIN_CHARS_PER_LINE]
        assert not strips, (f"cells (column, characters a line) of fewer than {MIN_CHARS_PER_LINE} characters a line "
                            f"in {table['head']!r}: {strips}")
        narrow = [(i, round(c["width"])) for i, c in enumerate(table["columns"])
                  if c["chars"] > 10 and c["width"] < READABLE_COLUMN_PX]
        assert not narrow, f"columns (index, px) narrower than {READABLE_COLUMN_PX} px in {table['head']!r}: {narrow}"
        assert table["right"] <= table["room"] + 1, f"{table['head']!r} runs past the window: {table}"
