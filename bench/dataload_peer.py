"""The same data path as boneage_nn::data with a torch DataLoader: PIL decode, fit into
128x160 (area resize, letterbox on 0), random affine (rotation ±15°, shift ±5%, scale ±10%,
bilinear), gamma, contrast, Gaussian noise, per-image standardisation, batches of 16,
2 worker processes. Prints images/s (median of 3 epochs after a warm-up)."""
import csv
import json
import math
import os
import sys
import time

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

W, H = 128, 160


class Phantoms(Dataset):
    def __init__(self, root):
        with open(os.path.join(root, "labels.csv")) as f:
            self.rows = list(csv.DictReader(f))
        self.root = root

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        r = self.rows[i]
        rng = np.random.default_rng(i + 1000 * torch.initial_seed() % 1000)
        img = Image.open(os.path.join(self.root, "images", r["id"] + ".png")).convert("F")
        s = min(W / img.width, H / img.height)
        fw, fh = max(1, round(img.width * s)), max(1, round(img.height * s))
        img = img.resize((fw, fh), Image.BOX)
        canvas = Image.new("F", (W, H), 0.0)
        canvas.paste(img, ((W - fw) // 2, (H - fh) // 2))
        ang, sc = rng.uniform(-15, 15), 1 + rng.uniform(-0.1, 0.1)
        dx, dy = rng.uniform(-0.05, 0.05) * W, rng.uniform(-0.05, 0.05) * H
        a = math.radians(ang)
        c, si = math.cos(a) / sc, math.sin(a) / sc
        cx, cy = (W - 1) / 2, (H - 1) / 2
        # Output -> input map for PIL's affine transform.
        coeffs = (c, si, cx - c * (cx + dx) - si * (cy + dy), -si, c, cy + si * (cx + dx) - c * (cy + dy))
        canvas = canvas.transform((W, H), Image.AFFINE, coeffs, resample=Image.BILINEAR)
        x = np.asarray(canvas, dtype=np.float32) / 255.0
        x = np.clip(x, 0, 1) ** math.exp(rng.uniform(-math.log(1.3), math.log(1.3)))
        m = x.mean()
        x = m + (1 + rng.uniform(-0.2, 0.2)) * (x - m)
        x = x + rng.normal(0, 0.02, x.shape).astype(np.float32)
        x = (x - x.mean()) / max(x.std(), 1e-6)
        return torch.from_numpy(x[None].astype(np.float32)), float(r["male"] == "True"), float(r["boneage"])


def main():
    root = sys.argv[1]
    torch.set_num_threads(1)
    dl = DataLoader(Phantoms(root), batch_size=16, shuffle=True, num_workers=2, persistent_workers=True)
    for _ in dl:
        pass
    rates = []
    for _ in range(3):
        t = time.perf_counter()
        n = sum(len(b[0]) for b in dl)
        rates.append(n / (time.perf_counter() - t))
    rates.sort()
    print(json.dumps({"impl": f"torch DataLoader {torch.__version__}", "workers": 2, "images_per_s": rates[1], "n": len(dl.dataset)}))


if __name__ == "__main__":
    main()
