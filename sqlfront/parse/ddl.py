"""The statement forms about databases, tables and the cluster: their typed statements.

The short forms (CREATE/DROP DATABASE, SHOW DATABASES/TABLES/PARTITIONS/TABLETS/BACKENDS, DROP TABLE, SHOW CREATE
TABLE, USE, DESC) are read by patterns anchored at the statement's start; CREATE TABLE, ALTER TABLE and TRUNCATE
by the table grammar (sqlfront.parse.table, table.lark). `parse_catalog_statement` answers None for a
statement that is none of these.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlfront.parse import ast_catalog as C
from sqlfront.parse.ast import Statement
from sqlfront.parse.lexical import unquote_ident
from sqlfront.parse.table import parse_alter_table, parse_create_table, parse_truncate

IDENT = r"`[^`]+`|[A-Za-z0-9_$]+"
QNAME = rf"(?:(?P<db>{IDENT})\s*\.\s*)?(?P<name>{IDENT})"

Build = Callable[[str, re.Match[str]], Statement]


def _name(m: re.Match[str], group: str = "name") -> str:
    return unquote_ident(m.group(group))


def _opt(m: re.Match[str], group: str) -> str | None:
    value = m.group(group)
    return None if value is None else unquote_ident(value)


def _create_table(sql: str, m: re.Match[str]) -> Statement:
    db, spec, if_not_exists = parse_create_table(sql)
    return C.CreateTable(db, spec, if_not_exists)


def _truncate(sql: str, m: re.Match[str]) -> Statement:
    db, table, partitions = parse_truncate(sql)
    return C.Truncate(db, table, partitions)


# (pattern, builder), tried in order; a pattern matches from the statement's start, case-insensitively.
_FORMS: list[tuple[str, Build]] = [
    (rf"create\s+(database|schema)\s+(?P<ine>if\s+not\s+exists\s+)?(?P<name>{IDENT})\s*$",
     lambda sql, m: C.CreateDatabase(_name(m), bool(m.group("ine")))),
    (rf"drop\s+(database|schema)\s+(?P<ie>if\s+exists\s+)?(?P<name>{IDENT})(\s+force)?\s*$",
     lambda sql, m: C.DropDatabase(_name(m), bool(m.group("ie")))),
    (r"show\s+(databases|schemas)\s*$", lambda sql, m: C.ShowDatabases()),
    (rf"show\s+(?P<full>full\s+)?tables(\s+(from|in)\s+(?P<db>{IDENT}))?\s*(like\s+'(?P<like>[^']*)')?\s*$",
     lambda sql, m: C.ShowTables(_opt(m, "db"), bool(m.group("full")), m.group("like"))),
    (r"create\s+(external\s+)?table\b", _create_table),
    (rf"drop\s+table\s+(?P<ie>if\s+exists\s+)?{QNAME}(\s+force)?\s*$",
     lambda sql, m: C.DropTable(_opt(m, "db"), _name(m), bool(m.group("ie")))),
    (r"alter\s+table\b", lambda sql, m: C.AlterTablePartitions(parse_alter_table(sql))),
    (r"truncate\s+(table\s+)?", _truncate),
    (rf"show\s+create\s+table\s+{QNAME}\s*$", lambda sql, m: C.ShowCreateTable(_opt(m, "db"), _name(m))),
    (rf"show\s+(temporary\s+)?partitions\s+(from|in)\s+{QNAME}\s*$",
     lambda sql, m: C.ShowPartitions(_opt(m, "db"), _name(m))),
    (rf"show\s+tablets?\s+from\s+{QNAME}(\s+partition\s*\(?\s*(?P<part>{IDENT})\s*\)?)?\s*$",
     lambda sql, m: C.ShowTablets(_opt(m, "db"), _name(m), _opt(m, "part"))),
    (r"show\s+(backends|proc\s+'/backends')\s*$", lambda sql, m: C.ShowBackends()),
    (rf"use\s+(?P<name>{IDENT})\s*$", lambda sql, m: C.Use(_name(m))),
    (rf"(desc|describe|show\s+(full\s+)?columns\s+(from|in))\s+{QNAME}\s*$",
     lambda sql, m: C.Describe(_opt(m, "db"), _name(m))),
]
_COMPILED = [(re.compile(r"^\s*" + pattern, re.I | re.S), build) for pattern, build in _FORMS]


def parse_catalog_statement(sql: str) -> Statement | None:
    """The typed statement of one of the forms above, or None."""
    for pattern, build in _COMPILED:
        m = pattern.match(sql)
        if m:
            return build(sql, m)
    return None
