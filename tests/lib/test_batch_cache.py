"""personalize.lib.cache: what its one-round-trip writes leave, read back through Django's cache,
on whichever cache the suite runs (Redis in CI, the local-memory cache on the embedded defaults)."""

from django.core.cache import cache

from personalize.lib import cache as batch_cache


def test_set_many_stores_each_group_with_its_timeout():
    batch_cache.set_many(({"a": {"x": 1}, "b": 7}, 60), ({"c": "kept"}, None), ({"gone": 1}, 0))
    assert cache.get_many(["a", "b", "c", "gone"]) == {"a": {"x": 1}, "b": 7, "c": "kept"}
    if batch_cache.redis_client() is not None:
        assert 0 < cache.ttl("a") <= 60
        assert cache.ttl("c") is None  # django-redis: no expiry


def test_a_change_is_its_script_on_redis_and_its_function_elsewhere():
    # django-redis keeps integers as plain numbers, so cache.get reads what the script SET.
    change = batch_cache.AtomicChange(
        script=batch_cache.Script("return redis.call('SET', KEYS[1], ARGV[1])"),
        keys=["k"],
        args=[7],
        locally=lambda: cache.set("k", 8),
    )
    batch_cache.set_many(({"s": 1}, 60), change=change)
    assert cache.get_many(["s", "k"]) == {"s": 1, "k": 7 if batch_cache.redis_client() else 8}


def test_a_failing_change_leaves_the_groups_stored():
    def broken():
        raise RuntimeError("a bug in the caller's change")

    change = batch_cache.AtomicChange(
        script=batch_cache.Script("return redis.call('NO-SUCH-COMMAND')"), keys=["k"], args=[], locally=broken
    )
    batch_cache.set_many(({"s": 1}, 60), change=change)
    assert cache.get("s") == 1
    assert cache.get("k") is None


def test_read_many_reads_what_set_many_stored():
    batch_cache.set_many(({"a": [1, "x"], "b": 2}, 60))
    assert batch_cache.read_many(["a", "b", "missing"]) == {"a": [1, "x"], "b": 2}
