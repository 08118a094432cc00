"""Texts of the start-up checks: the Python version and missing packages."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    # --- start-up: Python and packages (app/bootstrap.py) -------------------------------
    "missing_package": {
        "ru": "ошибка: не установлен пакет Python {name!r}; установите зависимости: "
              "{python} -m pip install -r requirements.txt",
        "en": "error: the Python package {name!r} is missing; install the requirements "
              "with: {python} -m pip install -r requirements.txt",
    },
    "missing_package_venv": {
        "ru": "ошибка: не установлен пакет Python {name!r}: программа запущена не из своего "
              "виртуального окружения ({python}). Запустите её Python из .venv рядом с cli.py: "
              "{venv_python} {script}",
        "en": "error: the Python package {name!r} is missing: this is not the project's "
              "virtual environment ({python}). Run the Python of the .venv beside cli.py: "
              "{venv_python} {script}",
    },
    "old_python": {
        "ru": "bitrix-sync нужен Python {major}.{minor} или новее; {python} — это Python "
              "{old_major}.{old_minor}. Установите новый Python (python.org) и создайте им "
              "виртуальное окружение проекта, например py -3.11 -m venv .venv в Windows или "
              "python3.11 -m venv .venv в Linux",
        "en": "bitrix-sync needs Python {major}.{minor} or newer; {python} is Python "
              "{old_major}.{old_minor}. Install a newer Python (python.org) and create the "
              "project's virtual environment with it, e.g. py -3.11 -m venv .venv on Windows or "
              "python3.11 -m venv .venv on Linux",
    },
}
