#!/usr/bin/env python3
"""OpenCV peer for bench/src/bin/clahe.rs: times cv2.createCLAHE(2.0, (8, 8)).apply on
DIR/clahe8.png (median of N runs after one warm-up), with cv2.setNumThreads(1) and with
OpenCV's default thread count, and compares its output with DIR/clahe8_ours.png if present.
Prints one JSON object per line.

    python bench/clahe_peer.py [--iters N] DIR
"""
import argparse
import json
import os
import time

import cv2
import numpy as np


def median_seconds(iters, f):
    f()
    times = []
    for _ in range(max(iters, 1)):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=15)
    ap.add_argument("dir")
    a = ap.parse_args()
    img = cv2.imread(os.path.join(a.dir, "clahe8.png"), cv2.IMREAD_UNCHANGED)
    assert img is not None and img.dtype == np.uint8 and img.ndim == 2
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
    default_threads = cv2.getNumThreads()
    ours_path = os.path.join(a.dir, "clahe8_ours.png")
    ours = cv2.imread(ours_path, cv2.IMREAD_UNCHANGED) if os.path.exists(ours_path) else None
    for threads in (1, default_threads):
        cv2.setNumThreads(threads)
        out = clahe.apply(img)
        secs = median_seconds(a.iters, lambda: clahe.apply(img))
        row = {
            "impl": f"OpenCV {cv2.__version__} ({threads} thread{'s' if threads != 1 else ''})",
            "threads": threads,
            "s": secs,
            "mean": float(out.mean()),
        }
        if ours is not None:
            d = np.abs(out.astype(np.int32) - ours.astype(np.int32))
            row["max_diff"] = int(d.max())
            row["n_diff"] = int((d > 0).sum())
        print(json.dumps(row))
    cv2.setNumThreads(default_threads)


if __name__ == "__main__":
    main()
