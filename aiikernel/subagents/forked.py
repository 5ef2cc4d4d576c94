"""What a child forked by the template does to become a sub-agent kernel.

It runs in the fresh child of :mod:`.template_loop` (one thread, the template's imports
done): it leaves the template's session, dies with the template, takes the environment and
working directory the supervisor asked for, gives NumPy's BLAS back its threads and fresh
random state, and runs the aiipython kernel on the prepared connection file — exactly what
``python -m aiikernel -f CONNECTION_FILE`` would run. It never returns into the template.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from .protocol import ENV_VAR, AgentEnv, ForkRequest


def become_kernel(request: ForkRequest, template_pid: int) -> None:
    code = 1
    try:
        os.setsid()  # its own process group: the parent interrupts it, not the template
        from .child import die_with

        die_with(template_pid)
        _take_environment(request, template_pid)
        os.chdir(request.cwd)
        _restore_blas_threads(os.environ)
        _reseed_numpy()
        from .. import __main__ as entry

        sys.argv = [entry.__file__, "-f", request.connection_file]
        entry.main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        try:
            import atexit

            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _take_environment(request: ForkRequest, template_pid: int) -> None:
    env = dict(request.env)
    env["JPY_PARENT_PID"] = str(template_pid)
    raw = env.get(ENV_VAR)
    if raw:
        agent = AgentEnv.model_validate_json(raw)
        env[ENV_VAR] = agent.model_copy(update={"parent_pid": template_pid}).model_dump_json()
    os.environ.clear()
    os.environ.update(env)


#: Where OpenBLAS looks for its thread count, in its own order.
_BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")


def _restore_blas_threads(env: Any) -> None:
    """Give NumPy's OpenBLAS the threads it would have started in a fresh process.

    The template imported NumPy with one BLAS thread so that it could fork; this child has
    one thread too, so OpenBLAS may start its pool now. Other BLAS builds stay single-threaded.
    """
    library = _openblas()
    if library is None:
        return
    wanted = None
    for name in _BLAS_THREAD_VARS:
        try:
            wanted = int(env.get(name, ""))
            break
        except ValueError:
            continue
    if wanted is None:
        wanted = library.get_procs()
    if wanted and wanted > 1:
        library.set_threads(int(wanted))


class _OpenBLAS:
    def __init__(self, cdll: Any, prefix: str, suffix: str) -> None:
        self.set_threads = getattr(cdll, f"{prefix}set_num_threads{suffix}")
        self.get_procs = getattr(cdll, f"{prefix}get_num_procs{suffix}")
        self.get_threads = getattr(cdll, f"{prefix}get_num_threads{suffix}")


def _openblas() -> _OpenBLAS | None:
    """NumPy's bundled OpenBLAS (already loaded), or None."""
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return None
    import ctypes
    import glob

    libs = os.path.join(os.path.dirname(os.path.dirname(numpy.__file__)), "numpy.libs")
    for path in glob.glob(os.path.join(libs, "lib*openblas*.so*")):
        try:
            cdll = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (("scipy_openblas_", "64_"), ("openblas_", "64_"), ("openblas_", "")):
            try:
                return _OpenBLAS(cdll, prefix, suffix)
            except AttributeError:
                continue
    return None


def _reseed_numpy() -> None:
    """Children of one template would otherwise share NumPy's global random state."""
    random = sys.modules.get("numpy.random")
    if random is not None:
        random.seed()
