"""Rule deep_linear_spectrum (Fig. 2): spiked rectangular random matrices Sigma31 = Wbar + Z.

Example spectrum (rank-3 teacher) and, for each aspect ratio A and teacher
strength sbar, the top singular value shat and the overlap |uhat.u||vhat.v|
of independent draws: the numbers the Benaych-Georges-Nadakuditi formulas predict.
Below the threshold, extra teacher strengths sbar = f A^(1/4) (f in below_fractions)
per aspect test that the overlap vanishes close to the threshold, not only far below it.
"""
import numpy as np

from spdl.studies import deep_linear as dl
from spdl.io import save_npz
from spdl.jobs import grid, start_job

smk = snakemake  # noqa: F821
log = start_job(smk)
p = smk.params
noise_std = p.noise_std

ex = p.example
task = dl.make_task(ex["n1"], int(round(ex["aspect"] * ex["n1"])), ex["sbar"], seed=ex["seed"],
                    noise_std=noise_std)
example_shat = task["shat"]

sbar = grid(p.sbar)
aspects = np.asarray(p.aspects, dtype=float)
n1 = p.n1
top = np.zeros((len(aspects), len(sbar), p.seeds))
overlap = np.zeros_like(top)
for i, aspect in enumerate(aspects):
    n3 = int(round(aspect * n1))
    for j, s in enumerate(sbar):
        for k in range(p.seeds):
            t = dl.make_task(n1, n3, [s], seed=10_000 * i + 100 * j + k, noise_std=noise_std)
            top[i, j, k] = t["shat"][0]
            overlap[i, j, k] = abs(t["Uhat"][:, 0] @ t["U"][:, 0]) * abs(t["Vhat"][:, 0] @ t["V"][:, 0])
    print(f"A = {aspect}: done")

fractions = np.asarray(p.below_fractions, dtype=float)
below_overlap = np.zeros((len(aspects), len(fractions), p.seeds))
for i, aspect in enumerate(aspects):
    n3 = int(round(aspect * n1))
    for j, f in enumerate(fractions):
        for k in range(p.seeds):
            t = dl.make_task(n1, n3, [f * aspect**0.25 * noise_std], seed=[20_000 + i, j, k], noise_std=noise_std)
            below_overlap[i, j, k] = abs(t["Uhat"][:, 0] @ t["U"][:, 0]) * abs(t["Vhat"][:, 0] @ t["V"][:, 0])

save_npz(smk.output[0], example_shat=example_shat, example_sbar=np.asarray(ex["sbar"], float),
         example_n1=ex["n1"], example_aspect=ex["aspect"], sbar=sbar, aspects=aspects, n1=n1,
         top_shat=top, overlap=overlap, noise_std=noise_std,
         below_fractions=fractions, below_overlap=below_overlap)
