"""The L2 book both ends keep from depth messages."""

from hypothesis import given
from hypothesis import strategies as st

from subscribers.depth import DepthBook


def test_insert_update_delete_follow_ibs_rules() -> None:
    book = DepthBook(max_rows=3)
    assert book.apply(0, "insert", "bid", 10.0, 1.0)
    assert book.apply(0, "insert", "bid", 10.5, 2.0, "NSDQ")
    assert book.bids == [(10.5, 2.0, "NSDQ"), (10.0, 1.0, None)]
    assert book.apply(1, "update", "bid", 10.1, 3.0)
    assert book.bids[1] == (10.1, 3.0, None)
    assert book.apply(0, "delete", "bid", 0.0, 0.0)
    assert book.bids == [(10.1, 3.0, None)]
    assert book.apply(0, "insert", "ask", 11.0, 1.0)
    assert book.spread() == 11.0 - 10.1
    assert book.best_ask == (11.0, 1.0, None)


def test_rows_beyond_the_limit_fall_off() -> None:
    book = DepthBook(max_rows=2)
    for price in (1.0, 2.0, 3.0):
        assert book.apply(0, "insert", "ask", price, 1.0)
    assert [row[0] for row in book.asks] == [3.0, 2.0]


def test_impossible_changes_are_refused_and_leave_the_book_alone() -> None:
    book = DepthBook()
    book.apply(0, "insert", "bid", 10.0, 1.0)
    before = list(book.bids)
    assert not book.apply(1, "update", "bid", 9.0, 1.0)
    assert not book.apply(3, "delete", "bid", 9.0, 1.0)
    assert not book.apply(2, "insert", "bid", 9.0, 1.0)
    assert not book.apply(-1, "insert", "bid", 9.0, 1.0)
    assert not book.apply(0, "insert", "middle", 9.0, 1.0)
    assert not book.apply(0, "upsert", "bid", 9.0, 1.0)
    assert book.bids == before
    assert book.asks == []


@given(
    st.lists(
        st.tuples(
            st.integers(-1, 6),
            st.sampled_from(["insert", "update", "delete"]),
            st.sampled_from(["bid", "ask"]),
            st.floats(0, 100, allow_nan=False),
        ),
        max_size=60,
    )
)
def test_any_sequence_keeps_both_sides_within_their_rows(
    changes: list[tuple[int, str, str, float]],
) -> None:
    book = DepthBook(max_rows=5)
    for position, operation, side, price in changes:
        rows = book.bids if side == "bid" else book.asks
        length = len(rows)
        applied = book.apply(position, operation, side, price, 1.0)
        possible = position >= 0 and (
            position <= length if operation == "insert" else position < length
        )
        assert applied == possible
        assert len(book.bids) <= 5 and len(book.asks) <= 5
