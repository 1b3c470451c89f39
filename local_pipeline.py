"""``python -m local_pipeline simulate ...`` in this repository, without the installed package:
the same as ``ses-to-connect simulate ...``."""

import runpy

if __name__ == "__main__":
    runpy.run_module("ses_to_connect_tools.local_pipeline", run_name="__main__", alter_sys=True)
