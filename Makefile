# omium — `make demo` and `make test` each do all set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstall whenever pyproject.toml changes.
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
KAFKA := infra/kafka/broker.sh
KAFKA_ADDR ?= 127.0.0.1:19092
# 2 processes: most cases wait on a broker, a worker or a browser, not on a core; a test file
# stays in one process (see tests/conftest.py). PYTEST_ARGS="-n 0" runs in one.
PYTEST_ARGS ?= --durations=25 -n 2 --dist loadfile

.PHONY: install demo test lint unit bench-log bench-executor bench-projections bench-memory bench-alerts bench-adapters bench-peers bench-analytics bench-gateway bench-listing bench-dashboard fuzz soak kafka-up kafka-down kafka-status clean

# tmux: tests/executor/test_cli_terminal.py runs `omium run` in a real terminal (CI needs it);
# chromium: tests/e2e/test_dashboard*.py drive the dashboard in it (Playwright cannot download one)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

install: $(STAMP)
	@command -v tmux >/dev/null || $(SUDO) apt-get install -y -q tmux >/dev/null \
		|| { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q tmux >/dev/null; } \
		|| echo "note: tmux could not be installed; the terminal test skips locally and fails in CI"
	@command -v chromium >/dev/null || $(SUDO) apt-get install -y -q chromium >/dev/null \
		|| { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q chromium >/dev/null; } \
		|| echo "note: chromium could not be installed; the dashboard's browser tests will fail"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev,kafka,langgraph,crewai,analytics,gateway]'
	@rm -f $(VENV)/.installed-* && touch $@

# The main job on the embedded default: a CrewAI crew (researcher, analyst, writer; scripted
# LLMs, real tools over local notes) recorded task by task, its checkpoints, a replay of the
# run as it was after the analysis, then a rollback there with an edited input (a new
# attempt; nothing is deleted), both attempts shown, a re-execution from the log that
# calls no model and no tool, two analytics questions over the demo's runs (chDB), then an
# agent that loops on a tool, and the alert it raises.
demo: install
	@id=demo-$$(date +%s); \
	  $(BIN)/omium run examples/research_crew.yaml --follow --execution-id $$id && \
	  echo "--- omium checkpoints $$id" && $(BIN)/omium checkpoints $$id && \
	  echo "--- omium replay $$id --to-checkpoint a1-1-analyse" && \
	  $(BIN)/omium replay $$id --to-checkpoint a1-1-analyse && \
	  echo "--- omium rollback $$id --to a1-1-analyse --set audience='product managers' --follow" && \
	  $(BIN)/omium rollback $$id --to a1-1-analyse --set audience='product managers' --follow && \
	  echo "--- omium executions show $$id" && $(BIN)/omium executions show $$id && \
	  echo "--- omium replay $$id --reexecute" && $(BIN)/omium replay $$id --reexecute && \
	  echo "--- omium analytics cost --by model" && $(BIN)/omium analytics cost --by model && \
	  echo "--- omium analytics latency --by agent" && $(BIN)/omium analytics latency --by agent && \
	  echo "--- omium run examples/looping_agent.yaml (an agent that loops on a tool)" && \
	  $(BIN)/omium run examples/looping_agent.yaml --execution-id $$id-loop && \
	  echo "--- omium alerts run --once && omium alerts --execution $$id-loop" && \
	  $(BIN)/omium alerts run --once && $(BIN)/omium alerts --execution $$id-loop

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@mkdir -p .typecheck && ln -sfn .. .typecheck/omium
	MYPYPATH=.typecheck $(BIN)/mypy -p omium
	$(BIN)/lint-imports

# Lint first (fast), then every test with the real broker, which stops even on failure.
test: lint
	$(KAFKA) jars >/dev/null
	$(KAFKA) with -- env OMIUM_TEST_KAFKA=$(KAFKA_ADDR) \
	  $(BIN)/pytest -p no:cacheprovider -q -ra -m "not soak" $(PYTEST_ARGS)

