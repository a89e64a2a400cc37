"""Rule `entropy_sgd_hessian_quadratic`: the quadratic check (our derivation from Chaudhari et al. ICLR 2017,
Eq. 7): for f = 1/2 x^T A x, independent SGLD chains estimate <x'> at several noise levels against
x - (A + gamma I)^-1 A x; the short chains of Algorithm 1 (paper: exponential average alpha, step noise
sqrt(eta') eps; released code: weight 0.25, noise eps sqrt(2 eta')) give the Entropy-SGD step, one
update of the engine rule EntropySGD on a linear network whose loss is f, compared with the exact
step gamma (A + gamma I)^-1 A x."""
import numpy as np
import torch

from spdl.engine import train
from spdl.io import save_npz
from spdl.jobs import start_job
from spdl.studies import entropy_sgd_hessian as esh

smk = snakemake  # noqa: F821
start_job(smk)
q = smk.params.quadratic
A, a, _ = esh.random_spd(q["dim"], q["eig_min"], q["eig_max"], q["seed"])
x0 = np.random.default_rng(q["seed"] + 1).standard_normal(q["dim"])
gamma, C = q["gamma"], q["chains"]
At = torch.tensor(A)


def grad_fn(p, k):
    return [p[0] @ At]


x = [torch.tensor(x0).expand(C, q["dim"]).clone()]
exact_mean = esh.quadratic_mean(A, x0, gamma)
means, ses = [], []
for i, eps in enumerate(q["eps"]):
    noise = esh.generator_noise(esh.noise_generators(range(i * C, (i + 1) * C)))
    mu, _ = esh.sgld_chain(x, grad_fn, noise, gamma=gamma, eta_prime=q["eta_prime"], eps=eps, steps=q["steps"],
                           alpha=1.0, variant="paper", burn_in=q["burn_in"], average="uniform")
    est = mu[0].numpy()
    means.append(est.mean(0))
    ses.append(est.std(0, ddof=1) / np.sqrt(C))
    z = (means[-1] - exact_mean) / ses[-1]
    print(f"eps {eps:g}: max |z| = {np.abs(z).max():.2f}, within 3 s.e.: {(np.abs(z) < 3).sum()}/{q['dim']}")

# Entropy-SGD outer step gamma (x - mu) from the short chains, paper and released-code variants: one
# update of the engine rule EntropySGD (outer_gamma, lr = 1) from x0 on the network whose loss is f
exact_step = gamma * (x0 - exact_mean)  # = gamma (A + gamma I)^-1 A x = -grad F
short = q["short"]
arch, Xq, Yq = esh.quadratic_problem(A)
start = [torch.tensor(x0).expand(C, 1, q["dim"]).clone()]
steps_est = {}
for j, (variant, alpha) in enumerate((("paper", short["alpha_paper"]), ("code", short["alpha_code"]))):
    rule = esh.EntropySGD(L=short["L"], gamma0=gamma, eta_prime=q["eta_prime"], eps=short["eps"], alpha=alpha,
                          variant=variant, outer_gamma=True)
    res = train(arch, start, Xq, Yq, steps=1, lr=1.0, loss="mse", seeds=range(10**6 + j * C, 10**6 + (j + 1) * C),
                update=rule)
    steps_est[variant] = (x0 - res.params[0][:, 0].numpy()).mean(0)
    rel = np.linalg.norm(steps_est[variant] - exact_step) / np.linalg.norm(exact_step)
    print(f"{variant} short chain (L={short['L']}, alpha={alpha}): relative bias of the step {rel:.3f}")
H = esh.quadratic_entropy_hessian(A, gamma)
save_npz(smk.output[0], A=A, eigs=a, x0=x0, gamma=gamma, eps=np.array(q["eps"]), exact_mean=exact_mean,
         sgld_mean=np.array(means), sgld_se=np.array(ses), chains=C, exact_step=exact_step,
         step_paper=steps_est["paper"], step_code=steps_est["code"], short_L=short["L"],
         entropy_hessian_eigs=np.linalg.eigvalsh((H + H.T) / 2))
