"""Shared paths for the mmapfile tests (run with pytest from any directory)."""

import pathlib

TESTS = pathlib.Path(__file__).resolve().parent
CRATE = TESTS.parent
REPO = CRATE.parent.parent
EXAMPLES = REPO / "crates" / "mmapfile" / "examples"
