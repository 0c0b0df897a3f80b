"""report.json as text: the human-readable report, the synthesis lines and the Vivado lines
(``rtlflow report``, ``rtlflow synth``, ``rtlflow build``). Reads the manifest only, so it imports
nothing of the compiler."""

from __future__ import annotations

from typing import Any


def _estimate_line(estimate: dict[str, Any], measured: dict[str, int]) -> str:
    """The estimate's LUT, FF and DSP with their ratios to a measurement."""

    def ratio(key: str) -> str:
        return f" ({estimate[key] / measured[key]:.2f}x)" if measured[key] else ""

    return (
        f"estimate   LUT {estimate['lut']}{ratio('lut')}, FF {estimate['ff']}{ratio('ff')}, "
        f"DSP {estimate['dsp']}{ratio('dsp')} of the measured"
    )


def synthesis_lines(report: dict[str, Any]) -> list[str]:
    """The measured resources (``rtlflow synth``) beside the estimate, with their ratios."""
    measured, estimate = report.get("synthesis"), report["resources"]
    if not measured:
        return []
    lut = measured["lut"] + measured["lut_memory"]
    return [
        f"synthesis  LUT {lut} ({measured['lut_memory']} as memory), FF {measured['ff']}, "
        f"CARRY {measured['carry']}, DSP {measured['dsp']}, BRAM18 {measured['bram18']} "
        f"in {measured['seconds']:g} s",
        f"           {measured['method']}",
        _estimate_line(estimate, measured | {"lut": lut}),
    ]


def vivado_lines(report: dict[str, Any]) -> list[str]:
    """Vivado's measurement (``rtlflow build``): resources as placed, slack, fmax and latency,
    beside the estimate."""
    measured = report.get("vivado")
    if not measured:
        return []
    target = report["clock"]["target_mhz"]
    if measured["wns_ns"] is None:
        timing = "no constrained path between registers (no WNS, no fmax)"
    else:
        timing = (
            f"WNS {measured['wns_ns']:.3f} ns at {measured['period_ns']:.3f} ns ({target:g} MHz)"
            f"{'' if measured['timing_met'] else ', timing not met'}: fmax "
            f"{measured['achieved_fmax_mhz']:g} MHz, latency {report['latency_cycles']} cycles = "
            f"{measured['latency_ns']:g} ns at that fmax"
        )
    seconds = f" in {measured['seconds']:g} s" if "seconds" in measured else ""
    return [
        f"vivado     LUT {measured['lut']} ({measured['lut_memory']} as memory), "
        f"FF {measured['ff']}, DSP {measured['dsp']}, BRAM18 {measured['bram18']}, "
        f"URAM {measured['uram']}{seconds}",
        f"           {timing}",
        f"           {measured['method']}",
        _estimate_line(report["resources"], measured),
    ]


