"""spdl: reference replication pipeline for the statistical physics of deep learning.

One module per study under ``spdl.studies`` (``spdl.studies.deep_linear``, ...) plus
the shared layers: ``spdl.datasets`` (datasets), ``spdl.models``/``spdl.engine`` (ensemble training),
``spdl.claims`` (claims and scorecard), ``spdl.figures`` (figure + data export),
``spdl.io`` (atomic writes), ``spdl.config`` (config validation), ``spdl.checkpoint``
(fingerprinted checkpoints), ``spdl.seeds`` (derived seeds), ``spdl.device`` (CPU/GPU),
``spdl.stats`` (intervals, correlations, tests), ``spdl.random_matrix`` (Marchenko-Pastur, spikes).
"""

__version__ = "0.1.0"
