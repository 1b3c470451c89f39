"""Builds the CDK app: configuration from context, the stack, and the cdk-nag checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk

from ses_to_connect_cdk.config import BridgeConfig
from ses_to_connect_cdk.nag import add_nag_checks
from ses_to_connect_cdk.stack import SesToConnectStack

__all__ = ["build_app"]


def build_app(
    context: Mapping[str, Any] | None = None, *, outdir: str | None = None
) -> tuple[cdk.App, SesToConnectStack]:
    """The app and its one stack. ``context`` adds to (and overrides) what the CDK CLI passes in.

    Raises :class:`ses_to_connect_cdk.config.ConfigError` when the configuration is invalid.
    """
    app = cdk.App(context=dict(context) if context else None, outdir=outdir)
    config = BridgeConfig.from_context(app.node.get_all_context())
    stack = SesToConnectStack(app, config.stack_name, config=config)
    add_nag_checks(app)
    return app, stack
