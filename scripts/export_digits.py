"""Export scikit-learn's bundled UCI optical digits to data/digits.csv (run once; the CSV is tracked by DVC).

Origin: "Optical Recognition of Handwritten Digits", E. Alpaydin and C. Kaynak, UCI Machine Learning Repository
(https://doi.org/10.24432/C50P49), licensed CC BY 4.0. scikit-learn ships the 1,797-image test part as
`sklearn.datasets.load_digits`: 8x8 images whose pixels count ink in 4x4 blocks (integers 0..16), 10 classes.

Usage: python scripts/export_digits.py [--out data/digits.csv]
"""

import argparse
from pathlib import Path

import pandas as pd
from sklearn.datasets import load_digits

IMAGE_SIDE = 8


def digits_frame() -> pd.DataFrame:
    """Return the digits as one row per image: a stable `id`, one column per pixel, and `label`."""
    bunch = load_digits()
    pixel_columns = [f"pixel_{row}_{col}" for row in range(IMAGE_SIDE) for col in range(IMAGE_SIDE)]
    frame = pd.DataFrame(bunch.data.astype("int64"), columns=pixel_columns)
    frame.insert(0, "id", range(len(frame)))
    frame["label"] = bunch.target.astype("int64")
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/digits.csv"))
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    digits_frame().to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
