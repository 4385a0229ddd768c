# Thin wrapper over CMake. `make demo` and `make test` work on a fresh machine:
# both install what they need first (scripts/setup).
JOBS ?= $(shell nproc)
WERROR := $(if $(CI),ON,OFF)

.PHONY: all setup configure build build-asan test test-unit test-sim test-fuzz \
        test-integration test-lab test-adversarial demo bench format format-check clean

all: build

setup:
	@scripts/setup

configure: setup
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPUNCH_WERROR=$(WERROR) >/dev/null

build: configure
	@cmake --build build -j $(JOBS)

build-asan: setup
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPUNCH_SANITIZE=ON -DPUNCH_WERROR=$(WERROR) >/dev/null
	@cmake --build build-asan -j $(JOBS)

SOURCES = $(shell find src tests -name '*.cpp' -o -name '*.hpp')

format:
	@clang-format -i $(SOURCES)

format-check: setup
	@clang-format --dry-run --Werror $(SOURCES) && echo "format: ok"

# Builds and runs every test in both trees, the trees at once (scripts/test): the
# optimised tree runs unit, sim, fuzz, integration, the NAT lab and the adversarial
# suite; the ASan+UBSan tree all but the lab and the adversarial suite.
test: format-check configure
	@JOBS=$(JOBS) WERROR=$(WERROR) scripts/test

# One kind of test in the optimised tree (CTest labels): e.g. `make test-unit`.
test-unit test-sim test-fuzz test-integration test-lab test-adversarial: test-%: build
	@cd build && ctest --output-on-failure -j $(JOBS) -L '^$*$$'

# Builds only the binary it runs.
demo: configure
	@cmake --build build -j $(JOBS) --target punch
	@scripts/demo build/punch

# Throughput, CPU and memory figures (bench/README.md): printed, never asserted.
bench: build
	@scripts/setup --bench
	@PUNCH_BIN=build/punch bench/run

clean:
	rm -rf build build-asan
