"""The agenda's pure layout: overlap lanes (property-tested) and the local-time axis on DST days."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from desktop.ui.agenda.layout import Lane, Scale, Span, day_axis, lay_out, local_hour

BASE = datetime(2025, 3, 4, 8, 0, tzinfo=UTC)


@st.composite
def spans(draw: st.DrawFn) -> list[Span]:
    count = draw(st.integers(0, 25))
    items = []
    for index in range(count):
        start = draw(st.integers(0, 48)) * 5
        length = draw(st.integers(1, 24)) * 5
        column = draw(st.sampled_from(["a", "b"]))
        items.append(Span(f"id-{index}", column, BASE + timedelta(minutes=start),
                          BASE + timedelta(minutes=start + length)))
    return items


def _overlap(a: Span, b: Span) -> bool:
    return a.column == b.column and a.start < b.end and b.start < a.end


def _lanes_used(lane: Lane) -> set[int]:
    return set(range(lane.lane, lane.lane + lane.span))


@given(spans())
def test_no_two_overlapping_items_share_a_lane(items: list[Span]) -> None:
    placed = lay_out(items)
    for a in items:
        for b in items:
            if a.id != b.id and _overlap(a, b):
                assert not _lanes_used(placed[a.id]) & _lanes_used(placed[b.id]), (a, b)


@given(spans())
def test_every_item_fits_inside_its_column(items: list[Span]) -> None:
    placed = lay_out(items)
    assert set(placed) == {s.id for s in items}
    for lane in placed.values():
        assert 0 <= lane.lane < lane.lanes
        assert lane.lane + lane.span <= lane.lanes
        assert 0 <= lane.x < 1 and 0 < lane.x + lane.width <= 1


@given(spans())
def test_each_overlap_cluster_fills_the_column_width(items: list[Span]) -> None:
    placed = lay_out(items)
    for item in items:
        # Items linked by overlaps share the same lane count, and that cluster uses every lane.
        cluster = _cluster_of(item, items)
        lanes = {placed[s.id].lanes for s in cluster}
        assert len(lanes) == 1
        used = set().union(*(_lanes_used(placed[s.id]) for s in cluster))
        assert used == set(range(lanes.pop()))


@given(spans(), st.randoms())
def test_the_layout_does_not_depend_on_the_input_order(
    items: list[Span], rng: random.Random
) -> None:
    shuffled = list(items)
    rng.shuffle(shuffled)
    assert lay_out(items) == lay_out(shuffled)


def test_an_item_alone_takes_the_whole_column_and_a_short_neighbour_widens() -> None:
    long = Span("long", "a", BASE, BASE + timedelta(hours=2))
    early = Span("early", "a", BASE, BASE + timedelta(minutes=30))
    late = Span("late", "a", BASE + timedelta(hours=1), BASE + timedelta(hours=3))
    alone = Span("alone", "b", BASE, BASE + timedelta(minutes=30))
    placed = lay_out([long, early, late, alone])
    assert placed["alone"] == Lane(0, 1, 1)
    assert placed["long"].lanes == 2 and placed["long"].width == 0.5
    assert {placed["early"].lane, placed["late"].lane} == {1}


def _cluster_of(item: Span, items: list[Span]) -> list[Span]:
    cluster, frontier = {item.id: item}, [item]
    while frontier:
        current = frontier.pop()
        for other in items:
            if other.id not in cluster and _overlap(current, other):
                cluster[other.id] = other
                frontier.append(other)
    return list(cluster.values())


# --------------------------------------------------------------------------- DST days


def test_a_normal_madrid_day_has_24_hour_rows() -> None:
    assert day_axis(date(2025, 3, 4), "Europe/Madrid").hours == 24


def test_madrid_spring_forward_day_has_23_rows_and_skips_two_oclock() -> None:
    axis = day_axis(date(2025, 3, 30), "Europe/Madrid")
    labels = [local_hour(instant, axis.tz) for _, instant in axis.hour_marks()]
    assert axis.hours == 23
    assert labels[:4] == [0, 1, 3, 4] and 2 not in labels


def test_madrid_fall_back_day_has_25_rows_and_shows_two_oclock_twice() -> None:
    axis = day_axis(date(2025, 10, 26), "Europe/Madrid")
    labels = [local_hour(instant, axis.tz) for _, instant in axis.hour_marks()]
    assert axis.hours == 25
    assert labels[:5] == [0, 1, 2, 2, 3]


def test_new_york_dst_days_have_23_and_25_rows() -> None:
    assert day_axis(date(2025, 3, 9), "America/New_York").hours == 23
    assert day_axis(date(2025, 11, 2), "America/New_York").hours == 25


def test_y_follows_real_time_so_ten_oclock_sits_nine_rows_down_on_spring_forward() -> None:
    axis = day_axis(date(2025, 3, 30), "Europe/Madrid")
    scale = Scale(top=40, pixels_per_minute=1.0)
    ten = datetime(2025, 3, 30, 8, 0, tzinfo=UTC)  # 10:00 CEST
    assert scale.y_of(axis, ten) == 40 + 9 * 60
    assert scale.instant_at(axis, 40 + 9 * 60) == ten


def test_snapping_rounds_to_the_step_and_stays_inside_the_day() -> None:
    axis = day_axis(date(2025, 3, 4), "Europe/Madrid")
    assert axis.snap(62.4, 5) == 60
    assert axis.snap(63, 5) == 65
    assert axis.snap(-20, 5) == 0
    assert axis.snap(24 * 60 + 30, 5) == 24 * 60
