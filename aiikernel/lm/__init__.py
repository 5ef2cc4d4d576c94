"""Model access: one streaming interface, litellm behind it, imported lazily."""
