# fusebench: `make run` builds and runs the default workload; `make test`
# runs the tests (on real FUSE mounts, as root). See README.md.

SWIFT     ?= swift
CONFIG    ?= release
WORKLOAD  ?= workloads/mixed.json
BIN       := .build/$(CONFIG)/fusebench
APT_PKGS  := libfuse3-dev fuse3 libjson-c-dev liburing-dev pkg-config util-linux gcc fio sqlite3 git diffutils tar
# libfuse's own passthrough_ll example, built as a peer server for `make bench`.
PEER_SRC  := /usr/share/doc/libfuse3-dev/examples/passthrough_ll.c
PEER_BIN  := .build/peers/passthrough_ll
# The preload shim loaded into other servers for faults and handover (C,
# without the Swift runtime, so it is built here and not by SwiftPM); the
# harness finds it in .build/preload/ or through $FUSEBENCH_PRELOAD.
PRELOAD   := .build/preload/libfusebench-preload.so
PEER      := passthrough_ll=$(abspath $(PEER_BIN)) -f -o source={source},timeout={timeout},cache={cache},max_threads={threads} {mountpoint}
SHELL     := /bin/bash

GATE_BIN  := .build/debug/fusebench
# The gate's benchmark: gate-counts (a fixed sequence of operations: exact
# requests and bytes per operation) and gate (time, reported), on native and
# the reference server, 3 trials each.
GATE_RUN  := $(GATE_BIN) bench workloads/gate-counts.json workloads/gate.json --repeat 3 --quiet
# make gate-time: the baseline revision, built beside the tree, as a peer.
BASE      ?= HEAD~1
BASE_SRC  := .build/gate-base-src
BASE_BIN  := .build-gate-base/debug/fusebench
BASE_PEER := base=env -u FUSEBENCH_SERVER_DELAY_US -u FUSEBENCH_SERVER_FAIL_PERCENT $(abspath $(BASE_BIN)) serve \
  --source {source} --threads {threads} --entry-timeout {timeout} --attr-timeout {timeout} {mountpoint}

.PHONY: all deps build run bench bench-options hazards clients fio-check test gate gate-time baseline man clean scorecards

all: build

