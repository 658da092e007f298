"""The same VGG-style bone age net as boneage_nn::vgg (default config: 6 blocks of 2 x
(conv3x3 -> ELU -> BatchNorm) + max-pool, channels 32..256, 2x2 average pool, sex dense 16,
dense 256, dropout 0.3, one output) in PyTorch: training step and inference, images/s."""
import json
import sys
import time

import torch
from torch import nn


class Vgg(nn.Module):
    def __init__(self, base=32, cap=256, blocks=(2, 2, 2, 2, 2, 2), pooled=2, sex=16, dense=256):
        super().__init__()
        layers, cin = [], 1
        for b, convs in enumerate(blocks):
            cout = min(base << b, cap)
            for _ in range(convs):
                layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ELU(), nn.BatchNorm2d(cout)]
                cin = cout
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(pooled)
        self.sex = nn.Linear(1, sex)
        self.dense = nn.Linear(cin * pooled * pooled + sex, dense)
        self.drop = nn.Dropout(0.3)
        self.out = nn.Linear(dense, 1)

    def forward(self, x, s):
        f = self.pool(self.features(x)).flatten(1)
        f = torch.cat([f, nn.functional.elu(self.sex(s))], 1)
        return self.out(self.drop(nn.functional.elu(self.dense(f))))


def median(fn, iters):
    fn()
    ts = []
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    ts.sort()
    return ts[len(ts) // 2]


def main():
    threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 2
    iters = int(sys.argv[sys.argv.index("--iters") + 1]) if "--iters" in sys.argv else 10
    layout = sys.argv[sys.argv.index("--layout") + 1] if "--layout" in sys.argv else "channels_last"
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    net = Vgg().to(memory_format=fmt)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.01)
    x = torch.randn(8, 1, 256, 256).to(memory_format=fmt)
    s = torch.tensor([[1.0], [0.0]] * 4)
    y = torch.rand(8, 1) * 2 - 1

    def train():
        net.train()
        opt.zero_grad()
        loss = nn.functional.l1_loss(net(x, s), y)
        loss.backward()
        opt.step()

    def infer():
        net.eval()
        with torch.no_grad():
            net(x, s)

    tr = median(train, iters)
    inf = median(infer, iters)
    print(json.dumps({"impl": f"PyTorch {torch.__version__}", "layout": layout, "threads": threads,
                      "batch": 8, "train_images_per_s": 8 / tr, "infer_images_per_s": 8 / inf}))


if __name__ == "__main__":
    main()
