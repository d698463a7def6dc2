"""Saves TorchScript modules with torch.jit.save for torchscript_runtime_test.cc, with the
predictions PyTorch itself makes for a fixed set of rows.

Usage: /usr/bin/python3 make_torchscript_models.py OUT_DIR   (Debian's python3-torch)

Writes to OUT_DIR:
  rows.csv      40 rows of 6 float32 features, comma-separated
  mlp.pt        scripted MLP, output [n]; states its input width (int attribute num_features)
  mlp.pred      its output per row
  softmax.pt    traced model, output [n, 3] class probabilities; no num_features
  softmax.pred  its 3 outputs per row
  inplace.pt    doubles its input in place, returns the row sums [n]
  tuple.pt      returns a tuple, not a tensor
  cube.pt       returns shape [n, 2, 2]
"""
import sys

import torch
from torch import nn

N_ROWS, N_FEATURES, N_CLASSES = 40, 6, 3


class Mlp(nn.Module):
    num_features: int

    def __init__(self):
        super().__init__()
        self.num_features = N_FEATURES
        self.net = nn.Sequential(nn.Linear(N_FEATURES, 16), nn.ReLU(), nn.Dropout(0.5),
                                 nn.Linear(16, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


class Softmax(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(N_FEATURES, N_CLASSES)

    def forward(self, x):
        return torch.softmax(self.linear(x), dim=1)


class InPlace(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x.mul_(2.0)
        return x.sum(dim=1)


class Pair(nn.Module):
    def forward(self, x: torch.Tensor):
        return x, x


class Cube(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(x.shape[0], 2, 2)


def write(path, values):
    with open(path, "w") as f:
        for row in values.reshape(values.shape[0], -1).tolist():
            f.write(",".join(repr(v) for v in row) + "\n")


def main(out):
    torch.manual_seed(3)
    rows = torch.randn(N_ROWS, N_FEATURES)
    write(out + "/rows.csv", rows)

    mlp = Mlp().eval()  # eval: dropout off, as the runtime's Load sets it
    scripted = torch.jit.script(mlp)
    scripted.train()  # saved in training mode; the runtime must switch it to eval
    torch.jit.save(scripted, out + "/mlp.pt")
    softmax = Softmax().eval()
    torch.jit.save(torch.jit.trace(softmax, rows[:2]), out + "/softmax.pt")
    with torch.no_grad():
        write(out + "/mlp.pred", mlp(rows).unsqueeze(1))
        write(out + "/softmax.pred", softmax(rows))

    torch.jit.save(torch.jit.script(InPlace()), out + "/inplace.pt")
    torch.jit.save(torch.jit.script(Pair()), out + "/tuple.pt")
    torch.jit.save(torch.jit.script(Cube()), out + "/cube.pt")


if __name__ == "__main__":
    main(sys.argv[1])
