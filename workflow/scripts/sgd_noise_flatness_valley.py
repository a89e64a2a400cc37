"""Rule sgd_noise_flatness_valley: the PRL toy model f(x) = w2 w1 x, every simulation [PRL].

Four experiments on replicas of spdl.sgd_noise_flatness.simulate_valley (online Gaussian data,
y = c x + eps):
- drift: from a sharp point of the valley, minibatch SGD vs full-batch GD + isotropic noise whose
  variance across the valley matches SGD's at the start (T = lr sigma^2 lambda_0 / (2 B));
- stationary: SGD + weak isotropic noise T, samples of delta = w1^2 - w2^2 after burn-in, per batch size;
- flat_time: first step with lambda <= (1 + lambda_tol) lambda_min, over an lr x batch grid;
- critical: from the flattest minimum, fraction of diverged replicas over an lr grid per batch size.
"""
import numpy as np

from spdl.studies import sgd_noise_flatness as snf
from spdl.io import save_npz
from spdl.jobs import grid, start_job

smk = snakemake  # noqa: F821
log = start_job(smk)
p = smk.params
c, sigma, R, d0 = p.c, p.sigma, p.replicas, p.delta0
w1_0, w2_0 = snf.valley_point(np.full(R, d0), c)
out = {}

# drift: SGD vs isotropic noise at matched temperature
dc = p.drift
lam0 = float(snf.curvature(d0, c))
t_iso = dc["lr"] * sigma**2 * lam0 / (2 * dc["batch"])
for name, kw in [("sgd", dict(batch=dc["batch"], temp=0.0)), ("iso", dict(batch=np.inf, temp=t_iso))]:
    r = snf.simulate_valley(w1_0, w2_0, lr=dc["lr"], sigma=sigma, c=c, steps=dc["steps"], seed=1,
                            record_every=dc["record_every"], **kw)
    out[f"drift_{name}_w1"], out[f"drift_{name}_w2"] = r["w1"], r["w2"]
    out[f"drift_{name}_diverged"] = r["diverged_step"] >= 0  # per replica
    out["drift_steps"] = r["steps"]
    print(f"drift {name}: diverged {np.mean(r['diverged_step'] >= 0):.3f}")
out["drift_temp"], out["drift_lr"], out["drift_batch"] = t_iso, dc["lr"], dc["batch"]

# stationary law along the valley: SGD + isotropic noise, one batch size per row
sc = p.stationary
B = np.array(sc["batch"], float)[:, None]
w1, w2 = snf.valley_point(np.zeros((len(B), R)), c)
r = snf.simulate_valley(w1, w2, lr=sc["lr"], batch=B, sigma=sigma, c=c, temp=sc["temp"], steps=sc["steps"],
                        seed=2, record_every=sc["sample_every"])
keep = r["steps"] >= sc["burnin"]
out["stat_delta"] = (r["w1"] ** 2 - r["w2"] ** 2)[keep]  # (samples per replica, batches, R)
out["stat_diverged"] = (r["diverged_step"] >= 0).mean(1)
out["stat_batch"], out["stat_lr"], out["stat_temp"] = np.array(sc["batch"]), sc["lr"], sc["temp"]
print(f"stationary: {keep.sum()} samples per replica, diverged fraction {out['stat_diverged']}")

# time to reach the flat end vs lr and batch size
fc = p.flat_time
LR, BB = np.meshgrid(fc["lr"], fc["batch"], indexing="ij")
w1, w2 = snf.valley_point(np.full((*LR.shape, R), d0), c)
r = snf.simulate_valley(w1, w2, lr=LR[..., None], batch=BB[..., None], sigma=sigma, c=c, temp=0.0,
                        steps=fc["steps"], seed=3)
lam = snf.curvature(r["w1"] ** 2 - r["w2"] ** 2, c)
out["flat_t"] = snf.first_passage(r["steps"], np.where(np.isnan(lam), np.inf, lam), (1 + fc["lambda_tol"]) * 2 * c)
out["flat_diverged"] = r["diverged_step"] >= 0
out["flat_lr"], out["flat_batch"], out["flat_lambda_tol"] = LR, BB, fc["lambda_tol"]

# critical learning rate: start at the flattest minimum
cc = p.critical
lrs = grid(cc["lr"])
LR, BB = np.meshgrid(lrs, cc["batch"], indexing="ij")
w1, w2 = snf.valley_point(np.zeros((*LR.shape, cc["replicas"])), c)
r = snf.simulate_valley(w1, w2, lr=LR[..., None], batch=BB[..., None], sigma=sigma, c=c, temp=0.0,
                        steps=cc["steps"], seed=4, record_every=cc["steps"])
out["crit_fail"] = (r["diverged_step"] >= 0).mean(-1)  # (n_lr, n_batch)
out["crit_lr"], out["crit_batch"] = lrs, np.array(cc["batch"])
save_npz(smk.output[0], c=c, sigma=sigma, delta0=d0, replicas=R, crit_replicas=cc["replicas"], **out)
