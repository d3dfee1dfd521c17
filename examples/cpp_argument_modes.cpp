// cpp_argument_modes: each row of the Python parmapper's argument table
// (star False/True/None x kwstar False/True, with args and kwargs) and how
// it reads in C++. Keyword arguments are a struct with defaults; per-item
// keyword overrides are a struct of std::optional fields, merged over it.
//
// Usage: cpp_argument_modes
#include <parmapper.hpp>

#include <cstdio>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

// Python: def fmt(*vals, sep=', ', upper=False)  -- here a fixed arity.
struct fmt_kw {
    std::string sep = ", ";
    bool upper = false;
};
struct fmt_kwvals {  // Python's per-item {'sep': ...} / {'upper': ...}
    std::optional<std::string> sep;
    std::optional<bool> upper;
    template <class Archive>
    void serialize(Archive& ar) {
        ar(sep, upper);
    }
};

static std::string cased(std::string s, bool upper) {
    if (upper)
        for (char& c : s) c = char(c >= 'a' && c <= 'z' ? c - 32 : c);
    return s;
}

static void show(const char* row, const std::vector<std::string>& results) {
    std::printf("%-50s", row);
    for (const auto& r : results) std::printf(" [%s]", r.c_str());
    std::printf("\n");
}

int main() {
    const auto opts = pm::options{}.processes(2);
    const fmt_kw kwargs{" | ", false};  // Python kwargs={'sep': ' | '}
    const auto merge = pm::kwstar(pm::merge_fields(&fmt_kw::sep, &fmt_kwvals::sep,
                                                   &fmt_kw::upper, &fmt_kwvals::upper));
    fmt_kwvals shout;
    shout.upper = true;
    fmt_kwvals dash;
    dash.sep = " - ";

    // star=False, kwstar=False: fun(val, *args, **kwargs)
    auto one = [](const std::string& val, const std::string& arg, const fmt_kw& k) {
        return cased(val + k.sep + arg, k.upper);
    };
    show("star=False kwstar=False  f(val, *args, **kw)",
         pm::to_vector(pm::map(one, std::vector<std::string>{"a", "b"}, pm::args(std::string("x")),
                               pm::kwargs(kwargs), opts)));

    // star=True, kwstar=False: fun(*vals, *args, **kwargs)
    auto two = [](const std::string& v1, const std::string& v2, const std::string& arg,
                  const fmt_kw& k) { return cased(v1 + k.sep + v2 + k.sep + arg, k.upper); };
    std::vector<std::pair<std::string, std::string>> pairs{{"a", "b"}, {"c", "d"}};
    show("star=True  kwstar=False  f(*vals, *args, **kw)",
         pm::to_vector(pm::map(two, pairs, pm::star, pm::args(std::string("x")),
                               pm::kwargs(kwargs), opts)));

    // star=None, kwstar=False: fun(*args, **kwargs); items only count calls
    auto none = [](const std::string& arg, const fmt_kw& k) { return cased(arg + k.sep, k.upper); };
    show("star=None  kwstar=False  f(*args, **kw)",
         pm::to_vector(pm::map(none, std::vector<int>(2), pm::star_none,
                               pm::args(std::string("x")), pm::kwargs(kwargs), opts)));

    // star=None, kwstar=True: fun(*args, **dj(kwargs, kwvals)); item = kwvals
    show("star=None  kwstar=True   f(*args, **dj(kw, kwval))",
         pm::to_vector(pm::map(none, std::vector<fmt_kwvals>{shout, dash}, pm::star_none, merge,
                               pm::args(std::string("x")), pm::kwargs(kwargs), opts)));

    // star=False, kwstar=True: fun(val, *args, **dj(kwargs, kwvals))
    std::vector<std::pair<std::string, fmt_kwvals>> vals_kw{{"a", shout}, {"b", dash}};
    show("star=False kwstar=True   f(val, *args, **dj(..))",
         pm::to_vector(pm::map(one, vals_kw, merge, pm::args(std::string("x")),
                               pm::kwargs(kwargs), opts)));

    // star=True, kwstar=True: fun(*vals, *args, **dj(kwargs, kwvals))
    std::vector<std::pair<std::pair<std::string, std::string>, fmt_kwvals>> both{
        {{"a", "b"}, shout}, {{"c", "d"}, dash}};
    show("star=True  kwstar=True   f(*vals, *args, **dj(..))",
         pm::to_vector(pm::map(two, both, pm::star, merge, pm::args(std::string("x")),
                               pm::kwargs(kwargs), opts)));
    return 0;
}
