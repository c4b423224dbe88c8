# The commands of the README's quick start:
#   make demo   set everything up, then drive gc-session-tmux as Gas City does
#   make check  lint and the fast tests on the checkout (the inner loop: a few minutes)
#   make test   set everything up, then run every test once (what CI runs)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PACKAGES := protocol providers gc_session_k8s gc_beads_k8s
# Tests run in parallel, idle workers stealing queued tests (pytest-xdist); XDIST=-n0 runs
# them one at a time. Two workers per core: most tests wait on what they started (tmux
# servers, pods, the API server bed), and one worker per core kept 2 cores a quarter busy.
WORKERS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) * 2 )))
XDIST ?= -n $(WORKERS) --dist worksteal
PYTEST := -p no:cacheprovider $(XDIST)

.PHONY: setup demo check fast-tests test lint checkout-smoke portable-tests installed-tests \
	wheel-venv wheel-pass wheel-portable \
	smoke-plain-install benchmark conformance-transports real-gc-tests realkube-tests \
	realkube-all-suites clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# tmux is the one system tool the providers need; everything else comes from PyPI, but for
# promtool and prometheus (Debian's prometheus package), which tests/metrics runs.
setup: $(BIN)/python
	@command -v tmux >/dev/null || (apt-get update -qq && apt-get install -y -qq tmux)
	@command -v promtool >/dev/null || (apt-get update -qq && \
	    apt-get install -y -qq --no-install-recommends prometheus)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@# Bytecode now: with PYTHONDONTWRITEBYTECODE set, every call would recompile.
	$(BIN)/python -m compileall -q $(PACKAGES) >/dev/null

demo: setup
	$(BIN)/python examples/demo/demo.py

# Every test once, in one parallel run against the installed wheel (what users get; the real
# API server tier included), in the foreground; beside it, quietly, the lint, the portable
# process paths forced for the tests marked `portable`, a smoke pass proving the checkout's
# editable install works and the plain install's smoke (.ci/alongside prints each one's
# output when it ends, and fails the run when one failed).
test: setup wheel-venv
	bash .ci/alongside lint checkout-smoke wheel-portable smoke-plain-install -- \
	    $(MAKE) --no-print-directory wheel-pass

check: setup lint fast-tests

# The inner loop: every test not marked slow, docker or realkube, on the checkout.
fast-tests:
	$(BIN)/pytest $(PYTEST) -m 'not realkube and not slow and not docker'

lint:
	$(BIN)/ruff check .
	$(BIN)/mypy
	MYPY=$(CURDIR)/$(BIN)/mypy bash .ci/mypy-tests
	$(BIN)/lint-imports

# The checkout's editable install imports and runs: each executable through a few tests
# (the whole suite runs against the wheel: installed-tests).
checkout-smoke:
	$(BIN)/pytest $(PYTEST) tests/tmux/test_tmux_lifecycle.py tests/k8s/test_hot_ops.py \
	    tests/beads/test_beads_doctor_json.py tests/unit/test_unit_reference_doc.py

# gc-session-k8s against a real kube-apiserver (+ etcd, kube-controller-manager and a
# node agent that runs pods as host processes), built from tests/realkube's Go module
# into ~/.cache/gc-providers/realkube (warm: a hash; cold: minutes, see docs/test-bed.md).
# The bed's binaries are built (or found) first, and the node agent's own Go tests run.
REALKUBE_BED = REALKUBE_BIN="$$(sh .ci/build-realkube)" && export REALKUBE_BIN && \
	    { ! command -v go >/dev/null || (cd tests/realkube && go test ./cmd/node-agent); }
# The tier alone, on the checkout (make test runs it with everything else, on the wheel).
realkube-tests: setup
	$(REALKUBE_BED) && $(BIN)/pytest $(PYTEST) --durations=10 -m realkube tests/realkube

# Only the conformance tests against the real API server as the least-privilege
# controller: every session suite of the kit, START-005 and CANCEL-* (realkube-tests runs them too).
realkube-all-suites: setup
	REALKUBE_BIN="$$(sh .ci/build-realkube)" && export REALKUBE_BIN && \
	    $(BIN)/pytest -p no:cacheprovider -m realkube tests/realkube/test_realkube_conformance.py

# macOS has no memfd, pidfd or /proc: gc-session-tmux then takes its portable
# paths (ps, unlinked temp files, waitpid). With no Mac in CI, force those paths
# on Linux and run again the tests that exercise them (marked `portable`: the kit
# run against gc-session-tmux, start, stop, process-alive, doctor and the paths' own
# tests), against the wheel as installed-tests left it.
portable-tests: wheel-venv
	$(MAKE) --no-print-directory wheel-portable
wheel-portable:
	cd /tmp && GC_PORTABLE=1 GC_TEST_INSTALLED=1 $(CURDIR)/.venv-wheel/bin/pytest $(PYTEST) --durations=5 \
	    -m 'portable and not realkube' --rootdir=$(CURDIR) -c $(CURDIR)/pyproject.toml $(CURDIR)/tests

# Every test against the built wheel in a fresh venv: a module missing from the wheel fails
# here. Run from outside the checkout so nothing imports it.
installed-tests: wheel-venv
	$(MAKE) --no-print-directory wheel-pass
wheel-venv:
	rm -rf dist .venv-wheel
	$(BIN)/pip wheel -q --no-deps -w dist .
	$(PYTHON) -m venv .venv-wheel
	.venv-wheel/bin/pip install -q "$$(ls dist/*.whl)[test]"
wheel-pass:
	$(REALKUBE_BED) && cd /tmp && GC_TEST_INSTALLED=1 bash $(CURDIR)/.ci/with-docker \
	    $(CURDIR)/.venv-wheel/bin/pytest $(PYTEST) --durations=15 \
	    --rootdir=$(CURDIR) -c $(CURDIR)/pyproject.toml $(CURDIR)/tests

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
