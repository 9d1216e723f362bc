"""Personal profiles: the Profile model (model), the on-disk store (store), export/import (exchange),
refitting on a new basis (refit) and the human-readable view (view). Submodules are imported directly
so that `import prefchat.profiles` stays cheap."""