def render_text(report: dict[str, Any]) -> str:
    """The human-readable report."""
    clock = report["clock"]
    part = report["part"]
    resources = report["resources"]
    util = part["utilization"]
    lines = [
        f"rtlflow report: {report['top']} on {part['name']}",
        "",
        f"clock      target {clock['target_mhz']:g} MHz, estimated fmax "
        f"{clock['estimated_fmax_mhz']:g} MHz",
        f"latency    {report['latency_cycles']} cycles = {report['latency_ns']:g} ns at the "
        f"target clock ({report['latency_ns_at_estimated_fmax']:g} ns at the estimated fmax)",
        f"interval   one inference every {report['initiation_interval']} cycle(s) (II)",
        "",
        "ports",
    ]
    for direction in ("inputs", "outputs"):
        for port in report[direction]:
            handshake = port["valid"] + (f"/{port['ready']}" if port["ready"] else "")
            lines.append(
                f"  {direction[:-1]:6s} {port['name']:<14s} {str(port['shape']):<12s} "
                f"{port['precision']:<18s} {port['data']} ({handshake})"
            )
    measured_layers = any("synthesis" in layer for layer in report["layers"])
    header = f"  {'layer':<22s} {'op':<12s} {'result':<16s} {'RF':>3s} {'cyc':>4s} "
    header += f"{'LUT':>8s} {'FF':>8s} {'DSP':>6s} {'BRAM18':>6s}"
    header += f" {'Yosys LUT':>10s} {'FF':>7s} {'DSP':>5s}" if measured_layers else ""
    lines += ["", "layers", header]
    for layer in report["layers"]:
        r = layer["resources"]
        line = (
            f"  {layer['name'][:22]:<22s} {layer['op']:<12s} {layer.get('result', ''):<16s} "
            f"{layer.get('reuse_factor', layer['ii']):>3d} {layer['latency_cycles']:>4d} "
            f"{r['lut']:>8d} {r['ff']:>8d} {r['dsp']:>6d} {r['bram18']:>6g}"
        )
        if "synthesis" in layer:
            m = layer["synthesis"]
            line += f" {m['lut']:>10d} {m['ff']:>7d} {m['dsp']:>5d}"
        lines.append(line)
        if "fused" in layer:  # a chain built as one unit
            lines.append(f"    (one unit: {', '.join(layer['fused'])})")
    lines += [
        "",
        f"resources  LUT {resources['lut']} ({util['lut']:.3g} %), FF {resources['ff']} "
        f"({util['ff']:.3g} %), DSP {resources['dsp']} ({util['dsp']:.3g} %), "
        f"BRAM18 {resources['bram18']:g} ({util['bram18']:.3g} %)",
        f"           {resources['method']}",
    ]
    for measured in (synthesis_lines(report), vivado_lines(report)):
        if measured:
            lines += [""] + measured
    if report["tables"]:
        lines += ["", "lookup tables"]
        for table in report["tables"]:
            low, high = table["input_range"]
            lines.append(
                f"  {table['layer']:<22s} {table['function']:<10s} [{low:g}, {high:g}) "
                f"{table['entries']} entries of {table['format']}"
            )
    if report.get("calibration"):
        lines += ["", "calibration (float model on the given data)"]
        for entry in report["calibration"]:
            low, high = entry["range"]
            mark = "  (the default precision overflows here)" if entry["default_would_overflow"] else ""
            lines.append(
                f"  {entry['tensor'][:30]:<30s} {entry['kind']:<10s} [{low:.4g}, {high:.4g}] "
                f"-> {entry['format']}{mark}"
            )
    if report.get("fidelity"):
        fid = report["fidelity"]
        lines += ["", f"fidelity (emulator against the float model, {fid['samples']} samples)"]
        for entry in fid["outputs"]:
            extra = ""
            if "argmax_agreement" in entry:
                extra += f", argmax agreement {100 * entry['argmax_agreement']:.2f} %"
            for key, value in entry.get("emulated", {}).items():
                extra += f", {key} {value:.4g} (float {entry['float'][key]:.4g})"
            lines.append(
                f"  {entry['output']:<22s} max |error| {entry['max_error']:.4g}, mean "
                f"{entry['mean_error']:.4g}{extra}"
            )
        for layer in fid.get("layers", []):
            lines.append(
                f"    {layer['layer'][:26]:<26s} {layer['op']:<10s} {layer['format']:<22s} "
                f"max {layer['max_error']:.3g}, mean {layer['mean_error']:.3g}"
            )
    if "overflow" in report:
        counted = report["overflow"]
        layers = counted["layers"]
        lines += ["", f"overflow   on the {counted['samples']} samples of the given inputs: " + (
            ", ".join(f"{node} in {n}" for node, n in layers.items()) if layers
            else "no layer's results left their format"
        )]
    if report.get("warnings"):
        lines += ["", "warnings"] + [f"  {w}" for w in report["warnings"]]
    lines += ["", "sources    " + " ".join(report["sources"])]
    vivado = report.get("vendor", {}).get("vivado")
    if vivado:
        files = " ".join(vivado["files"])
        lines.append(f"project    {files} (Vivado, {vivado['part']}; run by rtlflow build)")
    return "\n".join(lines) + "\n"
