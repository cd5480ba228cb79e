"""What an official prints (issue 13): each blank form of `ccn template`, rendered to PDF by LibreOffice as it
would be printed, fits one A4 portrait page wide (Biểu 01 on one page), repeats its table header on every page,
and shows every word of every indicator label and of the signature block: nothing is clipped by a row too short
or cut at the edge of the page.  LibreOffice and poppler-utils are installed by .ci/run; without them this fails."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pipelines.steward.templates import write_register_template, write_template
from schemas.forms import form_codes, load_forms, load_register

pytestmark = pytest.mark.slow  # LibreOffice renders four workbooks: about 10 s

A4_PORTRAIT = (595, 842)  # points, rounded
A4_LANDSCAPE = A4_PORTRAIT[::-1]


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    soffice, pdfinfo = shutil.which("soffice"), shutil.which("pdfinfo")
    assert soffice and pdfinfo, "LibreOffice (soffice) and poppler-utils (pdfinfo) are needed: .ci/run installs them"
    out = tmp_path_factory.mktemp("print")
    books = [str(out / "register.xlsx")]
    write_register_template(out / "register.xlsx")
    for form in form_codes():
        write_template(out / f"bieu{form}.xlsx", form)
        books.append(str(out / f"bieu{form}.xlsx"))
    subprocess.run([soffice, f"-env:UserInstallation=file://{out / 'profile'}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(out), *books], capture_output=True, timeout=300, check=True)
    return out


def _pages(pdf: Path, size: tuple[int, int] = A4_PORTRAIT) -> list[str]:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    count = int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE)[1])
    page = re.search(r"^Page size:\s+([\d.]+) x ([\d.]+)", info, re.MULTILINE)
    width, height = round(float(page[1])), round(float(page[2]))
    assert (width, height) == size, info
    return [subprocess.run(["pdftotext", "-f", str(p), "-l", str(p), "-layout", str(pdf), "-"], capture_output=True,
                           text=True, check=True).stdout for p in range(1, count + 1)]


@pytest.mark.parametrize("form", form_codes())
def test_template_prints_on_a4_with_nothing_cut(rendered, form):
    spec = load_forms()[form]
    pages = _pages(rendered / f"bieu{form}.pdf")
    if form == "01":
        assert len(pages) == 1
    assert len(pages) <= 2
    for text in pages:  # one page wide: column (5) on every page, under the header repeated there
        assert "(5)" in text and "Ghi chú" in text
    printed = _words("\n".join(pages))
    for row in spec.rows:  # every word of every label, in order: no row is too short for its wrapped label
        words = _words(row.label_vi)
        at = 0
        for word in words:
            assert word in printed[at:], (form, row.code, word)
            at = printed.index(word, at) + 1
    for word in _words(spec.signer):
        assert word in printed, (form, spec.signer)


def test_register_template_prints_landscape_with_its_header_on_every_page(rendered):
    """The register's many columns print on A4 landscape, one page wide, the header row on every page (the
    issue found it on 28 pages)."""
    pages = _pages(rendered / "register.pdf", A4_LANDSCAPE)
    assert len(pages) > 1  # 300 rows to fill in
    last = load_register().columns[-1].label
    for text in pages:
        printed = _words(text)
        assert all(word in printed for word in _words(last)), last  # the last column, on every page
