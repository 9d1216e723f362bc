"""Styles for the chat app: theme variables only, so light and dark themes both work."""

CSS = """
#chat-top {
    height: 1;
    padding: 0 1;
    background: $boost;
}

#chat-title {
    width: 1fr;
}

#model-state {
    width: auto;
    color: $text-muted;
}

#log {
    height: 1fr;
    padding: 0 1;
    scrollbar-size-vertical: 1;
}

UserBubble {
    margin: 1 0 0 8;
    padding: 0 1;
    background: $primary 15%;
    border-left: thick $primary;
}

ReplyBubble {
    height: auto;
    margin: 1 0 0 0;
    padding: 0 1;
    border-left: thick $accent 60%;
}

ReplyBubble Markdown {
    margin: 0;
    padding: 0;
}

ReplyBubble .reply-meta {
    color: $text-muted;
}

Notice {
    margin: 1 0 0 0;
    padding: 0 1;
    color: $text-muted;
}

Notice.error {
    color: $error;
    border-left: thick $error;
}

#progress {
    height: 1;
    padding: 0 1;
    color: $text-muted;
}

#prompt {
    height: auto;
    min-height: 3;
    max-height: 12;
    border: round $primary 50%;
}

#prompt:focus {
    border: round $accent;
}

#keys {
    height: 1;
    padding: 0 1;
    color: $text-muted;
    background: $boost;
}

.modal-box {
    width: 90%;
    max-width: 120;
    height: auto;
    max-height: 90%;
    padding: 1 2;
    background: $panel;
    border: round $accent;
}

.modal-box OptionList {
    height: auto;
    max-height: 30;
}

.modal-title {
    text-style: bold;
    margin-bottom: 1;
}

.modal-hint {
    color: $text-muted;
    margin-top: 1;
}

AlternativesScreen, HistoryScreen, SystemPromptScreen, ChatHelpScreen {
    align: center middle;
}
"""
