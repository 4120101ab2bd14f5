# Thin wrapper over the CMake presets (CMakePresets.json).
#   make demo         build (release) and run gomap-bench --quick: gomap
#                     against the peers that are installed (it tries to
#                     install them first; see make bench-peers), then the
#                     sync map against a locked map and Go's sync.Map, then
#                     the strategies matrix (sharded, snapshot and sync maps
#                     against tbb::concurrent_hash_map and Go), then the cache
#                     suite (the cache against Caffeine, Ristretto and
#                     golang-lru; its expiry and memory figures)
#   make test         lint, then build and run the whole suite: release, asan,
#                     tsan, then a short libFuzzer run (fuzz preset, clang)
#   make lint         clang-tidy and cppcheck over src/ and examples/ (the
#                     lint preset: configured, not compiled; zero findings)
#   make bench-peers  install the benchmark peers (absl, GLib, uthash, oneTBB, Go,
#                     Ristretto, golang-lru, Caffeine and a JDK)
# Missing Debian packages are installed first (scripts/install-deps.sh).

PRESETS_TEST := release asan tsan fuzz

.PHONY: demo test lint test-lint bench-peers deps-build deps-test deps-lint clean

demo: deps-build
	-@scripts/install-deps.sh peers
	$(MAKE) build-release
	./build/release/bench/gomap-bench --quick
	./build/release/bench/gomap-bench --suite sync --quick
	./build/release/bench/gomap-bench --suite strategies --quick
	./build/release/bench/gomap-bench --suite cache --quick

test: deps-test test-lint $(addprefix test-,$(PRESETS_TEST))
	@echo "gomap: lint and all test presets passed ($(PRESETS_TEST))"

lint: deps-lint test-lint

bench-peers:
	@scripts/install-deps.sh peers

deps-build:
	@scripts/install-deps.sh build

deps-test:
	@scripts/install-deps.sh test

deps-lint:
	@scripts/install-deps.sh lint

build-%:
	cmake --preset $* >/dev/null
	cmake --build --preset $*

test-%: build-%
	ctest --preset $*

# The lint preset is only configured (nothing is compiled); building its
# target runs clang-tidy and cppcheck (scripts/lint.sh).
test-lint:
	cmake --preset lint >/dev/null
	cmake --build --preset lint

clean:
	rm -rf build
