"""Two processes under one ``worker.id``: their tasks share static member ids, and the
group coordinator lets only one of them in. librdkafka reports it as a fatal consumer
error (``_FATAL``, the broker's FENCED_INSTANCE_ID on the classic protocol,
UNRELEASED_INSTANCE_ID on the consumer protocol) after which that consumer is dead.
This module recognises that error and says, in the task's status, what it means."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException

__all__ = ["MemberFenced", "fenced_error"]

# librdkafka wraps the broker's error in _FATAL and keeps only its text: the text of
# either code is how the wrapped one is told apart (taken from librdkafka itself).
_FENCING_TEXTS = tuple(
    KafkaError(code).str()
    for code in (KafkaError.FENCED_INSTANCE_ID, KafkaError.UNRELEASED_INSTANCE_ID)
)


class MemberFenced(Exception):
    """A task's consumer was shut out of its group by another with the same static id.
    Not restarted by itself: a restart would take the id back and shut out the other
    process, each in turn."""

    def __init__(self, worker_id: str, instance_id: str, detail: str) -> None:
        self.worker_id = worker_id
        self.instance_id = instance_id
        super().__init__(
            f"another process uses worker.id {worker_id!r}: its task has the same group "
            f"member id ({instance_id}) and the group let only one of them in ({detail}). "
            "Give each worker process its own worker.id, stop the other process, then "
            "restart this task."
        )


def fenced_error(exc: BaseException) -> str | None:
    """The broker's words when ``exc`` is librdkafka's fatal fencing error, else None."""
    if not isinstance(exc, KafkaException) or not exc.args:
        return None
    err = exc.args[0]
    if not isinstance(err, KafkaError) or not (err.fatal() or err.code() == KafkaError._FATAL):
        return None
    text = err.str()
    return next((t for t in _FENCING_TEXTS if t in text), None)
