"""A fix never drops a comment of the user's."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from recode.server.fixes.edits import Edit
from recode.server.fixes.site import NoFix

if TYPE_CHECKING:
    from recode.server.detector import Analysis


def keep_comments(edits: Iterable[Edit], analysis: Analysis) -> None:
    """:class:`NoFix` where an edit would replace a comment its new text does not keep: a
    template rewrites a whole call, and a method chain written one call a line often holds
    comments between the calls; the user's comment must not vanish with the old code."""
    source = analysis.source
    for e in edits:
        if e.end <= e.start or source.find(b"#", e.start, e.end) == -1:
            continue  # an insertion, or no '#' at all: the common case costs one find
        node = analysis.tree.root_node.descendant_for_byte_range(e.start, e.end)
        stack = [node] if node is not None else []
        while stack:
            n = stack.pop()
            if n.end_byte <= e.start or n.start_byte >= e.end:
                continue
            if n.type == "comment" and e.start <= n.start_byte:
                text = source[n.start_byte : n.end_byte].decode("utf-8", "replace")
                if text not in e.text:
                    raise NoFix(
                        f"the code it rewrites holds a comment ({text[:40]}), which the fix "
                        "would drop"
                    )
            stack.extend(n.children)
