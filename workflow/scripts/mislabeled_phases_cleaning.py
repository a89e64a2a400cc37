"""Rule mislabeled_phases_cleaning (Fig. 6): cleaning inside phase II, then retraining from scratch.

For every rho > 0 and seed: detect the phases of the sweep run (weight decay 0), stop at the centre
of phase II in log time, t_clean = sqrt(t_I t_III) (seed medians), retrain the noisy network up to
t_clean (same seed, same data: the same trajectory as in the sweep), drop the n_mis samples with the
highest loss (the rho fraction; rho is taken as known), and retrain from scratch on the rest.
Every cleaned set then has n_correct samples, so all rho x seeds form one ensemble with
per-member data. Clean training = the rho = 0 sweep; noisy training = the sweep at that rho.

Outcomes are recorded, never crashes: a rho whose sweep shows no phase II (t_I or t_III not found in
any run) is recorded as not found (found = False, NaN measures) and not cleaned; a run that diverged
(the noisy sweep run, the run stopped in phase II, or the retrained one) is flagged per row (diverged).
"""
import numpy as np
import torch

from spdl.studies import mislabeled_phases as mp
from spdl.datasets import load
from spdl.engine import train
from spdl.io import load_npz, save_npz
from spdl.jobs import start_job
from spdl.models import MLP, forward, init_params

smk = snakemake  # noqa: F821
log = start_job(smk)
p = smk.params
data = load(smk.input.data)
b, S = p.batch_size, p.seeds
arch = MLP((data["x_train"].shape[1], *p.hidden, 10), activation="relu", bias=False)
x_test, y_test = torch.tensor(data["x_test"]), torch.tensor(data["y_test"])

rows, Xc, Yc = [], [], []
nan = float("nan")
for r in [r for r in p.rho if r > 0]:
    sweep = load_npz(smk.input[f"sweep_rho{r:g}"])
    t = sweep["steps"]
    noisy_div = sweep["diverged"][:S].astype(bool)  # a diverged run has no phases: its curves stop at the blow-up
    times = [mp.detect_phases(t, sweep["acc_cor"][:, e], sweep["acc_mis"][:, e], **p.phases) for e in range(S)
             if not noisy_div[e]]
    t1, t3 = (float(np.median(v[np.isfinite(v)])) if np.isfinite(v).any() else nan
              for v in (np.array([d[k] for d in times], float) for k in ("t_I", "t_III")))
    split = mp.make_split(data["y_train"], p.n_correct, r, p.split_seed, label_seeds=[1000 + s for s in range(S)])
    n_mis = int(split["is_mis"].sum())
    row = dict(rho=r, t_I=t1, t_III=t3, t_clean=nan, precision=nan, recall=nan, auc=nan)
    if not (np.isfinite(t1) and np.isfinite(t3)):  # no phase II detected: recorded as not found, nothing cleaned
        rows += [dict(row, seed=s, found=False, noisy_test=sweep["acc_test"][-1, s], noisy_diverged=noisy_div[s],
                      stop_diverged=False, member=-1) for s in range(S)]
        print(f"rho={r}: phase II not found (t_I={t1:g}, t_III={t3:g}; {int(noisy_div.sum())} of {S} runs diverged): "
              "not cleaned")
        continue
    t_clean = int(round(np.sqrt(max(t1, 1) * t3)))
    X, Y = torch.tensor(data["x_train"][split["idx"]]), torch.tensor(split["labels"])
    seen = {}

    def losses_at(params, step):
        out = forward(arch, params, X)
        seen["loss"] = torch.nn.functional.cross_entropy(out.transpose(1, 2), Y, reduction="none").numpy()
        return {}

    stop = train(arch, init_params(arch, range(S)), X, Y, steps=t_clean, lr=p.lr, batch_size=b, loss="cross_entropy",
                 seeds=range(S), record_at=[t_clean], metrics=losses_at)
    for s in range(S):
        if noisy_div[s] or stop.diverged[s]:  # no losses to rank the samples by
            rows.append(dict(row, seed=s, t_clean=t_clean, found=True, noisy_test=sweep["acc_test"][-1, s],
                             noisy_diverged=noisy_div[s], stop_diverged=bool(stop.diverged[s]), member=-1))
            continue
        drop = mp.clean_selection(seen["loss"][s], n_mis)
        prec, rec = mp.precision_recall(drop, split["is_mis"])
        rows.append(dict(row, seed=s, t_clean=t_clean, found=True, precision=prec, recall=rec,
                         auc=mp.roc_auc(seen["loss"][s][split["is_mis"]], seen["loss"][s][~split["is_mis"]]),
                         noisy_test=sweep["acc_test"][-1, s], noisy_diverged=False, stop_diverged=False,
                         member=len(Xc)))
        Xc.append(X[~drop])
        Yc.append(Y[s][~drop])
    print(f"rho={r}: t_I={t1:g} t_III={t3:g} -> t_clean={t_clean}, precision "
          f"{np.nanmean([q['precision'] for q in rows[-S:]]):.3f}")

steps = int(round(p.epochs * p.n_correct / b))
record = np.unique(np.r_[0, np.geomspace(1, steps, p.n_records).round()]).astype(np.int64)
seeds = [q["seed"] for q in rows if q["member"] >= 0]


def test_acc(params, step):
    return {"acc_test": (forward(arch, params, x_test).argmax(-1) == y_test).float().mean(1)}


if seeds:  # the cleaned sets, retrained from scratch as one ensemble
    result = train(arch, init_params(arch, seeds), torch.stack(Xc), torch.stack(Yc), steps=steps, lr=p.lr,
                   batch_size=b, loss="cross_entropy", seeds=seeds, record_at=record, metrics=test_acc, progress=log,
                   checkpoint="results/checkpoints/mislabeled_phases/cleaning.pt", checkpoint_every=max(1, steps // 10))
    curve, cleaned_div = result.history["acc_test"], result.diverged
else:
    curve, cleaned_div = np.full((len(record), 0), nan), np.zeros(0, bool)
    print("no rho with a detected phase II: nothing retrained")
clean = load_npz(smk.input["sweep_rho0"])
member = np.array([q["member"] for q in rows])
cols = {k: np.array([q[k] for q in rows]) for k in rows[0] if k != "member"}
cols["cleaned_test"] = np.array([curve[-1, m] if m >= 0 else nan for m in member])
cols["cleaned_diverged"] = np.array([bool(cleaned_div[m]) if m >= 0 else False for m in member])
# a row depends on the noisy run, the run stopped in phase II and the retrained run: if one diverged, so did the row
cols["diverged"] = cols["noisy_diverged"] | cols["stop_diverged"] | cols["cleaned_diverged"]
save_npz(smk.output[0], steps=record, cleaned_curve=curve, member=member, clean_test=clean["acc_test"][-1, :S],
         clean_diverged=clean["diverged"][:S].astype(bool), clean_steps=clean["steps"],
         clean_curve=clean["acc_test"][:, :S], **cols,
         **{f"phases_{k}": v for k, v in p.phases.items()})  # the phase rules applied here and by the notebook
print(f"cleaned final test {np.round(cols['cleaned_test'], 3)}; not found at rho "
      f"{sorted({q['rho'] for q in rows if not q['found']})}; diverged rows: {int(cols['diverged'].sum())}")
