# PyTorch side of the generic benchmark suites (bench/lib/torch.js): one float32 op on the inputs the
# Node benchmark wrote, its result written back for the check, then timed.
#
#   /usr/bin/python3 bench/torch-ops.py '<json spec>'
#
# spec: { op, threads, maxTime, minSamples, inputs: { name: path }, out: path, ...op parameters }.
# Prints one JSON line: median / mean ms per call, relative margin of error (%), samples, CPU ms per call.
import json
import statistics
import sys
import time

import numpy as np
import torch


def load(path, shape):
    return torch.from_numpy(np.fromfile(path, dtype=np.float32).reshape(shape))


def build(spec):
    src = spec['inputs']
    op = spec['op']
    if op == 'matmul':
        n = spec['n']
        a, b = load(src['a'], (n, n)), load(src['b'], (n, n))
        a = a.t() if spec['transA'] else a
        b = b.t() if spec['transB'] else b
        return lambda: torch.matmul(a, b)
    if op == 'chain':
        x = load(src['x'], (-1,))
        return lambda: torch.relu(x * 1.5 + 0.5) * torch.sigmoid(x) + torch.exp(-(x * x))
    if op == 'unary':
        x = load(src['x'], (-1,))
        fn = {'exp': torch.exp, 'log': torch.log, 'tanh': torch.tanh, 'sigmoid': torch.sigmoid, 'softplus': torch.nn.functional.softplus}[spec['name']]
        return lambda: fn(x)
    if op == 'bias':
        x, b = load(src['x'], (-1, spec['cols'])), load(src['b'], (spec['cols'],))
        return lambda: x + b
    if op == 'softmax':
        x = load(src['x'], (spec['rows'], spec['cols']))
        return lambda: torch.softmax(x, -1)
    if op == 'logsumexp':
        x = load(src['x'], (spec['rows'], spec['cols']))
        return lambda: torch.logsumexp(x, -1)
    if op == 'softmax_ce':
        # Forward and backward: the gradient of the mean loss with respect to the logits.
        z = load(src['x'], (spec['rows'], spec['cols'])).requires_grad_(True)
        labels = torch.from_numpy(np.fromfile(src['labels'], dtype=np.int32)).long()

        def step():
            with torch.enable_grad():
                loss = torch.nn.functional.cross_entropy(z, labels)
                return torch.autograd.grad(loss, z)[0]
        return step
    raise SystemExit(f'torch-ops.py: unknown op {op}')


def main():
    spec = json.loads(sys.argv[1])
    torch.set_num_threads(spec.get('threads', 1))
    fn = build(spec)
    with torch.no_grad():
        result = fn()
        result.contiguous().numpy().astype(np.float32).tofile(spec['out'])
        # Samples of at least ~2 ms each (several calls for fast ops), for maxTime seconds.
        t0 = time.perf_counter()
        fn()
        once = max(time.perf_counter() - t0, 1e-7)
        per_sample = max(1, int(0.002 / once))
        samples, cpu_total, calls = [], 0.0, 0
        deadline = time.perf_counter() + spec.get('maxTime', 2)
        while time.perf_counter() < deadline or len(samples) < spec.get('minSamples', 6):
            c0, t0 = time.process_time(), time.perf_counter()
            for _ in range(per_sample):
                fn()
            samples.append((time.perf_counter() - t0) / per_sample * 1000)
            cpu_total += time.process_time() - c0
            calls += per_sample
    mean = statistics.mean(samples)
    sem = statistics.stdev(samples) / len(samples) ** 0.5 if len(samples) > 1 else 0.0
    print(json.dumps({
        'torch': torch.__version__,
        'threads': torch.get_num_threads(),
        'medianMs': statistics.median(samples),
        'meanMs': mean,
        'rmePct': 100 * 1.96 * sem / mean if mean > 0 else 0.0,
        'samples': len(samples),
        'cpuMsPerCall': cpu_total * 1000 / calls,
    }))


main()
