"""``python -m ssdlib.train --config run.yaml``: run ``train_sft`` from a YAML/JSON config.

The config holds ``model_path``, ``dataset_path`` (a ``save_to_disk`` folder or parquet file of
``build_ssd_dataset``'s output), ``output_dir`` and any ``train_sft`` keyword (max_length,
max_steps, learning_rate, ...). For several GPUs::

    accelerate launch --config_file configs/accelerate/fsdp.yaml --num_processes 8 \\
        -m ssdlib.train --config run.yaml

Prints the TrainResult as JSON on the main process.
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ssdlib.train", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--config", required=True, help="YAML or JSON file of train_sft arguments")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    ns = parser.parse_args(argv)

    from ssdlib.train.sft import read_config, result_summary, train_from_config

    config = read_config(ns.config)
    if ns.resume:
        config["resume"] = True
    result = train_from_config(config)
    import torch.distributed as dist

    if not dist.is_initialized() or dist.get_rank() == 0:
        print(json.dumps(result_summary(result), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
