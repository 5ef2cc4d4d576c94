"""The wheel carries everything a fresh `pip install` needs: package, lab extension, server config, kernelspec."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    if not (REPO / "aiikernel" / "labextension" / "package.json").exists():
        pytest.skip(
            "the lab extension is not built in this checkout (run `pip install -e .` first)"
        )
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (built,) = out.glob("aiikernel-*.whl")
    return zipfile.ZipFile(built)


def test_wheel_contents(wheel):
    names = set(wheel.namelist())
    data = "aiikernel-0.1.0.data/data/"
    assert "aiikernel/__init__.py" in names
    assert "aiikernel/resources/aiipython/kernel.json" in names
    assert data + "share/jupyter/kernels/aiipython/kernel.json" in names
    assert data + "share/jupyter/labextensions/aiikernel/package.json" in names
    assert data + "share/jupyter/labextensions/aiikernel/install.json" in names
    assert any(
        n.startswith(data + "share/jupyter/labextensions/aiikernel/static/remoteEntry.")
        for n in names
    )
    config = json.loads(wheel.read(data + "etc/jupyter/jupyter_server_config.d/aiikernel.json"))
    assert config["ServerApp"]["jpserver_extensions"]["aiikernel"] is True
    spec = json.loads(wheel.read(data + "share/jupyter/kernels/aiipython/kernel.json"))
    assert spec["display_name"] == "aiipython"
    assert not any(n.startswith("aiikernel/labextension/") for n in names), (
        "extension shipped twice"
    )
    assert not any("node_modules" in n or n.endswith(".tsbuildinfo") for n in names)


def test_wheel_metadata_and_entry_points(wheel):
    dist_info = next(n.split("/")[0] for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    entry_points = wheel.read(f"{dist_info}/entry_points.txt").decode()
    assert "aimax = aiikernel.aimax.cli:main" in entry_points
    metadata = wheel.read(f"{dist_info}/METADATA").decode()
    assert "Requires-Dist: ipykernel" in metadata and "Requires-Dist: litellm" in metadata


def test_wheel_requires_jupyterlab_with_bounded_ranges(wheel):
    """`pip install aiikernel` alone brings JupyterLab; majors known to break are excluded."""
    dist_info = next(n.split("/")[0] for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    metadata = wheel.read(f"{dist_info}/METADATA").decode()
    runtime = [
        line.removeprefix("Requires-Dist: ")
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist: ") and "extra ==" not in line
    ]
    assert any(r.startswith("jupyterlab") and "<5" in r for r in runtime), runtime
    for name in ("ipykernel", "jupyter-server", "jupyter-client", "pydantic", "litellm"):
        (req,) = [r for r in runtime if r.replace("_", "-").startswith(name)]
        assert "<" in req, f"{req}: no upper bound"


def test_built_extension_is_compatible_with_the_locked_jupyterlab(tmp_path):
    """JupyterLab marks an extension ` X` (and never loads it) when one of its singleton
    dependencies (`@jupyterlab/*`, `@lumino/*`, react…) has a range that misses the running
    core's: exact pins in labextension/package.json did that to every fresh install."""
    built = REPO / "aiikernel" / "labextension"
    if not (built / "package.json").exists():
        pytest.skip("the lab extension is not built in this checkout")
    data = tmp_path / "data"
    (data / "labextensions").mkdir(parents=True)
    (data / "labextensions" / "aiikernel").symlink_to(built)
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list", "--verbose"],
        capture_output=True,
        text=True,
        timeout=300,
        env={
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "JUPYTER_PATH": str(data),
            "JUPYTER_PLATFORM_DIRS": "1",
        },
    )
    listing = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    assert proc.returncode == 0, listing
    assert re.search(r"aiikernel v0\.1\.0 enabled\s+OK", listing), listing
    assert "not compatible" not in listing, listing


@pytest.fixture(scope="module")
def fresh_install(wheel, tmp_path_factory) -> Path:
    """A new virtualenv with nothing but `pip install aiikernel-….whl` (versions held to the
    lock, so the test does not drift): what a user gets from PyPI."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    proc = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-c",
            str(REPO / ".ci" / "requirements.lock"),
            wheel.filename,
        ],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return venv


@pytest.mark.timeout(1800)  # a whole virtualenv from pip's cache: minutes on a loaded machine
def test_pip_install_alone_gives_lab_kernel_panel_and_server_extension(fresh_install, tmp_path):
    bin_dir = fresh_install / "bin"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "JUPYTER_PLATFORM_DIRS": "1"}

    def run(*args: str) -> str:
        proc = subprocess.run(
            [str(bin_dir / "jupyter"), *args], capture_output=True, text=True, env=env, timeout=300
        )
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        return re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)  # no colours

    assert run("lab", "--version").strip().startswith("4.")
    assert "aiipython" in run("kernelspec", "list")
    assert re.search(r"aiikernel v0\.1\.0 enabled\s+OK", run("labextension", "list"))
    server_extensions = run("server", "extension", "list")
    assert re.search(
        r"aiikernel enabled\s+- Validating aiikernel\.\.\.\s+aiikernel 0\.1\.0 OK",
        server_extensions,
    ), server_extensions


def locked_pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / ".ci" / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line}"
            pins[canonical(name)] = version
    return pins


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def test_lock_satisfies_every_declared_requirement():
    """A requirement added to pyproject.toml without re-locking fails here, not on a user."""
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared += extra
    declared += tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    pins = locked_pins()
    for text in declared:
        req = Requirement(text)
        assert canonical(req.name) in pins, f"{req.name} is not in .ci/requirements.lock"
        assert req.specifier.contains(pins[canonical(req.name)], prereleases=True), (
            f"{text} does not admit the locked {pins[canonical(req.name)]}"
        )


def test_the_tested_environment_is_the_locked_one():
    """The suite runs against exactly the lock: a drifted install (the cause of the litellm
    1.110 surprise) is named here instead of failing somewhere obscure."""
    from importlib.metadata import distributions

    installed = {canonical(d.metadata["Name"]): d.version for d in distributions()}
    drifted = {
        name: (version, installed.get(name))
        for name, version in locked_pins().items()
        if installed.get(name) != version
    }
    assert not drifted, f"locked vs installed: {drifted} (run bash .ci/setup)"


def test_agent_clis_are_locked_with_integrity_hashes():
    folder = REPO / "tests" / "support" / "agents"
    wanted = json.loads((folder / "package.json").read_text())["dependencies"]
    lock = json.loads((folder / "package-lock.json").read_text())["packages"]
    for name, version in wanted.items():
        entry = lock[f"node_modules/{name}"]
        assert entry["version"] == version and entry["integrity"].startswith("sha512-")
