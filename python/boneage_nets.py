"""The boneage age nets in PyTorch, with the same layer names as the Rust code, so weights
trained here load in `boneage` (see docs/weights.md).

    from boneage_nets import Vgg, InceptionV3, save_run
    net = InceptionV3(width=1.0, sex_embedding=32, dense=1000, outputs=1)
    ... train: net(images [n,1,H,W] in standardized grey, sex [n,1] with 1 = male) ...
    save_run("runs/my-net", net, config)   # config.json + best.safetensors for boneage

Only torch is needed (no torchvision, no safetensors package). `python boneage_nets.py
selftest --out DIR` writes random weights, an input and PyTorch's output for the Rust test
that checks both frameworks compute the same thing.
"""

import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------- VGG-style (crate vgg.rs)


class VggConv(nn.Module):
    """conv3x3 (weight, bias) -> ELU -> BatchNorm (child `bn`), named `block{b}.conv{c}`."""

    def __init__(self, cin, cout, batch_norm):
        super().__init__()
        conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.weight = conv.weight
        self.bias = conv.bias
        self.bn = nn.BatchNorm2d(cout) if batch_norm else None

    def forward(self, x):
        x = F.elu(F.conv2d(x, self.weight, self.bias, padding=1))
        return self.bn(x) if self.bn is not None else x


class Vgg(nn.Module):
    """The seed's VGG-style net; arguments as the `model` section of a boneage config."""

    def __init__(self, base_channels=32, max_channels=256, convs_per_block=(2,) * 6,
                 batch_norm=True, pooled_size=2, sex_embedding=16, dense=256, dropout=0.3,
                 outputs=1):
        super().__init__()
        cin = 1
        self.blocks = []
        for b, convs in enumerate(convs_per_block):
            cout = min(base_channels << b, max_channels)
            block = nn.Module()
            for c in range(convs):
                setattr(block, f"conv{c}", VggConv(cin, cout, batch_norm))
                cin = cout
            setattr(self, f"block{b}", block)
            self.blocks.append((block, convs))
        self.pooled = pooled_size
        self.sex = nn.Linear(1, sex_embedding) if sex_embedding > 0 else None
        self.dense = nn.Linear(cin * pooled_size * pooled_size + sex_embedding, dense)
        self.out = nn.Linear(dense, outputs)
        self.dropout = dropout

    def forward(self, x, sex):
        for block, convs in self.blocks:
            for c in range(convs):
                x = getattr(block, f"conv{c}")(x)
            x = F.max_pool2d(x, 2)
        f = F.adaptive_avg_pool2d(x, self.pooled).flatten(1)
        if self.sex is not None:
            f = torch.cat([f, F.elu(self.sex(sex))], 1)
        f = F.dropout(F.elu(self.dense(f)), self.dropout, self.training)
        return self.out(f)


# ------------------------------------------------------- Inception-v3 (crate inception.rs)


class BasicConv(nn.Module):
    def __init__(self, cin, cout, k, pad=0, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=pad, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def _avg(x):
    return F.avg_pool2d(x, 3, 1, 1)


class BlockA(nn.Module):
    def __init__(self, c, cin, pool):
        super().__init__()
        self.branch1x1 = BasicConv(cin, c(64), 1)
        self.branch5x5_1 = BasicConv(cin, c(48), 1)
        self.branch5x5_2 = BasicConv(c(48), c(64), 5, 2)
        self.branch3x3dbl_1 = BasicConv(cin, c(64), 1)
        self.branch3x3dbl_2 = BasicConv(c(64), c(96), 3, 1)
        self.branch3x3dbl_3 = BasicConv(c(96), c(96), 3, 1)
        self.branch_pool = BasicConv(cin, c(pool), 1)
        self.out_channels = 2 * c(64) + c(96) + c(pool)

    def forward(self, x):
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(_avg(x)),
        ], 1)


class BlockB(nn.Module):
    def __init__(self, c, cin):
        super().__init__()
        self.branch3x3 = BasicConv(cin, c(384), 3, stride=2)
        self.branch3x3dbl_1 = BasicConv(cin, c(64), 1)
        self.branch3x3dbl_2 = BasicConv(c(64), c(96), 3, 1)
        self.branch3x3dbl_3 = BasicConv(c(96), c(96), 3, stride=2)
        self.out_channels = c(384) + c(96) + cin

    def forward(self, x):
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            F.max_pool2d(x, 3, 2),
        ], 1)


