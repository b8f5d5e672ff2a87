"""Built-in problem files (package data); see :func:`symconv.problem.builtin_names`."""
