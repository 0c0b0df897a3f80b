"""Random networks, differentially checked, by the thousand: the tally of what compiled, what was
refused (and why), and every failure, shrunk and saved as a regression test.

    python bench/fuzz.py --count 1000 --rtl 100

Each network (tests/e2e/random_networks.py) is compiled and checked: quantized networks
against their exact ONNX semantics, float networks' nn level against onnxruntime (and the
emulator at the default precision); ``--rtl N`` networks, spread over the run, are also
simulated under Verilator (bit-exact with the emulator, latency and interval as reported).
``--save`` shrinks each failure and writes it to tests/regressions/. Exit status 1 on any failure.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e import random_networks as rn  # noqa: E402  (the generator the tests use)


def refusal_kind(message: str) -> str:
    """A refusal's message without names and numbers, to count refusals by kind."""
    text = re.sub(r"node '[^']*' ", "", message)
    return re.sub(r"[-\d.]+", "N", text)[:90]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="networks (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--rtl", type=int, default=0, help="networks also simulated (default 0)")
    parser.add_argument("--family", choices=["quantized", "float"], help="only this family")
    parser.add_argument("--save", action="store_true", help="shrink failures into tests/regressions")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    every = max(1, args.count // args.rtl) if args.rtl else 0
    tally: Counter = Counter()
    checks: Counter = Counter()
    refusals: Counter = Counter()
    failures: list[rn.Outcome] = []
    start = time.perf_counter()
    rtl_time = 0.0
    for index, seed in enumerate(range(args.seed, args.seed + args.count)):
        spec = rn.draw(seed, args.family)
        simulate = bool(every) and index % every == 0
        with tempfile.TemporaryDirectory() as directory:
            began = time.perf_counter()
            outcome = rn.check(spec, rtl_dir=Path(directory) if simulate else None)
            if simulate:
                rtl_time += time.perf_counter() - began
        tally[spec.family, outcome.status] += 1
        checks.update(outcome.checked)
        if outcome.status == "refused":
            refusals[refusal_kind(outcome.message)] += 1
        if outcome.status == "failed":
            failures.append(outcome)
            print(f"FAILED {outcome.line()}", flush=True)
        if (index + 1) % 100 == 0:
            print(f"... {index + 1} networks, {time.perf_counter() - start:.0f} s", flush=True)
    elapsed = time.perf_counter() - start
    print(f"\n{args.count} random networks (seeds {args.seed}..{args.seed + args.count - 1}) "
          f"in {elapsed:.0f} s ({rtl_time:.0f} s of it in {checks['rtl']} Verilator runs)")
    for family in ("quantized", "float"):
        row = {status: tally[family, status] for status in ("passed", "refused", "failed")}
        if any(row.values()):
            print(f"  {family:9}: " + ", ".join(f"{n} {status}" for status, n in row.items()))
    print("  checks passed: " + ", ".join(f"{kind} {n}" for kind, n in sorted(checks.items())))
    print("  refusals by kind:")
    for kind, n in refusals.most_common():
        print(f"    {n:4}  {kind}")
    for outcome in failures:
        if args.save:
            with tempfile.TemporaryDirectory() as directory:
                shrunk = rn.shrink(outcome, rtl_dir=Path(directory) if "RTL" in outcome.message else None)
            path = rn.save_regression(shrunk, rtl="RTL" in outcome.message or "latency" in outcome.message)
            print(f"  saved {path} ({len(shrunk.spec.layers)} layers): {shrunk.message[:200]}")
    print(f"  failures: {len(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
