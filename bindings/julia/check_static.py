#!/usr/bin/env python3
"""Static checks of the Julia binding, for a machine without Julia.

Usage: python3 bindings/julia/check_static.py [PREFIX]

Checks, by reading src/Parmapper.jl against include/parmapper/parmapper.h:
- every ccall names a function the header declares, with as many
  arguments, each of a Julia type that matches the C type's size and kind;
- every symbol in SYMBOLS is declared (and, with PREFIX, exported by the
  installed libparmapper.so, per nm -D);
- every PM_* constant has the header's value.
It does not run Julia code: see README.md for what that leaves unchecked.
"""
import os
import re
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
header = open(os.path.join(here, "../../include/parmapper/parmapper.h")).read()
source = open(os.path.join(here, "src/Parmapper.jl")).read()
failures = []

# Prototypes: PM_API <ret> <name>(<args>);
protos = {}
flat = re.sub(r"/\*.*?\*/", " ", header, flags=re.S)
for m in re.finditer(r"PM_API\s+([^;(]*?)\b(pm_\w+)\s*\(([^;]*?)\)\s*;", flat, re.S):
    ret = " ".join(m.group(1).split())
    args = [" ".join(a.split()) for a in m.group(3).split(",")]
    if args == ["void"]:
        args = []
    protos[m.group(2)] = (ret, args)


def c_type(decl):
    """The type of a C parameter declaration (its name dropped)."""
    decl = decl.strip()
    m = re.match(r"(.*?)(\b\w+)$", decl)
    if m and m.group(1).strip() and not m.group(1).strip().endswith(("struct", "enum")):
        t = m.group(1)
    else:
        t = decl
    return " ".join(t.replace("*", " * ").split())


def compatible(jl, c):
    c = c.replace("const ", "").replace(" const", "").strip()
    stars = c.count("*")
    base = c.replace("*", "").strip()
    jl = jl.strip()
    if stars == 0:
        return {
            "int": {"Cint"}, "uint32_t": {"UInt32"}, "uint64_t": {"UInt64"},
            "size_t": {"Csize_t"}, "void": {"Cvoid"},
        }.get(base, set()) >= {jl} or (
            # function pointer typedefs are pointers
            base.endswith("_fn") and jl == "Ptr{Cvoid}")
    if stars == 1:
        if base == "char":
            return jl in ("Cstring", "Ptr{UInt8}")
        if base in ("void",) or base.startswith("pm_"):
            return jl == "Ptr{Cvoid}"
        return jl == {"uint64_t": "Ptr{UInt64}", "int": "Ptr{Cint}",
                      "size_t": "Ptr{Csize_t}"}.get(base)
    if stars == 2:
        return jl == "Ptr{Ptr{Cvoid}}"
    return False


def split_top(s):
    """Split a Julia tuple body at top-level commas."""
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


calls = 0
# Each ccall: ccall(sym(:name) or sym(f) or SYM[:name], Ret, (Args...), ...
pattern = re.compile(r"ccall\((?:sym\(:(\w+)\)|SYM\[:(\w+)\]|sym\((\w+)\)),\s*([\w{}]+),\s*\(", re.S)
for m in pattern.finditer(source):
    names = [m.group(1) or m.group(2)]
    if m.group(3):  # sym(f): f is one of two names chosen just above
        before = source[max(0, m.start() - 600):m.start()]
        names = re.findall(r":(pm_\w+)", before.split("\n    f = ")[-1].split("\n")[0]) or []
        if not names:
            failures.append("cannot tell which function sym(%s) is at offset %d" % (m.group(3), m.start()))
            continue
    ret = m.group(4)
    # the argument tuple
    depth, i = 1, m.end()
    while depth:
        depth += {"(": 1, ")": -1}.get(source[i], 0)
        i += 1
    args = split_top(source[m.end():i - 1])
    for name in names:
        calls += 1
        if name not in protos:
            failures.append("%s: not declared in parmapper.h" % name)
            continue
        cret, cargs = protos[name]
        if not compatible(ret, c_type(cret + " x")):
            failures.append("%s: returns %s, declared %s" % (name, ret, cret))
        if len(args) != len(cargs):
            failures.append("%s: %d arguments, declared %d (%s)" % (name, len(args), len(cargs), cargs))
            continue
        for k, (a, ca) in enumerate(zip(args, cargs)):
            if not compatible(a, c_type(ca)):
                failures.append("%s: argument %d is %s, declared %s" % (name, k + 1, a, ca))

symbols = re.findall(r":(pm_\w+)", re.search(r"const SYMBOLS = \((.*?)\n\)", source, re.S).group(1))
used = set(re.findall(r"sym\(:(pm_\w+)\)|SYM\[:(pm_\w+)\]", source))
used = {a or b for a, b in used}
for s in used - set(symbols):
    failures.append("%s is called but not in SYMBOLS (never resolved)" % s)
for s in symbols:
    if s not in protos:
        failures.append("SYMBOLS names %s, which parmapper.h does not declare" % s)
if len(sys.argv) > 1:
    lib = subprocess.run(["sh", "-c", "ls %s/lib*/libparmapper.so.0 %s/lib/*/libparmapper.so.0 2>/dev/null | head -n1"
                          % (sys.argv[1], sys.argv[1])], capture_output=True, text=True).stdout.strip()
    exported = {w.split("@")[0] for w in subprocess.run(
        ["nm", "-D", "--defined-only", lib], capture_output=True, text=True).stdout.split()}
    for s in symbols:
        if s not in exported:
            failures.append("%s is not exported by %s" % (s, lib))

enum = dict(re.findall(r"\b(PM_\w+)\s*=\s*(-?\d+)", flat))
for name, value in re.findall(r"const (PM_\w+) = Cint\((-?\d+)\)", source):
    if enum.get(name) != value:
        failures.append("%s is %s here, %s in parmapper.h" % (name, value, enum.get(name)))
consts = len(re.findall(r"const (PM_\w+) = Cint\(", source))

for f in failures:
    print("julia static check: " + f)
print("julia static check: %d ccalls, %d symbols, %d constants checked; %d problems"
      % (calls, len(symbols), consts, len(failures)))
sys.exit(1 if failures else 0)
