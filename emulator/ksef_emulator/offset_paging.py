"""Page-number paging of the permission queries: `pageOffset` (page number from 0), `pageSize`, `hasMore`.

Rows are sorted by startDate descending, then id ascending (the second key makes pages deterministic).
"""

from __future__ import annotations


def sorted_rows(rows: list[dict]) -> list[dict]:
    """startDate (epoch seconds in `start_date`) descending, then `id` ascending."""
    by_id = sorted(rows, key=lambda r: r["id"])
    return sorted(by_id, key=lambda r: r["start_date"], reverse=True)


def page(rows: list[dict], offset: int, size: int) -> tuple[list[dict], bool]:
    """Page number `offset` of `size` rows of the sorted rows, and whether another page follows."""
    ordered = sorted_rows(rows)
    start = offset * size
    return ordered[start : start + size], len(ordered) > start + size
