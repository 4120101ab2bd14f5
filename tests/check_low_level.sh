#!/bin/sh
# check_low_level.sh SRC_DIR [CLANG -I<dir>...]
#
# One way to do each low-level thing: fails, naming file:line, where code in
# SRC_DIR (the library's src/) does without the library's own doors:
#   - an atomic operation not made through src/base/atomics.h: a C11 atomic
#     function (atomic_*_explicit, atomic_load(), atomic_store(), ...,
#     atomic_thread_fence()) or a compiler builtin (__atomic_*, __sync_*);
#   - a call into liburcu (urcu_*, call_rcu, synchronize_rcu, rcu_*, and its
#     caa_/cmm_/uatomic_ helpers) or an include of its headers, outside
#     src/base/rcu.h and src/base/rcu.c.
# Comments and string literals are not looked at. atomic_init (no atomic
# operation: it initialises an object no other thread can see yet) and the
# atomic types are allowed.
#
# With CLANG (a clang binary) and the library's include directories, every
# .c file is also compiled with -Werror=atomic-implicit-seq-cst, which
# catches the atomic operations no text search can see: an operator (++,
# +=, =, plain reads) applied to an _Atomic object, which is a seq_cst
# operation without a name.
set -eu

src=${1:?usage: check_low_level.sh SRC_DIR [CLANG -I<dir>...]}
shift
[ -f "$src/base/atomics.h" ] || { echo "$src: no base/atomics.h here"; exit 2; }

# Prints "file:line:code" for every line of every file, with comments and
# string and character literals blanked out (line numbers kept).
code_lines() {
    awk '
    FNR == 1 { in_comment = 0 }
    {
        line = $0; out = ""; i = 1; n = length(line)
        while (i <= n) {
            c = substr(line, i, 1); two = substr(line, i, 2)
            if (in_comment) {
                if (two == "*/") { in_comment = 0; i += 2 } else i++
                out = out " "
                continue
            }
            if (two == "/*") { in_comment = 1; i += 2; out = out "  "; continue }
            if (two == "//") break
            if (c == "\"" || c == "'\''") {
                q = c; out = out q; i++
                while (i <= n) {
                    d = substr(line, i, 1)
                    if (d == "\\") { i += 2; out = out "  "; continue }
                    i++
                    if (d == q) break
                    out = out " "
                }
                out = out q
                continue
            }
            out = out c; i++
        }
        print FILENAME ":" FNR ":" out
    }' "$@"
}

files=$(find "$src" -type f \( -name '*.c' -o -name '*.h' \) | sort)
[ -n "$files" ] || { echo "$src: no C files"; exit 2; }

atomic_files=$(printf '%s\n' $files | grep -v '/base/atomics\.h$' || true)
rcu_files=$(printf '%s\n' $files | grep -v '/base/rcu\.[ch]$' || true)

id='(^|[^A-Za-z0-9_])'
atomic_re="atomic_[a-z_]+_explicit|${id}atomic_(load|store|exchange|compare_exchange_(weak|strong)|fetch_(add|sub|or|xor|and)|thread_fence|signal_fence|flag_test_and_set|flag_clear)[[:space:]]*\(|${id}__(atomic|sync)_[a-z_]+"
rcu_re="${id}(urcu_[A-Za-z0-9_]+|call_rcu|synchronize_rcu|defer_rcu|rcu_[a-z_]+|caa_[a-z_]+|cmm_[a-z_]+|uatomic_[a-z_]+)[[:space:]]*\(|#[[:space:]]*include[[:space:]]*<urcu"

# Prints the hits ("file:line:code") as file:line: label: source line, and
# the hint; false when there were any.
report() { # label hint hits
    [ -n "$3" ] || return 0
    printf '%s\n' "$3" | while IFS= read -r hit; do
        file=${hit%%:*}; rest=${hit#*:}; line=${rest%%:*}
        echo "$file:$line: $1: $(sed -n "${line}p" "$file" | sed 's/^[[:space:]]*//')"
    done
    echo "  ($2)"
    return 1
}

atomic_bad=0
hits=$( [ -z "$atomic_files" ] || code_lines $atomic_files | grep -E "^[^:]+:[0-9]+:.*($atomic_re)" || true)
report "raw atomic operation" \
    "use the operations of src/base/atomics.h, whose names carry the memory order" \
    "$hits" || atomic_bad=1

rcu_bad=0
hits=$( [ -z "$rcu_files" ] || code_lines $rcu_files | grep -E "^[^:]+:[0-9]+:.*($rcu_re)" || true)
report "liburcu used directly" "go through src/base/rcu.h (gomap__rcu_*)" "$hits" || rcu_bad=1

implicit_bad=0
clang=
if [ $# -gt 0 ]; then
    clang=$1; shift
    for f in $(printf '%s\n' $files | grep '\.c$'); do
        if ! out=$("$clang" -std=c11 -fsyntax-only -D_GNU_SOURCE -DGOMAP_DEBUG_LEVEL=2 \
                   -DGOMAP_HAVE_LIBBACKTRACE=0 -I"$src" "$@" \
                   -Werror=atomic-implicit-seq-cst "$f" 2>&1); then
            printf '%s\n' "$out" | grep -E 'error' || printf '%s\n' "$out"
            implicit_bad=1
        fi
    done
    [ "$implicit_bad" = 0 ] || echo "  (an _Atomic object used with an operator: name the operation with src/base/atomics.h)"
fi

if [ "$atomic_bad$rcu_bad$implicit_bad" != 000 ]; then
    exit 1
fi
n=$(printf '%s\n' $files | wc -l)
echo "$n files: atomics only through base/atomics.h, liburcu only through base/rcu.[ch]${clang:+, no implicit seq_cst atomics}"