# The Kafka fault tests (issue 19: stall, coordinator+controller loss, SIGTERM, give-up),
# SOAK_RUNS times each on a fresh 3-node cluster (ports OMIUM_TEST_KAFKA3_PORT..+2); stops
# at the first failure. Each pass prints its figures (`-s`): repeats, exit and hand-over times.
SOAK_RUNS ?= 10
soak: install
	$(KAFKA) jars >/dev/null
	for i in $$(seq $(SOAK_RUNS)); do echo "soak pass $$i/$(SOAK_RUNS)"; \
	  OMIUM_TEST_KAFKA=$(KAFKA_ADDR) $(BIN)/pytest -p no:cacheprovider -q -s \
	    tests/integration/test_kafka_faults.py tests/executor/test_kafka_faults_give_up.py \
	    || exit 1; done

# The gateway's API against its own OpenAPI document, 1,000 cases per operation (long).
fuzz: install
	OMIUM_FUZZ_EXAMPLES=1000 $(BIN)/pytest -p no:cacheprovider -q -m "not kafka" \
	  tests/e2e/test_api_fuzz.py

unit: install
	$(BIN)/pytest -p no:cacheprovider -q tests/unit

bench-log: install
	$(KAFKA) with -- env OMIUM_TEST_KAFKA=$(KAFKA_ADDR) $(BIN)/python tests/bench/bench_log.py

bench-gateway: install
	$(KAFKA) with -- env OMIUM_TEST_KAFKA=$(KAFKA_ADDR) bash -c \
	  '$(BIN)/python tests/bench/bench_gateway_cpu.py && $(BIN)/python tests/bench/bench_gateway.py'

# A page of the newest executions against reading every view (100,000 executions).
bench-listing: install
	$(KAFKA) with -- env OMIUM_TEST_KAFKA=$(KAFKA_ADDR) $(BIN)/python tests/bench/bench_listing.py

# The dashboard's execution page for a run of 1,000 steps over 3 attempts, against the JSON of
# the same execution (server time, in-process; a real worker records the run; no broker).
bench-dashboard: install
	$(BIN)/python tests/bench/bench_dashboard.py

bench-executor: install
	$(KAFKA) with -- env OMIUM_TEST_KAFKA=$(KAFKA_ADDR) $(BIN)/python tests/bench/bench_executor.py

bench-projections: install
	$(KAFKA) with -- env OMIUM_TEST_KAFKA=$(KAFKA_ADDR) $(BIN)/python tests/bench/bench_projections.py

# One worker holding 10,000 executions that wait for input: RSS, resume -> next step (embedded log).
bench-memory: install
	$(BIN)/python tests/bench/bench_memory.py

# Alerts: events/s through the alert processor vs the projections' fold, event -> alert latency.
bench-alerts: install
	$(BIN)/python tests/bench/bench_alerts.py

bench-adapters: install
	$(KAFKA) with -- env OMIUM_TEST_KAFKA=$(KAFKA_ADDR) $(BIN)/python tests/bench/bench_adapters.py

# The analytics sink against a raw insert, and each question over 1M and 10M steps (chDB in
# a temporary folder; no broker needed).
bench-analytics: install
	$(BIN)/python tests/bench/bench_analytics.py

# omium against DBOS and LangGraph's own savers on this machine's SQLite, no broker needed.
# The peers are the `bench` extra, installed here only (never by `install`).
bench-peers: install
	@$(BIN)/python -c "import dbos" 2>/dev/null || \
	  $(BIN)/pip install -q --disable-pip-version-check -e '.[bench]'
	$(BIN)/python tests/bench/bench_peers.py

kafka-up:
	$(KAFKA) up
kafka-down:
	$(KAFKA) down
kafka-status:
	$(KAFKA) status

clean:
	-$(KAFKA) clean
	rm -rf $(VENV) .typecheck .omium build *.egg-info
