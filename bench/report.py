#!/usr/bin/env python3
"""Turns bench/run.sh's raw measurements into the side-by-side table and its JSON.

  report.py RAW.tsv NOTES.tsv OUT.json RUNS

RAW.tsv lines: system <TAB> metric <TAB> unit <TAB> value (one line per run; systems are
chunkfs, moosefs, local). Every figure is the median of its runs. NOTES.tsv lines:
system <TAB> text (why a column is empty, how a figure was obtained). Ratios are plain
quotients chunkfs/other of the medians; for memory (unit B/file) lower is better.
"""
import json
import statistics
import sys

SYSTEMS = ["chunkfs", "moosefs", "local"]


def fmt(v):
    if v is None:
        return "-"
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def main(argv):
    raw, notes_path, out, runs = argv[1], argv[2], argv[3], argv[4]
    metrics = []
    units = {}
    values = {}
    with open(raw) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 4:
                continue
            system, metric, unit, value = parts
            if metric not in units:
                metrics.append(metric)
                units[metric] = unit
            values.setdefault((system, metric), []).append(float(value))
    notes = []
    try:
        with open(notes_path) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t", 1)
                if len(parts) == 2:
                    notes.append({"system": parts[0], "note": parts[1]})
    except FileNotFoundError:
        pass

    rows = []
    for m in metrics:
        row = {"metric": m, "unit": units[m]}
        for s in SYSTEMS:
            v = values.get((s, m))
            row[s] = statistics.median(v) if v else None
            row[s + "_runs"] = len(v) if v else 0
        c, mo, lo = row["chunkfs"], row["moosefs"], row["local"]
        row["chunkfs_over_moosefs"] = c / mo if c is not None and mo else None
        row["chunkfs_over_local"] = c / lo if c is not None and lo else None
        rows.append(row)

    head = ["metric", "unit", "chunkfs", "MooseFS", "local", "chunkfs/MooseFS", "chunkfs/local"]
    table = [head]
    for r in rows:
        table.append([r["metric"], r["unit"], fmt(r["chunkfs"]), fmt(r["moosefs"]),
                      fmt(r["local"]), fmt(r["chunkfs_over_moosefs"]),
                      fmt(r["chunkfs_over_local"])])
    widths = [max(len(t[i]) for t in table) for i in range(len(head))]
    print("Median of %s run(s) per figure (memory rows: one measurement)." % runs)
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for t in table[1:]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(t, widths)) + " |")
    for n in notes:
        print("note (%s): %s" % (n["system"], n["note"]))
    with open(out, "w") as f:
        json.dump({"runs": int(runs), "rows": rows, "notes": notes}, f, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
