"""The IDs docs/architecture.md and docs/warehouse.md promise to keep: cluster IDs (``<province code>-<slug of the
name>``, prefix dropped, roman numerals as digits), project keys (``<cluster ID>/<tax code>``, or the slug of the
project's name without one), the unit key of every form stored in ``submission.unit_key`` and the archive path
``archive/<sha[:2]>/<sha>.xlsx``.  A key that changes breaks every warehouse already holding the old one (its
clusters are looked up by ``cluster_alias.alias_key``, its reports by ``unit_key``), so each is pinned here to the
exact string, on names as the reference data spells them (``schemas/reference``) and as offices type them.

Some of today's IDs are not what the documented rule means (see ``MISREAD``); they are pinned as they are, because
changing them needs a migration of the keys already stored, not an edit of ``schemas/keys.py`` alone.  The tax codes
are in the official format (10 digits, a branch as ``-NNN``) but invented: the reference data holds none.
"""

from __future__ import annotations

import csv
import unicodedata
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from pipelines import stages
from pipelines.settings import Settings
from pipelines.steward.templates import write_template
from schemas.keys import cluster_id, project_key

REFERENCE = Path(__file__).resolve().parent.parent / "schemas" / "reference"

# (2025 province code, the name as an office writes it, its cluster ID, the name as the reference data spells it)
CLUSTER_IDS = [
    ("15", "Cụm công nghiệp Đầm Hồng", "15-dam-hong", "Đầm Hồng"),
    ("15", "CCN Âu Lâu", "15-au-lau", "Âu Lâu"),
    ("15", "Cụm CN Báo Đáp", "15-bao-dap", "Báo Đáp"),
    ("15", "cụm công nghiệp Hưng Khánh", "15-hung-khanh", "Hưng Khánh"),
    ("15", "CỤM CÔNG NGHIỆP THỊNH HƯNG", "15-thinh-hung", "Thịnh Hưng"),
    ("15", "ccn  Sơn   Thịnh", "15-son-thinh", "Sơn Thịnh"),
    ("15", unicodedata.normalize("NFD", "Cụm công nghiệp Đông An"), "15-dong-an", "Đông An"),
    ("15", "Cụm công nghiệp Hoà Mạc", "15-hoa-mac", "Hòa Mạc"),
    ("15", "Cụm công nghiệp Thống Nhất 1", "15-thong-nhat-1", "Thống Nhất 1"),
    ("15", "Cụm công nghiệp Phú Thịnh 2", "15-phu-thinh-2", "Phú Thịnh 2"),
    ("15", "Cụm công nghiệp Phú Thịnh II", "15-phu-thinh-2", "Phú Thịnh 2"),
    # y is written i, as in the matching key (Tỷ lệ / Tỉ lệ are one word to offices)
    ("15", "CCN Tây Cầu Mậu A", "15-tai-cau-mau-a", "Tây Cầu Mậu A"),
    ("15", "CCN Bắc Văn Yên", "15-bac-van-ien", "Bắc Văn Yên"),
    ("15", "Cụm công nghiệp Y Can", "15-i-can", "Y Can"),  # the first word is never read as a numeral
    ("37", "Cụm công nghiệp Đồng Văn II", "37-dong-van-2", "Phường Đồng Văn"),  # Hà Nam (35) is Ninh Bình since 2025
    ("48", "Cụm công nghiệp Tam Xuân II", "48-tam-xuan-2", "Xã Tam Xuân II"),  # Quảng Nam (49) → Đà Nẵng
    ("79", "CCN Cây Trường II", "79-cai-truong-2", "Xã Cây Trường II"),  # Bình Dương (74) → Hồ Chí Minh
    ("92", "Cụm công nghiệp Hòa Tú II", "92-hoa-tu-2", "Xã Hòa Tú II"),  # Sóc Trăng (94) → Cần Thơ
]

