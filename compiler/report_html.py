"""report.json as one self-contained HTML page (report.html beside report.txt).

The summary (latency, II, clock, resources against the part), per-layer latency and resource
bars, per-layer fidelity (when the compile was given inputs), the profile of every layer's values
against its fixed-point formats (hls4ml's profiling plot, for the layers of the hardware) and
the rest of the report as tables. Reads the manifest only; the plots are inline SVG
(``rtlflow.svg_chart``, no plotting library: drawing them costs milliseconds): no network, no
JavaScript. The same report gives the same bytes.
"""

from __future__ import annotations

import base64
import html
import io
import math
from typing import Any

from rtlflow.report_text import synthesis_lines, vivado_lines
from rtlflow.svg_chart import COLOURS, GREY, GREY_EDGE, Bar, Mark, Panel, Span, chart

STYLE = """
body { font-family: sans-serif; max-width: 1100px; margin: 1em auto; padding: 0 1em;
       color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }
th { background: #f0f0f0; } td.text, th.text { text-align: left; }
figure { margin: 1em 0; } figure img, figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 0.9em; color: #444; max-width: 900px; }
pre { background: #f6f6f6; padding: 0.5em; overflow-x: auto; font-size: 0.85em; }
.warning { color: #a40; }
"""

RESOURCES = ("lut", "ff", "dsp", "bram18")


def _e(value: Any) -> str:
    return html.escape(str(value))


def _number(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}g}"


def _count(value: float) -> str:
    """A resource count: thousands separated, no exponent."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,}"


def _lsb(value: float) -> str:
    """An LSB as the power of two it is."""
    exponent = math.log2(value)
    return f"2^{int(exponent)}" if exponent.is_integer() else f"{value:g}"


def table(header: list[str], rows: list[list[Any]], text_columns: int = 1) -> str:
    """An HTML table (no header row when the names are empty); the first ``text_columns``
    columns are left-aligned text."""

    def cell(tag: str, index: int, value: Any) -> str:
        kind = ' class="text"' if index < text_columns else ""
        return f"<{tag}{kind}>{_e(value)}</{tag}>"

    head = "".join(cell("th", i, name) for i, name in enumerate(header))
    head = f"<tr>{head}</tr>\n" if any(header) else ""
    body = "".join(
        "<tr>" + "".join(cell("td", i, value) for i, value in enumerate(row)) + "</tr>\n"
        for row in rows
    )
    return f"<table>\n{head}{body}</table>\n"


def figure_html(figure: Any, caption: str) -> str:
    """A matplotlib figure as an embedded PNG with its caption (the scan's plots)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{_e(caption)}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>\n"
    )


def svg_figure(svg: str, caption: str) -> str:
    """An inline SVG chart with its caption."""
    return f"<figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>\n"


# ---- summary -----------------------------------------------------------------------------------


def summary(report: dict[str, Any]) -> str:
    clock, part, resources = report["clock"], report["part"], report["resources"]
    rows = [
        ["design", report["top"]],
        ["part", part["name"]],
        ["latency", f"{report['latency_cycles']} cycles = {report['latency_ns']:g} ns at the "
                    f"target clock ({report['latency_ns_at_estimated_fmax']:g} ns at the "
                    "estimated fmax)"],
        ["initiation interval (II)", f"{report['initiation_interval']} cycle(s)"],
        ["clock", f"target {clock['target_mhz']:g} MHz, estimated fmax "
                  f"{clock['estimated_fmax_mhz']:g} MHz"],
    ]  # fmt: skip
    if "test_vectors" in report:
        vectors = report["test_vectors"]
        rows.append(["test vectors", f"{vectors['samples']} samples, {vectors['source']}"])
    text = "<h2>Summary</h2>\n" + table(["", ""], rows, text_columns=2)
    used = [
        [key.upper(), _count(resources[key]), _count(part[key]), f"{part['utilization'][key]:.3g} %"]
        for key in RESOURCES
    ]
    text += table(["resource", "used (estimate)", f"{part['name']} has", "share"], used)
    text += f"<p>{_e(resources['method'])}</p>\n"
    measured = synthesis_lines(report) + vivado_lines(report)
    if measured:
        text += "<pre>" + _e("\n".join(measured)) + "</pre>\n"
    ports = [
        [direction[:-1], port["name"], str(port["shape"]), port["precision"], port["data"]]
        for direction in ("inputs", "outputs")
        for port in report[direction]
    ]
    text += "<h3>Ports</h3>\n" + table(["", "name", "shape", "format", "data"], ports, 5)
    return text


