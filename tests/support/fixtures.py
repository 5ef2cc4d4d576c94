"""Shared pytest fixtures (the scripted model server lands here)."""