# Today's IDs that the rule above does not mean, pinned until a migration changes them: a suffix "(CCN)" is not the
# prefix and stays; a later word that reads as a roman numeral once its marks are gone (Vì, Vĩ, Vị, Ý, Ỷ) becomes a
# number, so "Ba Vì" and "Ba VI" are one cluster.
MISREAD = [
    ("15", "Bắc Duyên Hải (CCN)", "15-bac-duien-hai-ccn", "Bắc Duyên Hải (CCN)"),
    ("01", "Cụm công nghiệp Ba Vì", "01-ba-6", "Xã Ba Vì"),
    ("08", "Cụm công nghiệp Sơn Vĩ", "08-son-6", "Xã Sơn Vĩ"),  # Hà Giang (02) → Tuyên Quang
    ("08", "Cụm công nghiệp Vị Xuyên", "08-vi-xuien", "Thị trấn Vị Xuyên"),  # the first word is never a numeral
]

# (cluster ID, tax code as typed, project name, project key)
PROJECT_KEYS = [
    ("15-thinh-hung", "5200123456", "Nhà máy may DAESEUNG GLOBAL", "15-thinh-hung/5200123456"),
    ("15-thinh-hung", "5200123456-001", "Nhà máy may DAESEUNG GLOBAL", "15-thinh-hung/5200123456-001"),
    ("15-thinh-hung", "5200 123 456", None, "15-thinh-hung/5200123456"),
    ("15-thinh-hung", "5200.123.456", None, "15-thinh-hung/5200123456"),
    ("15-thinh-hung", "MST: 5200123456", None, "15-thinh-hung/5200123456"),
    # a branch typed without its dash is another key than with it (see the module's note on migrations)
    ("15-thinh-hung", "5200123456001", None, "15-thinh-hung/5200123456001"),
    ("15-ien-the", None, "Nhà máy đá cẩm thạch R.K Việt Nam", "15-ien-the/nha-may-da-cam-thach-r-k-viet-nam"),
    ("15-dong-an", "", "Nhà máy BMC Yên Bái", "15-dong-an/nha-may-bmc-yen-bai"),
    ("15-phu-thinh-1", "chưa có", "Liên danh Công ty CP Tập đoàn Đông Đô - Công ty CP ĐTXD số 9 Bắc Giang",
     "15-phu-thinh-1/lien-danh-cong-ty-cp-tap-doan-dong-do-cong-ty-cp-dtxd-so-9-b"),  # the name's slug: 60 characters
]


def _reference_names() -> set[str]:
    """Cluster names of the Lào Cai lists and every unit name of the administrative reference."""
    names: set[str] = set()
    for path in (REFERENCE / "clusters").glob("laocai_*.csv"):
        with path.open(encoding="utf-8") as f:
            names |= {r["ccn_name"] for r in csv.DictReader(f)}
    for path in (REFERENCE / "admin").glob("*_v*.csv"):
        with path.open(encoding="utf-8") as f:
            names |= {v for r in csv.DictReader(f) for k, v in r.items() if k.endswith("_name")}
    return names


def test_names_come_from_the_reference_data():
    names = _reference_names()
    assert {ref for *_, ref in CLUSTER_IDS + MISREAD} <= names


@pytest.mark.parametrize("province,name,expected,_ref", CLUSTER_IDS + MISREAD)
def test_cluster_id(province, name, expected, _ref):
    assert cluster_id(province, name) == expected


@pytest.mark.parametrize("cluster,tax_code,name,expected", PROJECT_KEYS)
def test_project_key(cluster, tax_code, name, expected):
    assert project_key(cluster, tax_code, name) == expected


