# lomi-allocator harness. `make run` and `make test` are the two commands a newcomer needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

NODE_STAMP := node_modules/.installed
TSX := node_modules/.bin/tsx
FIXTURE ?=

.PHONY: chaos fuzz bench-deps build monitor help run test typecheck lint unit replay replay-update replay-check bench ui clean deps system-deps demo-doc patient-info

help:
	@echo "make run            start the allocator (embedded demo unless LOMI_CONFIG is set)"
	@echo "make build          compile the processes to dist/ and the dashboard to ui/dist (only what changed)"
	@echo "make test           typecheck + every test suite (installs what is missing)"
	@echo "make fuzz [SEED=n] [RUNS=n]   seeded fuzzing of every input and endpoint"
	@echo "make -s replay FIXTURE=path.json   replay a fixture, print the result JSON"
	@echo "make replay-update  regenerate the replay goldens deliberately"
	@echo "make bench          benchmarks, printed as tables with ratios"
	@echo "make demo-doc ARGS='set demo-x {\"status\":\"Data Ready\",...}'   edit the running demo's Firestore"
	@echo "make patient-info REPORT=id [FORCE=1]   (re)write patient_info.json for a report"

# npm's own output goes to stderr so `make -s replay` prints only the result.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund 1>&2
	@touch $@

deps: $(NODE_STAMP)

# Ends a recipe line that has put the Debian packages it wants in $$missing: apt installs them when
# root; otherwise they are named and the target fails.
APT_INSTALL_MISSING = if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing" 1>&2; \
	    apt-get update -qq 1>&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing 1>&2; \
	  else \
	    echo "missing system packages:$$missing (run as root, or: sudo apt-get install$$missing)" 1>&2; exit 1; \
	  fi; \
	fi

# bubblewrap runs the pipelines; chromium drives the browser tests; slurm-wlm and munge make the
# single-node cluster of test/slurm. Installed when missing and root.
system-deps:
	@missing=""; command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v slurmctld >/dev/null && command -v sbatch >/dev/null || missing="$$missing slurm-wlm"; \
	command -v munged >/dev/null || missing="$$missing munge"; \
	$(APT_INSTALL_MISSING)

# The per-run monitor (kernel/exechost/monitor.c): static when the C library allows, so its exec skips the loader.
# Beside it (order-only: built whenever the monitor is wanted), the sandbox's namespace/overlay/rlimit step
# (kernel/process/sandbox/enter.c) that replaces the unshare/mount/prlimit shell chain.
MONITOR := .build/lomi-monitor
ENTER := .build/lomi-enter
$(MONITOR): kernel/exechost/monitor.c | $(ENTER)
	@mkdir -p $(@D)
	cc -O2 -Wall -Wextra -static -o $@ $< 2>/dev/null || cc -O2 -Wall -Wextra -o $@ $<

$(ENTER): kernel/process/sandbox/enter.c
	@mkdir -p $(@D)
	cc -O2 -Wall -Wextra -static -o $@ $< 2>/dev/null || cc -O2 -Wall -Wextra -o $@ $<

monitor: $(MONITOR)

typecheck: deps
	npx tsc --noEmit -p tsconfig.json

lint: typecheck

# Compiled bundles (scripts/build.mjs, esbuild): rebuilt only when a source they may include changes.
# Each process entry point that exists is built; the launcher starts the ones it finds in dist/.
ENTRIES := kernel/main.ts kernel/launch.ts kernel/process/slurm/run-attempt.ts $(wildcard kernel/exechost/main.ts kernel/dashboard/main.ts)
BUNDLE_SOURCES := $(shell find kernel actors schemas -name '*.ts' -not -path 'kernel/replay/*') scripts/build.mjs scripts/code-cache.cjs
BUNDLE_STAMP := dist/.built
$(BUNDLE_STAMP): $(BUNDLE_SOURCES) $(NODE_STAMP)
	node scripts/build.mjs $(ENTRIES) 1>&2
	@touch $@

