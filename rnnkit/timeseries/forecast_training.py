"""The forecaster's training loop: Adam over epochs of windows, clipping, scheduled sampling,
early stopping that keeps the best weights, and an exact resume point after every epoch.

The loop reads top to bottom::

    [head warm-up]   a few epochs training only the spread part of the output head, so the starting
                     point (e.g. the ridge-solved highway) has sensible intervals; it is then scored on
                     validation and is the first candidate for "best"
    for each epoch:  p = teacher-forcing probability (linear decay, Bengio et al. 2015)
                     for each shuffled batch: loss -> backward -> clip -> Adam step
                     score the validation windows; keep the best weights; stop after `patience`
                     epochs without improvement
                     on_epoch(state)  -- the caller may write it to disk (an exact resume point)
    restore the best weights

The model layer must not import :mod:`rnnkit.training`, so this loop is self-contained; the
:class:`~rnnkit.training.Trainer` serves models trained on streams and batches of sequences. Its
state is a plain nested dict of tensors, numbers and lists, ready for
:func:`rnnkit.training.save_checkpoint` (the forecasting recipe writes it after every epoch).
"""

from __future__ import annotations

import copy
import math
from typing import Callable, Dict, List, Optional, Tuple

import torch
from torch import Tensor, nn

from ..models.scheduled_sampling import linear_decay

# loss_fn(net, batch, p_truth, point) -> scalar: the head's loss, or (point=True) the point forecast's MSE
LossFn = Callable[..., Tensor]


def teacher_forcing_probability(epoch: int, epochs: int, final: float) -> float:
    """Linear decay of scheduled sampling over epochs: 1 at the first epoch, ``final`` from epoch
    ``epochs - 1`` on (``linear_decay`` with ``k = 1``, ``c = (1 - final) / (epochs - 1)``, ``eps_min = final``)."""
    if epochs <= 1:
        return final
    return linear_decay(epoch, k=1.0, c=(1.0 - final) / (epochs - 1), eps_min=final)


def _loc_rows(net: nn.Module) -> Tensor:
    """Rows of ``net.out`` that produce the location (channel 0 of every ``K`` head parameters)."""
    return torch.arange(net.out.out_features) % net.K == 0


def warm_up_head(net: nn.Module, loss_fn: LossFn, train: Tuple[Tensor, ...], epochs: int, batch_size: int,
                 lr: float) -> None:
    """Train only the spread (sigma / quantile offsets) rows of ``net.out`` for ``epochs`` epochs; the
    location rows and everything else keep their values."""
    opt = torch.optim.Adam(net.out.parameters(), lr=lr)
    rows = _loc_rows(net)
    n = train[0].shape[0]
    net.train()
    for _ in range(epochs):
        for idx in torch.randperm(n).split(batch_size):
            loss = loss_fn(net, tuple(t[idx] for t in train), 1.0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            net.out.weight.grad[rows] = 0
            net.out.bias.grad[rows] = 0
            opt.step()


def train_network(net: nn.Module, loss_fn: LossFn, train: Tuple[Tensor, ...], val: Optional[Tuple[Tensor, ...]],
                  cfg, *, warmup: int = 0, state: Optional[Dict] = None,
                  on_epoch: Optional[Callable[[Dict], None]] = None) -> List[Dict[str, float]]:
    """Train ``net`` in place; returns the per-epoch log.

    Args:
        cfg: a ``ForecasterConfig`` (epochs, batch_size, lr, weight_decay, clip, patience,
            teacher_forcing_min, teacher_forcing_epochs, select).
        warmup: epochs of :func:`warm_up_head` before training (for a network whose location output
            starts from a solved linear forecast).
        state: a state produced by an earlier call's ``on_epoch``: training continues exactly from it
            (weights, Adam moments, best weights, log, and torch's global RNG, which drives the shuffling
            and the scheduled sampling).
        on_epoch: called after every epoch with the current state.
    Randomness comes from torch's global generator, which the caller seeds (and forks).
    """
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=cfg.weight_decay)
    n = train[0].shape[0]
    point = cfg.select == "point"

    def score() -> float:
        net.eval()
        with torch.no_grad():
            return loss_fn(net, val, 0.0, point=point).item()  # free-running: how it will forecast

    if state is None:
        best, best_state, since_best, log, start = math.inf, None, 0, [], 0
        if warmup:
            warm_up_head(net, loss_fn, train, warmup, cfg.batch_size, cfg.lr)
        if val is not None:  # the starting point competes with what training makes of it
            best, best_state = score(), copy.deepcopy(net.state_dict())
            log.append({"epoch": -1, "val_loss": best})  # epoch -1: the start, before any RNN update
    else:
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["optimizer"])
        best, since_best, start = state["best"], state["since_best"], state["epoch"]
        best_state, log = state["best_net"], [dict(e) for e in state["log"]]
        torch.set_rng_state(state["rng"])

    for epoch in range(start, cfg.epochs):
        if val is not None and since_best >= cfg.patience:
            break
        p_truth = teacher_forcing_probability(epoch, cfg.teacher_forcing_epochs, cfg.teacher_forcing_min)
        net.train()
        total = 0.0
        for idx in torch.randperm(n).split(cfg.batch_size):
            loss = loss_fn(net, tuple(t[idx] for t in train), p_truth)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), cfg.clip)
            opt.step()
            total += loss.item() * len(idx)
        entry = {"epoch": epoch, "train_loss": total / n, "p_truth": p_truth}
        if val is not None:
            entry["val_loss"] = score()
            if entry["val_loss"] < best - 1e-6:
                best, best_state, since_best = entry["val_loss"], copy.deepcopy(net.state_dict()), 0
            else:
                since_best += 1
        log.append(entry)
        if on_epoch is not None:
            on_epoch({"epoch": epoch + 1, "net": net.state_dict(), "optimizer": opt.state_dict(), "best": best,
                      "best_net": best_state, "since_best": since_best, "log": log, "rng": torch.get_rng_state()})
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return log
