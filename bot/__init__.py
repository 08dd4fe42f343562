"""Intake assistant for the Beijing 12345 citizen service hotline."""

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
PROJECT_DIR = Path(__file__).resolve().parent.parent
