/* libparmapper: symbol visibility for the public C API. */
#ifndef PARMAPPER_EXPORT_H
#define PARMAPPER_EXPORT_H

/* The library is built with hidden visibility; only what carries PM_API is
 * exported (and the linker version script keeps it to pm_* symbols). */
#if defined(__GNUC__) || defined(__clang__)
#  define PM_API __attribute__((visibility("default")))
#else
#  define PM_API
#endif

#endif /* PARMAPPER_EXPORT_H */
