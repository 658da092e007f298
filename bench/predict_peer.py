"""The model steps of `boneage predict` in Python: PyTorch for the nets, OpenCV for the image
steps, on one radiograph, same sizes as the bundle:

  decode (cv2, 16-bit) -> U-Net 256x320 (letterboxed) -> probability resized to full size,
  threshold, largest component -> CLAHE 2.0/8x8 on the full image, black outside the mask ->
  hand cut to its box, keypoint VGG 128x160 -> three region warps (cv2.warpAffine) x TTA views
  -> every member VGG net of the bundle on its region (one batch of TTA views per net).

The nets have the bundle's architectures (read from its manifest and configs) with random
weights: the work per image is the same. Prints JSON: seconds per image (median) for TTA 1 and
the TTA given; with --folder DIR, the images per second over every PNG of DIR, one after another.
"""
import json
import os
import statistics
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from boneage_nets import Vgg  # noqa: E402
from unet_peer import UNet  # noqa: E402

REGIONS = {"A": ((800, 1040), (1500, 2000), (375, 500)),
           "B": ((800, 1620), (800, 800), (256, 256)),
           "C": ((780, 1000), (1200, 960), (320, 256))}


def arg(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def letterbox(img, w, h):
    s = min(w / img.shape[1], h / img.shape[0])
    fw, fh = max(1, round(img.shape[1] * s)), max(1, round(img.shape[0] * s))
    out = np.zeros((h, w), np.float32)
    ox, oy = (w - fw) // 2, (h - fh) // 2
    out[oy:oy + fh, ox:ox + fw] = cv2.resize(img, (fw, fh), interpolation=cv2.INTER_AREA)
    return out


def standardize(x):
    return (x - x.mean()) / max(float(x.std()), 1e-6)


def main():
    image, bundle = arg("--image", None), arg("--bundle", "models/bundle")
    tta, iters = int(arg("--tta", "10")), int(arg("--iters", "5"))
    torch.set_num_threads(int(arg("--threads", "2")))
    manifest = json.load(open(os.path.join(bundle, "manifest.json")))
    unet = UNet().eval()
    kp = json.load(open(os.path.join(bundle, "keypoints", "keypoints.json")))["model"]
    kpnet = Vgg(kp["base_channels"], kp["max_channels"], kp["convs_per_block"], True,
                kp["pooled_size"], 0, kp["dense"], 0.0, 6).eval()
    members = []
    for m in manifest["members"]:
        c = json.load(open(os.path.join(bundle, m["dir"], "config.json")))["model"]
        net = Vgg(c["base_channels"], c["max_channels"], c["convs_per_block"], True,
                  c["pooled_size"], c["sex_embedding"], c["dense"], 0.0,
                  1 if c["head"] == "regression" else 240).eval()
        members.append((m["region"], c["input_width"], c["input_height"], net))
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))

    def once(views):
        raw = cv2.imread(image, cv2.IMREAD_UNCHANGED)
        img = raw.astype(np.float32) / (65535.0 if raw.dtype == np.uint16 else 255.0)
        with torch.no_grad():
            x = torch.from_numpy(standardize(letterbox(img, 256, 320)))[None, None]
            prob = torch.sigmoid(unet(x))[0, 0].numpy()
        mask = (cv2.resize(prob, (img.shape[1], img.shape[0])) > 0.5).astype(np.uint8)
        n, lab, stats, _ = cv2.connectedComponentsWithStats(mask)
        if n > 1:
            mask = (lab == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
        hand = clahe.apply((img * 65535).astype(np.uint16)).astype(np.float32) / 65535.0
        hand *= mask
        ys, xs = np.nonzero(mask) if mask.any() else (np.array([0, img.shape[0] - 1]),
                                                       np.array([0, img.shape[1] - 1]))
        crop = hand[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        with torch.no_grad():
            kpnet(torch.from_numpy(standardize(letterbox(crop, 128, 160)))[None, None],
                  torch.zeros(1, 1))
        # Source -> canonical: a similarity fixed here (the fit is negligible work).
        s = 2080.0 / img.shape[0]
        cuts = {}
        for r, ((cx, cy), (bw, bh), (ow, oh)) in REGIONS.items():
            cuts[r] = []
            for k in range(views):
                a = np.deg2rad(2.0 * k)
                sc = s * ow / bw
                m = np.array([[sc * np.cos(a), -sc * np.sin(a), 0.0],
                              [sc * np.sin(a), sc * np.cos(a), 0.0]])
                m[:, 2] = [ow / 2 - sc * img.shape[1] / 2, oh / 2 - sc * img.shape[0] / 2]
                cuts[r].append(cv2.warpAffine(hand, m, (ow, oh), flags=cv2.INTER_LINEAR))
        with torch.no_grad():
            for region, w, h, net in members:
                x = torch.from_numpy(np.stack([standardize(letterbox(c, w, h))
                                               for c in cuts[region]]))[:, None]
                net(x, torch.ones(views, 1))

    folder = arg("--folder", None)
    if folder:
        # Every radiograph of a folder once, one after another (after one warm-up image).
        files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".png"))
        image = files[0]
        once(1)
        t = time.perf_counter()
        for f in files:
            image = f
            once(1)
        seconds = time.perf_counter() - t
        print(json.dumps({"impl": f"pytorch {torch.__version__} + opencv {cv2.__version__}",
                          "images": len(files), "seconds": seconds,
                          "images_per_second": len(files) / seconds}))
        return
    out = {"impl": f"pytorch {torch.__version__} + opencv {cv2.__version__}"}
    for views, key in ((1, "seconds_tta1"), (tta, f"seconds_tta{tta}")):
        once(views)
        times = []
        for _ in range(iters):
            t = time.perf_counter()
            once(views)
            times.append(time.perf_counter() - t)
        out[key] = statistics.median(times)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
