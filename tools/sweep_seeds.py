"""Re-run chapters on seeds nobody picked: every assert and band must hold for each offset.

    .venv/bin/python tools/sweep_seeds.py                       # offsets 1000, 2000, 3000; every chapter
    .venv/bin/python tools/sweep_seeds.py 07b_resnet_se 05_receptive_fields --offsets 17 4242

Each run is `pytest --nbval-lax` (outputs not compared, every cell must run without error) with
CNNBOOK_SEED_OFFSET set, which shifts every training and initialisation seed the chapters take from
`cnnbook.randomness.book_seed`. CI runs one fixed offset (see .ci/run); this sweeps several, locally.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("chapters", nargs="*", help="notebook names without .ipynb (default: every chapter)")
    parser.add_argument("--offsets", nargs="+", type=int, default=[1000, 2000, 3000])
    args = parser.parse_args(argv)
    chapters = args.chapters or sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    paths = [str(ROOT / "notebooks" / f"{c.removesuffix('.ipynb')}.ipynb") for c in chapters]
    failed = []
    for offset in args.offsets:
        env = dict(os.environ, CNNBOOK_SEED_OFFSET=str(offset), ATEN_CPU_CAPABILITY="default")
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "-q", *paths], cwd=ROOT, env=env)
        print(f"offset {offset}: {'passed' if result.returncode == 0 else 'FAILED'} "
              f"in {time.perf_counter() - start:.0f} s", flush=True)
        if result.returncode:
            failed.append(offset)
    print(f"{len(args.offsets) - len(failed)} passed, {len(failed)} failed (offsets {args.offsets})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
