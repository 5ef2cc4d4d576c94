import pytest

from aiikernel.magics import UsageError, parse_options, protect_ai_lines


def test_options_then_free_text_with_quotes_untouched():
    opts, rest = parse_options('-m openai/gpt-4o --max-steps 3 what\'s in df? "quoted"')
    assert opts.model == "openai/gpt-4o" and opts.max_steps == 3
    assert rest == 'what\'s in df? "quoted"'


def test_equals_form_and_errors():
    opts, rest = parse_options("--model=anthropic/claude-x hi")
    assert opts.model == "anthropic/claude-x" and rest == "hi"
    with pytest.raises(UsageError):
        parse_options("--max-steps 0 hi")
    with pytest.raises(UsageError):
        parse_options("--max-steps")


def test_question_mark_prompts_are_not_turned_into_help():
    assert protect_ai_lines(["%ai what is x?\n"]) == [
        "get_ipython().run_line_magic('ai', 'what is x?')\n"
    ]
    assert protect_ai_lines(["%%ai\n", "why?\n"]) == ["%%ai\n", "why?\n"]
    assert protect_ai_lines(["%aix y\n"]) == ["%aix y\n"]


@pytest.mark.parametrize(
    ("cell", "rewritten"),
    [
        ('s = """\n%ai hello\n"""\n', []),
        ('def f():\n    """Doc.\n    %ai text\n    """\n', []),
        ("x = f'''{a}\n%ai {b}\n'''\n", []),
        ('s = """\n%ai unfinished string\n', []),
        ("%%ai\n%ai is part of the prompt\n", []),
        ("%ai what's up?\nx = 1\n", [1]),
        ("%ai say '''hi\ns = '''\n%ai inside\n'''\n%ai real\n", [1, 5]),
        ("!echo it's\nx?\n%ai after IPython syntax\n", [3]),
        ("if 1:\n  x\n %ai bad indent, still a magic\n", [3]),
        ("for i in r:\n    %ai indented\n", [2]),
    ],
)
def test_only_lines_outside_strings_are_magics(cell, rewritten):
    lines = cell.splitlines(keepends=True)
    out = protect_ai_lines(lines)
    assert [
        row for row, (a, b) in enumerate(zip(lines, out, strict=True), 1) if a != b
    ] == rewritten
    assert all("run_line_magic('ai'" in out[row - 1] for row in rewritten)
