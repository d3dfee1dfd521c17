#!/bin/sh
# Checks the ABI surface of libparmapper.so:
#  - every defined dynamic symbol is pm_* (version nodes like PM_0.1 aside),
#  - every exported pm_* symbol is versioned by a PM_x.y node of the map,
#  - SONAME is libparmapper.so.0,
#  - every pm_* function declared in parmapper.h is exported, and nothing
#    exported is missing from the header,
#  - with the map file given, every symbol a node of it names explicitly
#    (a later release's node) is exported with that node's version.
# Usage: check_symbols.sh path/to/libparmapper.so path/to/parmapper.h [MAP]
set -u

lib=${1:?usage: check_symbols.sh LIB HEADER}
header=${2:?usage: check_symbols.sh LIB HEADER [MAP]}
map=${3:-}
status=0

for tool in nm readelf objdump; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool not found"
        exit 77
    fi
done
[ -f "$lib" ] || { echo "FAIL: no library at $lib"; exit 1; }
[ -f "$header" ] || { echo "FAIL: no header at $header"; exit 1; }

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

# "ADDR TYPE NAME[@[@]VERSION]"; absolute symbols (type A) are version nodes.
if ! nm -D --defined-only "$lib" >"$tmp/nm"; then
    echo "FAIL: nm -D failed on $lib"
    exit 1
fi
awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' "$tmp/nm" | sort -u >"$tmp/defined"
awk '$2 == "A" { sub(/@.*/, "", $3); print $3 }' "$tmp/nm" | sort -u >"$tmp/nodes"

if [ ! -s "$tmp/defined" ]; then
    echo "FAIL: no defined dynamic symbols in $lib"
    status=1
fi

leaks=$(grep -v '^pm_' "$tmp/defined")
if [ -n "$leaks" ]; then
    echo "FAIL: defined dynamic symbols that are not pm_*:"
    echo "$leaks" | sed 's/^/    /'
    status=1
fi

bad_nodes=$(grep -v -E '^PM_[0-9]+\.[0-9]+$' "$tmp/nodes")
if [ -n "$bad_nodes" ]; then
    echo "FAIL: unexpected version nodes:"
    echo "$bad_nodes" | sed 's/^/    /'
    status=1
fi

# Every exported pm_* symbol carries a PM_x.y version (from the map file).
objdump -T "$lib" | awk '$NF ~ /^pm_/ && $(NF-1) !~ /^(\()?PM_[0-9]+\.[0-9]+(\))?$/ { print $NF " (" $(NF-1) ")" }' >"$tmp/unversioned"
if [ -s "$tmp/unversioned" ]; then
    echo "FAIL: pm_* symbols without a PM_x.y version node:"
    sed 's/^/    /' "$tmp/unversioned"
    status=1
fi

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
if [ "$soname" != "libparmapper.so.0" ]; then
    echo "FAIL: SONAME is '$soname', expected libparmapper.so.0"
    status=1
fi

# Functions the header declares: "PM_API <type> pm_name(" possibly across lines.
tr '\n' ' ' <"$header" | grep -o -E 'PM_API[^;(]*\(' |
    grep -o -E 'pm_[A-Za-z0-9_]+[[:space:]]*\($' | sed 's/[[:space:]]*($//' |
    sort -u >"$tmp/declared"
if [ ! -s "$tmp/declared" ]; then
    echo "FAIL: found no PM_API declarations in $header"
    status=1
fi

# Exported functions (text symbols).
awk '($2 == "T" || $2 == "t" || $2 == "i") { sub(/@.*/, "", $3); print $3 }' "$tmp/nm" |
    grep '^pm_' | sort -u >"$tmp/functions"

missing=$(comm -23 "$tmp/declared" "$tmp/functions")
if [ -n "$missing" ]; then
    echo "FAIL: declared in parmapper.h but not exported as functions:"
    echo "$missing" | sed 's/^/    /'
    status=1
fi
extra=$(comm -13 "$tmp/declared" "$tmp/defined")
if [ -n "$extra" ]; then
    echo "FAIL: exported but not declared in parmapper.h:"
    echo "$extra" | sed 's/^/    /'
    status=1
fi

if [ -n "$map" ]; then
    [ -f "$map" ] || { echo "FAIL: no map file at $map"; exit 1; }
    # "name node" for each pm_ name spelled out (not a pattern) in a node.
    awk '
        /^[[:space:]]*PM_[0-9]+\.[0-9]+[[:space:]]*\{/ { node = $1; sub(/\{.*/, "", node); next }
        /^[[:space:]]*\}/ { node = ""; next }
        node != "" && /^[[:space:]]*pm_[A-Za-z0-9_]+[[:space:]]*;/ {
            name = $1; sub(/;.*/, "", name); print name, node
        }' "$map" | sort >"$tmp/named"
    objdump -T "$lib" | awk '$NF ~ /^pm_/ { v = $(NF-1); gsub(/[()]/, "", v); print $NF, v }' |
        sort >"$tmp/versions"
    misplaced=$(comm -23 "$tmp/named" "$tmp/versions")
    if [ -n "$misplaced" ]; then
        echo "FAIL: symbols named in a map node but not exported with its version:"
        echo "$misplaced" | sed 's/^/    /'
        status=1
    fi
fi

if [ "$status" -eq 0 ]; then
    echo "ok: $(wc -l <"$tmp/declared") functions exported, SONAME $soname," \
        "nodes: $(tr '\n' ' ' <"$tmp/nodes")"
fi
exit "$status"
