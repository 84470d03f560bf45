"""Celery's Redis transport, made to keep working while Redis is full (`noeviction` at maxmemory).

On each delivery kombu records the task as unacknowledged (ZADD and HSET, writes Redis
refuses when full), and on each acknowledgement removes that record in a MULTI block
(inside which a full Redis refuses every command, even ZREM and HDEL that it accepts
alone). Either refusal reaches Celery as an error it treats as unrecoverable: the worker
exits and every answer it was writing ends as `worker_lost`. Here, while Redis is full,
a delivery runs without its record (the record only lets a task be redelivered after a
crash, and a queued answer whose task was lost is re-sent by the reaper,
`ANSWER_RESEND_AFTER`), and an acknowledgement removes it without MULTI. Everything else
is kombu's own.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from redis.exceptions import OutOfMemoryError

if TYPE_CHECKING:
    from kombu.message import Message

logger = logging.getLogger(__name__)


class QoS(kombu_redis.QoS):
    def append(self, message: Message, delivery_tag: int) -> None:
        try:
            super().append(message, delivery_tag)
        except OutOfMemoryError:
            logger.warning("Redis is full: task %s runs without its redelivery record", delivery_tag)
            # What the parent would have done after its Redis writes: track the delivery in memory.
            virtual.QoS.append(self, message, delivery_tag)

    def ack(self, delivery_tag: int) -> None:
        try:
            super().ack(delivery_tag)
        except OutOfMemoryError:
            self._remove_alone(delivery_tag)
            virtual.QoS.ack(self, delivery_tag)

    def reject(self, delivery_tag: int, requeue: bool = False) -> None:
        try:
            super().reject(delivery_tag, requeue=requeue)
        except OutOfMemoryError:
            if requeue:
                raise  # putting it back needs memory: nothing to do but fail as kombu does
            self._remove_alone(delivery_tag)
            virtual.QoS.ack(self, delivery_tag)

    def _remove_alone(self, delivery_tag: int) -> None:
        with self.channel.conn_or_acquire() as client:
            self._remove_from_indices(delivery_tag, client.pipeline(transaction=False)).execute()


class Channel(kombu_redis.Channel):
    QoS = QoS


class Transport(kombu_redis.Transport):
    Channel = Channel
