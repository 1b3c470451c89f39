"""A sandbox killed right after Connect answered is recovered by Lambda's own retry.

Each attempt runs the real handler in a process of its own (``sandbox.py``) against moto's server
and the Connect emulator over HTTP. The first is frozen as the emulator's answer is ready and
killed (SIGKILL) once the answer is written to it: the contact exists, the ledger's record for
its ClientToken says "in progress", and nothing else ever runs. Lambda's retry waits (1 and 2
minutes) are scaled down 20 times; the lock is what the test's settings give (one Connect
attempt of 2 s: ``timing.in_progress_lock_seconds``), in the same proportion to the waits as the
defaults' (5 attempts of 10 s: 137 s against 60 s and 180 s): the first retry may still find the
lock, the second always finds it expired. Before, the lock lasted the invocation's remaining
time (300 s) and both retries ended in the failure queue.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

from ses_to_connect.adapters.ledger import KEY_PREFIX
from ses_to_connect.convert import client_token
from ses_to_connect.timing import in_progress_lock_seconds
from ses_to_connect_tools.local_pipeline.aws import IDEMPOTENCY_TABLE, SUPPORT_ADDRESS, LocalAws
from ses_to_connect_tools.local_pipeline.connect_emulator import ConnectEmulator
from ses_to_connect_tools.local_pipeline.lambda_runtime import RETRY_DELAYS_SECONDS
from tests.support.mail import wire

from . import (
    assert_sent,
    attach,
    decoded,
    failure_records_for,
    new_message,
    only_contact,
    ses_message_id,
    store,
)
from .sandbox import CONNECT_ENV, RETRY_SCALE, killed_after_next_answer


def record_status(aws: LocalAws, token: str) -> str:
    """The status of the ledger's Powertools record for ``token``, read as the ledger reads it."""
    persistence = DynamoDBPersistenceLayer(table_name=IDEMPOTENCY_TABLE, boto3_client=aws.client("dynamodb"))
    persistence.configure(IdempotencyConfig(event_key_jmespath="ClientToken"), key_prefix=KEY_PREFIX)
    record = persistence.get_record({"ClientToken": token})
    assert record is not None
    return str(record.status)


def test_a_sandbox_killed_right_after_connect_answered_is_recovered_by_lambdas_retry(
    aws: LocalAws, emulator: ConnectEmulator
) -> None:
    lock = in_progress_lock_seconds(
        int(CONNECT_ENV["CONNECT_MAX_ATTEMPTS"]), int(CONNECT_ENV["CONNECT_TIMEOUT_SECONDS"]), adaptive=False
    )
    waits = [delay / RETRY_SCALE for delay in RETRY_DELAYS_SECONDS]
    assert waits[0] < lock < sum(waits)  # as in production: the second retry always finds it expired
    message = new_message("Killed after Connect answered")
    part = attach(message, b"%PDF-1.4 killed\n", "application/pdf", "contract.pdf")
    event = store(aws, wire(message))
    message_id = ses_message_id(event)
    token = client_token(message_id, SUPPORT_ADDRESS)
    after_failures: list[str] = []
    runtime, sandboxes = killed_after_next_answer(
        aws, before_retry=lambda: after_failures.append(record_status(aws, token))
    )

    run = runtime.invoke(event)

    assert sandboxes.killed == 1
    assert after_failures[0] == "INPROGRESS"  # the kill left the lock: nothing released it
    assert run.error is None, run.error
    contact = only_contact(emulator, message_id)
    assert run.result is not None
    [result] = run.result["messages"]
    assert (result["outcome"], result["contactIds"], result["contactsWithoutId"]) == (
        "contact",
        [contact.contact_id],
        0,
    )
    # Connect saw the same request twice (the retry's replay, byte for byte) and created one contact.
    assert [a.status for a in emulator.attempts()] == [200, 200]
    assert_sent(aws, contact, message_id, [("contract.pdf", decoded(part))])
    assert failure_records_for(aws, message_id) == []
    assert record_status(aws, token) == "COMPLETED"
