"""YOURS to replace: the `digitnet` CLI, a command per DVC stage (split, train, evaluate).

Each is a few lines that read files, call the core, write files; `predict` scores a CSV. The template's stages
(validate, report, gate) are `mlci` commands.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from digitnet.errors import TrainingInterrupted, UserFacingError
from mlci.files import CONTRACT, PREDICTIONS, TRAIN_RUN_LOCAL

logger = logging.getLogger("digitnet")

EXIT_FAILED = 1
EXIT_PREEMPTED = 75  # EX_TEMPFAIL: stopped by SIGTERM after a checkpoint; run again to resume
SPLIT_NAMES = ("train", "val", "test")


def write_json(path: Path, payload: dict) -> None:
    """Write JSON atomically (temp file, then rename) with a stable layout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    partial.replace(path)


def replace_dir(partial: Path, final: Path) -> None:
    """Move a fully written folder into place, so readers never see half of one."""
    if final.exists():
        shutil.rmtree(final)
    partial.rename(final)


def cmd_split(args: argparse.Namespace) -> int:
    from digitnet.config import load_config
    from digitnet.data import load_data_contract, read_raw_csv, split_frame

    config = load_config(args.params)
    contract = load_data_contract(args.contract)
    split = split_frame(read_raw_csv(args.data or contract.path), config.split, contract)
    partial = args.out.with_name(args.out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for name in SPLIT_NAMES:
        getattr(split, name).to_csv(partial / f"{name}.csv", index=False)
    replace_dir(partial, args.out)
    logger.info("split: %s", ", ".join(f"{n}={len(getattr(split, n))}" for n in SPLIT_NAMES))
    return 0


def _open_live(partial: Path):
    """A DVCLive logger writing into `partial` (DVCLive only writes files here: DVC tracks them via dvc.yaml)."""
    from dvclive import Live
    from scmrepo.exceptions import SCMError

    shutil.rmtree(partial, ignore_errors=True)
    try:
        return Live(str(partial), dvcyaml=None, save_dvc_exp=False, report=None)
    except SCMError as error:  # DVCLive 3 reads the current commit and fails in a repository without one
        shutil.rmtree(partial, ignore_errors=True)
        raise UserFacingError(
            f"DVCLive cannot write metrics ({error}): make a first commit, e.g. `git add -A && git commit -m init`"
        ) from error


def _write_training_curves(history: list, score_name: str, out_dir: Path) -> None:
    """Loss and score per epoch on each split: dvclive/train/plots/metrics/<split>/{loss,<score_name>}.tsv."""
    partial = out_dir.with_name(out_dir.name + ".partial")
    with _open_live(partial) as live:
        for stats in history:
            live.step = stats.epoch
            for split in ("train", "val"):
                live.log_metric(f"{split}/loss", getattr(stats, f"{split}_loss"))
                live.log_metric(f"{split}/{score_name}", getattr(stats, f"{split}_score"))
    replace_dir(partial, out_dir)


def _relaunch_under_torchrun(processes: int, argv: Sequence[str]) -> int:
    """Run this same command as `processes` workers under torchrun and return its exit status."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={processes}",
        "-m",
        "digitnet.cli",
        *argv,
    ]
    logger.info("starting %d training processes: %s", processes, " ".join(command[2:]))
    return subprocess.run(command, check=False).returncode


def cmd_train(args: argparse.Namespace) -> int:
    from digitnet.checkpoint import preempted_marker, remove_checkpoint
    from digitnet.config import load_config
    from digitnet.data import load_data_contract, read_raw_csv
    from digitnet.distributed import ranks_from_env, start_process_group, stop_process_group
    from digitnet.model import ModelSpec, save_model
    from digitnet.preprocess import fit_preprocessor, to_tensors
    from digitnet.train import train
    from mlci.serving.bundle import model_files

    config = load_config(args.params)
    ranks = ranks_from_env()
    marker = preempted_marker(args.checkpoint)
    if ranks.is_main:
        marker.unlink(missing_ok=True)
        args.run_record.unlink(missing_ok=True)  # it would describe the model this run replaces
    if config.train.processes > 1 and not ranks.is_distributed:
        status = _relaunch_under_torchrun(config.train.processes, args.argv)
        return EXIT_PREEMPTED if status != 0 and marker.is_file() else status  # torchrun reports 1 for any failure
    contract = load_data_contract(args.contract)
    train_frame = read_raw_csv(args.split_dir / "train.csv")
    preprocessor = fit_preprocessor(train_frame, contract)
    target = contract.target.name
    train_set = to_tensors(train_frame, preprocessor, target)
    val_set = to_tensors(read_raw_csv(args.split_dir / "val.csv"), preprocessor, target)
    spec = ModelSpec.for_data(config.train, preprocessor)
    stop_requested: list[int] = []
    # A stop request ends training at the next batch; the handler is put back after (train may run in-process).
    previous_handler = signal.signal(signal.SIGTERM, lambda signum, frame: stop_requested.append(signum))
    started = time.perf_counter()
    start_process_group(ranks)
    try:
        result = train(
            config.train,
            train_set,
            val_set,
            checkpoint_path=args.checkpoint,
            should_stop=lambda: bool(stop_requested),
            ranks=ranks,
            spec=spec,
            target_std=preprocessor.target_std if not preprocessor.classes else 1.0,
        )
    except TrainingInterrupted as stop:
        if ranks.is_main:  # `make repro` and the pipeline workflow tell preemption from failure by this file
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(f"{stop.epochs_done}\n", encoding="utf-8")
        raise
    finally:
        stop_process_group()
        signal.signal(signal.SIGTERM, previous_handler)
    if not ranks.is_main:
        return 0
    save_model(result.model, result.spec, preprocessor, args.model_dir / "model.pt")
    # The model folder is a DVC output: only what the same code, params and data reproduce goes in, so a retrain
    # leaves its hash (and dvc.lock) unchanged. This run's own facts go beside it, untracked, naming the files.
    write_json(
        args.model_dir / "train_run.json",
        {
            "device": result.device,
            "precision": result.precision,
            "processes": ranks.world_size,
            "epochs": len(result.history),
        },
    )
    write_json(
        args.run_record,
        {
            "wall_seconds": round(time.perf_counter() - started, 3),
            "resumed_from_epoch": result.resumed_from_epoch,
            "model_files": model_files(args.model_dir),
        },
    )
    _write_training_curves(result.history, result.score_name, args.live_dir)
    remove_checkpoint(args.checkpoint)  # the run is complete: the next one starts fresh
    final = result.history[-1]
    logger.info("trained %d epochs: val_%s=%.4f", final.epoch, result.score_name, final.val_score)
    return 0


def _write_evaluation(evaluation, out_dir: Path) -> None:
    partial = out_dir.with_name(out_dir.name + ".partial")
    with _open_live(partial) as live:
        live.summary = evaluation.summary()
    replace_dir(partial, out_dir)


def write_csv(frame, path: Path) -> None:
    """Write a CSV atomically (temp file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    frame.to_csv(partial, index=False)
    partial.replace(path)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from digitnet.config import load_config
    from digitnet.data import load_data_contract, read_raw_csv
    from digitnet.evaluate import evaluate
    from digitnet.model import load_model

    config = load_config(args.params)
    contract = load_data_contract(args.contract)
    saved = load_model(args.model)
    evaluation = evaluate(saved, read_raw_csv(args.data), contract, batch_size=config.evaluate.batch_size)
    _write_evaluation(evaluation, args.live_dir)
    write_csv(evaluation.predictions, args.predictions)
    logger.info("test %s", " ".join(f"{name}={value:.4f}" for name, value in evaluation.headline().items()))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from digitnet.data import DataError, read_raw_csv
    from digitnet.model import load_model
    from digitnet.predict import predict

    saved = load_model(args.model)
    try:
        predictions = predict(saved, read_raw_csv(args.data))
    except DataError as error:
        raise DataError(f"{args.data}: {error}") from error
    write_csv(predictions, args.out)
    logger.info("predicted %d rows: %s", len(predictions), args.out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="digitnet", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    params = {"type": Path, "default": Path("params.yaml"), "help": "params file"}
    contract = {"type": Path, "default": Path(CONTRACT), "help": "the data contract"}

    split = commands.add_parser("split", help="stratified train/val/test split")
    split.add_argument("--params", **params)
    split.add_argument("--contract", **contract)
    split.add_argument("--data", type=Path, default=None, help="the raw data (default: the contract's path)")
    split.add_argument("--out", type=Path, default=Path("artifacts/split"))
    split.set_defaults(run=cmd_split)

    train = commands.add_parser("train", help="train the model (resumes a checkpoint of the same run)")
    train.add_argument("--params", **params)
    train.add_argument("--contract", **contract)
    train.add_argument("--split-dir", type=Path, default=Path("artifacts/split"))
    train.add_argument("--model-dir", type=Path, default=Path("artifacts/model"))
    train.add_argument("--live-dir", type=Path, default=Path("dvclive/train"))
    train.add_argument("--checkpoint", type=Path, default=Path("checkpoints/train.pt"))
    train.add_argument(
        "--run-record",
        type=Path,
        default=Path(TRAIN_RUN_LOCAL),
        help="this run's wall time and resume point (not a DVC output: they differ between identical trainings)",
    )
    train.set_defaults(run=cmd_train)

    evaluate = commands.add_parser("evaluate", help="score the model on the test split")
    evaluate.add_argument("--params", **params)
    evaluate.add_argument("--model", type=Path, default=Path("artifacts/model/model.pt"))
    evaluate.add_argument("--data", type=Path, default=Path("artifacts/split/test.csv"))
    evaluate.add_argument("--contract", **contract)
    evaluate.add_argument("--live-dir", type=Path, default=Path("dvclive/evaluate"))
    evaluate.add_argument("--predictions", type=Path, default=Path(PREDICTIONS), help="per-row predictions (CSV)")
    evaluate.set_defaults(run=cmd_evaluate)

    predict = commands.add_parser("predict", help="predict rows of a CSV in the contract's feature schema")
    predict.add_argument("--model", type=Path, default=Path("artifacts/model/model.pt"))
    predict.add_argument("--data", type=Path, required=True, help="CSV with the feature columns")
    predict.add_argument("--out", type=Path, required=True, help="CSV of predictions and class probabilities")
    predict.set_defaults(run=cmd_predict)
    return parser


@contextlib.contextmanager
def command_logging(level: int) -> Iterator[None]:
    """Log to stderr at `level` for one command, then put the root logger back as it was (`main` runs in-process in
    tests: the caller's handlers are set aside, not closed, and no level outlives the call)."""
    root = logging.getLogger()
    handlers, root_level = root.handlers[:], root.level
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    for other in handlers:
        root.removeHandler(other)
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()
        for other in handlers:
            root.addHandler(other)
        root.setLevel(root_level)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a UserFacingError becomes one `error:` line and exit status 1."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    with command_logging(logging.DEBUG if args.verbose else logging.INFO):
        try:
            return args.run(args)
        except UserFacingError as error:
            logger.error("%s", error)
            return EXIT_FAILED
        except TrainingInterrupted as stop:
            logger.warning("%s", stop)
            return EXIT_PREEMPTED


if __name__ == "__main__":
    sys.exit(main())
