"""Draw the pictures in docs/pictures/ from the code, so that they show what the product makes today.

- ``bieu01.png`` … ``bieu04.png``, ``register.png``: the first page of each blank form of ``ccn template`` as
  LibreOffice prints it (A4, the page setup the forms carry).
- ``asset_graph.png``: the Dagster asset graph, every group expanded, as the UI (``ccn ui``) draws it.

The stewards' portal's pages (``portal-*.png``) are not drawn here: its browser tests take them as they go through the
pages (tests/test_portal_browser.py, run with ``CCN_UPDATE_PICTURES=1``; ``make pictures`` does both).

Run it with ``make pictures`` after changing a form's layout or the Dagster wiring.  It needs LibreOffice
(``soffice``), poppler-utils (``pdftoppm``), Chromium (``/usr/bin/chromium``) and Playwright, as the tests do;
it starts its own Dagster webserver on a free port with an empty instance and stops it when done.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.steward.templates import write_register_template, write_template  # noqa: E402
from schemas.forms import form_codes  # noqa: E402

OUT = ROOT / "docs" / "pictures"
DPI = 75  # an A4 page is 620 × 877 pixels: readable in a browser, small in the repository
CHROMIUM = "/usr/bin/chromium"


def form_pages(out: Path, work: Path) -> list[Path]:
    """The first printed page of each blank form, as PNG."""
    books = [work / f"bieu{form}.xlsx" for form in form_codes()]
    for form, book in zip(form_codes(), books, strict=True):
        write_template(book, form)
    books.append(work / "register.xlsx")
    write_register_template(books[-1])
    subprocess.run(["soffice", f"-env:UserInstallation=file://{work / 'profile'}", "--headless", "--convert-to",
                    "pdf", "--outdir", str(work), *map(str, books)],
                   check=True, capture_output=True, timeout=300)
    made = []
    for book in books:
        target = out / book.with_suffix("").name
        subprocess.run(["pdftoppm", "-r", str(DPI), "-png", "-f", "1", "-l", "1", "-singlefile",
                        str(book.with_suffix(".pdf")), str(target)], check=True)
        made.append(target.with_suffix(".png"))
    return made


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, server: subprocess.Popen, seconds: float = 120) -> None:
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        if server.poll() is not None:
            raise RuntimeError(f"the Dagster webserver stopped (exit {server.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own local webserver
                return
        except OSError:
            time.sleep(1)
    raise TimeoutError(f"the Dagster webserver did not answer at {url} in {seconds:.0f} s")


def asset_graph(out: Path, work: Path) -> Path:
    """The asset graph of the definitions, every group expanded, drawn by the Dagster UI in Chromium."""
    from playwright.sync_api import sync_playwright

    port = _free_port()
    (work / "dagster").mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(work / "dagster"), "CCN_HOME": str(work / "home")}
    server = subprocess.Popen(
        [sys.executable, "-m", "dagster_webserver", "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1",
         "-p", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    target = out / "asset_graph.png"
    try:
        base = f"http://127.0.0.1:{port}"
        _wait(base + "/server_info", server)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM)
            page = browser.new_page(viewport={"width": 1800, "height": 900})
            page.goto(base + "/asset-groups", wait_until="networkidle")
            page.wait_for_timeout(3000)  # the page settles (definitions, layout) before it is clicked
            skip = page.get_by_role("button", name="Skip")  # the newsletter dialog of a new instance
            if skip.count():
                skip.click()
            page.get_by_role("button", name="Hide navigation").click()
            page.locator("[aria-label=settings]").last.click()
            page.get_by_role("menuitem", name="Expand all groups").click()
            page.reload(wait_until="networkidle")  # the UI keeps the groups open and fits the whole graph on load
            page.wait_for_timeout(3000)  # the layout is animated into place
            page.screenshot(path=target)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["forms", "graph"], help="draw only these pictures")
    args = parser.parse_args(argv)
    missing = [tool for tool in ("soffice", "pdftoppm") if not shutil.which(tool)]
    if not Path(CHROMIUM).exists():
        missing.append(CHROMIUM)
    if missing:
        print(f"Thiếu {', '.join(missing)}: chạy `make office`.", file=sys.stderr)
        print(f"Missing {', '.join(missing)}: run `make office`.", file=sys.stderr)
        return 2
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        made = []
        if args.only in (None, "forms"):
            made += form_pages(OUT, work)
        if args.only in (None, "graph"):
            made.append(asset_graph(OUT, work))
    for path in made:
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
