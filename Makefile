# Thin wrapper over CMake/ctest. `make demo` and `make test` work on a fresh Debian 12 machine.
BUILD      ?= build
BUILD_ASAN ?= build-asan
JOBS       ?= $(shell nproc)
SEEDS      ?= 1000
SEED       ?= 1
STEPS      ?= 2000
DURATION   ?= 300
BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 600
FUZZ_PARALLEL ?= $(JOBS)

.PHONY: all deps build build-asan test test-unit test-integration demo stop sim clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/Makefile
	$(MAKE) -C $(BUILD) -j$(JOBS) --no-print-directory

$(BUILD_ASAN)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DCFS_SANITIZE=ON

build-asan: deps $(BUILD_ASAN)/Makefile
	$(MAKE) -C $(BUILD_ASAN) -j$(JOBS) --no-print-directory

# Unit tests and the Raft simulator, normal and under ASan/UBSan, then the integration tests
# that start real clusters (one at a time: they share the machine's two cores).
test: build build-asan
	ctest --test-dir $(BUILD) -LE integration --output-on-failure -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(BUILD_ASAN) -L 'unit|sim' --output-on-failure -j$(JOBS)
	ctest --test-dir $(BUILD) -L integration --output-on-failure --repeat until-pass:2

test-unit: build
	ctest --test-dir $(BUILD) -LE integration --output-on-failure -j$(JOBS)

test-integration: build
	ctest --test-dir $(BUILD) -L integration --output-on-failure

# Raft simulator: SEEDS seeds starting at SEED, STEPS steps each.
sim: build
	$(BUILD)/bin/raft_sim --seeds $(SEEDS) --seed $(SEED) --steps $(STEPS)

demo: build
	CHUNKFS_BIN=$(CURDIR)/$(BUILD)/bin bash scripts/local-cluster.sh demo

stop:
	CHUNKFS_BIN=$(CURDIR)/$(BUILD)/bin bash scripts/local-cluster.sh stop

# Randomized fault injection for DURATION seconds from SEED (tests/chaos/chaos.sh; needs
# root). Ends with "chaos: seed=S duration=Ns operations=N faults=N lost=N corrupt=N".
.PHONY: chaos
chaos: build
	CHUNKFS_BIN=$(CURDIR)/$(BUILD)/bin CHUNKFS_SRC=$(CURDIR) bash tests/chaos/chaos.sh $(SEED) $(DURATION)

# Side-by-side benchmark with MooseFS and a local directory (bench/run.sh; needs root).
.PHONY: bench
bench: build
	CHUNKFS_BIN=$(CURDIR)/$(BUILD)/bin bash bench/run.sh

# libFuzzer runs of every fuzz target (tests/fuzz; clang: scripts/install-deps.sh --fuzz), each
# for FUZZ_SECONDS, FUZZ_PARALLEL at a time; one summary line per target.
.PHONY: fuzz
fuzz:
	bash scripts/install-deps.sh --fuzz
	bash tests/fuzz/run-libfuzzer.sh $(BUILD_FUZZ) $(FUZZ_SECONDS) $(FUZZ_PARALLEL)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
