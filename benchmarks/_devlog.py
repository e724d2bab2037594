"""The log of the development studies (``results/dev/*.log``)."""

from contextlib import contextmanager


@contextmanager
def dev_log(path):
    """Yield ``say(line)``, which prints a line and appends it to ``path``
    (a ``pathlib.Path``; its folder is created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as out:
        def say(line):
            print(line, flush=True)
            out.write(line + "\n")
            out.flush()

        yield say
