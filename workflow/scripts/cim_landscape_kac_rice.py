"""Rule `cim_landscape_kac_rice` (Fig. 3): annealed Kac-Rice complexity of our CIM model vs gain.

Our own derivation for the chosen classical CIM model (the paper's replica /
Kac-Rice results were not available): variational equations for the empirical
law of critical-point coordinates solved on a grid with continuation in the
gain (spdl.studies.cim_landscape.kac_rice_curve).  Total count of critical
points of all indices only; the count of minima and the quenched complexity are
not computed.
"""
from spdl.io import save_npz
from spdl.jobs import grid, start_job
from spdl.studies import cim_landscape as cl

smk = snakemake  # noqa: F821
start_job(smk)
p = smk.params
ps = grid(p.cfg["p"])
curve = cl.kac_rice_curve(ps, p.beta, n_grid=p.cfg["n_grid"])
for k in range(len(ps)):
    print(f"p={ps[k]:.3f}: Sigma={curve['sigma'][k]:.4f}, index={curve['index'][k]:.3f}")
rigid = cl.kac_rice(1.0 + 20 * p.beta, p.beta, init=(0.5, 0.1), n_grid=p.cfg["n_grid"])
save_npz(smk.output[0], p=ps, sigma=curve["sigma"], q=curve["q"], index=curve["index"], e=curve["e"],
         nontrivial=curve["nontrivial"], beta=p.beta, sigma_rigid=rigid["sigma"], index_rigid=rigid["index"],
         p_rigid=1.0 + 20 * p.beta)
