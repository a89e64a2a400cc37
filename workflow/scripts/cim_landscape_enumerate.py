"""Rule `cim_landscape_enumerate` (Fig. 5): exhaustive Gray-code scan of SK instances.

Ground-state energy and number of single-flip-stable states of every instance
(N <= 24), compared with the Bray-Moore / Tanaka-Edwards rate 0.1992.
"""
import numpy as np

from spdl.io import save_npz
from spdl.jobs import start_job
from spdl.studies import cim_landscape as cl

smk = snakemake  # noqa: F821
start_job(smk)
p = smk.params
c = p.cfg
ns = np.array(c["n"])
e0 = np.zeros((len(ns), c["instances"]))
stable = np.zeros((len(ns), c["instances"]), np.int64)
for a, n in enumerate(ns):
    J = cl.sk_couplings(int(n), c["instances"], cl.instance_seed(p.seed, "enumerate", int(n)))
    for i in range(c["instances"]):
        r = cl.enumerate_states(J[i])
        e0[a, i], stable[a, i] = r["e0"], r["n_stable"]
    print(f"N={n}: mean e0 {e0[a].mean():.4f}, mean (1/N) ln #stable {np.mean(np.log(stable[a])) / n:.4f}")
save_npz(smk.output[0], n=ns, e0=e0, n_stable=stable)
