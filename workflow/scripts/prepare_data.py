"""Rule `data`: build one dataset with spdl.datasets.prepare; write its npz and manifest atomically."""
import time

from spdl.datasets import prepare
from spdl.io import save_npz, write_json
from spdl.jobs import start_job

start_job(snakemake)  # noqa: F821
name = snakemake.wildcards.name  # noqa: F821
start = time.perf_counter()
arrays, manifest = prepare(name, snakemake.params.cfg)  # noqa: F821
save_npz(snakemake.output.npz, **arrays)  # noqa: F821
write_json(snakemake.output.json, manifest)  # noqa: F821
for key in sorted(arrays):
    print(f"{name}.{key}: {arrays[key].dtype} {arrays[key].shape}")
print(f"arrays sha256 {manifest['array_sha256']['all']} ({time.perf_counter() - start:.1f} s)")
