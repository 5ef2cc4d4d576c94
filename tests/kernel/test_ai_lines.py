"""A line that begins with `%ai` is a magic only outside strings, in a real aiipython kernel."""

from __future__ import annotations

from tests.support.kernels import execute
from tests.support.model_steps import Reply

STRINGS = '''\
s = """
%ai hello
"""
def f():
    """Doc.
    %ai not a prompt, just documentation
    """
t = f\'\'\'{len(s)}
%ai {s!r}
\'\'\'
'''


def test_strings_that_mention_ai_keep_their_exact_value(ai_kernel, model_server):
    km, kc = ai_kernel
    result = execute(kc, STRINGS + "print(repr(s)); print(repr(f.__doc__)); print(repr(t))")
    assert result.status == "ok", result.all_text()
    assert result.stream_text().splitlines() == [
        repr("\n%ai hello\n"),
        repr("Doc.\n    %ai not a prompt, just documentation\n    "),
        repr("11\n%ai '\\n%ai hello\\n'\n"),
    ]
    assert model_server.model_requests() == []  # no turn started


def test_real_ai_lines_still_run_beside_such_strings(ai_kernel, model_server):
    km, kc = ai_kernel
    model_server.script(Reply("It's a string."), Reply("Still a string."))
    result = execute(kc, STRINGS + "%ai what's in s?\nfor _ in range(1):\n    %ai and in t?\n")
    assert result.status == "ok", result.all_text()
    assert "It's a string." in result.all_text() and "Still a string." in result.all_text()
    prompts = [r.body_json["messages"][-1]["content"] for r in model_server.model_requests()]
    assert prompts == ["what's in s?", "and in t?"]
    assert execute(kc, "print(repr(s))").stream_text() == repr("\n%ai hello\n") + "\n"


def test_ai_cell_body_is_the_prompt_word_for_word(ai_kernel, model_server):
    km, kc = ai_kernel
    model_server.script(Reply("Noted."))
    result = execute(kc, "%%ai\nWhat does this line do?\n%ai summarise df\n")
    assert result.status == "ok", result.all_text()
    (request,) = model_server.model_requests()
    prompt = request.body_json["messages"][-1]["content"]
    assert prompt == "What does this line do?\n%ai summarise df"
