"""The examples in the model modules' docstrings run and hold."""

from __future__ import annotations

import doctest

import pytest

from recode.dataset import changelog, codesim, release_notes
from recode.server.model import backends, validation


@pytest.mark.parametrize("module", [changelog, codesim, release_notes, backends, validation])
def test_doctests(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_the_editor_side_imports_no_torch():
    """server/ must start light: the model package imports torch/transformers only when the
    in-process backend runs."""
    import subprocess
    import sys

    code = (
        "import sys, recode.server.model, recode.server.cli, recode.server.migrate, "
        "recode.dataset.release_notes\n"
        "heavy = {'torch', 'transformers', 'recode.training'} & set(sys.modules)\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
