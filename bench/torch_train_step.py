"""The check-then-time part both PyTorch training-step peers share (moe-train-step.py, cnn-train-step.py).

`fresh()` builds the model and Adam from the exported weights; `loss_of(model)` is the training loss. The
first step's loss and the loss after one Adam step are reported for the JavaScript side to compare with
ours before any timing counts; then `warmup` untimed steps and `steps` timed ones on a fresh model.
"""
import json
import statistics
import time

import torch


def report_training_step(fresh, loss_of, steps, warmup):
    def step(model, optimizer):
        optimizer.zero_grad()
        loss = loss_of(model)
        loss.backward()
        optimizer.step()
        return loss.item()

    model, optimizer = fresh()
    first = step(model, optimizer)
    with torch.no_grad():
        second = loss_of(model).item()

    model, optimizer = fresh()
    for _ in range(warmup):
        step(model, optimizer)
    times = []
    cpu0 = time.process_time()
    for _ in range(steps):
        t0 = time.perf_counter()
        step(model, optimizer)
        times.append((time.perf_counter() - t0) * 1000)
    cpu_ms = (time.process_time() - cpu0) * 1000 / steps
    print(json.dumps({
        'torch': torch.__version__,
        'threads': torch.get_num_threads(),
        'firstLoss': first,
        'lossAfterOneStep': second,
        'medianMs': statistics.median(times),
        'meanMs': statistics.mean(times),
        'cpuMs': cpu_ms,
        'timesMs': times,
    }))
