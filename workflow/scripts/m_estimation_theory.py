"""Rule `m_estimation_theory`: every replica curve of the study (Advani & Ganguli, PRX 2016, arXiv:1601.04650).

Unregularised (Fig. 1): q_LS, q_LAD and the optimal convex M-estimator q_opt (q I(q) = kappa) vs
alpha for each noise density, the efficiency limit 1/(alpha J), the LAD = LS crossover.
Optimal losses (Fig. 2): rho_opt tabulated for several q against the ML loss.
Regularised (Fig. 3): MAP (LASSO), ridge at a fixed and at the best lambda, the optimal regularised
estimator and its (q, a), and the data saving of the optimum relative to MAP at equal error.
All numbers are 1-D quadratures and root finds; nothing is sampled.
"""
import numpy as np
from scipy import optimize
from threadpoolctl import threadpool_limits

from spdl.io import save_npz
from spdl.jobs import grid, start_job
from spdl.studies import m_estimation as me

smk = snakemake  # noqa: F821
start_job(smk)
threadpool_limits(int(smk.threads))
un, lo, rg = smk.params.unregularised, smk.params.losses, smk.params.regularised
checks, reg_checks = smk.params.check_alphas, smk.params.reg_check_alphas  # the simulations' alphas
out = {}

# --- Fig. 1: unregularised, one curve per noise density
kappa = grid(un["kappa"])
alpha = 1.0 / kappa
for noise in un["noises"]:
    b = un["noise_scale"]
    out[f"{noise}_q_ls"] = me.q_least_squares(alpha, noise, b)
    out[f"{noise}_q_lad"] = np.array([me.q_lad(a, noise, b) for a in alpha])
    out[f"{noise}_q_opt"] = np.array([me.q_optimal(a, noise, b) for a in alpha])
    out[f"{noise}_q_cr"] = 1.0 / (alpha * me.fisher_information(0.0, noise, b))
    out[f"{noise}_check_q_opt"] = np.array([me.q_optimal(a, noise, b) for a in checks])
    out[f"{noise}_check_q_lad"] = np.array([me.q_lad(a, noise, b) for a in checks])
    out[f"{noise}_check_q_ls"] = me.q_least_squares(np.asarray(checks, float), noise, b)
    print(f"{noise}: {len(alpha)} alphas done")
if "laplace" in un["noises"]:
    b = un["noise_scale"]
    out["laplace_crossover"] = me.crossover_alpha("laplace", b)
    out["laplace_ratio_alpha100"] = me.q_optimal(100.0, "laplace", b) / float(me.q_least_squares(100.0, "laplace", b))

# --- Fig. 2: optimal losses (Laplace noise), parametric tables resampled on a common x grid
x = np.linspace(-lo["x_max"], lo["x_max"], 801)
rho = np.zeros((len(lo["q"]), len(x)))
drho = np.zeros_like(rho)
for i, q in enumerate(lo["q"]):
    rho[i], drho[i] = me.OptimalLoss(q, "laplace", un["noise_scale"])(x)
tables = [me.optimal_loss_table(q, "laplace", un["noise_scale"]) for q in lo["q"]]
# far tail of each table: slope of rho_opt and its offset from the ML loss |x|/b + log(2b)
b = un["noise_scale"]
out["loss_tail_slope"] = np.array([t["drho"][-1] for t in tables])
out["loss_tail_offset"] = np.array([t["rho"][-1] - t["x"][-1] / b - np.log(2 * b) for t in tables])
# approach to the ML loss as q -> 0: sup over |x| <= x_max of |rho_q - ML|
gap_q = np.array([1e-1, 1e-2, 1e-3])
out["loss_gap_q"] = gap_q
out["loss_gap"] = np.array([np.max(np.abs(me.OptimalLoss(q, "laplace", b)(x)[0] - np.abs(x) / b - np.log(2 * b)))
                            for q in gap_q])
out.update(loss_x=x, loss_q=np.asarray(lo["q"], float), loss_rho=rho, loss_drho=drho,
           loss_curvature0=np.array([t["d2rho"][0] for t in tables]))

# --- Fig. 3: regularised, Gaussian noise (std sigma), Laplace(b_s) signal
sig, bs = rg["noise_std"], rg["prior_scale"]
kap_r = grid(rg["kappa"])
alpha_r = 1.0 / kap_r
out["reg_alpha"] = alpha_r
out["reg_q_map"] = np.array([me.q_lasso(a, rg["lasso_lambda"], sig, bs) for a in alpha_r])
out["reg_q_ridge"] = me.q_ridge(alpha_r, rg["ridge_lambda"], sig, 2 * bs ** 2)
best = np.array([me.best_ridge(a, sig, 2 * bs ** 2) for a in alpha_r])
out["reg_q_ridge_best"], out["reg_lambda_best"] = best[:, 0], best[:, 1]
opt = np.array([me.q_optimal_regularised(a, sig, bs) for a in alpha_r])
out["reg_q_opt"], out["reg_a_opt"] = opt[:, 0], opt[:, 1]
out["reg_ridge_general"] = np.array([me.regularised_state(a, "l2", rg["ridge_lambda"], sig, bs)[0] for a in alpha_r])
out["map_ridge_crossing"] = optimize.brentq(
    lambda a: me.q_lasso(a, rg["lasso_lambda"], sig, bs) - me.best_ridge(a, sig, 2 * bs ** 2)[0], 1.0, 10.0, xtol=1e-6)
print("regularised curves done")
sa = np.asarray(rg["saving_alphas"], float)
out["saving_alpha"] = sa
out["saving"] = np.array([me.data_saving(a, sig, bs, rg["lasso_lambda"]) for a in sa])
out["reg_check_alpha"] = np.asarray(reg_checks, float)
out["reg_check_map"] = np.array([me.q_lasso(a, rg["lasso_lambda"], sig, bs) for a in reg_checks])
out["reg_check_ridge_best"] = np.array([me.best_ridge(a, sig, 2 * bs ** 2)[0] for a in reg_checks])
out["reg_check_ridge"] = me.q_ridge(np.asarray(reg_checks, float), rg["ridge_lambda"], sig, 2 * bs ** 2)
out["reg_check_opt"] = np.array([me.q_optimal_regularised(a, sig, bs)[0] for a in reg_checks])
# ridge closed form vs the general (q, c) equations on a kappa x lambda grid (spec claim 4)
kl = [(k, lam) for k in rg["ridge_check"]["kappa"] for lam in rg["ridge_check"]["lambda"]]
closed = np.array([me.q_ridge(1 / k, lam, sig, 2 * bs ** 2) for k, lam in kl])
general = np.array([me.regularised_state(1 / k, "l2", lam, sig, bs)[0] for k, lam in kl])
out.update(ridge_check_kappa=np.array([k for k, _ in kl]), ridge_check_lambda=np.array([lam for _, lam in kl]),
           ridge_check_closed=closed, ridge_check_general=general)

out.update(alpha=alpha, kappa=kappa, noises=np.array(un["noises"]), noise_scale=un["noise_scale"],
           check_alphas=np.asarray(checks, float), reg_noise_std=sig, reg_prior_scale=bs,
           lasso_lambda=rg["lasso_lambda"], ridge_lambda=rg["ridge_lambda"])
save_npz(smk.output[0], **out)
print("saved")
