#!/bin/sh
# Fails if the shared library exports any symbol not named gomap_*.
set -eu
lib=$1
syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}')
[ -n "$syms" ] || { echo "no exported symbols found in $lib"; exit 1; }
bad=$(printf '%s\n' "$syms" | grep -v '^gomap_' | grep -v '^_init$' | grep -v '^_fini$' || true)
internal=$(printf '%s\n' "$syms" | grep '^gomap__' || true)
if [ -n "$bad$internal" ]; then
  echo "symbols exported that are not public API:"; printf '%s\n' $bad $internal; exit 1
fi
echo "$(printf '%s\n' "$syms" | grep -c '^gomap_') public symbols, nothing else exported"
