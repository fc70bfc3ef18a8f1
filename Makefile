# Two commands on a fresh machine: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
CATALOGS := locales/id/LC_MESSAGES/messages.mo locales/en/LC_MESSAGES/messages.mo

.PHONY: run test lint style compile catalogs bench clean

run: $(INSTALLED) $(CATALOGS)
	$(BIN)/bpu-bot db upgrade
	$(BIN)/bpu-bot run

# The suite on every core (pytest-xdist), each worker given its next test when it is done with the one before:
# xdist otherwise hands out long runs of tests at once, and one worker got every slow one. A plain `pytest`
# (one file, one test, a debugger) runs in one process. Bytecode is cached even where the environment turns it
# off (PYTHONDONTWRITEBYTECODE): every worker imports every test module, which pytest otherwise rewrites and
# compiles anew, about 4 s of CPU a worker. One worker more than there are cores: the end-to-end tests spend
# seconds waiting on the processes they start and on the fake's rate limit, and a third worker keeps both cores
# busy meanwhile (the suite was 64 s with 2 workers, 61 s with 3 and 4, on 2 cores).
WORKERS := $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) + 1 )))
PYTEST := PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -n $(WORKERS) --maxschedchunk 1

# Ruff first (a second, and a run it fails would fail anyway), then the whole suite on SQLite with the type check
# beside it, then the suite again on PostgreSQL when TEST_POSTGRES_URL names a server (.ci/run sets it). mypy
# takes about 9 s of one core in a fresh clone (nothing cached yet), done long before the suite; the suite leaves
# part of the second core idle while its end-to-end tests wait on their processes. (At the lowest priority it
# sometimes got nothing until the suite ended, and then ran alone: 61 s for a fresh clone's `make test` either
# way, 64 s at worst.) Its report is printed after the suite's; either failing fails.
test: style $(CATALOGS)
	@types=$$(mktemp); $(BIN)/mypy >"$$types" 2>&1 & mypy=$$!; \
	echo "$(PYTEST)"; $(PYTEST); suite=$$?; \
	wait $$mypy; typed=$$?; echo "$(BIN)/mypy"; cat "$$types"; rm -f "$$types"; \
	[ $$suite -eq 0 ] && [ $$typed -eq 0 ]
	@if [ -n "$$TEST_POSTGRES_URL" ]; then \
		echo "--- the same suite on PostgreSQL ($${TEST_POSTGRES_URL%%\?*})"; \
		$(PYTEST) --database=postgresql; \
	else echo "TEST_POSTGRES_URL is not set: the suite ran on SQLite only"; fi

# Style, formatting, and types of bot/ and handlers/ (mypy's settings: [tool.mypy] in pyproject.toml).
lint: style
	$(BIN)/mypy

style: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

compile: $(CATALOGS)

# After changing texts used by the code: regenerate the template and merge it into every locale.
catalogs: $(INSTALLED)
	$(BIN)/python -m bot.cli.catalog
	$(MAKE) compile

bench: $(INSTALLED) $(CATALOGS)
	$(BIN)/python -m bench.conversation
	$(BIN)/python -m bench.followups
	$(BIN)/python -m bench.broadcast
	$(BIN)/python -m bench.webhook
	$(BIN)/python -m bench.understanding
	$(BIN)/python -m bench.retention
	$(BIN)/python -m bench.dashboard

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

locales/%/LC_MESSAGES/messages.mo: locales/%/LC_MESSAGES/messages.po $(INSTALLED)
	$(BIN)/pybabel compile --statistics -i $< -o $@

clean:
	rm -rf $(VENV) $(CATALOGS) *.egg-info
