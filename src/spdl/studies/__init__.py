"""One module per study: the paper's theory and algorithms, nothing shared.

Shared science lives one level up (``spdl.engine``, ``spdl.models``, ``spdl.hessian``,
``spdl.random_matrix``, ``spdl.stats``); no study module imports another.
"""
