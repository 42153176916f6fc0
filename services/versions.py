"""Which versions of the venue's key dependencies are installed, and which the lock names.

`tradestack version` prints them (and CI prints them first, so every run says what it tested);
`services.drift` compares a venv of the newest allowed versions with the lock.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

KEY_PACKAGES = (
    "moto",
    "boto3",
    "botocore",
    "aiobotocore",
    "aioboto3",
    "fastapi",
    "starlette",
    "uvicorn",
    "pydantic",
    "werkzeug",
)
"""The packages whose releases have changed the venue's behaviour before (moto above all)."""

LOCKS = Path(__file__).resolve().parent.parent / "requirements"

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)


def normalized(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(lock: Path | None = None) -> dict[str, str]:
    """`name -> version` of every pin of a lock file (default: requirements/dev.lock)."""
    path = lock or LOCKS / "dev.lock"
    if not path.exists():
        return {}
    return {normalized(name): pin for name, pin in _PIN.findall(path.read_text())}


def installed_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def print_versions() -> int:
    """A table of the key packages: installed, locked, and whether they agree."""
    import sys

    from rich.console import Console
    from rich.table import Table

    locked = locked_versions()
    table = Table(title=f"Tradestack's key dependencies (Python {sys.version.split()[0]})")
    for column in ("package", "installed", "requirements/dev.lock", ""):
        table.add_column(column)
    drift = 0
    for name in KEY_PACKAGES:
        have, want = installed_version(name), locked.get(normalized(name))
        same = have == want
        drift += not same
        mark = "[green]locked[/green]" if same else "[yellow]differs[/yellow]"
        table.add_row(name, have or "-", want or "-", mark)
    console = Console(highlight=False)
    console.print(table)
    if drift:
        console.print(
            f"[yellow]{drift} package(s) differ from the lock: `make install` reinstalls the "
            "tested set.[/yellow]"
        )
    return 0
