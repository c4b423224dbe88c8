# The two commands of the README's quick start:
#   make demo   set everything up, then drive gc-session-tmux as Gas City does
#   make test   set everything up, then run every test (what CI runs)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PACKAGES := protocol providers gc_session_k8s gc_beads_k8s

.PHONY: setup demo test lint unit-tests portable-tests installed-tests smoke-plain-install benchmark \
	conformance-transports real-gc-tests realkube-tests realkube-all-suites clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# tmux is the one system tool the providers need; everything else comes from PyPI.
setup: $(BIN)/python
	@command -v tmux >/dev/null || (apt-get update -qq && apt-get install -y -qq tmux)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@# Bytecode now: with PYTHONDONTWRITEBYTECODE set, every call would recompile.
	$(BIN)/python -m compileall -q $(PACKAGES) >/dev/null

demo: setup
	$(BIN)/python examples/demo/demo.py

test: setup lint unit-tests portable-tests installed-tests smoke-plain-install realkube-tests

lint:
	$(BIN)/ruff check .
	$(BIN)/mypy
	MYPY=$(CURDIR)/$(BIN)/mypy bash .ci/mypy-tests
	$(BIN)/lint-imports

unit-tests:
	bash .ci/with-docker $(BIN)/pytest -p no:cacheprovider --durations=15 -m 'not realkube'

# gc-session-k8s against a real kube-apiserver (+ etcd, kube-controller-manager and a
# node agent that runs pods as host processes), built from tests/realkube's Go module
# into ~/.cache/gc-providers/realkube (warm: a hash; cold: minutes, see docs/test-bed.md).
realkube-tests: setup
	REALKUBE_BIN="$$(sh .ci/build-realkube)" && export REALKUBE_BIN && \
	    { ! command -v go >/dev/null || (cd tests/realkube && go test ./cmd/node-agent); } && \
	    $(BIN)/pytest -p no:cacheprovider --durations=10 -m realkube tests/realkube

# Only the conformance tests against the real API server as the least-privilege
# controller: every session suite of the kit, START-005 and CANCEL-* (realkube-tests runs them too).
realkube-all-suites: setup
	REALKUBE_BIN="$$(sh .ci/build-realkube)" && export REALKUBE_BIN && \
	    $(BIN)/pytest -p no:cacheprovider -m realkube tests/realkube/test_realkube_conformance.py

# macOS has no memfd, pidfd or /proc: gc-session-tmux then takes its portable
# paths (ps, unlinked temp files, waitpid). With no Mac in CI, force those paths
# on Linux and run the whole tmux provider suite again, the kit run against
# gc-session-tmux (tests/tmux/test_tmux_conformance.py) and the paths' own tests.
portable-tests:
	GC_PORTABLE=1 $(BIN)/pytest -p no:cacheprovider --durations=5 tests/tmux tests/unit/test_unit_portable_paths.py

# The same tests against the built wheel in a fresh venv: a module missing from
# the wheel fails here. Run from outside the checkout so nothing imports it.
installed-tests:
	rm -rf dist .venv-wheel
	$(BIN)/pip wheel -q --no-deps -w dist .
	$(PYTHON) -m venv .venv-wheel
	.venv-wheel/bin/pip install -q "$$(ls dist/*.whl)[test]"
	cd /tmp && GC_TEST_INSTALLED=1 bash $(CURDIR)/.ci/with-docker $(CURDIR)/.venv-wheel/bin/pytest \
	    -p no:cacheprovider --durations=15 -m 'not realkube' --rootdir=$(CURDIR) -c $(CURDIR)/pyproject.toml $(CURDIR)/tests

# What an operator gets from `pip install <wheel>` with no extras: every console
# command's --help, -h, --version, <op> --help and a failing doctor, with no traceback.
smoke-plain-install:
	rm -rf dist-plain .venv-plain
	$(BIN)/pip wheel -q --no-deps -w dist-plain .
	$(PYTHON) -m venv .venv-plain
	.venv-plain/bin/pip install -q dist-plain/*.whl
	cd /tmp && $(CURDIR)/$(BIN)/python $(CURDIR)/.ci/smoke-plain-install.py $(CURDIR)/.venv-plain/bin

# Every conformance suite with GC_K8S_TRANSPORT forced to direct and to helper (the
# required suites run in unit-tests; these take ~10 min more).
conformance-transports: setup
	GC_TEST_TRANSPORT_ALL_SUITES=1 $(BIN)/pytest -p no:cacheprovider tests/k8s/test_conformance_transports.py

# Gas City's own gc judges our executables (tests/realgc). The pinned gc (gascity v1.4.0)
# is built from the Go module proxy by .ci/install-gc-tools; today the proxy refuses every
# gascity version, so this says so and the tests skip. Run with no network (own netns).
GC_TOOLS ?= $(HOME)/.cache/gc-providers/gc-tools
real-gc-tests: setup
	SKIP_BD=1 bash .ci/install-gc-tools $(GC_TOOLS) || echo "real-gc-tests: no gc built (see above)"
	unshare -n sh -c 'ip link set lo up && exec $(BIN)/pytest -p no:cacheprovider -rs tests/realgc'

benchmark: setup
	$(BIN)/python benchmarks/tmux_hot_ops.py --markdown

clean:
	rm -rf $(VENV) .venv-wheel .venv-plain dist dist-plain build
