"""Hostile ONNX files: the compiler on damaged models — never a traceback, never a hang.

    python bench/hostile.py [--count 600] [--seed 0] [--timeout 60] [--stop-at fxp|verilog]
                            [--categories truncated bit_flips ...] [--verbose]

Mutates the small seed models of the test data (``tests/unit/hostile.py``: truncated and
bit-flipped files, missing initializers, dangling and cyclic edges, wrong ranks, zero-sized and
enormous dimensions, NaN/Inf weights, unknown opsets, domains and operators, attributes of the
wrong type or out of range, integer constants out of range, integer inputs, duplicate outputs,
empty graphs, missing outputs), compiles every
file in this process up to ``--stop-at`` (default: the hardware level, without writing Verilog)
with a time bound, and prints per category how many compiled, were refused with one line, raised
a traceback or hung; then the time, and the first message of each kind of traceback and of each
hang. Exit status 1 when any case raised a traceback, hung or was refused with a message that is
not one line.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.unit.hostile import MUTATORS, OUTCOMES, cases, refusal_problem, run_case, seed_models


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=600, help="mutated files (default 600)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per file (default 60)")
    parser.add_argument("--stop-at", choices=("nn", "fxp", "verilog"), default="verilog",
                        help="the level compiled to (verilog: the hardware level, not written)")
    parser.add_argument("--categories", nargs="+", choices=list(MUTATORS), default=list(MUTATORS))
    parser.add_argument("--verbose", action="store_true", help="print every case and outcome")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # the compiler's warnings about the models are not news here

    models = seed_models()
    tally: dict[str, Counter] = defaultdict(Counter)
    bugs: dict[str, list[str]] = defaultdict(list)  # first message of each kind -> its cases
    slowest = (0.0, "")
    start = time.perf_counter()
    for case in cases(models, args.count, args.seed, tuple(args.categories)):
        outcome = run_case(case.data, args.timeout, args.stop_at)
        problem = refusal_problem(outcome)
        kind = "traceback" if problem is not None else outcome.kind
        tally[case.category][kind] += 1
        slowest = max(slowest, (outcome.seconds, str(case)))
        if args.verbose:
            print(f"{outcome.kind:<9s} {outcome.seconds:5.2f} s  {case}  | {outcome.message[:160]}",
                  flush=True)
        if kind in ("traceback", "hang"):
            first = problem or (outcome.message.splitlines() or [""])[0][:200]
            key = f"{kind}: {first}"
            if key not in bugs:
                print(f"\n{key}\n  first seen in {case}\n{outcome.frames}", flush=True)
            bugs[key].append(str(case))
    seconds = time.perf_counter() - start

    total = Counter()
    print(f"\n{'category':<22s}" + "".join(f"{o:>11s}" for o in OUTCOMES))
    for category in args.categories:
        total.update(tally[category])
        print(f"{category:<22s}" + "".join(f"{tally[category][o]:>11d}" for o in OUTCOMES))
    print(f"{'total':<22s}" + "".join(f"{total[o]:>11d}" for o in OUTCOMES))
    print(f"\n{sum(total.values())} files (seed {args.seed}, up to {args.stop_at}) in {seconds:.0f} s; "
          f"slowest {slowest[0]:.1f} s: {slowest[1]}")
    for key, where in bugs.items():
        print(f"{len(where):4d}x {key}  (first: {where[0]})")
    return 1 if total["traceback"] or total["hang"] else 0


if __name__ == "__main__":
    sys.exit(main())
