"""What the comparison scripts (compare.sh, compare-net.sh,
compare-signals.sh) share in their reports: each round's JSON files, the
numbers' format, and a table row with the ratio cnnctl / reference.
"""
import json


def load(out, prefix, rounds):
    """The rounds' <out>/<prefix>-<r>.json files, r = 1 … rounds."""
    return [json.load(open(f"{out}/{prefix}-{r}.json")) for r in range(1, rounds + 1)]


def fmt(v):
    return "—" if v is None else f"{v:,.3f}" if v < 10 else f"{v:,.2f}" if v < 100 else f"{v:,.0f}"


def row(label, a, b, ref, target=None):
    """Prints | label | a | b (ref) | a/b | [target] |; None is a missing figure."""
    ratio = "—" if a is None or b is None else f"{a / b:.2f}×"
    cells = [label, fmt(a), f"{fmt(b)} ({ref})" if ref else fmt(b), ratio]
    if target is not None:
        cells.append(target)
    print("| " + " | ".join(cells) + " |")
