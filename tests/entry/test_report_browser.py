"""The report page as a person sees it: Debian's headless Chromium opens the file with
the network off (tools/browser.py), and the test reads the rendered DOM and the
screenshot's pixels. Skipped on a laptop without Chromium; on CI (CI set; .ci/run
installs `chromium`) a missing browser fails."""
from __future__ import annotations

import http.server
import os
import threading
import urllib.request

import pytest
from PIL import Image

import browser  # tools/browser.py
from clickstream.report import page
from helpers import report_data

if browser.chromium() is None and not os.environ.get("CI"):
    pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does)", allow_module_level=True)

WIDTH = 1200


def ink(png, box) -> tuple[float, int]:
    """(share of pixels that are not white, number of distinct colours) in `box`."""
    x, y, w, h = box
    pixels = list(Image.open(png).convert("RGB").crop((x, y, x + w, y + h)).getdata())
    return sum(p != (255, 255, 255) for p in pixels) / len(pixels), len(set(pixels))


def test_every_chart_renders_and_draws_in_its_place(tmp_path):
    html = tmp_path / "report.html"
    html.write_text(page.render(report_data()))
    opened = browser.open_page(html, tmp_path / "report.png", WIDTH)
    assert opened.attribute("data-rendered") == "14"  # the page's own check: every chart has a drawing
    assert opened.dom.count('<figure class="chart"') == 14 and opened.dom.count("<svg") == 14
    boxes = opened.boxes()
    assert len(boxes) == 14
    shot = Image.open(opened.screenshot)
    assert shot.size == (WIDTH, opened.height)
    ordered = sorted(boxes.values(), key=lambda b: b[1])
    assert all(a[1] + a[3] <= b[1] for a, b in zip(ordered, ordered[1:]))  # one below the other, none hidden
    for name, box in boxes.items():
        assert box[2] > 600 and box[3] > 150, name
        covered, colours = ink(opened.screenshot, box)
        assert 0.02 < covered < 0.9 and colours > 20, (name, covered, colours)
    above_charts = (0, 0, WIDTH, min(b[1] for b in boxes.values()))
    assert ink(opened.screenshot, above_charts)[0] > 0.02  # the header, the flag and the freshness table
    assert 'data-flag="hipages events 2017-03-21"' in opened.dom


def test_a_page_without_data_renders_with_no_chart_and_no_error_and_runs_no_other_script(tmp_path):
    """An empty page; and the page's Content-Security-Policy lets its own script run (by
    its hash) and no other, were one to slip into the page."""
    data = report_data(sources=("hipages",))
    data.sources = []
    data.notes = ["The warehouse at s3a://bucket/warehouse holds no tables and no run reports yet."]
    html = tmp_path / "empty.html"
    html.write_text(page.render(data).replace(
        "</body>", "<script>document.body.setAttribute('data-injected', 'ran')</script></body>"))
    opened = browser.open_page(html, tmp_path / "empty.png", WIDTH)
    assert opened.attribute("data-rendered") == "0"
    assert opened.attribute("data-injected") is None and "data-injected" not in opened.dom.split("<script>")[0]
    assert opened.boxes() == {} and "holds no tables and no run reports yet" in opened.dom


def test_the_browser_has_no_network(tmp_path):
    """What the page test relies on: a page opened this way reaches no server, not even
    one on 127.0.0.1 that answers everyone else (the report's own
    Content-Security-Policy forbids any request besides)."""
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        urllib.request.urlopen(f"{url}/control").close()
        html = tmp_path / "fetch.html"
        html.write_text(f'<html><body><img src="{url}/from-the-page.png" '
                        'onerror="document.body.setAttribute(\'data-rendered\', \'failed\')"></body></html>')
        assert browser.open_page(html, tmp_path / "fetch.png", 400).attribute("data-rendered") == "failed"
    finally:
        server.shutdown()
        server.server_close()
    assert requests == ["/control"]
