"""Demo material the project generates itself (no downloads needed)."""
