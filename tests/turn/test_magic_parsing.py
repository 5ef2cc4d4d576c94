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
