"""Running the rule catalogue over pending submissions (within-form and cross-level rules).

Structure rules are applied while reading (pipelines/reader.py, pipelines/identify.py) and their findings are
already stored; this module adds the findings of the expression rules of ``rules.toml``.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine


def validate_pending(engine: Engine) -> int:
    """Evaluate the expression rules over every pending submission; returns the number of findings written.

    The catalogue holds no expression rules yet (issue #4), so nothing is written.
    """
    from validations.catalogue import rules

    return sum(0 for r in rules().values() if "left" in r.extra)
