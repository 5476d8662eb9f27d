"""audit.gc_policy: the collector's threshold is raised inside the block and put back after it."""

from __future__ import annotations

import gc
import weakref

import pytest

from audit.gc_policy import BULK_ALLOCATION_THRESHOLD, fewer_collections


@pytest.fixture
def default_thresholds():  # type: ignore[no-untyped-def]
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def test_the_young_threshold_is_raised_inside_and_restored_after(default_thresholds: None) -> None:
    with fewer_collections():
        assert gc.get_threshold() == (BULK_ALLOCATION_THRESHOLD, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)


def test_the_threshold_is_restored_when_the_block_raises(default_thresholds: None) -> None:
    with pytest.raises(RuntimeError), fewer_collections(5_000):
        assert gc.get_threshold()[0] == 5_000
        raise RuntimeError("layout failed")
    assert gc.get_threshold() == (700, 10, 10)


def test_nested_blocks_restore_in_order_and_never_lower_a_higher_setting(default_thresholds: None) -> None:
    with fewer_collections(50_000):
        with fewer_collections(20_000):
            assert gc.get_threshold()[0] == 50_000
        assert gc.get_threshold()[0] == 50_000
    assert gc.get_threshold()[0] == 700


def test_collection_switched_off_by_a_zero_threshold_stays_off(default_thresholds: None) -> None:
    gc.set_threshold(0)
    with fewer_collections():
        assert gc.get_threshold()[0] == 0
    assert gc.get_threshold()[0] == 0


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_collect_after_frees_the_cyclic_garbage_the_block_left(default_thresholds: None) -> None:
    gc.collect()
    gc.disable()      # only the block's own collection may free the cycle
    try:
        with fewer_collections(collect_after=True):
            cycle = _Cycle()
            ref = weakref.ref(cycle)
            del cycle
        assert ref() is None
    finally:
        gc.enable()
