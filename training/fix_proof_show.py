"""Run ``example.py`` (in the working folder) and show what it printed, then the values it left
in its namespace in a form that does not depend on the library's release (see
:mod:`recode.training.fix_proofs`). Run by the proofs in the sandbox, under an old or new release:
it imports only the standard library until the example has run.
"""

import sys
import types


def show(v, depth=0):
    if depth > 3:
        return "..."
    if isinstance(v, bool) or v is None:
        return repr(v)
    for base in (str, bytes, int):  # numpy's subclasses (np.str_) as the base type
        if isinstance(v, base):
            return repr(base(v))
    if isinstance(v, (float, complex)):  # rounded, and marked: 1.0 is not 1
        return f"{'float' if isinstance(v, float) else 'complex'}:{v:.12g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(show(x, depth + 1) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{show(k)}: {show(x, depth + 1)}" for k, x in v.items()) + "}"
    top = type(v).__module__.split(".")[0]
    if hasattr(v, "toarray") and top == "scipy":  # a sparse matrix or array
        v = v.toarray()
        top = "numpy"
    if top == "pandas" and hasattr(v, "to_numpy"):
        import numpy as np

        out = f"values {show(np.asarray(v.to_numpy()), depth + 1)}"
        labels = getattr(v, "columns", None)
        if labels is not None:
            out += f" columns {show(list(labels))}"
        if hasattr(v, "index") and not hasattr(v, "levels"):
            out += f" index {show(list(v.index))}"
        return out
    if hasattr(v, "__array__") and top in ("numpy", "jax", "torch"):
        import numpy as np

        a = np.asarray(v)
        if a.dtype.kind in "mM":  # dates as text: the unit (ns, us) is the release's choice
            return f"array {np.asarray(a, dtype=a.dtype.kind + '8[ns]').astype(str).tolist()!r}"
        if a.dtype.kind in "fc":
            a = np.round(a, 12)
        return f"array {a.tolist()!r} {a.dtype}"
    if hasattr(v, "_fields") or type(v).__name__.endswith("Result"):
        try:
            return "[" + ", ".join(show(x, depth + 1) for x in v) + "]"
        except TypeError:
            pass
    state = getattr(v, "__dict__", {})
    fitted = sorted(k for k in state if k.endswith("_") and not k.startswith("_"))
    if fitted:
        shown = ", ".join(f"{k}={show(getattr(v, k), depth + 1)}" for k in fitted)
        return f"{type(v).__name__}({shown})"
    return type(v).__name__


def main():
    namespace = {"__name__": "__main__"}
    with open("example.py", encoding="utf-8") as fh:
        code = fh.read()
    try:
        exec(compile(code, "example.py", "exec"), namespace)
    except BaseException as exc:  # the example failed: say how
        print("@@RAISED@@", type(exc).__name__, exc)
        sys.exit(0)
    print("@@NAMESPACE@@")
    for name in sorted(namespace):
        value = namespace[name]
        if name.startswith("_") or isinstance(value, (types.ModuleType, types.FunctionType, type)):
            continue
        try:
            print(name, "=", show(value))
        except Exception as exc:  # noqa: BLE001 - say so rather than end the listing
            print(name, "= <not shown:", type(exc).__name__, exc, ">")


main()
