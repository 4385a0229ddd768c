# Thin wrapper over CMake. `make demo` and `make test` work on a fresh machine:
# both install what they need first (scripts/setup).
JOBS ?= $(shell nproc)
WERROR := $(if $(CI),ON,OFF)

.PHONY: all setup build build-asan test demo bench format format-check clean

all: build

setup:
	@scripts/setup

build: setup
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPUNCH_WERROR=$(WERROR) >/dev/null
	@cmake --build build -j $(JOBS)

build-asan: setup
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPUNCH_SANITIZE=ON -DPUNCH_WERROR=$(WERROR) >/dev/null
	@cmake --build build-asan -j $(JOBS)

SOURCES = $(shell find src tests -name '*.cpp' -o -name '*.hpp')

format:
	@clang-format -i $(SOURCES)

format-check: setup
	@clang-format --dry-run --Werror $(SOURCES) && echo "format: ok"

# Every test twice: optimised, then under ASan+UBSan.
test: format-check build build-asan
	@echo "== tests (RelWithDebInfo)"
	@cd build && ctest --output-on-failure -j 1
	@echo "== tests (ASan+UBSan)"
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1 PUNCH_SANITIZED=1 ctest --output-on-failure -j 1

demo: build
	@scripts/demo build/punch

# Throughput, CPU and memory figures (bench/README.md): printed, never asserted.
bench: build
	@scripts/setup --bench
	@PUNCH_BIN=build/punch bench/run

clean:
	rm -rf build build-asan
