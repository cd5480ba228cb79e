"""Geography over time: the pre-2025 units are loaded into the effective-dated tables, old communes map onto
2025 communes (a split one is flagged with its candidates, never assigned), and a pre-2025 sample (63
provinces, district-level Biểu 03) and a 2025 sample give national and provincial series on the same 34
provinces."""

from __future__ import annotations

import csv
import json

import pytest
from sqlalchemy import text

from schemas.admin import REFERENCE
from schemas.geography import generation_of, successor_commune, successor_province
from schemas.periods import Period
from tests.helpers import ccn, engine, view


def test_generation_of_periods():
    assert [generation_of(Period.parse(p)) for p in ("2024-Y", "2025-H1", "2025-Y", "2026-H1")] == \
        ["pre2025", "pre2025", "2025", "2025"]


def test_successors_follow_the_gso_mapping():
    with open(REFERENCE / "ward_mapping_old_to_new_2025.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    targets: dict[str, set[str]] = {}
    for r in rows:
        targets.setdefault(r["old_ward_code"], set()).add(r["new_ward_code"])
    split = [code for code, t in targets.items() if len(t) > 1]
    whole = [code for code, t in targets.items() if len(t) == 1]
    assert len(split) > 400 and len(whole) > 9000
    for code in split[:50]:
        s = successor_commune(code)
        assert s.split and s.code is None and set(s.candidates) == targets[code]
    for code in whole[:50]:
        s = successor_commune(code)
        assert not s.split and s.code == next(iter(targets[code]))
    assert successor_commune("99999") is None
    assert successor_province("02") == "08"  # Hà Giang merged into Tuyên Quang
    assert successor_province("08") == "08"


def test_pre2025_units_loaded(tmp_path, monkeypatch, warehouse_url):
    """District and commune rows of before 2025-07-01 with their validity, and the mapping view, on both backends."""
    from schemas.database import make_engine
    from schemas.migrate import upgrade

    eng = make_engine(warehouse_url)
    upgrade(eng)
    upgrade(eng)  # idempotent
    with eng.connect() as conn:
        q = lambda sql: conn.execute(text(sql)).all()  # noqa: E731
        assert q("SELECT COUNT(*), MIN(valid_to), MAX(valid_to) FROM district")[0] == (696, "2025-06-30", "2025-06-30")
        assert q("SELECT COUNT(*) FROM commune WHERE generation = 'pre2025'")[0][0] == 10036
        assert q("SELECT COUNT(*) FROM commune WHERE generation = '2025'")[0][0] == 3321
        assert q("SELECT COUNT(*) FROM province WHERE generation = 'pre2025'")[0][0] == 63
        # Phường Cống Vị (Ba Đình, Hà Nội) was split: flagged with both candidates, no single successor
        split = q("SELECT new_commune_code, candidate_commune_code, is_split, old_district_code, old_commune_name "
                  "FROM mart_commune_mapping WHERE old_commune_code = '00007' ORDER BY candidate_commune_code")
        assert [(r[0], r[1], r[2]) for r in split] == [(None, "00008", 1), (None, "00025", 1)]
        assert split[0][3] == "001" and split[0][4] == "Phường Cống Vị"
        whole = q("SELECT new_commune_code, is_split, candidate_commune_name FROM mart_commune_mapping "
                  "WHERE old_commune_code = '00001'")
        assert whole == [("00097", 0, "Phường Hồng Hà")]
        hg = q("SELECT old_province_code, province_code FROM district WHERE name = 'Thành phố Hà Giang'")
        assert hg == [("02", "08")]
    eng.dispose()


@pytest.fixture(scope="module")
def two_generations(tmp_path_factory):
    """2025-H1 as 63 provinces and their districts reported it, and 2025-Y from the 34 provinces, in one warehouse."""
    from pipelines.sample.generator import PRE2025_SMALL, generate, generate_pre2025

    tmp = tmp_path_factory.mktemp("geo")
    home = tmp / "home"
    old = generate_pre2025(home / "inbox" / "truoc_sap_nhap", Period.parse("2025-H1"), seed=3)
    new = generate(home / "inbox" / "sau_sap_nhap", Period.parse("2025-Y"), provinces=34, seed=3, projects=False,
                   profile=PRE2025_SMALL)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CCN_HOME", str(home))
        mp.setenv("CCN_WAREHOUSE_URL", f"sqlite:///{home / 'warehouse.sqlite'}")
        mp.setenv("DAGSTER_HOME", str(home / "dagster"))
        assert ccn("run") == 0
        yield {"old": old, "new": new}


@pytest.mark.slow
def test_pre2025_sample_is_consistent(tmp_path):
    """The pre-2025 sample itself: 63 old provinces, districts for Biểu 03, each on its 2025 successor."""
    from pipelines.sample.generator import generate_pre2025

    truth = generate_pre2025(tmp_path, Period.parse("2025-H1"), seed=3)
    reports = [r for f in truth["files"] for r in f["reports"]]
    b04 = [r for r in reports if r["form"] == "04"]
    assert len(b04) == 63 and len({r["unit_key"] for r in b04}) == 63
    assert {r["province_code"] for r in b04} == set(truth["province_series"]) and len(truth["province_series"]) == 34
    assert all(len(r["unit_key"]) == 3 for r in reports if r["form"] == "03")  # districts
    assert json.loads((tmp_path / "truth.json").read_text(encoding="utf-8"))["period"] == "2025-H1"
    with pytest.raises(ValueError, match="reported by the 2025 provinces"):
        generate_pre2025(tmp_path / "x", Period.parse("2025-Y"))


@pytest.mark.slow
def test_series_compare_on_2025_provinces(two_generations):
    old, new = two_generations["old"], two_generations["new"]
    national = view("mart_national_summary")
    for truth in (old, new):
        part = national[national.period == truth["period"]].set_index("indicator_code")
        for code, t in truth["national_summary"].items():
            assert part.loc[code, "value"] == pytest.approx(t["value"], rel=1e-9), (truth["period"], code)
        assert part.loc["1", "provinces_reporting"] == 34  # both periods on the 34 provinces of 2025

    provinces = view("mart_province_summary")
    h1 = provinces[provinces.period == "2025-H1"]
    y = provinces[provinces.period == "2025-Y"]
    assert set(h1["province_code"]) == set(y["province_code"]) == set(old["province_series"])
    for row in h1.itertuples():
        expected = old["province_series"][row.province_code][row.indicator_code]
        if expected is None:
            assert row.reported_value is None or row.reported_value != row.reported_value
        else:
            assert row.reported_value == pytest.approx(expected, rel=1e-9), (row.province_code, row.indicator_code)
            # the districts' Biểu 03 add up to the old provinces' Biểu 04
            assert row.computed_value == pytest.approx(expected, abs=0.05), (row.province_code, row.indicator_code)

    comp = view("mart_reporting_completeness", "WHERE period = '2025-H1' AND form = '04'")
    assert int(comp["expected"].sum()) == 63 and int(comp["received"].sum()) == 63
    assert len(comp) == 34  # the 63 old provinces counted on their 34 successors
    with engine().connect() as conn:
        districts = {r[0] for r in conn.execute(text(
            "SELECT unit_key FROM submission WHERE form = '03' AND period = '2025-H1' AND status LIKE 'accepted%'"))}
    expected_districts = {r["unit_key"] for f in old["files"] for r in f["reports"] if r["form"] == "03"}
    assert districts == expected_districts


@pytest.mark.slow
def test_pre2025_sample_loads_every_report(two_generations):
    """What does not depend on the reader's pre-2025 units: every file is read and nothing is rejected."""
    old = two_generations["old"]
    subs = view("mart_submissions", "WHERE period = '2025-H1'")
    assert len(subs) == old["counts"]["submissions"]
    assert set(subs["status"]) <= {"accepted", "accepted_with_warnings", "superseded"}
    assert set(subs["province_code"]) == set(old["province_series"])


def test_ccn_sample_writes_old_units_for_a_pre2025_period(tmp_path):
    from openpyxl import load_workbook

    from schemas.admin import admin

    assert ccn("sample", "--out", str(tmp_path), "--period", "2025-H1", "--provinces", "2", "--seed", "5") == 0
    truth = json.loads((tmp_path / "truth.json").read_text(encoding="utf-8"))
    old = admin().old_provinces
    assert len(set(truth["old_units"].values())) == 2 and set(truth["old_units"].values()) <= set(old)
    b03 = next(f["file"] for f in truth["files"] if f["reports"][0]["form"] == "03")
    cells = [c for row in load_workbook(tmp_path / b03).active.iter_rows(values_only=True) for c in row if c]
    assert any("cấp huyện" in str(c) for c in cells)  # the district wording of before 2025-07-01
    assert any(str(c).startswith("Quận, huyện") for c in cells)
