from __future__ import annotations

from collections.abc import Iterator, Mapping


class CodeTable(Mapping[str, str]):
    """A national-standard code table: code -> Chinese name, with reverse look-up by name.

    ``lookup`` accepts a code or a name (or one of its aliases), which is what source
    systems send: grid platforms write ``男``, police systems write ``1``, and a spreadsheet
    that stored ``01`` as a number sends ``1``.
    """

    def __init__(
        self, standard: str, entries: Mapping[str, str], aliases: Mapping[str, str] | None = None
    ) -> None:
        self.standard = standard
        self._names = dict(entries)
        self._width = max(len(code) for code in entries)
        self._codes = {name: code for code, name in entries.items()}
        for alias, code in (aliases or {}).items():
            if code not in self._names:
                raise ValueError(f"{standard}: alias {alias!r} points to unknown code {code!r}")
            self._codes[alias] = code

    def __getitem__(self, code: str) -> str:
        return self._names[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def lookup(self, code_or_name: str) -> str | None:
        """The code for a code or a name, or None when the table has neither."""
        value = code_or_name.strip()
        if value.isdigit():
            value = value.zfill(self._width)
        if value in self._names:
            return value
        return self._codes.get(value)
