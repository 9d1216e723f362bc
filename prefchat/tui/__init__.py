"""Terminal user interfaces. Quiz logic lives in UI-free modules (quiz.py) that the Textual apps and
the --plain runner both drive; widgets never call models or backends directly."""
