"""Independent numeric references for the convolution layer (every layer of
:class:`~symconv.layer.Layer`: 1–3 spatial axes, channels, groups, batch, per-axis stride,
dilation and (before, after) padding, zeros/circular, shared/untied/no bias; every loss
kind ``sse_half``, ``mse``, ``upstream``).

Written without SymPy and without the layer's connectivity methods (nothing here imports
:mod:`symconv.symbolic` or calls ``Layer.source``/``connectivity``), so that they can prove
the symbolic derivation rather than repeat it:

- :mod:`symconv.reference.numpy_conv`: the layer written directly in NumPy (index arrays on
  the padded input, one einsum per group), float64 or float32.
- :mod:`symconv.reference.torch_conv`: ``torch.nn.functional.conv1d/2d/3d`` + autograd +
  ``torch.optim.SGD``, and ``torch.autograd.gradcheck``.  Imports torch; import it only
  when needed (this package's ``__init__`` does not).
- :mod:`symconv.reference.finite_diff`: central finite differences of the NumPy loss.

Every ``step`` returns :data:`Quantities` in the shapes of :mod:`symconv.arrays`.
"""

from symconv.reference.numpy_conv import Array, Quantities

__all__ = ["Array", "Quantities"]
