"""CDK infrastructure of the SES -> S3 -> Lambda -> Amazon Connect email bridge.

``from ses_to_connect_cdk import SesToConnect, SesToConnectProps, BridgeConfig`` is all a CDK app needs
(docs/infrastructure.md, "Use it inside your own CDK app"). One construct per concern, composed by
:class:`ses_to_connect_cdk.construct.SesToConnect`, which :class:`ses_to_connect_cdk.stack.SesToConnectStack` builds from cdk.json:

* :mod:`ses_to_connect_cdk.config`: the cdk.json context, validated into a frozen :class:`BridgeConfig`
* :mod:`ses_to_connect_cdk.encryption`: the KMS key (alarm topic; mail data with ``mailEncryption: kms``)
* :mod:`ses_to_connect_cdk.mail_bucket`: the mail bucket and its access-log bucket
* :mod:`ses_to_connect_cdk.failure_queue`: the on-failure destination queue
* :mod:`ses_to_connect_cdk.state_tables`: the idempotency and reply-thread tables
* :mod:`ses_to_connect_cdk.function`: the bridge function, its role, log group and asynchronous-invoke config
* :mod:`ses_to_connect_cdk.receipt_rule`: the receipt rule (rule set and activation by mode) and SES's grants
* :mod:`ses_to_connect_cdk.alarms`, :mod:`ses_to_connect_cdk.dashboard`: the alarms, their SNS topic, the dashboard
* :mod:`ses_to_connect_cdk.nag`: cdk-nag checks and scoped acknowledgments
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ses_to_connect_cdk.config import BridgeConfig, ConfigError

if TYPE_CHECKING:
    from ses_to_connect_cdk.construct import SesToConnect, SesToConnectProps

__all__ = ["BridgeConfig", "ConfigError", "SesToConnect", "SesToConnectProps"]


def __getattr__(name: str) -> object:
    # The construct imports aws_cdk (a node process, about 2 s); the operations CLI reads only the
    # configuration, so the construct is imported when first asked for.
    if name in {"SesToConnect", "SesToConnectProps"}:
        from ses_to_connect_cdk import construct  # noqa: PLC0415

        return getattr(construct, name)
    raise AttributeError(f"module 'infra' has no attribute {name!r}")
