# Thin wrapper over the CMake presets (CMakePresets.json).
#   make demo   build (release) and run the demo program
#   make test   build and run the whole suite: release, asan, tsan, then a
#               short libFuzzer run (fuzz preset, clang)
# Missing Debian packages are installed first (scripts/install-deps.sh).

PRESETS_TEST := release asan tsan fuzz

.PHONY: demo test deps-build deps-test clean

demo: deps-build build-release
	./build/release/examples/gomap-demo

test: deps-test $(addprefix test-,$(PRESETS_TEST))
	@echo "gomap: all test presets passed ($(PRESETS_TEST))"

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
