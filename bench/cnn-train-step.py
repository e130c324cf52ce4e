# PyTorch side of bench/cnn-train-step.js: the CNN MMoE training step, from the weights and batch that
# the Node benchmark exported (manifest.json + data.bin in the directory given), on one thread.
#
#   /usr/bin/python3 bench/cnn-train-step.py <dir> <timed steps>
#
# Prints one JSON line: torch version, the first step's loss, the loss after one Adam step, and the
# median / all step times in ms (wall) and the CPU time per step.
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_train_step import report_training_step


class Expert(nn.Module):
    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(1, 10, 5), nn.Conv2d(10, 20, 5)])
        self.dense = nn.ModuleList([nn.Linear(720, 50), nn.Linear(50, 50)])

    def forward(self, x):
        for conv in self.convs:
            x = F.relu(F.max_pool2d(conv(x), 2))
        x = x.flatten(1)
        for layer in self.dense:
            x = F.relu(layer(x))
        return x


class Logits(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.logits = nn.Linear(d_in, d_out)


class Tower(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(50, 50), nn.Linear(50, 10)])

    def forward(self, x):
        return self.layers[1](F.relu(self.layers[0](x)))


class MMoE(nn.Module):
    """Same parameter names as dselect-k's buildMMoE with CnnExpert experts."""

    def __init__(self, experts, tasks):
        super().__init__()
        self.experts = nn.ModuleList([Expert() for _ in range(experts)])
        self.gates = nn.ModuleList([Logits(36 * 36, experts) for _ in range(tasks)])
        self.towers = nn.ModuleList([Tower() for _ in range(tasks)])

    def forward(self, x):
        f = torch.stack([e(x) for e in self.experts], 1)  # [B, E, 50]
        flat = x.flatten(1)
        outs = []
        for gate, tower in zip(self.gates, self.towers):
            g = torch.softmax(gate.logits(flat), 1)
            outs.append(tower((g.unsqueeze(2) * f).sum(1)))
        return outs


def main():
    directory, steps = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(1)
    with open(os.path.join(directory, 'manifest.json')) as fh:
        manifest = json.load(fh)
    data = np.fromfile(os.path.join(directory, 'data.bin'), dtype=np.float32)

    def array(entry):
        n = int(np.prod(entry['shape']))
        return torch.from_numpy(data[entry['offset']:entry['offset'] + n].reshape(entry['shape']).copy())

    x = array(manifest['x'])
    labels = [torch.tensor(lab, dtype=torch.long) for lab in manifest['labels']]
    adam = manifest['adam']

    def fresh():
        model = MMoE(manifest['experts'], len(labels))
        params = dict(model.named_parameters())
        with torch.no_grad():
            for entry in manifest['params']:
                if entry['name'] not in params:
                    raise SystemExit(f"cnn-train-step.py: no parameter {entry['name']} in the PyTorch model")
                params[entry['name']].copy_(array(entry))
        optimizer = torch.optim.Adam(model.parameters(), lr=adam['lr'], betas=(adam['beta1'], adam['beta2']), eps=adam['eps'])
        return model, optimizer

    def loss_of(model):
        return sum(F.cross_entropy(out, lab) for out, lab in zip(model(x), labels))

    report_training_step(fresh, loss_of, steps, warmup=2)


main()
