#!/usr/bin/env python3
"""Writes the OpenCV CLAHE fixtures that crates/boneage-imaging/tests/clahe_opencv.rs checks
boneage's CLAHE against (OpenCV is not available when the Rust tests run).

    .venv/bin/python bench/clahe_fixtures.py   # needs numpy and opencv-python-headless

Inputs:
  rad8.png   a real radiograph (rsna-sample wandb_2ad03ad3c05db0255a86.png) read as 8-bit grey
             and resized with INTER_AREA to 160x200 (width x height);
  syn16.png  a synthetic 16-bit 97x61 image: a diagonal gradient plus a blob plus seeded
             Gaussian noise (numpy default_rng(1234)).
Outputs, for each input and each setting (clip 2.0 with 8x8 tiles, clip 3.0 with 4x6 tiles,
tileGridSize given as (width, height) = (tiles_x, tiles_y)):
  <input>_clip2_8x8.png, <input>_clip3_4x6.png   cv2.createCLAHE(clip, (tx, ty)).apply(img)
"""
import os
import sys

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = "/work/shared/data/rsna-sample/images/wandb_2ad03ad3c05db0255a86.png"
OUT = os.path.join(ROOT, "crates", "boneage-imaging", "tests", "fixtures", "clahe")
SETTINGS = [(2.0, 8, 8, "clip2_8x8"), (3.0, 4, 6, "clip3_4x6")]


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else SRC
    os.makedirs(OUT, exist_ok=True)
    img = cv2.imread(src, cv2.IMREAD_GRAYSCALE)
    if img is None:
        sys.exit(f"clahe_fixtures.py: cannot read {src}")
    rad8 = cv2.resize(img, (160, 200), interpolation=cv2.INTER_AREA)

    rng = np.random.default_rng(1234)
    h, w = 61, 97
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    base = 8000 + 30000 * (xx / (w - 1)) * 0.6 + 30000 * (yy / (h - 1)) * 0.4
    base += 15000 * np.exp(-((xx - 60) ** 2 + (yy - 25) ** 2) / (2 * 12.0**2))
    syn16 = np.clip(base + rng.normal(0, 600, size=(h, w)), 0, 65535).astype(np.uint16)

    for name, im in (("rad8", rad8), ("syn16", syn16)):
        cv2.imwrite(os.path.join(OUT, f"{name}.png"), im)
        for clip, tx, ty, tag in SETTINGS:
            out = cv2.createCLAHE(clipLimit=clip, tileGridSize=(tx, ty)).apply(im)
            cv2.imwrite(os.path.join(OUT, f"{name}_{tag}.png"), out)
    print(f"OpenCV {cv2.__version__}: wrote fixtures to {OUT}")


if __name__ == "__main__":
    main()
