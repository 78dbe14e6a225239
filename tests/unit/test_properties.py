"""The .properties reader reads files as java.util.Properties.load does (the expected
values below were printed by Java 17's Properties from the same text)."""

from __future__ import annotations

from pathlib import Path

import pytest

from offramp.errors import ConfigError
from offramp.properties import parse_properties, read_properties

EDGE_CASES = (
    "# comment\n"
    "! bang comment\n"
    "   # indented comment\n"
    "key1=value1\n"
    "key2 = value2  \n"
    "key3:value3\n"
    "key4 value4\n"
    "key5   =   value5\n"
    "key6==starts with equals\n"
    "key7 : : colon\n"
    "key\\=with\\:seps\\ and\\ space = v\n"
    "tab\\tkey=a\\tb\\nc\n"
    "uni=caf\\u00e9 \\uD83D\\uDE00\n"
    "long=first \\\n"
    "     second \\\n"
    "\\\n"
    "    third\n"
    "even=ends in two\\\\\n"
    "next=after even\n"
    "escaped\\\\\n"
    "trailing= ws after value   \n"
    "empty=\n"
    "onlykey\n"
    "  spacedkey   \n"
    "cont\\\n"
    "inued=key\n"
    "comment\\\n"
    "# not a comment\n"
    "dup=1\n"
    "dup=2\n"
    'other=\\q\\"\n'
    "c=a\\\n"
)

JAVA_SAYS = {
    "c": "a",
    "comment#": "not a comment",
    "continued": "key",
    "dup": "2",
    "empty": "",
    "escaped\\": "",
    "even": "ends in two\\",
    "key1": "value1",
    "key2": "value2  ",
    "key3": "value3",
    "key4": "value4",
    "key5": "value5",
    "key6": "=starts with equals",
    "key7": ": colon",
    "key=with:seps and space": "v",
    "long": "first second third",
    "next": "after even",
    "onlykey": "",
    "other": 'q"',
    "spacedkey": "",
    "tab\tkey": "a\tb\nc",
    "trailing": "ws after value   ",
    "uni": "café 😀",
}


def test_edge_cases_read_as_java_reads_them() -> None:
    """Separators, comments, continuations, escapes and escaped separators in keys give
    exactly what java.util.Properties gives."""
    assert parse_properties(EDGE_CASES) == JAVA_SAYS


def test_line_endings() -> None:
    """\\r\\n, \\r and \\n all end a line, and a continuation works across \\r\\n."""
    text = "crlf=one\r\nlf=two\rcr=three\\\r\n   joined\r\n"
    assert parse_properties(text) == {"crlf": "one", "lf": "two", "cr": "threejoined"}


def test_a_comment_line_does_not_continue() -> None:
    """A backslash at the end of a comment continues nothing."""
    assert parse_properties("# comment \\\nkey=value\n") == {"key": "value"}


def test_malformed_unicode_escape_names_file_and_line(tmp_path: Path) -> None:
    """\\u needs four hex digits; the error names the file and the line (Java refuses
    it too)."""
    path = tmp_path / "bad.properties"
    path.write_text("ok=1\nbad=\\u00zz\n")
    with pytest.raises(ConfigError) as caught:
        read_properties(path)
    assert f"{path}:2" in caught.value.errors[0][1]


def test_file_encodings(tmp_path: Path) -> None:
    """A file is read as UTF-8 (a BOM skipped), as ISO-8859-1 if it isn't UTF-8."""
    utf8 = tmp_path / "utf8.properties"
    utf8.write_bytes("\ufeffname=café\n".encode())
    latin1 = tmp_path / "latin1.properties"
    latin1.write_bytes("name=café\n".encode("latin-1"))
    assert read_properties(utf8) == read_properties(latin1) == {"name": "café"}


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    """A missing file is a ConfigError naming it."""
    with pytest.raises(ConfigError, match="cannot read"):
        read_properties(tmp_path / "missing.properties")