class BlockC(nn.Module):
    def __init__(self, c, cin, c7):
        super().__init__()
        c7 = c(c7)
        self.branch1x1 = BasicConv(cin, c(192), 1)
        self.branch7x7_1 = BasicConv(cin, c7, 1)
        self.branch7x7_2 = BasicConv(c7, c7, (1, 7), (0, 3))
        self.branch7x7_3 = BasicConv(c7, c(192), (7, 1), (3, 0))
        self.branch7x7dbl_1 = BasicConv(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv(c7, c7, (7, 1), (3, 0))
        self.branch7x7dbl_3 = BasicConv(c7, c7, (1, 7), (0, 3))
        self.branch7x7dbl_4 = BasicConv(c7, c7, (7, 1), (3, 0))
        self.branch7x7dbl_5 = BasicConv(c7, c(192), (1, 7), (0, 3))
        self.branch_pool = BasicConv(cin, c(192), 1)
        self.out_channels = 4 * c(192)

    def forward(self, x):
        b3 = x
        for i in range(1, 6):
            b3 = getattr(self, f"branch7x7dbl_{i}")(b3)
        return torch.cat([
            self.branch1x1(x),
            self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))),
            b3,
            self.branch_pool(_avg(x)),
        ], 1)


class BlockD(nn.Module):
    def __init__(self, c, cin):
        super().__init__()
        self.branch3x3_1 = BasicConv(cin, c(192), 1)
        self.branch3x3_2 = BasicConv(c(192), c(320), 3, stride=2)
        self.branch7x7x3_1 = BasicConv(cin, c(192), 1)
        self.branch7x7x3_2 = BasicConv(c(192), c(192), (1, 7), (0, 3))
        self.branch7x7x3_3 = BasicConv(c(192), c(192), (7, 1), (3, 0))
        self.branch7x7x3_4 = BasicConv(c(192), c(192), 3, stride=2)
        self.out_channels = c(320) + c(192) + cin

    def forward(self, x):
        b2 = x
        for i in range(1, 5):
            b2 = getattr(self, f"branch7x7x3_{i}")(b2)
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b2, F.max_pool2d(x, 3, 2)], 1)


class BlockE(nn.Module):
    def __init__(self, c, cin):
        super().__init__()
        self.branch1x1 = BasicConv(cin, c(320), 1)
        self.branch3x3_1 = BasicConv(cin, c(384), 1)
        self.branch3x3_2a = BasicConv(c(384), c(384), (1, 3), (0, 1))
        self.branch3x3_2b = BasicConv(c(384), c(384), (3, 1), (1, 0))
        self.branch3x3dbl_1 = BasicConv(cin, c(448), 1)
        self.branch3x3dbl_2 = BasicConv(c(448), c(384), 3, 1)
        self.branch3x3dbl_3a = BasicConv(c(384), c(384), (1, 3), (0, 1))
        self.branch3x3dbl_3b = BasicConv(c(384), c(384), (3, 1), (1, 0))
        self.branch_pool = BasicConv(cin, c(192), 1)
        self.out_channels = c(320) + 4 * c(384) + c(192)

    def forward(self, x):
        b2 = self.branch3x3_1(x)
        b3 = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(b2), self.branch3x3_2b(b2),
            self.branch3x3dbl_3a(b3), self.branch3x3dbl_3b(b3),
            self.branch_pool(_avg(x)),
        ], 1)


class InceptionV3(nn.Module):
    """Inception-v3 for one-channel input with the winner's sex input (sex -> dense, concat,
    dense -> out). `width` multiplies every channel count as in the Rust code."""

    def __init__(self, width=1.0, sex_embedding=32, dense=1000, outputs=1, dropout=0.0):
        super().__init__()
        c = lambda n: max(1, int(math.floor(n * width + 0.5)))
        self.Conv2d_1a_3x3 = BasicConv(1, c(32), 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv(c(32), c(32), 3)
        self.Conv2d_2b_3x3 = BasicConv(c(32), c(64), 3, 1)
        self.Conv2d_3b_1x1 = BasicConv(c(64), c(80), 1)
        self.Conv2d_4a_3x3 = BasicConv(c(80), c(192), 3)
        ch = c(192)
        blocks = []
        for name, make in [
            ("Mixed_5b", lambda ch: BlockA(c, ch, 32)), ("Mixed_5c", lambda ch: BlockA(c, ch, 64)),
            ("Mixed_5d", lambda ch: BlockA(c, ch, 64)), ("Mixed_6a", lambda ch: BlockB(c, ch)),
            ("Mixed_6b", lambda ch: BlockC(c, ch, 128)), ("Mixed_6c", lambda ch: BlockC(c, ch, 160)),
            ("Mixed_6d", lambda ch: BlockC(c, ch, 160)), ("Mixed_6e", lambda ch: BlockC(c, ch, 192)),
            ("Mixed_7a", lambda ch: BlockD(c, ch)), ("Mixed_7b", lambda ch: BlockE(c, ch)),
            ("Mixed_7c", lambda ch: BlockE(c, ch)),
        ]:
            m = make(ch)
            setattr(self, name, m)
            blocks.append(m)
            ch = m.out_channels
        self.blocks = blocks
        self.sex = nn.Linear(1, sex_embedding) if sex_embedding > 0 else None
        self.dense = nn.Linear(ch + sex_embedding, dense)
        self.out = nn.Linear(dense, outputs)
        self.dropout = dropout

    def forward(self, x, sex):
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, 2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, 2)
        for b in self.blocks:
            x = b(x)
        f = F.adaptive_avg_pool2d(x, 1).flatten(1)
        if self.sex is not None:
            f = torch.cat([f, F.relu(self.sex(sex))], 1)
        f = F.dropout(F.relu(self.dense(f)), self.dropout, self.training)
        return self.out(f)


