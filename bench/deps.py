"""The bench's own set-up, idempotent like scripts/setup.sh: `npm ci` in each Node folder whose lockfile changed since
its last install, and the Python peer's packages in bench/.venv-peers (never the project's .venv)."""
from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
from pathlib import Path

from targets import NODE_REF, PEERS_VENV, PY_ASGI, ROOT, UWS_REF

LOADGEN = ROOT / "bench" / "loadgen"
NPM_FOLDERS = {"loadgen": LOADGEN, "node": NODE_REF, "uws": UWS_REF}
REQUIREMENTS = PY_ASGI / "requirements.txt"


def stamp(folder: Path, recipe: Path) -> Path:
    """The file that says `folder` was installed from this very `recipe`."""
    return folder / f".installed-{hashlib.sha256(recipe.read_bytes()).hexdigest()[:16]}"


def npm_ci(folder: Path) -> str | None:
    """`npm ci` unless node_modules was installed from this lockfile; returns the failure, if any."""
    done = stamp(folder / "node_modules", folder / "package-lock.json")
    if done.exists():
        return None
    print(f"npm ci in {folder.relative_to(ROOT)}", file=sys.stderr, flush=True)
    p = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=folder, capture_output=True,
                       text=True)
    if p.returncode != 0:
        return f"npm ci failed in {folder.relative_to(ROOT)}: {p.stderr.strip()[-500:]}"
    done.touch()
    return None


def peers_venv() -> str | None:
    """bench/.venv-peers with py-asgi's pinned requirements, unless already installed from them; the failure, if any."""
    python = PEERS_VENV / "bin" / "python"
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(PEERS_VENV)], check=True, capture_output=True)
        done = stamp(PEERS_VENV, REQUIREMENTS)
        if not done.exists():
            print(f"pip install -r {REQUIREMENTS.relative_to(ROOT)} into {PEERS_VENV.relative_to(ROOT)}",
                  file=sys.stderr, flush=True)
            pip = [str(python), "-m", "pip", "--disable-pip-version-check", "--quiet"]
            subprocess.run([*pip, "install", "--require-virtualenv", "-r", str(REQUIREMENTS)], check=True,
                           capture_output=True, text=True)
            subprocess.run([*pip, "check"], check=True, capture_output=True, text=True)
            for old in PEERS_VENV.glob(".installed-*"):
                old.unlink()
            done.touch()
    except subprocess.CalledProcessError as e:
        return f"{' '.join(map(str, e.cmd[:4]))} ... failed: {(e.stderr or e.stdout or '').strip()[-500:]}"
    return None


def prepare() -> dict[str, str]:
    """Installs what is missing; what could not be, by what it blocks ("loadgen" blocks every loadgen scenario)."""
    failures = {name: why for name, folder in NPM_FOLDERS.items() if (why := npm_ci(folder))}
    if why := peers_venv():
        failures["py-asgi"] = why
    return failures


def versions() -> dict[str, str]:
    """What each side runs on, as installed (the stamps make it what the lockfile and requirements say)."""
    def locked(folder: Path, package: str) -> str:
        return json.loads((folder / "package-lock.json").read_text())["packages"][f"node_modules/{package}"]["version"]

    out = {"python": platform.python_version(),
           "node": subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip(),
           "socket.io": locked(NODE_REF, "socket.io"), "uws socket.io": locked(UWS_REF, "socket.io"),
           "uws": locked(UWS_REF, "@trufflesuite/uws-js-unofficial")}
    names = ("python-socketio", "python-engineio", "uvicorn", "uvloop", "websockets")
    probe = ("import importlib.metadata as m, json, platform; print(json.dumps({'python': platform.python_version(), "
             f"**{{n: m.version(n) for n in {names!r}}}}}))")
    try:
        peer = json.loads(subprocess.run([str(PEERS_VENV / "bin" / "python"), "-c", probe], capture_output=True,
                                         text=True, check=True).stdout)
        out.update({f"py-asgi {name}": version for name, version in peer.items()})
    except (OSError, subprocess.CalledProcessError, ValueError):
        out["py-asgi"] = "not installed"
    return out
