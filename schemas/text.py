"""Normalisation of Vietnamese text for matching labels and names.

Offices type the same words in many ways: composed or decomposed Unicode (NFC/NFD), the old or the new
tone-mark placement (``Hòa``/``Hoà``), ``y`` or ``i`` (``Tỷ lệ``/``Tỉ lệ``), upper or lower case, extra
spaces and abbreviations.  Two keys serve matching:

* :func:`name_key` keeps tones and vowel qualities but not their placement: ``Hòa`` and ``Hoà`` agree,
  ``Hà`` and ``Hạ`` do not.  Used for administrative names.
* :func:`loose_key` drops every diacritic.  Used for indicator labels and header words, where the words of
  one form are far enough apart that tones carry no information.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Combining marks of the five Vietnamese tones (grave, acute, hook above, tilde, dot below).
_TONES = {"\u0300": "2", "\u0301": "1", "\u0309": "3", "\u0303": "4", "\u0323": "5"}
_WORD = re.compile(r"\w+", re.UNICODE)
_NON_ALNUM = re.compile(r"[^0-9a-z.]+")


BILINGUAL_SEPARATOR = " — "


def bilingual(vi: str, en: str) -> str:
    """One message as the project writes every message to a person: wholly Vietnamese, then wholly English."""
    return f"{vi}{BILINGUAL_SEPARATOR}{en}"


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def clean(text: object) -> str:
    """A cell as text: NFC, non-breaking spaces and runs of white space folded to one space."""
    if text is None:
        return ""
    if isinstance(text, str):
        return _clean_str(text) if len(text) < 512 else _clean(text)
    return _clean(str(text))


def _clean(s: str) -> str:
    s = nfc(s).replace("\u00a0", " ").replace("\u200b", "")
    return " ".join(s.split())


@lru_cache(maxsize=65536)
def _clean_str(text: str) -> str:  # the same labels and header lines recur in every workbook
    return _clean(text)


def _syllable_key(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word)
    tone = ""
    base = []
    for ch in decomposed:
        if ch in _TONES:
            tone = _TONES[ch]
        else:
            base.append(ch)
    letters = unicodedata.normalize("NFC", "".join(base)).replace("y", "i")
    return letters + tone


@lru_cache(maxsize=65536)
def name_key(text: str) -> str:
    """Key for names: tone placement, ``y``/``i``, case, NFD and spacing folded; tones kept."""
    s = clean(text).lower()
    return " ".join(_syllable_key(w) for w in _WORD.findall(s))


def strip_marks(text: str) -> str:
    """Text without any diacritic (``Đồng Văn`` → ``Dong Van``)."""
    s = unicodedata.normalize("NFD", clean(text))
    return "".join(ch for ch in s if not unicodedata.combining(ch)).replace("đ", "d").replace("Đ", "D")


@lru_cache(maxsize=65536)
def loose_key(text: str) -> str:
    """Key for labels: every diacritic dropped, ``đ`` → ``d``, ``y`` → ``i``, punctuation to spaces."""
    s = strip_marks(text).lower().replace("y", "i")
    return " ".join(_NON_ALNUM.sub(" ", s).replace(" .", " ").replace(". ", " ").split()).strip(".")


def slug(text: str) -> str:
    """An ASCII identifier fragment: ``Đồng Văn II`` → ``dong-van-ii``."""
    return re.sub(r"[^0-9a-z]+", "-", strip_marks(text).lower()).strip("-")
