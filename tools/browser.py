"""Open a report page in a headless Chromium, as a person would see it, with the network off.

    python tools/browser.py PAGE.html SCREENSHOT.png [--width 1200]

writes a screenshot of the whole page (make screenshot: docs/report.png). The browser
test (tests/entry/test_report_browser.py) uses `open_page` for the rendered DOM, each
chart's place on the page and the screenshot's pixels.

Chromium is Debian's `chromium` package (.ci/run installs it when it is missing); as
root it needs --no-sandbox. The network is off twice over: every host name resolves to
nothing and every request goes to a proxy on a closed port, on top of the page's own
Content-Security-Policy.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

NO_NETWORK = ["--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]
TIMEOUT_S = 120


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(args: list[str], profile: str) -> subprocess.CompletedProcess:
    binary = chromium()
    if binary is None:
        raise FileNotFoundError("no chromium on PATH: apt-get install chromium")
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--mute-audio",
               "--no-first-run", "--disable-extensions", "--disable-background-networking",
               "--force-device-scale-factor=1", f"--user-data-dir={profile}", *NO_NETWORK, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=True)


@dataclass
class Opened:
    dom: str  # the DOM once the page has loaded and its script has run (--dump-dom)
    screenshot: Path  # the whole page, `width` CSS pixels wide, at scale 1
    height: int

    def attribute(self, name: str) -> str | None:
        found = re.search(rf'<body[^>]*\s{name}="([^"]*)"', self.dom)
        return found.group(1) if found else None

    def boxes(self) -> dict[str, tuple[int, int, int, int]]:
        """data-chart -> (x, y, width, height) of each chart, as the page's script measured it."""
        boxes = {}
        for tag in re.findall(r"<figure [^>]*>", self.dom):
            name, box = re.search(r'data-chart="([^"]*)"', tag), re.search(r'data-box="([^"]*)"', tag)
            if name and box:
                boxes[name.group(1)] = tuple(int(v) for v in box.group(1).split(","))
        return boxes


def open_page(page: Path, screenshot: Path, width: int = 1200) -> Opened:
    """Load `page` twice: once for the DOM (and the page's height), then for a screenshot
    of exactly that height."""
    url = page.resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        dom = _run([f"--window-size={width},900", "--dump-dom", url], profile).stdout
        height = re.search(r'<body[^>]*\sdata-height="(\d+)"', dom)
        height = int(height.group(1)) if height else 4000
        _run([f"--window-size={width},{height}", f"--screenshot={screenshot}", url], profile)
    return Opened(dom=dom, screenshot=screenshot, height=height)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Screenshot a report page in headless Chromium.")
    parser.add_argument("page", type=Path)
    parser.add_argument("screenshot", type=Path)
    parser.add_argument("--width", type=int, default=1200)
    args = parser.parse_args(argv)
    opened = open_page(args.page, args.screenshot, args.width)
    print(f"{args.screenshot}: {args.width}x{opened.height}, data-rendered={opened.attribute('data-rendered')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
