#!/usr/bin/env bash
# Check the install story end to end: build the library in a scratch
# directory, `meson install` it into a temporary prefix, then compile a small
# C99 program against the installed copy with the flags pkg-config gives and
# run it. Nothing outside the temporary directory is touched.
#
# Env: KEEP=1 keeps the temporary directory and prints its path.
set -euo pipefail

cd "$(dirname "$0")/.."
src="$PWD"
source scripts/deps.sh
pm_install_deps

tmp="$(mktemp -d /tmp/parmapper-install-check.XXXXXX)"
if [[ "${KEEP:-0}" == 1 ]]; then
  echo "install check: keeping $tmp"
else
  trap 'rm -rf "$tmp"' EXIT
fi
prefix="$tmp/prefix"

meson setup "$tmp/build" "$src" --prefix "$prefix" --libdir lib \
  -Dwerror=true -Dtests=disabled -Dexamples=false -Dbench=false
meson compile -C "$tmp/build"
meson install -C "$tmp/build" --quiet

for f in include/parmapper/parmapper.h include/parmapper/export.h \
         include/parmapper/version.h lib/libparmapper.so lib/libparmapper.so.0 \
         lib/pkgconfig/parmapper.pc; do
  [[ -e "$prefix/$f" ]] || { echo "install check: $f not installed" >&2; exit 1; }
done
soname="$(objdump -p "$prefix/lib/libparmapper.so" | awk '$1 == "SONAME" { print $2 }')"
[[ "$soname" == libparmapper.so.0 ]] ||
  { echo "install check: SONAME is '$soname', not libparmapper.so.0" >&2; exit 1; }

# The consumer: plain C99 and the public header alone, in both spellings
# (other_unit.c uses <parmapper/parmapper.h>).
cat > "$tmp/consumer.c" <<'C'
#include <parmapper.h>
#include <stdio.h>
#include <string.h>

unsigned long other_unit_version(void);

static int square(const void *item, size_t len, uint64_t index, pm_sink *out,
                  void *user_data)
{
    uint32_t x;
    uint64_t y;
    (void)index;
    (void)user_data;
    if (len != sizeof x)
        return 1;
    memcpy(&x, item, sizeof x);
    y = (uint64_t)x * x;
    return pm_sink_write(out, &y, sizeof y) != PM_OK;
}

int main(void)
{
    enum { N = 10000 };
    static uint32_t items[N];
    pm_options *opts;
    pm_input *in;
    pm_map *map;
    uint64_t index, y, expected = 0;
    const void *data;
    size_t len, i;
    int rc;

    if (pm_version_number() != PM_VERSION_NUMBER ||
        other_unit_version() != PM_VERSION_NUMBER ||
        strcmp(pm_version_string(), PM_VERSION_STRING) != 0) {
        fprintf(stderr, "header %s, library %s\n", PM_VERSION_STRING,
                pm_version_string());
        return 1;
    }
    for (i = 0; i < N; i++)
        items[i] = (uint32_t)i;
    if (pm_options_create(&opts) != PM_OK || pm_options_set_processes(opts, 2) != PM_OK)
        return 1;
    rc = pm_input_create_array(&in, items, sizeof items[0], N);
    if (rc == PM_OK)
        rc = pm_map_create(&map, opts, in, square, NULL, NULL);
    pm_options_destroy(opts);
    if (rc != PM_OK) {
        fprintf(stderr, "pm_map_create: %s: %s\n", pm_status_str(rc), pm_last_error());
        return 1;
    }
    while ((rc = pm_map_next(map, &index, &data, &len)) == PM_OK) {
        memcpy(&y, data, sizeof y);
        if (index != expected || len != sizeof y || y != expected * expected) {
            fprintf(stderr, "wrong result for item %lu\n", (unsigned long)index);
            return 1;
        }
        expected++;
    }
    if (rc != PM_DONE || expected != N) {
        fprintf(stderr, "pm_map_next: %s: %s\n", pm_status_str(rc), pm_map_error(map));
        return 1;
    }
    pm_map_destroy(map);
    printf("consumer: %lu items mapped by libparmapper %s\n", (unsigned long)expected,
           pm_version_string());
    return 0;
}
C

