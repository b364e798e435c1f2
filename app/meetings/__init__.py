"""坝坝会 live polling: meetings, their questions on a big screen, votes by phone and by hand."""
