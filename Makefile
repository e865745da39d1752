# The two commands a trader needs: `make demo` and `make test`. Each creates .venv when it is
# missing and (re)installs the project with its dev extras only when pyproject.toml changed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest browser bench screenshots scenes soak install clean

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/weekly-er-tui demo $(ARGS)

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check weekly_er_tui tests bench
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

# The suite waits on sockets and simulated clocks far more than it computes (about 1 minute of
# CPU in 6 of wall time), so it runs in 4 processes even on 2 cores; a seed's soak week keeps its
# invariants on one worker (--dist loadgroup). The crash-restart seed runs after, alone: its
# engine restarts take real seconds that its 2000x clock turns into hours, so it must not share
# the CPU with three other workers. PYTEST_JOBS=0 runs everything in one process.
PYTEST_JOBS ?= 4

# The web cockpit's browser test (tests/web/test_browser.py) drives Debian's chromium (~350 MB,
# about 1.5 min to install). Installed here when missing and we are root or under CI; otherwise
# the test skips and says why (under CI=true a missing browser fails it, never a silent skip).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] || [ "$${CI:-}" = true ]; then \
	    echo "installing Debian's chromium for the web cockpit's browser test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "chromium missing: the web cockpit's browser test will skip (apt-get install chromium)"; \
	  fi; }

pytest: $(STAMP) browser
	$(BIN)/pytest -q -n $(PYTEST_JOBS) --dist loadgroup --ignore=tests/crashsoak $(PYTEST_ARGS)
	$(BIN)/pytest -q tests/crashsoak $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

screenshots: $(STAMP)
	$(BIN)/python -m weekly_er_tui.ui.screenshots screenshots

# The states the snapshot tests and the screenshots show, recorded from the real engine on the
# simulator (about a minute). After it: pytest tests/ui --snapshot-update, LOOK, make screenshots.
scenes: $(STAMP)
	$(BIN)/python -m weekly_er_tui.scenes.record

# 20 seeded weeks under fire, the invariants per seed (make test runs one). Replay one seed
# exactly: .venv/bin/pytest tests/soak --soak-seed N
# Then 20 crash-restart weeks (engine and gateway as two processes, the engine SIGKILLed at
# seeded moments; make test runs one): .venv/bin/pytest tests/crashsoak --crash-seed N
soak: $(STAMP)
	$(BIN)/pytest -q -m soak --soak-long -n 3 --dist loadgroup tests/soak
	$(BIN)/pytest -q -m soak --crash-long tests/crashsoak

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
