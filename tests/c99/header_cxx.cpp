// Compile-only check: the public C header builds as C++ with
// -Wall -Wextra -Werror -pedantic and declares C linkage.
#include <parmapper.h>
#include <parmapper.h> // the include guard makes a second include harmless

#include <type_traits>

static_assert(std::is_same<decltype(&pm_map_next),
                           int (*)(pm_map *, uint64_t *, const void **, size_t *)>::value,
              "pm_map_next signature");
static_assert(PM_VERSION_NUMBER ==
                  PM_VERSION_MAJOR * 10000 + PM_VERSION_MINOR * 100 + PM_VERSION_PATCH,
              "PM_VERSION_NUMBER");

extern "C" int header_cxx_check(void);
extern "C" int header_cxx_check(void) { return PM_OK; }
