"""Tables printed by the ``ccn`` command (``findings``, ``completeness``, ``summary``, the close of ``run``): plain
Python, no dependency.

* Widths are counted in characters after NFC, combining marks not counted, so a Vietnamese word typed decomposed
  (``Hà`` as ``Ha`` + U+0300) lines up like one typed composed; cells are printed in NFC.
* The table is as wide as :func:`terminal_width`: the terminal's width when standard output is a terminal
  (``COLUMNS`` overrides it), else unlimited (piped to a file or another program, every row stays on one line,
  whatever ``COLUMNS`` says: a program reading the output gets whole rows).
* A cell too long for its column wraps at spaces, never inside a word: a column is at least as wide as its
  longest word, and when even that does not fit the terminal the line runs on rather than cut a word.
* Numbers (and columns marked ``right``) align right; a row may carry a *detail*, printed under it indented and
  wrapped to the whole width (a finding's message).
"""

from __future__ import annotations

import shutil
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

GAP = "  "
RULE = "─"


@dataclass(frozen=True)
class Col:
    header: str  # "Tỉnh / Province": Vietnamese, then the English gloss
    right: bool = False  # align right (numbers)


def terminal_width() -> int | None:
    """The terminal's width when standard output is a terminal (``COLUMNS`` overrides it, as
    :func:`shutil.get_terminal_size` reads it), else None: piped to a file or a program, no limit."""
    try:
        if not sys.stdout.isatty():
            return None
    except (AttributeError, ValueError, OSError):  # a stdout without a file descriptor
        return None
    return shutil.get_terminal_size().columns


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def text_width(text: str) -> int:
    """Characters on screen: after NFC, combining marks (a tone left apart from its vowel) take no column."""
    return sum(1 for ch in nfc(text) if not unicodedata.combining(ch))


def pad(text: str, width: int, right: bool = False) -> str:
    fill = " " * max(width - text_width(text), 0)
    return fill + text if right else text + fill


def wrap(text: str, width: int | None) -> list[str]:
    """``text`` in lines of at most ``width`` columns, broken only at spaces; a word longer than ``width`` has a
    line of its own, whole.  Line breaks already in the text are kept."""
    out: list[str] = []
    for para in nfc(text).split("\n"):
        words = para.split()
        if width is None or text_width(para) <= width:
            out.append(" ".join(words) if width is not None else para.strip())
            continue
        line = ""
        for word in words:
            if line and text_width(line) + 1 + text_width(word) > width:
                out.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        out.append(line)
    return out or [""]


def cell(value: object) -> str:
    """A value as a cell: blank for None or NaN; integers with a thousands separator; the rest as text."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (hasattr(value, "dtype") and str(getattr(value, "dtype", "")).startswith("int")):
        return f"{int(value):,}"  # type: ignore[call-overload]
    return nfc(str(value))


def _longest_word(text: str) -> int:
    return max((text_width(w) for w in text.split()), default=0)


def _widths(headers: list[str], rows: list[list[str]], right: list[bool], width: int | None) -> list[int]:
    n = len(headers)
    natural = [max([text_width(line) for c in [headers[i], *(r[i] for r in rows)] for line in c.split("\n")] + [1])
               for i in range(n)]
    if width is None:
        return natural
    least = [max([_longest_word(headers[i])] + [text_width(r[i]) for r in rows] + [1]) if right[i] else
             max([_longest_word(c) for c in [headers[i], *(r[i] for r in rows)]] + [1]) for i in range(n)]
    room = width - len(GAP) * (n - 1)
    if sum(natural) <= room:
        return natural
    widths = least[:]
    content = [max([least[i]] + [text_width(line) for r in rows for line in r[i].split("\n")]) for i in range(n)]
    split = [max([least[i]] + [text_width(line) for line in _header_lines(headers[i], None)]) for i in range(n)]
    content = [max(content[i], split[i]) for i in range(n)]
    for goal in (split, content, natural):  # headers on two lines, then the cells' text whole, then headers on one
        widths = _grow(widths, goal, room - sum(widths))
    return widths


def _header_lines(header: str, width: int | None) -> list[str]:
    """A header on one line if it fits, else its Vietnamese and its English gloss on lines of their own
    (``Tỉnh /`` over ``Province``), each wrapped at spaces; ``width`` None: the two-line form."""
    if width is not None and text_width(header) <= width:
        return [header]
    vi, dash, en = header.partition(" / ")
    if not dash:
        return wrap(header, width)
    return [*wrap(f"{vi} /", width), *wrap(en, width)]


def _grow(widths: list[int], goal: list[int], extra: int) -> list[int]:
    """Share ``extra`` columns among those narrower than their goal, in proportion to what each lacks."""
    widths = widths[:]
    while extra > 0:
        lack = {i: goal[i] - w for i, w in enumerate(widths) if w < goal[i]}
        if not lack:
            break
        total, given = sum(lack.values()), 0
        for i, short in sorted(lack.items(), key=lambda kv: -kv[1]):
            give = min(short, max(extra * short // total, 1), extra - given)
            widths[i] += give
            given += give
        extra -= given
        if given == 0:
            break
    return widths


def render(cols: Sequence[Col], rows: Iterable[Sequence[object]], *, width: int | None = None,
           details: Sequence[str] | None = None, indent: int = 0, detail_indent: int = 4) -> str:
    """The table as text: header (wrapped like any cell), a rule, then each row (and its detail, if any).
    ``width``: the line width to fit (see :func:`terminal_width`; None: no limit)."""
    body = [[cell(v) for v in r] for r in rows]
    right = [c.right for c in cols]
    headers = [nfc(c.header) for c in cols]
    room = None if width is None else max(width - indent, 1)
    widths = _widths(headers, body, right, room)
    lead = " " * indent
    lines = []

    def emit(cells: list[str]) -> None:
        wrapped = [[c] if right[i] else wrap(c, widths[i]) for i, c in enumerate(cells)]
        for k in range(max(len(w) for w in wrapped)):
            parts = [pad(w[k] if k < len(w) else "", widths[i], right[i]) for i, w in enumerate(wrapped)]
            lines.append((lead + GAP.join(parts)).rstrip())

    wrapped_head = [_header_lines(h, widths[i]) for i, h in enumerate(headers)]
    for k in range(max(len(w) for w in wrapped_head)):
        parts = [pad(w[k] if k < len(w) else "", widths[i], right[i]) for i, w in enumerate(wrapped_head)]
        lines.append((lead + GAP.join(parts)).rstrip())
    lines.append(lead + GAP.join(RULE * w for w in widths))
    for j, r in enumerate(body):
        emit(r)
        if details is not None and details[j]:
            sub = " " * (indent + detail_indent)
            inner = None if width is None else max(width - indent - detail_indent, 1)
            lines += [sub + line for line in wrap(details[j], inner)]
    return "\n".join(lines)


def paragraph(text: str, width: int | None = None) -> str:
    """A message wrapped at word boundaries to ``width`` (None: as it is, one line).  A message in both
    languages (``vi — en``) too long for one line breaks before its English half first."""
    if not width or text_width(text) <= width:
        return text
    vi, dash, en = text.partition(" — ")
    if dash:
        return "\n".join([*wrap(vi, width), *wrap(f"— {en}", width)])
    return "\n".join(wrap(text, width))


def print_table(cols: Sequence[Col], rows: Iterable[Sequence[object]], **kwargs) -> None:
    """:func:`render` at the width of the terminal (or ``COLUMNS``), printed."""
    kwargs.setdefault("width", terminal_width())
    print(render(cols, rows, **kwargs))
