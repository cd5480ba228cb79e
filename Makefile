# Two commands matter (see README): `make demo` and `make test`.  Both install what they need first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
CCN_HOME ?= $(CURDIR)/.ccn
export CCN_HOME
SAMPLE := $(CCN_HOME)/inbox/sample-2026-H1

.PHONY: install office browser demo lint test test-fast bench ui pictures clean-demo

$(BIN)/ccn: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

install: $(BIN)/ccn

# LibreOffice renders what we write to PDF as it prints, for the printing tests (Debian packages; needs root)
office:
	@command -v soffice >/dev/null && command -v pdftotext >/dev/null || { \
	  echo "installing LibreOffice Calc and poppler-utils for the printing tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libreoffice-calc-nogui poppler-utils; }

# Debian's Chromium, which Playwright drives for the portal's browser tests and the pictures (no browser is ever
# downloaded: the machines may have no internet; Debian package, needs root)
browser:
	@test -x /usr/bin/chromium || { \
	  echo "installing Chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# a national sample (3 provinces) through the whole pipeline on the embedded SQLite warehouse, and the period
# refreshed as the deadline schedules do, so that the Dagster UI shows every asset of the period materialised
demo: install
	@test -d $(SAMPLE) || $(BIN)/ccn sample --out $(SAMPLE) --period 2026-H1 --provinces 3
	$(BIN)/ccn run
	$(BIN)/ccn refresh --period 2026-H1
	$(BIN)/ccn summary --period 2026-H1
	$(BIN)/ccn summary --truth $(SAMPLE)/truth.json
	@echo
	@echo "Cổng cán bộ dữ liệu: tạo tài khoản đầu tiên rồi mở cổng (README, docs/portal.md)."
	@echo "The stewards' portal: create the first account, then start it (README, docs/portal.md)."
	@echo "  . .venv/bin/activate; read -rs PW; export PW; ccn user add thanh --role ministry --password-env PW"
	@echo "  ccn portal    # http://127.0.0.1:8080"

# ruff over the tree, mypy over the four packages (configured in pyproject.toml); any finding fails
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# lint first; then two workers (the machine's two cores), a test file per worker so module fixtures load once
test: install lint office browser
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

# the loop while changing code: every test not marked slow (no PostgreSQL fault tests, no webserver, no browser), about a minute
test-fast: install
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not slow"

# issue #6: W1 end to end on SQLite and PostgreSQL, incremental, scaling (~15 min the first time; bench/README.md)
bench: install
	$(BIN)/python bench/national.py

# the pictures in docs/ (the first page of each blank form as printed, the Dagster asset graph), drawn from the code,
# and the portal's pages as its browser tests go through them (on SQLite)
pictures: install office browser
	$(BIN)/python docs/pictures.py
	CCN_UPDATE_PICTURES=1 $(BIN)/python -m pytest -q -p no:xdist tests/test_portal_browser.py -k sqlite

ui: install
	$(BIN)/ccn ui

clean-demo:
	rm -rf $(CCN_HOME)
