"""Users' own convolutions, proven with :mod:`symconv.testing` (see ``examples/README.md``).

- :mod:`examples.numpy_im2col`: N-D grouped convolution in NumPy by im2col, with backward;
- :mod:`examples.torch_function`: a ``torch.autograd.Function`` (unfold, hand-written backward);
- :mod:`examples.jax_conv`: ``jax.lax.conv_general_dilated``, differentiated by ``jax.vjp``;
- :mod:`examples.broken`: the classic mistakes, one broken implementation each.
"""
