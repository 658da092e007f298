#!/usr/bin/env python3
"""Makes the quality gate's set of pictures that are not readable hand radiographs.

    python3 scripts/non-hand-set.py OUT [REAL_IMAGES_DIR]

needs numpy, opencv-python-headless and scikit-image (for its bundled sample photographs:
astronaut, camera, coins, moon, page of text, retina, rocket, ...). Writes into OUT: every
scikit-image sample photo in grey (photo-*.png), blank films (white, black, grey), white and
smooth noise, a grey ramp, a page of printed text, a crude synthetic chest film, random bright
blobs, and, from the first six radiographs of REAL_IMAGES_DIR (if given), each one cut to its
forearm (bottom 28%), to its fingertips (top 30%) and shrunk twelvefold. Then

    boneage predict --sex F OUT/*.png

should answer every one `"status": "rejected"` (README, "Quality gate").
"""
import glob
import os
import sys

import cv2
import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
try:
    import skimage
    photos = os.path.join(os.path.dirname(skimage.__file__), "data")
except ImportError:
    sys.exit("scikit-image is needed for its sample photographs: pip install scikit-image")
for f in sorted(glob.glob(photos + "/*.png") + glob.glob(photos + "/*.jpg")):
    im = cv2.imread(f, cv2.IMREAD_GRAYSCALE)
    if im is not None:
        cv2.imwrite(f"{out}/photo-{os.path.basename(f).split('.')[0]}.png", im)
rng = np.random.default_rng(1)
H, W = 1000, 800
cv2.imwrite(f"{out}/blank-white.png", np.full((H, W), 255, np.uint8))
cv2.imwrite(f"{out}/blank-black.png", np.zeros((H, W), np.uint8))
cv2.imwrite(f"{out}/blank-grey.png", np.full((H, W), 128, np.uint8))
cv2.imwrite(f"{out}/noise-gauss.png", np.clip(rng.normal(128, 50, (H, W)), 0, 255).astype(np.uint8))
sm = cv2.GaussianBlur(rng.normal(0, 1, (H, W)).astype(np.float32), (0, 0), 25)
sm = (sm - sm.min()) / (sm.max() - sm.min()) * 255
cv2.imwrite(f"{out}/noise-smooth.png", sm.astype(np.uint8))
cv2.imwrite(f"{out}/gradient.png", np.tile(np.linspace(0, 255, W), (H, 1)).astype(np.uint8))
page = np.full((H, W), 20, np.uint8)
for i in range(18):
    cv2.putText(page, "Lorem ipsum dolor sit amet %d" % i, (30, 50 + i * 52),
                cv2.FONT_HERSHEY_SIMPLEX, 1.1, 230, 2)
cv2.imwrite(f"{out}/text-page.png", page)
# A crude chest film: body, two dark lungs, ribs, spine.
c = np.full((H, W), 30, np.float32)
cv2.ellipse(c, (400, 520), (360, 430), 0, 0, 360, 170, -1)
for cx in (250, 550):
    cv2.ellipse(c, (cx, 480), (120, 260), 0, 0, 360, 80, -1)
for k in range(9):
    cv2.ellipse(c, (400, 300 + k * 50), (300, 60), 0, 200, 340, 200, 6)
cv2.rectangle(c, (380, 100), (420, 950), 210, -1)
c = cv2.GaussianBlur(c, (0, 0), 4) + rng.normal(0, 6, (H, W))
cv2.imwrite(f"{out}/synthetic-chest.png", np.clip(c, 0, 255).astype(np.uint8))
b = np.full((H, W), 25, np.uint8)
for k in range(12):
    cv2.ellipse(b, (int(rng.integers(0, W)), int(rng.integers(0, H))),
                (int(rng.integers(20, 150)), int(rng.integers(20, 150))),
                float(rng.integers(0, 180)), 0, 360, int(rng.integers(80, 250)), -1)
cv2.imwrite(f"{out}/blobs.png", b)
if len(sys.argv) > 2:
    for f in sorted(glob.glob(sys.argv[2] + "/*.png"))[:6]:
        im = cv2.imread(f, cv2.IMREAD_GRAYSCALE)
        h, w = im.shape
        n = os.path.basename(f)[:-4]
        cv2.imwrite(f"{out}/crop-forearm-{n}.png", im[int(h * 0.72):, :])
        cv2.imwrite(f"{out}/crop-fingertips-{n}.png", im[: int(h * 0.3), :])
        cv2.imwrite(f"{out}/tiny-{n}.png", cv2.resize(im, (w // 12, h // 12), interpolation=cv2.INTER_AREA))
print(f"{len(os.listdir(out))} pictures in {out}")
