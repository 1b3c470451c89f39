"""Names and ids the tests share, so that a fixture, a message and an assertion agree on them."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
LAMBDA_SRC = REPO_ROOT / "lambda_src"

INSTANCE_ID = "11111111-2222-3333-4444-555555555555"
SUPPORT = "support@example.com"  # the Connect address with the instance's default flow
SALES = "sales@example.com"  # the Connect address with a flow of its own
SALES_FLOW = "22222222-aaaa-bbbb-cccc-333333333333"  # a flow id: Connect's ids are lowercase UUIDs
CUSTOMER = "customer@example.org"
FROM = f"Customer <{CUSTOMER}>"
SUBJECT = "Help"
MESSAGE_ID = "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1"  # an SES message id: 40 lowercase base32

# The top-level folders of the function's code asset, written out rather than derived from the
# bundling code, so that a package added to or lost from the asset fails a test.
CODE_ASSET_FOLDERS = [
    "RTFDE",
    "asn1crypto",
    "charset_normalizer",
    "compressed_rtf",
    "icalendar",
    "justhtml",
    "lark",
    "oletools",
    "ses_to_connect",
    "tnefparse",
    "tzdata",
]
