"""`python -m aiikernel` launches the kernel; `python -m aiikernel install` installs its spec."""

from __future__ import annotations

import argparse
import sys


def install_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m aiikernel install", description="Install the aiipython kernelspec."
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="install for the current user")
    where.add_argument(
        "--sys-prefix", action="store_true", help="install into sys.prefix (venv/conda)"
    )
    where.add_argument(
        "--prefix", metavar="P", help="install under prefix P (share/jupyter/kernels)"
    )
    args = parser.parse_args(argv)
    from .kernelspec import install

    prefix = sys.prefix if args.sys_prefix else args.prefix
    try:
        dest = install(user=args.user, prefix=prefix)
    except PermissionError as exc:
        print(f"Permission denied: {exc}. Try --user or --sys-prefix.", file=sys.stderr)
        return 1
    print(f"Installed kernelspec aiipython in {dest}")
    return 0


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "install":
        sys.exit(install_main(sys.argv[2:]))
    from ipykernel.kernelapp import IPKernelApp

    from .kernel import AiiKernel

    IPKernelApp.launch_instance(kernel_class=AiiKernel)


if __name__ == "__main__":
    main()
