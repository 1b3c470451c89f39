"""The function's own CloudWatch metrics: the closed set that the handler emits and the stack's
alarms and dashboard read. Both sides name a metric by this enum, so renaming one fails the type
check on every reader instead of leaving an alarm on a metric that no longer arrives."""

from __future__ import annotations

from enum import StrEnum


class MetricName(StrEnum):
    """A metric the function emits (Powertools EMF, dimension ``service``)."""

    CONTACTS_CREATED = "ContactsCreated"
    CONTACTS_WITHOUT_ID = "ContactsWithoutId"  # the contact exists but its id is lost
    DUPLICATE_INVOCATIONS = "DuplicateInvocations"
    QUARANTINED = "Quarantined"
    QUARANTINED_BY_REASON = "QuarantinedByReason"  # with dimension ``reason`` besides ``service``
    PERMANENT_FAILURES = "PermanentFailures"
    ATTACHMENTS_SENT = "AttachmentsSent"
    ATTACHMENTS_SKIPPED = "AttachmentsSkipped"
    ATTACHMENT_URL_LENGTH = "AttachmentUrlLength"
    MESSAGES_WITH_DEFECTS = "MessagesWithDefects"
    THREAD_INDEX_WRITE_FAILURES = "ThreadIndexWriteFailures"
