"""The deployment's configuration for ``simulate`` and ``preview``, read as ``cdk synth`` reads it.

``cdk.json`` in the current folder (or ``--config FILE``) with ``-c KEY=VALUE`` overrides, validated
by :class:`ses_to_connect_cdk.config.BridgeConfig`: the local tools run the user's addresses, flows, verdict
policy, body preference and static attributes, not defaults of their own. Kept in one place so the
shared command line can take it over.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from ses_to_connect.addresses import is_valid_address
from ses_to_connect.settings import ConnectAddress
from ses_to_connect_cdk.config import BridgeConfig, ConfigError
from ses_to_connect_tools.configuration import CONFIG_FILE, add_config_arguments
from ses_to_connect_tools.operations.deployment import load_config


class UsageError(Exception):
    """Input the command cannot use; its message is one line for stderr."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every local tool reads its deployment with."""
    add_config_arguments(parser)
    parser.add_argument(
        "--connect-address",
        action="append",
        dest="connect_addresses",
        type=connect_address,
        metavar="ADDR[=FLOW_ID]",
        help="use these Connect addresses instead of the configuration's connectAddresses (repeatable)",
    )


def connect_address(text: str) -> ConnectAddress:
    """``ADDR`` or ``ADDR=FLOW_ID`` (argparse type): the form ``convert`` documents."""
    parsed = ConnectAddress.parse(text)
    if not is_valid_address(parsed.address):
        raise argparse.ArgumentTypeError(f"{parsed.address!r} is not an email address (ADDR or ADDR=FLOW_ID)")
    return parsed


def deployment_config(
    config_file: Path | None, overrides: Sequence[str], addresses: Sequence[ConnectAddress] | None = None
) -> BridgeConfig:
    """The configuration ``cdk synth`` would read here; :class:`UsageError` when there is none or it
    is invalid."""
    path = config_file or CONFIG_FILE
    if not path.is_file():
        if path == CONFIG_FILE:
            raise UsageError(
                f"no cdk.json in {Path.cwd()}: run where your CDK app's cdk.json is, or pass --config FILE"
            )
        raise UsageError(f"--config {path}: no such file")
    if addresses:
        listed = [
            {"address": a.address, **({"contactFlowId": a.contact_flow_id} if a.contact_flow_id else {})}
            for a in addresses
        ]
        overrides = [*overrides, f"connectAddresses={json.dumps(listed)}"]
    try:
        return load_config(overrides, path)
    except ConfigError as exc:  # one problem is one line; several keep the list, one per line
        raise UsageError(exc.problems[0] if len(exc.problems) == 1 else str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    except KeyError:
        raise UsageError(f'{path} has no "context" object (the configuration is its context)') from None
    except ValueError as exc:  # a -c without KEY=VALUE
        raise UsageError(str(exc)) from None
