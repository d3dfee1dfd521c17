"""Build of parmapper's C extension against the libparmapper that pkg-config
finds (set PKG_CONFIG_PATH=<prefix>/<libdir>/pkgconfig for an install
elsewhere than a system prefix). The extension gets an rpath to that libdir,
so that it loads the library it was built against; PARMAPPER_NO_RPATH=1
leaves it out."""
import os
import shlex
import subprocess

from setuptools import Extension, setup


def pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config", *args, "parmapper"], check=True,
                             capture_output=True, text=True).stdout
    except FileNotFoundError:
        raise SystemExit("parmapper: pkg-config is needed to find libparmapper")
    except subprocess.CalledProcessError as e:
        raise SystemExit("parmapper: pkg-config cannot find libparmapper (%s); set "
                         "PKG_CONFIG_PATH=<prefix>/<libdir>/pkgconfig" % e.stderr.strip())
    return out.strip()


version = pkg_config("--modversion")
if tuple(int(x) for x in version.split(".")[:2]) < (0, 3):
    raise SystemExit("parmapper: needs libparmapper >= 0.3, pkg-config found %s" % version)
cflags = shlex.split(pkg_config("--cflags"))
libs = shlex.split(pkg_config("--libs"))
libdir = pkg_config("--variable=libdir")
link_args = [] if os.environ.get("PARMAPPER_NO_RPATH") == "1" else ["-Wl,-rpath," + libdir]

setup(
    ext_modules=[
        Extension(
            "parmapper._parmapper",
            sources=["csrc/_parmapper.c"],
            extra_compile_args=cflags + ["-std=c11", "-Wall", "-Wextra", "-Wno-missing-field-initializers",
                                         "-Wno-cast-function-type"],
            extra_link_args=libs + link_args,
        )
    ],
)
