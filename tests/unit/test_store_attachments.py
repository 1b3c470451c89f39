"""Attachment stores overlap (``AttachmentStore(uploads=N)``) without changing what is sent or skipped.

The S3 clients here run on the store's real thread pool: they block, sleep and fail on
purpose, so a store that ran in the wrong order, went over the byte budget or lost a failure
would show it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import pytest

from ses_to_connect.adapters.s3 import AttachmentStore
from ses_to_connect.attachments import Candidate, Skipped, store_attachments
from ses_to_connect.errors import StorageError
from ses_to_connect.limits import MAX_ATTACHMENT_BYTES, MAX_S3_URL

MB = 1_000_000
Sent = tuple[list[dict[str, str]], list[Skipped]]


def candidate(name: str, size: int, *, actual: int | None = None) -> Candidate:
    """A PDF of ``size`` declared bytes whose payload has ``actual`` bytes (default: size)."""
    length = size if actual is None else actual
    return Candidate(name, "application/pdf", False, size, lambda: (b"%PDF-" + b"x" * length)[:length])


class RecordingClient:
    """An S3 client that stores nothing; records each PutObject key, how many overlapped and how many
    bytes were in flight, and signs a URL over Connect's limit for the keys in ``long_url_for``."""

    def __init__(self, delay: Callable[[str], float] = lambda key: 0.0, long_url_for: set[str] | None = None):
        self.keys: list[str] = []
        self.threads: set[str] = set()
        self._delay = delay
        self._long_url_for = long_url_for or set()
        self._lock = threading.Lock()
        self._running = 0
        self._bytes = 0
        self.most_running = 0
        self.most_bytes = 0

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str) -> None:
        with self._lock:
            self.keys.append(Key)
            self.threads.add(threading.current_thread().name)
            self._running += 1
            self._bytes += len(Body)
            self.most_running = max(self.most_running, self._running)
            self.most_bytes = max(self.most_bytes, self._bytes)
        try:
            time.sleep(self._delay(Key))
        finally:
            with self._lock:
                self._running -= 1
                self._bytes -= len(Body)

    def generate_presigned_url(self, method: str, *, Params: dict[str, str], ExpiresIn: int) -> str:
        key = Params["Key"]
        length = MAX_S3_URL + 1 if key in self._long_url_for else 40
        return f"https://bucket.example/{key}".ljust(length, "x")


def stored(files: list[Candidate], client: RecordingClient, key_prefix: str, *, uploads: int = 1) -> Sent:
    """``store_attachments`` through the Lambda's own S3 store, on ``client``."""
    return store_attachments(files, AttachmentStore(client, "bucket", 3600, uploads=uploads), key_prefix)


def mixed_candidates() -> list[Candidate]:
    """Every way a file can end: sent, empty, too large before and after decoding, URL too long, too many."""
    files = [candidate(f"f{n:02d}.pdf", 1000 + n) for n in range(16)]
    files[2] = candidate("empty.pdf", 0)
    files[4] = candidate("huge.pdf", MAX_ATTACHMENT_BYTES + 1, actual=0)
    files[6] = candidate("grew.pdf", 10, actual=MAX_ATTACHMENT_BYTES + 1)
    return files


def test_overlapping_stores_send_and_skip_exactly_what_one_at_a_time_does() -> None:
    long_url = {"attachments/m/03.pdf", "attachments/m/09.pdf"}  # f03.pdf and f09.pdf
    one = RecordingClient(long_url_for=long_url)
    expected = stored(mixed_candidates(), one, "attachments/m/")
    shuffled = random.Random(7)  # noqa: S311 (test delays, not secrets)
    delays = {key: shuffled.uniform(0, 0.02) for key in one.keys}  # later stores often finish first
    many = RecordingClient(delay=lambda key: delays[key], long_url_for=long_url)

    assert stored(mixed_candidates(), many, "attachments/m/", uploads=4) == expected
    sent, skipped = expected
    assert [item["FileName"] for item in sent] == [
        "f00.pdf", "f01.pdf", "f05.pdf", "f07.pdf", "f08.pdf", "f10.pdf", "f11.pdf", "f12.pdf", "f13.pdf",
        "f14.pdf",
    ]  # fmt: skip
    assert skipped == [
        Skipped("empty.pdf", "empty"),
        Skipped("f03.pdf", "url_too_long"),
        Skipped("huge.pdf", "too_large"),
        Skipped("grew.pdf", "too_large"),
        Skipped("f09.pdf", "url_too_long"),
        Skipped("f15.pdf", "too_many"),
    ]
    assert sorted(many.keys) == sorted(one.keys)


