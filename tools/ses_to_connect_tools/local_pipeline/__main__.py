"""``python -m local_pipeline simulate|preview ...``: see
:mod:`ses_to_connect_tools.local_pipeline.simulate` and :mod:`ses_to_connect_tools.local_pipeline.preview`."""

import sys

from ses_to_connect_tools.local_pipeline import preview, simulate

COMMANDS = {"simulate": simulate.main, "preview": preview.main}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(
            "usage: python -m local_pipeline simulate|preview PATH... [--config FILE] [-c KEY=VALUE]"
            " (--help on each)",
            file=sys.stderr,
        )
        sys.exit(2)
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
