"""An independent cocotb bench: it knows only report.json (the manifest) and the Verilog.

It encodes real-valued inputs and decodes outputs with the formats the manifest states, drives
the handshake it states, and measures latency as it defines it. The expected values come from
the test (exact float arithmetic) through RTLFLOW_CONTRACT, a JSON file also naming the output
directory and where to write the results.
"""

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

contract = json.loads(open(os.environ["RTLFLOW_CONTRACT"]).read())
manifest = json.loads(open(os.path.join(contract["outdir"], "report.json")).read())


def encode(values, fmt):
    width, scale = fmt["width"], 2 ** (fmt["width"] - fmt["int"])
    word = 0
    for index, value in enumerate(values):
        raw = int(round(value * scale)) % (1 << width)
        word |= raw << (index * width)
    return word


def decode(word, count, fmt):
    width, scale = fmt["width"], 2 ** (fmt["width"] - fmt["int"])
    values = []
    for index in range(count):
        raw = (word >> (index * width)) & ((1 << width) - 1)
        if fmt["signed"] and raw >= 1 << (width - 1):
            raw -= 1 << width
        values.append(raw / scale)
    return values


@cocotb.test()
async def contract_test(dut):
    handle = lambda name: getattr(dut, name)  # noqa: E731
    clock = handle(manifest["clock"]["port"])
    cocotb.start_soon(Clock(clock, 4, unit="ns").start())
    reset = handle(manifest["reset"]["port"])
    active = 1 if manifest["reset"]["active"] == "high" else 0
    first = manifest["inputs"][0]
    valid = handle(first["valid"])
    ready = handle(first["ready"]) if first["ready"] else None
    out_valid = handle(manifest["outputs"][0]["valid"])
    samples = contract["inputs"]  # list of {input name: flat list of values}
    expected = contract["outputs"]  # list of {output name: flat list of values}

    reset.value, valid.value = active, 0
    for _ in range(4):
        await RisingEdge(clock)
    reset.value = 1 - active

    cycle, sent, accepted, received = 0, 0, [], []
    while len(received) < len(samples) and cycle < 100 * len(samples) + 100:
        if sent < len(samples):  # present the next inference until it is taken
            for port in manifest["inputs"]:
                handle(port["data"]).value = encode(samples[sent][port["name"]], port["format"])
            valid.value = 1
        else:
            valid.value = 0
        await FallingEdge(clock)
        await ReadOnly()
        if sent < len(samples) and (ready is None or int(ready.value) == 1):
            accepted.append(cycle)
            sent += 1
        if int(out_valid.value) == 1:
            outputs = {}
            for port in manifest["outputs"]:
                count = 1
                for dim in port["shape"]:
                    count *= dim
                outputs[port["name"]] = decode(int(handle(port["data"]).value), count, port["format"])
            received.append((cycle, outputs))
        await RisingEdge(clock)
        cycle += 1

    results = {
        "received": len(received),
        "equal": [outputs == expected[i] for i, (_, outputs) in enumerate(received)],
        "latencies": sorted({c - accepted[i] for i, (c, _) in enumerate(received)}),
        "intervals": sorted({b - a for a, b in zip(accepted, accepted[1:])}),
    }
    with open(contract["results"], "w") as file:
        json.dump(results, file)
