"""Where flattened synthesis puts the flip-flops and LUTs: Yosys ``synth_xilinx -flatten`` of a
compiled model, every FF and LUT attributed to the top-level instance (layer) whose net it drives,
beside the report's per-layer estimate.

    python bench/attribute.py MODEL.onnx [--precision P] [--reuse-factor R] [--keep DIR]
                              [--timeout 1800]

The attribution follows net names: after flattening, a cell's output net keeps the name of the
signal it drove, prefixed with the instance path (``u12_node_MatMul_1.r0_v7_c2``); a cell whose
net has only an internal name (``$auto$...``) is counted as unattributed. Prints one row per
layer: estimated and attributed LUT and FF, and the ratio; then the totals. What per-unit
synthesis counts but the flattened design does not (registers merged across units, bits no
consumer reads) shows as layers whose attributed FFs fall short of the estimate.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

import rtlflow
from rtlflow.synthesis import YOSYS_FAMILY, yosys_command

INSTANCE = re.compile(r"^\s*(\w+)\s+(u\d+_\w+)\s*\(", re.MULTILINE)


def instances(top_verilog: str) -> list[str]:
    """The top module's instance names in the order of their ops (``u<op index>_...``), the
    order of the report's layers."""
    names = [name for _, name in INSTANCE.findall(top_verilog)]
    return sorted(names, key=lambda name: int(name[1:].split("_", 1)[0]))


def attribute(netlist: dict, top: str) -> tuple[Counter, Counter, Counter]:
    """FF, LUT and other cell counts per instance prefix of the flattened ``top``."""
    module = netlist["modules"][top]
    owner: dict[int, str] = {}
    for name, net in module["netnames"].items():
        if net.get("hide_name"):
            continue
        prefix = name.split(".", 1)[0] if "." in name else "(top)"
        for bit in net["bits"]:
            if isinstance(bit, int):
                owner.setdefault(bit, prefix)
    ffs, luts, other = Counter(), Counter(), Counter()
    for cell in module["cells"].values():
        kind = cell["type"]
        port = "Q" if kind.startswith("FD") else "O" if kind.startswith("LUT") else None
        bits = cell["connections"].get(port, []) if port else []
        where = next((owner[b] for b in bits if isinstance(b, int) and b in owner), "(internal)")
        if kind.startswith("FD"):
            ffs[where] += 1
        elif kind.startswith("LUT"):
            luts[where] += 1
        else:
            other[where] += 1
    return ffs, luts, other


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--precision")
    parser.add_argument("--reuse-factor", type=int)
    parser.add_argument("--keep", help="write the design here (default: a temporary directory)")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument(
        "--again", action="store_true", help="read the netlist --keep holds (no new synthesis)"
    )
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="attribute_"))
    seconds = 0.0
    if args.again:
        report = json.loads((work / "report.json").read_text())
    else:
        compiled = rtlflow.compile(
            args.model, precision=args.precision, reuse_factor=args.reuse_factor
        )
        report = compiled.write(work, vectors=4)
        family = YOSYS_FAMILY[compiled.target.part.family]
        script = (
            f"read_verilog {' '.join(report['sources'])}; "
            f"synth_xilinx -family {family} -flatten -top {report['top']}; "
            "tee -q -o synth_stat.txt stat; write_json netlist.json"
        )
        start = time.perf_counter()
        subprocess.run(
            [yosys_command(), "-q", "-p", script], cwd=work, check=True, timeout=args.timeout
        )
        seconds = time.perf_counter() - start
    top = report["top"]
    ffs, luts, _ = attribute(json.loads((work / "netlist.json").read_text()), top)
    names = instances((work / f"rtl/{top}.v").read_text())
    layers = report["layers"]
    print(f"{Path(args.model).name}: Yosys {seconds:.0f} s, {len(names)} instances, "
          f"{len(layers)} layers in the report")
    print(f"{'instance':<44s} {'op':<10s} {'LUT est':>8s} {'LUT syn':>8s} "
          f"{'FF est':>8s} {'FF syn':>8s} {'FF est/syn':>10s}")
    total_est = Counter()
    for name, layer in zip(names, layers, strict=False):
        est = layer["resources"]
        total_est["lut"] += est["lut"]
        total_est["ff"] += est["ff"]
        ratio = f"{est['ff'] / ffs[name]:.2f}" if ffs[name] else "–"
        print(f"{name[:44]:<44s} {layer['op'][:10]:<10s} {est['lut']:>8d} {luts[name]:>8d} "
              f"{est['ff']:>8d} {ffs[name]:>8d} {ratio:>10s}")
    for where in ("(top)", "(internal)"):
        print(f"{where:<44s} {'':<10s} {'':>8s} {luts[where]:>8d} {'':>8s} {ffs[where]:>8d}")
    print(f"{'total':<44s} {'':<10s} {total_est['lut']:>8d} {sum(luts.values()):>8d} "
          f"{total_est['ff']:>8d} {sum(ffs.values()):>8d}")
    print(f"report estimate: LUT {report['resources']['lut']}, FF {report['resources']['ff']}; "
          f"design in {work}")


if __name__ == "__main__":
    main()