# The dashboard, rebuilt only when ui/ changes.
UI_STAMP := ui/dist/index.html
$(UI_STAMP): ui/index.html ui/vite.config.ts $(shell find ui/src -type f) $(NODE_STAMP)
	npx vite build --config ui/vite.config.ts 1>&2
	@touch $@

# The replay CLI, compiled like the processes: `make replay` runs JavaScript, not tsx (tsx alone held
# ~100 MB of compiler state and re-transpiled on every run). Rebuilt when the kernel or the replay changes.
REPLAY_BUNDLE := dist/kernel/replay/cli.js
$(REPLAY_BUNDLE): $(BUNDLE_SOURCES) $(wildcard kernel/replay/*.ts) $(NODE_STAMP)
	node scripts/build.mjs kernel/replay/cli.ts 1>&2

build: $(BUNDLE_STAMP) $(UI_STAMP) $(MONITOR) $(REPLAY_BUNDLE)

ui: $(UI_STAMP)

test: deps system-deps $(MONITOR) typecheck
	@status=0; npx vitest run --reporter=default --reporter=json --outputFile=.data/vitest-results.json || status=$$?; \
	node test/support/summary.mjs .data/vitest-results.json || status=1; exit $$status

# Compiled JavaScript only (no tsx): the launcher starts the host, the kernel and the dashboard server,
# restarts the kernel when it exits 75 ("restart requested"), and stops them all on Ctrl-C.
run: deps system-deps build
	node dist/kernel/launch.js $(LOMI_CONFIG)

# Seeded fuzzing of documents, fixtures, CSV, tunables, config files and every HTTP endpoint.
# A short run is part of `make test`; SEED=<n> replays a printed seed, RUNS sets the runs per property.
fuzz: deps
	LOMI_FUZZ_RUNS=$(or $(RUNS),500) $(if $(SEED),LOMI_FUZZ_SEED=$(SEED),) npx vitest run test/fuzz

# A replay allocates ~2 GB of short-lived objects per 1,000 documents: 32 MB semi-spaces scavenge 40%
# less often than the default 16 MB (111 vs 179 scavenges, half the pause time) for ~25 MB more RSS.
# The CLI runs through a V8 code cache (scripts/code-cache.cjs), written at once by a run that found none:
# most replays end before the loader's default 5 s.
replay: deps $(REPLAY_BUNDLE)
	@LOMI_CODE_CACHE_WRITE_AFTER_MS=0 node --max-semi-space-size=32 $(REPLAY_BUNDLE) "$(FIXTURE)"

replay-update: deps
	$(TSX) kernel/replay/updateGoldens.ts

# Seeded fault injection (the seed is printed; CHAOS_SEED=n reruns it). `make test` runs the short version
# (30 kernel kills, 3 host kills for the kernel chaos; 6 host kills for the execution-host chaos).
chaos: deps $(MONITOR)
	CHAOS_KERNEL_KILLS=$${CHAOS_KERNEL_KILLS:-200} CHAOS_HOST_KILLS=$${CHAOS_HOST_KILLS:-20} npx vitest run test/chaos

# The benches' own baselines and meters: Redis for BullMQ, GNU time for a whole process's CPU and peak RSS.
bench-deps:
	@missing=""; command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	[ -x /usr/bin/time ] || missing="$$missing time"; \
	$(APT_INSTALL_MISSING)

bench: deps system-deps bench-deps build
	$(if $(BENCHES),LOMI_BENCHES=$(BENCHES),) $(TSX) test/bench/run.ts

# ARGS reaches the script through the environment, untouched: the shell would strip the JSON's quotes.
demo-doc: export LOMI_DEMO_DOC_ARGS = $(ARGS)
demo-doc: deps
	$(TSX) kernel/firestore/demo-doc.ts --data-dir "$(or $(DATA_DIR),.data)" --args-from-env

patient-info: deps
	$(TSX) kernel/cli/patientInfo.ts "$(REPORT)" $(if $(FORCE),--force,)

clean:
	rm -rf .data .build ui/dist node_modules/.installed
