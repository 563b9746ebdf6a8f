"""``python -m axl`` is the ``axl`` command."""

from axl.cli import run

if __name__ == "__main__":
    run()
