# Thin entry points; CMake presets do the real work (CMakePresets.json).
#   make run    install what is missing, build, start sovd in dev mode (DATA_DIR=.sovd-dev)
#   make test   install what is missing, build, run every test
#   make bench  build and run the benchmarks (bench/)
#   make deps   install missing Debian packages and node tools only
#   make lint   buf lint over proto/
PRESET   ?= dev
BUILD    := build/$(PRESET)
DATA_DIR ?= .sovd-dev
JOBS     ?= $(shell nproc)

.PHONY: all deps configure build run test bench lint clean

all: build

deps:
	@scripts/deps.sh

configure: deps
	@cmake --preset $(PRESET) --log-level=WARNING

build: configure
	@cmake --build --preset $(PRESET) -j $(JOBS)

run: build
	$(BUILD)/gateway/sovd --dev --data-dir $(DATA_DIR)

test: build
	ctest --preset $(PRESET) -j $(JOBS)

bench: build
	@scripts/deps.sh --bench
	cmake --build --preset $(PRESET) --target bench

lint: deps
	tools/node_modules/.bin/buf lint

clean:
	rm -rf $(BUILD)
