"""The shipped records' fixes on calls their examples do not show: positional arguments passed by
name, a changed default pinned to its old value, a value that repeats the default dropped, and
every other value left to a person with the reason (issue 14)."""

from __future__ import annotations

import pytest
from packaging.version import Version

from recode.dataset.knowledge import load_knowledge_base
from recode.server.detector import Detector
from recode.server.fixes import fix_source
from recode.server.severity import LibraryVersion

TODAY = {
    "numpy": "2.4.6",
    "pandas": "3.1.1",
    "scikit-learn": "1.9.1",
    "scipy": "1.17.1",
    "matplotlib": "3.11.2",
}
DF = "import pandas as pd\ndf = pd.DataFrame({'a': [1.0]})\n"


@pytest.fixture(scope="module")
def detector() -> Detector:
    versions = {lib: LibraryVersion(Version(v), "target") for lib, v in TODAY.items()}
    return Detector(load_knowledge_base(), versions)


@pytest.mark.parametrize(
    "before, after",
    [
        # every argument of a call whose parameters all became keyword-only, in the call's order
        # after the first (written last: a keyword argument cannot precede a positional one)
        (DF + "r = df.sum(1, True)\n", DF + "r = df.sum(skipna=True, axis=1)\n"),
        # the arguments past those that may stay positional
        (DF + "df.to_csv('x.csv', ',', 'NA')\n", DF + "df.to_csv('x.csv', sep=',', na_rep='NA')\n"),
        (
            "from scipy import linalg\nimport numpy as np\nw = linalg.eigh(np.eye(2), None, True)\n",
            "from scipy import linalg\nimport numpy as np\nw = linalg.eigh(np.eye(2), None, lower=True)\n",
        ),
        # a changed default: the old value is passed, the positional arguments stay
        (
            "from sklearn.svm import LinearSVC\nm = LinearSVC('l2', 'hinge', C=2.0)\n",
            "from sklearn.svm import LinearSVC\nm = LinearSVC('l2', 'hinge', C=2.0, dual=True)\n",
        ),
        # a value that repeats the default goes, and the name of the call with it is kept
        (DF + "g = df.groupby('a', axis='index')\n", DF + "g = df.groupby('a')\n"),
        # a value mapped to the new keyword
        (
            "from pandas import read_csv\nd = read_csv('f.csv', delim_whitespace=True)\n",
            "from pandas import read_csv\nd = read_csv('f.csv', sep=r'\\s+')\n",
        ),
        # multi_class='multinomial' (MAPIE 0.6.5) or 'auto' goes, inside another call too, and
        # the other arguments stay in their order
        (
            "from sklearn.linear_model import LogisticRegression\n"
            "from sklearn.multioutput import MultiOutputClassifier\n"
            "m = MultiOutputClassifier(LogisticRegression(multi_class='multinomial'))\n"
            "n = LogisticRegression('l2', C=0.5, multi_class=\"auto\", solver='saga')\n",
            "from sklearn.linear_model import LogisticRegression\n"
            "from sklearn.multioutput import MultiOutputClassifier\n"
            "m = MultiOutputClassifier(LogisticRegression())\n"
            "n = LogisticRegression('l2', C=0.5, solver='saga')\n",
        ),
        # copy=False (copy only when needed, in numpy 1.x) is what asarray does
        (
            "import numpy as np\na = np.array(x, 'f8', copy=False)\n",
            "import numpy as np\na = np.asarray(x, dtype='f8')\n",
        ),
    ],
)
def test_shipped_fix(detector, before, after):
    result = fix_source(before.encode(), detector, unsafe=True)
    assert result.source.decode() == after


@pytest.mark.parametrize(
    "code, record, reason",
    [
        (DF + "g = df.groupby('a', axis=1)\n", "pandas-3.0-DataFrame-groupby-axis", "`axis=1`"),
        (
            "import pandas as pd\nd = pd.read_csv('f.csv', delim_whitespace=False)\n",
            "pandas-3.0-read_csv-delim_whitespace",
            "`delim_whitespace=False`",
        ),
        (
            "import numpy as np\na = np.array(b, copy=False, subok=keep)\n",
            "numpy-2.0-array-copy",
            "no mapping for `subok=keep`",
        ),
        # one-vs-rest needs OneVsRestClassifier around the model: a person writes it
        (
            "from sklearn.linear_model import LogisticRegression\n"
            "m = LogisticRegression(multi_class='ovr')\n",
            "scikit-learn-1.8-LogisticRegression-multi_class",
            "`multi_class='ovr'`",
        ),
        (
            "from sklearn.ensemble import AdaBoostClassifier\n"
            "m = AdaBoostClassifier(algorithm='SAMME.R')\n",
            "scikit-learn-1.8-AdaBoostClassifier-algorithm",
            "`algorithm='SAMME.R'`",
        ),
    ],
)
def test_a_value_the_fix_does_not_know_stays_with_a_person(detector, code, record, reason):
    (finding,) = [f for f in detector.detect(code.encode()) if f.record.id == record]
    assert finding.edits is None
    assert reason in (finding.fix_unavailable or "")
    assert fix_source(code.encode(), detector, unsafe=True).source.decode() == code
