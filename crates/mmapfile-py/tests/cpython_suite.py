"""Runs CPython's own test.test_mmap against a chosen mmap module and prints a JSON summary.

Usage: python cpython_suite.py {mmapfile|builtin}

With ``mmapfile``, ``sys.modules['mmap']`` is replaced by ``mmapfile`` before the test
module is imported, so every ``mmap.`` in the suite uses ours. Run it in a fresh process (the
swap must happen before anything imports mmap) with the working directory set to a scratch
folder: the suite creates its TESTFN files there.
"""

import json
import sys
import unittest


def main() -> int:
    which = sys.argv[1]
    if which == "mmapfile":
        import mmapfile

        sys.modules["mmap"] = mmapfile
    elif which != "builtin":
        raise SystemExit(f"unknown module {which!r}")

    from test import test_mmap

    expected = "mmapfile" if which == "mmapfile" else "mmap"
    if test_mmap.mmap.__name__ != expected:
        raise SystemExit(f"test_mmap uses {test_mmap.mmap.__name__}, not {expected}")

    suite = unittest.defaultTestLoader.loadTestsFromModule(test_mmap)
    result = unittest.TextTestRunner(stream=sys.stderr, verbosity=2).run(suite)
    summary = {
        "module": test_mmap.mmap.__name__,
        "python": sys.version.split()[0],
        "run": result.testsRun,
        "failures": [(test.id(), trace) for test, trace in result.failures],
        "errors": [(test.id(), trace) for test, trace in result.errors],
        "skipped": sorted((test.id(), reason) for test, reason in result.skipped),
        "expected_failures": len(result.expectedFailures),
        "unexpected_successes": len(result.unexpectedSuccesses),
    }
    print("SUMMARY " + json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
