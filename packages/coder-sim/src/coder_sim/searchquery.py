"""What coderd/searchquery's parsers share: ``key:value`` elements, bare terms, and their messages."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .errors import validation

Terms = dict[str, list[str]]
Problem = dict[str, str]


def invalid_value(key: str, value: str, what: str = "value") -> Problem:
    return validation(key, f'Query param "{key}" has invalid value: "{value}" is not a valid {what}')


def collect_terms(
    elements: Iterable[str],
    split: Callable[[str], list[str]],
    allowed: frozenset[str],
    bare: Callable[[str], Iterable[tuple[str, str]]],
) -> tuple[Terms, list[Problem]]:
    """Each element's ``key: [values]`` (``bare`` names the keys of an element without a colon).

    Coder answers every element it cannot read at once, so the problems are collected, not raised.
    """
    terms: Terms = {}
    problems: list[Problem] = []
    for element in elements:
        parts = split(element)
        if len(parts) == 1:
            for key, value in bare(element):
                terms.setdefault(key, []).append(value)
            continue
        if len(parts) > 2:
            problems.append(validation("q", f"Query element \"{element}\" can only contain 1 ':'"))
            continue
        key, value = parts
        if key not in allowed:
            problems.append(validation(key, f'Query param "{key}" is not a valid query param'))
            continue
        terms.setdefault(key, []).append(value)
    return terms, problems