# ---- layers ------------------------------------------------------------------------------------


def layer_plot(layers: list[dict[str, Any]]) -> str:
    """Per layer, horizontal bars: latency in cycles and each resource used."""
    keys = [("latency_cycles", "latency (cycles)")] + [
        (key, key.upper()) for key in RESOURCES if any(layer["resources"][key] for layer in layers)
    ]
    panels = []
    for index, (key, label) in enumerate(keys):
        bars = []
        for row, layer in enumerate(layers):
            value = layer[key] if key == "latency_cycles" else layer["resources"][key]
            note = f"{layer['name']}: {_count(value)} {label}"
            bars.append(Bar(row, 0.0, value, COLOURS[index % len(COLOURS)], note=note))
        panels.append(Panel(bars, title=label))
    return chart([layer["name"] for layer in layers], panels)


def layers_section(report: dict[str, Any]) -> str:
    layers = report["layers"]
    rows = [
        [layer["name"], layer["op"], layer.get("result", ""),
         layer.get("reuse_factor", layer["ii"]), layer["latency_cycles"]]
        + [f"{layer['resources'][key]:g}" for key in RESOURCES]
        for layer in layers
    ]  # fmt: skip
    text = "<h2>Layers</h2>\n"
    if layers:
        text += svg_figure(
            layer_plot(layers),
            "Per layer: latency in clock cycles and the resources of the estimate.",
        )
    header = ["layer", "op", "result", "RF", "cycles", "LUT", "FF", "DSP", "BRAM18"]
    return text + table(header, rows, text_columns=3)


# ---- fidelity ----------------------------------------------------------------------------------


def fidelity_plot(layers: list[dict[str, Any]], lsbs: dict[str, float]) -> str:
    """Per layer, the largest and mean |error| against the float model (log scale), with the
    LSB of the layer's result format."""
    floor = min((row["mean_error"] for row in layers if row["mean_error"] > 0), default=1e-6) / 4
    items: list[Bar | Mark] = []
    for position, row in enumerate(layers):
        for key, colour, offset in (("max_error", COLOURS[3], -0.2), ("mean_error", COLOURS[0], 0.2)):
            note = f"{row['layer']}: {key.split('_')[0]} |error| {row[key]:.4g}"
            items.append(Bar(position, floor, max(row[key], floor), colour, 0.4, offset, note=note))
        if row["layer"] in lsbs:
            lsb = lsbs[row["layer"]]
            items.append(Mark(position, lsb, f"{row['layer']}: LSB {_lsb(lsb)}"))
    panel = Panel(items, label="|emulated hardware - float model|", log=10)
    legend = [(COLOURS[3], "max |error|"), (COLOURS[0], "mean |error|")]
    if lsbs:
        legend.append(("#000", "LSB of the result format"))
    return chart([row["layer"] for row in layers], [panel], legend)


