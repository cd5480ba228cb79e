"""The table printer of the ``ccn`` command (pipelines/table.py) and the progress line of a stage, in process."""

from __future__ import annotations

import io
import unicodedata

from pipelines.progress import TerminalProgress
from pipelines.table import Col, paragraph, render, text_width, wrap

NAMES = ["Nhà máy chế biến nông sản Thành Công 2", "Cụm công nghiệp Bum Nưa", "Thành phố Hồ Chí Minh"]


def test_wrap_breaks_at_spaces_only_and_keeps_long_words_whole():
    assert wrap("Cụm công nghiệp Bum Nưa", 10) == ["Cụm công", "nghiệp Bum", "Nưa"]
    assert wrap("a cum-cong-nghiep-tan-uyen_003.xlsx b", 8) == ["a", "cum-cong-nghiep-tan-uyen_003.xlsx", "b"]
    assert wrap("một dòng\nhai dòng", None) == ["một dòng", "hai dòng"]


def test_width_counts_characters_after_nfc_not_combining_marks():
    composed = "Hồ Chí Minh"
    decomposed = unicodedata.normalize("NFD", composed)
    assert len(decomposed) > len(composed)
    assert text_width(decomposed) == text_width(composed) == 11
    table = render([Col("Tên / Name"), Col("Số / Number", right=True)], [(decomposed, 7), (composed, 1234)])
    lines = table.splitlines()
    # both rows line up: the number column ends at the same place, and the cells are printed composed
    assert len({text_width(line) for line in lines[2:]}) == 1
    assert lines[2] == lines[3].replace("1,234", "    7")
    assert all(unicodedata.is_normalized("NFC", line) for line in lines)


def test_cells_wrap_to_the_width_and_numbers_align_right():
    rows = [(name, i * 1000) for i, name in enumerate(NAMES)]
    table = render([Col("Đơn vị / Unit"), Col("Giá trị / Value", right=True)], rows, width=24)
    lines = table.splitlines()
    assert all(text_width(line) <= 24 for line in lines), table
    words = {w for name in NAMES for w in name.split()}
    tokens = {t for line in lines for t in line.split()}
    assert {w for name in NAMES for w in name.split()} <= tokens  # every word whole
    assert not {t for t in tokens if t not in words and any(w.startswith(t) and w != t for w in words)}
    number_lines = [line for line in lines if line.rstrip().endswith(("1,000", "2,000"))]
    assert len({len(line.rstrip()) for line in number_lines}) == 1  # right-aligned: they end in one column
    # no width: each row on one line
    flat = render([Col("Đơn vị / Unit"), Col("Giá trị / Value", right=True)], rows, width=None).splitlines()
    assert flat[0].startswith("Đơn vị / Unit") and len(flat) == 2 + len(NAMES)
    assert all(name in "\n".join(flat) for name in NAMES)


def test_a_bilingual_message_breaks_before_its_english_half():
    text = "Danh sách phải báo cáo tính lúc 2026-12-05 — Who should report as computed on 2026-12-05"
    assert paragraph(text, None) == text
    assert paragraph(text, 50).splitlines() == ["Danh sách phải báo cáo tính lúc 2026-12-05",
                                                 "— Who should report as computed on 2026-12-05"]


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_validation_progress_names_the_stage_and_the_step(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    tty, log = _Tty(), io.StringIO()
    for stream in (tty, log):
        show = TerminalProgress(stream)
        show("validate", 0, 3, "Biểu 01 (225)")
        show("validate", 1, 3, "liên cấp / cross-level")
        show("validate", 3, 3)
    assert "Kiểm tra / Validating" in tty.getvalue() and "Biểu 01 (225)" in tty.getvalue()
    assert "validate" not in tty.getvalue()
    line = log.getvalue()
    assert line.startswith("Kiểm tra: 3 bước trong ") and "— Validating: 3 steps in " in line
    assert line.count("\n") == 1  # elsewhere than a terminal: one line when the stage ends
