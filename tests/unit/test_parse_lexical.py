"""One unquoting routine (MySQL's rules) for every grammar of the SQL front."""

from __future__ import annotations

import pytest

from sqlfront.parse import ast
from sqlfront.parse.lexical import unquote_ident, unquote_string
from sqlfront.parse.parser import parse_statement
from sqlfront.parse.table import parse_create_table


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (r"'a\bc\Zd'", "a\bc\x1ad"),
        (r"'\0\n\r\t'", "\0\n\r\t"),
        (r"'\x\%\_'", "x%_"),
        (r"'it''s'", "it's"),
        (r"'say \"hi\"'", 'say "hi"'),
        ("'two \"\" stay'", 'two "" stay'),
        ('"a""b"', 'a"b'),
        (r"'back\\slash'", "back\\slash"),
    ],
)
def test_unquote_string_follows_mysql(raw: str, value: str) -> None:
    assert unquote_string(raw) == value


def test_unquote_ident() -> None:
    assert unquote_ident("`a``b`") == "a`b"
    assert unquote_ident("plain") == "plain"


def test_repository_properties_and_create_table_agree() -> None:
    repo = parse_statement(r"CREATE REPOSITORY r WITH BROKER ON LOCATION 's3://b/p' PROPERTIES ('k' = 'a\bc\Zd')")
    assert isinstance(repo, ast.CreateRepository)
    _, spec, _ = parse_create_table(r"CREATE TABLE t (a INT COMMENT 'a\bc\Zd') PROPERTIES ('k' = 'a\bc\Zd')")
    assert repo.properties["k"] == spec.properties["k"] == spec.columns[0].comment == "a\bc\x1ad"
