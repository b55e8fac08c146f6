#!/usr/bin/env python3
"""bench/report.py RESULTS PEER PROFILE OUTDIR - called by bench/report.sh.

Reads sutra's benchmark JSON lines (RESULTS), LangGraph.js's measured on the
same machine (PEER, optional) and a callgrind summary (PROFILE, optional);
writes OUTDIR/REPORT.md and OUTDIR/per-step.svg, and copies the inputs to
OUTDIR/report-*.jsonl and OUTDIR/report-profile.txt, to rebuild it from.
Each figure is shown beside its target (from the issues) and the peer's.
Hand-written profile notes in bench/profile-notes.md are included verbatim.
"""
import datetime
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# LangGraph.js 1.7 as quoted in the issues (measured earlier on this
# machine type), beside what bench/peer.sh measures now.
QUOTED = {
    "step_none_us": "~300",
    "step_sqlite_us": "320–640",
    "step_1000_us": "2,900",
    "first_result_ms": "278",
    "rss_mib": "83",
}


def load(path):
    recs = []
    if path and os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        recs.append(json.loads(line))
                    except ValueError:
                        pass
    return recs


class Data:
    def __init__(self, recs):
        self.recs = recs

    def value(self, bench, field, **match):
        """Median of `field` over the records of `bench` matching `match`."""
        xs = [r[field] for r in self.recs
              if r.get("bench") == bench and field in r
              and isinstance(r[field], (int, float))
              and all(r.get(k) == v for k, v in match.items())]
        return statistics.median(xs) if xs else None

    def has(self, bench):
        return any(r.get("bench") == bench for r in self.recs)


def fmt(x, unit=""):
    if x is None:
        return "—"
    if x == 0:
        s = "0"
    elif abs(x) >= 100:
        s = f"{x:,.0f}"
    elif abs(x) >= 10:
        s = f"{x:.1f}"
    elif abs(x) >= 1:
        s = f"{x:.2f}"
    else:
        s = f"{x:.3f}"
    return s + (" " + unit if unit else "")


def met(x, limit, cpu=None):
    """Judged on wall time; when that misses but the CPU time (which leaves
    out waiting for a core on a busy machine) meets, both are said."""
    if x is None:
        return "not measured"
    if x <= limit:
        return "met"
    if cpu is not None and cpu <= limit:
        return "**missed** (CPU time: met)"
    return "**missed**"


def ratio(peer, ours):
    if peer is None or ours is None or ours <= 0:
        return "—"
    return f"{peer / ours:,.0f}×"


