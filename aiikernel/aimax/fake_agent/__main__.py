"""``python -m aiikernel.aimax.fake_agent`` entry point."""

from .app import main

if __name__ == "__main__":
    raise SystemExit(main())
