"""``python -m ses_to_connect_tools``: the same as the ``ses-to-connect`` command."""

import sys

from ses_to_connect_tools.cli import main

if __name__ == "__main__":
    sys.exit(main())
