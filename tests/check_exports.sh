#!/bin/sh
# Fails if a gomap library makes any symbol global that is not public API.
#
# usage: check_exports.sh LIB...   (libgomap.so* or libgomap.a, any number)
#   libgomap.so: every dynamic symbol it defines is named gomap_* (never the
#     internal gomap__*) and carries a GOMAP_<major> version from
#     src/libgomap.map;
#   libgomap.a: every global symbol it defines is named gomap_* (never
#     gomap__*): internals and the libbacktrace folded into it are local,
#     so a program can link it with nothing but what gomap.pc lists and no
#     name of gomap's can clash with the program's.
set -eu
[ $# -gt 0 ] || { echo "usage: $0 LIB..." >&2; exit 2; }
status=0
for lib in "$@"; do
  case "$lib" in
    *.a)
      # nm on an archive: "member.o:" headers, then "value type name" lines.
      syms=$(nm -g --defined-only "$lib" | awk 'NF == 3 {print $3}')
      what="global symbols defined in" ;;
    *)
      syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVWiu]$/ {print $3}')
      what="exported symbols in"
      unversioned=$(printf '%s\n' "$syms" | grep -v '@@GOMAP_[0-9]' || true)
      if [ -n "$unversioned" ]; then
        echo "$lib: symbols exported without a GOMAP_<major> version (src/libgomap.map):"
        # shellcheck disable=SC2086 # one name a word
        printf '  %s\n' $unversioned
        status=1
      fi
      syms=$(printf '%s\n' "$syms" | sed 's/@.*//') ;;
  esac
  if [ -z "$syms" ]; then
    echo "$lib: no $what it"; status=1; continue
  fi
  bad=$(printf '%s\n' "$syms" | grep -v '^gomap_' | grep -v '^_init$' | grep -v '^_fini$' || true)
  internal=$(printf '%s\n' "$syms" | grep '^gomap__' || true)
  if [ -n "$bad$internal" ]; then
    echo "$lib: $what it that are not public API:"
    # shellcheck disable=SC2086 # one name a word
    printf '  %s\n' $bad $internal
    status=1
  else
    echo "$lib: $(printf '%s\n' "$syms" | grep -c '^gomap_') public symbols, nothing else global"
  fi
done
exit $status
