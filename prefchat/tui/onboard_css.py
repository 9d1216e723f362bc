"""Styles for the onboarding app. Kept in Python rather than a .tcss file so it ships with the package
without package-data rules; only theme variables are used, so light and dark themes both work."""

CSS = """
#loading {
    width: 100%;
    height: 100%;
    content-align: center middle;
    color: $text-muted;
}

#top {
    height: 1;
    padding: 0 1;
    background: $boost;
}

#progress {
    width: 1fr;
}

#settled {
    width: auto;
    color: $text-muted;
}

#prompt-box {
    height: auto;
    max-height: 5;
    padding: 0 1;
    background: $boost;
    scrollbar-size-vertical: 1;
}

#prompt {
    text-style: bold;
}

#pair {
    layout: horizontal;
    height: 1fr;
}

#pair.stacked {
    layout: vertical;
}

ResponsePanel {
    width: 1fr;
    height: 1fr;
    border: round $primary 40%;
    border-title-color: $text;
    border-title-style: bold;
    padding: 0 1;
    scrollbar-size-vertical: 1;
}

ResponsePanel:hover, ResponsePanel:focus {
    border: round $accent;
}

#choices, #done-choices {
    height: 1;
    padding: 0 1;
}

#choices Button, #done-choices Button {
    margin-right: 1;
    min-width: 0;
}

#done-body {
    height: 1fr;
    padding: 0 1;
}

HelpScreen {
    align: center middle;
}

#help {
    width: auto;
    max-width: 90%;
    height: auto;
    padding: 1 2;
    border: round $accent;
    background: $panel;
}

LivePromptScreen, WaitScreen {
    align: center middle;
}

#live-box {
    width: 80%;
    max-width: 90;
    height: auto;
    padding: 1 2;
    background: $panel;
    border: round $accent;
}

#live-prompt {
    margin: 1 0;
}

#live-choices {
    height: auto;
}

#live-wait {
    width: auto;
    height: auto;
    padding: 1 2;
    background: $panel;
    border: round $accent;
}
"""