# (form, template generation, year, identification as typed, unit_key); every file is a 6-month report
UNIT_KEYS = [
    ("04", "commune", 2026, {"province": "Tỉnh Lào Cai"}, "15"),
    ("03", "commune", 2026, {"province": "Tỉnh Lào Cai", "commune": "Xã Trấn Yên"}, "04498"),
    ("02", "commune", 2026, {"province": "Tỉnh Lào Cai", "commune": "Phường Âu Lâu",
                             "cluster": "Cụm công nghiệp Âu Lâu", "tax_code": "5300123456"}, "15-au-lau"),
    ("02", "commune", 2026, {"province": "Tỉnh Lào Cai", "commune": "Xã Trấn Yên", "cluster": "CCN Báo Đáp"},
     "15-bao-dap"),
    ("01", "commune", 2026, {"province": "Tỉnh Lào Cai", "commune": "Xã Yên Bình", "cluster": "CCN Thịnh Hưng",
                             "tax_code": "5200123456-001", "project": "Nhà máy may DAESEUNG GLOBAL"},
     "15-thinh-hung/5200123456-001"),
    ("01", "commune", 2026, {"province": "Tỉnh Lào Cai", "commune": "Xã Lục Yên", "cluster": "Cụm công nghiệp Yên Thế",
                             "project": "Nhà máy đá cẩm thạch R.K Việt Nam"},
     "15-ien-the/nha-may-da-cam-thach-r-k-viet-nam"),
    # before 2025-07-01: Biểu 04 keeps the old province's code (Yên Bái was 15, Lào Cai 10; both are Lào Cai (15)
    # now), Biểu 03 the district's; a cluster's ID is made on the 2025 province, so it stays across the merger
    ("04", "district", 2025, {"province": "Tỉnh Yên Bái"}, "15"),
    ("04", "district", 2025, {"province": "Tỉnh Lào Cai"}, "10"),
    ("03", "district", 2025, {"province": "Tỉnh Yên Bái", "district": "Huyện Trấn Yên"}, "138"),
    ("02", "district", 2025, {"province": "Tỉnh Yên Bái", "district": "Huyện Trấn Yên",
                              "cluster": "Cụm công nghiệp Báo Đáp"}, "15-bao-dap"),
]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """The forms filled in on the national template and read into a SQLite warehouse by the real stages."""
    root = tmp_path_factory.mktemp("ids")
    inbox = root / "inbox"
    inbox.mkdir()
    for i, (form, generation, year, ident, _key) in enumerate(UNIT_KEYS):
        path = inbox / f"{i:02d}_bieu{form}_{year}.xlsx"
        layout = write_template(path, form, generation=generation)
        wb = load_workbook(path)
        ws = wb.active
        for field, value in {**ident, "period": "6 tháng đầu năm", "year": year}.items():
            ws[layout["ident"][field]] = value
        for ref in layout["values"].values():
            ws[ref] = 1
        wb.save(path)
    ctx = stages.Context(settings=Settings(home=root / "home", warehouse_url=f"sqlite:///{root / 'w.sqlite'}"),
                         inbox=inbox)
    stages.prepare(ctx)
    stages.archive_stage(ctx)
    assert stages.read_stage(ctx) == len(UNIT_KEYS)
    with ctx.engine.connect() as conn:
        rows = conn.execute(text("SELECT f.file_name, f.archive_path, s.sha256, s.form, s.period, s.province_code, "
                                 "s.unit_key FROM submission s JOIN received_file f ON f.sha256 = s.sha256")).all()
        clusters = {r[0] for r in conn.execute(text("SELECT cluster_id FROM cluster"))}
        projects = {r[0] for r in conn.execute(text("SELECT project_key FROM project"))}
    ctx.engine.dispose()
    return root / "home", sorted(rows), clusters, projects


def test_unit_keys_stored(loaded):
    _home, rows, _clusters, _projects = loaded
    got = [(r.form, r.period, r.province_code, r.unit_key) for r in rows]
    assert got == [(form, f"{year}-H1", "15", key) for form, _gen, year, _ident, key in UNIT_KEYS]


def test_clusters_and_projects_registered_under_their_keys(loaded):
    _home, _rows, clusters, projects = loaded
    assert clusters == {"15-au-lau", "15-bao-dap", "15-thinh-hung", "15-ien-the"}
    assert projects == {"15-thinh-hung/5200123456-001", "15-ien-the/nha-may-da-cam-thach-r-k-viet-nam"}


def test_archive_path(loaded):
    home, rows, _clusters, _projects = loaded
    assert {r.archive_path for r in rows} == {str(home / "archive" / r.sha256[:2] / f"{r.sha256}.xlsx") for r in rows}
    assert all(len(r.sha256) == 64 and set(r.sha256) <= set("0123456789abcdef") for r in rows)
