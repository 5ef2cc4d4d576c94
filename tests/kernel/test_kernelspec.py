"""`python -m aiikernel install` writes a usable kernelspec wherever it is asked to."""

from __future__ import annotations

import json
import subprocess
import sys

from jupyter_client.kernelspec import KernelSpecManager

from tests.support.kernels import REPO


def run_install(*args: str, env_home: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    if env_home:
        env["HOME"] = env_home
    return subprocess.run(
        [sys.executable, "-m", "aiikernel", "install", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_install_with_prefix(tmp_path):
    proc = run_install("--prefix", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    spec_dir = tmp_path / "share" / "jupyter" / "kernels" / "aiipython"
    spec = json.loads((spec_dir / "kernel.json").read_text())
    assert spec["display_name"] == "aiipython"
    assert spec["argv"][0] == sys.executable
    assert spec["argv"][1:] == ["-m", "aiikernel", "-f", "{connection_file}"]
    assert (spec_dir / "logo-64x64.png").read_bytes().startswith(b"\x89PNG")
    ksm = KernelSpecManager(kernel_dirs=[str(spec_dir.parent)])
    assert ksm.get_kernel_spec("aiipython").display_name == "aiipython"


def test_install_user_goes_to_home(tmp_path):
    proc = run_install("--user", env_home=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert (
        tmp_path / ".local" / "share" / "jupyter" / "kernels" / "aiipython" / "kernel.json"
    ).exists()


def test_bad_arguments_are_usage_errors(tmp_path):
    proc = run_install("--user", "--prefix", str(tmp_path))
    assert proc.returncode == 2
    assert "not allowed with argument" in proc.stderr


def test_shipped_spec_matches_the_installer():
    shipped = json.loads(
        (REPO / "aiikernel" / "resources" / "aiipython" / "kernel.json").read_text()
    )
    assert shipped["argv"] == ["python", "-m", "aiikernel", "-f", "{connection_file}"]
    assert shipped["display_name"] == "aiipython"


def test_spec_declares_what_stock_ipykernel_declares():
    """Frontends read these keys from the spec; ours must not promise less than `python3`."""
    from ipykernel.kernelspec import get_kernel_dict

    stock = get_kernel_dict()
    shipped = json.loads(
        (REPO / "aiikernel" / "resources" / "aiipython" / "kernel.json").read_text()
    )
    assert shipped["kernel_protocol_version"] == stock["kernel_protocol_version"]
    assert shipped["metadata"] == stock["metadata"]


def test_starts_with_required_transport_encryption():
    """jupyter_client refuses a kernel whose spec does not declare curve when encryption is required."""
    from jupyter_client.manager import KernelManager

    from tests.support.kernels import execute, model_env

    km = KernelManager(kernel_name="aiipython", transport_encryption="required")
    km.start_kernel(env=model_env())
    kc = km.client()
    kc.start_channels()
    try:
        assert km.curve_publickey and km.curve_secretkey  # the channels really are encrypted
        kc.wait_for_ready(timeout=60)
        result = execute(kc, "print(6 * 7)")
        assert result.stream_text() == "42\n"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        if km.has_kernel:
            km.kill_kernel()
