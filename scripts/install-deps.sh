#!/bin/sh
# Installs the Debian packages the build and the test suite need, if any are
# missing. As root it runs apt-get; otherwise it prints the exact command and
# fails. Why each package is needed: docs/dependencies.md.
#
# usage: scripts/install-deps.sh [build|peers|lint|test]
#   build  the library, examples, gomap-bench and gomap-cachesim, and gnuplot
#          and python3 for the charts (bench/cache/hit_ratio_chart.sh, and
#          scripts/charts.sh, which make demo runs last)
#   peers  the benchmark peers gomap-bench compares with (absl, GLib, uthash,
#          oneTBB, Go; for the cache suite Ristretto and golang-lru in Go and
#          Caffeine in Java); each is compiled in only when present
#   lint   the static analysers of the lint preset (clang-tidy, cppcheck)
#   test   everything the suite needs, peers and analysers included (the
#          benchmark's output test checks that every peer agrees with gomap),
#          and pkg-config, with which the install test builds programs
#          against an installed gomap
set -eu

build_pkgs="gcc g++ make cmake ninja-build libc6-dev binutils libxxhash-dev liburcu-dev libmicrohttpd-dev xz-utils gnuplot-nox python3"
peer_pkgs="pkg-config libabsl-dev libglib2.0-dev uthash-dev libtbb-dev golang-go
  golang-github-dgraph-io-ristretto-dev golang-github-hashicorp-golang-lru-dev
  default-jdk-headless libcaffeine-java"
test_pkgs="pkg-config clang libclang-rt-14-dev libxml2-utils librsvg2-bin python3 prometheus"
lint_pkgs="clang-tidy cppcheck"

case "${1:-test}" in
  build) want="$build_pkgs" ;;
  peers) want="$build_pkgs $peer_pkgs" ;;
  lint)  want="$build_pkgs $lint_pkgs" ;;
  test)  want="$build_pkgs $peer_pkgs $test_pkgs $lint_pkgs" ;;
  *) echo "usage: $0 [build|peers|lint|test]" >&2; exit 2 ;;
esac

# pkg-config and python3 are in two lists: ask for each package once.
# shellcheck disable=SC2086 # one package a word
want=$(printf '%s\n' $want | awk '!seen[$0]++')

missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

cmd="apt-get update && apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
  echo "gomap: missing Debian packages:$missing" >&2
  echo "gomap: run as root:  $cmd" >&2
  exit 1
fi
echo "gomap: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends $missing >&2
