#!/bin/sh
# Installs gomap into a fresh prefix inside the build tree and builds the
# examples against it out of tree, the three ways README.md's "Use it in
# your project" shows, then runs them:
#   1. pkg-config, shared:  cc ... $(pkg-config --cflags --libs gomap),
#      run with LD_LIBRARY_PATH pointing at the prefix;
#   2. pkg-config, static:  cc ... $(pkg-config --static --libs gomap) with
#      -lgomap taken from libgomap.a, so libgomap.a must link with nothing
#      but what gomap.pc lists (the system's libraries stay shared:
#      libmicrohttpd's dependencies have no static archives on Debian);
#   3. CMake: tests/install/CMakeLists.txt, find_package(gomap) with
#      gomap::gomap (shared) and gomap::gomap_static.
# Each build runs demo (which checks gomap_version() against the headers),
# sync_registry, and race_report, which must die with gomap's report, its
# frames symbolized with file:line when the library has libbacktrace in it.
# The install itself is checked too: every public header, the library's
# names and SONAME, gomap.pc and the CMake package, and nothing else
# (gomap-bench is installed only on request).
#
# usage: check_install.sh BUILD_DIR SOURCE_DIR WORK_DIR CMAKE GENERATOR CC
#                         LIBDIR INCLUDEDIR HAVE_LIBBACKTRACE(0|1)
# Everything it writes is under WORK_DIR (temporary files included), which
# it empties first.
set -eu

[ $# -eq 9 ] || { echo "usage: $0 BUILD_DIR SOURCE_DIR WORK_DIR CMAKE GENERATOR CC LIBDIR INCLUDEDIR HAVE_LIBBACKTRACE" >&2; exit 2; }
build=$1 src=$2 work=$3 cmake=$4 generator=$5 cc=$6 libdir=$7 includedir=$8 backtrace=$9

fail() { echo "check_install: FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }
# Shows a log and fails.
fail_log() { msg=$1; log=$2; cat "$log" >&2; fail "$msg"; }

case "$libdir$includedir" in
  /*) fail "CMAKE_INSTALL_LIBDIR/INCLUDEDIR are absolute ($libdir, $includedir): cannot install into a temporary prefix" ;;
esac
case "$work" in
  "$build"/*) ;;
  *) fail "WORK_DIR $work is not inside the build directory $build" ;;
esac
command -v pkg-config >/dev/null || fail "pkg-config is not installed (scripts/install-deps.sh test)"
command -v readelf >/dev/null || fail "readelf is not installed (binutils)"

rm -rf "$work"
mkdir -p "$work/tmp"
TMPDIR="$work/tmp"
export TMPDIR
# race_report aborts on purpose: no core file (dash and bash have ulimit -c)
# shellcheck disable=SC3045
ulimit -c 0 2>/dev/null || true
prefix="$work/prefix"
lib="$prefix/$libdir"

version=$(sed -n 's/^#define GOMAP_VERSION_STRING "\(.*\)"$/\1/p' "$src/include/gomap/version.h")
major=${version%%.*}
[ -n "$version" ] || fail "no GOMAP_VERSION_STRING in $src/include/gomap/version.h"

step "cmake --install $build --prefix $prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1 ||
  fail_log "cmake --install failed" "$work/install.log"

step "installed files (gomap $version)"
want="$includedir/gomap.h"
for h in "$src"/include/gomap/*.h; do want="$want $includedir/gomap/${h##*/}"; done
want="$want $libdir/libgomap.so $libdir/libgomap.so.$major $libdir/libgomap.so.$version"
want="$want $libdir/libgomap.a $libdir/pkgconfig/gomap.pc"
want="$want $libdir/cmake/gomap/gomapConfig.cmake $libdir/cmake/gomap/gomapConfigVersion.cmake"
want="$want $libdir/cmake/gomap/gomapTargets.cmake"
for f in $want; do
  [ -e "$prefix/$f" ] || fail "not installed: $f"
done
extra=$(cd "$prefix" && find . ! -type d | sed 's|^\./||' | while read -r f; do
  case " $want " in *" $f "*) ;; *) case "$f" in "$libdir"/cmake/gomap/gomapTargets-*.cmake) ;; *) echo "$f" ;; esac ;; esac
done)
[ -z "$extra" ] || fail "installed but not part of the library: $extra"
[ "$(readlink "$lib/libgomap.so")" = "libgomap.so.$major" ] || fail "libgomap.so does not point to libgomap.so.$major"
readelf -d "$lib/libgomap.so.$version" | grep -q "Library soname: \[libgomap.so.$major\]" ||
  fail "SONAME of libgomap.so.$version is not libgomap.so.$major"
sh "$src/tests/check_exports.sh" "$lib/libgomap.so.$version" "$lib/libgomap.a"

