"""``operations.Pager`` without I/O: which pages it asks for and what it delivers when the list moves."""

from __future__ import annotations

import re

import pytest
from coder_client import InvalidArgument, User
from coder_client import endpoints as api
from coder_client.endpoints import Call
from coder_client.models import UsersPage
from coder_client.operations import Pager


def users(*names: str) -> list[User]:
    return [User(id=name, username=name) for name in names]


def read(pager: Pager[User], answer: UsersPage) -> tuple[dict[str, str | int], list[User]]:
    """One ``next_page``: the query parameters it sent, and what it delivered for ``answer``."""
    op = pager.next_page()
    call = next(op)
    assert isinstance(call, Call) and call.path == "/users"
    with pytest.raises(StopIteration) as stop:
        op.send(answer)
    return dict(call.params or {}), stop.value.value


def test_a_record_created_while_paging_is_not_delivered_twice() -> None:
    pager: Pager[User] = Pager(api.LIST_USERS, "users", "status:active", None, 2)
    params, first = read(pager, UsersPage(users=users("a", "b"), count=4))
    assert params == {"limit": 2, "offset": 0, "q": "status:active"}
    assert [u.id for u in first] == ["a", "b"] and not pager.done
    # "new" was created ahead of the offset: "b" slides into the second page
    params, second = read(pager, UsersPage(users=users("b", "c"), count=5))
    assert params["offset"] == 2 and [u.id for u in second] == ["c"] and not pager.done
    params, third = read(pager, UsersPage(users=users("d"), count=5))
    assert params["offset"] == 4 and [u.id for u in third] == ["d"] and pager.done


def test_a_short_page_is_not_the_end_until_count_is_reached() -> None:
    pager: Pager[User] = Pager(api.LIST_USERS, "users", None, None, 3)
    params, first = read(pager, UsersPage(users=users("a", "b"), count=3))  # the server capped the page
    assert "q" not in params and len(first) == 2 and not pager.done
    params, rest = read(pager, UsersPage(users=users("c"), count=3))
    assert params == {"limit": 3, "offset": 2} and [u.id for u in rest] == ["c"] and pager.done


def test_limit_asks_for_no_more_than_is_left() -> None:
    pager: Pager[User] = Pager(api.LIST_USERS, "users", None, 3, 2)
    read(pager, UsersPage(users=users("a", "b"), count=10))
    params, last = read(pager, UsersPage(users=users("c", "d"), count=10))  # a server may send more
    assert params == {"limit": 1, "offset": 2} and [u.id for u in last] == ["c"] and pager.done


def test_an_empty_page_ends_it() -> None:
    pager: Pager[User] = Pager(api.LIST_USERS, "users", None, None, 2)
    _, page = read(pager, UsersPage(users=[], count=9))
    assert page == [] and pager.done


@pytest.mark.parametrize(
    ("limit", "page_size", "named"),
    [
        (None, 0, "page_size=0"),
        (None, True, "page_size=True"),
        (None, "10", "page_size='10'"),
        (-1, 5, "limit=-1"),
        (2.5, 5, "limit=2.5"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(limit: object, page_size: object, named: str) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(named)):
        Pager(api.LIST_USERS, "users", None, limit, page_size)  # type: ignore[arg-type]
