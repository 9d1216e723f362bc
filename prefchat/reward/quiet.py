"""Keep third-party progress bars off the user's screen while model weights load (transformers is
imported only inside, so importing this module stays cheap)."""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def quiet_loading():
    """No third-party progress bars while weights load: transformers 5 draws "Loading weights:
    100%|███| 103/103" on stderr, over `ask`'s output and `eval`'s own bars (and a Textual screen).
    Set here, where models load, and put back afterwards, not switched off for the whole process."""
    from transformers.utils import logging as hf_logging

    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()