def from_torchvision(state_dict):
    """An ImageNet torchvision `inception_v3` state dict as a start for InceptionV3(width=1):
    the RGB stem summed to one channel, the auxiliary head and fc left out."""
    out = {}
    for k, v in state_dict.items():
        if k.startswith("AuxLogits") or k.startswith("fc.") or k.endswith("num_batches_tracked"):
            continue
        if k == "Conv2d_1a_3x3.conv.weight":
            v = v.sum(1, keepdim=True)
        out[k] = v
    return out


# ------------------------------------------------------------------------------ files


def save_safetensors(tensors, path):
    """Writes {name: tensor} as a safetensors file (float32, little endian), atomically."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous().cpu()
        data = t.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def weights_of(net):
    """The state dict as boneage reads it (BatchNorm's step counters left out)."""
    return {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}


def save_run(run_dir, net, config):
    """A boneage run folder: config.json (a boneage training config) + best.safetensors."""
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    save_safetensors(weights_of(net), os.path.join(run_dir, "best.safetensors"))


# --------------------------------------------------------------------------- selftest


def _randomize(net, gen):
    """Every parameter and BatchNorm statistic random, so a wrong name or layout shows."""
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if t.dtype != torch.float32:
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            elif name.endswith("running_mean") or name.endswith("bias"):
                t.copy_(torch.randn(t.shape, generator=gen) * 0.1)
            elif name.endswith("bn.weight"):
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            else:
                fan_in = max(1, t[0].numel())
                t.copy_(torch.randn(t.shape, generator=gen) / math.sqrt(fan_in))


def selftest(out):
    gen = torch.Generator().manual_seed(2017)
    cases = {
        "vgg": (dict(base_channels=4, max_channels=16, convs_per_block=[1, 2, 1],
                     pooled_size=2, sex_embedding=8, dense=16, dropout=0.3, outputs=1),
                {"input_width": 48, "input_height": 64, "base_channels": 4, "max_channels": 16,
                 "convs_per_block": [1, 2, 1], "pooled_size": 2, "sex_embedding": 8,
                 "dense": 16, "dropout": 0.3, "head": "regression"}, (64, 48)),
        "inception": (dict(width=0.125, sex_embedding=32, dense=64, outputs=240),
                      {"arch": "inception_v3", "width": 0.125, "input_width": 96,
                       "input_height": 112, "sex_embedding": 32, "dense": 64, "dropout": 0.0,
                       "head": "classification"}, (112, 96)),
    }
    for name, (kw, model_cfg, (h, w)) in cases.items():
        net = Vgg(**kw) if name == "vgg" else InceptionV3(**kw)
        _randomize(net, gen)
        net.eval()
        x = torch.randn(3, 1, h, w, generator=gen)
        sex = torch.tensor([[1.0], [0.0], [1.0]])
        with torch.no_grad():
            y = net(x, sex)
        d = os.path.join(out, name)
        save_run(d, net, {"model": model_cfg, "channels_last": False})
        x.numpy().astype("<f4").tofile(os.path.join(d, "input.f32"))
        sex.numpy().astype("<f4").tofile(os.path.join(d, "sex.f32"))
        y.numpy().astype("<f4").tofile(os.path.join(d, "output.f32"))
        with open(os.path.join(d, "shape.json"), "w") as f:
            json.dump({"input": list(x.shape), "output": list(y.shape)}, f)
    print(f"selftest files in {out}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "selftest" and sys.argv[2] == "--out":
        selftest(sys.argv[3])
    else:
        sys.exit("usage: python boneage_nets.py selftest --out DIR")
