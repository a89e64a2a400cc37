"""Rule `entropy_sgd_hessian_cartoon`: the local-entropy cartoon (Chaudhari et al. ICLR 2017, Fig. 2;
Deep Relaxation, Res. Math. Sci. 2018): a 1-D landscape with a wide and a sharp deeper well, -F(x, gamma)
by quadrature and by the viscous Hamilton-Jacobi PDE at t = 1/gamma, solved via Cole-Hopf (heat
equation, exact time stepping on the grid) and directly (implicit BDF), for each gamma."""
import time

import numpy as np

from spdl.io import save_npz
from spdl.jobs import start_job
from spdl.studies import entropy_sgd_hessian as esh

smk = snakemake  # noqa: F821
start_job(smk)
c = smk.params.cartoon
x = np.linspace(c["x_min"], c["x_max"], c["n_grid"])
f = esh.cartoon_landscape(x, confine=c["confine"], wide=c["wide"], sharp=c["sharp"], ripple=c["ripple"])
gammas = np.array(c["gammas"], dtype=np.float64)
quad, cole, direct, secs = [], [], [], []
for g in gammas:
    t0 = time.time()
    quad.append(esh.neg_local_entropy_quadrature(x, f, g))
    t1 = time.time()
    cole.append(esh.hj_to_neg_local_entropy(esh.viscous_hj_cole_hopf(x, f, 1.0 / g), g))
    t2 = time.time()
    direct.append(esh.hj_to_neg_local_entropy(esh.viscous_hj_direct(x, f, 1.0 / g), g))
    secs.append([t1 - t0, t2 - t1, time.time() - t2])
    print(f"gamma {g:g}: argmin -F at x = {x[np.argmin(quad[-1])]:.3f}; seconds {secs[-1]}")
save_npz(smk.output[0], x=x, f=f, gammas=gammas, quadrature=np.array(quad), cole_hopf=np.array(cole),
         direct=np.array(direct), seconds=np.array(secs), window=c["window"],
         wide_center=c["wide"]["center"], wide_width=c["wide"]["width"],
         sharp_center=c["sharp"]["center"], sharp_width=c["sharp"]["width"])
