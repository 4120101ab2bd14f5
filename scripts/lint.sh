#!/bin/sh
# Static analysis of the library (src/) and the examples (examples/):
# clang-tidy with the checks in .clang-tidy, then cppcheck with the
# suppressions in .cppcheck-suppressions. Any finding fails the run.
#
# usage: scripts/lint.sh [build-dir]      (default: build/lint)
#
# The build directory only needs to be configured: both tools read its
# compile_commands.json, nothing is compiled. The lint preset configures one
# at assertion level 2, so the debug-only checks are analysed too:
#     cmake --preset lint && cmake --build --preset lint      (or: make lint)
# GOMAP_LINT_JOBS sets the parallel jobs (default 2).
set -eu

cd "$(dirname "$0")/.."
build=${1:-build/lint}
jobs=${GOMAP_LINT_JOBS:-2}
db="$build/compile_commands.json"
if [ ! -f "$db" ]; then
    echo "lint: $db not found; configure first: cmake --preset lint" >&2
    exit 2
fi
for tool in clang-tidy cppcheck; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "lint: $tool not found: run scripts/install-deps.sh lint" >&2
        exit 2
    fi
done

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT INT TERM
start=$(date +%s)

# clang-tidy, one process per file, $jobs at a time, largest files first (so
# that a long one does not run last and alone). Each file's report goes to a
# file of its own so that parallel runs do not interleave.
find src examples -name '*.c' -exec ls -S {} + >"$out/files"
nfiles=$(wc -l <"$out/files")
tidy_status=0
# shellcheck disable=SC2016 # the inner sh expands $1, $2, $3
xargs -P "$jobs" -I '{}' sh -c \
    'clang-tidy --quiet -p "$1" "$2" >"$3/$(echo "$2" | tr / _).log" 2>&1' \
    sh "$build" '{}' "$out" <"$out/files" || tidy_status=$?
# Keep the findings and the notes explaining them, each finding once (one in
# a header is found by every file that includes it); drop clang's "N
# warnings generated." lines (warnings in headers outside the filter).
cat "$out"/*.log |
    grep -v -E '^[0-9]+ (warning|error)s? (and [0-9]+ (warning|error)s? )?generated\.$' |
    awk '/^[^ ].*: (warning|error): / { skip = ($0 in seen); seen[$0] = 1 } !skip' \
    >"$out/tidy" || true
tidy_findings=$(grep -c -E '^[^ ].*: (warning|error): ' "$out/tidy" || true)
if [ "$tidy_findings" -ne 0 ] || [ "$tidy_status" -ne 0 ]; then
    cat "$out/tidy"
fi
echo "lint: clang-tidy: $nfiles files, $tidy_findings findings ($(( $(date +%s) - start )) s)"

# cppcheck, with the preprocessor settings of the same build. One
# configuration per file (the build's), which keeps it fast. Paths are made
# absolute for the filters and reported relative to the source tree, which
# is what the suppressions name.
mid=$(date +%s)
top=$(pwd)
db_abs="$(cd "$build" && pwd)/compile_commands.json"
cppcheck_status=0
cppcheck --project="$db_abs" --relative-paths="$top" \
    --file-filter="$top/src/*" --file-filter="$top/examples/*" \
    --std=c11 --library=posix --enable=warning,style,performance,portability \
    --inline-suppr --suppressions-list=.cppcheck-suppressions \
    --error-exitcode=1 --quiet -j "$jobs" \
    --template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
    >"$out/cppcheck" 2>&1 || cppcheck_status=$?
cppcheck_findings=$(grep -c -E ': (error|warning|style|performance|portability|information): ' \
    "$out/cppcheck" || true)
if [ "$cppcheck_findings" -ne 0 ] || [ "$cppcheck_status" -ne 0 ]; then
    cat "$out/cppcheck"
fi
echo "lint: cppcheck: $cppcheck_findings findings ($(( $(date +%s) - mid )) s)"

total=$(( tidy_findings + cppcheck_findings ))
if [ "$total" -ne 0 ] || [ "$tidy_status" -ne 0 ] || [ "$cppcheck_status" -ne 0 ]; then
    echo "lint: FAILED: $total findings ($(( $(date +%s) - start )) s)" >&2
    exit 1
fi
echo "lint: passed, zero findings ($(( $(date +%s) - start )) s)"
