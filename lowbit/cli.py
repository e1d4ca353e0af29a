"""The ``lowbit`` command line (being written: see docs/architecture.md)."""

import sys


def main(argv=None) -> int:
    print("lowbit: the command line is being written", file=sys.stderr)
    return 2
