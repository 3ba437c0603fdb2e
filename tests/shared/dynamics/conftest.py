"""Puts this folder on sys.path, so its test helpers import by name (pytest runs with importlib)."""

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
