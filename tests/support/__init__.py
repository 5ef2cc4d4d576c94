"""Test support: real helpers (scripted model server, agent environments) shared by tests."""
