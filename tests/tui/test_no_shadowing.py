"""Our Textual subclasses must not replace Textual's own private methods by accident.

ChatApp once defined `_flush` for its streaming timer, which silently replaced App._flush (Textual's
stdout/stderr capture): the first stray write to stderr during generation showed 'unexpected error:
TypeError: ChatApp._flush() got an unexpected keyword argument ...' in the chat."""

import inspect

import pytest

# Intended overrides, each a documented extension point we call super() from.
ALLOWED = {("ChatInput", "_on_key")}


@pytest.mark.parametrize("modname", ["prefchat.tui.chat_app", "prefchat.tui.chat_generation", "prefchat.tui.chat_screens",
                                     "prefchat.tui.chat_widgets", "prefchat.tui.onboard_app", "prefchat.tui.widgets"])
def test_no_private_textual_method_is_shadowed(modname):
    import importlib

    mod = importlib.import_module(modname)
    clashes = []
    for name, cls in inspect.getmembers(mod, inspect.isclass):
        if cls.__module__ != modname:
            continue
        textual_bases = [b for b in cls.__mro__[1:] if b.__module__.startswith("textual")]
        # Our own classes in the MRO too: a mixin (chat_generation.GenerationMixin) has no Textual
        # base of its own, so its methods clash only once it is mixed into ChatApp.
        own = [c for c in cls.__mro__ if c.__module__.startswith("prefchat")]
        for attr, value in ((a, v) for c in own for a, v in c.__dict__.items()):
            if not attr.startswith("_") or attr.startswith("__") or not callable(value):
                continue
            if any(callable(b.__dict__.get(attr)) for b in textual_bases) and (name, attr) not in ALLOWED:
                clashes.append(f"{name}.{attr}")
    assert not clashes, clashes
