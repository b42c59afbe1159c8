"""Page-number paging of the permission queries: startDate descending, then id ascending; hasMore."""
from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from ksef_emulator import offset_paging


def rows(specs):
    return [{"id": i, "start_date": d} for i, d in specs]


def test_newest_first_then_id_ascending():
    data = rows([("b", 1.0), ("a", 1.0), ("c", 3.0), ("d", 2.0), ("0", 1.0)])
    assert [r["id"] for r in offset_paging.sorted_rows(data)] == ["c", "d", "0", "a", "b"]


def test_pages_and_has_more():
    data = rows([(f"{n:03d}", float(n // 3)) for n in range(25)])
    first, more = offset_paging.page(data, 0, 10)
    assert len(first) == 10 and more is True
    last, more = offset_paging.page(data, 2, 10)
    assert len(last) == 5 and more is False
    assert offset_paging.page(data, 3, 10) == ([], False)
    exact, more = offset_paging.page(data[:20], 1, 10)
    assert len(exact) == 10 and more is False


@given(st.lists(st.tuples(st.uuids().map(str), st.integers(0, 5).map(float)), unique_by=lambda t: t[0], max_size=60),
       st.integers(10, 100))
def test_pages_cover_every_row_once_whatever_the_input_order(specs, size):
    data = rows(specs)
    shuffled = data[:]
    random.shuffle(shuffled)
    seen, offset = [], 0
    while True:
        chunk, more = offset_paging.page(shuffled, offset, size)
        seen += chunk
        if not more:
            break
        offset += 1
    assert seen == offset_paging.sorted_rows(data)
    assert sorted(r["id"] for r in seen) == sorted(r["id"] for r in data)