def fidelity_section(report: dict[str, Any]) -> str:
    fid = report.get("fidelity")
    if not fid:
        return (
            "<h2>Fidelity</h2>\n<p>No inputs were given (<code>--inputs</code>): no comparison "
            "with the float model.</p>\n"
        )
    rows = []
    for entry in fid["outputs"]:
        extra = []
        if "argmax_agreement" in entry:
            extra.append(f"argmax agreement {100 * entry['argmax_agreement']:.2f} %")
        for key, value in entry.get("emulated", {}).items():
            extra.append(f"{key} {value:.4g} (float {entry['float'][key]:.4g})")
        rows.append([entry["output"], _number(entry["max_error"]), _number(entry["mean_error"]),
                     ", ".join(extra)])  # fmt: skip
    text = (
        f"<h2>Fidelity</h2>\n<p>The emulated hardware (bit-exact) against the float model on "
        f"the {fid['samples']} given samples.</p>\n"
    )
    text += table(["output", "max |error|", "mean |error|", "quality"], rows)
    layers = fid.get("layers", [])
    if layers:
        lsbs = {entry["layer"]: entry["lsb"] for entry in report.get("profile", []) if "lsb" in entry}
        text += svg_figure(
            fidelity_plot(layers, lsbs),
            "Per layer: the error of its results against the float model's (log scale; an "
            "error of zero is drawn at the left edge). The tick marks one LSB of the layer's "
            "result format: errors near it are rounding, errors far above it are lost range "
            "or accumulated rounding.",
        )
        rows = [
            [row["layer"], row["op"], row["format"], _number(row["max_error"], 3),
             _number(row["mean_error"], 3)]
            for row in layers
        ]  # fmt: skip
        text += table(["layer", "op", "format", "max |error|", "mean |error|"], rows, 3)
    return text


# ---- profile -----------------------------------------------------------------------------------


def _magnitudes(values: dict[str, float | None]) -> tuple[float, float] | None:
    """The range of non-zero magnitudes of a ``value_range``: (smallest, largest)."""
    smallest = values.get("abs_min_nonzero")
    if smallest is None:
        return None
    return smallest, max(abs(values["min"]), abs(values["max"]))  # type: ignore[arg-type]


