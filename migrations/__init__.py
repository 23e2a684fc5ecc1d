"""Ordered SQL migrations (`NNNN_name.sql`) and the runner that applies them."""

from pathlib import Path

PACKAGED_DIR = Path(__file__).parent
