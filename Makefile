# The two commands of the README: `make run` and `make test`. Everything else is CMake.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
ARGS ?=

.PHONY: run test build deps test-deps clean

deps:
	./scripts/install-deps.sh

test-deps:
	./scripts/install-deps.sh --test

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j$(JOBS) --target edgemq

# Builds and starts the broker in the foreground: MQTT on 127.0.0.1:1883 (loopback only, anonymous
# clients allowed), data under ./data. Open it up with e.g.
#   make run ARGS="--listen 0.0.0.0:1883 --password-file ./passwd"   (docs/security.md)
run: build
	./$(BUILD_DIR)/src/app/edgemq --data-dir ./data $(ARGS)

# Builds everything and runs the whole test suite (unit, integration with real clients).
test: test-deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j$(JOBS)
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS) --timeout 300

clean:
	rm -rf $(BUILD_DIR)
