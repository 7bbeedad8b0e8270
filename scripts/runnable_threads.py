#!/usr/bin/env python3
"""How many of a command's threads are runnable, sampled every few milliseconds.

    python3 scripts/runnable_threads.py [--interval S] [--timeline FILE] COMMAND ARGS...

Runs COMMAND and, until it exits, reads the state of each of its threads
(/proc/PID/task/*/stat, Linux only): the fraction of samples with 0, 1, 2, … threads
in state R (running or waiting for a core). Unlike wall time it does not depend on
what else the machine runs: ≥ 2 runnable threads means the process would keep two idle
cores busy (docs/BENCHMARKS.md, issue #19, session 12). --timeline writes
"seconds<TAB>runnable" per sample, to pick out a phase of the run. Standard library only.
"""
import argparse
import collections
import os
import subprocess
import sys
import time


def runnable(pid):
    """Threads of `pid` in state R (0 once it is gone)."""
    count = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The state follows the command name in parentheses, which may itself contain spaces.
        if stat[stat.rindex(")") + 2] == "R":
            count += 1
    return count


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=0.002, help="seconds between samples")
    parser.add_argument("--timeline", help="write seconds<TAB>runnable per sample here")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if not args.command:
        parser.error("no command given")
    child = subprocess.Popen(args.command, stdout=subprocess.DEVNULL)
    start = time.time()
    samples = []
    while child.poll() is None:
        samples.append((time.time() - start, runnable(child.pid)))
        time.sleep(args.interval)
    if not samples:
        print("error: the command exited before the first sample", file=sys.stderr)
        return 1
    histogram = collections.Counter(n for _, n in samples)
    print(f"exit {child.returncode}, {len(samples)} samples over {time.time() - start:.1f} s, "
          f"mean {sum(n for _, n in samples) / len(samples):.2f} runnable")
    for n in sorted(histogram):
        print(f"{n} runnable: {histogram[n] / len(samples):.3f}")
    if args.timeline:
        with open(args.timeline + ".tmp", "w") as f:
            f.writelines(f"{t:.4f}\t{n}\n" for t, n in samples)
        os.replace(args.timeline + ".tmp", args.timeline)
    return 0 if child.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
