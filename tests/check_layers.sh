#!/bin/sh
# Fails if a source file under src/ includes a header its folder may not
# include. The folders form layers (HACKING.md):
#   base   nothing above it
#   core   base
#   diag   base, core (read-only views of the core map)
#   sync, shard, snap, cache, deleg
#          base, diag, and from core only core/layer.h; never each other
#   metrics  base only: it reads the maps above through their public
#          headers (<gomap/...>, which this check does not restrict) and
#          stats calls, never their internals, core/layer.h or diag/
# Every project include names its folder ("base/rcu.h"), so the rule can be
# read off the #include lines.
set -eu
src=${1:-$(dirname "$0")/../src}
allowed() { # folder of the includer, included path
  case "$1:$2" in
    base:base/*) return 0 ;;
    core:base/* | core:core/*) return 0 ;;
    diag:base/* | diag:core/* | diag:diag/*) return 0 ;;
    sync:core/layer.h | shard:core/layer.h | snap:core/layer.h) return 0 ;;
    cache:core/layer.h | deleg:core/layer.h) return 0 ;;
    sync:base/* | shard:base/* | snap:base/*) return 0 ;;
    cache:base/* | metrics:base/* | deleg:base/*) return 0 ;;
    sync:diag/* | shard:diag/* | snap:diag/*) return 0 ;;
    cache:diag/* | deleg:diag/*) return 0 ;;
    sync:sync/* | shard:shard/* | snap:snap/*) return 0 ;;
    cache:cache/* | metrics:metrics/* | deleg:deleg/*) return 0 ;;
  esac
  return 1
}
files=$(find "$src" -mindepth 2 -name '*.[ch]' | sort)
[ -n "$files" ] || { echo "no sources under $src"; exit 1; }
problems=""
for f in $files; do
  folder=$(basename "$(dirname "$f")")
  includes=$(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
             sed 's/^\([0-9]*\):.*include[[:space:]]*"\([^"]*\)".*/\1 \2/' || true)
  while read -r line inc; do
    [ -n "$inc" ] || continue
    case "$inc" in
      */*) allowed "$folder" "$inc" && continue
           problems="$problems${f#"$src"/}:$line: $folder/ may not include \"$inc\"\n" ;;
      *) problems="$problems${f#"$src"/}:$line: \"$inc\" does not name its folder\n" ;;
    esac
  done <<EOI
$includes
EOI
done
if [ -n "$problems" ]; then
  printf "$problems"
  echo "layering broken (see HACKING.md, \"Layers\")"
  exit 1
fi
echo "$(echo "$files" | wc -l) sources follow the layer rules"
