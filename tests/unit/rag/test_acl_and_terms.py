"""Group-path ancestry, management rights and safe lexical query terms."""

from __future__ import annotations

import pytest

from appliance.auth.principal import Principal
from appliance.errors import InvalidRequest
from appliance.rag.acl import ancestor_paths, can_manage, normalise_group
from appliance.rag.lexical import acl_query, acl_term, document_terms, query_terms


def principal(*groups: str, roles: tuple[str, ...] = ("staff", "kb-editor")) -> Principal:
    return Principal("s", "u", frozenset(roles), frozenset(groups))


def test_ancestors_of_a_subgroup_include_its_department() -> None:
    assert ancestor_paths(frozenset({"/dept/finance/tax"})) == [
        "/dept", "/dept/finance", "/dept/finance/tax",
    ]  # fmt: skip
    assert "/dept/finance" not in ancestor_paths(frozenset({"/dept/finance-archive"}))
    assert ancestor_paths(frozenset()) == []


def test_editors_manage_their_own_groups_only() -> None:
    editor = principal("/dept/finance")
    assert can_manage(editor, "/dept/finance")
    assert can_manage(editor, None)
    assert not can_manage(principal("/dept/finance/tax"), "/dept/finance")
    assert not can_manage(editor, "/dept/finance/tax")
    assert not can_manage(editor, "/dept/legal")
    assert not can_manage(editor, "/dept/finance-archive")
    assert not can_manage(principal("/dept/finance", roles=("staff",)), "/dept/finance")


def test_group_paths_are_normalised() -> None:
    assert normalise_group("dept/finance/") == "/dept/finance"
    assert normalise_group(None) is None
    with pytest.raises(InvalidRequest):
        normalise_group("///")


def test_chinese_is_segmented_into_words() -> None:
    terms = document_terms("中华人民共和国的首都是北京。").split()
    assert {"北京", "首都", "共和国"} <= set(terms)


def test_query_terms_drop_function_words_and_any_tsquery_syntax() -> None:
    assert query_terms("北京是哪个国家的首都？") == "北京 | 国家 | 首都"
    assert query_terms("' OR 1=1 -- | & ! :*") == "1"
    assert query_terms("？！") is None


def test_owner_group_lexemes_are_distinct_plain_words() -> None:
    finance, legal, org = acl_term("/dept/finance"), acl_term("/dept/legal"), acl_term(None)
    assert len({finance, legal, org}) == 3
    assert all(t.isalnum() for t in (finance, legal, org))
    assert acl_query(["/dept/finance"]) == f"{org} | {finance}"
