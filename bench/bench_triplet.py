"""Benchmark of the triplet loss at FaceNet's batch size, against a per-anchor Python loop.

FaceNet trains on batches of about 1,800 faces (here 45 people x 40 images) with 128-d
embeddings. For each mining mode ("random", "all", "semi-hard", "hard") this script times one
forward + backward pass of the training loss (`model.train.batch_loss`: the distances, the mode's
miner and `model.triplet`'s loss) on random L2-normalised float32 embeddings, and the same for a
plain reference written below: a Python loop over the anchors that works on one anchor's row of
the distance matrix at a time. It reports

* the median time over --repeats runs, after one warm-up run;
* the peak memory of one call: each (mode, implementation) runs once in a fresh child process
  (this script started again with hidden arguments), which reports how far its peak resident
  set size (`ru_maxrss`) rose above the resident set size just before the call;
* |loss difference| between the two (for "random" only that both are finite, as the negatives
  are drawn differently).

    python bench/bench_triplet.py              # B = 1,800, D = 128
    python bench/bench_triplet.py --quick      # B = 200 (5 x 40), 3 repeats: well under a minute
    python bench/bench_triplet.py --batch 900 --people 45 --threads 2 --repeats 7
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import torch

from model.train import MINERS, batch_loss
from model.triplet import squared_distances

MARGIN = 0.2


def print_machine() -> None:
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs, "
          f"python {platform.python_version()}, torch {torch.__version__}, {torch.get_num_threads()} torch threads")


def make_batch(batch: int, people: int, dim: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """L2-normalised random embeddings (batch, dim) that require grad, and P x K labels."""
    if batch % people:
        raise SystemExit(f"--batch ({batch}) must be a multiple of --people ({people})")
    g = torch.Generator().manual_seed(seed)
    e = torch.nn.functional.normalize(torch.randn(batch, dim, generator=g), dim=1)
    labels = torch.arange(people).repeat_interleave(batch // people)
    return e.requires_grad_(True), labels


# --------------------------------------------------------------------------------------------
# The reference: one anchor at a time
# --------------------------------------------------------------------------------------------


def loop_loss(e: torch.Tensor, labels: torch.Tensor, mining: str, margin: float = MARGIN) -> torch.Tensor:
    """The triplet loss computed anchor by anchor, straight from the definitions in model/triplet.py.

    It shares only the distance matrix with `batch_loss` (`squared_distances`, one matrix
    product), so the comparison is about choosing the triplets and summing their terms.
    """
    index = torch.arange(len(e))
    total, count = e.new_zeros((), dtype=torch.float64), 0
    for a, row in enumerate(squared_distances(e).unbind(0)):  # row = D[a, :]
        same = labels == labels[a]
        d_pos, d_neg = row[same & (index != a)], row[~same]
        if len(d_pos) == 0 or len(d_neg) == 0:
            continue
        if mining == "all":  # every (positive, negative) pair of this anchor; mean over active terms
            terms = torch.relu(d_pos[:, None] - d_neg[None, :] + margin)
            total, count = total + terms.sum(), count + int((terms > 0).sum())
            continue
        if mining == "hard":  # farthest positive, closest negative: one term per anchor
            terms = torch.relu(d_pos.max() - d_neg.min() + margin)[None]
        elif mining == "semi-hard":  # per positive: closest negative farther than it, else the farthest
            farther = d_neg[None, :] > d_pos[:, None]
            closest = torch.where(farther, d_neg[None, :], torch.inf).min(dim=1).values
            chosen = torch.where(farther.any(dim=1), closest, d_neg.max())
            terms = torch.relu(d_pos - chosen + margin)
        else:  # random: one uniformly drawn negative per positive
            terms = torch.relu(d_pos - d_neg[torch.randint(len(d_neg), (len(d_pos),))] + margin)
        total, count = total + terms.sum(), count + len(terms)
    return (total / count if count else total * 0.0).to(e.dtype)


IMPLEMENTATIONS = {
    "ours": lambda e, labels, mining: batch_loss(e, labels, MARGIN, mining).loss,
    "loop": loop_loss,
}


# --------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------


def forward_backward(impl: str, e: torch.Tensor, labels: torch.Tensor, mining: str) -> float:
    e.grad = None
    loss = IMPLEMENTATIONS[impl](e, labels, mining)
    loss.backward()
    return loss.detach().item()


def median_ms(impl: str, e: torch.Tensor, labels: torch.Tensor, mining: str, repeats: int) -> tuple[float, float]:
    """(median milliseconds of forward + backward over `repeats` runs after a warm-up, loss)."""
    loss = forward_backward(impl, e, labels, mining)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        forward_backward(impl, e, labels, mining)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times), loss


def current_rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def measure_peak(args) -> None:
    """Child process: one forward + backward; prints the rise of peak RSS over the RSS before it."""
    mining, impl = args.measure
    small_e, small_labels = make_batch(4 * 4, 4, args.dim, seed=1)
    forward_backward(impl, small_e, small_labels, mining)  # lazy one-time set-up, not counted
    e, labels = make_batch(args.batch, args.people, args.dim)
    before = current_rss_kb()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    forward_backward(impl, e, labels, mining)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    print(json.dumps({"peak_mb": max(peak - before, 0) / 1024, "earlier_peak_mb": max(peak_before - before, 0) / 1024}))


def peak_in_child(args, mining: str, impl: str) -> float:
    # Started through a forking shell: a child exec'd straight from this (large) process would
    # inherit its peak RSS in ru_maxrss; a process forked from the small shell starts near zero.
    cmd = ["sh", "-c", '"$@"; exit $?', "sh", sys.executable, __file__, "--measure", mining, impl, "--batch", str(args.batch),
           "--people", str(args.people), "--dim", str(args.dim), "--threads", str(args.threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    if result["earlier_peak_mb"] > result["peak_mb"]:  # the call's peak was hidden by an earlier one
        print(f"  note: {mining}/{impl}: an earlier peak ({result['earlier_peak_mb']:.1f} MB) exceeds the call's")
    return result["peak_mb"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=1800, help="B, images per batch (default 1800)")
    parser.add_argument("--people", type=int, default=45, help="P, people per batch (default 45)")
    parser.add_argument("--dim", type=int, default=128, help="embedding dimension D (default 128)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measurement (default 5)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--quick", action="store_true", help="B = 200 (5 people x 40), 3 repeats")
    parser.add_argument("--measure", nargs=2, metavar=("MODE", "IMPL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.people, args.repeats = 200, 5, 3
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.measure:
        return measure_peak(args)

    print_machine()
    B, D = args.batch, args.dim
    print(f"batch B = {B} ({args.people} people x {B // args.people} images), D = {D}, float32, margin {MARGIN}, "
          f"median of {args.repeats} runs after a warm-up; peak memory from a fresh process per cell")
    print(f"for scale: a B x B x B float32 tensor (every (a, p, n) at once) would need {B ** 3 * 4 / 1e9:,.3g} GB; "
          f"the B x B float64 distance matrix needs {B * B * 8 / 1e6:,.1f} MB\n")

    e, labels = make_batch(B, args.people, D)
    rows = []
    for mining in MINERS:
        ours_ms, ours_loss = median_ms("ours", e, labels, mining, args.repeats)
        loop_ms, loop_loss_value = median_ms("loop", e, labels, mining, args.repeats)
        if mining == "random":
            diff = "both finite" if math.isfinite(ours_loss) and math.isfinite(loop_loss_value) else "NOT FINITE"
        else:
            diff = f"{abs(ours_loss - loop_loss_value):.1e}"
        ours_mb, loop_mb = peak_in_child(args, mining, "ours"), peak_in_child(args, mining, "loop")
        rows.append((mining, f"{ours_ms:,.1f}", f"{loop_ms:,.1f}", f"{loop_ms / ours_ms:,.1f}x",
                     f"{ours_mb:,.1f}", f"{loop_mb:,.1f}", diff))
        print(f"  {mining}: loss {ours_loss:.6f} (loop {loop_loss_value:.6f})", flush=True)

    header = ("mode", "ours (ms)", "per-anchor loop (ms)", "speed-up", "ours peak MB", "loop peak MB", r"\|loss diff\|")
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
