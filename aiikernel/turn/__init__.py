"""The LLM → code → execute loop, independent of how it is shown (cell, chat, test)."""
