"""The package version, in a module of its own so that any layer can read it without
importing the package's entry points (``aiikernel/__init__.py`` loads the extension)."""

__version__ = "0.1.0"
