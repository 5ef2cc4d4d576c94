from aiikernel.turn.fences import find_fences, for_display, runnable_fences


def test_runnable_and_reference_fences():
    text = (
        "intro\n```py\na = 1\n```\nmid\n```#py\nb = 2\n```\n```python\nc = 3\n```\n```js\nd\n```\n"
    )
    fences = find_fences(text)
    assert [f.tag for f in fences] == ["py", "#py", "python", "js"]
    assert [f.code for f in runnable_fences(text)] == ["a = 1", "c = 3"]
    assert fences[1].reference_only and not fences[1].runnable
    assert text[fences[0].start : fences[0].end] == "```py\na = 1\n```"


def test_unclosed_fence_is_not_run():
    assert runnable_fences("```py\nx = 1\n") == []


def test_longer_fences_may_contain_backticks_and_tildes_work():
    text = "````py\ns = '```'\n````\n~~~python\nt = 2\n~~~"
    assert [f.code for f in runnable_fences(text)] == ["s = '```'", "t = 2"]


def test_indented_fence_body_is_dedented():
    text = "  ```py\n  x = 1\n  if x:\n      y = 2\n  ```"
    assert runnable_fences(text)[0].code == "x = 1\nif x:\n    y = 2"


def test_bare_fence_is_prose():
    assert runnable_fences("```\nprint('no')\n```") == []


def test_reference_fences_are_relabelled_for_display():
    shown = for_display("```#py\nb = 2\n```")
    assert shown.startswith("```python  (not run)")
    assert "b = 2" in shown
