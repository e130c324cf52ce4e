# PyTorch side of bench/moe-train-step.js: the MLP MMoE training step (batch 256, 8 experts
# 64→128→64 with ReLU on both layers, 2 tasks with per-example softmax gates and 64→1 towers, Σ MSE,
# Adam), from the weights and batch the Node benchmark exported (manifest.json + data.bin in the
# directory given), on the given number of threads.
#
#   /usr/bin/python3 bench/moe-train-step.py <dir> <timed steps> <threads>
#
# Prints one JSON line: torch version, threads, the first step's loss, the loss after one Adam step,
# and the median / all step times in ms (wall) and the CPU time per step.
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_train_step import report_training_step


class MLP(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])])

    def forward(self, x):
        for layer in self.layers:
            x = F.relu(layer(x))
        return x


class Logits(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.logits = nn.Linear(d_in, d_out)


class Tower(nn.Module):
    def __init__(self, d_in):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(d_in, 1)])

    def forward(self, x):
        return self.layers[0](x)


class MMoE(nn.Module):
    """Same parameter names as dselect-k's buildMMoE with MLP experts and per-example softmax gates."""

    def __init__(self, w):
        super().__init__()
        self.experts = nn.ModuleList([MLP([w['inputDim'], w['expertHidden'], w['expertOutputDim']]) for _ in range(w['numExperts'])])
        self.gates = nn.ModuleList([Logits(w['inputDim'], w['numExperts']) for _ in range(w['numTasks'])])
        self.towers = nn.ModuleList([Tower(w['expertOutputDim']) for _ in range(w['numTasks'])])

    def forward(self, x):
        f = torch.stack([e(x) for e in self.experts], 1)  # [B, E, d]
        return [tower((torch.softmax(gate.logits(x), 1).unsqueeze(2) * f).sum(1)) for gate, tower in zip(self.gates, self.towers)]


def main():
    directory, steps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    with open(os.path.join(directory, 'manifest.json')) as fh:
        manifest = json.load(fh)
    data = np.fromfile(os.path.join(directory, 'data.bin'), dtype=np.float32)

    def array(entry):
        n = int(np.prod(entry['shape']))
        return torch.from_numpy(data[entry['offset']:entry['offset'] + n].reshape(entry['shape']).copy())

    x = array(manifest['x'])
    targets = [array(t) for t in manifest['targets']]
    adam = manifest['adam']

    def fresh():
        model = MMoE(manifest['workload'])
        params = dict(model.named_parameters())
        if set(params) != {e['name'] for e in manifest['params']}:
            raise SystemExit('moe-train-step.py: the PyTorch model and the exported parameters differ in names')
        with torch.no_grad():
            for entry in manifest['params']:
                params[entry['name']].copy_(array(entry))
        optimizer = torch.optim.Adam(model.parameters(), lr=adam['lr'], betas=(adam['beta1'], adam['beta2']), eps=adam['eps'])
        return model, optimizer

    def loss_of(model):
        return sum(F.mse_loss(out, y) for out, y in zip(model(x), targets))

    report_training_step(fresh, loss_of, steps, warmup=5)


main()
