"""Cost of hostile input (issue #7): for every file of the generated corpus (tests/hostile_corpus.py), the wall
time and peak resident memory of reading it as ``ccn run`` does (``read_workbook``: inspection, then calamine
and the reader only when the inspection lets the file through), each in a fresh process so one file's peak
cannot hide another's.  Prints one line per file and the maxima; the bounds are stated in docs/reliability.md.

    .venv/bin/python bench/hostile.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = """
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from pipelines.read.workbook import read_workbook
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
r = read_workbook(Path(sys.argv[1]))
took = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
verdict = r.findings[0].message_en[:90] if r.findings and not r.reports else f"read: {len(r.reports)} report(s)"
print(json.dumps({"seconds": took, "peak_kib": peak, "base_kib": base, "verdict": verdict}))
"""


def main() -> int:
    from pipelines.sample.generator import Profile, generate
    from schemas.periods import Period
    from tests.hostile_corpus import build

    with tempfile.TemporaryDirectory() as tmp:
        base, inbox = Path(tmp) / "base", Path(tmp) / "inbox"
        generate(base, Period.parse("2025-Y"), provinces=1, seed=11, profile=Profile(communes=(3, 3), clusters=(6, 6)))
        cases = build(inbox, base)
        worst_time = worst_peak = 0.0
        print(f"{'file':<44} {'bytes':>9} {'seconds':>8} {'peak MiB':>9}  verdict   (peak RSS of the whole process)")
        for case in cases:
            path = inbox / case.path
            out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(ROOT)], capture_output=True, text=True,
                                 check=False)
            if out.returncode != 0:
                print(f"{case.path[-44:]:<44} CRASHED rc={out.returncode}: {out.stderr[-300:]}")
                continue
            m = json.loads(out.stdout.strip().splitlines()[-1])
            worst_time = max(worst_time, m["seconds"])
            worst_peak = max(worst_peak, m["peak_kib"] / 1024)
            name = case.path.replace("\n", "\\n")[-44:]
            print(f"{name:<44} {path.stat().st_size:>9,} {m['seconds']:>8.3f} {m['peak_kib'] / 1024:>9.1f}  "
                  f"{m['verdict']}")
        print(f"\n{len(cases)} files; slowest {worst_time:.2f} s; highest peak RSS {worst_peak:.1f} MiB "
              f"(the interpreter with the reader imported: {m['base_kib'] / 1024:.1f} MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
