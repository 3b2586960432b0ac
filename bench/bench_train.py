"""Benchmark of CPU training throughput: the whole training loop against the network alone.

1. End to end: `model.train.train` with the default recipe (Inception-style network, P = 48
   people x K = 4 images, semi-hard mining, AdaGrad at 0.05, LFW peopleDevTrain, augmentation)
   for --warmup + --steps steps, writing into a temporary folder, with no evaluation during
   training (eval_every=0), no View 2 and no resume checkpoints. The rate reported is that of
   the steps after the warm-up, read off the card's history (one record per 10 steps: images
   and images/s of the window, logging included); the card's own images_per_s (every step, the
   loop body only) is printed too. Loading the data and the final View 1 evaluation are timed
   separately: neither is part of the rate.
2. Bare: the same network and optimizer on a fixed random batch of the same size, each step
   forward, triplet loss (same mining), backward and the AdaGrad update: no sampling, no
   augmentation, no uint8 -> float conversion, no logging.

The ratio end-to-end / bare says how much of the network's speed the loop keeps.

    python bench/bench_train.py                       # 10 warm-up + 60 timed steps
    python bench/bench_train.py --steps 100 --threads 2 --arch zf
    python bench/bench_train.py --quick               # P = 16, 10 + 10 steps
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

import model.train as train_module
from model.data import DATA_ENV
from model.net import NetConfig, build_net
from model.train import LOG_EVERY, TrainConfig, batch_loss, make_optimizer

ROOT = Path(__file__).resolve().parents[1]


def print_machine() -> None:
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs, "
          f"python {platform.python_version()}, torch {torch.__version__}, {torch.get_num_threads()} torch threads")


def default_data() -> str:
    """$FACENET_DATA, else ../shared/data, spelled as an absolute path (the data cache's key
    includes the image paths as spelled, so a relative spelling would decode LFW again)."""
    path = os.environ.get(DATA_ENV) or (ROOT.parent / "shared" / "data")
    return str(Path(path).expanduser().resolve()) if Path(path).expanduser().is_dir() else ""


def train_timed(cfg: TrainConfig) -> tuple[dict, dict]:
    """Run `train(cfg)`; returns (model card, seconds spent loading data / in the final evaluation)."""
    seconds = {}
    load_datasets = train_module.load_datasets

    def timed_load_datasets(cfg, device):
        t0 = time.perf_counter()
        data = load_datasets(cfg, device)
        seconds["load data"] = time.perf_counter() - t0
        final_fn = data.final_fn

        def timed_final(net):
            t0 = time.perf_counter()
            metrics = final_fn(net)
            seconds["final evaluation (View 1)"] = time.perf_counter() - t0
            return metrics

        data.final_fn = timed_final
        return data

    train_module.load_datasets = timed_load_datasets  # train() looks it up when called
    try:
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # train() prints its metrics as JSON
            card = train_module.train(cfg)
        seconds["train() in all"] = time.perf_counter() - t0
    finally:
        train_module.load_datasets = load_datasets
    return card, seconds


def rate_after_warmup(card: dict, warmup: int) -> float:
    """Images/s over the history windows that start at or after step `warmup`."""
    batch = card["hyperparameters"]["batch_size"]
    images, seconds, previous = 0, 0.0, 0
    for record in card["history"]:
        n = (record["step"] - previous) * batch
        if previous >= warmup:
            images, seconds = images + n, seconds + n / record["images_per_s"]
        previous = record["step"]
    return images / seconds


def bare_rate(cfg: TrainConfig, warmup: int, steps: int) -> float:
    """Images/s of forward + triplet loss + backward + AdaGrad step on one random batch."""
    torch.manual_seed(cfg.seed)
    net = build_net(NetConfig(cfg.arch, cfg.embedding_dim, cfg.input_size, cfg.width, cfg.activation)).train()
    optimizer = make_optimizer(cfg, net.parameters())
    P, K = cfg.people_per_batch, cfg.images_per_person
    x = torch.randn(P * K, 3, cfg.input_size, cfg.input_size)
    labels = torch.arange(P).repeat_interleave(K)
    for step in range(warmup + steps):
        if step == warmup:
            t0 = time.perf_counter()
        loss = batch_loss(net(x), labels, cfg.margin, cfg.mining).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return steps * P * K / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=60, help="timed steps (default 60)")
    parser.add_argument("--warmup", type=int, default=10, help=f"untimed first steps, a multiple of {LOG_EVERY} (default 10)")
    parser.add_argument("--arch", default="inception", choices=("inception", "zf"))
    parser.add_argument("--people", type=int, default=48, help="P, people per batch (default 48; K = 4)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--data", default=default_data(), help=f"data folder (default: ${DATA_ENV}, else ../shared/data)")
    parser.add_argument("--quick", action="store_true", help="P = 16, 10 warm-up + 10 timed steps")
    args = parser.parse_args(argv)
    if args.quick:
        args.people, args.warmup, args.steps = 16, 10, 10
    if args.warmup % LOG_EVERY or args.steps < 1:
        parser.error(f"--warmup must be a multiple of {LOG_EVERY} and --steps at least 1")
    if args.threads:
        torch.set_num_threads(args.threads)

    print_machine()
    with tempfile.TemporaryDirectory(prefix="bench-train-") as out:
        cfg = TrainConfig(arch=args.arch, people_per_batch=args.people, images_per_person=4,
                          steps=args.warmup + args.steps, data_path=args.data, device="cpu", threads=args.threads,
                          out=out, eval_every=0, checkpoint_every=0, view2=False, quiet=True)
        batch = cfg.people_per_batch * cfg.images_per_person
        print(f"config: {cfg.arch}, P = {cfg.people_per_batch} x K = {cfg.images_per_person} = {batch} images a step, "
              f"{cfg.mining} mining, {cfg.optimizer} {cfg.lr}, LFW {cfg.split}, augment {cfg.augment}; "
              f"{args.warmup} warm-up + {args.steps} timed steps\n", flush=True)
        try:
            card, seconds = train_timed(cfg)
        except FileNotFoundError as err:  # the message says where it looked and how to get LFW
            raise SystemExit(str(err))
    end_to_end = rate_after_warmup(card, args.warmup)
    bare = bare_rate(cfg, args.warmup, args.steps)

    rows = [(f"training loop, steps {args.warmup + 1}-{args.warmup + args.steps} (history windows)", end_to_end),
            (f"training loop, all {cfg.steps} steps (card images_per_s, loop body only)", card["images_per_s"]),
            ("bare network: forward + loss + backward + AdaGrad, random batch", bare)]
    print("| measurement | images/s |")
    print("|---|---:|")
    for name, rate in rows:
        print(f"| {name} | {rate:,.1f} |")
    print(f"\nend-to-end / bare = {end_to_end / bare:.2f}")
    print(f"seconds: training loop {card['wall_time_s']:.1f} (card wall_time_s), "
          + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()))
    print(f"training set: {card['training_images']:,} images of {card['training_people']:,} people; "
          f"View 1 accuracy after {cfg.steps} steps: {card['metrics']['view1_devtest_accuracy']:.3f}")


if __name__ == "__main__":
    main()
