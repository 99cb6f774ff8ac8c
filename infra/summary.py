"""Print what a synthesized cloud assembly holds: each stack's environment and its resources by type.

`python -m infra.summary cdk.out` (run by `make synth`).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path


def summarize(outdir: Path) -> str:
    manifest = json.loads((outdir / "manifest.json").read_text())
    lines = []
    for name, artifact in manifest["artifacts"].items():
        if artifact["type"] != "aws:cloudformation:stack":
            continue
        template_file = artifact["properties"]["templateFile"]
        template = json.loads((outdir / template_file).read_text())
        counts = Counter(r["Type"] for r in template["Resources"].values())
        lines.append(
            f"{name}  {artifact['environment']}  {template_file}  ({sum(counts.values())} resources)"
        )
        lines += [f"    {count:3d} {kind}" for kind, count in sorted(counts.items())]
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarize(Path(sys.argv[1] if len(sys.argv) > 1 else "cdk.out")))
