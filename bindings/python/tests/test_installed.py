"""Run by run_tests.sh against the copy that `pip install ./bindings/python`
put in a venv: it is that copy which is imported, and it works."""
import os
import sys
import sysconfig

import pytest

import parmapper

pytestmark = pytest.mark.skipif(os.environ.get("PARMAPPER_TEST_INSTALLED") != "1",
                                reason="tests the installed package (run_tests.sh step 3)")


def test_the_installed_copy_is_imported():
    site = sysconfig.get_paths()["purelib"]
    assert sys.prefix != sys.base_prefix, "not running in a venv"
    assert os.path.dirname(parmapper.__file__) == os.path.join(site, "parmapper")
    assert os.path.dirname(parmapper._c.__file__) == os.path.join(site, "parmapper")


def test_it_maps_a_closure_with_numpy_and_tqdm_from_debian():
    import numpy
    import tqdm
    assert not numpy.__file__.startswith(sys.prefix)  # from the system site packages
    assert not tqdm.__file__.startswith(sys.prefix)
    local = {i: i * i for i in range(100)}
    assert list(parmapper.parmap(lambda i: local[i], range(100), N=2)) == \
        [i * i for i in range(100)]
    assert parmapper._c.library_version().startswith("0.")
