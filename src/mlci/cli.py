"""`mlci <command>`: the template's commands. The DVC validate stage, the data contract, the PR report and metrics.

Every command reads files the pipeline wrote and the data contract; none imports the project beside it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from mlci.errors import UserFacingError
from mlci.files import CONTRACT, GX_ROOT, PREDICTIONS, VALIDATION_FAILURES, VALIDATION_SUMMARY
from mlci.serving.bundle import MODEL_DIR

logger = logging.getLogger("mlci")

EXIT_FAILED = 1


def write_json(path: Path, payload: dict) -> None:
    """Write JSON atomically (temp file, then rename) with a stable layout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    partial.replace(path)


def _max_mb(args: argparse.Namespace) -> float:
    """The data size bound: --max-mb, else MLCI_VALIDATE_MAX_MB, else the default."""
    from mlci.validation import MAX_DATA_MB

    if args.max_mb is not None:
        return args.max_mb
    text = os.environ.get("MLCI_VALIDATE_MAX_MB", "").strip()
    try:
        return float(text) if text else MAX_DATA_MB
    except ValueError:
        raise UserFacingError(f"MLCI_VALIDATE_MAX_MB={text!r}: expected a number of MB") from None


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate the data: a pass replaces the summary; a failure writes its own and leaves the summary as it was."""
    from mlci.contract import load_contract
    from mlci.summary import failure_table
    from mlci.validation import validate_data

    args.failed_summary.unlink(missing_ok=True)  # a stale one must not outlive this run, whatever its outcome
    contract = load_contract(args.contract)
    summary = validate_data(contract, data_path=args.data, gx_root=args.gx_root, max_mb=_max_mb(args)).to_dict()
    if summary["success"]:
        write_json(args.summary, summary)
        logger.info("data valid: %d expectations passed on %d rows", summary["evaluated"], summary["rows"])
        return 0
    write_json(args.failed_summary, summary)
    logger.error(
        "data validation failed: %d of %d expectations (written to %s; %s is unchanged)\n%s",
        summary["failed"],
        summary["evaluated"],
        args.failed_summary,
        args.summary,
        failure_table(summary),
    )
    return EXIT_FAILED


def cmd_schema_infer(args: argparse.Namespace) -> int:
    from mlci.contract import DRAFT_NOTE, contract_header, dump_contract, infer_contract, read_csv

    contract = infer_contract(
        read_csv(args.data),
        path=args.data.as_posix(),
        target=args.target,
        id_column=args.id,
        task=args.task,
        margin=args.margin,
    )
    out = args.out
    draft_note = (
        f"{DRAFT_NOTE} from {args.data.as_posix()}: observed ranges widened by {args.margin:.0%}\n"
        "# of their span. Review every range, class and share before committing; then `make suite`.\n"
    )
    header = draft_note + contract_header(out)
    if out is None:
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            draft = Path(folder) / "schema.yaml"
            dump_contract(contract, draft, header=header)
            sys.stdout.write(draft.read_text(encoding="utf-8"))
        return 0
    dump_contract(contract, out, header=header)
    logger.info("contract drafted: %s (%d features); review it, then `make suite`", out, len(contract.features))
    return 0


def cmd_schema_suite(args: argparse.Namespace) -> int:
    from mlci.contract import load_contract
    from mlci.suite import create_gx_project

    contract = load_contract(args.contract)
    project = create_gx_project(contract, args.gx_root.parent, replace=True)
    logger.info("GX project rebuilt from %s: %s", args.contract, project)
    return 0


def cmd_validation_summary(args: argparse.Namespace) -> int:
    from mlci.summary import write_job_summary

    return write_job_summary(args.summary)


def cmd_check_params(args: argparse.Namespace) -> int:
    from mlci.params_check import GROUP, NAME, check_params

    if check_params(args.params):
        logger.info("%s: checked", args.params)
    else:
        logger.info(
            "%s: no params check registered (a `%s` entry point in group %s): not checked", args.params, NAME, GROUP
        )
    return 0


def cmd_missing_data(args: argparse.Namespace) -> int:
    from mlci.dvcfiles import unrecoverable_data

    missing = unrecoverable_data(Path("."), args.dvc_file)
    if not missing:
        return 0
    logger.error(
        "%s tracks %s, which neither the DVC cache nor the DVC remote holds: run `dvc push` on the machine that "
        "has it, or `git checkout <commit> -- %s` for a version that was pushed",
        args.dvc_file,
        ", ".join(missing),
        args.dvc_file,
    )
    return EXIT_FAILED


def cmd_metrics(args: argparse.Namespace) -> int:
    from mlci.metrics_tables import format_metrics, format_metrics_markdown

    print(format_metrics_markdown(args.root) if args.markdown else format_metrics(args.root))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from mlci.report import build_report_files, run_url_from_env

    report = build_report_files(
        args.root,
        args.base_ref or None,
        args.out,
        run_url_from_env(os.environ),
        level=args.level,
        permutations=args.permutations,
    )
    logger.info("report written: %s (and %s)", report, report.with_name("comment.md"))
    return 0


def cmd_gate(args: argparse.Namespace) -> int:
    from mlci.gate import GATE_JSON, GATE_MD, annotations, assess
    from mlci.report.render import gate_summary_markdown

    out = args.out
    for name in (GATE_JSON, GATE_MD):  # a run that stops on an error must not leave the last run's verdict
        (out / name).unlink(missing_ok=True)
    result = assess(args.root, args.base_ref or None, args.gates, override=args.override or None)
    markdown = gate_summary_markdown(result)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / GATE_JSON, result.to_dict())
    (out / GATE_MD).write_text(markdown, encoding="utf-8")
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(markdown)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for line in annotations(result):
            sys.stdout.write(line + "\n")
    for check in result.breached:
        (logger.warning if result.override else logger.error)("gate breached: %s", check.line())
    if result.status == "failed":
        logger.error("quality gate failed: %d of %d gates breached (%s)", len(result.breached), len(result.checks), out)
    elif result.status == "overridden":
        logger.warning("quality gate breached, accepted by %s: passing with a warning", result.override)
    else:
        logger.info("quality gate passed (%d gates; %s)", len(result.checks), out / GATE_MD)
    return result.exit_code


def cmd_monitor(args: argparse.Namespace) -> int:
    from mlci.contract import load_contract
    from mlci.monitor import MONITOR_JSON, MONITOR_MD, monitor, monitor_markdown
    from mlci.report import run_url_from_env

    out = args.out
    for name in (MONITOR_MD, MONITOR_JSON):  # a run that stops on an error must not leave the last run's verdict
        (out / name).unlink(missing_ok=True)
    contract = load_contract(args.contract)
    result = monitor(
        contract,
        args.recent if args.recent is not None else contract.path,
        args.reference,
        gx_root=args.gx_root,
        level=args.level,
        permutations=args.permutations,
    )
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / MONITOR_JSON, {**result.to_dict(), "title": result.title()})
    body = out / MONITOR_MD
    body.write_text(monitor_markdown(result, run_url_from_env(os.environ)), encoding="utf-8")
    if result.alarm:
        logger.error("monitor alarm (%s): see %s", ", ".join(result.reasons()), body)
        return EXIT_FAILED
    logger.info("monitor clean: the recent data is valid and has not drifted (%s)", body)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from mlci.serve import create_app, load_served_model, serve
    from mlci.serving.bundle import collect_metadata, read_bundle
    from mlci.serving.verify import verify_for_serving

    if args.bundle is not None:
        # verified before anything in it is read: a changed metadata.json is refused, not parsed
        key = args.public_key or os.environ.get("MLCI_PUBLIC_KEY") or None
        identity = args.signer_identity or os.environ.get("MLCI_SIGNER_IDENTITY") or None
        verification = verify_for_serving(args.bundle, key and Path(key), identity, args.allow_unsigned)
        model_dir, contract, metadata = read_bundle(args.bundle)
        metadata["verification"] = verification
        logger.info("bundle %s: signature %s", args.bundle, verification["signature"])
    else:
        model_dir, contract = args.model_dir, args.contract
        metadata = collect_metadata(Path("."), model_dir, args.model_version)
        metadata["verification"] = {"verified": False, "signature": "none: the workspace's model, not a bundle"}
    if args.model_version:
        metadata["version"] = args.model_version
    model = load_served_model(
        model_dir, contract, metadata, args.device, args.predictor, args.max_rows, args.max_body_bytes
    )
    serve(create_app(model), args.host, args.port)
    return 0


def cmd_bundle(args: argparse.Namespace) -> int:
    from mlci.serving.bundle import write_bundle

    out = write_bundle(Path("."), args.out, args.model_dir, args.model_version)
    logger.info("serving bundle written: %s (build the serving image from it: Containerfile.serve)", out)
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    from mlci.serving.signing import generate_key_pair, key_fingerprint

    private, public = generate_key_pair(args.out, args.name)
    logger.info("key pair written: %s (private: keep it secret) and %s (%s)", private, public, key_fingerprint(public))
    return 0


def cmd_sign(args: argparse.Namespace) -> int:
    from mlci.serving.signing import sign_bundle

    signature = sign_bundle(args.bundle, args.private_key)
    how = f"with {args.private_key}" if args.private_key else "keyless (Sigstore)"
    logger.info("signed %s %s: %s", args.bundle, how, signature)
    return 0


def signer_identity(args: argparse.Namespace) -> str | None:
    """The keyless identity to expect: --identity as given, or the release workflow of --repository at --ref."""
    from mlci.serving.signing import github_identity

    if args.identity:
        return args.identity
    if args.repository:
        return github_identity(args.repository, args.ref or "refs/tags/{version}", args.workflow)
    return None


def cmd_verify(args: argparse.Namespace) -> int:
    from mlci.serving.verify import VerificationError, verify_archive, verify_bundle

    identity = signer_identity(args)
    if args.public_key is None and identity is None and not args.files_only:
        raise VerificationError(
            "nothing to check the signature against: pass --public-key KEY, or --repository OWNER/REPO for a keyless "
            "release (--files-only checks the files alone)"
        )
    verify = verify_bundle if Path(args.bundle).is_dir() else verify_archive
    result = verify(args.bundle, args.public_key, identity, issuer=args.issuer, offline=args.offline)
    logger.info("%s: %s", args.bundle, result.line())
    return 0


def cmd_model_card(args: argparse.Namespace) -> int:
    from mlci.model_card import write_model_card

    card = write_model_card(Path("."), args.out, args.template, args.bundle, args.model_version)
    logger.info("model card written: %s", card)
    return 0


def cmd_smoke_test(args: argparse.Namespace) -> int:
    from mlci.contract import load_contract
    from mlci.serving.smoke import smoke_test

    checked = smoke_test(args.url.rstrip("/"), load_contract(args.contract), args.rows, args.expected, args.batch)
    logger.info("smoke test passed: %d rows answered as evaluated, a bad row refused with 422", checked)
    return 0


def cmd_template_files(args: argparse.Namespace) -> int:
    from mlci.template.manifest import load_manifest, tracked_files

    for path in load_manifest(args.root).template_files(tracked_files(args.root)):
        print(path)
    return 0


def cmd_template_check(args: argparse.Namespace) -> int:
    from mlci.template.check import fence_problems

    problems = fence_problems(args.root)
    for problem in problems:
        logger.error("%s", problem)
    if problems:
        logger.error("template.toml: %d problem(s) with the fence between your files and the template's", len(problems))
        return EXIT_FAILED
    logger.info("template.toml: every tracked file is on one side; no template file names the project")
    return 0


def cmd_template_update(args: argparse.Namespace) -> int:
    from mlci.template.update import NEEDS_REVIEW, render_report, update_template

    result = update_template(args.root, args.source, args.ref)
    report = render_report(result)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(report, encoding="utf-8")
    for path, outcome in sorted(result.outcomes.items()):
        level = logging.WARNING if outcome in NEEDS_REVIEW else logging.INFO
        logger.log(level, "%-12s %s", outcome, path)
    if result.changed:
        logger.info(
            "template %s -> %s: %d files (report: %s)",
            result.old_version,
            result.new_version,
            len(result.outcomes),
            args.report,
        )
    else:
        logger.info("template %s: this copy is current, nothing changed", result.new_version)
    return 0


def cmd_template_test_scope(args: argparse.Namespace) -> int:
    from mlci.template.scope import decide_scope

    scope = decide_scope(args.root, args.base)
    logger.info("test scope: %s (%s)", scope.scope, scope.reason)
    print(scope.scope)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlci", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    contract = {"type": Path, "default": Path(CONTRACT), "help": "the data contract (default: %(default)s)"}
    gx_root = {"type": Path, "default": Path(GX_ROOT), "help": "the GX project folder (default: %(default)s)"}

    validate = commands.add_parser("validate", help="validate the raw data with the GX suite built from the contract")
    validate.add_argument("--contract", **contract)
    validate.add_argument("--data", type=Path, default=None, help="the data file (default: the contract's path)")
    validate.add_argument("--gx-root", **gx_root)
    validate.add_argument(
        "--summary", type=Path, default=Path(VALIDATION_SUMMARY), help="the summary, replaced only when the data passes"
    )
    validate.add_argument(
        "--failed-summary",
        type=Path,
        default=Path(VALIDATION_FAILURES),
        help="where a failed validation's summary goes (default: %(default)s)",
    )
    validate.add_argument(
        "--max-mb",
        type=float,
        default=None,
        help="refuse a data file over this many MB (validation reads it whole: about 10 MB of memory per MB; "
        "default: MLCI_VALIDATE_MAX_MB, else 200)",
    )
    validate.set_defaults(run=cmd_validate)

    schema = commands.add_parser("schema", help="draft the data contract, or rebuild the GX suite from it")
    schema_commands = schema.add_subparsers(dest="schema_command", required=True, metavar="SCHEMA_COMMAND")
    infer = schema_commands.add_parser("infer", help="draft a contract from a CSV, for a person to review")
    infer.add_argument("data", type=Path, help="the CSV to draft from")
    infer.add_argument("--target", required=True, help="the column the model predicts")
    infer.add_argument("--id", default=None, help="a unique row id column, if there is one")
    infer.add_argument("--task", choices=("classification", "regression"), default=None, help="default: guessed")
    infer.add_argument("--margin", type=float, default=0.1, help="widen observed ranges by this share of their span")
    infer.add_argument("--out", type=Path, default=None, help="write here (default: print)")
    infer.set_defaults(run=cmd_schema_infer)
    suite = schema_commands.add_parser("suite", help="rebuild the GX project (gx/) from the contract")
    suite.add_argument("--contract", **contract)
    suite.add_argument("--gx-root", **gx_root)
    suite.set_defaults(run=cmd_schema_suite)

    job_summary = commands.add_parser(
        "validation-summary", help="the validation summary as a CI job summary and one annotation per failure"
    )
    job_summary.add_argument("summary", type=Path, nargs="?", default=Path(VALIDATION_SUMMARY))
    job_summary.set_defaults(run=cmd_validation_summary)

    missing = commands.add_parser(
        "missing-data",
        help="after a failed `dvc pull`: name the tracked files neither the DVC cache nor the remote holds (exit 1)",
    )
    missing.add_argument("dvc_file", help="the .dvc file, e.g. data.dvc")
    missing.set_defaults(run=cmd_missing_data)

    check_params = commands.add_parser(
        "check-params", help="run the project's check of params.yaml (its mlci.params_check entry point)"
    )
    check_params.add_argument("--params", type=Path, default=Path("params.yaml"), help="the params file")
    check_params.set_defaults(run=cmd_check_params)

    metrics = commands.add_parser("metrics", help="print the metrics files dvc.yaml lists, as tables")
    metrics.add_argument("--markdown", action="store_true", help="Markdown tables (for a CI job summary)")
    metrics.add_argument("--root", type=Path, default=Path("."), help="repository root")
    metrics.set_defaults(run=cmd_metrics)

    report = commands.add_parser("report", help="the PR report: metrics, params, validation and data vs a base ref")
    report.add_argument("--base-ref", default="main", help="git ref to compare with; empty for no comparison")
    report.add_argument("--out", type=Path, default=Path("report"), help="folder for report.md, comment.md, PNGs")
    report.add_argument("--root", type=Path, default=Path("."), help="repository root (the workspace)")
    report.add_argument("--level", type=float, default=0.05, help="drift tests' overall false-alarm level")
    report.add_argument("--permutations", type=int, default=1000, help="MMD permutation test's permutations")
    report.set_defaults(run=cmd_report)

    gate = commands.add_parser(
        "gate", help="check the quality gates (gates.yaml) on the predictions against a base ref (exit 1: breached)"
    )
    gate.add_argument("--base-ref", default="main", help="git ref to compare with; empty for no comparison")
    gate.add_argument("--gates", type=Path, default=Path("gates.yaml"), help="the gates file (default: %(default)s)")
    gate.add_argument("--out", type=Path, default=Path("report"), help="folder for gate.json and gate.md")
    gate.add_argument("--root", type=Path, default=Path("."), help="repository root (the workspace)")
    gate.add_argument(
        "--override", default="", help='who accepts a breach (e.g. "label `accept-regression`"): warn, exit 0'
    )
    gate.set_defaults(run=cmd_gate)

    monitor = commands.add_parser(
        "monitor", help="validate a recent data sample and test it for drift against the training data (exit 1: alarm)"
    )
    monitor.add_argument("--recent", type=Path, default=None, help="the recent sample (default: the contract's data)")
    monitor.add_argument("--reference", type=Path, default=None, help="the training data (default: the contract's)")
    monitor.add_argument("--contract", **contract)
    monitor.add_argument("--gx-root", **gx_root)
    monitor.add_argument("--out", type=Path, default=Path("reports/monitor"), help="folder for monitor.md and .json")
    monitor.add_argument("--level", type=float, default=0.05, help="drift tests' overall false-alarm level")
    monitor.add_argument("--permutations", type=int, default=1000, help="MMD permutation test's permutations")
    monitor.set_defaults(run=cmd_monitor)

    serving_common = argparse.ArgumentParser(add_help=False)
    serving_common.add_argument("--model-version", default=None, help="version to report (default: git describe)")
    serving_common.add_argument(
        "--model-dir", type=Path, default=Path(MODEL_DIR), help="the trained model folder (default: %(default)s)"
    )
    serve = commands.add_parser(
        "serve", parents=[serving_common], help="serve the model over HTTP: /health, /metadata, POST /predict"
    )
    serve.add_argument("--bundle", type=Path, default=None, help="serve a bundle (`mlci bundle`), not the workspace")
    serve.add_argument("--contract", **contract)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 in a container)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto: CUDA when present")
    serve.add_argument("--predictor", default=None, help="module:function (default: the mlci.predictor entry point)")
    serve.add_argument("--max-rows", type=int, default=1024, help="rows per request; more is a 413")
    serve.add_argument(
        "--public-key", type=Path, default=None, help="verify the bundle's signature with it (env MLCI_PUBLIC_KEY)"
    )
    serve.add_argument(
        "--signer-identity", default=None, help="the keyless signer to expect (env MLCI_SIGNER_IDENTITY)"
    )
    serve.add_argument("--allow-unsigned", action="store_true", help="serve a bundle with no signature (local work)")
    serve.add_argument(
        "--max-body-bytes", type=int, default=8 * 1024 * 1024, help="request body size; more is a 413, before parsing"
    )
    serve.set_defaults(run=cmd_serve)

    bundle = commands.add_parser(
        "bundle", parents=[serving_common], help="the model, contract and metadata in one folder (the serving image's)"
    )
    bundle.add_argument("--out", type=Path, default=Path("build/serve"), help="folder to (re)write")
    bundle.set_defaults(run=cmd_bundle)

    keygen = commands.add_parser("keygen", help="a new EC key pair to sign bundles with (where keyless signing is not)")
    keygen.add_argument("--out", type=Path, default=Path("build/keys"), help="folder (default: %(default)s)")
    keygen.add_argument("--name", default="signing-key", help="<name>.pem (private) and <name>.pub")
    keygen.set_defaults(run=cmd_keygen)

    sign = commands.add_parser("sign", help="sign every file of a bundle into BUNDLE/model.sig (model-signing)")
    sign.add_argument("bundle", type=Path, help="the bundle folder (`mlci bundle`)")
    sign.add_argument("--private-key", type=Path, default=None, help="PEM EC key; default: keyless (Sigstore, OIDC)")
    sign.set_defaults(run=cmd_sign)

    verify = commands.add_parser(
        "verify", help="check a bundle's (or model archive's) signature and every file's hash (exit 1: names the file)"
    )
    verify.add_argument("bundle", type=Path, help="a bundle folder or a released model-vX.Y.Z.tar.gz")
    verify.add_argument("--public-key", type=Path, default=None, help="PEM public key of a key-signed bundle")
    verify.add_argument("--repository", default=None, help="OWNER/REPO whose release workflow signed it (keyless)")
    verify.add_argument("--workflow", default=".github/workflows/release.yml", help="the signing workflow's path")
    verify.add_argument("--ref", default=None, help="the ref it ran on (default: refs/tags/<metadata.json's version>)")
    verify.add_argument("--identity", default=None, help="the exact keyless identity (overrides --repository)")
    verify.add_argument("--issuer", default="https://token.actions.githubusercontent.com", help="the OIDC issuer")
    verify.add_argument("--files-only", action="store_true", help="check the files against the manifest only")
    verify.add_argument("--offline", action="store_true", help="keyless: use the Sigstore root sigstore ships")
    verify.set_defaults(run=cmd_verify)

    card = commands.add_parser("model-card", help="write the model card (Markdown) from the template and the outputs")
    card.add_argument("--out", type=Path, default=Path("build/release/MODEL_CARD.md"))
    card.add_argument("--template", type=Path, default=None, help="default: templates/model_card.md.j2")
    card.add_argument("--bundle", type=Path, default=None, help="read the metadata from this bundle")
    card.add_argument("--model-version", default=None, help="version to show (default: git describe)")
    card.set_defaults(run=cmd_model_card)

    smoke = commands.add_parser("smoke-test", help="check a running server against the evaluate stage's predictions")
    smoke.add_argument("--url", default="http://127.0.0.1:8000", help="the server (default: %(default)s)")
    smoke.add_argument("--rows", type=Path, default=Path("artifacts/split/test.csv"), help="rows to post")
    smoke.add_argument("--expected", type=Path, default=Path(PREDICTIONS), help="the evaluate stage's predictions")
    smoke.add_argument("--contract", **contract)
    smoke.add_argument("--batch", type=int, default=64)
    smoke.set_defaults(run=cmd_smoke_test)
    template = commands.add_parser("template", help="the fence (template.toml): which files are the template's")
    template_commands = template.add_subparsers(dest="template_command", required=True, metavar="TEMPLATE_COMMAND")
    root = {"type": Path, "default": Path("."), "help": "repository root (default: %(default)s)"}
    files = template_commands.add_parser("files", help="print the template-owned tracked files, one a line")
    files.add_argument("--root", **root)
    files.set_defaults(run=cmd_template_files)
    check = template_commands.add_parser(
        "check", help="fail on a tracked file on neither side, or a template file naming the project"
    )
    check.add_argument("--root", **root)
    check.set_defaults(run=cmd_template_check)
    update = template_commands.add_parser("update", help="bring a template release's files into this copy")
    update.add_argument("--source", default=None, help="the template's git URL or path (default: template.toml's)")
    update.add_argument("--ref", default=None, help="the release tag (default: the newest v* tag)")
    update.add_argument("--report", type=Path, default=Path("build/template-update.md"), help="where the report goes")
    update.add_argument("--root", **root)
    update.set_defaults(run=cmd_template_update)
    scope = template_commands.add_parser("test-scope", help="print `full` or `project`: the tests `make test` runs")
    scope.add_argument("--base", default="main", help="the ref changes are measured from (default: %(default)s)")
    scope.add_argument("--root", **root)
    scope.set_defaults(run=cmd_template_test_scope)
    return parser


@contextlib.contextmanager
def command_logging(level: int) -> Iterator[None]:
    """Log to stderr at `level` for one command, then put the root logger back as it was.

    `main` runs in-process too (tests, a notebook): the caller's handlers are set aside, not closed, and no level
    outlives the call.
    """
    root, chatter = logging.getLogger(), logging.getLogger("great_expectations")
    handlers, root_level, chatter_level = root.handlers[:], root.level, chatter.level
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    for other in handlers:
        root.removeHandler(other)
    root.addHandler(handler)
    root.setLevel(level)
    chatter.setLevel(logging.WARNING)  # its INFO lines are internal chatter
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()
        for other in handlers:
            root.addHandler(other)
        root.setLevel(root_level)
        chatter.setLevel(chatter_level)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a UserFacingError becomes one `error:` line and exit status 1."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    with command_logging(logging.DEBUG if args.verbose else logging.INFO):
        try:
            return args.run(args)
        except UserFacingError as error:
            logger.error("%s", error)
            return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
