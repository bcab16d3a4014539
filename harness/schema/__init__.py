"""Data package holding the JSON Schemas (read with importlib.resources)."""
