# One-command set-up. `make demo` installs and runs the demo; `make test` installs and runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= results

.PHONY: setup demo test test-fast bench browser-deps clean nextflow container-test

$(BIN)/glmprobe: requirements.txt requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt -c requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

setup: $(BIN)/glmprobe  ## create .venv with pinned dependencies and glmprobe

# The Nextflow engine (pinned in tools/nextflow/pom.xml) and the strict parser nf-lang, from Maven Central.
NXF_LIB := tools/nextflow/lib/.resolved
NFLANG_LIB := tools/nextflow/lint/lib/.resolved
$(NXF_LIB): tools/nextflow/pom.xml
	rm -rf tools/nextflow/lib
	mvn -B -q -f tools/nextflow/pom.xml package
	@touch $@
$(NFLANG_LIB): tools/nextflow/lint/pom.xml
	rm -rf tools/nextflow/lint/lib
	mvn -B -q -f tools/nextflow/lint/pom.xml package
	@touch $@

nextflow: $(NXF_LIB) $(NFLANG_LIB)  ## resolve the pinned Nextflow engine + nf-lang with Maven; launcher: tools/nextflow/nextflow
	@tools/nextflow/nextflow -version | grep version

demo: setup  ## run the whole benchmark on the bundled synthetic data (a few minutes on 2 cores)
	$(BIN)/glmprobe run conf/demo.yaml --outdir $(OUT)

browser-deps:  ## headless Chromium for the browser tests (Debian/Ubuntu; skipped if not root)
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: browser tests will be skipped"; }

test: setup browser-deps nextflow  ## install and run the whole test suite (slow tests included, Nextflow engine runs)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -q

container-test: setup nextflow  ## build the CPU image on a local debootstrap base, run -profile test,docker in it (root; ~see README)
	containers/test.sh

test-fast: setup  ## skip tests marked slow
	$(BIN)/python -m pytest -q -m "not slow"

bench: setup  ## performance benchmarks (ratios against plain reference implementations)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(OUT) .pytest_cache
