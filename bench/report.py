#!/usr/bin/env python3
"""Prints bench/run's results as one table.

    report.py RESULTS_DIR

RESULTS_DIR holds one JSON file per measurement, as bench/run writes them: hyperfine's
--export-json output, or {"kind": ...} records (in-process hook batches, time lists,
counts, memory, CPU, errors), plus meta.json. Standard library only.
"""

import json
import os
import statistics
import sys

RES = sys.argv[1] if len(sys.argv) > 1 else "."


def load(name):
    path = os.path.join(RES, name + ".json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


META = load("meta") or {}
PEERS = META.get("peers", [])  # the direnv-based peers present
SHELLS = META.get("shells", "16")
MANY = META.get("many", "200")


class Value:
    """One cell: a number in a unit, or why there is none."""

    def __init__(self, number=None, kind="time", text=None, detail=""):
        self.number = number
        self.kind = kind  # time (seconds) | count | kib | ms
        self.text = text
        self.detail = detail

    def ok(self):
        return self.number is not None

    def __str__(self):
        if self.number is None:
            return self.text or "—"
        if self.kind == "time":
            s = fmt_time(self.number)
        elif self.kind == "count":
            s = "%d eval%s" % (self.number, "" if self.number == 1 else "s")
        elif self.kind == "kib":
            s = "%.1f MiB" % (self.number / 1024)
        elif self.kind == "ms":
            s = "%d ms CPU" % self.number
        else:
            s = str(self.number)
        return s + (" " + self.detail if self.detail else "")


MISSING = Value(text="—")


def fmt_time(seconds):
    if seconds < 1e-3:
        return "%.1f µs" % (seconds * 1e6)
    if seconds < 1:
        ms = seconds * 1e3
        return ("%.2f ms" if ms < 10 else "%.1f ms" if ms < 100 else "%.0f ms") % ms
    return "%.2f s" % seconds


def time_of(name, index=0):
    """The median of a measurement, in seconds."""
    data = load(name)
    if data is None:
        return MISSING
    kind = data.get("kind")
    if kind == "error":
        return Value(text="error")
    if "results" in data:  # hyperfine
        try:
            return Value(statistics.median(data["results"][index]["times"]))
        except (IndexError, KeyError, statistics.StatisticsError):
            return Value(text="error")
    if kind == "batches":  # per-call time of each batch; their median
        per_call = [us / calls / 1e6 for us, calls in data["batches"]]
        return Value(statistics.median(per_call)) if per_call else Value(text="error")
    if kind == "time_us":
        return Value(statistics.median(data["values"]) / 1e6) if data["values"] else Value(text="error")
    return Value(text="?")


def count_of(name):
    data = load(name)
    if data is None:
        return MISSING
    if data.get("kind") != "count":
        return Value(text="error")
    detail = "(%s)" % fmt_time(data["wall_us"] / 1e6)
    if data.get("failures"):
        detail = "(%s, %d failed)" % (fmt_time(data["wall_us"] / 1e6), data["failures"])
    return Value(data["count"], "count", detail=detail)


def scalar_of(name, kind):
    data = load(name)
    if data is None:
        return MISSING
    if data.get("kind") == "error":
        return Value(text="error")
    return Value(data["value"], kind)


def ratio(peer, dwell):
    if not (peer.ok() and dwell.ok()) or dwell.number == 0:
        return "—"
    r = peer.number / dwell.number
    return ("%.0f×" if r >= 100 else "%.1f×" if r >= 10 else "%.2f×") % r


# ------------------------------------------------------------------------------------
# The rows: scenario, dwell's value, the peers' values, target and whether it is met.

rows = []


def row(scenario, dwell, peers, target="", met=None):
    """peers: {"direnv": Value, "nix-direnv": Value, "nix": Value}; met: True, False
    or None (no target, or nothing to judge)."""
    rows.append((scenario, dwell, peers, target, met))


def le(value, limit):
    return value.number <= limit if value.ok() else None


def both(*checks):
    if any(c is False for c in checks):
        return False
    if any(c is None for c in checks):
        return None
    return True


def peer_values(prefix):
    return {p: time_of("%s.%s" % (prefix, p)) for p in PEERS}


# idle prompt
idle = time_of("idle.dwell")
idle_direnv = time_of("idle.direnv")
ratio_ok = None
if idle.ok() and idle_direnv.ok():
    ratio_ok = idle_direnv.number / idle.number >= 50
row(
    "idle prompt (dwell: hook in-process; direnv: `direnv export bash`)",
    idle,
    {"direnv": idle_direnv},
    "≤ 50 µs and ≥ 50× cheaper than direnv",
    both(le(idle, 50e-6), ratio_ok),
)
row(
    "idle prompt, both hooks timed in-process",
    idle,
    {"direnv": time_of("idlehook.direnv")},
)


def empty_call(name):
    """The median time of one empty function call of the shell, in the hook's loop."""
    data = load(name)
    if not data or data.get("kind") != "batches" or not data.get("noop"):
        return None
    return statistics.median(us / calls / 1e6 for us, calls in data["noop"])


def five_empty_calls(name, v):
    """(target text, met) for the hook against five empty calls of its own shell
    and fifty times under direnv's per-prompt cost."""
    empty = empty_call(name)
    if empty is None or not v.ok():
        return "≤ 5 empty calls of the shell and ≥ 50× cheaper than direnv", None
    met = v.number <= 5 * empty
    if idle_direnv.ok():
        met = met and idle_direnv.number / v.number >= 50
    return "≤ 5 empty calls of the shell (%s) and ≥ 50× cheaper than direnv" % fmt_time(5 * empty), met


target, met = five_empty_calls("idle.dwell", idle)
row("idle prompt in bash, against its own empty calls", idle, {"direnv": idle_direnv}, target, met)
for sh in ("fish", "elvish", "xonsh", "nu"):
    v = time_of("idle.dwell." + sh)
    target, met = five_empty_calls("idle.dwell." + sh, v)
    row("idle prompt in %s (dwell's %s hook in-process)" % (sh, sh), v, {"direnv": idle_direnv}, target, met)

kinds = [("shell", "shell.nix"), ("flake", "flake"), ("venv", "shell.nix + .venv")]
for kind, label in kinds:
    v = time_of("entry.%s.dwell" % kind)
    row("cached entry: %s" % label, v, peer_values("entry." + kind), "≤ 3 ms", le(v, 3e-3))
for kind, label in kinds:
    v = time_of("restart.%s.dwell" % kind)
    row(
        "cached entry, fresh daemon: %s" % label,
        v,
        peer_values("entry." + kind),
        "≤ 15 ms",
        le(v, 15e-3),
    )
# dwell as direnv's backend: direnv's own cost plus a cached answer from dwell.
if "direnv-dwell" in PEERS:
    # On the stand-in nixpkgs stock direnv's `use nix` costs little more than
    # direnv itself; the ratio target is judged on a project that evaluates like a
    # real nixpkgs devShell (~1 s).
    for kind, label, with_ratio in (
        ("shell", "shell.nix (the stand-in's tiny evaluation)", False),
        ("heavy", "shell.nix evaluating like real nixpkgs (~1 s)", True),
    ):
        via = time_of("entry.%s.direnv-dwell" % kind)
        stock = time_of("entry.%s.direnv" % kind)
        # direnv's floor for this environment: the same .envrc text, static.
        same = time_of("entry.floor-%s.direnv" % kind)
        met = None
        if via.ok() and same.ok() and stock.ok():
            met = via.number <= same.number + 5e-3
            if with_ratio:
                met = met and stock.number / via.number >= 10
        target = "≤ direnv's floor for this environment (%s) + 5 ms" % same
        if with_ratio:
            target += " and ≥ 10× faster than stock direnv"
        row(
            "cached entry through direnv (`eval \"$(dwell direnv)\"`): %s" % label,
            via,
            {"direnv": stock},
            target,
            met,
        )
v = time_of("entry.heavy.dwell")
row("cached entry: shell.nix evaluating like real nixpkgs (~1 s)", v, peer_values("entry.heavy"), "≤ 3 ms", le(v, 3e-3))
v = time_of("entry.large.dwell")
row("large project (500 files): cached entry", v, peer_values("entry.large"), "≤ 5 ms", le(v, 5e-3))
row(
    "large project (500 files): fresh daemon",
    time_of("restart.large.dwell"),
    peer_values("entry.large"),
)

first = time_of("first", 0)
first_nix = time_of("first", 1)
met = None
if first.ok() and first_nix.ok():
    met = first.number <= first_nix.number * 1.10 + 0.020
row(
    "first evaluation (never-evaluated shell.nix)",
    first,
    {"nix": first_nix},
    "≤ nix + 10% + 20 ms",
    met,
)
row(
    "save → ready (edit an imported .nix; dwell: until status is fresh)",
    time_of("save.dwell"),
    {"nix": time_of("save.nix")},
)

fl = count_of("flight.dwell")
row(
    "single flight: %s shells enter a new project at once" % SHELLS,
    fl,
    {p: count_of("flight." + p) for p in PEERS},
    "exactly 1 evaluation",
    (fl.number == 1) if fl.ok() else None,
)
flc = count_of("flightcold.dwell")
row(
    "single flight, daemon not running (%s clients start it)" % SHELLS,
    flc,
    {p: count_of("flight." + p) for p in PEERS},
    "exactly 1 evaluation",
    (flc.number == 1) if flc.ok() else None,
)

cold = time_of("cold")
row(
    "cold entry of a slow project (a 2 s build), `wait = 0`: until the prompt is back (dwell evaluates in the background; direnv: `use nix`)",
    cold,
    {"direnv": time_of("cold", 1)},
    "≤ 100 ms (wait + 100 ms)",
    le(cold, 0.1),
)

team, team_cold = time_of("team"), time_of("team", 1)
row(
    "a fresh machine's first entry of a ~1 s flake, from dwell.lock and a file:// binary cache (empty store; the peer: evaluating it, same cache)",
    team,
    {"evaluating": team_cold},
    "faster than evaluating",
    (team.number < team_cold.number) if team.ok() and team_cold.ok() else None,
)

bump, bump_uv = time_of("venv.bump"), time_of("venv.uv")
row(
    "venv: one-package lock bump → the new venv serves (dwell: built in the background; uv: `uv sync` into the existing venv)",
    bump,
    {"uv": bump_uv},
    "≤ uv + 1.5 s",
    (bump.number <= bump_uv.number + 1.5) if bump.ok() and bump_uv.ok() else None,
)
back = time_of("venv.back")
back_info = load("venv.back.info") or {}
procs = back_info.get("processes")
if back.ok() and procs is not None:
    back.detail = "(%d uv)" % procs
row(
    "venv: the first lock switched back → its kept venv serves",
    back,
    {},
    "≤ 50 ms, no process",
    (back.number <= 0.050 and procs == 0) if back.ok() and procs is not None else None,
)

rss = scalar_of("rss", "kib")
row("daemon RSS after serving %s projects" % MANY, rss, {}, "≤ 20 MiB", le(rss, 20 * 1024))
cpu = scalar_of("cpu", "ms")
row("daemon CPU while idle for 10 s", cpu, {}, "~0 (≤ 10 ms)", le(cpu, 10))

# ------------------------------------------------------------------------------------
# The table.

peer_cols = list(PEERS) + ["nix"] + [p for p in ("uv", "evaluating") if any(p in r[2] for r in rows)]
NAMES = {"direnv-dwell": "direnv + dwell", "evaluating": "dwell evaluating"}
names = [NAMES.get(p, p) for p in peer_cols]
header = ["scenario", "dwell"] + names + ["%s ÷ dwell" % n for n in names] + ["target", "met?"]
table = []
for scenario, dwell, peers, target, met in rows:
    cells = [scenario, str(dwell)]
    cells += [str(peers.get(p, MISSING)) for p in peer_cols]
    cells += [ratio(peers.get(p, MISSING), dwell) for p in peer_cols]
    cells += [target or "(no target)", {True: "yes", False: "MISSED", None: "—"}[met]]
    table.append(cells)

widths = [max(len(r[i]) for r in [header] + table) for i in range(len(header))]


def line(cells):
    return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"


print()
print("dwell benchmark%s" % (" (--quick: few runs, small numbers)" if META.get("quick") == "1" else ""))
print()
print(line(header))
print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for cells in table:
    print(line(cells))

missed = [r[0] for r in rows if r[4] is False]
print()
print("Medians. Ratios are peer ÷ dwell: above 1, dwell is faster (for counts: evaluations")
print("per dwell evaluation). %d target%s missed." % (len(missed), "" if len(missed) == 1 else "s"))

# ------------------------------------------------------------------------------------
# Notes: the machine, the tools, and what stands behind some cells.

notes = []
notes.append(
    "machine: %s × %s, %s, %s; load average %s at the start, %s at the end; %s s in all"
    % (
        META.get("nproc", "?"),
        META.get("cpu", "?"),
        META.get("memory", "?"),
        META.get("kernel", "?"),
        META.get("load_start", "?"),
        META.get("load_end", "?"),
        META.get("wall_s", "?"),
    )
)
notes.append(
    "tools: %s; %s; direnv %s; %s; bash %s"
    % (
        META.get("dwell", "dwell ?"),
        META.get("nix", "nix ?"),
        META.get("direnv") or "(not installed)",
        META.get("hyperfine", "hyperfine ?"),
        META.get("bash", "?"),
    )
)
if META.get("nix_direnv"):
    notes.append("nix-direnv: %s" % META["nix_direnv"])
trivial = time_of("entry.floor.direnv")
if trivial.ok():
    notes.append(
        "direnv with a trivial .envrc (one export) takes %s here; its floor for the "
        "environment dwell gives is the same .envrc text as `dwell direnv` prints, "
        "static (the rows through direnv)" % trivial
    )
floor = time_of("floor")
if floor.ok():
    notes.append(
        "process spawn floor: hyperfine runs /bin/true in %s here; every hyperfine cell includes it"
        % floor
    )
nixv = time_of("nixversion")
if nixv.ok():
    notes.append("for scale: `nix --version` (starting one Nix process) takes %s here" % nixv)
data = load("idle.dwell")
if data and data.get("kind") == "batches":
    noop = [us / calls / 1e6 for us, calls in data.get("noop", [])]
    calls = sum(c for _, c in data["batches"])
    notes.append(
        "idle prompt: %d calls of __dwell_hook in one bash, %d took the slow path (forked);"
        " an empty bash function costs %s per call in the same loop"
        % (calls, data.get("forks", 0), fmt_time(statistics.median(noop)) if noop else "?")
    )
for sh in ("fish", "elvish", "xonsh", "nu"):
    data = load("idle.dwell." + sh)
    if data and data.get("kind") == "batches":
        noop = [us / calls / 1e6 for us, calls in data.get("noop", [])]
        notes.append(
            "idle prompt in %s: %d calls of dwell's hook, %d took the slow path (ran dwell);"
            " an empty %s function costs %s per call in the same loop"
            % (sh, sum(c for _, c in data["batches"]), data.get("forks", 0), sh,
               fmt_time(statistics.median(noop)) if noop else "?")
        )
data = load("idlehook.direnv")
if data and data.get("kind") == "batches":
    notes.append(
        "direnv's _direnv_hook in-process: %d calls, %d ran direnv (it runs it on every prompt)"
        % (sum(c for _, c in data["batches"]), data.get("forks", 0))
    )
if "direnv" in PEERS:
    notes.append(
        "direnv is stock direnv: `use nix` runs nix-shell and `use flake` runs nix print-dev-env"
        " on every entry (it caches nothing across entries); the venv project adds"
        " VIRTUAL_ENV and PATH_add .venv/bin. Without a daemon, its fresh-daemon cells repeat"
        " its cached-entry ones, and both single-flight rows show one measurement."
    )
data = load("large.inputs")
if data:
    notes.append("large project: dwell recorded %s of the 500 imported files as inputs" % data.get("inputs"))
data = load("first.info")
if data:
    notes.append(
        "first evaluation: %s fresh copies per tool (new directory, new derivation);"
        " dwell evaluated %s times (its shellHook runs)"
        % (data.get("copies"), data.get("evaluations"))
    )
data = load("rss")
if data and data.get("kind") == "rss_kb":
    notes.append(
        "daemon: %.1f MiB RSS after its first project, %.1f MiB after %s (peak %.1f MiB, %s threads);"
        " the projects are tiny shell.nix projects sharing one derivation, each evaluated"
        " (%s for the %s entries)"
        % (
            data["start_kb"] / 1024,
            data["value"] / 1024,
            data["projects"],
            data["hwm_kb"] / 1024,
            data["threads"],
            fmt_time(data["serve_us"] / 1e6),
            int(data["projects"]) - 1,
        )
    )
data = load("cpu")
if data and data.get("kind") == "cpu_ms":
    notes.append("daemon CPU: utime+stime over %s s of idling, in %s ms clock ticks" % (data["seconds"], data["tick_ms"]))
sv = time_of("save.eval")
if time_of("save.dwell").ok():
    notes.append(
        "save → ready: from the write until `dwell status` reports the new generation fresh:"
        " the daemon notices the change, waits for the edits to settle (debounce),"
        " evaluates (%s of it, by dwell's own account) and captures the environment;"
        " the nix cell is `nix print-dev-env` alone on an equally edited copy" % sv
    )
for name, label in [("flight.dwell", "daemon running"), ("flightcold.dwell", "daemon not running")]:
    data = load(name)
    if data and data.get("kind") == "count":
        notes.append(
            "single flight (%s): %s shells, all done after %s"
            % (label, data["shells"], fmt_time(data["wall_us"] / 1e6))
        )
for name in sorted(os.listdir(RES)):
    if name.endswith(".json"):
        data = load(name[:-5])
        if isinstance(data, dict) and data.get("kind") == "error":
            notes.append("%s: %s" % (name[:-5], data.get("message")))
notes += META.get("notes", [])

print()
for n in notes:
    print("- " + n)
