# Thin wrapper over the CMake presets (CMakePresets.json).
#   make demo         build (release) and run gomap-bench --quick: gomap
#                     against the peers that are installed (it tries to
#                     install them first; see make bench-peers), then the
#                     sync map against a locked map and Go's sync.Map, then
#                     the strategies matrix (sharded, snapshot, sync and
#                     delegation maps against tbb::concurrent_hash_map,
#                     liburcu's cds_lfht and Go), then the cache suite (the
#                     cache against Caffeine, Ristretto and golang-lru; its
#                     expiry and memory figures); last, charts of the core
#                     suite and the strategies matrix from those runs, in
#                     build/demo/charts (skipped if gnuplot fails)
#   make charts       run the core suite and the strategies matrix (default
#                     profile, several minutes) and draw docs/charts/*.svg
#                     and *.png (scripts/charts.sh; docs/bench.md, "Charts")
#   make test         lint, then build and run the whole suite: release, asan,
#                     tsan, then a short libFuzzer run (fuzz preset, clang)
#   make lint         clang-tidy and cppcheck over src/ and examples/ (the
#                     lint preset: configured, not compiled; zero findings)
#   make bench-peers  install the benchmark peers (absl, GLib, uthash, oneTBB, Go,
#                     Ristretto, golang-lru, Caffeine and a JDK)
# Missing Debian packages are installed first (scripts/install-deps.sh).

PRESETS_TEST := release asan tsan fuzz

.PHONY: demo charts test lint test-lint bench-peers deps-build deps-test deps-lint clean

demo: deps-build
	-@scripts/install-deps.sh peers
	$(MAKE) build-release
	@mkdir -p build/demo
	./build/release/bench/gomap-bench --quick --json-out build/demo/core.json
	./build/release/bench/gomap-bench --suite sync --quick
	./build/release/bench/gomap-bench --suite strategies --quick --json-out build/demo/strategies.json
	./build/release/bench/gomap-bench --suite cache --quick
	@scripts/charts.sh --json-dir build/demo --data build/demo/data --out build/demo/charts \
	  && echo "gomap: charts of these runs in build/demo/charts/ (SVG and PNG)" \
	  || echo "gomap: the charts were not drawn (scripts/charts.sh failed; see above)"

charts: deps-build
	-@scripts/install-deps.sh peers
	$(MAKE) build-release
	scripts/charts.sh

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
