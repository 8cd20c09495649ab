"""The library's CSV file: errors that name the line and column, UTF-8 with or without a
byte-order mark, export and import that give each other back, and the diff of two versions."""

from __future__ import annotations

import pytest

from appliance.content.diff import diff_libraries
from appliance.content.keywords import Action, KeywordEntry, KeywordLibrary, KeywordLibraryError
from appliance.content.library_csv import example_library, export_csv, import_csv
from tests.support.content import CATEGORIES, synthetic_library

HEADER = "id,term,category,match,action\n"


def test_the_example_library_has_a_placeholder_per_category() -> None:
    library = example_library()
    assert {e.category.split()[0] for e in library.entries} == {c.split()[0] for c in CATEGORIES}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("a,一,c,,block\nb,,c,,block\n", "line 3, column term: empty term"),
        ("a,一,c,,block\n\nb,二,c,,stop\n", "line 4, column action: 'stop' is not one of"),
        ("a,一,c,fuzzy,block\n", "line 2, column match: 'fuzzy' is not one of"),
        (
            'a,"一\n二",c,,block\na,三,c,,mask\n',
            r"line 4, column id: duplicate id 'a' \(first at line 2\)",
        ),
        ("a,一,c,block\n", "line 2: 4 columns, the header has 5"),
        (",一,c,,block\n", "line 2, column id: empty id"),
    ],
)
def test_an_error_names_the_line_and_column(body: str, message: str) -> None:
    with pytest.raises(KeywordLibraryError, match=message):
        import_csv((HEADER + body).encode())


def test_a_wrong_header_or_bad_encoding_is_named() -> None:
    with pytest.raises(KeywordLibraryError, match="line 1: the header must be"):
        import_csv(b"id,word,category,match,action\n")
    with pytest.raises(KeywordLibraryError, match="line 3: not UTF-8"):
        import_csv(HEADER.encode() + b"a,x,c,,block\nb,\xff,c,,block\n")


def test_a_byte_order_mark_and_an_empty_match_are_accepted() -> None:
    plain = import_csv((HEADER + "a,一,c,,mask\n").encode())
    marked = import_csv(("\ufeff" + HEADER + "a,一,c,normalised,mask\n").encode())
    assert plain.entries == marked.entries
    assert plain.entries[0].action is Action.MASK


def test_export_and_import_give_each_other_back() -> None:
    library = synthetic_library(2_000, seed=5)
    data = export_csv(library)
    again = import_csv(data)
    assert again.entries == library.entries and again.version == library.version
    assert export_csv(again) == data
    quoted = KeywordLibrary([KeywordEntry("q", 'a "quoted", term', "c,d")])
    assert import_csv(export_csv(quoted)).entries == quoted.entries


def test_the_diff_names_added_removed_and_changed_entries() -> None:
    old = KeywordLibrary(
        [KeywordEntry("a", "一", "c"), KeywordEntry("b", "二", "c"), KeywordEntry("c", "三", "c")]
    )
    new = KeywordLibrary(
        [
            KeywordEntry("a", "一", "c"),
            KeywordEntry("c", "三", "c", action=Action.FLAG),
            KeywordEntry("d", "四", "c"),
        ]
    )
    diff = diff_libraries(old, new)
    assert [e.id for e in diff.added] == ["d"]
    assert [e.id for e in diff.removed] == ["b"]
    assert [(o.action, n.action) for o, n in diff.changed] == [(Action.BLOCK, Action.FLAG)]
    assert (diff.old_version, diff.new_version) == (old.version, new.version)
    assert diff_libraries(new, new).unchanged
