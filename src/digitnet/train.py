"""YOURS to replace: train the model (explicit device and seed, a checkpoint each epoch, resume after preemption)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from digitnet.checkpoint import load_checkpoint, save_checkpoint
from digitnet.config import TrainConfig
from digitnet.distributed import Ranks, any_rank, barrier, sum_across_ranks
from digitnet.errors import TrainingInterrupted, UserFacingError
from digitnet.model import ModelSpec, build_model

logger = logging.getLogger(__name__)

Tensors = tuple[torch.Tensor, torch.Tensor]
EVAL_BATCH_SIZE = 1024


class TrainingDivergedError(UserFacingError):
    """The loss became NaN or infinite."""


@dataclass(frozen=True)
class EpochStats:
    """One epoch's loss and score (`score_name(spec)`: accuracy, or a regression's MAE) on each split."""

    epoch: int
    train_loss: float
    train_score: float
    val_loss: float
    val_score: float


def is_regression(spec: ModelSpec) -> bool:
    """A network with one output predicts a value (the preprocessor's z-score); more outputs are class logits."""
    return spec.num_classes == 1


def score_name(spec: ModelSpec) -> str:
    return "mae" if is_regression(spec) else "accuracy"


def loss_and_score(outputs: torch.Tensor, targets: torch.Tensor, regression: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed over the batch: the loss (cross-entropy, or squared error in z-scores) and the score's numerator
    (rows right, or absolute error in z-scores)."""
    if regression:
        values = outputs[:, 0]
        return nn.functional.mse_loss(values, targets, reduction="sum"), (values - targets).abs().sum()
    correct = (outputs.argmax(dim=1) == targets).sum()
    return nn.functional.cross_entropy(outputs, targets, reduction="sum"), correct


@dataclass
class TrainResult:
    model: nn.Module
    spec: ModelSpec
    history: list[EpochStats]
    score_name: str
    device: str
    precision: str
    resumed_from_epoch: int | None


def select_device(requested: str, local_rank: int = 0) -> torch.device:
    """`auto` takes CUDA when present, else the CPU; `cuda` without a GPU is an error the user can fix."""
    if requested == "cuda" and not torch.cuda.is_available():
        raise UserFacingError("params.yaml: train.device: 'cuda' but no CUDA device is available")
    if requested in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def place_data(tensors: Tensors, device: torch.device) -> tuple[Tensors, bool]:
    """Put the data on the device when it takes under a quarter of its free memory; else pin it in host memory.

    Returns the tensors and whether batches still need copying to the device.
    """
    if device.type != "cuda":
        return tensors, False
    size = sum(tensor.numel() * tensor.element_size() for tensor in tensors)
    free, _ = torch.cuda.mem_get_info(device)
    if size < free // 4:
        return tuple(tensor.to(device) for tensor in tensors), False
    return tuple(tensor.pin_memory() for tensor in tensors), True


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """Mixed precision on CUDA (bf16 where supported, else fp16); full fp32 on the CPU."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def run_fingerprint(config: TrainConfig, train_set: Tensors, val_set: Tensors, spec: ModelSpec) -> str:
    """Identify a training run by its params, network and data, so a checkpoint is only resumed by the same run."""
    digest = hashlib.sha256(json.dumps({**asdict(config), "spec": asdict(spec)}, sort_keys=True).encode())
    for tensor in (*train_set, *val_set):
        digest.update(tensor.cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _progress_wanted() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


def _evaluate_loss(model: nn.Module, data: Tensors, amp: torch.dtype | None, regression: bool) -> tuple[float, float]:
    images, labels = data
    model.eval()
    loss_total = torch.zeros((), device=images.device)
    score_total = torch.zeros((), device=images.device, dtype=torch.float32 if regression else torch.long)
    with torch.no_grad(), _autocast(images.device, amp):
        for start in range(0, len(labels), EVAL_BATCH_SIZE):
            outputs = model(images[start : start + EVAL_BATCH_SIZE]).float()
            loss_sum, score_sum = loss_and_score(outputs, labels[start : start + EVAL_BATCH_SIZE], regression)
            loss_total += loss_sum
            score_total += score_sum
    return loss_total.item() / len(labels), score_total.item() / len(labels)


def _autocast(device: torch.device, amp: torch.dtype | None):
    return torch.autocast(device.type, dtype=amp) if amp is not None else nullcontext()


@contextmanager
def cpu_threads(count: int) -> Iterator[None]:
    """Run with `count` intra-op threads, then put the process's count back."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def train(
    config: TrainConfig,
    train_set: Tensors,
    val_set: Tensors,
    checkpoint_path: Path | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    ranks: Ranks = Ranks(),
    *,
    spec: ModelSpec,
    target_std: float = 1.0,
) -> TrainResult:
    """Train a fresh model of `spec` (or resume a checkpoint of the same run) and return it with its history.

    On the CPU the same config and data give the same weights and history, resumed or not, on any machine: each
    epoch reseeds from `config.seed`, so nothing but the checkpoint is needed to continue, and `config.threads`
    fixes the thread count (another count sums in another order, and trains other bits).
    Under torchrun every process takes its share of each batch and DDP averages the gradients,
    so the global batch (and the result, up to float rounding) matches a single process.
    A spec with one output trains a regression on standardised targets; `target_std` (the preprocessor's) puts its
    MAE back in the target's units.
    """
    device = select_device(config.device, ranks.local_rank)
    with cpu_threads(config.threads) if device.type == "cpu" else nullcontext():
        return _train_on(device, config, train_set, val_set, checkpoint_path, should_stop, ranks, spec, target_std)


def _train_on(
    device: torch.device,
    config: TrainConfig,
    train_set: Tensors,
    val_set: Tensors,
    checkpoint_path: Path | None,
    should_stop: Callable[[], bool],
    ranks: Ranks,
    spec: ModelSpec,
    target_std: float,
) -> TrainResult:
    """The training loop of `train`, on `device`."""
    amp = autocast_dtype(device)
    precision = f"{str(amp).removeprefix('torch.')}-autocast" if amp else "fp32"
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if ranks.is_main:
        logger.info("training on %s (%s), %d process(es)", device.type, precision, ranks.world_size)

    model = build_model(spec, seed=config.seed).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=amp == torch.float16)
    fingerprint = run_fingerprint(config, train_set, val_set, spec)
    regression, score = is_regression(spec), score_name(spec)
    # A regression's scores are kept in the target's units: its MAE in z-scores times the training split's std.
    unit = target_std if regression else 1.0
    history: list[EpochStats] = []
    resumed_from = None
    checkpoint = load_checkpoint(checkpoint_path, fingerprint, is_main=ranks.is_main)
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        history = [EpochStats(**row) for row in checkpoint["history"]]
        resumed_from = len(history)
        if ranks.is_main:
            logger.info("resuming from checkpoint %s after epoch %d", checkpoint_path, resumed_from)

    network: nn.Module = model
    if ranks.is_distributed:
        device_ids = [device.index] if device.type == "cuda" else None
        network = nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
    if config.compile:
        network = torch.compile(network)

    (images, labels), copy_batches = place_data(train_set, device)
    val_on_device, _ = place_data(val_set, device)
    if copy_batches:  # evaluation batches are small; keep them simple
        val_on_device = tuple(tensor.to(device) for tensor in val_set)
    show_bar = _progress_wanted() and ranks.is_main
    epochs = tqdm(
        range(len(history) + 1, config.epochs + 1),
        initial=len(history),
        total=config.epochs,
        desc="train",
        unit="epoch",
        disable=not show_bar,
    )
    for epoch in epochs:
        torch.manual_seed(config.seed * 100_003 + epoch)
        order = torch.randperm(len(labels)).to(labels.device)
        network.train()
        totals = torch.zeros(2, device=device)  # loss sum, score sum (float: one all-reduce for both)
        for start in range(0, len(labels), config.batch_size):
            # One process stops at the next batch (its last checkpoint is the previous epoch's): a long epoch would
            # outlast a preemption's grace period, and `make` and `dvc` are gone already when a terminal's ^C or
            # SIGTERM reaches the whole process group. Under torchrun the ranks agree once an epoch (below).
            if not ranks.is_distributed and should_stop():
                raise TrainingInterrupted(len(history))
            global_batch = order[start : start + config.batch_size]
            batch = global_batch[ranks.rank :: ranks.world_size]
            batch_images = images[batch].to(device, non_blocking=True)
            batch_labels = labels[batch].to(device, non_blocking=True)
            with _autocast(device, amp):
                outputs = network(batch_images).float()
                loss_sum, score_sum = loss_and_score(outputs, batch_labels, regression)
            # DDP averages gradients over ranks: scaled so, this is the mean over the global batch.
            loss = loss_sum * ranks.world_size / len(global_batch)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            totals[0] += loss_sum.detach()
            totals[1] += score_sum.detach()
        train_loss, train_score = sum_across_ranks(totals, ranks).tolist()
        train_loss /= len(labels)
        if not torch.isfinite(torch.tensor(train_loss)):
            raise TrainingDivergedError(
                f"training diverged: the loss is {train_loss} in epoch {epoch}; check the data for "
                f"NaN/inf values or lower train.learning_rate (now {config.learning_rate}) in params.yaml"
            )
        val_loss, val_score = _evaluate_loss(model, val_on_device, amp, regression)
        stats = EpochStats(
            epoch=epoch,
            train_loss=round(train_loss, 6),
            train_score=round(train_score * unit / len(labels), 6),
            val_loss=round(val_loss, 6),
            val_score=round(val_score * unit, 6),
        )
        history.append(stats)
        if show_bar:
            epochs.set_postfix({"loss": stats.train_loss, f"val_{score}": stats.val_score})
        elif ranks.is_main:
            logger.info(
                "epoch %d/%d train_loss=%.4f val_loss=%.4f val_%s=%.4f",
                epoch,
                config.epochs,
                stats.train_loss,
                stats.val_loss,
                score,
                stats.val_score,
            )
        if checkpoint_path is not None and ranks.is_main:
            save_checkpoint(
                checkpoint_path,
                {
                    "fingerprint": fingerprint,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "history": [asdict(row) for row in history],
                },
            )
        if any_rank(should_stop(), ranks, device) and epoch < config.epochs:
            barrier(ranks)
            raise TrainingInterrupted(epoch)
    return TrainResult(
        model=model.cpu().eval(),
        spec=spec,
        history=history,
        score_name=score,
        device=device.type,
        precision=precision,
        resumed_from_epoch=resumed_from,
    )
