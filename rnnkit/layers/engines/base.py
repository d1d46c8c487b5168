"""The engine seam: how a layer's recurrence is executed.

A :class:`rnnkit.layers.Recurrent` layer holds parameters and cells; an *engine* runs them over
time. Engines are interchangeable: for the same parameters and input they compute the same
function (up to floating-point rounding), and tests hold them to that. One place,
:func:`rnnkit.layers.engines.select_engine`, decides which engine runs; cells never know.

To add an engine (a compiled loop, a parallel scan, ...), subclass :class:`Engine`, implement
``unavailable_reason`` and ``run``, and :func:`~rnnkit.layers.engines.register_engine` it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Tuple, Union

from torch import Tensor
from torch.nn.utils.rnn import PackedSequence

from ..sequences import SequenceBatch

if TYPE_CHECKING:  # pragma: no cover
    from ..recurrent import Recurrent

LayerState = Tuple[Tensor, ...]  # each (num_layers * num_directions, B, S_i)


class Engine:
    """Runs a :class:`Recurrent` layer over a batch of sequences."""

    name: str = "engine"

    def unavailable_reason(self, layer: "Recurrent", batch: SequenceBatch) -> Optional[str]:
        """``None`` if this engine can run ``layer`` on ``batch``, else a sentence saying why not."""
        raise NotImplementedError("abstract: an engine subclass says when it can serve")

    def run(
        self, layer: "Recurrent", batch: SequenceBatch, state: LayerState
    ) -> Tuple[Union[Tensor, PackedSequence], LayerState]:
        """Run every layer and direction.

        Returns ``output`` -- padded in ``batch``'s layout, zero past each length, or a
        PackedSequence in the input's batch order when ``batch.packed`` is set -- and the final
        state, each tensor ``(num_layers * num_directions, B, S_i)``, taken at each sequence's
        true last step (for the reverse direction: after its first element).
        """
        raise NotImplementedError("abstract: an engine subclass runs the layer")
