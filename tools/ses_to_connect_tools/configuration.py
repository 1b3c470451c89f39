"""The deployment's configuration as every command reads it: the same as ``cdk synth`` reads it.

``cdk.json``'s ``context`` in the current folder (the CDK app's, as for ``cdk synth``) or the file
given with ``--config FILE``, then each ``-c KEY=VALUE`` over it (a string, as the CDK CLI passes
it), validated into a :class:`~ses_to_connect_cdk.config.BridgeConfig`. Reading it needs neither
aws_cdk nor AWS: ``simulate`` and ``preview`` use it as ``preflight`` and ``smoke`` do.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ses_to_connect_cdk.config import BridgeConfig, ConfigError

__all__ = ["CONFIG_FILE", "add_config_arguments", "config_from_args", "load_config", "read_context"]

CONFIG_FILE = Path("cdk.json")  # relative: the current folder's, as the CDK CLI reads it


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config FILE`` and ``-c/--context KEY=VALUE``, for :func:`config_from_args`."""
    parser.add_argument(
        "--config",
        type=Path,
        default=CONFIG_FILE,
        metavar="FILE",
        help="the cdk.json whose context is the deployment's configuration (default: ./cdk.json)",
    )
    parser.add_argument(
        "-c",
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one context key, as for cdk synth (repeatable)",
    )


def config_from_args(args: argparse.Namespace) -> BridgeConfig:
    """The configuration named by :func:`add_config_arguments`' options; raises :class:`ConfigError`."""
    return load_config(args.context, args.config)


def load_config(overrides: Sequence[str] = (), config_file: Path = CONFIG_FILE) -> BridgeConfig:
    """The deployment configuration; raises :class:`ConfigError` (one message) like a synth would."""
    context = read_context(config_file)
    problems = []
    for item in overrides:
        key, separator, value = item.partition("=")
        if not separator or not key.strip():
            problems.append(f"-c expects KEY=VALUE, not {item!r}")
        else:
            context[key.strip()] = value
    if problems:
        raise ConfigError(problems)
    return BridgeConfig.from_context(context)


def read_context(config_file: Path = CONFIG_FILE) -> dict[str, Any]:
    """The ``context`` object of a cdk.json; raises :class:`ConfigError` naming the file and the fix."""
    try:
        document = json.loads(config_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            [f"{config_file}: no such file: run the command in your CDK app's folder or pass --config FILE"]
        ) from None
    except OSError as exc:
        raise ConfigError([f"{config_file}: cannot read it: {exc.strerror or exc}"]) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{config_file}: not valid JSON: {exc}"]) from None
    context = document.get("context") if isinstance(document, dict) else None
    if not isinstance(context, dict):
        raise ConfigError([f'{config_file}: no "context" object (the deployment\'s keys go there)'])
    return dict(context)
