"""What a detector looks for: the tracked paths, names and methods of its knowledge base.

A :class:`~recode.server.detector.Detector` selects the records active for its environment
and collects the knowledge base's facts about classes (what makes an object of which class);
:class:`TrackedIndex` holds those tables and what is derived from them once: every dotted
prefix of a tracked path, the top-level names, the method names under known classes. The
detector and the byte prefilter (:mod:`recode.server.prefilter`) both read this one index, so
the prefilter can never disagree with the detector on what is tracked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import cached_property

from recode.dataset.knowledge import ApiChange, TupleFactory

Entries = Sequence[tuple[ApiChange, str]]  # (record, severity at the version in use)


@dataclass(frozen=True, eq=False)
class TrackedIndex:
    """The tables of one detector; derived tables are made when first read, then kept."""

    active: Mapping[str, Entries]  # path -> its records (not keyword records)
    params: Mapping[str, Mapping[str, Entries]]  # path -> keyword -> its keyword records
    classes: AbstractSet[str]  # classes whose objects the detector follows
    factories: Mapping[str, str]  # callable path -> the class of what it returns
    attributes: Mapping[str, str]  # attribute path -> the class of its value (df.style)
    tuple_factories: Mapping[str, TupleFactory]  # callable path -> the classes of its tuple

    @cached_property
    def makers(self) -> frozenset[str]:
        """What makes an object of evident class: classes, factories, tuple factories, and
        attributes whose value has a known class."""
        return frozenset({*self.classes, *self.factories, *self.tuple_factories, *self.attributes})

    @cached_property
    def tracked(self) -> frozenset[str]:
        """Every path that can lead to a finding: a record's, or a maker."""
        return frozenset({*self.active, *self.params, *self.makers})

    @cached_property
    def prefixes(self) -> frozenset[str]:
        """The dotted prefixes of every tracked path (``numpy``, ``numpy.core``, ...)."""
        return frozenset(
            ".".join(parts[:i])
            for path in self.tracked
            for parts in [path.split(".")]
            for i in range(1, len(parts) + 1)
        )

    @cached_property
    def roots(self) -> frozenset[str]:
        """The top-level names of the records' paths (``numpy``, ``pandas``)."""
        return frozenset(path.split(".")[0] for path in (*self.active, *self.params))

    @cached_property
    def subscripted(self) -> frozenset[str]:
        """The classes with a record on a subscript of their objects (``key``: ``s[0]``)."""
        return frozenset(
            path.rpartition(".")[0]
            for path, entries in self.active.items()
            if any(record.key is not None for record, _ in entries)
        )

    @cached_property
    def methods_by_name(self) -> dict[str, list[str]]:
        """Method name -> the paths of the records on a method of that name of a known class."""
        methods: dict[str, list[str]] = {}
        for path in self.active:
            owner, _, leaf = path.rpartition(".")
            if owner in self.classes:
                methods.setdefault(leaf, []).append(path)
        return methods