# Runs the three examples built in DIR (names NAME_SUFFIX) with the
# environment in ENV (an env(1) argument list).
run_examples() {
  dir=$1 suffix=$2
  shift 2
  step "run $dir/*$suffix"
  env "$@" "$dir/demo$suffix" >"$dir/demo.log" 2>&1 || fail_log "demo$suffix failed" "$dir/demo.log"
  grep -q "(gomap $version)" "$dir/demo.log" || fail_log "demo$suffix does not run gomap $version" "$dir/demo.log"
  env "$@" "$dir/sync_registry$suffix" >"$dir/sync_registry.log" 2>&1 ||
    fail_log "sync_registry$suffix failed" "$dir/sync_registry.log"
  echo "race_report$suffix: must abort with gomap's report (the shell may say 'Aborted')"
  rc=0
  (cd "$dir" && env "$@" "./race_report$suffix") >"$dir/race_report.log" 2>&1 || rc=$?
  [ "$rc" -eq 134 ] || fail_log "race_report$suffix exited $rc, not 134 (SIGABRT)" "$dir/race_report.log"
  grep -q "^fatal error: concurrent map writes" "$dir/race_report.log" ||
    fail_log "race_report$suffix: no 'fatal error: concurrent map writes'" "$dir/race_report.log"
  if [ "$backtrace" = 1 ]; then
    grep -q "writer_thread (.*race_report\.c:[0-9]" "$dir/race_report.log" ||
      fail_log "race_report$suffix: the report's frames have no file:line (libbacktrace missing?)" "$dir/race_report.log"
  fi
}

# NEEDED entries of a binary, one a line ("" for a static one).
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }

PKG_CONFIG_PATH="$lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export PKG_CONFIG_PATH
step "pkg-config gomap"
[ "$(pkg-config --modversion gomap)" = "$version" ] || fail "pkg-config --modversion gomap is not $version"
[ "$(pkg-config --variable=prefix gomap)" = "$prefix" ] || fail "pkg-config found a gomap.pc outside $prefix"
cflags=$(pkg-config --cflags gomap)
echo "pkg-config --cflags gomap:         $cflags"
echo "pkg-config --libs gomap:           $(pkg-config --libs gomap)"
echo "pkg-config --static --libs gomap:  $(pkg-config --static --libs gomap)"

# Builds the examples into DIR with pkg-config's flags; the rest of the
# arguments go at the end of the link line.
build_pkg_config() {
  dir=$1
  shift
  mkdir -p "$dir"
  for ex in demo race_report sync_registry; do
    # shellcheck disable=SC2086 # pkg-config's flags are words
    "$cc" -std=c11 -Wall -Wextra -Werror -g -pthread $cflags "$src/examples/$ex.c" -o "$dir/$ex" "$@" \
      >"$dir/$ex.build.log" 2>&1 || fail_log "$ex did not build: $cc ... $*" "$dir/$ex.build.log"
  done
}

step "1. pkg-config, shared library"
# shellcheck disable=SC2046
build_pkg_config "$work/pkg-config-shared" $(pkg-config --libs gomap)
needed "$work/pkg-config-shared/demo" | grep -qx "libgomap.so.$major" ||
  fail "pkg-config-shared/demo does not need libgomap.so.$major"
LD_LIBRARY_PATH="$lib" ldd "$work/pkg-config-shared/demo" | grep -q "libgomap.so.$major => $lib/" ||
  fail "pkg-config-shared/demo does not load $lib/libgomap.so.$major"
run_examples "$work/pkg-config-shared" "" LD_LIBRARY_PATH="$lib"

step "2. pkg-config --static: libgomap.a, the libraries it needs as the system has them"
# Not a fully static program: libmicrohttpd's dependencies (GnuTLS's
# p11-kit and libunistring) have no static archive on Debian. libgomap.a
# itself is linked statically (-Bstatic for it alone), with exactly what
# gomap.pc lists for a static link.
static_libs=$(pkg-config --static --libs gomap | sed 's/\(^\| \)-lgomap\( \|$\)/ -Wl,-Bstatic -lgomap -Wl,-Bdynamic /')
case "$static_libs" in *-Bstatic*) ;; *) fail "no -lgomap in pkg-config --static --libs gomap" ;; esac
# shellcheck disable=SC2086 # pkg-config's flags are words
build_pkg_config "$work/pkg-config-static" $static_libs
if needed "$work/pkg-config-static/demo" | grep -q "libgomap"; then
  fail "pkg-config-static/demo needs a shared libgomap"
fi
run_examples "$work/pkg-config-static" "" -u LD_LIBRARY_PATH

step "3. CMake find_package(gomap): gomap::gomap and gomap::gomap_static"
"$cmake" -S "$src/tests/install" -B "$work/cmake" -G "$generator" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON \
  -DGOMAP_EXAMPLES_DIR="$src/examples" -DGOMAP_EXPECT_DIR="$lib/cmake/gomap" \
  >"$work/cmake-configure.log" 2>&1 || fail_log "the consumer project did not configure" "$work/cmake-configure.log"
grep "gomap $version from" "$work/cmake-configure.log" || fail_log "find_package did not find gomap $version" "$work/cmake-configure.log"
"$cmake" --build "$work/cmake" --parallel 2 >"$work/cmake-build.log" 2>&1 ||
  fail_log "the consumer project did not build" "$work/cmake-build.log"
needed "$work/cmake/demo_shared" | grep -qx "libgomap.so.$major" || fail "cmake/demo_shared does not need libgomap.so.$major"
if needed "$work/cmake/demo_static" | grep -q "libgomap"; then
  fail "cmake/demo_static needs a shared libgomap"
fi
# The shared build runs through its RPATH, with no LD_LIBRARY_PATH.
run_examples "$work/cmake" "_shared" -u LD_LIBRARY_PATH
run_examples "$work/cmake" "_static" -u LD_LIBRARY_PATH

echo "check_install: ok: gomap $version installed; 3 examples x (pkg-config shared, pkg-config static, CMake shared, CMake static) built and ran"
