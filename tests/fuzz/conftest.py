"""Report how many fuzz cases each public function got (``attempt`` counts them)."""

import json
import os

from fuzzing import CASES


def pytest_terminal_summary(terminalreporter):
    if not CASES:
        return
    terminalreporter.section("fuzz cases per function")
    width = max(map(len, CASES))
    for name, count in sorted(CASES.items()):
        terminalreporter.write_line(f"{name:<{width}}  {count:>6}")
    terminalreporter.write_line(f"{'total':<{width}}  {sum(CASES.values()):>6} over {len(CASES)} functions")
    path = os.environ.get("SCRATCHNET_FUZZ_COUNTS")
    if path:
        with open(path, "w") as f:
            json.dump(dict(sorted(CASES.items())), f, indent=1)
