"""Optional git worktree per session (``--worktree``): agents work on their own branch.

The worktree is created under aimax's data dir on a branch ``aimax/<session>``; stopping the
session removes the worktree directory and keeps the branch (the work is never lost).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path

from .errors import AimaxError, InvalidOptions, WorktreeRefused


@dataclass(frozen=True)
class Worktree:
    root: Path
    """The worktree's top directory (what gets removed)."""
    path: Path
    """Where the agent starts: the same sub-directory of the worktree as cwd was of the repo."""
    branch: str


async def _git(*args: str, cwd: Path) -> str:
    proc = await asyncio.create_subprocess_exec(
        "git",
        *args,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise AimaxError(f"git {' '.join(args[:2])} failed: {err.decode(errors='replace').strip()}")
    return out.decode().strip()


async def create_worktree(
    cwd: Path, root: Path, session_id: str, *, within: Path | None = None
) -> Worktree:
    """``git worktree add`` a fresh checkout of ``cwd``'s repository for one session.

    ``within``: the repository must lie inside this directory (the server's root): a worktree
    checks out the whole repository, so one that starts above it would copy files from outside.
    The agent starts in the same sub-directory of the checkout as ``cwd`` is of the repository;
    when the checkout lacks it (untracked or empty directories are not committed) the worktree
    is removed again and the request refused, rather than starting the agent elsewhere.
    """
    try:
        top = Path(await _git("rev-parse", "--show-toplevel", cwd=cwd))
    except AimaxError:
        raise InvalidOptions(
            f"--worktree needs a cwd inside a git repository; {cwd} is not"
        ) from None
    if within is not None and not top.resolve().is_relative_to(Path(within).resolve()):
        raise WorktreeRefused(
            "worktree: the git repository holding this directory starts above the allowed root, "
            "so a worktree would check out files from outside it; start the session without "
            "worktree, or make the directory a repository of its own (git init)"
        )
    relative = Path(cwd).resolve().relative_to(top.resolve())
    branch = f"aimax/{session_id}"
    target = root / f"{session_id}-{uuid.uuid4().hex[:6]}"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    exists = True
    try:
        await _git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", cwd=top)
    except AimaxError:
        exists = False
    if exists:
        await _git("worktree", "add", str(target), branch, cwd=top)
    else:
        await _git("worktree", "add", "-b", branch, str(target), cwd=top)
    path = target / relative
    if not path.is_dir() or path.is_symlink():
        await _git("worktree", "remove", "--force", str(target), cwd=top)
        if not exists:
            await _git("branch", "-D", branch, cwd=top)
        raise WorktreeRefused(
            f"worktree: {relative.as_posix()!r} is not a directory in the checked-out commit "
            "(untracked and empty directories are not checked out); commit it first, or start "
            "the session without worktree"
        )
    return Worktree(root=target, path=path, branch=branch)


async def remove_worktree(root: Path) -> None:
    """Remove the worktree directory; its branch stays."""
    if root.exists():
        await _git("worktree", "remove", "--force", str(root), cwd=root)