def _tensors(profile: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per tensor: each layer's constants, then its results."""
    rows = []
    for entry in profile:
        if "format" not in entry:
            continue
        for constant in entry.get("constants", []):
            rows.append({
                "label": f"{entry['layer']}: {constant['name']}",
                "kind": "constant",
                "format": constant,
                "float": constant.get("float"),
                "hardware": constant["hardware"],
            })
        results = entry.get("results", {})
        rows.append({
            "label": f"{entry['layer']}: result",
            "kind": "result",
            "format": entry,
            "float": results.get("float"),
            "hardware": results.get("hardware"),
        })
    return rows


def profile_plot(rows: list[dict[str, Any]]) -> str:
    """hls4ml's profiling plot: per tensor, on a log2 axis of |value|, the format (grey: from
    its LSB to its largest magnitude) and the non-zero magnitudes the tensor takes (float model
    thick, hardware as a line)."""
    items: list[Bar | Span] = []
    lows, highs = [], []
    for position, row in enumerate(rows):
        fmt = row["format"]
        top = max(abs(fmt["representable"][0]), abs(fmt["representable"][1]))
        note = f"{row['label']}: {fmt['format']}, LSB {_lsb(fmt['lsb'])} to {top:g}"
        items.append(Bar(position, fmt["lsb"], top, GREY, 0.8, edge=GREY_EDGE, note=note))
        lows.append(fmt["lsb"])
        highs.append(top)
        colour = COLOURS[0] if row["kind"] == "constant" else COLOURS[2]
        span = _magnitudes(row["float"]) if row["float"] else None
        if span is not None:
            note = f"{row['label']}: float model |x| in [{span[0]:.4g}, {span[1]:.4g}]"
            items.append(Bar(position, span[0], span[1], COLOURS[3] if span[1] > top else colour,
                             0.45, note=note))  # fmt: skip
            lows.append(span[0])
            highs.append(span[1])
        span = _magnitudes(row["hardware"]) if row["hardware"] else None
        if span is not None:
            note = f"{row['label']}: hardware |x| in [{span[0]:.4g}, {span[1]:.4g}]"
            items.append(Span(position, span[0], span[1], note))
    floor = min(row["format"]["lsb"] for row in rows) / 2**8  # tinier values: at the edge
    panel = Panel(items, label="|value| (non-zero)", log=2,
                  limits=(max(min(lows), floor), max(highs)))  # fmt: skip
    legend = [
        (GREY, "format: LSB to largest magnitude"),
        (COLOURS[0], "constants (float model)"),
        (COLOURS[2], "results on the given inputs (float model)"),
        (COLOURS[3], "above the format"),
        ("#000", "the hardware's values"),
    ]
    return chart([row["label"] for row in rows], [panel], legend)


def _range_text(values: dict[str, float | None] | None) -> str:
    if not values:
        return "–"
    smallest = values["abs_min_nonzero"]
    text = f"[{values['min']:.4g}, {values['max']:.4g}]"
    return text + (f", |x| ≥ {smallest:.3g}" if smallest is not None else ", all zero")


def profile_section(report: dict[str, Any]) -> str:
    rows = _tensors(report.get("profile", []))
    if not rows:
        return ""
    measured = any(row["kind"] == "result" and row["float"] for row in rows)
    text = "<h2>Profile: values against their formats</h2>\n"
    text += svg_figure(
        profile_plot(rows),
        "Per tensor of every layer, the magnitudes of its non-zero values against its "
        "fixed-point format (grey, from one LSB to the largest magnitude it holds). Constants "
        "(weights, biases, scales) in blue"
        + (", results on the given inputs in green" if measured else
           "; the results' ranges need inputs (--inputs)")
        + "; red where the float values exceed the format's largest magnitude (they wrap or "
        "saturate). Non-zero values below its LSB round to zero or to one LSB. The black line "
        "is the range of the values the hardware holds.",
    )  # fmt: skip
    cells = [
        [row["label"], row["format"]["format"],
         f"[{row['format']['representable'][0]:g}, {row['format']['representable'][1]:g}]",
         _lsb(row["format"]["lsb"]), _range_text(row["float"]), _range_text(row["hardware"])]
        for row in rows
    ]  # fmt: skip
    header = ["tensor", "format", "holds", "LSB", "float model", "hardware"]
    return text + table(header, cells, text_columns=2)


# ---- the rest ----------------------------------------------------------------------------------


def details_section(report: dict[str, Any]) -> str:
    text = ""
    if report.get("tables"):
        rows = [
            [t["layer"], t["function"], f"[{t['input_range'][0]:g}, {t['input_range'][1]:g})",
             t["entries"], t["format"]]
            for t in report["tables"]
        ]  # fmt: skip
        text += "<h2>Lookup tables</h2>\n"
        text += table(["layer", "function", "input range", "entries", "format"], rows, 2)
    if report.get("calibration"):
        rows = [
            [c["tensor"], c["kind"], f"[{c['range'][0]:.4g}, {c['range'][1]:.4g}]", c["format"],
             "yes" if c["default_would_overflow"] else ""]
            for c in report["calibration"]
        ]  # fmt: skip
        text += "<h2>Calibration (float model on the given data)</h2>\n"
        text += table(["tensor", "kind", "range", "format", "default overflows"], rows, 2)
    if "overflow" in report:
        counted = report["overflow"]
        text += f"<h2>Overflow on the {counted['samples']} given samples</h2>\n"
        if counted["layers"]:
            rows = [[node, n] for node, n in counted["layers"].items()]
            text += table(["layer", "samples"], rows)
        else:
            text += "<p>No layer's results left their format.</p>\n"
    if report.get("warnings"):
        items = "".join(f'<li class="warning">{_e(w)}</li>\n' for w in report["warnings"])
        text += f"<h2>Warnings</h2>\n<ul>\n{items}</ul>\n"
    text += "<h2>Sources</h2>\n<pre>" + _e("\n".join(report["sources"])) + "</pre>\n"
    return text


def page(title: str, body: str, style: str = STYLE) -> str:
    """A whole HTML page: the title as heading, then ``body`` (HTML)."""
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_e(title)}</title>\n<style>{style}</style>\n</head>\n<body>\n"
        f"<h1>{_e(title)}</h1>\n{body}</body>\n</html>\n"
    )


def render_html(report: dict[str, Any]) -> str:
    """The report as one HTML page, plots embedded."""
    title = f"rtlflow report: {report['top']} on {report['part']['name']}"
    body = (
        f"<p>{_e(report.get('generator', ''))}</p>\n"
        + summary(report)
        + layers_section(report)
        + fidelity_section(report)
        + profile_section(report)
        + details_section(report)
    )
    return page(title, body)
