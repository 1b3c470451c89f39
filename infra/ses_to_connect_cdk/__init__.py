"""CDK infrastructure of the SES -> S3 -> Lambda -> Amazon Connect email bridge.

``from ses_to_connect_cdk import SesToConnect, SesToConnectProps, BridgeConfig`` is all a CDK app
needs (docs/infrastructure.md, "Use it inside your own CDK app"). One construct per concern, composed
by :class:`.construct.SesToConnect`, which :class:`.stack.SesToConnectStack` builds from cdk.json:

* :mod:`.config`: the cdk.json context, validated into a frozen :class:`BridgeConfig`
* :mod:`.encryption`: the KMS key (alarm topic; mail data with ``mailEncryption: kms``)
* :mod:`.mail_bucket`: the mail bucket and its access-log bucket
* :mod:`.failure_queue`: the on-failure destination queue
* :mod:`.state_tables`: the idempotency and reply-thread tables
* :mod:`.function`: the bridge function, its role, log group and asynchronous-invoke config
* :mod:`.receipt_rule`: the receipt rule (rule set and activation by mode) and SES's grants
* :mod:`.alarms`, :mod:`.dashboard`: the alarms, their SNS topic, the dashboard
* :mod:`.nag`: cdk-nag checks and scoped acknowledgments
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
        try:
            from ses_to_connect_cdk import construct  # noqa: PLC0415
        except ModuleNotFoundError as exc:
            if exc.name not in {"aws_cdk", "constructs", "cdk_nag", "jsii"}:
                raise
            raise ModuleNotFoundError(
                f"the SesToConnect construct needs the AWS CDK ({exc.name} is not installed): "
                "pip install 'ses-to-connect[cdk]'",
                name=exc.name,
            ) from None
        return getattr(construct, name)
    raise AttributeError(f"module 'infra' has no attribute {name!r}")
