"""The shared Redis cache, which a Redis outage turns into a slower site, not a broken one."""

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

T = TypeVar("T")

OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError)
# After a failure the cache is left alone for this long, so that every request
# does not wait for its own refused connection (or a connect timeout).
RETRY_AFTER_SECONDS = 5.0


class OutageTolerantRedisCache(RedisCache):
    """A RedisCache that answers a miss while Redis is unreachable, and logs a warning.

    Everything the registry caches can be computed again, so an outage only
    costs time. `add` answers True while Redis is down: its callers use it to
    run something once per window, and running it again is safe, never running
    it is not.
    """

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._skip_until = 0.0

    def _guard(self, call: Callable[[], T], fallback: T, operation: str) -> T:
        if time.monotonic() < self._skip_until:
            return fallback
        try:
            return call()
        except OUTAGE_ERRORS as exc:
            self._skip_until = time.monotonic() + RETRY_AFTER_SECONDS
            logger.warning(
                "cache unavailable (%s): %s; serving without it for %.0f s",
                operation,
                exc,
                RETRY_AFTER_SECONDS,
            )
            return fallback

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version=None) -> bool:
        return self._guard(lambda: RedisCache.add(self, key, value, timeout, version), True, "add")

    def get(self, key: Any, default: Any = None, version=None) -> Any:
        return self._guard(lambda: RedisCache.get(self, key, default, version), default, "get")

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version=None) -> None:
        self._guard(lambda: RedisCache.set(self, key, value, timeout, version), None, "set")

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version=None) -> bool:
        return self._guard(lambda: RedisCache.touch(self, key, timeout, version), False, "touch")

    def delete(self, key: Any, version=None) -> bool:
        return self._guard(lambda: RedisCache.delete(self, key, version), False, "delete")

    def get_many(self, keys: Any, version=None) -> dict:
        return self._guard(lambda: RedisCache.get_many(self, keys, version), {}, "get_many")

    def has_key(self, key: Any, version=None) -> bool:
        return self._guard(lambda: RedisCache.has_key(self, key, version), False, "has_key")

    def set_many(self, data: dict, timeout: Any = DEFAULT_TIMEOUT, version=None) -> list:
        return self._guard(
            lambda: RedisCache.set_many(self, data, timeout, version), list(data), "set_many"
        )

    def delete_many(self, keys: Any, version=None) -> None:
        self._guard(lambda: RedisCache.delete_many(self, keys, version), None, "delete_many")

    def clear(self) -> bool:
        return self._guard(lambda: RedisCache.clear(self), False, "clear")
