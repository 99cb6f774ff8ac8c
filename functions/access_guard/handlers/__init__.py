"""Lambda entry points: Powertools decorators, parse the event at the edge, call one service, report."""
