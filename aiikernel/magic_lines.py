"""Which lines of a cell that look like ``%ai …`` really are line magics?

IPython's cleanup transformers see raw lines, before anything is tokenized, so a docstring or
triple-quoted string line that happens to begin with ``%ai`` looks exactly like a magic. The
tokenizer tells them apart: a magic line begins outside every string. Cells are IPython, not
Python (``!ls``, ``x?``, free prompt text with quotes), so a line the tokenizer stumbles on is
blanked and the cell tokenized again; when it cannot tell at all, the line counts as a magic,
which is what it was before strings were recognised.
"""

from __future__ import annotations

import io
import tokenize
import warnings
from collections.abc import Sequence

_OPENS = {getattr(tokenize, n) for n in ("FSTRING_START", "TSTRING_START") if hasattr(tokenize, n)}
_CLOSES = {getattr(tokenize, n) for n in ("FSTRING_END", "TSTRING_END") if hasattr(tokenize, n)}


def real_magic_rows(lines: Sequence[str], candidates: dict[int, int]) -> set[int]:
    """The rows (1-based) among ``candidates`` (row → indent width) that begin outside strings."""
    work = list(lines)
    verdict: dict[int, bool] = {}
    for _ in range(len(work) + 1):  # each pass blanks one more line, so this always ends
        with warnings.catch_warnings():  # 3.12+ warns of bad escapes; compiling the cell will too
            warnings.simplefilter("ignore")
            blank = _one_pass(work, candidates, verdict)
        if blank is None or not 1 <= blank <= len(work) or work[blank - 1] == "\n":
            break
        work[blank - 1] = "\n"
    return {row for row in candidates if verdict.get(row, True)}


def _one_pass(work: list[str], candidates: dict[int, int], verdict: dict[int, bool]) -> int | None:
    """Tokenize once, filling ``verdict``; the row to blank before trying again, or None when done."""
    pending = {row for row in candidates if row not in verdict}
    depth = 0  # inside how many f-/t-strings (their parts are separate tokens)
    try:
        for tok in tokenize.generate_tokens(io.StringIO("".join(work)).readline):
            if tok.type in _CLOSES:
                depth -= 1
            first = tok.start[0] if depth else tok.start[0] + 1
            for row in range(first, tok.end[0] + 1):  # rows that begin inside this token
                if row in pending:
                    verdict[row] = False
                    pending.discard(row)
            if tok.type in _OPENS:
                depth += 1
            row, col = tok.start
            if row in pending and tok.string == "%" and col == candidates[row] and not depth:
                verdict[row] = True  # its prompt text may hold quotes: blank it, go again
                return row
    except tokenize.TokenError as exc:
        message, (row, _col) = exc.args
        if "multi-line string" in message or "triple-quoted" in message:  # runs to the end
            for later in pending:
                verdict[later] = later <= row
            return None
        return None if "EOF" in message else row  # 3.12+: a bad line somewhere in the middle
    except SyntaxError as exc:  # IndentationError, or a stray character (3.12+)
        if exc.lineno in pending:
            verdict[exc.lineno] = True  # the tokenizer judges indentation outside strings only
        return exc.lineno
    except Exception:  # never break a cell over this: undecided lines stay magics
        return None
    return None
