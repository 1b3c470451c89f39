"""``python -m operations preflight|smoke|redrive|replay ...`` in this repository, without the
installed package: the same as ``ses-to-connect COMMAND ...``."""

import runpy

if __name__ == "__main__":
    runpy.run_module("ses_to_connect_tools.operations", run_name="__main__", alter_sys=True)
