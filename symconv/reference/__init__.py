"""Independent numeric references for the convolution layer.

Written without SymPy (nothing here imports :mod:`symconv.symbolic`), so that they can
prove the symbolic derivation rather than repeat it:

- :mod:`symconv.reference.numpy_conv`: the layer written directly in NumPy (index arrays on
  the padded input), batched, float64 or float32.
- :mod:`symconv.reference.torch_conv`: ``torch.nn.functional.conv1d`` + autograd +
  ``torch.optim.SGD``, and ``torch.autograd.gradcheck``.  Imports torch; import it only
  when needed (this package's ``__init__`` does not).
- :mod:`symconv.reference.finite_diff`: central finite differences of the NumPy loss.

The layer's settings travel as a :class:`Layer` (built from a validated ``Problem`` with
:meth:`Layer.from_problem`).
"""

from symconv.reference.numpy_conv import Layer

__all__ = ["Layer"]
