"""Rule `m_estimation_regularised`: MAP (LASSO) and ridge on simulated data (Fig. 3).

Advani & Ganguli, PRX 2016 (arXiv:1601.04650). Gaussian noise (std sigma), Laplace(b_s) signal,
X entries N(0, 1/P); at each alpha all repeats are one batch: LASSO (MAP at lambda = sigma^2/b_s)
by batched FISTA to a KKT certificate, ridge at the fixed and at the best lambda (replica optimum)
in closed form. Members whose FISTA did not reach the certificate are recorded, never raised.
"""
import numpy as np
from threadpoolctl import threadpool_limits

from spdl.io import save_npz
from spdl.jobs import start_job
from spdl.studies import m_estimation as me

smk = snakemake  # noqa: F821
start_job(smk)
threadpool_limits(int(smk.threads))
c = smk.params.cfg
P, R, alphas = c["p"], c["repeats"], c["alphas"]
sig, bs = c["noise_std"], c["prior_scale"]
shape = (len(alphas), R)
q_map, q_ridge, q_best, kkt = (np.full(shape, np.nan) for _ in range(4))
lam_best = np.zeros(len(alphas))
for j, alpha in enumerate(alphas):
    n = int(round(alpha * P))
    rng = np.random.default_rng(np.random.SeedSequence([c["seed"], j]))
    x = rng.standard_normal((R, n, P)) / np.sqrt(P)
    s0 = rng.laplace(0.0, bs, (R, P))
    y = np.einsum("rnp,rp->rn", x, s0) + rng.normal(0.0, sig, (R, n))
    s, kkt[j], iters = me.solve_lasso(x, y, c["lasso_lambda"], tol=c["kkt_tol"], max_iter=c["max_iter"])
    q_map[j] = np.mean((s - s0) ** 2, axis=1)
    q_ridge[j] = np.mean((me.solve_ridge(x, y, c["ridge_lambda"]) - s0) ** 2, axis=1)
    lam_best[j] = me.best_ridge(alpha, sig, 2 * bs ** 2)[1]
    q_best[j] = np.mean((me.solve_ridge(x, y, lam_best[j]) - s0) ** 2, axis=1)
    print(f"alpha={alpha}: MAP {q_map[j].mean():.4g} ({iters} FISTA iterations, max KKT {kkt[j].max():.1e}), "
          f"ridge {q_ridge[j].mean():.4g}, best ridge {q_best[j].mean():.4g}")
save_npz(smk.output[0], q_map=q_map, q_ridge=q_ridge, q_ridge_best=q_best, lambda_best=lam_best, kkt=kkt,
         failed_map=~(kkt < c["kkt_tol"]), alphas=np.asarray(alphas, float), p=P, repeats=R,
         lasso_lambda=c["lasso_lambda"], ridge_lambda=c["ridge_lambda"])
