"""Test set-up: parmapper is imported from this tree (bindings/python, built
with `setup.py build_ext --inplace`) unless PARMAPPER_TEST_INSTALLED=1, when
the installed package is tested. Every test is checked for leaks: no child
process and no new descriptor may outlive it."""
import faulthandler
import gc
import os
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if os.environ.get("PARMAPPER_TEST_INSTALLED") != "1":
    sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import helpers  # noqa: E402


@pytest.fixture(autouse=True)
def no_leaks(request):
    if request.node.get_closest_marker("leaks_ok"):
        yield
        return
    before = helpers.open_fds()
    yield
    gc.collect()
    deadline = time.monotonic() + 3.0
    while helpers.children() and time.monotonic() < deadline:
        time.sleep(0.02)
    left = helpers.children()
    assert not left, "child processes left behind: %s" % helpers.describe(left)
    new = helpers.open_fds() - before
    assert not new, "descriptors left open: %s" % helpers.describe_fds(new)


def pytest_sessionstart(session):
    # A hang prints every thread's stack and ends the run instead of waiting
    # for CI's limit. The watchdog is a thread: forked workers do not have it.
    faulthandler.dump_traceback_later(int(os.environ.get("PARMAPPER_TEST_WATCHDOG", "900")),
                                      exit=True)


def pytest_sessionfinish(session, exitstatus):
    faulthandler.cancel_dump_traceback_later()


def pytest_configure(config):
    config.addinivalue_line("markers", "leaks_ok: the test checks for leaks itself")
