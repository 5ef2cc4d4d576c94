"""The static scan behind TouchTracker: what counts as touched, and when it gives up."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

from aiikernel.checkpoints import TouchTracker
from aiikernel.checkpoints.tracker import names_used_by_definitions, scan_source


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("x = y + 1", {"x", "y"}),
        ("del a", {"a"}),
        ("total += n", {"total", "n"}),
        ("obj.attr = 1\nd['k'] = v", {"obj", "d", "v"}),
        ("lst.append(item)", {"lst", "item"}),
        ("import numpy as np\nfrom os import path", {"np", "path"}),
        ("def f():\n    global g\n    g = 1", {"f", "g"}),
        ("class C:\n    pass", {"C"}),
        ("for i in rows: s = i", {"i", "rows", "s"}),
        ("this is not python (", set()),
    ],
)
def test_names(code, expected):
    assert scan_source(code) == expected


@pytest.mark.parametrize(
    "code",
    [
        "exec('x = 1')",
        "eval('x')",
        "globals()['x'] = 1",
        "vars()['y'] = 2",
        "locals()",
        "from os import *",
        "get_ipython().run_line_magic('run', 'script.py')",
        "get_ipython().run_cell_magic('writefile_and_exec', '', 'x')",
    ],
)
def test_opaque_code_means_everything(code):
    assert scan_source(code) is None


def test_code_magics_are_scanned_and_inert_ones_ignored():
    assert scan_source("get_ipython().run_line_magic('time', 'x = f(y)')") - {"get_ipython"} == {
        "x",
        "f",
        "y",
    }
    assert scan_source("get_ipython().run_cell_magic('ai', '', 'do things')") == {"get_ipython"}


def test_globals_used_by_notebook_functions_count():
    ns = {"__name__": "nbmod"}
    exec(
        "counter = 0\nhelper_data = []\n"
        "def helper():\n    helper_data.append(1)\n"
        "def bump():\n    global counter\n    counter += 1\n    helper()\n"
        "class K:\n    def go(self):\n        bump()\n"
        "k = K()\n",
        ns,
    )
    assert names_used_by_definitions({"bump"}, ns, "nbmod") >= {"counter", "helper", "helper_data"}
    assert "counter" in names_used_by_definitions({"k"}, ns, "nbmod")
    exec("def sneaky():\n    globals()['z'] = 1\n", ns)
    assert names_used_by_definitions({"sneaky"}, ns, "nbmod") is None


def test_tracker_follows_real_cells():
    shell = InteractiveShell.instance()
    tracker = TouchTracker(shell)
    tracker.register()
    try:
        shell.run_cell("a_tr = 1\nb_tr = [a_tr]")
        shell.run_cell("def f_tr():\n    global c_tr\n    c_tr = 5\nf_tr()")
        touched = tracker.take()
        assert touched is not None
        assert {"a_tr", "b_tr", "f_tr", "c_tr"} <= touched
        assert tracker.take() == set()
        shell.run_cell("exec('d_tr = 1')")
        assert tracker.take() is None
        tracker.mark("pushed")
        assert tracker.take() == {"pushed"}
    finally:
        tracker.unregister()
        shell.reset(new_session=False)


def test_command_module_imports_nothing_heavy():
    import subprocess
    import sys

    code = (
        "import sys, aiikernel.checkpoints.commands, aiikernel.checkpoints\n"
        "heavy = [m for m in ('dill', 'xxhash', 'numpy', 'pandas') if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_hooks_never_raise_into_the_cell(monkeypatch, capsys):
    from aiikernel.checkpoints import tracker as tracker_module

    def broken(*args, **kwargs):
        raise RuntimeError("scan failed")

    monkeypatch.setattr(tracker_module, "names_used_by_definitions", broken)
    shell = InteractiveShell.instance()
    tracker = TouchTracker(shell)
    tracker.register()
    try:
        result = shell.run_cell("hook_x = 1")
        assert result.success
        out = capsys.readouterr()
        assert "scan failed" not in out.out + out.err
        assert tracker.take() is None  # could not tell: the next checkpoint examines all
    finally:
        tracker.unregister()
        shell.reset(new_session=False)
