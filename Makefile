# Thin wrapper over the CMake presets (CMakePresets.json).
#   make demo         build (release) and run gomap-bench --quick: gomap
#                     against the peers that are installed (it tries to
#                     install them first; see make bench-peers), then the
#                     sync map against a locked map and Go's sync.Map, then
#                     the strategies matrix (sharded, snapshot and sync maps
#                     against tbb::concurrent_hash_map and Go)
#   make test         build and run the whole suite: release, asan, tsan, then
#                     a short libFuzzer run (fuzz preset, clang)
#   make bench-peers  install the benchmark peers (absl, GLib, uthash, oneTBB, Go)
# Missing Debian packages are installed first (scripts/install-deps.sh).

PRESETS_TEST := release asan tsan fuzz

.PHONY: demo test bench-peers deps-build deps-test clean

demo: deps-build
	-@scripts/install-deps.sh peers
	$(MAKE) build-release
	./build/release/bench/gomap-bench --quick
	./build/release/bench/gomap-bench --suite sync --quick
	./build/release/bench/gomap-bench --suite strategies --quick

test: deps-test $(addprefix test-,$(PRESETS_TEST))
	@echo "gomap: all test presets passed ($(PRESETS_TEST))"

bench-peers:
	@scripts/install-deps.sh peers

deps-build:
	@scripts/install-deps.sh build

deps-test:
	@scripts/install-deps.sh test

build-%:
	cmake --preset $* >/dev/null
	cmake --build --preset $*

test-%: build-%
	ctest --preset $*

clean:
	rm -rf build
