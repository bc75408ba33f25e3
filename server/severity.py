"""Which records apply to a library version, and how loudly (DESIGN.md, "Severity")."""

from __future__ import annotations

from dataclasses import dataclass

from packaging.version import Version

from recode.dataset.knowledge import Api, ApiChange

SEVERITIES = ("error", "warning", "information", "hint")


def severity_rank(severity: str) -> int:
    """0 for error ... 3 for hint; lower is more severe."""
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class LibraryVersion:
    """The version of a library the code runs against, and where that fact came from."""

    version: Version
    origin: str  # "installed" | "pinned in requirements.txt" | "target" ...

    def describe(self, library: str) -> str:
        if self.origin == "target":
            return f"target {library}=={self.version}"
        if self.origin == "installed":
            return f"this environment has {library} {self.version}"
        return f"{library} {self.version} {self.origin}"


def severity_for(record: ApiChange, version: Version) -> str | None:
    """The severity of ``record`` against ``version``, or None when it does not apply yet.

    Removed/renamed/moved/signature changes at or after their version are errors (a value
    record of kind ``signature``: the value is refused); a behaviour change is a warning (the
    code still runs, it may compute something else); anything deprecated at or after
    ``deprecated_in`` is a warning.
    """
    effective = record.effective_in
    if effective is not None and version >= effective:
        return "error" if record.kind.breaks else "warning"
    if record.deprecated_in is not None and version >= record.deprecated_in:
        return "warning"
    return None


def message_for(record: ApiChange, have: LibraryVersion, value: str | None = None) -> str:
    """What a finding of ``record`` says; ``value``: the argument's source text, for a record
    of some of a parameter's values (``values``), the one the call passes."""
    lib = record.library
    # the argument as bound, however it was passed (``resample('M')`` passes rule='M')
    used = f"`{record.parameter}={value}`" if record.parameter and value is not None else None
    if used is None and record.values:
        used = " or ".join(f"`{record.parameter}={v}`" for v in record.values)
    if record.effective_in is not None and have.version >= record.effective_in:
        verb = record.kind.verb
        head = f"`{record.symbol}` {verb} in {lib} {record.effective_in}"
        if record.key is not None:  # a subscript: ``s[0]``
            head = f"`{record.path}` with {record.key.describe}"
            head += f" (`{value}`)" if value is not None else ""
            head += f" {verb} in {lib} {record.effective_in}"
        elif record.parameter and not record.kind.breaks:  # still accepted; what it does changed
            head = f"`{record.path}` with {used or '`' + record.parameter + '`'} {verb} in {lib} "
            head += str(record.effective_in)
        elif record.parameter:
            # a value record of another kind: that value is refused, the parameter stays
            refused = used or f"`{record.parameter}`"
            head = f"`{record.path}` no longer accepts {refused} since {lib} " + str(
                record.effective_in
            )
    else:
        head = f"`{record.symbol}` is deprecated since {lib} {record.deprecated_in}"
        if used is not None:
            head = f"`{record.path}` with {used} is deprecated since {lib} {record.deprecated_in}"
        if record.effective_in is not None:
            head += f" and goes in {record.effective_in}"
    if record.api is Api.PRIVATE:
        head += ", a private API changed without deprecation"
    tail = f" ({have.describe(lib)})."
    if record.replacement:
        tail += f" Use {record.replacement}."
    return head + tail
