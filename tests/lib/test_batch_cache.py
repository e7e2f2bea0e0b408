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


def test_an_update_applies_to_what_the_key_holds_now_not_to_what_was_read():
    cache.set("k", ["first"])
    read = batch_cache.read_many(["k"])
    cache.set("k", ["first", "second"])  # another writer, after the read
    update = batch_cache.Update(
        keys=["k", "new"], apply=lambda key, current: [*(current or []), "mine"], timeout=60, read=read
    )
    batch_cache.set_many(update=update)
    assert cache.get_many(["k", "new"]) == {"k": ["first", "second", "mine"], "new": ["mine"]}


def test_a_failing_update_leaves_the_groups_stored():
    def broken(key, current):
        raise RuntimeError("a bug in the caller's apply")

    batch_cache.set_many(({"s": 1}, 60), update=batch_cache.Update(keys=["k"], apply=broken, timeout=60))
    assert cache.get("s") == 1
    assert cache.get("k") is None