cat > "$tmp/other_unit.c" <<'C'
#include <parmapper/parmapper.h>

unsigned long other_unit_version(void);
unsigned long other_unit_version(void) { return PM_VERSION_NUMBER; }
C

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
echo "install check: parmapper $(pkg-config --modversion parmapper) in $prefix"
echo "install check: pkg-config --cflags --libs parmapper: $(pkg-config --cflags --libs parmapper)"
# shellcheck disable=SC2046  # word splitting of the pkg-config flags is wanted
gcc -std=c99 -pedantic -Wall -Wextra -Werror -o "$tmp/consumer" \
  "$tmp/consumer.c" "$tmp/other_unit.c" $(pkg-config --cflags --libs parmapper)

resolved="$(LD_LIBRARY_PATH="$prefix/lib" ldd "$tmp/consumer" | awk '$1 ~ /^libparmapper/ { print $3 }')"
[[ "$resolved" == "$prefix/lib/"* ]] ||
  { echo "install check: consumer links '$resolved', not the installed copy" >&2; exit 1; }
LD_LIBRARY_PATH="$prefix/lib" "$tmp/consumer"

# The C++ layer: header-only, installed with the C header; a C++17 program
# with the same pkg-config flags (cereal's headers are in /usr/include).
for f in include/parmapper/parmapper.hpp include/parmapper/cpp/options.hpp \
         include/parmapper/detail/codec.hpp; do
  [[ -e "$prefix/$f" ]] || { echo "install check: $f not installed" >&2; exit 1; }
done
cat > "$tmp/consumer_cxx.cpp" <<'CXX'
#include <parmapper.hpp>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

struct entry {
    std::string key;
    std::vector<int> digits;
    template <class Archive>
    void serialize(Archive& ar) { ar(key, digits); }
};

int main() {
    std::map<int, std::string> names{{1, "one"}, {2, "two"}, {3, "three"}};
    std::vector<int> items{1, 2, 3, 1, 2, 3};
    size_t i = 0;
    for (const entry& e : pm::map([&](int k) { return entry{names.at(k), {k, k * k}}; },
                                  items, pm::options{}.processes(2))) {
        if (e.key != names.at(items[i]) || e.digits[1] != items[i] * items[i]) {
            std::fprintf(stderr, "wrong result for item %zu\n", i);
            return 1;
        }
        ++i;
    }
    std::printf("consumer_cxx: %zu items mapped by libparmapper %s\n", i, pm_version_string());
    return i == items.size() ? 0 : 1;
}
CXX
# shellcheck disable=SC2046  # word splitting of the pkg-config flags is wanted
g++ -std=c++17 -Wall -Wextra -pedantic -Werror -o "$tmp/consumer_cxx" \
  "$tmp/consumer_cxx.cpp" $(pkg-config --cflags --libs parmapper)
LD_LIBRARY_PATH="$prefix/lib" "$tmp/consumer_cxx"

# libparmapper-mpi, when it was built (an MPI was found): the MPI example,
# compiled as a user would, run on 3 ranks.
if [[ -e "$prefix/lib/pkgconfig/parmapper-mpi.pc" ]]; then
  for f in include/parmapper/parmapper_mpi.h lib/libparmapper-mpi.so.0; do
    [[ -e "$prefix/$f" ]] || { echo "install check: $f not installed" >&2; exit 1; }
  done
  # shellcheck disable=SC2046  # word splitting of the pkg-config flags is wanted
  gcc -std=c99 -Wall -Wextra -pedantic -Werror -o "$tmp/mpi_square" \
    "$src/examples/mpi_square.c" $(pkg-config --cflags --libs parmapper-mpi)
  OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_mpi_yield_when_idle=1 \
    OMPI_MCA_btl_vader_single_copy_mechanism=none LD_LIBRARY_PATH="$prefix/lib" \
    mpirun --allow-run-as-root --oversubscribe -np 3 "$tmp/mpi_square" 5000
  echo "install check: pkg-config --cflags --libs parmapper-mpi: $(pkg-config --cflags --libs parmapper-mpi)"
fi
echo "install check: ok"
