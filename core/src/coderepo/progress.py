"""Progress of long downloads: a bar on a terminal (tqdm, on stderr), nothing when piped."""

from __future__ import annotations

import shutil
import sys
from typing import Any, Optional


class Progress:
    """Progress on a terminal (tqdm on stderr); silent when stderr is not a terminal."""

    def __init__(self, description: str, enabled: Optional[bool] = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar: Any = None
        self.description = description

    def _ensure(self) -> Any:
        if self._bar is None and self.enabled:
            from tqdm import tqdm

            size = shutil.get_terminal_size()  # a terminal that reports 0x0 counts as 80x24
            self._bar = tqdm(
                desc=self.description, unit="B", unit_scale=True, file=sys.stderr, leave=False,
                ncols=size.columns, nrows=size.lines,
            )
        return self._bar

    def bytes(self, count: int) -> None:
        bar = self._ensure()
        if bar is not None:
            bar.update(count)

    def files(self, count: int) -> None:
        bar = self._ensure()
        if bar is not None:
            bar.set_postfix_str("writing files", refresh=False)

    def verifying(self) -> None:
        bar = self._ensure()
        if bar is not None:
            bar.set_postfix_str("verifying")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
