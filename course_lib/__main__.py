"""Command line: ``python -m course_lib data`` checks the data set.

Defined in chapter "Setup and data".
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m course_lib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    data = commands.add_parser(
        "data", help="report where Fashion-MNIST is and whether its checksums hold"
    )
    data.add_argument(
        "--download", action="store_true", help="download it the way Keras does if it is missing"
    )
    commands.add_parser("env", help="print the environment report shown at the top of each chapter")
    args = parser.parse_args(argv)

    if args.command == "data":
        from course_lib.data import DataError, DataNotFoundError, check_fashion_mnist

        try:
            print(check_fashion_mnist(download=args.download))
        except (DataError, DataNotFoundError, OSError) as exc:  # OSError: a machine's problem
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    from course_lib.environment import environment_report

    print(environment_report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
