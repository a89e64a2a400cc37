"""Rule `cim_landscape_census` (Figs. 2, 3): critical points of E_p for small SK instances.

Our chosen classical CIM model (Yamamura, Mabuchi & Ganguli, PRX 2024, arXiv:2309.08119).
For N = {n}: instances x gains, damped descent then Newton with the analytic Hessian,
deduplication up to the global sign; every point with its gradient norm, energy
identity error, Hessian spectrum and a finite-difference index check.  Plus the
flat-phase check just below each instance's convexity threshold and the rigid
check (Newton from sqrt(p-1) s for sampled sign patterns s) at p - 1 = rigid_a_over_beta * beta.
"""
import numpy as np

from spdl.io import save_npz
from spdl.jobs import start_job
from spdl.studies import cim_landscape as cl

smk = snakemake  # noqa: F821
start_job(smk)
p = smk.params
c, beta = p.cfg, p.beta
n = int(smk.wildcards.n)
I = c["instances"]
J = cl.sk_couplings(n, I, cl.instance_seed(p.seed, "census", n))
pc = cl.convexity_threshold(J, beta)
gains = np.array(c["p"], dtype=float)
cols = {k: [] for k in ("instance", "gain", "energy", "identity_err", "index", "index_fd",
                        "lam_min", "grad_norm", "hits")}
eigs, n_found, n_conv, chao = ([], np.zeros((I, len(gains)), int), np.zeros((I, len(gains)), int),
                               np.zeros((I, len(gains))))
n_min = np.zeros((I, len(gains)), int)
for i in range(I):
    for k, g in enumerate(gains):
        r = cl.census(J[i], g, beta, c["trajectories"], cl.instance_seed(p.seed, f"census_{i}_{k}", n))
        m = len(r["x"])
        fd = np.sum(np.linalg.eigvalsh(cl.fd_hessian(r["x"], J[i], g, beta)) < 0, -1)
        for key, v in (("instance", np.full(m, i)), ("gain", np.full(m, k)), ("energy", r["energy"]),
                       ("identity_err",
                        np.abs(r["energy"] - r["energy_identity"]) / np.maximum(1, np.abs(r["energy"]))),
                       ("index", r["index"]), ("index_fd", fd), ("lam_min", r["lam_min"]),
                       ("grad_norm", r["grad_norm"]), ("hits", r["hits"])):
            cols[key].append(v)
        eigs.append(r["eigs"][r["index"] == 0])
        n_found[i, k], n_conv[i, k], chao[i, k] = m, r["n_converged"], cl.chao1(r["hits"])
        n_min[i, k] = int(np.sum(r["index"] == 0))
        print(f"instance {i} p={g:g}: {m} points ({n_min[i, k]} minima), converged {r['n_converged']}/{r['n_starts']}")
# flat phase: just below each instance's convexity threshold
flat = [cl.census(J[i], pc[i] - c["flat_margin"], beta, c["trajectories"], cl.instance_seed(p.seed, f"flat_{i}", n))
        for i in range(I)]
flat_count = np.array([len(r["x"]) for r in flat])
flat_origin = np.array([bool(np.all(np.abs(r["x"]) < 1e-12)) for r in flat])
# rigid phase: Newton from sqrt(p-1) s for sampled sign patterns (last spin +1: global sign)
p_rigid = 1.0 + c["rigid_a_over_beta"] * beta
rng = np.random.default_rng(cl.instance_seed(p.seed, "rigid", n))
n_pat = min(c["rigid_patterns"], 2 ** (n - 1))
rigid_frac = np.zeros(I)
for i in range(I):
    if n_pat == 2 ** (n - 1):
        pats = np.concatenate([cl._spin_table(n - 1), np.ones((n_pat, 1))], 1)
    else:
        pats = np.concatenate([rng.choice([-1.0, 1.0], (n_pat, n - 1)), np.ones((n_pat, 1))], 1)
    rigid_frac[i] = cl.rigid_minima(J[i], p_rigid, beta, pats).mean()
    print(f"instance {i}: p_c={pc[i]:.3f}, flat census {flat_count[i]} point(s), rigid fraction {rigid_frac[i]:.4f}")
save_npz(smk.output[0], n=n, beta=beta, gains=gains, p_c=pc, trajectories=c["trajectories"],
         n_found=n_found, n_converged=n_conv, chao1=chao, n_minima=n_min,
         flat_count=flat_count, flat_origin=flat_origin, flat_margin=c["flat_margin"],
         p_rigid=p_rigid, rigid_fraction=rigid_frac, rigid_patterns=n_pat,
         min_eigs=np.concatenate(eigs) if eigs else np.zeros((0, n)),
         min_eigs_gain=np.concatenate([np.full(len(e), k % len(gains)) for k, e in enumerate(eigs)]),
         **{f"pt_{k}": np.concatenate(v) for k, v in cols.items()})
