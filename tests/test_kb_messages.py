"""What the shipped knowledge base makes the detector say, for records whose wording was wrong."""

from __future__ import annotations

from recode.dataset.knowledge import load_knowledge_base
from recode.server.detector import Detector
from tests.conftest import versions

KB = load_knowledge_base()


def messages(source: str, **libs: str) -> dict[str, str]:
    found = Detector(KB, versions(**libs)).detect(source.encode())
    return {f.record.id: f.message for f in found}


def test_a_keyword_whose_meaning_changed_is_not_said_to_be_refused():
    got = messages("import numpy as np\nb = np.array([1, 2], copy=False)\n", numpy="2.1.0")
    text = got["numpy-2.0-array-copy"]
    assert "no longer accepts" not in text
    assert text.startswith("`numpy.array` with `copy=False` changed behaviour in numpy 2.0.0")
    assert "raises ValueError where a copy is needed" in text


def test_unique_return_inverse_names_the_inputs_it_affects():
    src = "import numpy as np\nu, inv = np.unique(np.array([3, 1]), return_inverse=True)\n"
    text = messages(src, numpy="2.1.0")["numpy-2.0-unique-return_inverse"]
    assert "no longer accepts" not in text
    assert "multi-dimensional input with axis=None" in text and "1-D input is unchanged" in text
    src_false = "import numpy as np\nu = np.unique(np.array([3, 1]), return_inverse=False)\n"
    assert "numpy-2.0-unique-return_inverse" not in messages(src_false, numpy="2.1.0")


def test_a_removed_keyword_is_still_said_to_be_refused():
    src = "import pandas as pd\ndf = pd.DataFrame({'a': [1]})\ndf.to_csv('o.csv', line_terminator='\\n')\n"
    text = messages(src, pandas="2.0.0")["pandas-2.0-DataFrame-to_csv-line_terminator"]
    assert "no longer accepts `line_terminator`" in text
