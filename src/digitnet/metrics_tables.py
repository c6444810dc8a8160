"""The evaluation metrics (dvclive/evaluate/metrics.json) as tables: plain text for a terminal, Markdown for CI.

Kept apart from evaluate.py so that printing metrics does not import torch (seconds per call in CI steps).
"""

from __future__ import annotations


def format_metrics(summary: dict) -> str:
    """A plain-text table of a metrics.json summary: headline, per class, per slice."""
    lines = [f"accuracy {summary['accuracy']:.4f}   macro-F1 {summary['macro_f1']:.4f}", ""]
    lines.append(f"{'class':>6} {'precision':>10} {'recall':>8} {'f1':>8} {'support':>8}")
    for label, row in summary["per_class"].items():
        lines.append(
            f"{label:>6} {row['precision']:>10.4f} {row['recall']:>8.4f} {row['f1']:>8.4f} {row['support']:>8d}"
        )
    lines += ["", f"{'slice':>12} {'accuracy':>9} {'support':>8}"]
    for name, row in summary["slices"].items():
        lines.append(f"{name:>12} {row['accuracy']:>9.4f} {row['support']:>8d}")
    return "\n".join(lines)


def format_metrics_markdown(summary: dict) -> str:
    """The same tables as Markdown, for a CI job summary."""
    lines = [
        "| metric | value |",
        "|---|---|",
        f"| accuracy | {summary['accuracy']:.4f} |",
        f"| macro-F1 | {summary['macro_f1']:.4f} |",
        "",
        "| class | precision | recall | f1 | support |",
        "|---|---|---|---|---|",
    ]
    for label, row in summary["per_class"].items():
        lines.append(f"| {label} | {row['precision']:.4f} | {row['recall']:.4f} | {row['f1']:.4f} | {row['support']} |")
    lines += ["", "| slice | accuracy | support |", "|---|---|---|"]
    for name, row in summary["slices"].items():
        lines.append(f"| {name} | {row['accuracy']:.4f} | {row['support']} |")
    return "\n".join(lines)
