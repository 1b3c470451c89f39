"""Hostile and broken input: property-based fuzzing, explicit attacks and log hygiene.

The hypothesis profiles are registered in ``conftest.py`` and chosen with ``HYPOTHESIS_PROFILE``:

- ``fuzz-short`` (default, in the README test command): 100-200 derandomized examples per
  test and no shrinking, so the run stays well under a minute even when it finds a bug;
- ``fuzz-debug`` (``HYPOTHESIS_PROFILE=debug``): the very same examples, shrunk to a minimal
  failing case when one fails;
- ``fuzz-long`` (``HYPOTHESIS_PROFILE=long``): random, 10,000 examples of the main property
  and 2,000 of each other one, shrunk.

Tests take their settings from :func:`fuzz_settings` instead of loading a profile globally, so
hypothesis tests elsewhere in the suite keep their own defaults.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

import botocore.session
from hypothesis import settings

SHORT_PROFILE = "fuzz-short"
DEBUG_PROFILE = "fuzz-debug"
LONG_PROFILE = "fuzz-long"
_SELECTED = os.environ.get("HYPOTHESIS_PROFILE", "").strip().lower()
ACTIVE_PROFILE = {"long": LONG_PROFILE, "debug": DEBUG_PROFILE}.get(_SELECTED, SHORT_PROFILE)
IS_LONG_RUN = ACTIVE_PROFILE == LONG_PROFILE

# Examples run per test in this session: reported in the terminal summary by conftest.py.
EXAMPLES: Counter[str] = Counter()
# Wall-clock seconds spent per test, also reported.
SECONDS: defaultdict[str, float] = defaultdict(float)


def fuzz_settings(*, short: int, long: int) -> settings:
    """The active profile with this test's example budget for the short or the long run."""
    return settings(settings.get_profile(ACTIVE_PROFILE), max_examples=long if IS_LONG_RUN else short)


@cache
def start_email_contact_shape() -> Any:
    """The input shape of connect StartEmailContact in the installed botocore model."""
    return (
        botocore.session.get_session()
        .get_service_model("connect")
        .operation_model("StartEmailContact")
        .input_shape
    )


def single_line_fields(request: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Every request value that came from a header or a file name (none may hold CR or LF)."""
    raw = request["EmailMessage"]["RawMessage"]
    yield "RawMessage.Subject", raw["Subject"]
    yield "Name", request["Name"]
    for key, value in (raw.get("Headers") or {}).items():
        yield f"RawMessage.Headers.{key}", value
    address_objects = [("FromEmailAddress", request["FromEmailAddress"])]
    for list_name, entries in (request.get("AdditionalRecipients") or {}).items():
        address_objects += [(f"AdditionalRecipients.{list_name}", entry) for entry in entries]
    for path, entry in address_objects:
        yield f"{path}.EmailAddress", entry["EmailAddress"]
        if "DisplayName" in entry:
            yield f"{path}.DisplayName", entry["DisplayName"]
    yield "DestinationEmailAddress", request["DestinationEmailAddress"]
    for attachment in request.get("Attachments") or []:
        yield "Attachments.FileName", attachment["FileName"]
    for key, value in request["Attributes"].items():
        yield f"Attributes.{key}", value