def machine(peer):
    info = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["cores"] = os.cpu_count()
    info["kernel"] = platform.release()
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    info["os"] = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    info["load"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    src = os.environ.get("SUTRA_SRCDIR", os.path.dirname(HERE))
    try:
        info["commit"] = subprocess.run(
            ["git", "-C", src, "describe", "--always", "--dirty"],
            capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        info["commit"] = "unknown"
    for r in peer.recs:
        if r.get("node"):
            info["node"] = r["node"]
            info["langgraph"] = r.get("langgraph")
            break
    return info


def load_note(d, p, m):
    """The 1-minute load averages recorded after each round (bench/load.sh):
    on a shared machine they say how far the timings can be trusted."""
    def loads(data):
        return [r["load1"] for r in data.recs if r.get("bench") == "meta.load"]
    ours, theirs = loads(d), loads(p)
    if not ours and not theirs:
        return f"load average at report time {m.get('load')}"
    parts = []
    if ours:
        parts.append(f"after the sutra rounds {', '.join(map(str, ours))}")
    if theirs:
        parts.append(f"after the LangGraph.js cases {', '.join(map(str, theirs))}")
    cores = m.get("cores") or 1
    busy = max(ours + theirs) > cores
    return ("1-minute load average " + "; ".join(parts) +
            (f" — **more runnable processes than the {cores} cores: other "
             f"work shared the machine, so wall times are inflated** (CPU "
             f"times less so)" if busy else ""))


# ---------------------------------------------------------------- the plot

def svg_plot(series, targets, path):
    """Log-log plot of per-step µs against chain length.  series: list of
    (label, colour, dashed, [(n, us)]); targets: [(us, label)]."""
    W, H, L, R, T, B = 760, 460, 70, 230, 40, 50
    pts = [p for s in series for p in s[3] if p[1] and p[1] > 0]
    if not pts:
        return False
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts] + [t[0] for t in targets]
    x0, x1 = math.floor(math.log10(min(xs))), math.ceil(math.log10(max(xs)))
    y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    x1 = max(x1, x0 + 1)
    y1 = max(y1, y0 + 1)
    pw, ph = W - L - R, H - T - B

    def X(n):
        return L + (math.log10(n) - x0) / (x1 - x0) * pw

    def Y(us):
        return T + ph - (math.log10(us) - y0) / (y1 - y0) * ph

    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
         f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{L + pw / 2}" y="22" text-anchor="middle" '
         f'font-size="15">Per-step cost against chain length</text>']
    for e in range(y0, y1 + 1):
        y = Y(10 ** e)
        o.append(f'<line x1="{L}" y1="{y:.1f}" x2="{L + pw}" y2="{y:.1f}" '
                 f'stroke="#ddd"/>')
        lab = f"{10 ** e:g}"
        o.append(f'<text x="{L - 6}" y="{y + 4:.1f}" text-anchor="end">'
                 f'{lab}</text>')
    for e in range(x0, x1 + 1):
        x = X(10 ** e)
        o.append(f'<line x1="{x:.1f}" y1="{T}" x2="{x:.1f}" y2="{T + ph}" '
                 f'stroke="#ddd"/>')
        o.append(f'<text x="{x:.1f}" y="{T + ph + 18}" text-anchor="middle">'
                 f'{10 ** e:,}</text>')
    o.append(f'<rect x="{L}" y="{T}" width="{pw}" height="{ph}" fill="none" '
             f'stroke="#333"/>')
    o.append(f'<text x="{L + pw / 2}" y="{H - 10}" text-anchor="middle">'
             f'steps in the chain (log)</text>')
    o.append(f'<text x="16" y="{T + ph / 2}" text-anchor="middle" '
             f'transform="rotate(-90 16 {T + ph / 2})">'
             f'µs per step (log)</text>')
    for us, label in targets:
        y = Y(us)
        o.append(f'<line x1="{L}" y1="{y:.1f}" x2="{L + pw}" y2="{y:.1f}" '
                 f'stroke="#999" stroke-dasharray="2,4"/>')
        o.append(f'<text x="{L + pw - 4}" y="{y - 4:.1f}" text-anchor="end" '
                 f'fill="#777" font-size="10">{label}</text>')
    ly = T + 8
    for label, colour, dashed, data in series:
        data = [p for p in data if p[1] and p[1] > 0]
        if not data:
            continue
        dash = ' stroke-dasharray="6,4"' if dashed else ""
        path_d = " ".join(f"{'M' if i == 0 else 'L'}{X(n):.1f},{Y(us):.1f}"
                          for i, (n, us) in enumerate(data))
        o.append(f'<path d="{path_d}" fill="none" stroke="{colour}" '
                 f'stroke-width="2"{dash}/>')
        for n, us in data:
            o.append(f'<circle cx="{X(n):.1f}" cy="{Y(us):.1f}" r="3.5" '
                     f'fill="{colour}"><title>{label}: {n} steps, '
                     f'{us:.3g} µs/step</title></circle>')
        lx = L + pw + 14
        o.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 24}" y2="{ly}" '
                 f'stroke="{colour}" stroke-width="2"{dash}/>')
        o.append(f'<text x="{lx + 30}" y="{ly + 4}">{label}</text>')
        ly += 20
    o.append("</svg>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(o) + "\n")
    return True


# -------------------------------------------------------------- the report

def summary(d, p):
    """Rows: (figure, sutra, target, met, peer here, peer quoted)."""
    rows = []

    def row(fig, x, unit, limit, peer_here=None, quoted="", limit_text=None,
            cpu=None):
        shown = fmt(x, unit)
        if cpu is not None and x is not None:
            shown += f" (CPU {fmt(cpu)})"
        rows.append((fig, shown,
                     limit_text or f"≤ {fmt(limit, unit)}",
                     met(x, limit, cpu), peer_here or "—", quoted or "—"))

    row("Lua agent call, in process", d.value("agent.lua_call", "per_call_us"),
        "µs", 2, cpu=d.value("agent.lua_call", "per_call_cpu_us"))
    row("C plugin agent call, in process",
        d.value("agent.plugin_call", "per_call_us"), "µs", 1,
        cpu=d.value("agent.plugin_call", "per_call_cpu_us"))
    for n in (10, 100, 1000, 10000):
        ph = p.value("peer.langgraph.seq", "warm_us_per_task", n=n,
                     saver="none")
        row(f"Sequential chain, {n} steps, no checkpoints: per step",
            d.value("chain.seq", "per_step_us", steps=n), "µs", 3,
            fmt(ph, "µs"), (QUOTED["step_none_us"] + " µs"),
            cpu=d.value("chain.seq", "per_step_cpu_us", steps=n))
    seq = [d.value("chain.seq", "per_step_us", steps=n)
           for n in (100, 1000, 10000)]
    seq = [x for x in seq if x]
    seq_cpu = [d.value("chain.seq", "per_step_cpu_us", steps=n)
               for n in (100, 1000, 10000)]
    seq_cpu = [x for x in seq_cpu if x]
    if seq:
        spread = max(seq) / min(seq)
        spread_cpu = max(seq_cpu) / min(seq_cpu) if seq_cpu else None
        rows.append(("… flat with N: largest / smallest per-step cost, "
                     "100 to 10,000 steps",
                     f"{spread:.2f}×" + (f" (CPU {spread_cpu:.2f}×)"
                                         if spread_cpu else ""),
                     "≤ 1.5×", met(spread, 1.5, spread_cpu), "—", "—"))
    for mode, limit in (("sync", 15), ("batch", 5)):
        for n in (10, 100, 1000, 10000):
            ph = None
            if mode == "sync":
                ph = p.value("peer.langgraph.seq", "warm_us_per_task", n=n,
                             saver="sqlite", durability="sync")
            else:
                ph = p.value("peer.langgraph.seq", "warm_us_per_task", n=n,
                             saver="sqlite", durability="async")
            q = QUOTED["step_sqlite_us"] + " µs"
            if n == 1000:
                q += "; 2,900 µs at 1000 steps"
            row(f"Checkpointed chain ({mode}), {n} steps: per step",
                d.value("chain.seq_durable", "per_step_us", durability=mode,
                        steps=n), "µs", limit,
                fmt(ph, "µs") + (" (SQLite, " +
                                 ("sync" if mode == "sync" else "async") +
                                 ")" if ph is not None else ""), q,
                cpu=d.value("chain.seq_durable", "per_step_cpu_us",
                            durability=mode, steps=n))
    row("Loop, 1000 iterations: per iteration",
        d.value("chain.loop", "per_iteration_us"), "µs", 5,
        (lambda v: fmt(v, "µs") + " (cond 1000)" if v is not None
         else None)(p.value("peer.langgraph.cond", "warm_us_per_task",
                            n=1000)),
        cpu=d.value("chain.loop", "per_iteration_cpu_us"))
    par = d.value("chain.parallel_sleep", "total_ms")
    pp = p.value("peer.langgraph.par", "warm_ms_median", n=100,
                 saver="none")
    row("Parallel, 100 branches sleeping 10 ms: total", par, "ms", 30,
        (fmt(pp, "ms") + " for 100 branches that do not sleep")
        if pp is not None else None)
    pw = p.value("peer.langgraph.process_seq10", "wall_ms", saver="none")
    pf = p.value("peer.langgraph.process_seq10", "first_result_ms",
                 saver="none")
    pr = p.value("peer.langgraph.process_seq10", "peak_rss_kb", saver="none")
    row("Whole process `sutra agent run echo`: wall",
        d.value("process.agent_run_echo", "wall_ms"), "ms", 5,
        cpu=d.value("process.agent_run_echo", "cpu_ms"))
    pc = p.value("peer.langgraph.process_seq10", "cpu_ms", saver="none")
    row("Whole process `sutra run`, 10 steps: wall (start to result)",
        d.value("process.run_10_steps", "wall_ms"), "ms", 5,
        (f"{fmt(pw, 'ms')} wall (CPU {fmt(pc)}), {fmt(pf, 'ms')} to first "
         f"result" if pw is not None else None),
        QUOTED["first_result_ms"] + " ms",
        cpu=d.value("process.run_10_steps", "cpu_ms"))
    rss10 = d.value("process.run_10_steps", "peak_rss_kb")
    row("Whole process `sutra run`, 10 steps: peak RSS",
        rss10 / 1024 if rss10 else None, "MiB", 10,
        fmt(pr / 1024, "MiB") if pr else None, QUOTED["rss_mib"] + " MiB")
    rss1k = d.value("process.run_1000_steps", "peak_rss_kb")
    row("Whole process `sutra run`, 1000 steps: peak RSS",
        rss1k / 1024 if rss1k else None, "MiB", 20)
    row("Memory set (committed)", d.value("memory.set", "per_call_us"),
        "µs", 10)
    row("Memory get", d.value("memory.get", "per_call_us"), "µs", 2)
    # The floors the issue states its targets against, measured with bare
    # SQLite in the same run: how much slower this machine is than the
    # issue's, for reading the rows above.
    for field, what, issue in (
            ("insert_autocommit_us", "autocommit insert", "~6 µs"),
            ("insert_in_tx_us", "insert inside a transaction", "~0.5 µs"),
            ("select_autocommit_us", "autocommit select by a text key",
             None)):
        x = d.value("sqlite.floor", field)
        if x is None:
            continue
        rows.append((f"Floor, bare SQLite (no sutra code): {what}",
                     fmt(x, "µs"),
                     f"issue's machine: {issue}" if issue else "—",
                     "floor", "—", "—"))
    row("LLM client overhead per call (non-streaming, beyond the server)",
        d.value("llm.call_overhead", "median_us"), "µs", 300)
    conns = d.value("llm.connections", "connections")
    rows.append(("LLM connection reuse: TCP connects for the sequential "
                 "calls", fmt(conns), "1", met(conns, 1), "—", "—"))
    row("32 concurrent LLM calls, server takes 100 ms: total",
        d.value("llm.parallel_32", "total_ms"), "ms", 150)
    sb = d.value("sandbox.true", "overhead_us")
    row("Sandbox overhead over bare fork+exec (/bin/true), on a ready "
        "spare of the warm pool",
        sb / 1000 if sb is not None else None, "ms", 1)
    sbc = d.value("sandbox.true_cold", "overhead_us")
    row("Sandbox overhead over bare fork+exec (/bin/true), cold (pool "
        "off: the run builds its namespaces)",
        sbc / 1000 if sbc is not None else None, "ms", 1)
    cli = d.value("sandbox.cli_true", "median_us")
    row("Whole `sutra sandbox run -- /bin/true`",
        cli / 1000 if cli is not None else None, "ms", 5)
    pyc = d.value("sandbox.python_cold", "overhead_us")
    row("`python3 -c pass` under the python profile, cold: over bare",
        pyc / 1000 if pyc is not None else None, "ms", 2)
    py = d.value("sandbox.python", "overhead_us")
    row("`python3 -c pass` under the python profile, on a ready spare: "
        "over bare",
        py / 1000 if py is not None else None, "ms", 2)
    if py is not None and py < 0:
        rows[-1] = (rows[-1][0], rows[-1][1] + " (below the bare run: "
                    "noise larger than the overhead)") + rows[-1][2:]
    row("Isolated plugin agent call: overhead over in process",
        d.value("isolation.plugin_call", "overhead_us"), "µs", 50)
    row("`sutra agent list`, 500 installed packages",
        d.value("process.agent_list_500_packages", "wall_ms"), "ms", 50)
    return rows


def table(head, rows):
    out = ["| " + " | ".join(head) + " |",
           "|" + "|".join("---" if i == 0 else "---:"
                          for i in range(len(head))) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return out


def per_step_section(d, p, outdir):
    ns = (10, 100, 1000, 10000)
    sutra = {
        "none": [(n, d.value("chain.seq", "per_step_us", steps=n))
                 for n in ns],
        "sync": [(n, d.value("chain.seq_durable", "per_step_us",
                             durability="sync", steps=n)) for n in ns],
        "batch": [(n, d.value("chain.seq_durable", "per_step_us",
                              durability="batch", steps=n)) for n in ns],
    }
    peer = {
        "none": [(n, p.value("peer.langgraph.seq", "warm_us_per_task", n=n,
                             saver="none")) for n in ns],
        "async": [(n, p.value("peer.langgraph.seq", "warm_us_per_task", n=n,
                              saver="sqlite", durability="async"))
                  for n in ns],
        "sync": [(n, p.value("peer.langgraph.seq", "warm_us_per_task", n=n,
                             saver="sqlite", durability="sync")) for n in ns],
    }
    out = ["## Per-step cost against chain length", "",
           "Trivial steps (sutra: the Lua `echo` agent; LangGraph.js: a node "
           "that returns `count + 1`). sutra's figure is (run − run of a "
           "1-step chain) / (N − 1), median of repeated runs in one process; "
           "the peer's is its warm median invoke / N in a fresh process per "
           "case (`node bench.mjs seq N`).", ""]
    cpu_none = [d.value("chain.seq", "per_step_cpu_us", steps=n) for n in ns]
    rows = []
    for i, n in enumerate(ns):
        rows.append((f"{n:,}", fmt(sutra["none"][i][1]), fmt(cpu_none[i]),
                     fmt(sutra["sync"][i][1]), fmt(sutra["batch"][i][1]),
                     fmt(peer["none"][i][1]), fmt(peer["async"][i][1]),
                     fmt(peer["sync"][i][1]),
                     ratio(peer["none"][i][1], sutra["none"][i][1]),
                     ratio(peer["sync"][i][1], sutra["sync"][i][1])))
    out += table(["steps", "sutra, no checkpoints (µs)",
                  "… its thread CPU (µs)", "sutra, sync (µs)",
                  "sutra, batch (µs)", "LangGraph.js, no saver (µs)",
                  "LangGraph.js, SQLite async (µs)",
                  "LangGraph.js, SQLite sync (µs)",
                  "peer/sutra, none", "peer/sutra, sync"], rows)
    preempted = [n for i, n in enumerate(ns) if sutra["none"][i][1] and
                 cpu_none[i] and sutra["none"][i][1] > 1.3 * cpu_none[i]]
    if preempted:
        out += ["", "Where the wall time per step is well above the thread's "
                "CPU time (" + ", ".join(f"{n:,}" for n in preempted) +
                " steps), the run was long enough to be preempted by the "
                "machine's other work: the CPU column is the chain's own "
                "cost there."]
    bytes_ = [d.value("chain.seq_durable", "db_bytes_per_step",
                      durability=m, steps=1000) for m in ("sync", "batch")]
    if any(b is not None for b in bytes_):
        out += ["", f"Database growth per checkpointed step at 1000 steps: "
                f"{fmt(bytes_[0])} B (sync), {fmt(bytes_[1])} B (batch)."]
    series = [("sutra, no checkpoints", "#1f77b4", False, sutra["none"]),
              ("… its thread CPU", "#aec7e8", False,
               list(zip(ns, cpu_none))),
              ("sutra, sync", "#2ca02c", False, sutra["sync"]),
              ("sutra, batch", "#17becf", False, sutra["batch"]),
              ("LangGraph.js, none", "#d62728", True, peer["none"]),
              ("LangGraph.js, SQLite async", "#ff7f0e", True,
               peer["async"]),
              ("LangGraph.js, SQLite sync", "#9467bd", True, peer["sync"])]
    targets = [(3, "target 3 µs (none)"), (5, "5 µs (batch)"),
               (15, "15 µs (sync)")]
    if svg_plot(series, targets, os.path.join(outdir, "per-step.svg")):
        out += ["", "![per-step cost against chain length](per-step.svg)",
                "", "Solid: sutra; dashed: LangGraph.js on the same machine; "
                "dotted: sutra's targets. Both axes are logarithmic."]
    return out


def process_section(d, p):
    out = ["## Whole processes", "",
           "sutra: `posix_spawn` to exit, median; CPU is the child's "
           "user + system time (robust to a busy machine, where wall time "
           "also measures the neighbours); RSS is the largest `ru_maxrss`. LangGraph.js: `node bench.mjs seq 10 --reps 0` "
           "(import, build, one invoke, exit), median over fresh processes; "
           "`first result` is the peer's own `performance.now()` at the "
           "first result.", ""]
    rows = []
    for name, label in (("agent_run_echo", "`sutra agent run echo`"),
                        ("run_10_steps", "`sutra run` 10 steps"),
                        ("run_1000_steps", "`sutra run` 1000 steps")):
        w = d.value("process." + name, "wall_ms")
        c = d.value("process." + name, "cpu_ms")
        r = d.value("process." + name, "peak_rss_kb")
        rows.append((label, fmt(w, "ms"), fmt(c, "ms"),
                     fmt(r / 1024 if r else None, "MiB")))
    for saver in ("none", "sqlite"):
        w = p.value("peer.langgraph.process_seq10", "wall_ms", saver=saver)
        if w is None:
            continue
        f = p.value("peer.langgraph.process_seq10", "first_result_ms",
                    saver=saver)
        c = p.value("peer.langgraph.process_seq10", "cpu_ms", saver=saver)
        r = p.value("peer.langgraph.process_seq10", "peak_rss_kb",
                    saver=saver)
        rows.append((f"LangGraph.js seq 10, saver {saver}",
                     f"{fmt(w, 'ms')} (first result {fmt(f, 'ms')})",
                     fmt(c, "ms"), fmt(r / 1024, "MiB")))
    bare = p.value("peer.langgraph.process_seq10", "node_bare_ms")
    if bare is not None:
        rows.append(("bare `node -e 0`, for scale", fmt(bare, "ms"), "—",
                     "—"))
    rows.append(("LangGraph.js as quoted in the issue",
                 QUOTED["first_result_ms"] + " ms to first result", "—",
                 QUOTED["rss_mib"] + " MiB"))
    return out + table(["process", "wall (median)",
                        "CPU, user + system (median)", "peak RSS"], rows)


def peer_section(p):
    rows = []
    for r in p.recs:
        b = r.get("bench", "")
        if not b.startswith("peer.langgraph.") or "warm_ms_median" not in r:
            continue
        rows.append((r.get("case"), r.get("n"), r.get("saver"),
                     r.get("durability") or "—", fmt(r.get("first_ms")),
                     fmt(r.get("warm_ms_median")),
                     fmt(r.get("warm_us_per_task")),
                     fmt(r["warm_cpu_ms_median"] * 1000 / r["tasks"]
                         if r.get("warm_cpu_ms_median") and r.get("tasks")
                         else None),
                     fmt(r.get("warm_us_per_superstep")),
                     r.get("checkpoints_written") if r.get(
                         "checkpoints_written") is not None else "—",
                     fmt(r.get("rss_peak_kb", 0) / 1024)))
    if not rows:
        return ["## LangGraph.js on this machine", "",
                "Not measured in this run (`make bench-peer` needs node and "
                "npm; see bench/peer.sh)."]
    return ["## LangGraph.js on this machine", "",
            "Every case of bench/peer.sh, one fresh `node` process each "
            "(`--reps auto`). CPU is the process's user + system time over "
            "the warm invoke (V8's GC and compiler threads can make it exceed "
            "wall time).", ""] + table(
        ["case", "N", "saver", "durability", "first invoke (ms)",
         "warm invoke (ms)", "µs/task", "CPU µs/task", "µs/superstep",
         "checkpoints",
         "peak RSS (MiB)"], rows)


def other_section(d):
    """The LLM and sandbox lines in full, each field the median over the
    rounds."""
    names = []
    for r in d.recs:
        b = r.get("bench", "")
        if b.startswith(("sandbox.", "llm.")) and b not in names:
            names.append(b)
    rows = []
    for b in names:
        fields = []
        for r in d.recs:
            if r.get("bench") == b:
                fields += [k for k in r if k != "bench" and k not in fields]
        rounds = sum(1 for r in d.recs if r.get("bench") == b)
        rows.append((f"`{b}`", rounds, ", ".join(
            f"{k}={fmt(d.value(b, k))}" for k in fields)))
    return ["## Other figures", "",
            "The LLM client and sandbox benchmarks, each field the median over "
            "the rounds.", ""] + table(["benchmark", "rounds", "fields"],
                                        rows)


def floor_section(d):
    """The durable figures as multiples of this machine's SQLite floor,
    beside the multiple the issue's target allows over the floor it
    quotes for its own machine."""
    auto = d.value("sqlite.floor", "insert_autocommit_us")
    intx = d.value("sqlite.floor", "insert_in_tx_us")
    if not auto or not intx:
        return []
    rows = []

    def row(fig, x, floor, floor_name, target, issue_floor):
        if x is None:
            return
        allowed = target / issue_floor
        rows.append((fig, f"{fmt(x, 'µs')} = {x / floor:.2f}× {floor_name}",
                     f"≤ {allowed:.2f}× ({fmt(target, 'µs')} over "
                     f"~{fmt(issue_floor, 'µs')})",
                     "met" if x / floor <= allowed else "**missed**"))

    for mode, target, floor, name, issue in (
            ("sync", 15, auto, "the autocommit insert", 6),
            ("batch", 5, intx, "the insert in a transaction", 0.5)):
        for n in (10, 100, 1000, 10000):
            row(f"Checkpointed chain ({mode}), {n} steps: per step",
                d.value("chain.seq_durable", "per_step_us",
                        durability=mode, steps=n), floor, name, target, issue)
    row("Memory set (committed)", d.value("memory.set", "per_call_us"),
        auto, "the autocommit insert", 10, 6)
    if not rows:
        return []
    return ["## The durable figures against this machine's SQLite floor", "",
            "The issue sets its durable targets beside the floor of its own "
            "machine: one SQLite insert in WAL mode with synchronous=NORMAL, "
            "~6 µs in autocommit, ~0.5 µs inside a transaction. The same "
            "floors, measured with bare SQLite in the same rounds "
            "(`sqlite.floor`), were "
            f"{fmt(auto, 'µs')} and {fmt(intx, 'µs')} here (medians over the "
            "rounds; they move by 2× from one hour to the next on this "
            "shared machine). This table divides each figure by this "
            "machine's floor and sets it beside the multiple the target "
            "allows over the issue's floor. It does not replace the summary, "
            "whose verdicts are on absolute time.", ""] + table(
        ["figure", "sutra, over this machine's floor",
         "target, over the issue's floor", "met?"], rows)


def main():
    results, peer_path, profile, outdir = sys.argv[1:5]
    d, p = Data(load(results)), Data(load(peer_path))
    m = machine(p)
    now = datetime.datetime.now(datetime.timezone.utc)
    out = ["# sutra benchmark report", "",
           "Generated by `bench/report.sh` from the JSON lines of `make bench` "
           "(report-results.jsonl) and `make bench-peer` (report-peer.jsonl); "
           "regenerate with `make bench-report`. Do not edit by hand: "
           "hand-written analysis lives in bench/profile-notes.md.", "",
           f"- Machine: {m.get('cpu', '?')}, {m.get('cores')} cores, "
           f"{m.get('os', '?')}, Linux {m.get('kernel')}; "
           f"{load_note(d, p, m)}",
           f"- sutra {m.get('commit')}, report of "
           f"{now.strftime('%Y-%m-%d %H:%M UTC')}"]
    if m.get("node"):
        out.append(f"- Peer: LangGraph.js {m.get('langgraph')} on Node.js "
                   f"{m.get('node')}, measured in the same session")
    out += ["", "## Summary: each figure against its target and the peer", "",
            "Targets are the issues' (#2–#7) and are judged on wall time, "
            "median of repeated runs. In brackets, the CPU time of the same "
            "work (in process, the calling thread's CPU, or the whole "
            "process's for checkpointed chains, whose batch mode writes on "
            "a thread of its own; user + system for whole processes): on a "
            "shared machine it leaves out the time spent "
            "waiting for a core. \"LangGraph.js here\" is measured by "
            "bench/peer.sh on this machine (wall, warm median invoke / "
            "tasks); \"quoted\" is the figure the issues cite. \"Flat with "
            "N\" is read as: the per-step cost at 100, 1,000 and 10,000 "
            "steps within 1.5× of each other.", ""]
    bare = p.value("peer.langgraph.process_seq10", "node_bare_ms")
    if bare is not None:
        out += ["The peer ran under the same conditions: a bare `node -e 0` "
                f"took {fmt(bare, 'ms')} here, so where the machine was busy "
                "the side-by-side ratios carry over better than the absolute "
                "figures (the issues' quoted LangGraph.js figures were "
                "measured at another time).", ""]
    rows = summary(d, p)
    out += table(["figure", "sutra: wall (CPU)", "target", "met?",
                  "LangGraph.js here",
                  "LangGraph.js quoted"], rows)
    n_met = sum(1 for r in rows if r[3] == "met")
    n_miss = sum(1 for r in rows if "missed" in r[3])
    n_cpu = sum(1 for r in rows if "CPU time: met" in r[3])
    n_none = sum(1 for r in rows if r[3] == "not measured")
    out += ["", f"{n_met} met, {n_miss} missed ({n_cpu} of them met on CPU "
            f"time), {n_none} not measured yet.", ""]
    floors = floor_section(d)
    if floors:
        out += floors + [""]
    out += per_step_section(d, p, outdir) + [""]
    out += process_section(d, p) + [""]
    out += peer_section(p) + [""]
    out += other_section(d) + [""]
    out += ["## Profile", ""]
    notes = os.path.join(HERE, "profile-notes.md")
    if os.path.isfile(notes):
        with open(notes, encoding="utf-8") as f:
            out += [f.read().rstrip(), ""]
    if os.path.isfile(profile):
        with open(profile, encoding="utf-8") as f:
            text = f.read().rstrip()
        out += ["### Raw callgrind summary (bench/profile.sh)", "", "```",
                text, "```", ""]
        copy(profile, os.path.join(outdir, "report-profile.txt"))
    elif not os.path.isfile(notes):
        out += ["Not profiled in this run (`make bench-profile` needs "
                "valgrind).", ""]
    out += ["## Reproduce", "", "```",
            "make bench          # sutra: bench/results.jsonl",
            "make bench-peer     # LangGraph.js (node + npm): bench/peer.jsonl",
            "make bench-profile  # callgrind: bench/profile.txt",
            "make bench-report   # all of the above, then this file",
            "```", ""]
    with open(os.path.join(outdir, "REPORT.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(out))
    copy(results, os.path.join(outdir, "report-results.jsonl"))
    if p.recs:
        copy(peer_path, os.path.join(outdir, "report-peer.jsonl"))
    print(f"bench-report: wrote {os.path.join(outdir, 'REPORT.md')}: "
          f"{n_met} met, {n_miss} missed, {n_none} not measured",
          file=sys.stderr)


def copy(src, dst):
    if os.path.abspath(src) != os.path.abspath(dst):
        shutil.copyfile(src, dst)


if __name__ == "__main__":
    main()
