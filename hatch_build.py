"""Hatchling build hook: compiles tap_twilio/_speedups.c, the typed-page converter in C, where a C compiler is found.

Optional by design: without a compiler (or with TAP_TWILIO_SPEEDUPS=0 in the environment) the wheel is pure Python
and tap_twilio/convert.py uses its generated Python converter, which writes the same records (tests/test_speedups.py).
The compiler and flags are the ones this Python was built with (sysconfig), as setuptools would use on Linux and
macOS; no build dependency beyond hatchling. An editable install builds the module next to its source; a wheel takes
it from a temporary folder, so building leaves nothing in the checkout.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("tap_twilio") / "_speedups.c"


def compile_speedups(root: Path, out_dir: Path) -> Path:
    """Compile and link the extension into `out_dir`; its path (CalledProcessError or OSError if it cannot be)."""
    cc, ldshared, suffix = (sysconfig.get_config_var(name) for name in ("CC", "LDSHARED", "EXT_SUFFIX"))
    if not (cc and ldshared and suffix):
        msg = "this Python names no C compiler (sysconfig CC/LDSHARED)"
        raise OSError(msg)
    source = root / SOURCE
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    target = out_dir / f"_speedups{suffix}"
    with tempfile.TemporaryDirectory() as tmp:
        obj = Path(tmp) / "_speedups.o"
        flags = shlex.split(sysconfig.get_config_var("CCSHARED") or "")
        include = sysconfig.get_paths()["include"]
        compile_ = [*shlex.split(cc), *flags, "-O2", f"-I{include}", f'-DSOURCE_HASH="{digest}"', "-c", str(source)]
        link = [*shlex.split(ldshared), str(obj), "-o", str(target)]
        for argv in ([*compile_, "-o", str(obj)], link):  # this Python's own compiler and flags
            subprocess.run(argv, check=True, capture_output=True, text=True)  # noqa: S603
    return target


class SpeedupsHook(BuildHookInterface):  # type: ignore[type-arg]
    """Adds the compiled converter to the wheel (tagged for this Python and platform), or nothing."""

    PLUGIN_NAME = "custom"
    _scratch: Path | None = None

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or os.environ.get("TAP_TWILIO_SPEEDUPS") == "0":
            return
        root = Path(self.root)
        editable = version == "editable"
        if not editable:
            self._scratch = Path(tempfile.mkdtemp(prefix="tap-twilio-speedups-"))
        out_dir = root / "tap_twilio" if self._scratch is None else self._scratch
        try:
            built = compile_speedups(root, out_dir)
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            self.app.display_warning(f"tap_twilio._speedups not compiled, the Python converter is used: {detail}")
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if not editable:
            build_data["force_include"][str(built)] = f"tap_twilio/{built.name}"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
