"""The engine seam: how a layer's recurrence is executed.

A :class:`rnnkit.layers.Recurrent` layer holds parameters and cells; an *engine* runs them over
time. Engines are interchangeable: for the same weights and input they compute the same function
(up to floating-point rounding), and tests hold them to that. One place,
:func:`rnnkit.layers.engines.select_engine`, decides which engine runs; cells never know.

An engine receives the layer's weights explicitly, as a :data:`WeightPlan` read once per forward
by :meth:`Recurrent.weight_plan`: ``plan[k][d]`` is the named tuple of weights of layer ``k``,
direction ``d`` (0 forward, 1 reverse), in the cell's declared order (torch.nn's order for the
stock cells), each the layer's parameter itself or, for a parametrized or pruned weight, the
tensor computed for this forward. An engine uses those tensors and nothing else of the layer's
parameters.

To add an engine (a compiled loop, a parallel scan, ...), subclass :class:`Engine`, implement
``unavailable_reason`` and ``run``, and :func:`~rnnkit.layers.engines.register_engine` it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Tuple, Union

from torch import Tensor
from torch.nn.utils.rnn import PackedSequence

from ...cells.base import Weights
from ..sequences import SequenceBatch

if TYPE_CHECKING:  # pragma: no cover
    from ..recurrent import Recurrent

LayerState = Tuple[Tensor, ...]  # each (num_layers * num_directions, B, S_i)
WeightPlan = Tuple[Tuple[Weights, ...], ...]  # [layer][direction] -> the cell's weights


class Engine:
    """Runs a :class:`Recurrent` layer over a batch of sequences."""

    name: str = "engine"

    def unavailable_reason(self, layer: "Recurrent", batch: SequenceBatch, weights: WeightPlan) -> Optional[str]:
        """``None`` if this engine can run ``layer`` on ``batch`` with ``weights``, else a sentence saying why not."""
        raise NotImplementedError("abstract: an engine subclass says when it can serve")

    def run(
        self, layer: "Recurrent", batch: SequenceBatch, state: LayerState, weights: WeightPlan
    ) -> Tuple[Union[Tensor, PackedSequence], LayerState]:
        """Run every layer and direction with ``weights``.

        Returns ``output`` -- padded in ``batch``'s layout, zero past each length, or a
        PackedSequence in the input's batch order when ``batch.packed`` is set -- and the final
        state, each tensor ``(num_layers * num_directions, B, S_i)``, taken at each sequence's
        true last step (for the reverse direction: after its first element).
        """
        raise NotImplementedError("abstract: an engine subclass runs the layer")