def test_a_file_refused_for_its_url_leaves_its_place_to_the_eleventh() -> None:
    """Ten in flight, one of them refused: the next file takes its place, not too_many."""
    files = [candidate(f"f{n:02d}.pdf", 100) for n in range(12)]
    client = RecordingClient(delay=lambda key: 0.01, long_url_for={"p/00.pdf"})
    sent, skipped = stored(files, client, "p/", uploads=10)
    assert [item["FileName"] for item in sent] == [f"f{n:02d}.pdf" for n in range(1, 11)]
    assert skipped == [Skipped("f00.pdf", "url_too_long"), Skipped("f11.pdf", "too_many")]


def test_uploads_run_at_the_same_time() -> None:
    """Three stores that each wait for the other two: only concurrent stores get past the barrier."""
    barrier = threading.Barrier(3, timeout=10)

    def wait_for_the_others(key: str) -> float:
        barrier.wait()  # raises BrokenBarrierError after 10 s if the stores ran one at a time
        return 0.0

    client = RecordingClient(delay=wait_for_the_others)
    sent, _ = stored([candidate(f"f{n}.pdf", 100) for n in range(3)], client, "p/", uploads=3)
    assert (len(sent), client.most_running) == (3, 3)


def test_files_in_flight_stay_within_the_byte_budget() -> None:
    """7 MB files: two fit in Connect's 20 MB per-file limit together, a third would not."""
    client = RecordingClient(delay=lambda key: 0.02)
    sent, _ = stored([candidate(f"f{n}.pdf", 7 * MB) for n in range(5)], client, "p/", uploads=4)
    assert len(sent) == 5
    assert client.most_running <= 2
    assert client.most_bytes <= 14 * MB


def test_the_budget_counts_decoded_bytes_when_the_size_was_underestimated() -> None:
    """Damaged base64 can decode to more than its counted size: the store waits for room all the same."""
    client = RecordingClient(delay=lambda key: 0.02)
    files = [candidate(f"f{n}.pdf", 1 * MB, actual=12 * MB) for n in range(3)]
    sent, _ = stored(files, client, "p/", uploads=4)
    assert len(sent) == 3
    assert client.most_bytes <= MAX_ATTACHMENT_BYTES


def test_a_file_of_the_maximum_size_is_stored_alone() -> None:
    client = RecordingClient(delay=lambda key: 0.02)
    files = [candidate("a.pdf", 100), candidate("big.pdf", MAX_ATTACHMENT_BYTES), candidate("b.pdf", 100)]
    sent, _ = stored(files, client, "p/", uploads=4)
    assert len(sent) == 3
    assert client.most_bytes == MAX_ATTACHMENT_BYTES


def test_one_upload_at_a_time_uses_no_thread() -> None:
    client = RecordingClient()
    stored([candidate(f"f{n}.pdf", 100) for n in range(3)], client, "p/")
    assert client.threads == {threading.current_thread().name}


@pytest.mark.parametrize("uploads", [1, 4])
def test_a_failed_store_is_raised_after_the_others_finish(uploads: int) -> None:
    finished: list[str] = []

    class FailingClient(RecordingClient):
        def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str) -> None:
            if Key == "p/01.pdf":  # f1.pdf
                raise StorageError(f"cannot store attachment {Key}")
            super().put_object(Bucket=Bucket, Key=Key, Body=Body, ContentType=ContentType)
            finished.append(Key)

    client = FailingClient(delay=lambda key: 0.01)
    with pytest.raises(StorageError, match=r"cannot store attachment p/01\.pdf"):
        stored([candidate(f"f{n}.pdf", 100) for n in range(4)], client, "p/", uploads=uploads)
    # No store is left running behind the error: the pool has finished what it started.
    assert [
        thread.name for thread in threading.enumerate() if thread.name.startswith("attachment-upload")
    ] == []
    assert "p/00.pdf" in finished  # f0.pdf
