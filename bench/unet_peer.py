"""The same U-Net as boneage_nn::unet (default config: 1x320x256 input, base 8 channels, depth
4; blocks of 2 x (conv3x3 no bias -> BatchNorm -> ReLU), 2x2 max-pool, 2x2 transposed-conv
upsampling, skip concatenation, 1x1 head) in PyTorch, with the same BCE + Dice loss and AdamW:
training step and inference, images/s, batch 8."""
import json
import sys

import torch
from torch import nn

from vgg_peer import median


def block(cin, cout):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class UNet(nn.Module):
    def __init__(self, base=8, depth=4):
        super().__init__()
        ch = [base << i for i in range(depth + 1)]
        self.enc = nn.ModuleList([block(1 if i == 0 else ch[i - 1], ch[i]) for i in range(depth)])
        self.mid = block(ch[depth - 1], ch[depth])
        self.up = nn.ModuleList([nn.ConvTranspose2d(ch[i + 1], ch[i], 2, stride=2)
                                 for i in reversed(range(depth))])
        self.dec = nn.ModuleList([block(2 * ch[i], ch[i]) for i in reversed(range(depth))])
        self.head = nn.Conv2d(ch[0], 1, 1)

    def forward(self, x):
        skips = []
        for e in self.enc:
            f = e(x)
            skips.append(f)
            x = nn.functional.max_pool2d(f, 2)
        x = self.mid(x)
        for u, d, s in zip(self.up, self.dec, reversed(skips)):
            x = d(torch.cat([u(x), s], 1))
        return self.head(x)


def loss_fn(logits, target):
    bce = nn.functional.binary_cross_entropy_with_logits(logits, target)
    p = torch.sigmoid(logits)
    dice = (2 * (p * target).sum() + 1) / (p.sum() + target.sum() + 1)
    return bce + (1 - dice)


def main():
    threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 2
    iters = int(sys.argv[sys.argv.index("--iters") + 1]) if "--iters" in sys.argv else 10
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = UNet()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.01)
    x = torch.randn(8, 1, 320, 256)
    y = torch.rand(8, 1, 320, 256).round()

    def train():
        net.train()
        opt.zero_grad()
        loss_fn(net(x), y).backward()
        opt.step()

    def infer():
        net.eval()
        with torch.no_grad():
            torch.sigmoid(net(x))

    t_train = median(train, iters)
    t_infer = median(infer, iters)
    print(json.dumps({"impl": "pytorch", "threads": threads, "batch": 8,
                      "train_images_per_s": 8 / t_train, "infer_images_per_s": 8 / t_infer}))


if __name__ == "__main__":
    main()