# Installs the system packages that are missing (Debian; as root), and the
# JSON Schema validator the tests use.
deps:
	@missing=""; for p in $(APT_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "make deps: need root to apt-get install$$missing" >&2; exit 3; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@python3 -c 'import jsonschema' 2>/dev/null || python3 -m pip install -q jsonschema

build: deps $(PEER_BIN) $(PRELOAD)
	$(SWIFT) build -c $(CONFIG)

$(PEER_BIN): $(PEER_SRC)
	@mkdir -p $(dir $@)
	gcc -Wall -O2 -o $@ $< $$(pkg-config --cflags --libs fuse3)

# libfuse's high-level examples (path-based; they pass through /, so the
# subdir module roots them at the backing directory), for the scorecards.
HL_PEERS := .build/peers/passthrough .build/peers/passthrough_fh
.build/peers/passthrough%: $(dir $(PEER_SRC))passthrough%.c
	@mkdir -p $(dir $@)
	gcc -Wall -O2 -o $@ $< -I$(dir $(PEER_SRC)) $$(pkg-config --cflags --libs fuse3)

$(PRELOAD): Sources/Preload/preload.c Sources/CFuseShim/include/fbshim_stats.h
	@mkdir -p $(dir $@)
	gcc -Wall -O2 -shared -fPIC -o $@ $< -ldl

# Restart-readiness scorecards (fusebench scorecard) of libfuse's example
# servers and of the reference server: results/scorecards/NAME.json and
# NAME.html. Each card takes a few minutes.
SCORECARDS := results/scorecards
SCORECARD_SERVERS := \
  'passthrough_ll=$(abspath $(PEER_BIN)) -f -o source={source},timeout={timeout},cache={cache} {mountpoint}' \
  'passthrough=$(abspath .build/peers/passthrough) -f -o modules=subdir,subdir={source} {mountpoint}' \
  'passthrough_fh=$(abspath .build/peers/passthrough_fh) -f -o modules=subdir,subdir={source} {mountpoint}'
scorecards: build $(HL_PEERS)
	@mkdir -p $(SCORECARDS)
	@for s in $(SCORECARD_SERVERS); do n=$${s%%=*}; \
	  $(BIN) scorecard --server "$$s" --output $(SCORECARDS)/$$n.json --html $(SCORECARDS)/$$n.html --quiet \
	    > $(SCORECARDS)/$$n.txt || exit 1; tail -12 $(SCORECARDS)/$$n.txt; done
	$(BIN) scorecard --output $(SCORECARDS)/reference.json --html $(SCORECARDS)/reference.html --quiet \
	  > $(SCORECARDS)/reference.txt
	@tail -16 $(SCORECARDS)/reference.txt

# Runs the default workload against the reference server and writes a
# result under results/.
run: build
	$(BIN) run $(WORKLOAD)

# The standard workloads on native, the reference server (FUSE passthrough
# on, its default, and off), libfuse's passthrough_ll and the null target,
# interleaved, caches off and on, 1 and 2 client threads, 5 repetitions
# (with 3 the U test's p cannot go below 0.1); one JSON with every ratio
# and its p-value. PASSTHROUGH_HP=/path/to/passthrough_hp adds a libfuse
# 3.18 passthrough_hp you built yourself as a peer (caches as its default).
BENCH_WORKLOADS := $(foreach w,metadata seqread seqwrite openclose smallfiles randread readdir-large,workloads/$(w).json)
PASSTHROUGH_HP ?=
# FUSE over io_uring as a variant where the kernel allows it (root may set
# /sys/module/fuse/parameters/enable_uring to Y).
URING_VARIANT := $(if $(shell grep -s Y /sys/module/fuse/parameters/enable_uring),--variant 'io-uring:ioUring=true')
HP_PEER := $(if $(PASSTHROUGH_HP),--peer 'passthrough_hp=$(PASSTHROUGH_HP) --foreground --num-threads {threads} {source} {mountpoint}')
bench: build
	$(BIN) bench $(BENCH_WORKLOADS) --cache-modes off,on --thread-counts 1,2 --repeat 5 \
	  --duration 1.5 --warmup 0.5 --null --peer '$(PEER)' --variant 'no-passthrough:passthrough=false' $(URING_VARIANT) $(HP_PEER) \
	  --output results/bench-latest.json

# Each server option the kernel and libfuse offer, measured against the
# reference server's default side by side, caches off and on: one JSON with
# every ratio (variant / reference; above 1.0 the option helps).
OPTION_WORKLOADS := $(foreach w,metadata seqread seqwrite smallfiles randread readdir-large,workloads/$(w).json)
OPTION_VARIANTS  := no-splice:splice=false clone-fd:cloneFd=true threads-1:threads=1 threads-8:threads=8 \
  max-write-1m:maxWrite=1MiB writeback:writebackCache=true no-readdirplus:readdirplus=false \
  no-killpriv-v2:killPrivV2=false no-xattr:xattr=false keep-flush:skipFlush=false \
  root-credentials:callerCredentials=false no-passthrough:passthrough=false no-idle-backing:idleBackingFiles=false \
  no-parallel-dirops:parallelDirops=false no-auto-inval-data:autoInvalData=false
bench-options: build
	$(BIN) bench $(OPTION_WORKLOADS) --cache-modes off,on --thread-counts 2 --repeat 3 --duration 1.5 --warmup 0.5 \
	  $(foreach v,$(OPTION_VARIANTS),--variant '$(v)') $(URING_VARIANT) --output results/bench-options-latest.json

# fio and fusebench on the same reference-server mount, equivalent
# sequential-write jobs: fails when their throughputs differ by over 10 %.
fio-check: build
	.ci/fio-check $(BIN)

# The hazard scenarios (workloads/hazards) against every restart strategy:
# one JSON with the pass/fail matrix, and the matrix as a table.
hazards: build
	$(BIN) run workloads/hazards/*.json --output results/hazards-latest.json

# Real programs (tar, git, sqlite3, a large file read back) under a kill of
# the server every second, with every restart strategy, after a native run
# for their time without FUSE: one JSON with the client-by-strategy matrix.
clients: build
	$(BIN) run workloads/clients.json --native-baseline --output results/clients-latest.json

# The man page, from the command's own help (swift-argument-parser's
# generate-manual plugin): .build/man/fusebench.1 (man -l .build/man/fusebench.1).
man:
	mkdir -p .build/man
	$(SWIFT) package plugin --allow-writing-to-directory .build/man generate-manual --output-directory .build/man

# Tests mount real file systems: they run in a private mount namespace so
# that nothing they mount can outlive them. The performance gate runs first
# (a short benchmark against the committed baseline), then the test suite.
# The suite runs under a deadline (.ci/deadline): a hang prints what every
# process is doing and fails the run instead of stalling CI. Output is
# line-buffered so that the log shows the test that was running.
TEST_DEADLINE ?= 1200
test: deps $(PEER_BIN) $(PRELOAD)
	$(SWIFT) build
	$(MAKE) --no-print-directory gate
	FUSEBENCH_OUTER_MNT_NS=$$(readlink /proc/self/ns/mnt) \
	  .ci/deadline $(TEST_DEADLINE) stdbuf -oL -eL \
	  unshare --mount --propagation private $(SWIFT) test --disable-swift-testing

# The CI performance gate, against results/baselines/ci.json: exact figures
# (FUSE requests by opcode and bytes per client operation) and failed
# operations fail it (exit 5); time is reported, not gated, because the
# baseline was measured on another machine (make gate-time gates time).
gate:
	.ci/deadline 600 $(GATE_RUN) --output .build/gate-current.json > .build/gate-bench.txt
	$(GATE_BIN) gate --baseline results/baselines/ci.json --current .build/gate-current.json \
	  --markdown .build/gate-report.md

# Time, gated where it holds: the baseline revision BASE (default HEAD~1)
# is built beside the tree and served as a peer, interleaved with the
# current reference server in one bench invocation on this machine; exit 5
# when the current tree is slower (throughput, latency; U test p < 0.05).
gate-time: deps
	$(SWIFT) build
	rm -rf $(BASE_SRC) && mkdir -p $(BASE_SRC)
	git archive $(BASE) | tar -x -C $(BASE_SRC)
	$(SWIFT) build --package-path $(BASE_SRC) --scratch-path $(abspath .build-gate-base)
	.ci/deadline 900 $(GATE_BIN) bench workloads/gate.json --repeat 5 --quiet --peer '$(BASE_PEER)' \
	  --output .build/gate-time.json > .build/gate-time-bench.txt
	$(GATE_BIN) gate --current .build/gate-time.json --baseline-target base --markdown .build/gate-time-report.md

# Re-records the gate's baseline (commit results/baselines/ci.json).
baseline:
	$(SWIFT) build
	$(GATE_RUN) --output results/baselines/ci.json

clean:
	rm -rf .build .build-gate-base
