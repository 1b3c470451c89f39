"""CDK infrastructure of the SES -> S3 -> Lambda -> Amazon Connect email bridge.

One construct per concern, composed by :class:`infra.stack.SesToConnectStack`:

* :mod:`infra.config`: the cdk.json context, validated into a frozen :class:`BridgeConfig`
* :mod:`infra.encryption`: the stack's KMS key (alarm topic; mail data with ``mailEncryption: kms``)
* :mod:`infra.mail_bucket`: the mail bucket and its access-log bucket
* :mod:`infra.failure_queue`: the on-failure destination queue
* :mod:`infra.function`: the bridge function, its role, log group and asynchronous-invoke config
* :mod:`infra.receipt_rule`: the receipt rule (rule set and activation by mode) and SES's grants
* :mod:`infra.alarms`: the alarms and their SNS topic
* :mod:`infra.nag`: cdk-nag checks and scoped acknowledgments
"""
