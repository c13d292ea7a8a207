"""sqlfront.sqltext: comments and hints blanked (positions kept), SET_VAR collected, bad input refused."""

from __future__ import annotations

import pytest

from sqlfront.sqltext import MAX_NESTING, SqlTextError, clean_message, excerpt, prepare


def refused(sql: str) -> str:
    with pytest.raises(SqlTextError) as e:
        prepare(sql)
    assert e.value.code == 1064
    return e.value.message


@pytest.mark.parametrize(("sql", "text"), [
    ("/* x */ INSERT INTO t VALUES (1)", "        INSERT INTO t VALUES (1)"),
    ("-- x\nSELECT 1", "    \nSELECT 1"),
    ("# x\nSELECT 1", "   \nSELECT 1"),
    ("SELECT 1 -- tail", "SELECT 1        "),
    ("SELECT /* a\nb */ 1", "SELECT     \n     1"),
    ("SELECT '/* no */', \"-- no\", `# no`, 'it''s', 'a\\'b'", "SELECT '/* no */', \"-- no\", `# no`, 'it''s', 'a\\'b'"),
    ("CREATE FUNCTION f AS $$ # python comment\n-- x $$ -- gone", "CREATE FUNCTION f AS $$ # python comment\n-- x $$        "),
    ("SELECT 1-1, 2/2, a$b", "SELECT 1-1, 2/2, a$b"),
])
def test_comments_are_blanked_keeping_positions(sql: str, text: str) -> None:
    prepared = prepare(sql)
    assert prepared.text == text
    assert len(prepared.text) == len(sql)
    assert prepared.hints == {}


def test_set_var_hints_are_collected_and_blanked() -> None:
    p = prepare("SELECT /*+ SET_VAR(query_timeout = 10, time_zone = '+08:00', sql_mode=\"A,B\") */ 1")
    assert p.hints == {"query_timeout": "10", "time_zone": "+08:00", "sql_mode": "A,B"}
    assert p.text.split() == ["SELECT", "1"]
    p = prepare("INSERT /*+ SET_VAR(enable_insert_strict = false) */ INTO t SELECT /*+ SET_VAR(Pipeline_Dop=2) */ 1")
    assert p.hints == {"enable_insert_strict": "false", "pipeline_dop": "2"}
    assert prepare("SELECT /*+ broadcast */ 1").hints == {}  # other hints change nothing


@pytest.mark.parametrize("hint", ["SET_VAR(query_timeout)", "SET_VAR()", "SET_VAR(a = 1 b = 2)", "SET_VAR(a = 1",
                                  "SET_VAR a = 1"])
def test_malformed_set_var_is_refused(hint: str) -> None:
    assert "SET_VAR hint" in refused(f"SELECT /*+ {hint} */ 1")


@pytest.mark.parametrize(("sql", "where", "what"), [
    ("SELECT 'abc", "line 1, column 7", "unterminated quoted string"),
    ("SELECT 1,\n  \"abc", "line 2, column 2", "unterminated quoted string"),
    ("SELECT `abc", "line 1, column 7", "unterminated quoted identifier"),
    ("SELECT 'a\\'", "line 1, column 7", "unterminated quoted string"),
    ("SELECT 'a''", "line 1, column 7", "unterminated quoted string"),
    ("SELECT 1 /* x", "line 1, column 9", "unterminated comment"),
    ("SELECT /*+ SET_VAR(a=1)", "line 1, column 7", "unterminated comment"),
    ("AS $$ x", "line 1, column 3", "unterminated $$ body"),
    ("SELECT 'a\x00'", "line 1, column 9", "NUL character"),
    ("SELECT 1 -- \x00", "line 1, column 12", "NUL character"),
    ("SELECT " + "9" * 401, "line 1, column 7", "401 digits is out of range"),
    ("SELECT 1." + "0" * 500, "line 1, column 9", "500 digits is out of range"),
])
def test_bad_text_is_refused_with_its_position(sql: str, where: str, what: str) -> None:
    message = refused(sql)
    assert message.startswith(f"Getting syntax error at {where}. Detail message: "), message
    assert what in message


def test_nesting_limit() -> None:
    prepare("SELECT " + "(" * MAX_NESTING + "1" + ")" * MAX_NESTING)
    prepare("SELECT " + "(1)" * 10_000)  # many groups, none deep
    message = refused("SELECT " + "(" * 10_000 + "1" + ")" * 10_000)
    assert f"more than {MAX_NESTING} levels deep" in message
    assert "[" * 201 in "[" * 201 and "levels deep" in refused("SELECT " + "[" * 201)
    prepare("SELECT '" + "(" * 1000 + "'")  # in a string it is text
    assert prepare("SELECT " + "9" * 400).text  # at the limit
    assert prepare("SELECT '" + "9" * 5000 + "'").text  # in a string it is text


def test_clean_message_and_excerpt() -> None:
    assert clean_message("a\x1b[31mred\x1b[0m\x00") == "a\\x1b[31mred\\x1b[0m\\x00"
    assert clean_message("line\nnext\ttab") == "line\nnext\ttab"
    long = clean_message("x" * 5000)
    assert len(long) < 1100 and long.endswith("(5000 characters)")
    assert excerpt("SELECT\n1\x1b") == "SELECT\\n1\\x1b"
    cut = excerpt("y" * 1000)
    assert cut == "y" * 200 + "... (1000 characters)"
    assert "\n" not in excerpt("a\r\nb")
