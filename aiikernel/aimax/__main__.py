"""``python -m aiikernel.aimax`` = the ``aimax`` command."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
