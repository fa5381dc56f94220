# Common tasks. `make help` lists them.
SHELL := /bin/bash
BUILD ?= build
JOBS ?= $(shell nproc)
export JOBS

.PHONY: help setup build test unit demo demo-server bench openapi nodes-doc format format-check clean docker-build docker-deploy docker-down install deb coverage

help: ## List the targets (docker-*: the telemetry stack, see docs/deploy.md)
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

setup: ## Install every Debian package the build, tests and demo need (idempotent)
	bash scripts/setup.sh

build: setup ## Configure and build everything into ./build
	bash scripts/build.sh $(BUILD)

install: build ## Install into PREFIX (default /usr/local): cmake --install $(BUILD) --prefix $(PREFIX) --strip
	cmake --install $(BUILD) --prefix $(or $(PREFIX),/usr/local) --strip

deb: build ## Build the Debian package into $(BUILD)/pkg (cpack -G DEB; see README "Install")
	cd $(BUILD) && cpack -G DEB -B pkg

test: ## Set up and run all tests (what CI runs)
	bash scripts/test.sh

unit: build ## Build and run only the unit tests
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) -L unit

demo: ## Set up, build and run the main job (see README)
	bash scripts/demo.sh

demo-server: ## Start the streaming server with the examples and print the URL (docs/streaming.md)
	bash scripts/demo-server.sh

bench: build ## Run the benchmarks (numbers go in docs/benchmarks.md)
	bash scripts/bench.sh $(BUILD)

coverage: setup ## Line and branch coverage of unit + integration tests per module, HTML in build-coverage/coverage/
	bash scripts/coverage.sh

openapi: build ## Write docs/openapi.json from the API gateway's route table
	$(BUILD)/apps/api-gateway/api-gateway --print-openapi > docs/openapi.json

nodes-doc: build ## Write docs/nodes.md from the native node registry
	$(BUILD)/apps/remotemedia/remotemedia nodes --format markdown > docs/nodes.md

format: ## clang-format every C++ file
	git ls-files '*.cpp' '*.hpp' '*.h' | xargs clang-format -i

format-check: ## Fail listing every C++ file that is not clang-formatted (scripts/format-check.sh)
	bash scripts/format-check.sh

clean: ## Remove build directories
	rm -rf build build-*

docker-build: ## Build the Docker images telemetry-streamer, telemetry-collector, api-gateway (TAG=latest)
	bash deploy/docker/build-and-push.sh --no-push -t $(or $(TAG),latest)

docker-deploy: ## Run the telemetry Docker Compose stack with resource limits, wait until healthy
	bash deploy/docker/setup.sh -d --limits

docker-down: ## Stop the telemetry Docker Compose stack (keeps the data volume)
	bash deploy/docker/setup.sh --down
