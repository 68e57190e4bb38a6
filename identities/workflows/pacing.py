"""The pace of automatic INSi calls: a rate shared by every worker process, kept in Redis (GCRA token bucket)."""
from __future__ import annotations

import functools
import math
import threading
import time

from django.conf import settings
from django.db import connection

# GCRA: each caller reserves the next slot on the shared clock of Redis (TIME), then sleeps until
# it. Slots are 1/rate apart whatever the number of workers; a tolerance of half a second of
# calls lets a worker that fell behind (a slow call) catch up instead of losing its slots, so
# the rate holds over time and never exceeds the limit by more than that half second's calls.
_RESERVE = """
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now then slot = now end
local wait = slot - tolerance - now
if wait < 0 then wait = 0 end
redis.call('SET', KEYS[1], string.format('%.0f', slot + interval), 'PX', math.floor((slot + interval - now) / 1000) + 60000)
return string.format('%.0f', wait)
"""
CATCH_UP_SECONDS = 0.5


@functools.cache
def _redis(url: str):
    import redis

    client = redis.Redis.from_url(url)
    return client, client.register_script(_RESERVE)


class _LocalSlots:
    """Without Redis (embedded demo): the same reservation, per worker process only."""

    def __init__(self):
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}

    def reserve(self, key: str, interval: float, tolerance: float) -> float:
        with self._lock:
            now = time.monotonic()
            slot = max(self._next.get(key, 0.0), now)
            self._next[key] = slot + interval
            return max(0.0, slot - tolerance - now)


_local = _LocalSlots()


def _key(bucket: str) -> str:
    # Prefixed by the database: two portals (or two test databases) on one Redis never share a pace.
    return f"insportal:{connection.settings_dict['NAME']}:insi-pace:{bucket}"


def reserve(bucket: str, calls_per_second: float) -> float:
    """Take the next free slot of ``bucket``; returns how long to wait for it, in seconds (0: now)."""
    interval = 1.0 / calls_per_second
    # The tolerance is a whole number of calls, at least one: below 2 calls a second, none.
    tolerance = interval * (max(1, math.floor(calls_per_second * CATCH_UP_SECONDS)) - 1)
    url = settings.INSI_PACE_REDIS_URL
    if url:
        _client, script = _redis(url)
        return int(script(keys=[_key(bucket)], args=[round(interval * 1_000_000), round(tolerance * 1_000_000)])) / 1_000_000
    return _local.reserve(_key(bucket), interval, tolerance)


def wait_for_slot(bucket: str, calls_per_second: float) -> float:
    """Block until this caller may make one call of ``bucket``; returns the seconds waited."""
    wait = reserve(bucket, calls_per_second)
    if wait > 0:
        time.sleep(wait)
    return wait
