#!/usr/bin/env python3
"""Peer side of the decoding benchmark (see bench/src/bin/decode.rs and bench/decode.sh).

Reads the files `decode --make DIR` wrote and turns each into a float32 image in [0, 1], the
same work boneage's `read_radiograph` does:

* PNG (16-bit grey) with PIL + numpy, and with OpenCV `cv2.imread(IMREAD_UNCHANGED)` when
  OpenCV is installed: samples / 65535.
* DICOM (uncompressed, 16-bit, no rescale, no window) with pydicom + numpy: the modality LUT
  (identity here, applied anyway), then the frame's min..max mapped to [0, 1], as boneage
  does when a file has no window.

Each timing is the median of N runs after one warm-up, file read included. Prints one JSON
object per implementation, with `*_mean` (mean output pixel) to check the work matches.

usage: decode_peer.py [--iters N] DIR
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

PNG_NAME = "hand16.png"
DICOM_NAME = "hand16.dcm"


def median_seconds(iters, f):
    f()
    times = []
    for _ in range(max(iters, 1)):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def png_pil(path):
    from PIL import Image

    with Image.open(path) as im:
        a = np.asarray(im)
    if a.dtype != np.uint16:
        # Older Pillow opens 16-bit grey as mode "I" (int32).
        a = a.astype(np.uint16)
    out = a.astype(np.float32)
    out *= np.float32(1.0 / 65535.0)
    return out


def png_cv2(path):
    import cv2

    a = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if a is None or a.dtype != np.uint16:
        raise RuntimeError(f"OpenCV did not read {path} as 16-bit")
    out = a.astype(np.float32)
    out *= np.float32(1.0 / 65535.0)
    return out


def dicom_pydicom(path):
    import pydicom

    try:
        from pydicom.pixels import apply_modality_lut  # pydicom >= 3
    except ImportError:
        from pydicom.pixel_data_handlers.util import apply_modality_lut

    ds = pydicom.dcmread(path)
    a = apply_modality_lut(ds.pixel_array, ds)
    out = a.astype(np.float32)
    lo, hi = out.min(), out.max()
    out -= lo
    if hi > lo:
        out *= np.float32(1.0 / (hi - lo))
    if ds.PhotometricInterpretation == "MONOCHROME1":
        out = 1.0 - out
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", type=Path)
    ap.add_argument("--iters", type=int, default=15)
    args = ap.parse_args()
    png = args.dir / PNG_NAME
    dcm = args.dir / DICOM_NAME
    for p in (png, dcm):
        if not p.exists():
            sys.exit(f"{p}: missing (run `decode --make {args.dir}` first)")

    results = []
    import PIL

    results.append(
        {
            "impl": f"PIL {PIL.__version__} + numpy {np.__version__}",
            "png_s": median_seconds(args.iters, lambda: png_pil(png)),
            "png_mean": float(png_pil(png).mean(dtype=np.float64)),
        }
    )
    try:
        import cv2

        results.append(
            {
                "impl": f"OpenCV {cv2.__version__} imread + numpy",
                "png_s": median_seconds(args.iters, lambda: png_cv2(png)),
                "png_mean": float(png_cv2(png).mean(dtype=np.float64)),
            }
        )
    except ImportError:
        print("decode_peer.py: OpenCV (cv2) not installed; its PNG row is skipped", file=sys.stderr)
    try:
        import pydicom

        results.append(
            {
                "impl": f"pydicom {pydicom.__version__} + numpy",
                "dicom_s": median_seconds(args.iters, lambda: dicom_pydicom(dcm)),
                "dicom_mean": float(dicom_pydicom(dcm).mean(dtype=np.float64)),
            }
        )
    except ImportError:
        print("decode_peer.py: pydicom not installed; its DICOM row is skipped", file=sys.stderr)
    for r in results:
        r["iters"] = args.iters
        print(json.dumps(r))


if __name__ == "__main__":
    main()
