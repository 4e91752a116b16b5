# clickstream: `make run` sets up and runs the pipeline on the bundled sample;
# `make test` sets up and runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
WAREHOUSE ?= build/warehouse
SAMPLE ?= data/sample

VENV35 ?= .venv-spark35
SPARK35_PINS := "pyspark>=3.5,<3.6" "delta-spark>=3.3,<3.4"

.PHONY: setup run test test-unit test-fast test-spark35 scenario package bench clean check-java screenshot

setup: $(VENV)/.installed

# $(call make-venv,DIR,EXTRA PIP REQUIREMENTS): a venv with the project and its dev extras.
define make-venv
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { echo "Python 3.10+ is required ($(PYTHON) is older)"; exit 2; }
	$(PYTHON) -m venv $(1)
	$(1)/bin/python -m pip install --quiet --upgrade pip
	$(1)/bin/python -m pip install --quiet $(2) -e '.[dev]'
	@touch $(1)/.installed
endef

$(VENV)/.installed: setup.py
	$(call make-venv,$(VENV),)

check-java:
	@command -v java >/dev/null 2>&1 || [ -x "$$JAVA_HOME/bin/java" ] || { \
	  echo "Java not found: install Java 17+ (Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless; macOS: brew install openjdk@17) or set JAVA_HOME"; exit 2; }

# The sample is mostly anomalies on purpose (15 of its 28 records are rejected),
# hence the higher --max-reject-rate.
run: setup check-java
	rm -rf $(WAREHOUSE)
	./spark-submit.sh pipeline --input $(SAMPLE) --warehouse $(WAREHOUSE) --run-id sample \
	  --steps events,hourly_stats,rollup,sessions,report --max-reject-rate 0.6 --csv $(WAREHOUSE)/exports
	./spark-submit.sh show --warehouse $(WAREHOUSE) --rows 5 --table events --table hourly_stats
	@echo
	@echo "Tables:      $(WAREHOUSE)/events  $(WAREHOUSE)/rejects  $(WAREHOUSE)/hourly_stats  $(WAREHOUSE)/sessions"
	@echo "Rollups:     $(WAREHOUSE)/daily_stats  $(WAREHOUSE)/weekly_stats  $(WAREHOUSE)/monthly_stats"
	@echo "Run reports: $(WAREHOUSE)/_runs/"
	@echo "Report:      $(WAREHOUSE)/report.html (open it in a browser)"
	@echo "CSV:         $(WAREHOUSE)/exports/user_web_hits.csv  $(WAREHOUSE)/exports/aggregated_web_stats.csv"
	@echo "Query:       .venv/bin/python -c \"import deltalake; print(deltalake.DeltaTable('$(WAREHOUSE)/hourly_stats').to_pyarrow_dataset().to_table(use_threads=False))\""

# docs/report.png: the report of `make run`'s warehouse, as headless Chromium shows it
# (Debian's chromium; docs/report.md).
screenshot: run
	$(PY) tools/browser.py $(WAREHOUSE)/report.html docs/report.png --width 1100

# The suite's layers are folders (tests/layers.py says what each may do):
#   unit/ (no Spark)  transforms/ (DataFrame -> DataFrame)  runs/ (each job's run() in process)
#   entry/ (./spark-submit.sh as a subprocess)  integration/ (throwaway servers)  scenario/
# Measured times on 2 cores: docs/development.md.
FAST_TESTS := tests/unit tests/transforms
# make test and make test-spark35 run whole modules on two pytest-xdist workers, the
# slow process and server modules first, so that short modules fill the end
# (docs/development.md: measured, and why two). TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
PARALLEL := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder)

test-unit: setup
	$(PY) -m pytest tests/unit

test-fast: setup check-java
	$(PY) -m pytest $(FAST_TESTS)

# Everything but the multi-day scenario.
test: setup check-java
	$(PY) -m pytest $(PARALLEL) tests/integration tests/entry tests/runs $(FAST_TESTS)

# Five days of a generated feed with late files and killed runs, against one clean run.
scenario: setup check-java
	$(PY) -m pytest tests/scenario

# Spark 3.5 with Delta 3.3 (what EMR 7 ships), in its own venv: the layers where the
# Spark or Delta version matters (unit, transforms, runs: column functions, CSV/JSON
# parsing, Delta writes, MERGE, the change data feed, window functions, the packages
# spark-submit.sh picks), the export tests in process against PostgreSQL (the JDBC
# writer), and a warehouse that Delta 4 wrote read and extended by Delta 3.3 (so it
# needs the Spark 4 venv too). The entry, cluster and S3 tests stay on Spark 4.
SPARK35_TESTS ?= tests/integration/test_export.py tests/integration/test_delta_compat.py tests/runs $(FAST_TESTS) \
	--deselect tests/integration/test_export.py::test_a_killed_export_leaves_the_target_as_it_was_and_the_next_one_completes
test-spark35: check-java setup $(VENV35)/.installed
	$(VENV35)/bin/python -m pytest $(PARALLEL) $(SPARK35_TESTS)

$(VENV35)/.installed: setup.py
	$(call make-venv,$(VENV35),$(SPARK35_PINS))

# Everything a cluster needs, in dist/: upload it as it is (README, "Deploying on EMR").
#   clickstream.zip  the library with conf/sources and conf/spark inside (--py-files)
#   jobs/*.py        the entry points;  conf/  the profiles and Spark settings
#   clickstream-*.whl  for pip users (clusters get the zip: workers cannot import a .whl)
# Our events + hourly_stats against the DuckDB reference in one run (docs/benchmarks.md).
# make bench (1M events, median of 3, also into a table of 10M) or make bench N=10000000 RUNS=1 HISTORY=0;
# RANDOM_IDS=1: event ids of 15 random digits, as hipages sends them (kept beside the default ids' rows)
N ?= 1000000
RUNS ?= 3
HISTORY ?= 10000000
RANDOM_IDS ?=
bench: setup check-java
	$(PY) tools/bench.py --events $(N) --runs $(RUNS) --history $(HISTORY) $(if $(RANDOM_IDS),--random-ids)

package: setup
	rm -rf dist/jobs dist/conf dist/*.whl
	$(PY) libs/build_zip.py . dist/clickstream.zip
	mkdir -p dist/jobs dist/conf
	cp jobs/*.py dist/jobs/
	cp -R conf/sources conf/spark conf/log4j2.properties dist/conf/
	$(PY) -m pip wheel --quiet --no-deps --wheel-dir dist .
	@echo "dist/ holds the artifact:" && find dist -type f -not -name '.*' | sort

clean:
	rm -rf build dist .pytest_cache spark-warehouse metastore_db derby.log
