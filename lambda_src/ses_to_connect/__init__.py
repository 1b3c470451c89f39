"""The SES -> Amazon Connect email bridge's Lambda function (the only code deployed).

``__version__`` is the project's one version number: the package's metadata (pyproject.toml reads
it from here), ``ses-to-connect --version`` and every log line of the function report it.
"""

import sys

__version__ = "0.1.0"
SUPPORTED_PYTHON = "3.13"  # the Lambda runtime the stack deploys (python3.13); pyproject's requires-python

# Older versions fail deep inside (a dataclass error, a missing email API): say what to use instead.
if sys.version_info < (3, 13):  # noqa: UP036 (this check is for the Pythons ruff assumes away)
    raise ImportError(
        f"ses-to-connect supports Python {SUPPORTED_PYTHON} only (the Lambda runtime it deploys is "
        f"python{SUPPORTED_PYTHON}); this is Python {sys.version.split()[0]}"
    )
