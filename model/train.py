"""Train a small FaceNet with the triplet loss and online mining in P x K batches.

    python -m model.train --out runs/default                       # LFW peopleDevTrain, defaults
    python -m model.train --dataset olivetti --steps 200 --out runs/olivetti
    torchrun --nproc_per_node 2 -m model.train --out runs/ddp       # one P x K batch per process

Every option is a field of `TrainConfig` below (run with --help). The run writes into --out:
`model.pt` (weights + config + model card, loadable with torch.load(..., weights_only=True)),
`card.json` (the model card), `last.pt` (resume state, kept after the run) and, with --snapshots,
`snapshots.npz` (embeddings of a fixed image set at evenly spaced steps).
Interrupted runs continue where they stopped with --resume. Batches, augmentation and random
mining are drawn from (seed, process rank, step), so a resumed run sees exactly the batches an
uninterrupted one would have, and a CPU run is reproducible from its seed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from model.data import FaceSet, PKSampler, find_lfw, lfw_people, load_folder, load_lfw, load_olivetti, to_model_input
from model.embed import embed_crops, save_checkpoint
from model.evaluate import balanced_pairs, evaluate_lfw, pair_distances, pca_baseline_lfw, verify
from model.net import NetConfig, build_net, count_macs, count_parameters
from model.triplet import (LossResult, count_triplet_types, mine_hard, mine_random, mine_semi_hard, squared_distances,
                           triplet_loss_from_distances)


LOG_EVERY = 10  # steps per history record and progress-bar update

# --mining: the strategy's name -> its miner (model.triplet), called as miner(distances, labels,
# generator). "all" (batch-all) has none: given no triplets, the loss averages over every active
# triplet of the batch, summed without listing them.
MINERS = {
    "random": mine_random,
    "all": None,
    "semi-hard": lambda distances, labels, generator: mine_semi_hard(distances, labels),
    "hard": lambda distances, labels, generator: mine_hard(distances, labels),
}


@dataclass
class TrainConfig:
    # data
    dataset: str = "lfw"  # lfw | olivetti | folder
    data_path: str = ""  # where the data is (default: $FACENET_DATA, then scikit-learn's data home)
    split: str = "devtrain"  # lfw: devtrain (peopleDevTrain.txt only) | all; olivetti: train (people 1-30) | all
    max_people: int = 0  # keep only this many training people (0: all), for quick runs
    # network
    arch: str = "inception"  # inception | zf
    embedding_dim: int = 128
    input_size: int = 64
    width: float = 1.0
    activation: str = "relu"
    # loss and mining
    margin: float = 0.2  # alpha
    mining: str = "semi-hard"  # random | all | semi-hard | hard
    # optimisation
    optimizer: str = "adagrad"  # adagrad | sgd
    lr: float = 0.05
    momentum: float = 0.0  # sgd only
    weight_decay: float = 0.0
    people_per_batch: int = 32  # P
    images_per_person: int = 4  # K
    steps: int = 0  # optimisation steps; 0: derived from epochs
    epochs: float = 10.0  # passes over the training images that can form pairs
    augment: bool = True  # random horizontal flip, shift and scale
    seed: int = 0
    device: str = "auto"  # auto (cuda if present) | cpu | cuda
    amp: bool = True  # bf16 autocast on CUDA (ignored on the CPU)
    threads: int = 0  # CPU threads for torch (0: torch's default)
    # bookkeeping
    out: str = "runs/default"
    eval_every: int = 200  # steps between evaluations (0: only at the end)
    checkpoint_every: int = 200  # steps between resume checkpoints
    snapshots: int = 0  # embedding snapshots of the snapshot set over training (0: none)
    snapshot_min_images: int = 20  # LFW snapshot set: people with at least this many images
    resume: bool = False
    view2: bool = True  # final evaluation includes LFW View 2 (ten folds)
    pca_baseline: bool = True  # lfw: final metrics include the eigenfaces baseline on the same pairs
    quiet: bool = False  # no progress bar


# --------------------------------------------------------------------------------------------
# Set-up helpers
# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    parser = argparse.ArgumentParser(prog="python -m model.train", description=__doc__.split("\n\n")[0])
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.type == "bool":
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default)
        else:
            kind = {"int": int, "float": float, "str": str}[f.type]
            parser.add_argument(flag, type=kind, default=f.default, help=f"(default: {f.default!r})")
    cfg = TrainConfig(**vars(parser.parse_args(argv)))
    if cfg.mining not in MINERS:
        parser.error(f"--mining must be one of {tuple(MINERS)}")
    if cfg.optimizer not in ("adagrad", "sgd"):
        parser.error("--optimizer must be adagrad or sgd")
    return cfg


@dataclass
class Datasets:
    train: FaceSet
    eval_fn: object  # net -> dict of metrics on people the model does not train on
    final_fn: object  # net -> dict of the final metrics
    snapshot: FaceSet | None
    description: str


def _held_out_metrics(faces: FaceSet, device) -> object:
    """Verification on a small held-out set (Olivetti's last people, a folder): its same-person
    pairs and as many different-person pairs."""
    left, right, same = balanced_pairs(faces.labels)

    def run(net) -> dict:
        emb = embed_crops(net, faces.images, device=device)
        v = verify(pair_distances(emb, left, right), same)
        return {"heldout_best_threshold_accuracy": v.best_threshold_accuracy, "heldout_val_at_far_1e-3": v.val_at_far,
                "heldout_pairs": v.pairs}

    return run


def in_data_folder(path: str | os.PathLike, levels: int = 1) -> str:
    """Where a data set was read from, as the model card records it: its last `levels` parts, in
    the data folder (`lfw/ in the data folder`), never the training machine's absolute path."""
    parts = Path(path).parts[-levels:]
    return "/".join(parts) + ("/" if Path(path).is_dir() else "") + " in the data folder"


def load_datasets(cfg: TrainConfig, device) -> Datasets:
    path = cfg.data_path or None
    if cfg.dataset == "lfw":
        faces = load_lfw(path, size=cfg.input_size)
        root = find_lfw(path)
        if cfg.split == "devtrain":
            train = faces.of_people(lfw_people(root, "devtrain"))
        elif cfg.split == "all":
            train = faces
        else:
            raise SystemExit("--split for lfw must be devtrain or all")

        def quick(net) -> dict:  # View 1 only, every eval_every steps
            m = evaluate_lfw(lambda c: embed_crops(net, c, device=device), faces, root, view2=False, devtrain_threshold=False)
            return {k: v for k, v in m.items() if k in ("view1_devtest_accuracy", "view1_devtest_val_at_far_1e-3")}

        def final(net) -> dict:
            metrics = evaluate_lfw(lambda c: embed_crops(net, c, device=device), faces, root, view2=cfg.view2)
            if cfg.pca_baseline:  # eigenfaces fitted on peopleDevTrain, on the very same pairs
                metrics["pca_baseline"] = pca_baseline_lfw(faces, root, view2=cfg.view2)
            return metrics

        snapshot = faces.with_at_least(cfg.snapshot_min_images) if cfg.snapshots else None
        return Datasets(train, quick, final, snapshot, f"LFW deep-funneled ({in_data_folder(root)})")
    if cfg.dataset == "olivetti":
        faces = load_olivetti(path, size=cfg.input_size)
        held_out = faces.subset(np.flatnonzero(faces.labels >= 30))
        train = faces.subset(np.flatnonzero(faces.labels < 30)) if cfg.split == "train" else faces
        metrics = _held_out_metrics(held_out, device)
        return Datasets(train, metrics, metrics, faces if cfg.snapshots else None,
                        f"Olivetti ({in_data_folder(faces.source, levels=2)})")
    if cfg.dataset == "folder":
        faces = load_folder(cfg.data_path, size=cfg.input_size)
        metrics = _held_out_metrics(faces, device)
        return Datasets(faces, metrics, metrics, faces if cfg.snapshots else None,
                        f"folder {Path(cfg.data_path).name}/")
    raise SystemExit(f"--dataset must be lfw, olivetti or folder, not {cfg.dataset!r}")


def limit_people(faces: FaceSet, max_people: int, seed: int) -> FaceSet:
    """Keep `max_people` people that have at least two images (chosen with the seed)."""
    counts = np.bincount(faces.labels)
    eligible = np.flatnonzero(counts >= 2)
    keep = np.random.default_rng(seed).choice(eligible, size=min(max_people, len(eligible)), replace=False)
    return faces.subset(np.flatnonzero(np.isin(faces.labels, keep)))


def augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal flip, shift (up to 1/16 of the side) and scale (0.9-1.1) of uint8 NHWC
    images, as one nearest-neighbour gather on the images' device."""
    n, s = batch.shape[0], batch.shape[1]
    dev = batch.device
    r = torch.rand(n, 4, generator=generator, device=generator.device).to(dev)
    scale = 0.9 + 0.2 * r[:, 0:1]
    shift_y, shift_x = ((r[:, 1:2] - 0.5) * s / 8), ((r[:, 2:3] - 0.5) * s / 8)
    flip = r[:, 3:4] < 0.5
    grid = torch.arange(s, device=dev, dtype=torch.float32) - (s - 1) / 2
    rows = (grid * scale + (s - 1) / 2 + shift_y).round().long().clamp(0, s - 1)
    cols = (grid * scale + (s - 1) / 2 + shift_x).round().long().clamp(0, s - 1)
    cols = torch.where(flip, s - 1 - cols, cols)
    idx = torch.arange(n, device=dev)[:, None, None]
    return batch[idx, rows[:, :, None], cols[:, None, :]]


def step_generator(cfg: TrainConfig, rank: int, step: int) -> torch.Generator:
    """A generator seeded by (seed, rank, step): the randomness of a step does not depend on
    what ran before it, which makes resuming exact."""
    g = torch.Generator(device="cpu")
    g.manual_seed(int(np.random.SeedSequence([cfg.seed, rank, step, 1]).generate_state(1)[0]))
    return g


def make_optimizer(cfg: TrainConfig, params) -> torch.optim.Optimizer:
    if cfg.optimizer == "adagrad":  # FaceNet: AdaGrad, initial learning rate 0.05
        return torch.optim.Adagrad(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def atomic_torch_save(obj, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------
# The training loop
# --------------------------------------------------------------------------------------------


def batch_loss(embeddings: torch.Tensor, labels: torch.Tensor, margin: float = 0.2, mining: str = "semi-hard",
               generator: torch.Generator | None = None) -> LossResult:
    """The loss a training step takes on a batch's embeddings (B, d) with the strategy named
    `mining` (a key of MINERS): the distances computed once, the strategy's miner on them (random
    draws from `generator`), the loss of its triplets (batch-all: of every valid triplet), in the
    embeddings' dtype."""
    if mining not in MINERS:
        raise ValueError(f"mining must be one of {tuple(MINERS)}, not {mining!r}")
    labels = torch.as_tensor(labels, device=embeddings.device).reshape(-1)
    distances = squared_distances(embeddings)
    miner = MINERS[mining]
    triplets = None if miner is None else miner(distances, labels, generator)
    return triplet_loss_from_distances(distances, labels, margin, triplets).to(embeddings.dtype)


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, images: torch.Tensor, labels: torch.Tensor,
               cfg: TrainConfig, generator: torch.Generator, amp: bool = False):
    """One optimisation step on one P x K batch (uint8 NHWC `images`, their `labels`): augment,
    embed, mine and take the triplet loss as configured, step the optimiser. Returns the batch's
    embeddings and the loss result (model.triplet.LossResult). The course's live training
    takes the very same step."""
    batch = augment(images, generator) if cfg.augment else images
    with torch.autocast(device_type=images.device.type, dtype=torch.bfloat16, enabled=amp):
        emb = model(to_model_input(batch))
    result = batch_loss(emb.float(), labels, cfg.margin, cfg.mining, generator)
    optimizer.zero_grad(set_to_none=True)
    result.loss.backward()
    optimizer.step()
    return emb, result


def train(cfg: TrainConfig) -> dict:
    """Run training as configured; returns the model card (also written to --out)."""
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    rank, world = 0, 1
    use_cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
    if distributed:
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if use_cuda else "cpu")
    if use_cuda:
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    is_main = rank == 0
    out = Path(cfg.out)
    if is_main:
        out.mkdir(parents=True, exist_ok=True)

    data = load_datasets(cfg, device)
    train_set = limit_people(data.train, cfg.max_people, cfg.seed) if cfg.max_people else data.train
    sampler = PKSampler(train_set.labels, cfg.people_per_batch, cfg.images_per_person, seed=cfg.seed, rank=rank)
    steps = cfg.steps or max(1, math.ceil(cfg.epochs * sampler.eligible_images / (sampler.batch_size * world)))
    images = torch.from_numpy(train_set.images).to(device)  # decoded crops stay on the device
    labels = torch.from_numpy(train_set.labels).to(device)

    torch.manual_seed(cfg.seed)  # same initial weights in every process
    net_cfg = NetConfig(cfg.arch, cfg.embedding_dim, cfg.input_size, cfg.width, cfg.activation)
    net = build_net(net_cfg).to(device)
    optimizer = make_optimizer(cfg, net.parameters())
    model = torch.nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if use_cuda else None) if distributed else net

    start, history, elapsed, snaps = 0, [], 0.0, {}
    resume_path = out / "last.pt"
    if cfg.resume and resume_path.is_file():
        state = torch.load(resume_path, map_location=device, weights_only=True)
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start, history, elapsed = int(state["step"]), list(state["history"]), float(state["elapsed"])
        snaps = {int(k): v.numpy() for k, v in state.get("snapshots", {}).items()}
        if is_main:
            print(f"resuming from step {start} of {steps}", file=sys.stderr)
    snapshot_steps = sorted(set(np.linspace(0, steps, cfg.snapshots).round().astype(int))) if cfg.snapshots else []

    def save_resume_state(step: int) -> None:
        if is_main:
            atomic_torch_save({"model": net.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                               "history": history, "elapsed": elapsed,
                               "snapshots": {str(k): torch.from_numpy(v) for k, v in snaps.items()}}, resume_path)

    def take_snapshot(step: int) -> None:
        if is_main and data.snapshot is not None and step in snapshot_steps and step not in snaps:
            snaps[step] = embed_crops(net, data.snapshot.images, device=device).astype(np.float16)

    amp = cfg.amp and use_cuda
    bar = tqdm(total=steps, initial=start, disable=cfg.quiet or not is_main, desc="train", unit="step", dynamic_ncols=True)
    step = start
    window = {"images": 0, "loss": 0.0, "active": 0.0, "steps": 0, "start": time.perf_counter()}
    try:
        take_snapshot(step)
        if is_main and cfg.eval_every and step == 0:  # where the curves start: the untrained network
            history.append({"step": 0, **data.eval_fn(net)})
        model.train()
        while step < steps:
            t0 = time.perf_counter()
            rows = torch.from_numpy(sampler.batch(step)).to(device)
            emb, result = train_step(model, optimizer, images[rows], labels[rows], cfg, step_generator(cfg, rank, step), amp)
            step += 1
            elapsed += time.perf_counter() - t0
            window["images"] += len(rows) * world
            window["loss"] += float(result.loss.detach())
            window["active"] += result.active / max(result.selected, 1)
            window["steps"] += 1
            evaluate_now = is_main and cfg.eval_every and step % cfg.eval_every == 0 and step < steps
            if step % LOG_EVERY == 0 or step == steps or evaluate_now:
                # one history record per LOG_EVERY steps: means over the window, kinds of the last batch
                counts = count_triplet_types(squared_distances(emb.detach().float()), labels[rows], cfg.margin)
                record = {"step": step, "loss": window["loss"] / window["steps"],
                          "active_fraction": window["active"] / window["steps"],
                          "images_per_s": window["images"] / (time.perf_counter() - window["start"]),
                          "valid": counts.valid, "hard": counts.hard, "semi_hard": counts.semi_hard, "easy": counts.easy}
                window = {"images": 0, "loss": 0.0, "active": 0.0, "steps": 0, "start": time.perf_counter()}
                if evaluate_now:
                    record.update(data.eval_fn(net))
                    model.train()
                history.append(record)
                bar.set_postfix(loss=f"{record['loss']:.4f}", active=f"{record['active_fraction']:.2f}",
                                img_s=f"{record['images_per_s']:.0f}")
            take_snapshot(step)
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                save_resume_state(step)
            bar.update(1)
    except KeyboardInterrupt:
        save_resume_state(step)
        bar.close()
        print(f"\ninterrupted at step {step}; continue with --resume", file=sys.stderr)
        raise SystemExit(130)
    bar.close()
    save_resume_state(step)

    card = {}
    if is_main:
        metrics = data.final_fn(net)
        card = model_card(cfg, net, data, train_set, sampler, steps, world, elapsed, history, metrics, device)
        save_checkpoint(out / "model.pt", net, card)
        (out / "card.json").write_text(json.dumps(card, indent=2))
        if snaps:
            s = data.snapshot
            np.savez_compressed(out / "snapshots.npz", steps=np.array(sorted(snaps)),
                                embeddings=np.stack([snaps[k] for k in sorted(snaps)]),
                                labels=s.labels, names=np.array(s.names), files=np.array(s.files))
        print(json.dumps(card["metrics"], indent=2))
    if distributed:
        dist.barrier()
        dist.destroy_process_group()
    return card


def model_card(cfg, net, data, train_set, sampler, steps, world, elapsed, history, metrics, device) -> dict:
    images_seen = steps * sampler.batch_size * world
    return {
        "model": f"FaceNet-style {cfg.arch} network, {cfg.embedding_dim}-d L2-normalised embedding",
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "cpu": platform.processor() or platform.machine(),
        "torch": str(torch.__version__),
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "world_size": world,
        "dataset": data.description,
        "split": cfg.split,
        "training_people": int(train_set.num_people),
        "training_images": int(len(train_set)),
        "hyperparameters": dataclasses.asdict(cfg) | {"steps": steps, "batch_size": sampler.batch_size,
                                                      "data_path": "the data folder" if cfg.data_path else ""},
        "parameters": count_parameters(net),
        "multiply_adds_per_image": count_macs(net),
        "wall_time_s": round(elapsed, 1),
        "images_per_s": round(images_seen / elapsed, 1) if elapsed else None,
        "metrics": metrics,
        "history": history,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m model.train " + " ".join(sys.argv[1:]),
    }


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    try:
        train(cfg)
    except FileNotFoundError as err:  # DataNotFoundError: the message says how to get the data
        print(err, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
