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


def test_the_chat_panels_request_is_not_opaque():
    """Every prompt from the panel is an execute request importing the chat hub: read as
    "anything changed", it made each panel turn re-hash a big namespace."""
    request = '__import__("aiikernel.chat.hub").chat.hub.chat_request(get_ipython(), "{}")'
    assert scan_source(request) == {"get_ipython"}
    assert scan_source("__import__(name)") is None
    assert scan_source("__import__('os').environ") is None
    assert scan_source("mod = __import__('aiikernel', fromlist=[x])") == {"mod", "x"}


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


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("try:\n    pass\nexcept ValueError as err:\n    pass", {"ValueError", "err"}),
        ("match p:\n    case [first, *others]:\n        pass", {"p", "first", "others"}),
        ("match p:\n    case {'k': v, **rest}:\n        pass", {"p", "v", "rest"}),
        ("(n := 3)\nprint(f'{n!r:>{width}}')", {"n", "print", "width"}),
        ("def g(a, b=dflt):\n    return a + outer", {"g", "dflt", "a", "outer"}),
        ("model.eval()\nx.exec = 1", {"model", "x"}),  # attribute names are not names
        ("class M:\n    def eval(self):\n        pass", {"M", "eval"}),  # defining eval: no call
        ("match v:\n    case True:\n        w = {**base}", {"v", "w", "base"}),
    ],
)
def test_more_binding_forms(code, expected):
    assert scan_source(code) == expected


def test_deep_trees_do_not_exhaust_the_stack():
    import ast

    from aiikernel.checkpoints.scan import scan_tree

    expr: ast.expr = ast.Name("leaf", ast.Load())
    for _ in range(5000):  # far deeper than the recursion limit
        expr = ast.UnaryOp(ast.USub(), expr)
    assert scan_tree(ast.Module([ast.Expr(expr)], [])) == {"leaf"}


def test_cells_are_parsed_once_and_the_parser_is_given_back():
    """The tracker reads the AST IPython made; it must not transform or parse the cell again."""
    shell = InteractiveShell.instance()
    calls = []
    original_transform = shell.transform_cell

    def counting_transform(cell):
        calls.append(cell)
        return original_transform(cell)

    shell.transform_cell = counting_transform
    parser_before = vars(shell.compile).get("ast_parse")  # another test's tracker may wrap it
    tracker = TouchTracker(shell)
    tracker.register()
    try:
        assert shell.run_cell("once_a = 1\nonce_b = [once_a]").success
        assert len(calls) == 1
        assert {"once_a", "once_b"} <= tracker.take()
    finally:
        tracker.unregister()
        del shell.transform_cell
        shell.reset(new_session=False)
    assert vars(shell.compile).get("ast_parse") is parser_before


def test_cells_the_hook_does_not_see_are_still_tracked():
    """A cell compiled by a fresh compiler (shell_futures=False) and a silent cell."""
    shell = InteractiveShell.instance()
    tracker = TouchTracker(shell)
    tracker.register()
    try:
        assert shell.run_cell("unseen_a = 1", shell_futures=False).success
        assert "unseen_a" in tracker.take()
        assert shell.run_cell("silent_b = 2", silent=True).success
        assert "silent_b" in tracker.take()
        shell.run_cell("this is not python (")
        assert tracker.take() == set()
        assert shell.run_cell("get_ipython().run_line_magic('time', 'timed_c = 3')").success
        assert "timed_c" in tracker.take()
    finally:
        tracker.unregister()
        shell.reset(new_session=False)
