# One-command set-up. `make demo` installs and runs the demo; `make test` installs and runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= results

.PHONY: setup demo test test-fast bench browser-deps clean

$(BIN)/glmprobe: requirements.txt requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt -c requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

setup: $(BIN)/glmprobe  ## create .venv with pinned dependencies and glmprobe

demo: setup  ## run the whole benchmark on the bundled synthetic data (a few minutes on 2 cores)
	$(BIN)/glmprobe run conf/demo.yaml --outdir $(OUT)

browser-deps:  ## headless Chromium for the browser tests (Debian/Ubuntu; skipped if not root)
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: browser tests will be skipped"; }

test: setup browser-deps  ## install and run the whole test suite (slow tests included)
	$(BIN)/python -m pytest -q

test-fast: setup  ## skip tests marked slow
	$(BIN)/python -m pytest -q -m "not slow"

bench: setup  ## performance benchmarks (ratios against plain reference implementations)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(OUT) .pytest_cache
