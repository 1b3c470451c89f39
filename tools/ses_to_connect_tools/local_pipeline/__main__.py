"""``python -m local_pipeline simulate ...`` (see :mod:`ses_to_connect_tools.local_pipeline.simulate`)."""

import sys

from ses_to_connect_tools.local_pipeline import simulate

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] != "simulate":
        print(
            "usage: python -m local_pipeline simulate PATH... [--report FILE] [--connect-endpoint URL]"
            " [--connect-tps N]",
            file=sys.stderr,
        )
        sys.exit(2)
    sys.exit(simulate.main(sys.argv[2:]))
